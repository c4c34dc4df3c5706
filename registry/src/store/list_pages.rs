//! Pages of the fleet list on both engines, checked against the fleet they list: the
//! plans that tell a walk where to start and stop (`list_plan.rs`), on fleets large enough
//! that each engine takes them. Each test runs on SQLite, and on PostgreSQL too when
//! `SEKUIRE_TEST_POSTGRES` names a server (`cargo xtask test` starts one).

use super::postgres::{agent_with_installations, both};
use super::{secret_hash, AgentFilter, NewAgent, Store};
use crate::clock::now_ms;
use fleet_protocol::{AgentSort, Health, RuntimeStatus, SortKey, VerificationStatus};

/// An SQLite store, and a PostgreSQL one when `SEKUIRE_TEST_POSTGRES` names a server;
/// and the SQLite file's directory.
async fn every_engine() -> (Vec<Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(dir.path().join("r.db").as_path()).await;
    let mut stores = vec![sqlite.unwrap()];
    if let Some((_, postgres, _)) = both().await {
        stores.push(postgres);
    }
    (stores, dir)
}

/// A page of several runtime states in order of change merges each state's page, on
/// either engine: every page, both ways, from every cursor, is the fleet's agents of
/// those states ordered by change and Sekuire ID, ties included. SQLite splits the
/// states only for many matches, so the fleet has more than `FEW_MATCHES` of them.
#[tokio::test]
async fn pages_of_several_states_in_order_of_change_merge_each_states_page() {
    let (stores, _dir) = every_engine().await;
    let now = now_ms();
    let fleet: Vec<NewAgent> = (0..7_800)
        .map(|i| NewAgent {
            runtime_status: RuntimeStatus::ALL[i % 3],
            // 1,000 instants, so many agents share one: the Sekuire ID breaks the tie.
            created_at: now - (i as i64 * 7_919 % 1_000),
            ..NewAgent::active(secret_hash(&format!("s-{i}")), format!("s-{i}"), now)
        })
        .collect();
    let filter = AgentFilter {
        runtime_status: vec![RuntimeStatus::Terminated, RuntimeStatus::Paused],
        ..AgentFilter::default()
    };
    let kept = |a: &NewAgent| a.runtime_status != RuntimeStatus::Active;
    assert_listed_by_change(&stores, &fleet, &filter, 700, kept).await;
}

/// A page of a dense search and one verification status in order of change (on SQLite,
/// a walk of that status's stretch of the index by status and change, migration 0016)
/// holds every match, both ways, from every cursor. The search names more than
/// `FEW_MATCHES` candidates and the status has more matches than a search's count
/// reaches, so SQLite walks.
#[tokio::test]
async fn pages_of_a_search_and_one_verification_status_in_order_of_change_hold_every_match() {
    let (stores, _dir) = every_engine().await;
    let now = now_ms();
    let fleet: Vec<NewAgent> = (0..5_200)
        .map(|i| NewAgent {
            verification_status: VerificationStatus::ALL[i % 4],
            created_at: now - (i as i64 * 7_919 % 1_000),
            ..NewAgent::active(secret_hash(&format!("v-{i}")), format!("security-{i}"), now)
        })
        .collect();
    let filter = AgentFilter {
        q: Some("security".into()),
        verification_status: vec![VerificationStatus::Suspended],
        ..AgentFilter::default()
    };
    let kept = |a: &NewAgent| a.verification_status == VerificationStatus::Suspended;
    assert_listed_by_change(&stores, &fleet, &filter, 300, kept).await;
}

