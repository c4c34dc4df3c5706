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
    let health = |healths: &[Health]| AgentFilter {
        health: healths.to_vec(),
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
                a.verification_status == VerificationStatus::Verified && a.reputation_score >= 30
            }),
        ),
        // A search with facets and no health: counted, and few matches found, in
        // `agent_facets`, through its trigram index, the index of name pieces, the
        // key's range, or the facet index that holds the name.
        (
            AgentFilter {
                runtime_status: vec![RuntimeStatus::Paused],
                ..search("alpha")
            },
            fleet_matches(&agents, |a| {
                a.runtime_status == RuntimeStatus::Paused
                    && a.name.to_ascii_lowercase().contains("alpha")
            }),
        ),
        (
            AgentFilter {
                verification_status: vec![VerificationStatus::Pending],
                min_reputation: Some(20),
                ..search("Lp")
            },
            fleet_matches(&agents, |a| {
                a.verification_status == VerificationStatus::Pending
                    && a.reputation_score >= 20
                    && a.name.to_ascii_lowercase().contains("lp")
            }),
        ),
        (
            AgentFilter {
                runtime_status: vec![agents[7].runtime_status],
                ..search(&id_prefix)
            },
            fleet_matches(&agents, |a| {
                a.runtime_status == agents[7].runtime_status
                    && a.sekuire_id.starts_with(&id_prefix.to_ascii_lowercase())
            }),
        ),
        (
            AgentFilter {
                runtime_status: vec![RuntimeStatus::Active],
                ..search("alpha-x")
            },
            0,
        ),
        // Healths: one (15 agents, under the test's `FEW_IN_HEALTH`) gathered; two
        // walked, with the health tested on each row, and with a facet; each checked
        // against SQLite below.
        (health(&[Health::Healthy]), 15),
        (health(&[Health::Healthy, Health::Stale]), 30),
        (health(&[Health::Unhealthy, Health::Never]), 30),
        (
            AgentFilter {
                verification_status: vec![VerificationStatus::Verified],
                ..health(&[Health::Stale, Health::Unhealthy])
            },
            0,
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
/// updates of each facet and of the name, of several rows at once, and of none, every
/// agent's facets and name there are its own.
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
        "UPDATE agents SET name = name || ' renamed' WHERE reputation_score > 50",
        "DELETE FROM agents WHERE name = 'beta'",
    ] {
        sqlx::query(change).execute(&store.pool).await.unwrap();
        let (agents, copies, differing): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM agents), (SELECT COUNT(*) FROM agent_facets), \
             (SELECT COUNT(*) FROM agents a JOIN agent_facets f USING (sekuire_id) \
              WHERE (a.runtime_status, a.verification_status, a.reputation_score, a.name) \
              IS DISTINCT FROM \
              (f.runtime_status, f.verification_status, f.reputation_score, f.name))",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!((copies, differing), (agents, 0), "after {change}");
    }
}
