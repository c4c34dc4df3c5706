//! The fleet page's view state: filters, search, sort and page, all kept in the URL so a
//! link reproduces the view and back/forward work.

use super::{join_list, parse_list, query_string};
use fleet_protocol::{Agent, AgentSort, Health, RuntimeStatus, SortKey, VerificationStatus};

/// Rows a fleet page shows.
pub const PAGE_SIZE: u32 = 50;
/// Matches asked of a registry that neither pages nor filters: Sekuire's hosted list takes
/// a `limit` and nothing to continue from, so this many is what the page can show.
pub const STANDARD_LIST_LIMIT: u32 = 100;

/// Sort orders offered in the fleet table.
pub const SORTS: [(AgentSort, &str); 8] = [
    (AgentSort::by(SortKey::Name, false), "Name A–Z"),
    (AgentSort::by(SortKey::Name, true), "Name Z–A"),
    (
        AgentSort::by(SortKey::ReputationScore, true),
        "Reputation, high first",
    ),
    (
        AgentSort::by(SortKey::ReputationScore, false),
        "Reputation, low first",
    ),
    (
        AgentSort::by(SortKey::LastHeartbeatAt, true),
        "Heartbeat, newest first",
    ),
    (
        AgentSort::by(SortKey::LastHeartbeatAt, false),
        "Heartbeat, oldest first",
    ),
    (
        AgentSort::by(SortKey::RuntimeStatus, false),
        "Runtime state",
    ),
    (AgentSort::by(SortKey::UpdatedAt, true), "Recently changed"),
];

/// The fleet page's chip filters, one per enum the registry filters by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facet {
    RuntimeStatus,
    Health,
    VerificationStatus,
}

impl Facet {
    pub const ALL: [Facet; 3] = [
        Facet::RuntimeStatus,
        Facet::Health,
        Facet::VerificationStatus,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Facet::RuntimeStatus => "State",
            Facet::Health => "Health",
            Facet::VerificationStatus => "Verification",
        }
    }

    pub fn testid(self) -> &'static str {
        match self {
            Facet::RuntimeStatus => "filter-runtime",
            Facet::Health => "filter-health",
            Facet::VerificationStatus => "filter-verification",
        }
    }

    /// The wire names a chip can be, in display order.
    pub fn options(self) -> Vec<&'static str> {
        match self {
            Facet::RuntimeStatus => RuntimeStatus::ALL.map(RuntimeStatus::as_str).to_vec(),
            Facet::Health => Health::ALL.map(Health::as_str).to_vec(),
            Facet::VerificationStatus => VerificationStatus::ALL
                .map(VerificationStatus::as_str)
                .to_vec(),
        }
    }
}

/// What the fleet table shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetQuery {
    pub q: String,
    pub runtime_status: Vec<RuntimeStatus>,
    pub health: Vec<Health>,
    pub verification_status: Vec<VerificationStatus>,
    pub min_reputation: Option<u8>,
    /// One of [`SORTS`]; by name unless chosen.
    pub sort: AgentSort,
    /// Keyset cursor of the page; `None` for the first.
    pub cursor: Option<String>,
    /// 1-based page number, for display; the cursor is what fetches.
    pub page: u32,
}

