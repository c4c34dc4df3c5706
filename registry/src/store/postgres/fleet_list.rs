//! The fleet list and summary on PostgreSQL: the shared filters, cursors and pages, in plain SQL.
//!
//! Decision: a list's statements are not kept prepared (`persistent(false)`), so each is
//! planned for its own values. A kept statement gets a generic plan after five runs on a
//! connection, and one plan cannot serve both a search that matches 60,000 names and one
//! that matches none: at 1M agents, a two-character search that matched nothing went from
//! 1.5 ms to 840 ms on its sixth run, walking the whole name index. Planning costs about a
//! millisecond per statement.

use super::PostgresStore;
use crate::clock::now_ms;
use crate::error::AppResult;
use crate::store::agents::{AgentRow, AGENT_COLUMNS};
use crate::store::fleet_query::{
    self, agent_page, health_counts_sql, id_prefix_range, kept_facets, order_by, push_facets,
    push_page_order, Cursor, HealthClock, Total,
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

/// ` AND …` terms for `filter`, on `agents`.
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
                            count.push("SELECT 1 FROM agents WHERE TRUE");
                            push_filter(&mut count, filter, clock, pieces.as_deref());
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
                .await?;
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
                // Every match first, then the page among them: `OFFSET 0` keeps the
                // planner from walking the sort index instead.
                page.push("(SELECT * FROM agents WHERE TRUE");
                push_filter(&mut page, filter, clock, pieces.as_deref());
                page.push(" OFFSET 0) AS agents WHERE TRUE");
            } else if let Some(apart) = apart_by_state(filter, sort.key) {
                let push_state_matches =
                    |qb: &mut QueryBuilder<'_, Postgres>, filter: &AgentFilter| {
                        qb.push(format!(
                            "SELECT sekuire_id, {sort_expr} FROM agents WHERE TRUE"
                        ));
                        push_filter(qb, filter, clock, pieces.as_deref());
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
                push_filter(&mut page, filter, clock, pieces.as_deref());
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
pub(super) mod tests {
    use crate::clock::now_ms;
    use crate::store::{secret_hash, AgentFilter, Backend, Database, NewAgent, Store};
    use fleet_protocol::{AgentSort, Health, RuntimeStatus, SortKey, VerificationStatus};
    use sqlx::Connection;

    /// An SQLite store and a PostgreSQL store on a fresh database of the server
    /// `SEKUIRE_TEST_POSTGRES` names (and the SQLite file's directory), or `None` without it.
    pub(in crate::store) async fn both() -> Option<(Store, Store, tempfile::TempDir)> {
        let Ok(server) = std::env::var("SEKUIRE_TEST_POSTGRES") else {
            eprintln!("skipped: SEKUIRE_TEST_POSTGRES does not name a PostgreSQL server");
            return None;
        };
        let name = format!("registry_test_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(&name);
        let postgres = Store::open(Database::Postgres(url.to_string()))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::open(dir.path().join("r.db").as_path())
            .await
            .unwrap();
        Some((sqlite, postgres, dir))
    }

    /// Names with ties, wildcards and non-ASCII case; heartbeats far from the health edges.
    pub(in crate::store::postgres) fn fleet(now: i64) -> Vec<NewAgent> {
        let names = [
            "alpha",
            "Alpha",
            "ALPHA two",
            "50% off",
            "50 percent",
            "a_b",
            "axb",
            "ÄBC",
            "äbc",
            "abc",
            "Zeta",
            "beta",
        ];
        let heartbeats = [
            None,
            Some(now - 1_000),
            Some(now - 120_000),
            Some(now - 86_400_000),
        ];
        (0..60)
            .map(|i| NewAgent {
                sekuire_id: secret_hash(&i.to_string()),
                name: names[i % names.len()].to_owned(),
                version: "1.0.0".into(),
                description: String::new(),
                runtime_status: RuntimeStatus::ALL[i % 3],
                verification_status: VerificationStatus::ALL[(i / 2) % 4],
                reputation_score: if i == 7 { 100 } else { (i * 37 % 100) as u8 },
                last_heartbeat_at: heartbeats[i % 4],
                created_at: now - (i as i64 % 7) * 1_000,
                heartbeat_interval_s: fleet_protocol::DEFAULT_HEARTBEAT_INTERVAL_SECS,
            })
            .collect()
    }

    #[tokio::test]
    async fn lists_and_summarizes_as_sqlite_does() {
        let Some((sqlite, postgres, _dir)) = both().await else {
            return;
        };
        assert_eq!(
            sqlite.fleet_summary().await.unwrap(),
            postgres.fleet_summary().await.unwrap()
        );
        let agents = fleet(now_ms());
        sqlite.insert_agents(&agents).await.unwrap();
        postgres.insert_agents(&agents).await.unwrap();
        let summary = postgres.fleet_summary().await.unwrap();
        assert_eq!(summary.total, 60);
        assert_eq!(sqlite.fleet_summary().await.unwrap(), summary);

        let search = |q: &str| AgentFilter {
            q: Some(q.to_owned()),
            ..AgentFilter::default()
        };
        // Name substrings (ASCII case folded) and ID prefixes, counted here.
        let matches = |q: &str| {
            let q = q.to_ascii_lowercase();
            let hex = q.bytes().all(|b| b.is_ascii_hexdigit());
            let hit = |a: &&NewAgent| {
                a.name.to_ascii_lowercase().contains(&q) || hex && a.sekuire_id.starts_with(&q)
            };
            agents.iter().filter(hit).count() as u64
        };
        let id_prefix = agents[7].sekuire_id[..2].to_ascii_uppercase();
        assert!(matches(&id_prefix) > 0);
        let filters = [
            (AgentFilter::default(), 60),
            (search("alpha"), 15),
            (search("%"), 5),
            (search("_"), 5),
            (search("äbc"), 5),
            (search(" ÄBC "), 5),
            (search(&id_prefix), matches(&id_prefix)),
            (search("a"), matches("a")),
            // Two characters: through the index of name pieces on PostgreSQL, of trigram
            // terms on SQLite; case folded, `%` literal, at a name's end.
            (search("Lp"), matches("Lp")),
            (search("% "), matches("% ")),
            (search("TA"), matches("TA")),
            // Across a separator: through the index's three-character pieces on
            // PostgreSQL; `_` literal; a typo that matches nothing.
            (search("HA T"), matches("HA T")),
            (search("0% O"), matches("0% O")),
            (search("a_b"), matches("a_b")),
            (search("alpha-x"), 0),
            // Two facets the kept counts do not answer: counted in `agent_facets`.
            (
                AgentFilter {
                    verification_status: vec![VerificationStatus::Verified],
                    min_reputation: Some(30),
                    ..AgentFilter::default()
                },
                fleet_matches(&agents, |a| {
                    a.verification_status == VerificationStatus::Verified
                        && a.reputation_score >= 30
                }),
            ),
            (
                AgentFilter {
                    runtime_status: vec![RuntimeStatus::Active, RuntimeStatus::Paused],
                    verification_status: vec![VerificationStatus::Verified],
                    health: vec![Health::Healthy, Health::Never, Health::Stale],
                    min_reputation: Some(10),
                    max_reputation: Some(90),
                    ..search("a")
                },
                0,
            ),
        ];
        for (filter, expected_total) in &filters {
            for key in SortKey::ALL {
                for descending in [false, true] {
                    let sort = AgentSort { key, descending };
                    let mut cursor = None;
                    let mut seen = 0;
                    loop {
                        let page = postgres
                            .list_agents(filter, sort, 7, cursor.as_deref())
                            .await
                            .unwrap();
                        let expected = sqlite
                            .list_agents(filter, sort, 7, cursor.as_deref())
                            .await
                            .unwrap();
                        assert_eq!(page, expected, "{filter:?} by {sort}");
                        if *expected_total > 0 {
                            assert_eq!(page.total, *expected_total, "{filter:?}");
                        }
                        seen += page.agents.len() as u64;
                        cursor = page.next_cursor;
                        if cursor.is_none() {
                            break;
                        }
                    }
                    assert_eq!(seen, {
                        let all = postgres.list_agents(filter, sort, 100, None).await;
                        all.unwrap().total
                    });
                }
            }
        }
    }

    /// How many of `agents` pass `keep`.
    fn fleet_matches(agents: &[NewAgent], keep: impl Fn(&NewAgent) -> bool) -> u64 {
        agents.iter().filter(|a| keep(a)).count() as u64
    }

    /// `agent_facets` follows the agents it copies, whatever statement writes them: after
    /// updates of each facet, of several rows at once, and of none, every agent's facets
    /// there are its own.
    #[tokio::test]
    async fn agent_facets_follow_every_change_of_a_facet() {
        let Some((_, postgres, _dir)) = both().await else {
            return;
        };
        postgres.insert_agents(&fleet(now_ms())).await.unwrap();
        let Backend::Postgres(store) = &postgres.backend else {
            unreachable!("both() opens PostgreSQL second");
        };
        for change in [
            "UPDATE agents SET runtime_status = 'paused' WHERE reputation_score < 40",
            "UPDATE agents SET verification_status = 'suspended' WHERE name = 'alpha'",
            "UPDATE agents SET reputation_score = 100 - reputation_score",
            "UPDATE agents SET last_heartbeat_at = 1 WHERE runtime_status = 'active'",
            "DELETE FROM agents WHERE name = 'beta'",
        ] {
            sqlx::query(change).execute(&store.pool).await.unwrap();
            let (agents, copies, differing): (i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM agents), (SELECT COUNT(*) FROM agent_facets), \
                 (SELECT COUNT(*) FROM agents a JOIN agent_facets f USING (sekuire_id) \
                  WHERE (a.runtime_status, a.verification_status, a.reputation_score) \
                  IS DISTINCT FROM (f.runtime_status, f.verification_status, f.reputation_score))",
            )
            .fetch_one(&store.pool)
            .await
            .unwrap();
            assert_eq!((copies, differing), (agents, 0), "after {change}");
        }
    }
}
