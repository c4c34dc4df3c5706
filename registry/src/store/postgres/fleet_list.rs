//! The fleet list and summary on PostgreSQL: the shared filters, cursors and pages, in plain SQL.
//!
//! Decision: a list's statements are not kept prepared (`persistent(false)`), so each is
//! planned for its own values. A kept statement gets a generic plan after five runs on a
//! connection, and one plan cannot serve both a search that matches 60,000 names and one
//! that matches none: at 1M agents, a two-character search that matched nothing went from
//! 1.5 ms to 840 ms on its sixth run, walking the whole name index. Planning costs about a
//! millisecond per statement.

use super::fleet_estimates::{health_alone, push_health_order};
use super::PostgresStore;
use crate::clock::now_ms;
use crate::error::AppResult;
use crate::store::agents::{AgentRow, AGENT_COLUMNS};
use crate::store::fleet_query::{
    self, agent_page, health_counts_sql, id_prefix_range, kept_facets, order_by, push_facets,
    push_health, push_page_order, Cursor, HealthClock, HealthRead, Total,
};
use crate::store::list_plan::{
    apart_by_state, push_heartbeat_range, push_id_range, push_state_pages, seekable,
};
use crate::store::{like_escape, AgentFilter};
use fleet_protocol::{AgentList, AgentSort, SortKey};
use sqlx::{Postgres, QueryBuilder, Row};

/// The expression a key sorts on, as its index has it (`agents_by_heartbeat` is on
/// `COALESCE(last_heartbeat_at, 0)`); the other keys are plain columns on both engines.
fn sort_sql(key: SortKey) -> &'static str {
    match key {
        SortKey::LastHeartbeatAt => "COALESCE(last_heartbeat_at, 0)",
        key => fleet_query::sort_sql(key),
    }
}

/// The narrowest table that holds every column `filter` tests: `agent_facets` (migrations
/// 0008 and 0012), which heartbeats never touch, unless the filter names a health, whose
/// columns are the heartbeat's, in `agents`.
pub(super) fn filtered(filter: &AgentFilter) -> &'static str {
    if facets_suffice(filter) {
        "agent_facets"
    } else {
        "agents"
    }
}

/// Whether `agent_facets` holds every column `filter` tests: it names no health.
fn facets_suffice(filter: &AgentFilter) -> bool {
    filter.health.is_empty()
}

/// `(…) AS agents WHERE TRUE`: every match of `filter`, among which a page in order of
/// `key` is chosen, for a search expected to match few agents ([`PostgresStore::few_matches`]).
/// `OFFSET 0` keeps the planner from walking the sort index instead.
///
/// Read from the narrowest table that holds what the filter tests and the sort key: for
/// a filter without a health, `agent_facets`, or, in order of change or heartbeat, which
/// only `agents` holds, from `agents`. There, the candidates of a search that asks the
/// index of name pieces, which are few, are named by `agent_names` and read by key one by
/// one, each row tested against the facets: joined, the planner read every agent of their
/// state instead (`ab` + `paused` at 1M agents, a hash join over 150,000 index entries:
/// 58 ms). Read one by one, the thousands of matches a trigram search may have cost more
/// than finding them in `agents` (7,500: 56 ms against 40 ms).
///
/// Decision: the facets are tested on the candidates' rows, not first in `agent_facets`.
/// A candidate's key costs about as much to look up there as in `agents`, so narrowing
/// there first paid only for the candidates a facet left out, and cost a lookup for each
/// it kept: `security-auditor` + `active` by heartbeat at 1M agents (3,195 candidates,
/// 2,389 matches), 37-41 → 24-25 ms in `psql`; + `paused`, 25 → 20 ms; `ab` + `verified`
/// by change, 18 → 11-14 ms; + `suspended`, 12 → 9-12 ms.
fn push_gathered(
    page: &mut QueryBuilder<'_, Postgres>,
    filter: &AgentFilter,
    key: SortKey,
    clock: HealthClock,
    pieces: Option<&[String]>,
) {
    let narrow = facets_suffice(filter);
    let held = matches!(
        key,
        SortKey::Name | SortKey::ReputationScore | SortKey::RuntimeStatus
    );
    let one_by_one = narrow && !held && pieces.is_some();
    let source = if narrow && held {
        "agent_facets"
    } else {
        "agents"
    };
    page.push(format!("(SELECT * FROM {source} WHERE "));
    match filter.search_text().filter(|_| one_by_one) {
        Some(q) => {
            page.push("sekuire_id = ANY(ARRAY(SELECT sekuire_id FROM agent_names WHERE ");
            push_matches(page, q, pieces);
            page.push("))");
            let facets = AgentFilter {
                q: None,
                ..filter.clone()
            };
            push_filter(page, &facets, clock, None);
        }
        None => {
            page.push("TRUE");
            push_filter(page, filter, clock, pieces);
        }
    }
    page.push(" OFFSET 0) AS agents WHERE TRUE");
}