/// A page of one health in heartbeat order walks only the heartbeats that health
/// allows, and finds every agent of it: each page, both ways, from every cursor, is
/// the fleet's agents of that health by heartbeat (0 for never) and Sekuire ID. Each
/// health has more than `FEW_MATCHES` agents, so SQLite walks the heartbeat index.
#[tokio::test]
async fn pages_of_a_health_in_heartbeat_order_hold_every_agent_of_it() {
    let (stores, _dir) = every_engine().await;
    let now = now_ms();
    // Never, healthy (up to 39 s ago, 51 s inside 1.5 intervals, longer than the test
    // takes), and unhealthy (10 to 12 minutes ago), by thirds; 40 heartbeats shared by
    // the healthy.
    let heartbeat = |i: i64| match i % 3 {
        0 => None,
        1 => Some(now - i % 40 * 1_000),
        _ => Some(now - 600_000 - i * 5),
    };
    let fleet: Vec<NewAgent> = (0..21_000)
        .map(|i| NewAgent {
            last_heartbeat_at: heartbeat(i),
            ..NewAgent::active(secret_hash(&format!("h-{i}")), format!("h-{i}"), now)
        })
        .collect();
    let health = |a: &NewAgent| match a.last_heartbeat_at {
        None => Health::Never,
        Some(at) if at + a.heartbeat_interval_s * 1500 >= now => Health::Healthy,
        Some(_) => Health::Unhealthy,
    };
    for store in &stores {
        store.insert_agents(&fleet).await.unwrap();
        for (wanted, descending) in [Health::Never, Health::Healthy, Health::Unhealthy]
            .into_iter()
            .flat_map(|h| [(h, false), (h, true)])
        {
            let sort = AgentSort {
                key: SortKey::LastHeartbeatAt,
                descending,
            };
            let expected = fleet
                .iter()
                .filter(|a| health(a) == wanted)
                .map(|a| (a.last_heartbeat_at.unwrap_or(0), a.sekuire_id.as_str()));
            let filter = AgentFilter {
                health: vec![wanted],
                ..AgentFilter::default()
            };
            assert_listed_in_order(store, &filter, sort, 1_000, expected.collect()).await;
        }
    }
}

/// A stale agent is listed whatever its interval, as the filter's range reaches back 1.5
/// of the longest interval in use, which the kept counts know: they follow the agents
/// inserted in bulk and an interval a lease asks for, on either engine. The longest by
/// number (500) is not the longest as text (60), and the 500 s agent's deadline passed
/// 250 s ago, past 1.5 of 60 s.
#[tokio::test]
async fn stale_agents_of_every_interval_in_use_are_listed() {
    let (stores, _dir) = every_engine().await;
    for store in &stores {
        // Each stale: its last heartbeat two of its intervals ago, so it stays stale for
        // one more interval (20 s for the shortest), longer than this store's part takes.
        let now = now_ms();
        let fleet: Vec<NewAgent> = [(20, "short"), (60, "default"), (500, "long")]
            .into_iter()
            .map(|(interval_s, name)| NewAgent {
                last_heartbeat_at: Some(now - interval_s * 2_000),
                heartbeat_interval_s: interval_s,
                ..NewAgent::active(secret_hash(name), name, now)
            })
            .collect();
        store.insert_agents(&fleet).await.unwrap();
        // An agent of the default interval, whose lease asks for another.
        let installations = agent_with_installations(store, &secret_hash("lessee"), 1).await;
        let (installation_id, runtime_token) = &installations[0];
        store
            .lease(installation_id, runtime_token, None, Some(300))
            .await
            .unwrap();

        let mut intervals: Vec<(String, i64)> = store.fleet_counts().await.unwrap();
        intervals.retain(|(facet, _)| facet.starts_with("interval:"));
        intervals.sort_unstable();
        let counted = [("20", 1), ("300", 1), ("500", 1), ("60", 1)]
            .map(|(interval, agents)| (format!("interval:{interval}"), agents));
        assert_eq!(intervals, counted);

        let filter = AgentFilter {
            health: vec![Health::Stale],
            ..AgentFilter::default()
        };
        let by_name = store
            .list_agents(&filter, AgentSort::default(), 10, None)
            .await
            .unwrap();
        let names: Vec<&str> = by_name.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["default", "long", "short"]);
        let sort = AgentSort {
            key: SortKey::LastHeartbeatAt,
            descending: false,
        };
        let expected = fleet
            .iter()
            .map(|a| (a.last_heartbeat_at.unwrap(), a.sekuire_id.as_str()));
        assert_listed_in_order(store, &filter, sort, 2, expected.collect()).await;
    }
}