impl FleetQuery {
    /// Reads the view from URL query parameters.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> FleetQuery {
        FleetQuery {
            q: get("q").unwrap_or_default(),
            runtime_status: parse_list(get("runtime_status")),
            health: parse_list(get("health")),
            verification_status: parse_list(get("verification_status")),
            min_reputation: get("min_reputation")
                .and_then(|v| v.parse().ok())
                .filter(|v| *v <= 100),
            sort: get("sort")
                .and_then(|s| s.parse().ok())
                .filter(|s| SORTS.iter().any(|(offered, _)| offered == s))
                .unwrap_or_default(),
            cursor: get("cursor").filter(|c| !c.is_empty()),
            page: get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1),
        }
    }

    /// The wire names chosen in one chip filter.
    pub fn chosen(&self, facet: Facet) -> Vec<&'static str> {
        match facet {
            Facet::RuntimeStatus => self.runtime_status.iter().map(|s| s.as_str()).collect(),
            Facet::Health => self.health.iter().map(|h| h.as_str()).collect(),
            Facet::VerificationStatus => self
                .verification_status
                .iter()
                .map(|v| v.as_str())
                .collect(),
        }
    }

    /// A chip's click: chooses the named value in `facet`, or unchooses it. A name the
    /// facet does not know changes nothing.
    pub fn toggle_chip(&mut self, facet: Facet, name: &str) {
        match facet {
            Facet::RuntimeStatus => {
                if let Ok(s) = name.parse() {
                    self.runtime_status = toggle(&self.runtime_status, s);
                }
            }
            Facet::Health => {
                if let Ok(h) = name.parse() {
                    self.health = toggle(&self.health, h);
                }
            }
            Facet::VerificationStatus => {
                if let Ok(v) = name.parse() {
                    self.verification_status = toggle(&self.verification_status, v);
                }
            }
        }
    }

    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("q", self.q.trim().to_owned()),
            ("runtime_status", join_list(&self.runtime_status)),
            ("health", join_list(&self.health)),
            ("verification_status", join_list(&self.verification_status)),
            (
                "min_reputation",
                self.min_reputation
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            ),
            (
                "sort",
                if self.sort == AgentSort::default() {
                    String::new()
                } else {
                    self.sort.to_string()
                },
            ),
        ]
    }

    /// The dashboard URL of this view: `/agents?runtime_status=paused&q=bot`.
    pub fn to_url(&self) -> String {
        let mut pairs = self.filter_pairs();
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.clone()));
            pairs.push(("page", self.page.to_string()));
        }
        format!("/agents{}", query_string(&pairs))
    }

    /// The registry request of this view: `/api/v1/agents?...&limit=50`.
    pub fn to_api_path(&self) -> String {
        let mut pairs = self.filter_pairs();
        pairs.push(("limit", PAGE_SIZE.to_string()));
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.clone()));
        }
        format!("/api/v1/agents{}", query_string(&pairs))
    }

    /// The request for a registry with Sekuire's standard list only (`q` and `limit`; the
    /// hosted registry's client sends nothing else the dashboard needs): the search, and
    /// as many matches as one answer holds. [`FleetQuery::arrange`] does the rest.
    pub fn to_search_path(&self) -> String {
        let pairs = [
            ("q", self.q.trim().to_owned()),
            ("limit", STANDARD_LIST_LIMIT.to_string()),
        ];
        format!("/api/v1/agents{}", query_string(&pairs))
    }

    /// This view's filters and sort applied in the browser, to the agents a registry
    /// without list queries sent. Ties are broken by Sekuire ID, as the registry does.
    pub fn arrange(&self, agents: &mut Vec<Agent>, health: impl Fn(&Agent) -> Health) {
        agents.retain(|a| self.matches(a, health(a)));
        let by = |a: &Agent, b: &Agent| match self.sort.key {
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::ReputationScore => a.reputation_score.cmp(&b.reputation_score),
            SortKey::LastHeartbeatAt => a.last_heartbeat_at.cmp(&b.last_heartbeat_at),
            SortKey::RuntimeStatus => a.runtime_status.as_str().cmp(b.runtime_status.as_str()),
            SortKey::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        };
        agents.sort_by(|a, b| {
            let order = by(a, b);
            let order = if self.sort.descending {
                order.reverse()
            } else {
                order
            };
            order.then_with(|| a.sekuire_id.cmp(&b.sekuire_id))
        });
    }

    /// The same filters from the first page: every filter change starts there.
    pub fn first_page(mut self) -> FleetQuery {
        self.cursor = None;
        self.page = 1;
        self
    }

    /// The next page, after `cursor`.
    pub fn next_page(&self, cursor: String) -> FleetQuery {
        FleetQuery {
            cursor: Some(cursor),
            page: self.page + 1,
            ..self.clone()
        }
    }

    /// True when any filter or search narrows the fleet.
    pub fn is_filtered(&self) -> bool {
        !self.q.trim().is_empty()
            || !self.runtime_status.is_empty()
            || !self.health.is_empty()
            || !self.verification_status.is_empty()
            || self.min_reputation.is_some()
    }

    /// Whether `agent` belongs in this view, judged in the browser for live updates the
    /// same way the registry filters: name substring or id prefix, case-insensitive for
    /// ASCII only, as SQLite's `LIKE` is.
    pub fn matches(&self, agent: &Agent, health: Health) -> bool {
        let q = self.q.trim().to_ascii_lowercase();
        let text_ok = q.is_empty()
            || agent.name.to_ascii_lowercase().contains(&q)
            || agent.sekuire_id.starts_with(&q);
        text_ok
            && (self.runtime_status.is_empty()
                || self.runtime_status.contains(&agent.runtime_status))
            && (self.health.is_empty() || self.health.contains(&health))
            && (self.verification_status.is_empty()
                || self
                    .verification_status
                    .contains(&agent.verification_status))
            && self
                .min_reputation
                .is_none_or(|min| agent.reputation_score >= min)
    }
}