/// ` AND …` terms for `filter`, on `agents`, or on `agent_facets` for a filter without a
/// health ([`filtered`]).
pub(super) fn push_filter(
    qb: &mut QueryBuilder<'_, Postgres>,
    filter: &AgentFilter,
    clock: HealthClock,
    pieces: Option<&[String]>,
) {
    if let Some(q) = filter.search_text() {
        qb.push(" AND ");
        push_search(qb, q, pieces);
    }
    push_facets(qb, filter, clock);
}

/// ` AND …` terms for `filter` on `agents`, as [`push_filter`] writes them, for a page
/// walked along its sort index; `tested`: its health holds many agents, and is tested on
/// each row the walk reads rather than read from the health index ([`HealthRead::Tested`]).
fn push_walked(
    qb: &mut QueryBuilder<'_, Postgres>,
    filter: &AgentFilter,
    clock: HealthClock,
    pieces: Option<&[String]>,
    tested: bool,
) {
    if !tested {
        return push_filter(qb, filter, clock, pieces);
    }
    let others = AgentFilter {
        health: Vec::new(),
        ..filter.clone()
    };
    push_filter(qb, &others, clock, pieces);
    push_health(qb, &filter.health, clock, HealthRead::Tested);
}

/// `(…)`, true for the rows the search `q` finds, on `agents` or `agent_names` (which
/// both have the two columns): `q` is a substring of the name (ILIKE, which the trigram
/// index serves; ASCII case only, as the column is `COLLATE "C"`; `%` and `_` literal) or
/// a prefix of the Sekuire ID (a range of the primary key). `pieces`: pieces of the search
/// few names hold, asked of the index of name pieces instead, which is on `agent_names`
/// (migration 0010), so the rows' IDs are taken from there (on `agents` only).
pub(super) fn push_search(qb: &mut QueryBuilder<'_, Postgres>, q: &str, pieces: Option<&[String]>) {
    match pieces {
        Some(pieces) => {
            qb.push("sekuire_id IN (SELECT sekuire_id FROM agent_names WHERE ");
            push_matches(qb, q, Some(pieces));
            qb.push(")");
        }
        None => push_matches(qb, q, None),
    }
}

/// The body of [`push_search`], on the table being read.
fn push_matches(qb: &mut QueryBuilder<'_, Postgres>, q: &str, pieces: Option<&[String]>) {
    // With pieces, the candidates come from their index alone, and ILIKE tests each: on
    // `name || ''`, which the trigram index does not serve, as a plan that also asked
    // that index would have to test every row both found against both conditions again,
    // computing the row's pieces (about 40 µs a name; `q=t-70` at 1M agents, 150 ms).
    let name = if pieces.is_some() {
        "(name || '')"
    } else {
        "name"
    };
    qb.push(format!("(({name} ILIKE "))
        .push_bind(format!("%{}%", like_escape(q)))
        .push(" ESCAPE '\\'");
    if let Some(pieces) = pieces {
        qb.push(" AND agent_name_pieces(name) @> ")
            .push_bind(pieces.to_vec())
            .push("::text[]");
    }
    qb.push(")");
    if let Some(range) = id_prefix_range(q) {
        qb.push(" OR ");
        push_id_range(qb, &range);
    }
    qb.push(")");
}

