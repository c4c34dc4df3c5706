use crate::clock::now_ms;
use crate::store::{Database, LifecycleCommand, NewAgent, Store};
use fleet_protocol::{BootstrapRequest, LifecycleAction, RuntimeStatus};
use sqlx::Connection;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A fresh database on the server `SEKUIRE_TEST_POSTGRES` names.
pub(in crate::store::postgres) struct TestDatabase {
    server: String,
    name: String,
}

impl TestDatabase {
    /// Creates one, or answers `None` (the test is skipped) when no server is named.
    pub(in crate::store::postgres) async fn create() -> Option<TestDatabase> {
        let Ok(server) = std::env::var("SEKUIRE_TEST_POSTGRES") else {
            eprintln!("skipped: set SEKUIRE_TEST_POSTGRES to a PostgreSQL server URL");
            return None;
        };
        let name = format!("registry_test_{}", &crate::store::new_secret("")[..16]);
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        Some(TestDatabase { server, name })
    }

    /// A store on it: each one stands for a registry process.
    pub(in crate::store::postgres) async fn open(&self) -> Store {
        let mut url = url::Url::parse(&self.server).unwrap();
        url.set_path(&self.name);
        Store::open(url.as_str().parse::<Database>().unwrap())
            .await
            .unwrap()
    }

    /// Drops it, closing what is still connected.
    pub(in crate::store::postgres) async fn drop(self) {
        let mut admin = sqlx::PgConnection::connect(&self.server).await.unwrap();
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

/// An active agent with `installations` installations; answers their ids and tokens.
pub(in crate::store) async fn agent_with_installations(
    store: &Store,
    sekuire_id: &str,
    installations: usize,
) -> Vec<(String, String)> {
    store
        .insert_agents(&[NewAgent::active(sekuire_id, "racer", now_ms())])
        .await
        .unwrap();
    let mut out = Vec::new();
    for _ in 0..installations {
        let request = bootstrap_request(store, sekuire_id).await;
        let (boot, _) = store.bootstrap(&request).await.unwrap();
        out.push((boot.installation_id, boot.runtime_token));
    }
    out
}

/// A bootstrap of `sekuire_id` with a fresh install token.
pub(in crate::store::postgres) async fn bootstrap_request(
    store: &Store,
    sekuire_id: &str,
) -> BootstrapRequest {
    let (install_token, _) = store
        .create_install_token("default", sekuire_id, None, "test")
        .await
        .unwrap();
    BootstrapRequest {
        install_token,
        upstream_url: None,
        capabilities: Vec::new(),
        heartbeat_interval_seconds: None,
    }
}

/// Two stores on one database stand for two registry processes. Installations lease
/// through both at once while an operator pauses, resumes and pauses their agent:
/// each command is handed over for the first time exactly once per installation, and
/// every lease that starts after a command committed carries it.
///
/// The operator waits on the leases, not on a clock: the next command commits only
/// once every installation has had a lease begun after the last one, and at least
/// `RACE` leases in all, so a loaded machine slows the test down but cannot fail it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_command_is_first_delivered_once_across_processes() {
    const RACE: usize = 30;
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let stores = [database.open().await, database.open().await];
    let installations = agent_with_installations(&stores[0], "agent-race", 3).await;
    // Commands committed so far; leases record how many had committed when they began.
    let commands = [
        LifecycleAction::Pause,
        LifecycleAction::Resume,
        LifecycleAction::Pause,
    ];
    let committed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    // Per installation: the most commands committed before one of its answered leases began.
    let caught_up: Arc<[AtomicUsize; 3]> = Arc::default();
    let mut leasers = Vec::new();
    for (n, (id, token)) in installations.iter().cloned().enumerate() {
        for k in 0..4 {
            let store = stores[(n + k) % 2].clone();
            let (id, token) = (id.clone(), token.clone());
            let (committed, stop) = (Arc::clone(&committed), Arc::clone(&stop));
            let (answered, caught_up) = (Arc::clone(&answered), Arc::clone(&caught_up));
            leasers.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let before = committed.load(Ordering::SeqCst);
                    let outcome = store.lease(&id, &token, None, None).await.unwrap();
                    let after = committed.load(Ordering::SeqCst);
                    let done = answered.fetch_add(1, Ordering::SeqCst);
                    caught_up[n].fetch_max(before, Ordering::SeqCst);
                    let command = outcome.pending_command;
                    seen.push((n, (before, after, done), command, outcome.first_delivery));
                }
                seen
            }));
        }
    }
    let raced = |commands: usize| {
        let (answered, caught_up) = (Arc::clone(&answered), Arc::clone(&caught_up));
        let from = answered.load(Ordering::SeqCst);
        async move {
            while answered.load(Ordering::SeqCst) < from + RACE
                || caught_up
                    .iter()
                    .any(|c| c.load(Ordering::SeqCst) < commands)
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let within = Duration::from_secs(60);
    for (i, action) in commands.iter().enumerate() {
        tokio::time::timeout(within, raced(i))
            .await
            .expect("the installations lease");
        let command = LifecycleCommand {
            sekuire_id: "agent-race",
            action: *action,
            reason: None,
            actor: "test",
            expected_revision: None,
            request_id: "req",
            at: now_ms(),
        };
        stores[i % 2].apply_lifecycle(&command).await.unwrap();
        committed.store(i + 1, Ordering::SeqCst);
    }
    tokio::time::timeout(within, raced(commands.len()))
        .await
        .expect("the installations lease after the last command");
    stop.store(true, Ordering::SeqCst);
    let mut seen = Vec::new();
    for leaser in leasers {
        seen.extend(leaser.await.unwrap());
    }
    // In the order the leases were answered: every installation had each command
    // before the next one committed.
    seen.sort_by_key(|(_, (_, _, done), ..)| *done);
    for n in 0..installations.len() {
        let firsts: Vec<_> = seen
            .iter()
            .filter(|(i, _, _, first)| *i == n && *first)
            .map(|(_, _, command, _)| *command)
            .collect();
        let expected: Vec<_> = commands.iter().copied().map(Some).collect();
        assert_eq!(
            firsts, expected,
            "installation {n}: each command first once"
        );
    }
    // A lease carries the last command committed before it began, or one committed
    // while it ran (the counter moves only once `apply_lifecycle` has returned).
    for (n, (before, after, _), command, _) in &seen {
        if *before > 0 {
            let current = &commands[before - 1..=(*after).min(commands.len() - 1)];
            let command = command.expect("a command once one committed");
            assert!(current.contains(&command), "installation {n}: {command:?}");
        }
    }
    let last = seen
        .iter()
        .filter(|(_, (before, ..), ..)| *before == commands.len());
    assert!(
        last.clone().count() > 0 && last.clone().all(|s| s.2 == Some(LifecycleAction::Pause)),
        "the final pause is on every lease after it"
    );
    assert!(seen.len() >= 4 * RACE, "the leases raced: {}", seen.len());
    let agent = stores[1].agent("agent-race").await.unwrap();
    assert_eq!(agent.runtime_status, RuntimeStatus::Paused);
    assert_eq!(agent.pending_command, None, "every installation has had it");
    database.drop().await;
}

/// The writer keeps its connection between batches. When the server has ended it
/// meanwhile (a restart, an administrator), the next batch begins on a fresh one, and
/// its leases go through.
#[tokio::test]
async fn a_lease_goes_through_after_the_server_ended_the_writers_connection() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = database.open().await;
    let installations = agent_with_installations(&store, "agent-ended", 1).await;
    let (id, token) = &installations[0];
    store.lease(id, token, None, None).await.unwrap();
    let pool = store.postgres_pool().unwrap();
    let ended: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(ended >= 1, "the writer's connection was open");
    let outcome = store.lease(id, token, Some("busy"), None).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    database.drop().await;
}