/// Adds `item` to `list` when absent, removes it when present: a filter chip's click.
pub fn toggle<T: PartialEq + Copy>(list: &[T], item: T) -> Vec<T> {
    if list.contains(&item) {
        list.iter().copied().filter(|x| *x != item).collect()
    } else {
        let mut out = list.to_vec();
        out.push(item);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> FleetQuery {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FleetQuery::from_params(|k| map.get(k).cloned())
    }

    #[test]
    fn the_url_round_trips_the_view() {
        let view = FleetQuery {
            q: "triage bot".into(),
            runtime_status: vec![RuntimeStatus::Paused],
            health: vec![Health::Stale, Health::Unhealthy],
            min_reputation: Some(40),
            sort: AgentSort::by(SortKey::ReputationScore, true),
            ..FleetQuery::default()
        };
        let url = view.to_url();
        assert_eq!(
            url,
            "/agents?q=triage%20bot&runtime_status=paused&health=stale%2Cunhealthy&min_reputation=40&sort=-reputation_score"
        );
        let back = from(&[
            ("q", "triage bot"),
            ("runtime_status", "paused"),
            ("health", "stale,unhealthy"),
            ("min_reputation", "40"),
            ("sort", "-reputation_score"),
        ]);
        assert_eq!(back, FleetQuery { page: 1, ..view });
    }

    #[test]
    fn hand_edited_urls_fall_back_to_defaults() {
        let view = from(&[
            ("sort", "colour"),
            ("min_reputation", "900"),
            ("page", "-3"),
        ]);
        assert_eq!(view.sort, AgentSort::default());
        assert_eq!(view.min_reputation, None);
        assert_eq!(view.page, 1);
    }

    #[test]
    fn api_path_asks_the_registry_for_one_page() {
        let view = from(&[
            ("runtime_status", "active,paused"),
            ("cursor", "abc"),
            ("page", "2"),
        ]);
        assert_eq!(
            view.to_api_path(),
            "/api/v1/agents?runtime_status=active%2Cpaused&limit=50&cursor=abc"
        );
        assert_eq!(view.clone().first_page().cursor, None);
        let next = view.next_page("def".into());
        assert_eq!((next.cursor.as_deref(), next.page), (Some("def"), 3));
    }

    #[test]
    fn live_updates_are_judged_like_the_registry_filters() {
        let agent: Agent = serde_json::from_value(serde_json::json!({
            "sekuire_id": "ab12cd", "name": "Triage-Bot Ärger", "version": "1.0",
            "runtime_status": "paused", "verification_status": "verified",
            "reputation_score": 55, "last_heartbeat_at": null, "health": "stale",
            "heartbeat_interval_seconds": 30, "installations": 1, "revision": 3,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .expect("a valid agent");
        let fits = |pairs: &[(&str, &str)]| from(pairs).matches(&agent, Health::Stale);
        assert!(fits(&[]));
        assert!(fits(&[("q", " TRIAGE-bot ")]));
        assert!(fits(&[("q", "ab12")]));
        assert!(!fits(&[("q", "12cd")]), "ids match by prefix only");
        // SQLite's LIKE folds ASCII case only; so does the browser.
        assert!(!fits(&[("q", "ärger")]));
        assert!(fits(&[
            ("runtime_status", "active,paused"),
            ("health", "stale")
        ]));
        assert!(!fits(&[("health", "healthy")]));
        assert!(fits(&[("min_reputation", "40")]));
        assert!(!fits(&[("min_reputation", "60")]));
    }

    fn named(name: &str, id: &str, status: &str, reputation: u8) -> Agent {
        serde_json::from_value(serde_json::json!({
            "sekuire_id": id, "name": name, "version": "1.0",
            "runtime_status": status, "verification_status": "verified",
            "reputation_score": reputation, "last_heartbeat_at": null, "health": "never",
            "heartbeat_interval_seconds": 60, "installations": 0, "revision": 0,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .expect("a valid agent")
    }

    #[test]
    fn a_registry_without_list_queries_is_asked_for_the_search_only() {
        let view = from(&[
            ("q", "bot"),
            ("runtime_status", "paused"),
            ("sort", "-name"),
        ]);
        assert_eq!(view.to_search_path(), "/api/v1/agents?q=bot&limit=100");
    }

    #[test]
    fn the_browser_filters_and_sorts_what_such_a_registry_sent() {
        let mut agents = vec![
            named("beta", "02", "paused", 70),
            named("alpha", "01", "active", 90),
            named("gamma", "03", "paused", 70),
            named("delta", "04", "terminated", 10),
        ];
        let view = from(&[
            ("runtime_status", "paused,active"),
            ("sort", "-reputation_score"),
        ]);
        view.arrange(&mut agents, |a| a.health);
        let names: Vec<&str> = agents.iter().map(|a| a.name.as_str()).collect();
        // Equal scores keep the registry's tie-break: Sekuire ID.
        assert_eq!(names, ["alpha", "beta", "gamma"]);
    }

    #[test]
    fn toggling_a_chip_adds_then_removes() {
        let on = toggle(&[], RuntimeStatus::Paused);
        assert_eq!(on, vec![RuntimeStatus::Paused]);
        assert!(toggle(&on, RuntimeStatus::Paused).is_empty());
    }

    #[test]
    fn chips_choose_by_wire_name_in_their_own_facet() {
        let mut view = FleetQuery::default();
        for facet in Facet::ALL {
            let first = facet.options()[0];
            view.toggle_chip(facet, first);
            assert_eq!(view.chosen(facet), vec![first]);
        }
        assert_eq!(view.health, vec![Health::Healthy]);
        view.toggle_chip(Facet::Health, "stale");
        view.toggle_chip(Facet::Health, "healthy");
        view.toggle_chip(Facet::Health, "bogus");
        assert_eq!(view.health, vec![Health::Stale]);
        assert_eq!(view.runtime_status, vec![RuntimeStatus::Active]);
    }
}
