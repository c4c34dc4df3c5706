//! The audit page's view state, kept in the URL like the fleet's.

use super::{is_date, join_list, parse_list, query_string};
use fleet_protocol::AuditAction;

/// Entries an audit page shows.
pub const AUDIT_PAGE_SIZE: u32 = 50;

/// What the audit table shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub actions: Vec<AuditAction>,
    pub actor: String,
    /// Sekuire ID of one agent, or empty for the fleet.
    pub agent: String,
    /// `YYYY-MM-DD`, inclusive, UTC.
    pub since: String,
    /// `YYYY-MM-DD`, inclusive, UTC.
    pub until: String,
    pub cursor: Option<String>,
    pub page: u32,
}

impl AuditQuery {
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> AuditQuery {
        AuditQuery {
            actions: parse_list(get("action")),
            actor: get("actor").unwrap_or_default(),
            agent: get("agent")
                .filter(|a| fleet_protocol::is_valid_sekuire_id(a))
                .unwrap_or_default(),
            since: get("since").filter(|d| is_date(d)).unwrap_or_default(),
            until: get("until").filter(|d| is_date(d)).unwrap_or_default(),
            cursor: get("cursor").filter(|c| !c.is_empty()),
            page: get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1),
        }
    }

    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("action", join_list(&self.actions)),
            ("actor", self.actor.trim().to_owned()),
        ]
    }

    fn time_pairs(&self) -> Vec<(&'static str, String)> {
        let day = |d: &str, time: &str| {
            if d.is_empty() {
                String::new()
            } else {
                format!("{d}T{time}Z")
            }
        };
        vec![
            ("since", day(&self.since, "00:00:00")),
            ("until", day(&self.until, "23:59:59")),
        ]
    }

    /// The dashboard URL of this view.
    pub fn to_url(&self) -> String {
        let mut pairs = self.filter_pairs();
        pairs.push(("agent", self.agent.clone()));
        pairs.push(("since", self.since.clone()));
        pairs.push(("until", self.until.clone()));
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.clone()));
            pairs.push(("page", self.page.to_string()));
        }
        format!("/audit{}", query_string(&pairs))
    }

    /// The registry request of this view; `csv` asks for the whole filtered set as CSV.
    pub fn to_api_path(&self, csv: bool) -> String {
        let mut pairs = self.filter_pairs();
        pairs.extend(self.time_pairs());
        if csv {
            pairs.push(("format", "csv".into()));
        } else {
            pairs.push(("limit", AUDIT_PAGE_SIZE.to_string()));
            if let Some(cursor) = &self.cursor {
                pairs.push(("cursor", cursor.clone()));
            }
        }
        let base = if self.agent.is_empty() {
            "/api/v1/audit".to_owned()
        } else {
            format!("/api/v1/agents/{}/audit", self.agent)
        };
        format!("{base}{}", query_string(&pairs))
    }

    pub fn first_page(mut self) -> AuditQuery {
        self.cursor = None;
        self.page = 1;
        self
    }

    pub fn next_page(&self, cursor: String) -> AuditQuery {
        AuditQuery {
            cursor: Some(cursor),
            page: self.page + 1,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> AuditQuery {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuditQuery::from_params(|k| map.get(k).cloned())
    }

    #[test]
    fn dates_become_whole_utc_days_for_the_registry() {
        let view = from(&[
            ("action", "terminate"),
            ("since", "2026-01-01"),
            ("until", "2026-01-31"),
        ]);
        assert_eq!(
            view.to_api_path(false),
            "/api/v1/audit?action=terminate&since=2026-01-01T00%3A00%3A00Z&until=2026-01-31T23%3A59%3A59Z&limit=50"
        );
    }

    #[test]
    fn one_agents_trail_and_csv_export() {
        let view = from(&[("agent", "7f8a9b3c2d1e"), ("actor", "alice")]);
        assert_eq!(
            view.to_api_path(true),
            "/api/v1/agents/7f8a9b3c2d1e/audit?actor=alice&format=csv"
        );
        assert_eq!(view.to_url(), "/audit?actor=alice&agent=7f8a9b3c2d1e");
    }

    #[test]
    fn malformed_params_are_ignored() {
        let view = from(&[
            ("agent", "../x"),
            ("since", "last week"),
            ("action", "delete"),
        ]);
        assert_eq!(
            view,
            AuditQuery {
                page: 1,
                ..AuditQuery::default()
            }
        );
    }
}
