//! The fleet list and summary on SQLite: the plan that decides how a page is read (walk a
//! sort index, collect few matches and sort, or take a search's matches from the trigram
//! index in name order). The search itself is in `fleet_search.rs`.

use super::agents::{AgentRow, AGENT_COLUMNS};
use super::fleet_query::{
    agent_page, health_counts_sql, kept_facets, order_by, push_page_order, sort_sql, AgentFilter,
    Cursor, HealthClock, Total,
};
use super::fleet_search::{push_filter, Search, FEW_MATCHES};
use super::list_plan::{
    apart_by_state, distinct_states, distinct_statuses, push_heartbeat_range, push_state_pages,
    seekable,
};
use super::sqlite::SqliteStore;
use crate::clock::now_ms;
use crate::error::AppResult;
use fleet_protocol::{AgentList, AgentSort, SortKey};
use sqlx::{QueryBuilder, Row, Sqlite};

/// The narrow index that covers every facet filter: the one that starts with the health
/// deadline when the filter names a health (each health is a range of it), else the one
/// that starts with the runtime state (migrations 0008 and 0010).
fn facet_index(filter: &AgentFilter) -> &'static str {
    if filter.health.is_empty() {
        "agents_facets"
    } else {
        "agents_by_health"
    }
}

/// The index whose order is `key`'s (migration 0001). A page of many matches walks it and
/// stops after one page, instead of collecting every match through a filter index and
/// sorting them all: 50 ms → 7 ms for `active` by reputation at 100,000 agents, and
/// 23.5 ms → 1.7 ms for `paused,terminated` by state at 1M, where the facet index also
/// starts with the state. The walk names it (`INDEXED BY`), whatever the filter. A filter
/// of one runtime state in order of change walks that state's stretch of the index by
/// state and change (migration 0012), as its agents sit together in the other; one of a
/// single verification status and no state, that status's stretch (migration 0016).
fn sort_index(key: SortKey, filter: &AgentFilter) -> &'static str {
    match key {
        SortKey::Name => "agents_by_name",
        SortKey::ReputationScore => "agents_by_reputation",
        SortKey::LastHeartbeatAt => "agents_by_heartbeat",
        SortKey::RuntimeStatus => "agents_by_status",
        SortKey::UpdatedAt if distinct_states(filter).len() == 1 => "agents_by_status_updated",
        SortKey::UpdatedAt
            if filter.runtime_status.is_empty() && distinct_statuses(filter).len() == 1 =>
        {
            "agents_by_verification_updated"
        }
        SortKey::UpdatedAt => "agents_by_updated",
    }
}

