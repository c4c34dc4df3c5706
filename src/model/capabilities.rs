//! What a registry offers beyond Sekuire's standard API.
//!
//! Decision: the dashboard reads it once at sign-in from the OpenAPI document the registry
//! publishes at `/api/v1/openapi.json`: a feature is there when its path is. Sekuire's
//! hosted registry, as its published client shows it, has none of our extensions, and a
//! registry with no document (or one that cannot be read) is taken to offer the standard
//! API only. Probing each feature with a request of its own would cost a round trip per
//! feature and, for the event ticket, create something.

/// One extension of the standard API, by the path that proves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// Server-sent fleet changes; without it the dashboard polls.
    LiveEvents,
    /// Fleet-wide counts; without it the page counts the agents it loaded.
    FleetSummary,
    /// The audit trail; without it an agent's own log tells its history.
    Audit,
    /// Pause, resume or terminate many agents in one request; without it, one by one.
    Bulk,
    /// Filters, sort, counts and paging done by the registry; without them the dashboard
    /// searches there and filters and sorts what it loaded.
    ListQueries,
    /// The running instances of an agent, and revoking one.
    Installations,
    /// An admin's verification decision on a pushed agent.
    Verification,
    /// Minting a token for `sekuire run`.
    InstallTokens,
}

impl Feature {
    pub const ALL: [Feature; 8] = [
        Feature::LiveEvents,
        Feature::FleetSummary,
        Feature::Audit,
        Feature::Bulk,
        Feature::ListQueries,
        Feature::Installations,
        Feature::Verification,
        Feature::InstallTokens,
    ];

    /// The OpenAPI path whose presence means the registry offers this. Filters and sort
    /// are parameters of the list, not a path; `cursor` is how this document names them.
    fn evidence(self) -> Evidence {
        match self {
            Feature::LiveEvents => Evidence::Path("/api/v1/events/ticket"),
            Feature::FleetSummary => Evidence::Path("/api/v1/fleet/summary"),
            Feature::Audit => Evidence::Path("/api/v1/audit"),
            Feature::Bulk => Evidence::Path("/api/v1/agents/bulk/{action}"),
            Feature::ListQueries => Evidence::ListParameter("sort"),
            Feature::Installations => Evidence::Path("/api/v1/agents/{id}/installations"),
            Feature::Verification => Evidence::Path("/api/v1/agents/{id}/verification"),
            Feature::InstallTokens => Evidence::Path("/api/v1/workspaces/{ws}/install-tokens"),
        }
    }

    /// What the user does without it, in a sentence fragment.
    pub fn without(self) -> &'static str {
        match self {
            Feature::LiveEvents => "no live updates (the dashboard refreshes every 15 seconds)",
            Feature::FleetSummary => "no fleet summary (counts are of the agents loaded)",
            Feature::Audit => "no audit trail (each agent's log is shown instead)",
            Feature::Bulk => "no bulk actions (selected agents are changed one at a time)",
            Feature::ListQueries => {
                "no filtering, sorting or paging on the registry (search runs there; filters and sort apply to the agents loaded)"
            }
            Feature::Installations => "no list of running installations",
            Feature::Verification => "no verification decisions",
            Feature::InstallTokens => "no install tokens for `sekuire run`",
        }
    }

    fn flag(self) -> char {
        match self {
            Feature::LiveEvents => 'e',
            Feature::FleetSummary => 's',
            Feature::Audit => 'a',
            Feature::Bulk => 'b',
            Feature::ListQueries => 'q',
            Feature::Installations => 'i',
            Feature::Verification => 'v',
            Feature::InstallTokens => 't',
        }
    }
}

enum Evidence {
    Path(&'static str),
    ListParameter(&'static str),
}

/// The extensions one registry offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities(u8);

impl Capabilities {
    /// Sekuire's standard API and nothing more: the hosted registry as its client shows it.
    pub const STANDARD: Capabilities = Capabilities(0);
    /// Everything this dashboard knows how to use.
    pub const FULL: Capabilities = Capabilities(u8::MAX);

    fn bit(feature: Feature) -> u8 {
        1 << Feature::ALL.iter().position(|f| *f == feature).unwrap_or(7)
    }

    fn of(features: impl Iterator<Item = Feature>) -> Capabilities {
        Capabilities(features.fold(0, |bits, f| bits | Self::bit(f)))
    }

    /// Reads the features from a registry's OpenAPI document: `has_path` says whether a
    /// path is described, `list_parameter` whether `GET /api/v1/agents` takes a parameter.
    pub fn from_document(
        has_path: impl Fn(&str) -> bool,
        list_parameter: impl Fn(&str) -> bool,
    ) -> Capabilities {
        Self::of(Feature::ALL.into_iter().filter(|f| match f.evidence() {
            Evidence::Path(path) => has_path(path),
            Evidence::ListParameter(name) => list_parameter(name),
        }))
    }

    pub fn has(self, feature: Feature) -> bool {
        self.0 & Self::bit(feature) != 0
    }

    /// What this registry lacks, for the notice that says so.
    pub fn missing(self) -> Vec<Feature> {
        Feature::ALL.into_iter().filter(|f| !self.has(*f)).collect()
    }

    /// A short text to keep beside a saved registry, so a returning user's first page
    /// does not wait for the probe.
    pub fn to_flags(self) -> String {
        Feature::ALL
            .into_iter()
            .filter(|f| self.has(*f))
            .map(Feature::flag)
            .collect()
    }

    pub fn from_flags(flags: &str) -> Capabilities {
        Self::of(
            Feature::ALL
                .into_iter()
                .filter(|f| flags.contains(f.flag())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_is_offered_when_its_path_is_described() {
        let caps = Capabilities::from_document(|p| p == "/api/v1/audit", |_| false);
        assert!(caps.has(Feature::Audit));
        assert!(!caps.has(Feature::LiveEvents));
        assert!(!caps.has(Feature::ListQueries));
        assert_eq!(caps.missing().len(), Feature::ALL.len() - 1);
    }

    #[test]
    fn registry_side_queries_are_read_from_the_list_parameters() {
        let caps = Capabilities::from_document(|_| false, |name| name == "sort");
        assert!(caps.has(Feature::ListQueries));
        assert!(!caps.has(Feature::Bulk));
    }

    #[test]
    fn no_document_means_the_standard_api_only() {
        let caps = Capabilities::from_document(|_| false, |_| false);
        assert_eq!(caps, Capabilities::STANDARD);
        assert_eq!(caps.missing(), Feature::ALL.to_vec());
    }

    #[test]
    fn flags_round_trip_every_combination() {
        for bits in 0..=u8::MAX {
            let caps = Capabilities(bits);
            assert_eq!(Capabilities::from_flags(&caps.to_flags()), caps);
        }
        assert_eq!(Capabilities::from_flags(""), Capabilities::STANDARD);
    }
}
