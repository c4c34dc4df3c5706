//! What the fleet list asks PostgreSQL's planner before it writes a search's queries: the
//! planner's own row estimates, read with `EXPLAIN`, decide between plans that the cost
//! model alone picks badly.

use super::fleet_list::{filtered, push_filter};
use super::PostgresStore;
use crate::error::AppResult;
use crate::store::fleet_query::{kept_facets, HealthClock, HEALTHY_UNTIL};
use crate::store::AgentFilter;
use fleet_protocol::SortKey;
use sqlx::{Postgres, QueryBuilder};

/// How many times the rows a walk is expected to read must exceed a search's matches
/// before its page is gathered from every match instead (see [`gathers`]).
const WALK_MARGIN: i64 = 2;

/// Below this many agents in a filter's health, its page is gathered from them all (see
/// `few_in_health`). Above it, a walk of the sort index finds a page within the first
/// 1M / 5,000 × 51, about 10,000 rows, at 1M agents, if they are spread evenly.
#[cfg(not(test))]
const FEW_IN_HEALTH: i64 = 5_000;
/// A test's fleet has 15 agents of each health: one health is few, two are many.
#[cfg(test)]
const FEW_IN_HEALTH: i64 = 16;

/// Searches of one or two characters have no trigram; when they are ASCII, the index of
/// name pieces (migration 0004, on `agent_names` since 0010) holds them.
const PIECE: usize = 2;

/// The width of the pieces that hold a separator (migration 0005).
const ACROSS: usize = 3;

/// At most this many pieces of a search are asked of the index, the first ones: each is
/// a branch of the `EXPLAIN` that estimates them, and a search can be 200 characters.
/// Any of a search's pieces bound its matches.
const MAX_PIECES: usize = 8;

/// Below this many candidates a search reads them through the index of name pieces;
/// above, it matches densely, and ILIKE over the names finds a page and the capped count
/// sooner than computing each candidate's pieces again. (Most one-character searches are
/// dense; a rare character, such as a typo's `%`, takes the index.)
const FEW_CANDIDATES: i64 = 5_000;

/// The pieces of the search `q` that the index of name pieces holds and `pg_trgm` does
/// not see: `q` itself when it is one or two ASCII characters, or else each three-character
/// piece with a character other than `a`-`z` or `0`-`9` in it, after ASCII lowercasing,
/// as `agent_name_pieces` (migration 0005) cuts a name (the first [`MAX_PIECES`]). Every
/// name ILIKE matches to `q` holds them all, as ILIKE folds ASCII case only on these
/// `COLLATE "C"` columns. None for one hex digit: a sixteenth of all Sekuire IDs start
/// with it, so the search is dense whatever the names hold.
fn name_pieces(q: &str) -> Vec<String> {
    let folded: Vec<char> = q.to_ascii_lowercase().chars().collect();
    if q.len() == 1 && q.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Vec::new();
    }
    if q.is_ascii() && q.len() <= PIECE {
        return vec![folded.iter().collect()];
    }
    let across = folded.windows(ACROSS).filter(|piece| {
        piece
            .iter()
            .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
    });
    let mut pieces: Vec<String> = Vec::new();
    for piece in across.map(|piece| piece.iter().collect()) {
        if pieces.len() == MAX_PIECES {
            break;
        }
        if !pieces.contains(&piece) {
            pieces.push(piece);
        }
    }
    pieces
}