/// A search with facets is counted on every page, and past its last match too, on
/// either engine. Its candidates are few, so SQLite counts them in the page's statement;
/// a page after a cursor whose matches have since left the filter has no row to carry
/// that count, and counts on its own.
#[tokio::test]
async fn a_search_with_facets_is_counted_on_every_page_and_past_its_last_match() {
    let (stores, _dir) = every_engine().await;
    let now = now_ms();
    let fleet: Vec<NewAgent> = (0..230)
        .map(|i| {
            let name = match i {
                0..30 => format!("rare-{i}"),
                _ => format!("common-{i}"),
            };
            NewAgent {
                reputation_score: (i % 100) as u8,
                ..NewAgent::active(secret_hash(&name), name, now)
            }
        })
        .collect();
    let (rare, _) = fleet.split_at(30);
    let filter = AgentFilter {
        q: Some("RARE".into()),
        verification_status: vec![VerificationStatus::Verified],
        ..AgentFilter::default()
    };
    let sort = AgentSort {
        key: SortKey::ReputationScore,
        descending: true,
    };
    for store in &stores {
        store.insert_agents(&fleet).await.unwrap();
        let expected = rare
            .iter()
            .map(|a| (i64::from(a.reputation_score), a.sekuire_id.as_str()));
        assert_listed_in_order(store, &filter, sort, 10, expected.collect()).await;
        let first = store.list_agents(&filter, sort, 10, None).await.unwrap();
        let second = store
            .list_agents(&filter, sort, 10, first.next_cursor.as_deref())
            .await
            .unwrap();
        for page in [&first, &second] {
            assert_eq!((page.total, page.total_exact), (30, true));
        }
        for agent in rare {
            if !first
                .agents
                .iter()
                .any(|a| a.sekuire_id == agent.sekuire_id)
            {
                let suspended = VerificationStatus::Suspended;
                let id = &agent.sekuire_id;
                store
                    .set_verification(id, suspended, None, "test", "r")
                    .await
                    .unwrap();
            }
        }
        let past = store
            .list_agents(&filter, sort, 10, first.next_cursor.as_deref())
            .await
            .unwrap();
        assert!(past.agents.is_empty(), "{:?}", past.agents);
        assert_eq!((past.total, past.total_exact), (10, true));
        assert_eq!(past.next_cursor, None);
    }
}

/// Adds `fleet` to each of `stores` and lists `filter` by change, both ways, `limit` at a
/// time: together the pages must be the agents `kept` holds, by change (an agent's
/// `created_at`) and Sekuire ID.
async fn assert_listed_by_change(
    stores: &[Store],
    fleet: &[NewAgent],
    filter: &AgentFilter,
    limit: u32,
    kept: impl Fn(&NewAgent) -> bool,
) {
    for store in stores {
        store.insert_agents(fleet).await.unwrap();
        for descending in [false, true] {
            let sort = AgentSort {
                key: SortKey::UpdatedAt,
                descending,
            };
            let expected = fleet
                .iter()
                .filter(|a| kept(a))
                .map(|a| (a.created_at, a.sekuire_id.as_str()));
            assert_listed_in_order(store, filter, sort, limit, expected.collect()).await;
        }
    }
}

