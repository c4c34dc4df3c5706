//! A search by name that matches densely: the first names in order are tested one by
//! one, and when they do not fill the page, the page is gathered through the trigram
//! index of `agent_names` (migration 0006), or, for a search of letters and digits,
//! through the words of the names, which needs no walk first unless the search is one or
//! two hex digits (`name_words.rs`). With
//! facets, each match is kept when its agent passes them (an index probe by Sekuire ID),
//! as the walk or the gather reaches it.
//!
//! Decision: walking the name index finds a page in a few thousand names when matches
//! are spread through them (`triage`, a job name that follows every team's: 35 ms at a
//! million agents). A team's name starts its agents' names, so its matches sit together,
//! and `security` passed 900,000 names before the first (490 ms; `ops-`, 600,000 names
//! and 800 ms). Gathering every match from `agents` and sorting took 270 ms for those
//! 50,000, as their rows are wide; from `agent_names`, 45–90 ms, depending on how the
//! names lie in the table (in name order after the migration, in order of arrival as
//! agents join). The walk costs about 0.75 µs a name passed, so it stops after [`WALK`]
//! names (about 38 ms), and the page is then gathered: the first matches after the
//! cursor, sorted. The walk's few matches are among them, so the gather does not start
//! from the walk's end: finding that end read the walk's names again (a subquery, 5 ms
//! or more at a million), and numbering the names as the walk passes them (a window)
//! cost the walk 20–30 ms. A search expected to match few names (`few_matches`) gathers
//! without walking; one with facets and few matches is gathered and sorted whole
//! (`fleet_list.rs`).
//!
//! With facets, the page was read by walking the name index and reading each agent's
//! row until a page passed them: `security`, active, passed 899,895 rows at 1M agents
//! (1.1 s). The walk and the gather above, with the facets probed, take 39 ms.
//!
//! The count of such a search reads `agent_names` too (`fleet_list.rs`).

use super::fleet_list::{filtered, push_search};
use super::name_words::{push_after, push_first_matches, Gathering};
use super::PostgresStore;
use crate::error::AppResult;
use crate::store::agents::{AgentRow, AGENT_COLUMNS};
use crate::store::fleet_query::{order_by, push_facets, Cursor, HealthClock};
use crate::store::AgentFilter;
use fleet_protocol::AgentSort;
use sqlx::{Postgres, QueryBuilder};

/// How many names a search tests in name order before gathering the rest of its page.
/// A test walks a few names only, so that its small fleets take the gathering path too.
#[cfg(not(test))]
const WALK: u32 = 50_000;
#[cfg(test)]
const WALK: u32 = 5;

/// How many matches of a search with facets are gathered in name order at first, for
/// each row of the page; each further round gathers this many times more.
const GATHER_PER_ROW: i64 = 8;

