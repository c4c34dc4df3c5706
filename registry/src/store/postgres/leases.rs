//! Lease batches on PostgreSQL: one transaction per batch, locking what it decides on.

use super::credentials::INSTALL_TOKENS;
use super::installations::command_owed;
use crate::clock::now_ms;
use crate::error::AppResult;
use crate::store::installations::{LeaseOutcome, LeaseRow};
use crate::store::lease_plan::LeasePlan;
use crate::store::leases::{answer, LeaseJob, LEASE_COLUMNS, MAX_LEASE_BATCH};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Starts this process's lease writer; it ends when every sender is gone.
///
/// Decision: one batch in flight per process. While a batch commits, the leases that
/// arrive wait and make the next batch, so a busier registry writes bigger batches, and
/// PostgreSQL's CPU per lease (statements, round trips and a commit per batch) falls as
/// they grow. With 32 clients and four batches in flight, a batch held 4.6 leases
/// (`pg_stat_statements`). `fleet-bench leases --registries` at 100,000 agents, 32 clients,
/// three rounds each: one writer 6,823–6,880/s, two 5,314–6,599, three 4,995–5,118, four
/// 4,614–5,540, eight 3,715–4,204; with 64 clients one writer 7,506–8,483/s, two
/// 6,804–8,170, three 7,254–7,668. Several processes still write side by side; a
/// database server with more cores than this 2-core benchmark machine may want more.
///
/// Unlike SQLite's writer there is no write priority here: SQLite has one turn to write,
/// which lifecycle writes must take before lease batches; PostgreSQL gives
/// them connections of their own, and row locks order the two where they meet.
pub(super) fn spawn_lease_writer(pool: PgPool) -> mpsc::Sender<LeaseJob> {
    let (sender, mut queue) = mpsc::channel::<LeaseJob>(4 * MAX_LEASE_BATCH);
    tokio::spawn(async move {
        let writer = WriterConnection {
            pool,
            held: std::sync::Mutex::new(None),
        };
        let mut batch = Vec::with_capacity(MAX_LEASE_BATCH);
        while queue.recv_many(&mut batch, MAX_LEASE_BATCH).await > 0 {
            let committed = super::retry(|| writer.commit(&batch)).await;
            answer(&mut batch, committed);
        }
    });
    sender
}

/// Longest the writer keeps a connection unused before it hands it back to the pool.
const IDLE_HOLD: Duration = Duration::from_secs(1);

/// The lease writer's connection, kept from one batch to the next.
///
/// Decision: kept rather than taken from the pool for each batch, because the pool pings
/// a connection before it hands it out: one more round trip per batch, in a batch of
/// four. A batch begins with `BEGIN` on the kept connection, and if that fails (the
/// server closed it, or went away) on a fresh one from the pool, which the pool has
/// pinged: nothing of the batch was sent yet. A connection unused for [`IDLE_HOLD`]
/// goes back to the pool; one whose batch failed is closed, which rolls back whatever
/// the batch had done.
///
/// With one statement to lock and read and one to write, a batch is four round trips, where
/// it was seven (a ping, `BEGIN`, two locking reads, two writes, `COMMIT`).
/// `fleet-bench leases --registries` at 100,000 agents, nine runs each, medians: 5,862 →
/// 6,771/s with 32 clients, 6,488 → 7,463/s with 64; registry CPU per lease 10–15 % less.
struct WriterConnection {
    pool: PgPool,
    held: std::sync::Mutex<Option<(PoolConnection<Postgres>, Instant)>>,
}

impl WriterConnection {
    /// Commits a batch in a transaction of its own on the kept connection, or on one from
    /// the pool.
    async fn commit(&self, batch: &[LeaseJob]) -> AppResult<Vec<AppResult<LeaseOutcome>>> {
        let mut connection = self.begun().await?;
        let committed = commit_leases(&mut connection, batch).await;
        if committed.is_ok() {
            *self.held.lock().expect("never poisoned") = Some((connection, Instant::now()));
        } else {
            connection.close_on_drop();
        }
        committed
    }

    /// A connection in a transaction just begun.
    async fn begun(&self) -> AppResult<PoolConnection<Postgres>> {
        let kept = self.held.lock().expect("never poisoned").take();
        if let Some((mut kept, _)) = kept.filter(|(_, used)| used.elapsed() <= IDLE_HOLD) {
            if sqlx::query("BEGIN").execute(&mut *kept).await.is_ok() {
                return Ok(kept);
            }
            kept.close_on_drop();
        }
        let mut fresh = self.pool.acquire().await?;
        sqlx::query("BEGIN").execute(&mut *fresh).await?;
        Ok(fresh)
    }
}