impl PostgresStore {
    /// The pieces of `filter`'s search ([`name_pieces`]) to ask of the index of name
    /// pieces: when the planner expects the rarest of them in fewer than
    /// [`FEW_CANDIDATES`] names.
    ///
    /// Decision: the estimates are the planner's, from the statistics ANALYZE keeps on
    /// the index (the most common pieces and how often each comes), read with one
    /// `EXPLAIN` of a `UNION ALL` with a branch per piece, in about a millisecond. The
    /// rarest piece bounds the matches; the planner's estimate for all of them together
    /// multiplies their frequencies as if independent, and `triage-agent`'s two pieces
    /// (62,573 names each, and together) were estimated at 4,105, a plan that took 2.4 s.
    /// Counting the candidates through the index instead read up to 5,000 rows: 22 ms at
    /// 1M agents for a common piece (`ag`: 63,469 estimated, 62,573 there). A wrong
    /// estimate, as on a table not analyzed yet, changes only the plan: the name is always
    /// matched with ILIKE as well.
    pub(super) async fn sparse_pieces(
        &self,
        filter: &AgentFilter,
    ) -> AppResult<Option<Vec<String>>> {
        let pieces = filter.search_text().map(name_pieces).unwrap_or_default();
        if pieces.is_empty() {
            return Ok(None);
        }
        let mut explain = QueryBuilder::<Postgres>::new("EXPLAIN ");
        let mut branches = explain.separated(" UNION ALL ");
        for piece in &pieces {
            branches
                .push("SELECT 1 FROM agent_names WHERE agent_name_pieces(name) @> ARRAY[")
                .push_bind_unseparated(piece.clone())
                .push_unseparated("::text]");
        }
        let plan = self.explain(explain).await?;
        let rarest = plan.iter().filter_map(|line| planned_rows(line)).min();
        Ok(rarest
            .is_some_and(|rows| rows < FEW_CANDIDATES)
            .then_some(pieces))
    }

    /// Whether `filter` is a search whose page of `limit` in `sort` is gathered from all
    /// its matches ([`gathers`]), by the planner's estimate of its matches.
    ///
    /// Decision: for such a search, PostgreSQL's cost model still prefers walking the sort
    /// index and testing each row it reaches, as if matches were spread evenly: `ab`, the
    /// 3,918 agents whose Sekuire ID starts with it, sorted by reputation, read 26,000 rows
    /// in 87 ms at 1M agents, where finding every match and sorting them took 3 ms. The
    /// estimate costs one `EXPLAIN` (about a millisecond) and is asked for searches only.
    pub(super) async fn few_matches(
        &self,
        filter: &AgentFilter,
        sort: SortKey,
        limit: u32,
        clock: HealthClock,
        pieces: Option<&[String]>,
    ) -> AppResult<bool> {
        if filter.search_text().is_none() {
            return Ok(false);
        }
        let mut explain = QueryBuilder::<Postgres>::new(format!(
            "EXPLAIN SELECT 1 FROM {} WHERE TRUE",
            filtered(filter)
        ));
        push_filter(&mut explain, filter, clock, pieces);
        let walked = self.kept_total(walked_facets(filter, sort));
        let read = self.gather_reads(filter, clock, pieces);
        let (plan, read, walked) = tokio::try_join!(self.explain(explain), read, walked)?;
        let matches = plan.first().and_then(|top| planned_rows(top));
        Ok(matches.is_some_and(|matches| {
            let read = read.unwrap_or(matches).max(matches);
            gathers(matches, read, walked, limit)
        }))
    }

    /// The rows a gather of `filter`'s matches reads, by the planner's estimate: those of
    /// its search alone or of its facets alone, the fewer, as the gather finds candidates
    /// through one index and tests the rest on each. None without facets: the search's
    /// matches are then all it reads.
    ///
    /// Decision: a search with facets is gathered by what it reads, not by its matches.
    /// `triage` + `paused` by heartbeat at 1M agents has 9,382 matches, few enough to
    /// gather, but the trigram index names 62,573 candidates, and reading and testing them
    /// took 75 ms, where the walk of the heartbeat index found a page in 5,182 rows, 6 ms.
    async fn gather_reads(
        &self,
        filter: &AgentFilter,
        clock: HealthClock,
        pieces: Option<&[String]>,
    ) -> AppResult<Option<i64>> {
        if !filter.has_facets() {
            return Ok(None);
        }
        let search = AgentFilter {
            q: filter.q.clone(),
            ..AgentFilter::default()
        };
        let facets = AgentFilter {
            q: None,
            ..filter.clone()
        };
        // One `EXPLAIN` of both; each line's estimate bounds the rows of its branch.
        let table = filtered(filter);
        let mut explain =
            QueryBuilder::<Postgres>::new(format!("EXPLAIN SELECT 1 FROM {table} WHERE TRUE"));
        push_filter(&mut explain, &search, clock, pieces);
        explain.push(format!(" UNION ALL SELECT 1 FROM {table} WHERE TRUE"));
        push_filter(&mut explain, &facets, clock, None);
        let plan = self.explain(explain).await?;
        Ok(plan.iter().filter_map(|line| planned_rows(line)).min())
    }