impl PostgresStore {
    /// The rows of the page of `filter`, a search (without one, every name matches), in
    /// `sort`, an order by name, after `cursor`: `limit` and one more when there are more.
    /// `walk`: whether to test the first names in order before gathering (not when few
    /// names are expected to match).
    pub(super) async fn search_in_name_order(
        &self,
        filter: &AgentFilter,
        clock: HealthClock,
        sort: AgentSort,
        cursor: Option<&Cursor>,
        limit: u32,
        walk: bool,
    ) -> AppResult<Vec<AgentRow>> {
        let q = filter.search_text().unwrap_or_default();
        let order = order_by("name", sort);
        let page = i64::from(limit) + 1;
        let mut ids: Vec<String> = Vec::new();
        let gathering = self.gathering(q).await?;
        if walk && gathering.walks_first(q) {
            let mut walked = QueryBuilder::<Postgres>::new(
                "SELECT sekuire_id FROM (SELECT name, sekuire_id FROM agents WHERE TRUE",
            );
            push_after(&mut walked, cursor, sort);
            walked
                .push(&order)
                .push(format!(" LIMIT {WALK}) AS walked WHERE "));
            push_search(&mut walked, q, None);
            if filter.has_facets() {
                walked.push(" AND ");
                push_kept(&mut walked, filter, clock, "walked");
            }
            walked.push(&order).push(" LIMIT ").push_bind(page);
            ids = walked
                .build_query_scalar()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
        }
        if ids.len() < page as usize {
            ids = if filter.has_facets() {
                self.gather_kept(filter, clock, sort, cursor, page, &gathering)
                    .await?
            } else {
                let mut gather = QueryBuilder::<Postgres>::new("SELECT sekuire_id FROM ");
                push_first_matches(&mut gather, q, &gathering, cursor, sort, page, "gathered");
                gather.push(&order);
                gather
                    .build_query_scalar()
                    .persistent(false)
                    .fetch_all(&self.pool)
                    .await?
            };
        }

        let mut rows = QueryBuilder::<Postgres>::new(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE sekuire_id = ANY("
        ));
        rows.push_bind(ids).push(")").push(&order);
        Ok(rows
            .build_query_as()
            .persistent(false)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The Sekuire IDs of the first `page` matches of `filter`, a search with facets, in
    /// `sort` after `cursor`: its matches by name are gathered as `gathering` says (from
    /// `agent_names` or the words of the names) a round at a time, in order, and each is
    /// kept when its agent passes the facets.
    ///
    /// Decision: the facets are tested on the names a round gathered, one index probe
    /// each, and not in the statement that gathers them. Told to join the facets,
    /// PostgreSQL sorted every match by name before the probes (`security`, active, at a
    /// million agents: 45 ms for the 50,000 matches), where the first 408 of them sort
    /// with a bounded heap (20 ms for the round). A round that does not fill the page
    /// starts after its last name, and gathers as many as the share that passed suggests
    /// the page needs ([`next_round`]).
    async fn gather_kept(
        &self,
        filter: &AgentFilter,
        clock: HealthClock,
        sort: AgentSort,
        cursor: Option<&Cursor>,
        page: i64,
        gathering: &Gathering,
    ) -> AppResult<Vec<String>> {
        let q = filter.search_text().unwrap_or_default();
        let order = order_by("name", sort);
        let mut after = cursor.cloned();
        let mut round = page * GATHER_PER_ROW;
        let mut ids = Vec::new();
        loop {
            let mut gather = QueryBuilder::<Postgres>::new("SELECT sekuire_id, name, ");
            push_kept(&mut gather, filter, clock, "gathered");
            gather.push(" FROM ");
            push_first_matches(
                &mut gather,
                q,
                gathering,
                after.as_ref(),
                sort,
                round,
                "gathered",
            );
            gather.push(&order);
            let gathered: Vec<(String, String, bool)> = gather
                .build_query_as()
                .persistent(false)
                .fetch_all(&self.pool)
                .await?;
            let read = gathered.len() as i64;
            let complete = read < round;
            let mut passed = 0;
            let mut last = None;
            for (id, name, kept) in gathered {
                passed += i64::from(kept);
                // A round reads the names as they are when it runs: an agent renamed
                // since the last one may come again, under its new name.
                if kept && !ids.contains(&id) {
                    ids.push(id.clone());
                }
                last = Some((id, name));
            }
            match last {
                Some((id, name)) if !complete && (ids.len() as i64) < page => {
                    after = Some(Cursor::at_name(sort, name, id));
                    round = next_round(round, read, passed, page - ids.len() as i64);
                }
                _ => break,
            }
        }
        ids.truncate(page as usize);
        Ok(ids)
    }
}

/// How many matches the next round of [`PostgresStore::gather_kept`] gathers, when a
/// round read `read` of them, of which `passed` passed the facets, and the page still
/// misses `missing`: twice as many as that share suggests, at most [`GATHER_PER_ROW`]
/// times the last round, and that when none passed.
///
/// A round of 3,264 matches of `se` at 1M agents, after 33 of 408 passed `paused` +
/// `verified`, probed five times the matches the page needed (24 ms; the next round now
/// gathers 445).
fn next_round(round: i64, read: i64, passed: i64, missing: i64) -> i64 {
    let most = round * GATHER_PER_ROW;
    if passed == 0 {
        return most;
    }
    (2 * missing * read / passed).clamp(missing, most)
}

/// `EXISTS (…)`: whether the agent of the row `alias` (which has its Sekuire ID) passes
/// `filter`'s facets, tested in the narrowest table that holds them ([`filtered`]): a
/// round of `se` + `paused` + `verified` at 1M agents probed 3,264 agents in 23 ms in
/// `agents`, 8 ms in `agent_facets`.
fn push_kept(
    qb: &mut QueryBuilder<'_, Postgres>,
    filter: &AgentFilter,
    clock: HealthClock,
    alias: &str,
) {
    let kept = filtered(filter);
    qb.push(format!(
        "EXISTS (SELECT 1 FROM {kept} WHERE {kept}.sekuire_id = {alias}.sekuire_id"
    ));
    push_facets(qb, filter, clock);
    qb.push(")");
}

#[cfg(test)]
mod tests {
    use crate::clock::now_ms;
    use crate::store::fleet_query::{agent_page, Cursor, HealthClock, Total};
    use crate::store::postgres::fleet_list::tests::{both, fleet};
    use crate::store::postgres::PostgresStore;
    use crate::store::{AgentFilter, Backend, NewAgent, Store};
    use fleet_protocol::{AgentSort, Health, RuntimeStatus, SortKey, VerificationStatus};

    /// Every page of a search by name, walked then gathered (a test walks `WALK`
    /// names) or gathered only, is SQLite's page: names with ties, wildcards and
    /// non-ASCII case, ID prefixes, a search that matches every name and one that
    /// matches none, without facets and with facets that keep most, some or few of its
    /// matches (so gathering takes one round, or more), both ways, from every cursor.
    #[tokio::test]
    async fn a_search_by_name_walks_then_gathers_the_pages_sqlite_lists() {
        let Some((sqlite, postgres, _dir)) = both().await else {
            return;
        };
        let mut agents = fleet(now_ms());
        // Matches that sit together after more than a walk of names without one.
        agents.extend((0..12).map(|i| {
            NewAgent::active(
                crate::store::secret_hash(&format!("zz-{i}")),
                format!("zz-team-{}", i % 4),
                now_ms(),
            )
        }));
        sqlite.insert_agents(&agents).await.unwrap();
        postgres.insert_agents(&agents).await.unwrap();
        let Backend::Postgres(store) = &postgres.backend else {
            unreachable!("both() opens PostgreSQL second");
        };
        let facets = [
            AgentFilter::default(),
            AgentFilter {
                runtime_status: vec![RuntimeStatus::Active],
                ..AgentFilter::default()
            },
            AgentFilter {
                runtime_status: vec![RuntimeStatus::Paused],
                verification_status: vec![VerificationStatus::Verified],
                ..AgentFilter::default()
            },
            AgentFilter {
                health: vec![Health::Never],
                min_reputation: Some(50),
                ..AgentFilter::default()
            },
        ];
        let id_prefix = agents[7].sekuire_id[..3].to_owned();
        for q in [
            "a", "alpha", "%", "äbc", "bc", "TWO", "Team", "zz-team", "TEAM-3", &id_prefix,
            "nothing",
        ] {
            for facets in &facets {
                let filter = AgentFilter {
                    q: Some(q.to_owned()),
                    ..facets.clone()
                };
                for descending in [false, true] {
                    let sort = AgentSort {
                        key: SortKey::Name,
                        descending,
                    };
                    assert_pages_match(&sqlite, store, &filter, sort).await;
                }
            }
        }
    }

    /// Walks every page of `filter` in `sort` on SQLite, and asserts that PostgreSQL's
    /// name-ordered read, walked or gathered only, gives each of them.
    async fn assert_pages_match(
        sqlite: &Store,
        postgres: &PostgresStore,
        filter: &AgentFilter,
        sort: AgentSort,
    ) {
        let mut cursor: Option<String> = None;
        loop {
            let expected = sqlite
                .list_agents(filter, sort, 3, cursor.as_deref())
                .await
                .unwrap();
            let at = cursor.as_deref().map(|c| Cursor::decode(c, sort).unwrap());
            for walk in [true, false] {
                let clock = HealthClock::read(&postgres.pool, filter).await.unwrap();
                let rows = postgres
                    .search_in_name_order(filter, clock, sort, at.as_ref(), 3, walk)
                    .await
                    .unwrap();
                let total = Total::kept(expected.total as i64);
                let page = agent_page(rows, total, 3, sort, clock.now).unwrap();
                assert_eq!(
                    page, expected,
                    "{filter:?} by {sort} after {cursor:?}, {walk}"
                );
            }
            cursor = expected.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
    }

    /// `agent_names` follows the agents it copies, whatever statement writes them: a
    /// gathered page finds a renamed agent under its new name only.
    #[tokio::test]
    async fn a_renamed_agent_is_gathered_under_its_new_name() {
        let Some((_, postgres, _dir)) = both().await else {
            return;
        };
        let agents: Vec<NewAgent> = (0..20)
            .map(|i| NewAgent::active(format!("{i:02}"), format!("agent-{i:02}"), now_ms()))
            .collect();
        postgres.insert_agents(&agents).await.unwrap();
        let Backend::Postgres(store) = &postgres.backend else {
            unreachable!("both() opens PostgreSQL second");
        };
        sqlx::query("UPDATE agents SET name = 'renamed-' || name WHERE sekuire_id IN ('03', '17')")
            .execute(&store.pool)
            .await
            .unwrap();
        let sort = AgentSort {
            key: SortKey::Name,
            descending: false,
        };
        let found = |q: &'static str| async move {
            let filter = AgentFilter {
                q: Some(q.to_owned()),
                ..AgentFilter::default()
            };
            let clock = HealthClock::read(&store.pool, &filter).await.unwrap();
            let rows = store
                .search_in_name_order(&filter, clock, sort, None, 10, true)
                .await
                .unwrap();
            rows.into_iter().map(|row| row.name).collect::<Vec<_>>()
        };
        assert_eq!(
            found("renamed").await,
            ["renamed-agent-03", "renamed-agent-17"]
        );
        assert_eq!(
            found("agent-1").await.len(),
            10,
            "agent-10 to agent-19, renamed or not"
        );
        // Gathered through the words of the names: once each, under the new name only.
        assert_eq!(found("03").await, ["renamed-agent-03"]);
        sqlx::query("DELETE FROM agents WHERE sekuire_id = '17'")
            .execute(&store.pool)
            .await
            .unwrap();
        assert_eq!(found("renamed").await, ["renamed-agent-03"]);
        assert_eq!(found("17").await, Vec::<String>::new());
    }

    /// A round after one where a share of the matches passed gathers twice what that share
    /// needs, at least the missing rows and at most eight times the last round; one after a
    /// round where none passed, eight times as many.
    #[test]
    fn the_next_round_follows_the_share_that_passed() {
        assert_eq!(super::next_round(408, 408, 33, 18), 445);
        assert_eq!(super::next_round(408, 408, 0, 51), 3_264);
        assert_eq!(super::next_round(408, 408, 1, 51), 3_264);
        assert_eq!(super::next_round(408, 408, 400, 3), 6);
        assert_eq!(super::next_round(408, 408, 408, 1), 2);
    }
}