/// Applies a batch of leases in the transaction `connection` has begun, and commits it:
/// the same plan as on SQLite ([`LeasePlan`]), decided on rows this transaction has
/// locked. Three round trips: lock and read, write, commit.
///
/// Other processes lease the same installations at the same time, so the rows the plan
/// decides on are locked (`FOR UPDATE`) before they are read: a concurrent batch waits,
/// then reads what this one committed, and a command is handed over for the first time
/// (`first_delivery`, `command_delivered_at`) once, whichever process serves the lease.
///
/// Lock order, as everywhere on this backend: agents, then installations, each in key
/// order. `apply_lifecycle` locks an agent and then updates its installations, and this
/// batch updates agents after installations, so the batch locks its agents first, found
/// through the installations (an installation's agent never changes). One statement locks
/// both: the agents in an init plan that gates the installations' scan, so they are
/// locked before it starts. Both parts read one snapshot, so an installation bootstrapped
/// meanwhile is in neither, and every installation read has its agent locked.
async fn commit_leases(
    connection: &mut PgConnection,
    batch: &[LeaseJob],
) -> AppResult<Vec<AppResult<LeaseOutcome>>> {
    let ids: Vec<&str> = batch.iter().map(|j| j.installation_id.as_str()).collect();
    let found: Vec<LeaseRow> = sqlx::query_as(&format!(
        "WITH agents_locked AS (\
           SELECT a.sekuire_id FROM agents a WHERE a.sekuire_id IN \
           (SELECT i.sekuire_id FROM installations i WHERE i.installation_id = ANY($1)) \
           ORDER BY a.sekuire_id FOR UPDATE OF a) \
         SELECT {LEASE_COLUMNS} FROM installations WHERE installation_id = ANY($1) \
         AND (SELECT count(*) FROM agents_locked) >= 0 \
         ORDER BY installation_id FOR UPDATE"
    ))
    .bind(&ids)
    .fetch_all(&mut *connection)
    .await?;
    let now = now_ms();
    let (plan, outcomes) = LeasePlan::decide(batch, found, now);
    write(plan, connection, now).await?;
    sqlx::query("COMMIT").execute(&mut *connection).await?;
    Ok(outcomes)
}

/// Writes a lease plan: one statement for every installation's lease and agent's
/// heartbeat, over arrays, then the rare token refreshes and cleared commands.
async fn write(plan: LeasePlan, tx: &mut PgConnection, now: i64) -> AppResult<()> {
    if plan.installations.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(plan.installations.len());
    let mut statuses = Vec::with_capacity(ids.capacity());
    let mut intervals = Vec::with_capacity(ids.capacity());
    let mut expiries = Vec::with_capacity(ids.capacity());
    let mut used = Vec::with_capacity(ids.capacity());
    for (id, lease) in plan.installations {
        ids.push(id);
        statuses.push(lease.status);
        intervals.push(lease.interval);
        expiries.push(lease.lease_expires_at);
        used.push(lease.token_used);
    }
    let (agents, agent_intervals): (Vec<String>, Vec<i64>) = plan.agents.into_iter().unzip();
    sqlx::query(
        "WITH leased AS (\
           UPDATE installations SET status = COALESCE(l.status, installations.status), \
           heartbeat_interval_s = l.interval, last_lease_at = $1, lease_expires_at = l.expires, \
           command_delivered_at = CASE WHEN installations.last_command IS NULL THEN NULL \
                                       ELSE COALESCE(installations.command_delivered_at, $1) END, \
           token_used = installations.token_used OR l.used \
           FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::boolean[]) \
                AS l (id, status, interval, expires, used) \
           WHERE installations.installation_id = l.id) \
         UPDATE agents SET last_heartbeat_at = $1, heartbeat_interval_s = h.interval \
         FROM unnest($7::text[], $8::bigint[]) AS h (id, interval) \
         WHERE agents.sekuire_id = h.id",
    )
    .bind(now)
    .bind(ids)
    .bind(statuses)
    .bind(intervals)
    .bind(expiries)
    .bind(used)
    .bind(agents)
    .bind(agent_intervals)
    .execute(&mut *tx)
    .await?;
    if !plan.tokens.is_empty() {
        let mut ids = Vec::with_capacity(plan.tokens.len());
        let mut hashes = Vec::with_capacity(ids.capacity());
        let mut expiries = Vec::with_capacity(ids.capacity());
        let mut rotate = Vec::with_capacity(ids.capacity());
        for (id, token) in plan.tokens {
            ids.push(id);
            hashes.push(token.hash);
            expiries.push(token.expires_at);
            rotate.push(token.rotate);
        }
        sqlx::query(INSTALL_TOKENS)
            .bind(ids)
            .bind(hashes)
            .bind(expiries)
            .bind(rotate)
            .execute(&mut *tx)
            .await?;
    }
    if !plan.delivered_to.is_empty() {
        // An agent's pending command clears once every live installation has had it: this
        // statement reads what the lease statement wrote, so it runs after it. The agents
        // are locked, so no lifecycle change or other batch runs between.
        let agents: Vec<String> = plan.delivered_to.into_iter().collect();
        sqlx::query(&format!(
            "UPDATE agents SET pending_command = NULL WHERE sekuire_id = ANY($1) AND NOT {}",
            command_owed(now, "")
        ))
        .bind(agents)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
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
            let (install_token, _) = store
                .create_install_token("default", sekuire_id, None, "test")
                .await
                .unwrap();
            let request = BootstrapRequest {
                install_token,
                upstream_url: None,
                capabilities: Vec::new(),
                heartbeat_interval_seconds: None,
            };
            let (boot, _) = store.bootstrap(&request).await.unwrap();
            out.push((boot.installation_id, boot.runtime_token));
        }
        out
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
}