    /// Whether the health `filter` names holds fewer than [`FEW_IN_HEALTH`] agents,
    /// counted (whatever else the filter names), so that its page is gathered from them.
    ///
    /// Decision: counted, not estimated. Health moves with the clock, so the planner's
    /// statistics of the health index describe the deadlines of an hour ago: a fleet
    /// whose 100,000 leasing agents had just stopped was estimated at 66 stale agents,
    /// and just after they had leased, the planner expected many stale ones and walked
    /// the name index past every agent to find a few (`health=stale&sort=name` on the
    /// second PostgreSQL process of the backends table: 1.1 s). The count reads the
    /// health index up to the bound, a few milliseconds.
    pub(super) async fn few_in_health(
        &self,
        filter: &AgentFilter,
        clock: HealthClock,
    ) -> AppResult<bool> {
        if filter.health.is_empty() {
            return Ok(false);
        }
        let health = AgentFilter {
            health: filter.health.clone(),
            ..AgentFilter::default()
        };
        let mut count =
            QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM (SELECT 1 FROM agents WHERE TRUE");
        push_filter(&mut count, &health, clock, None);
        push_health_order(&mut count);
        count.push(format!(" LIMIT {FEW_IN_HEALTH}) AS counted"));
        let counted: i64 = count
            .build_query_scalar()
            .persistent(false)
            .fetch_one(&self.pool)
            .await?;
        Ok(counted < FEW_IN_HEALTH)
    }

    /// The lines of `explain`'s plan (an `EXPLAIN` of a query), planned for its own
    /// values, as the list's statements are.
    async fn explain(&self, mut explain: QueryBuilder<'_, Postgres>) -> AppResult<Vec<String>> {
        Ok(explain
            .build_query_scalar()
            .persistent(false)
            .fetch_all(&self.pool)
            .await?)
    }
}

/// The row estimate of one node of a plan, from its line of `EXPLAIN`
/// (`Bitmap Heap Scan on agents  (cost=… rows=63469 width=4)`).
fn planned_rows(plan: &str) -> Option<i64> {
    let rows = plan.split(" rows=").nth(1)?;
    rows.split(' ').next()?.parse().ok()
}

/// The kept counts of the agents a walk along `sort`'s index passes over, whatever it
/// finds: those in the filter's runtime states in order of change, as each state's
/// agents sit together in the index by state and change (`apart_by_state`), else all.
fn walked_facets(filter: &AgentFilter, sort: SortKey) -> Vec<String> {
    let walked = AgentFilter {
        runtime_status: match sort {
            SortKey::UpdatedAt => filter.runtime_status.clone(),
            _ => Vec::new(),
        },
        ..AgentFilter::default()
    };
    kept_facets(&walked).expect("the kept counts answer states alone")
}

/// Whether a page of `limit` rows among `matches` is gathered from every match, reading
/// `read` rows to find them ([`PostgresStore::gather_reads`]), rather than walked along
/// the sort index, which passes over `walked` agents in all.
///
/// Decision: the walk reads about `(limit + 1) × walked / matches` rows when the matches
/// are spread evenly along it, the gather `read`; the walk must look [`WALK_MARGIN`]
/// times cheaper, since matches are often not spread evenly (`ab` by reputation read
/// twice its estimate). A search alone, which reads only its matches, is gathered below
/// 10,100 matches among 1M agents for a page of 50. `security` + `paused` by change at
/// 1M agents, 7,451 matches among 150,377 paused agents: gathered, 40–50 ms; walked,
/// 1,017 rows in 7 ms.
fn gathers(matches: i64, read: i64, walked: i64, limit: u32) -> bool {
    matches.saturating_mul(read) < WALK_MARGIN * (i64::from(limit) + 1) * walked
}

/// Whether `filter` names a health and nothing else.
pub(super) fn health_alone(filter: &AgentFilter) -> bool {
    let others = AgentFilter {
        health: Vec::new(),
        ..filter.clone()
    };
    !filter.health.is_empty() && filter.search_text().is_none() && !others.has_facets()
}

/// ` ORDER BY` the health index's expression, for a count of a health alone that stops at
/// a bound: PostgreSQL then reads that index's range up to the bound. Planned on its own,
/// a count of `healthy` just after 100,000 agents had heartbeat was a sequential scan
/// that read 50,000 rows to find 5,000 (49 ms).
pub(super) fn push_health_order(count: &mut QueryBuilder<'_, Postgres>) {
    count.push(format!(" ORDER BY {HEALTHY_UNTIL}"));
}

#[cfg(test)]
mod tests {
    use super::{gathers, name_pieces};

