//! Every list a user can make from a few searches, facets and sorts, each timed: the lists
//! a table of single rows misses. With every row of the table within its goal, a
//! two-character search with a runtime state, by name, took 1.5 s on SQLite at 1M agents.

use crate::registry;
use crate::stats::ms;
use anyhow::Result;
use fleet_e2e::Registry;
use std::time::Duration;

/// Team names (dense, late in name order), a job, an ID prefix, two characters, typos, one
/// character, and searches across a separator.
const SEARCHES: [&str; 8] = [
    "security",
    "triage",
    "ab",
    "xq",
    "se",
    "triage-7",
    "security-auditor",
    "Q",
];
const FACETS: [&str; 7] = [
    "runtime_status=active",
    "runtime_status=paused",
    "runtime_status=terminated",
    "runtime_status=paused,terminated",
    "verification_status=suspended",
    "min_reputation=90",
    "runtime_status=paused&verification_status=verified",
];
const SORTS: [&str; 5] = [
    "name",
    "-updated_at",
    "-reputation_score",
    "last_heartbeat_at",
    "runtime_status",
];

/// Requests per list, after the harness's warm-up.
const REQUESTS: usize = 3;

/// The lists the sweep crosses: each search with each facet under each sort.
fn queries() -> Vec<String> {
    let mut queries = Vec::new();
    for search in SEARCHES {
        for facet in FACETS {
            for sort in SORTS {
                queries.push(format!("q={search}&{facet}&sort={sort}"));
            }
        }
    }
    queries
}

/// Each list's query and p50, slowest first.
pub struct Sweep(Vec<(String, Duration)>);

impl Sweep {
    /// Times every list on `processes`, the requests taking turns between them.
    pub async fn run(processes: &[&Registry], key: &str) -> Result<Sweep> {
        let client = reqwest::Client::new();
        let mut timed = Vec::new();
        for query in queries() {
            let path = format!("/api/v1/agents?{query}&limit=50");
            let summary = registry::time_get_over(&client, processes, key, &path, REQUESTS).await?;
            timed.push((query, summary.p50));
        }
        timed.sort_by_key(|(_, p50)| std::cmp::Reverse(*p50));
        Ok(Sweep(timed))
    }

    /// The table's row label.
    pub fn label() -> String {
        format!(
            "lists: {} searches × {} facets × {} sorts ({} lists), p50 of {REQUESTS} each: \
             over 50 ms; median ms; slowest ms",
            SEARCHES.len(),
            FACETS.len(),
            SORTS.len(),
            queries().len()
        )
    }

    /// `over; median; slowest (query)`.
    pub fn cell(&self) -> String {
        let over = self
            .0
            .iter()
            .filter(|(_, p50)| *p50 > Duration::from_millis(50))
            .count();
        let median = self.0[self.0.len() / 2].1;
        let (slowest, at) = &self.0[0];
        format!("{over}; {}; {} (`{slowest}`)", ms(median), ms(*at))
    }
}
