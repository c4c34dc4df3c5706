//! What the fleet list asks PostgreSQL's planner before it writes a search's queries: the
//! planner's own row estimates, read with `EXPLAIN`, decide between plans that the cost
//! model alone picks badly.

use super::fleet_list::push_filter;
use super::PostgresStore;
use crate::error::AppResult;
use crate::store::AgentFilter;
use sqlx::{Postgres, QueryBuilder};

/// Below this many estimated matches, a search's page is chosen among all its matches
/// rather than by walking the sort index (see `few_matches`). Walking reads about
/// 1M / matches rows per row of the page; gathering every match reads each once.
const FEW_MATCHES: i64 = 10_000;

/// Searches of two characters have no trigram; when they are ASCII and match few names,
/// `agents_name_pieces` (migration 0004) finds them.
const PIECE: usize = 2;

/// Below this many candidates a two-character search reads them through the index of name
/// pieces; above, it matches densely, and ILIKE over the names finds a page and the capped
/// count sooner than computing each candidate's pieces again. (One-character searches
/// are nearly always dense and never take the index.)
const FEW_CANDIDATES: i64 = 5_000;

impl PostgresStore {
    /// `filter`'s search as a name piece, when it is two ASCII characters that few names
    /// hold by the planner's estimate (below [`FEW_CANDIDATES`]).
    ///
    /// Decision: the estimate comes from the statistics ANALYZE keeps on the index of name
    /// pieces (the most common pieces and their frequencies), read with `EXPLAIN`, in well
    /// under a millisecond. Counting the candidates through the index instead read up to
    /// 5,000 rows: 22 ms at 1M agents for a common piece (`ag`: 63,469 estimated, 62,573
    /// there). A wrong estimate, as on a table not analyzed yet, changes only the plan: the
    /// name is always matched with ILIKE as well.
    pub(super) async fn sparse_piece(&self, filter: &AgentFilter) -> AppResult<Option<String>> {
        let Some(q) = filter
            .search_text()
            .filter(|q| q.is_ascii() && q.len() == PIECE)
        else {
            return Ok(None);
        };
        let piece = q.to_ascii_lowercase();
        let mut explain = QueryBuilder::<Postgres>::new(
            "EXPLAIN SELECT 1 FROM agents WHERE agent_name_pieces(name) @> ARRAY[",
        );
        explain.push_bind(piece.clone()).push("::text]");
        let few = self.planned_below(explain, FEW_CANDIDATES).await?;
        Ok(few.then_some(piece))
    }

    /// Whether `filter` is a search the planner expects fewer than [`FEW_MATCHES`] agents
    /// to match.
    ///
    /// Decision: for such a search, PostgreSQL's cost model still prefers walking the sort
    /// index and testing each row it reaches, as if matches were spread evenly: `ab`, the
    /// 3,918 agents whose Sekuire ID starts with it, sorted by reputation, read 26,000 rows
    /// in 87 ms at 1M agents, where finding every match and sorting them took 3 ms. The
    /// estimate costs one `EXPLAIN` (about a millisecond) and is asked for searches only.
    pub(super) async fn few_matches(
        &self,
        filter: &AgentFilter,
        now: i64,
        piece: Option<&str>,
    ) -> AppResult<bool> {
        if filter.search_text().is_none() {
            return Ok(false);
        }
        let mut explain = QueryBuilder::<Postgres>::new("EXPLAIN SELECT 1 FROM agents WHERE TRUE");
        push_filter(&mut explain, filter, now, piece);
        self.planned_below(explain, FEW_MATCHES).await
    }

    /// Whether the planner expects the query `explain` (an `EXPLAIN` of it) to return fewer
    /// than `bound` rows. Planned for its own values, as the list's statements are.
    async fn planned_below(
        &self,
        mut explain: QueryBuilder<'_, Postgres>,
        bound: i64,
    ) -> AppResult<bool> {
        let plan: String = explain
            .build_query_scalar()
            .persistent(false)
            .fetch_one(&self.pool)
            .await?;
        Ok(planned_rows(&plan).is_some_and(|rows| rows < bound))
    }
}

/// The row estimate of a plan's top node, from `EXPLAIN`'s first line
/// (`Bitmap Heap Scan on agents  (cost=… rows=63469 width=4)`).
fn planned_rows(plan: &str) -> Option<i64> {
    let rows = plan.split(" rows=").nth(1)?;
    rows.split(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
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