    #[test]
    fn a_page_is_gathered_unless_the_walk_reads_under_half_what_the_gather_reads() {
        assert!(gathers(10_000, 10_000, 1_000_000, 50));
        assert!(!gathers(10_200, 10_200, 1_000_000, 50));
        assert!(gathers(3_918, 3_918, 1_000_000, 50), "`ab` by reputation");
        assert!(
            !gathers(7_451, 7_451, 150_377, 50),
            "`security` + `paused` by change"
        );
        assert!(gathers(7_451, 7_451, 150_377, 200), "a longer page");
        assert!(
            !gathers(9_382, 62_573, 1_000_000, 50),
            "`triage` + `paused` by heartbeat, which reads every `triage`"
        );
    }

    #[test]
    fn a_search_is_asked_of_the_pieces_pg_trgm_does_not_see() {
        assert_eq!(name_pieces("Lp"), ["lp"]);
        assert_eq!(name_pieces("% "), ["% "]);
        assert_eq!(name_pieces("Triage-7"), ["ge-", "e-7"]);
        assert_eq!(name_pieces("a b a b"), ["a b", " b ", "b a", " a "]);
        let long: String = (0..100).map(|i| format!("{i}-")).collect();
        assert_eq!(name_pieces(&long)[..3], ["0-1", "-1-", "1-2"]);
        assert_eq!(name_pieces(&long).len(), super::MAX_PIECES);
        // Only ASCII case folds; other characters are pieces as they are.
        assert_eq!(name_pieces("ÄBC"), ["Äbc"]);
        assert_eq!(name_pieces("Q"), ["q"]);
        assert_eq!(name_pieces("%"), ["%"]);
        assert!(name_pieces("9").is_empty());
        assert!(name_pieces("F").is_empty());
        // Letters and digits alone are trigrams already; other characters than ASCII are
        // left to ILIKE alone, as for two.
        assert!(name_pieces("triage").is_empty());
        assert!(name_pieces("ä").is_empty());
        assert!(name_pieces("äb").is_empty());
    }

    #[test]
    fn a_plan_says_how_many_rows_it_expects() {
        let plan = "Bitmap Heap Scan on agents  (cost=52.6..10411.5 rows=63469 width=4)";
        assert_eq!(super::planned_rows(plan), Some(63_469));
        assert_eq!(
            super::planned_rows("Result  (cost=0.00..0.01 rows=1 width=4)"),
            Some(1)
        );
        assert_eq!(super::planned_rows("no estimate"), None);
    }
}