/// Lists every page of `filter` in `sort`, `limit` at a time, and asserts that together
/// they are `expected`'s agents in order: by the sort key given with each, then by
/// Sekuire ID, reversed for a descending sort.
async fn assert_listed_in_order(
    store: &Store,
    filter: &AgentFilter,
    sort: AgentSort,
    limit: u32,
    mut expected: Vec<(i64, &str)>,
) {
    expected.sort_unstable();
    if sort.descending {
        expected.reverse();
    }
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_agents(filter, sort, limit, cursor.as_deref())
            .await
            .unwrap();
        listed.extend(page.agents.into_iter().map(|a| a.sekuire_id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let expected: Vec<&str> = expected.into_iter().map(|(_, id)| id).collect();
    assert_eq!(listed, expected, "{filter:?} by {sort}");
}

/// Each health filter selects exactly the agents whose derived health it names, on
/// either engine, for heartbeats on and beside every threshold of the shortest, the
/// default and the longest interval: the filter's ranges and `Health::derive` use the
/// same `now` inside one list call, so an agent on an edge must land on one side in
/// both.
#[tokio::test]
async fn health_filters_match_derived_health_at_every_edge() {
    let (stores, _dir) = every_engine().await;
    let now = now_ms();
    let mut agents = Vec::new();
    for interval_s in [1_i64, 60, 600] {
        let edges = [0, interval_s * 1500, interval_s * 3000];
        for edge in edges {
            for beside in [-1_000, -1, 0, 1, 1_000] {
                agents.push(Some((now - edge - beside, interval_s)));
            }
        }
    }
    agents.push(None);
    let fleet: Vec<NewAgent> = agents
        .iter()
        .enumerate()
        .map(|(i, heartbeat)| NewAgent {
            sekuire_id: secret_hash(&format!("edge-{i}")),
            name: format!("edge-{i}"),
            version: "1.0.0".into(),
            description: String::new(),
            runtime_status: RuntimeStatus::Active,
            verification_status: VerificationStatus::Verified,
            reputation_score: 50,
            last_heartbeat_at: heartbeat.map(|(at, _)| at),
            heartbeat_interval_s: heartbeat.map_or(60, |(_, interval_s)| interval_s),
            created_at: now,
        })
        .collect();
    for store in &stores {
        store.insert_agents(&fleet).await.unwrap();
        // By name, and by heartbeat both ways, with and without a search: each plan a
        // small fleet takes (many matches are in the test above).
        let sorts = [
            (SortKey::Name, false),
            (SortKey::LastHeartbeatAt, false),
            (SortKey::LastHeartbeatAt, true),
        ];
        for ((key, descending), q) in sorts
            .into_iter()
            .flat_map(|sort| [(sort, None), (sort, Some("edge"))])
        {
            let sort = AgentSort { key, descending };
            let list = |health: Vec<Health>| {
                let filter = AgentFilter {
                    q: q.map(str::to_owned),
                    health,
                    ..AgentFilter::default()
                };
                async move { store.list_agents(&filter, sort, 100, None).await.unwrap() }
            };
            let mut listed = 0;
            for health in Health::ALL {
                let page = list(vec![health]).await;
                for agent in &page.agents {
                    assert_eq!(agent.health, health, "{} by {sort}", agent.name);
                }
                assert_eq!(page.total, page.agents.len() as u64, "{health:?} by {sort}");
                listed += page.agents.len();
            }
            assert_eq!(listed, fleet.len(), "every agent has one health, by {sort}");

            // Two healths at opposite ends of the heartbeat order: the range spans both.
            // An agent healthy at the end of the call was at its start; one past its
            // deadline at the start stays past it.
            let healthy_at = |a: &NewAgent, at: i64| {
                a.last_heartbeat_at
                    .is_none_or(|hb| hb + a.heartbeat_interval_s * 1500 >= at)
            };
            let start = now_ms();
            let ends = list(vec![Health::Never, Health::Healthy]).await;
            let end = now_ms();
            let listed: Vec<&str> = ends.agents.iter().map(|a| a.name.as_str()).collect();
            for agent in &fleet {
                let name = agent.name.as_str();
                if healthy_at(agent, end) {
                    assert!(
                        listed.contains(&name),
                        "{name}, never or healthy, by {sort}"
                    );
                } else if !healthy_at(agent, start) {
                    assert!(!listed.contains(&name), "{name}, neither, by {sort}");
                }
            }
        }
    }
}