/// A lease near its token's expiry rotates the token in the batch's write: the new
/// token and the old one both lease, and a late lease with the old one keeps both.
#[tokio::test]
async fn a_lease_near_expiry_rotates_the_token() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = database.open().await;
    let installations = agent_with_installations(&store, "agent-rotate", 1).await;
    let (id, old) = &installations[0];
    let pool = store.postgres_pool().unwrap();
    sqlx::query("UPDATE installations SET token_expires_at = $1")
        .bind(now_ms() + 60_000)
        .execute(pool)
        .await
        .unwrap();
    let lease = store.lease(id, old, Some("busy"), Some(30)).await.unwrap();
    let new = lease.refreshed_token.expect("a new token near expiry");
    let second = store.lease(id, &new, None, None).await.unwrap();
    assert_eq!(
        second.refreshed_token, None,
        "the new token is far from expiry"
    );
    let late = store.lease(id, old, None, None).await.unwrap();
    assert_eq!(
        late.refreshed_token, None,
        "a late request drops neither token"
    );
    store.lease(id, &new, None, None).await.unwrap();
    let (status, interval, used): (String, i64, bool) =
        sqlx::query_as("SELECT status, heartbeat_interval_s, token_used FROM installations")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), interval, used), ("busy", 30, true));
    database.drop().await;
}