/// `agents`, for a read that tests a search without facets: by key, from the candidates
/// the trigram index names, when it names few ([`Search::is_indexed`]). A search with
/// facets and few candidates is read by key too, in [`SqliteStore::list_candidates`].
///
/// Decision: the primary key is named (`INDEXED BY`), as SQLite, which keeps no
/// statistics here, expects an equality on a facet index to narrow to a few rows and
/// would walk that index instead, testing each wide row against the candidates: `xq`
/// (which matches nothing) with `paused` and `verified` at 1M agents read 82,000 rows,
/// 200 ms for the count and as much for the page; by key, 1-3 ms.
fn searched_agents(search: Option<Search<'_>>) -> &'static str {
    if search.is_some_and(|search| search.is_indexed()) {
        BY_KEY
    } else {
        "agents"
    }
}

/// A row of a page, with the number of matches of the whole list beside it.
#[derive(sqlx::FromRow)]
struct CountedRow {
    #[sqlx(flatten)]
    agent: AgentRow,
    matches: i64,
}

/// `agents`, read by its primary key: the table itself, as it has no rowid.
const BY_KEY: &str = "agents INDEXED BY sqlite_autoindex_agents_1";

impl SqliteStore {
    /// One page of the fleet, and the number of agents matching the filter.
    pub async fn list_agents(
        &self,
        filter: &AgentFilter,
        sort: AgentSort,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<AgentList> {
        let clock = HealthClock::read(&self.read, filter).await?;
        let cursor = cursor.map(|c| Cursor::decode(c, sort)).transpose()?;

        let search = self.search(filter, sort).await?;
        if let Some(search) = search.filter(|s| s.is_indexed() && filter.has_facets()) {
            return self
                .list_candidates(filter, search, clock, sort, cursor.as_ref(), limit)
                .await;
        }
        let text_search = search.is_some();
        let in_name_order = search.filter(|s| s.in_name_order());
        let counted_in_name_order = search.filter(|s| s.counted_in_name_order());
        let total = match (kept_facets(filter), counted_in_name_order) {
            (Some(facets), _) => Total::kept(self.kept_total(&facets).await?),
            (None, Some(search)) if !filter.has_facets() => {
                let mut count = QueryBuilder::<Sqlite>::new("");
                search.push_ranked_count(&mut count, filter, clock, Total::count_limit(filter));
                Total::capped(
                    filter,
                    count.build_query_scalar().fetch_one(&self.read).await?,
                )
            }
            (None, _) => {
                // Without a text search every filter column is in a narrow facet index, so
                // the count reads that instead of the wide rows (87 ms → see
                // BENCHMARKS.md); it stops one past the cap.
                // A search alone is counted by key: from its few candidates, or, dense, in
                // key order, where its matches are spread evenly. Left to choose, SQLite
                // read the name index, narrower, and `se`, whose matches sit late in name
                // order, read 800,000 names to count 1,001 (90 ms).
                // (A search through few candidates with facets is read by key, counted
                // with its page: [`SqliteStore::list_candidates`].)
                let searched = if filter.has_facets() {
                    "agents"
                } else {
                    BY_KEY
                };
                let mut count = QueryBuilder::<Sqlite>::new(if text_search {
                    format!("SELECT COUNT(*) FROM (SELECT 1 FROM {searched} WHERE 1 = 1")
                } else {
                    format!(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM agents INDEXED BY {} WHERE 1 = 1",
                        facet_index(filter)
                    )
                });
                // A search with facets names every state and status it leaves open too,
                // so that SQLite seeks each in the facet index, which holds the name
                // (migration 0015): with a verification status alone it read the rows.
                let counted = if text_search && !filter.has_facets() {
                    filter.clone()
                } else {
                    seekable(filter)
                };
                push_filter(&mut count, &counted, search, clock);
                count.push(format!(" LIMIT {})", Total::count_limit(filter)));
                Total::capped(
                    filter,
                    count.build_query_scalar().fetch_one(&self.read).await?,
                )
            }
        };

        // The page's ids first, then their rows. The table has no rowid, so SQLite reads a
        // row as soon as a walk reaches its index entry; a walk on an index that covers the
        // filter (the name index for a search) passes tens of thousands of non-matches
        // without reading them (`triage` by name at 1M agents: 167 ms → see BENCHMARKS.md).
        let sort_expr = sort_sql(sort.key);
        let mut page = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE sekuire_id IN ("
        ));
        // A search with facets that the count found few of (it counted them all) is read
        // the way it was counted, then sorted: the index's rows in name order would be
        // read until a page of them passed the facets, or to the end, and a sort index
        // walked with the facets tested on each wide row (`security`, healthy, by name at
        // 1M agents, when none is healthy: 3.6 s, where the count took 1 ms).
        let as_counted = text_search && filter.has_facets() && total.exact;
        let by_name = in_name_order.filter(|_| sort.key == SortKey::Name && !as_counted);
        // Many matches: a page of them is soon found in the sort's index. A search's count
        // stops at its cap, below [`FEW_MATCHES`], so a dense search counted to its cap is
        // many too: left to choose, SQLite read every match of the facet's index and
        // sorted them (`security`, verified, by reputation at 1M agents: 354 ms, where
        // walking the reputation index took 3 ms).
        let many = total.count >= FEW_MATCHES
            || !total.exact && search.is_some_and(|search| !search.is_indexed());
        if let Some(search) = by_name {
            search.push_ranked_page(&mut page, filter, clock, sort, cursor.as_ref(), limit);
            page.push(")").push(order_by(sort_expr, sort));
        } else if as_counted {
            page.push("SELECT sekuire_id FROM agents WHERE 1 = 1");
            push_filter(&mut page, filter, search, clock);
            page.push(")");
            push_page_order(&mut page, sort_expr, sort, cursor.as_ref(), limit);
        } else if many || text_search {
            page.push("SELECT sekuire_id FROM ");
            let apart = apart_by_state(filter, sort.key).filter(|_| many);
            if let Some(apart) = apart {
                let push_matches = |qb: &mut QueryBuilder<'_, Sqlite>, filter: &AgentFilter| {
                    qb.push(format!(
                        "SELECT sekuire_id, {sort_expr} FROM agents INDEXED BY {} WHERE 1 = 1",
                        sort_index(sort.key, filter)
                    ));
                    push_filter(qb, filter, search, clock);
                };
                let at = cursor.as_ref();
                push_state_pages(&mut page, &apart, sort_expr, sort, at, limit, push_matches);
            } else {
                if many {
                    page.push(format!(
                        "agents INDEXED BY {}",
                        sort_index(sort.key, filter)
                    ));
                } else {
                    page.push(searched_agents(search));
                }
                page.push(" WHERE 1 = 1");
                push_filter(&mut page, filter, search, clock);
                push_heartbeat_range(&mut page, filter, sort.key, sort_expr, clock);
            }
            push_page_order(&mut page, sort_expr, sort, cursor.as_ref(), limit);
            page.push(")").push(order_by(sort_expr, sort));
        } else {
            // Few matches: find them in a narrow index, then read and sort only them.
            page.push(format!(
                "SELECT sekuire_id FROM agents INDEXED BY {} WHERE 1 = 1",
                facet_index(filter)
            ));
            push_filter(&mut page, &seekable(filter), search, clock);
            page.push(")");
            push_page_order(&mut page, sort_expr, sort, cursor.as_ref(), limit);
        }
        let rows: Vec<AgentRow> = page.build_query_as().fetch_all(&self.read).await?;
        agent_page(rows, total, limit, sort, clock.now)
    }

    /// A page of a search with facets whose candidates are few ([`Search::is_indexed`]),
    /// and the number of its matches, from one read of the candidates by key.
    ///
    /// Decision: counted in the same statement as the page (`COUNT(*) OVER ()`, taken
    /// before the cursor and the page's `LIMIT`), as the count and the page read the same
    /// candidates by key: `security-auditor` + `suspended` at 1M agents, 3,195 candidates,
    /// was 20 ms of count and 20 ms of page. Past the last match, the page has no row to
    /// carry the count, and it is counted on its own.
    async fn list_candidates(
        &self,
        filter: &AgentFilter,
        search: Search<'_>,
        clock: HealthClock,
        sort: AgentSort,
        cursor: Option<&Cursor>,
        limit: u32,
    ) -> AppResult<AgentList> {
        let push_matches = |qb: &mut QueryBuilder<'_, Sqlite>| {
            qb.push(format!(" FROM {BY_KEY} WHERE 1 = 1"));
            push_filter(qb, filter, Some(search), clock);
        };
        let mut page = QueryBuilder::<Sqlite>::new(format!(
            "SELECT * FROM (SELECT {AGENT_COLUMNS}, COUNT(*) OVER () AS matches"
        ));
        push_matches(&mut page);
        page.push(") AS agents WHERE 1 = 1");
        push_page_order(&mut page, sort_sql(sort.key), sort, cursor, limit);
        let rows: Vec<CountedRow> = page.build_query_as().fetch_all(&self.read).await?;
        let matches = match rows.first() {
            Some(row) => row.matches,
            None if cursor.is_some() => {
                let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*)");
                push_matches(&mut count);
                count.build_query_scalar().fetch_one(&self.read).await?
            }
            None => 0,
        };
        let rows = rows.into_iter().map(|row| row.agent).collect();
        let total = Total::capped(filter, matches);
        agent_page(rows, total, limit, sort, clock.now)
    }

    /// The sum of the kept counts of `facets`.
    async fn kept_total(&self, facets: &[String]) -> AppResult<i64> {
        let mut sum = QueryBuilder::<Sqlite>::new(
            "SELECT IFNULL(SUM(agents), 0) FROM fleet_counts WHERE facet IN (",
        );
        let mut list = sum.separated(", ");
        for facet in facets {
            list.push_bind(facet);
        }
        sum.push(")");
        Ok(sum.build_query_scalar().fetch_one(&self.read).await?)
    }

    pub async fn fleet_counts(&self) -> AppResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT facet, agents FROM fleet_counts")
            .fetch_all(&self.read)
            .await?)
    }

    pub async fn health_counts(&self) -> AppResult<Vec<u64>> {
        // One pass over `agents_by_health`, the narrow index that holds both heartbeat
        // columns; SUM over no rows is NULL.
        let sql = health_counts_sql(now_ms(), |c| format!("SUM({c})"));
        let row = sqlx::query(&sql).fetch_one(&self.read).await?;
        Ok((0..row.len())
            .map(|i| {
                row.try_get::<Option<i64>, _>(i)
                    .map(|v| v.unwrap_or(0).max(0) as u64)
            })
            .collect::<Result<_, _>>()?)
    }
}