impl PostgresStore {
    /// One page of the fleet, and the number of agents matching the filter.
    pub async fn list_agents(
        &self,
        filter: &AgentFilter,
        sort: AgentSort,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<AgentList> {
        let clock = HealthClock::read(&self.pool, filter).await?;
        let cursor = cursor.map(|c| Cursor::decode(c, sort)).transpose()?;
        let pieces = self.sparse_pieces(filter).await?;
        // The count and the page are independent reads: they run side by side, each on a
        // connection of its own.
        let total = async {
            AppResult::Ok(match kept_facets(filter) {
                Some(facets) => Total::kept(self.kept_total(facets).await?),
                None if filter.search_text().is_none() && filter.health.is_empty() => {
                    // Counted in `agent_facets`' index alone (migration 0008), one past
                    // the cap.
                    let mut count = QueryBuilder::<Postgres>::new(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM agent_facets WHERE TRUE",
                    );
                    push_facets(&mut count, &seekable(filter), clock);
                    count.push(format!(" LIMIT {}) AS matches", Total::count_limit(filter)));
                    let count = count.build_query_scalar().persistent(false);
                    Total::capped(filter, count.fetch_one(&self.pool).await?)
                }
                None => {
                    // Counting stops one past the cap. A search without facets counts
                    // narrow rows: `agent_names`, which has both of the name's indexes.
                    let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM (");
                    match filter.search_text() {
                        Some(q) if !filter.has_facets() => {
                            count.push("SELECT 1 FROM agent_names WHERE ");
                            push_matches(&mut count, q, pieces.as_deref());
                        }
                        _ => {
                            count.push(format!("SELECT 1 FROM {} WHERE TRUE", filtered(filter)));
                            push_filter(&mut count, filter, clock, pieces.as_deref());
                            if health_alone(filter) {
                                push_health_order(&mut count);
                            }
                        }
                    }
                    count.push(format!(" LIMIT {}) AS matches", Total::count_limit(filter)));
                    let count = count.build_query_scalar().persistent(false);
                    Total::capped(filter, count.fetch_one(&self.pool).await?)
                }
            })
        };

        // The page's ids first, then their rows: when a search matches densely, the
        // planner walks the name index alone (an index-only scan) past the non-matches,
        // where reading each row as it went took 4× as long at 1M agents.
        let sort_expr = sort_sql(sort.key);
        let rows = async {
            let few = self
                .few_matches(filter, sort.key, limit, clock, pieces.as_deref())
                .await?
                || self.few_in_health(filter, clock).await?;
            // A health that holds many agents is tested on the rows a walk reads.
            let tested = !few && !filter.health.is_empty();
            // A search by name is read in name order, unless it asks the index of name
            // pieces, or has facets and few matches, which are gathered and sorted below.
            let searched = filter.search_text().is_some() && pieces.is_none();
            if searched && sort.key == SortKey::Name && !(filter.has_facets() && few) {
                let page =
                    self.search_in_name_order(filter, clock, sort, cursor.as_ref(), limit, !few);
                return page.await;
            }
            let mut page = QueryBuilder::<Postgres>::new(format!(
                "SELECT {AGENT_COLUMNS} FROM agents WHERE sekuire_id IN (SELECT sekuire_id FROM "
            ));
            if few {
                push_gathered(&mut page, filter, sort.key, clock, pieces.as_deref());
            } else if let Some(apart) = apart_by_state(filter, sort.key) {
                let push_state_matches =
                    |qb: &mut QueryBuilder<'_, Postgres>, filter: &AgentFilter| {
                        qb.push(format!(
                            "SELECT sekuire_id, {sort_expr} FROM agents WHERE TRUE"
                        ));
                        push_walked(qb, filter, clock, pieces.as_deref(), tested);
                    };
                let at = cursor.as_ref();
                push_state_pages(
                    &mut page,
                    &apart,
                    sort_expr,
                    sort,
                    at,
                    limit,
                    push_state_matches,
                );
            } else {
                page.push("agents WHERE TRUE");
                push_walked(&mut page, filter, clock, pieces.as_deref(), tested);
                push_heartbeat_range(&mut page, filter, sort.key, sort_expr, clock);
            }
            push_page_order(&mut page, sort_expr, sort, cursor.as_ref(), limit);
            page.push(")").push(order_by(sort_expr, sort));
            AppResult::Ok(
                page.build_query_as::<AgentRow>()
                    .persistent(false)
                    .fetch_all(&self.pool)
                    .await?,
            )
        };
        let (total, rows) = tokio::try_join!(total, rows)?;
        agent_page(rows, total, limit, sort, clock.now)
    }

    /// The sum of the kept counts of `facets` (`fleet_counts`).
    pub(super) async fn kept_total(&self, facets: Vec<String>) -> AppResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(SUM(agents), 0)::BIGINT FROM fleet_counts WHERE facet = ANY($1)",
        )
        .bind(facets)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Counts by runtime state, health and verification, and a reputation histogram, in one
    /// pass over the agents.
    pub async fn fleet_counts(&self) -> AppResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT facet, agents FROM fleet_counts")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn health_counts(&self) -> AppResult<Vec<u64>> {
        let sql = health_counts_sql(now_ms(), |c| format!("COUNT(*) FILTER (WHERE {c})"));
        let row = sqlx::query(&sql).fetch_one(&self.pool).await?;
        Ok((0..row.len())
            .map(|i| row.try_get::<i64, _>(i).map(|v| v.max(0) as u64))
            .collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
pub(super) mod tests;
