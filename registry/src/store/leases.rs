//! Leases on SQLite: one writer thread commits each batch of waiting leases in a single
//! transaction, so a fleet heartbeating thousands of times a second costs a commit per
//! batch, not per lease, and answers them once the batch is on disk. Each lease is a
//! heartbeat and the channel that hands over lifecycle commands.

use super::credentials::INSTALL_TOKENS;
use super::installations::{live_installation, LeaseOutcome, LeaseRow};
use super::lease_plan::LeasePlan;
use super::sqlite::{WritePriority, BUSY_TIMEOUT, CONNECTION_PRAGMAS};
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use rusqlite::{params, Connection, TransactionBehavior};
use sqlx::SqlitePool;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Longest a lease batch waits for lifecycle writes to go first.
const MAX_PRIORITY_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Most leases committed in one transaction.
pub(super) const MAX_LEASE_BATCH: usize = 512;

/// What a lease decides from: the columns of [`LeaseRow`].
pub(super) const LEASE_COLUMNS: &str = "installation_id, runtime_token_hash, sekuire_id, \
    heartbeat_interval_s, last_command, command_delivered_at, token_expires_at, token_used, \
    previous_token_hash, previous_token_expires_at, revoked_at, shutdown_timeout_ms";

/// A lease waiting for the writer.
pub(super) struct LeaseJob {
    pub(super) installation_id: String,
    pub(super) token_hash: String,
    pub(super) status: Option<String>,
    pub(super) requested_interval: Option<i64>,
    pub(super) reply: oneshot::Sender<AppResult<LeaseOutcome>>,
}

/// Starts the thread that owns lease writes; it ends when every sender is gone.
///
/// The writer thread commits each batch on a connection of its own, hands back the turn to
/// write, and makes the batch durable (it syncs the WAL) before its leases are answered.
/// Leases that arrive during a sync wait for the next batch, so one sync covers them all:
/// a group commit.
///
/// Decision: the writer syncs on its own thread rather than handing each committed batch
/// to a syncer thread. With a syncer, the next batch was written during a sync, but each
/// batch crossed one more thread, and on two shared cores each of a lease's threads waited
/// for a core about as long as it ran: the writer syncing itself led 13 rounds of 15 in
/// `fleet-bench leases` at 32, 64 and 128 clients, by up to 29 % (BENCHMARKS.md).
///
/// Decision: the writer holds its own SQLite connection (rusqlite, the same bundled SQLite
/// as sqlx's) rather than one of sqlx's, because each statement through sqlx is a hand-off
/// to that connection's worker thread and back, about six per batch, and under load each
/// hand-off waited milliseconds for a core: they, with the commit's fsync, were most of a
/// batch's time (BENCHMARKS.md). Here a batch's statements run on the writer's thread.
/// The write pool's one connection stays the process's turn to write: the writer holds it
/// for each batch, so a lifecycle write and a lease batch queue in the process, never in
/// SQLite's busy handler, and lifecycle writes still go first. One hand-off per batch
/// remains: sqlx pings the connection when the turn is handed back.
pub(super) fn spawn_lease_writer(
    path: &Path,
    write: SqlitePool,
    priority: Arc<WritePriority>,
) -> anyhow::Result<mpsc::Sender<LeaseJob>> {
    let db = open_lease_connection(path)?;
    let wal = wal_of(&db)?;
    start_lease_writer(db, write, priority, move || {
        std::fs::File::open(&wal)?.sync_data()
    })
}

/// Starts the writer on `db`, whose syncs run `make_durable`.
///
/// A failed sync fails its batch and every later one, for good: after a failed `fsync`,
/// Linux may mark the unwritten pages clean, so a later sync could succeed without them,
/// and recovery after a crash stops at the first lost WAL frame, taking the later batches
/// with it. Until the registry restarts, leases fail rather than be answered as durable
/// when they may not be.
fn start_lease_writer(
    mut db: Connection,
    write: SqlitePool,
    priority: Arc<WritePriority>,
    mut make_durable: impl FnMut() -> std::io::Result<()> + Send + 'static,
) -> anyhow::Result<mpsc::Sender<LeaseJob>> {
    let (sender, mut queue) = mpsc::channel::<LeaseJob>(4 * MAX_LEASE_BATCH);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("lease-writer".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut batch = Vec::with_capacity(MAX_LEASE_BATCH);
                let mut sync_failed: Option<String> = None;
                while queue.recv_many(&mut batch, MAX_LEASE_BATCH).await > 0 {
                    // Bounded, so a steady stream of lifecycle writes cannot starve heartbeats.
                    let _ =
                        tokio::time::timeout(MAX_PRIORITY_WAIT, priority.wait_for_clear()).await;
                    // The turn to write is handed back before the sync, so a lifecycle
                    // write can commit while it runs.
                    let committed = match write.acquire().await {
                        Ok(_turn) => commit_leases(&mut db, &batch),
                        Err(err) => Err(err.into()),
                    };
                    let durable = committed.and_then(|outcomes| {
                        if sync_failed.is_none() {
                            sync_failed = make_durable()
                                .err()
                                .map(|err| format!("the WAL could not be synced: {err}"));
                        }
                        match &sync_failed {
                            None => Ok(outcomes),
                            Some(failed) => Err(anyhow::anyhow!("{failed}")),
                        }
                    });
                    answer(&mut batch, durable);
                }
            })
        })?;
    Ok(sender)
}

/// The lease writer's cache: 16 MB (SQLite reads a negative size as KiB), room for a full
/// batch's changed pages (about four per lease) beside every B-tree's inner pages, which
/// all of a lease's searches use; other pages are read through the memory map.
///
/// Decision: smaller than the other connections' 64 MB, because a commit can cost time in
/// proportion to the cache. When a batch splits a B-tree page, SQLite parks a page under
/// the number of the page that holds the file's lock bytes (at 1 GiB) while it orders the
/// new pages; in a file smaller than that, this is past the end, and the commit then walks
/// every slot of the cache's hash table to drop pages past the end. New heartbeats add
/// their entries at the end of two indexes, so most batches split a page. With 64 MB, that
/// walk was 5 % of the registry's time under `fleet-bench leases` (100k agents).
const LEASE_CACHE_SIZE: &str = "-16384";

/// Opens the lease writer's connection: the registry's settings, but a smaller cache
/// ([`LEASE_CACHE_SIZE`]) and commits that do not wait for the disk, since the writer
/// syncs each batch once its turn to write is handed back.
fn open_lease_connection(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.busy_timeout(BUSY_TIMEOUT)?;
    for (pragma, value) in CONNECTION_PRAGMAS {
        db.pragma_update(None, pragma, value)?;
    }
    db.pragma_update(None, "cache_size", LEASE_CACHE_SIZE)?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    db.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(db)
}

/// The WAL of the database `db` has open, which the writer syncs (and with it every commit
/// written to it so far): named from the file SQLite opened, symbolic links resolved, as
/// SQLite names it.
///
/// Safe however the WAL moves on: the file is opened afresh for each sync (a WAL deleted
/// and created again would leave an old handle syncing nothing), and the WAL is started
/// over only after a checkpoint has copied every frame into the database file and synced
/// it, which every connection that checkpoints does, none having `synchronous = OFF`.
fn wal_of(db: &Connection) -> anyhow::Result<std::path::PathBuf> {
    let database = db
        .path()
        .filter(|path| !path.is_empty())
        .ok_or_else(|| anyhow::anyhow!("the lease writer's database has no file"))?;
    Ok(format!("{database}-wal").into())
}

/// Sends each lease of a batch its answer, and empties the batch.
pub(super) fn answer<E: std::fmt::Display>(
    batch: &mut Vec<LeaseJob>,
    committed: Result<Vec<AppResult<LeaseOutcome>>, E>,
) {
    match committed {
        Ok(outcomes) => {
            for (job, outcome) in batch.drain(..).zip(outcomes) {
                // The client may have gone away; its lease still counts.
                let _ = job.reply.send(outcome);
            }
        }
        Err(err) => {
            tracing::error!(error = %err, leases = batch.len(), "lease batch failed");
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(AppError::Internal(anyhow::anyhow!(
                    "lease batch failed: {err}"
                ))));
            }
        }
    }
}

/// Applies a batch of leases in one transaction: one read of the installations, then the
/// plan decided in Rust from what it read ([`LeasePlan::write`]). A lease refused for its
/// token is that lease's answer; a database failure fails (and rolls back) the batch.
fn commit_leases(
    db: &mut Connection,
    batch: &[LeaseJob],
) -> anyhow::Result<Vec<AppResult<LeaseOutcome>>> {
    let now = now_ms();
    let ids: Vec<&str> = batch.iter().map(|j| j.installation_id.as_str()).collect();
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = tx
        .prepare_cached(&format!(
            "SELECT {LEASE_COLUMNS} FROM installations \
             WHERE installation_id IN (SELECT value FROM json_each(?))"
        ))?
        .query_map([serde_json::Value::from(ids).to_string()], lease_row)?
        .collect::<rusqlite::Result<Vec<LeaseRow>>>()?;
    let (plan, outcomes) = LeasePlan::decide(batch, found, now);
    plan.write(&tx, now)?;
    tx.commit()?;
    Ok(outcomes)
}

/// A row of [`LEASE_COLUMNS`], read by name (sqlx's `FromRow` reads it on PostgreSQL).
fn lease_row(row: &rusqlite::Row) -> rusqlite::Result<LeaseRow> {
    Ok(LeaseRow {
        installation_id: row.get("installation_id")?,
        runtime_token_hash: row.get("runtime_token_hash")?,
        sekuire_id: row.get("sekuire_id")?,
        heartbeat_interval_s: row.get("heartbeat_interval_s")?,
        last_command: row.get("last_command")?,
        command_delivered_at: row.get("command_delivered_at")?,
        token_expires_at: row.get("token_expires_at")?,
        token_used: row.get("token_used")?,
        previous_token_hash: row.get("previous_token_hash")?,
        previous_token_expires_at: row.get("previous_token_expires_at")?,
        revoked_at: row.get("revoked_at")?,
        shutdown_timeout_ms: row.get("shutdown_timeout_ms")?,
    })
}

impl LeasePlan {
    /// Writes the plan: a statement per installation and per agent, each by its primary
    /// key; token refreshes and cleared commands, which few batches hold, in one statement
    /// each over a `json_each` parameter.
    ///
    /// Decision: a statement per row rather than one `UPDATE … FROM json_each` per table.
    /// A statement that may change several rows inside a transaction makes SQLite copy
    /// every page it changes into a statement journal first, in memory, so that the
    /// statement alone can be undone: a profile of the writer showed that copy, its
    /// allocations and its release as a fifth of the writer's time, and the JSON built
    /// and parsed for it as more. A statement that changes one row by its key needs no
    /// such journal, and on the writer's own thread a statement costs no hand-off.
    fn write(self, tx: &rusqlite::Transaction, now: i64) -> rusqlite::Result<()> {
        let mut lease = tx.prepare_cached(
            "UPDATE installations SET status = COALESCE(?2, status), \
             heartbeat_interval_s = ?3, last_lease_at = ?1, lease_expires_at = ?4, \
             command_delivered_at = CASE WHEN last_command IS NULL THEN NULL \
                                         ELSE COALESCE(command_delivered_at, ?1) END, \
             token_used = MAX(token_used, ?5) \
             WHERE installation_id = ?6",
        )?;
        for (id, l) in &self.installations {
            lease.execute(params![
                now,
                l.status,
                l.interval,
                l.lease_expires_at,
                l.token_used,
                id
            ])?;
        }
        if !self.tokens.is_empty() {
            let tokens: Vec<serde_json::Value> = self
                .tokens
                .iter()
                .map(|(id, t)| serde_json::json!([id, t.hash, t.expires_at, t.rotate]))
                .collect();
            tx.prepare_cached(INSTALL_TOKENS)?
                .execute([serde_json::Value::from(tokens).to_string()])?;
        }
        if !self.delivered_to.is_empty() {
            // An agent's pending command clears once every live installation has had it.
            let agents: Vec<String> = self.delivered_to.into_iter().collect();
            tx.execute(
                &format!(
                    "UPDATE agents SET pending_command = NULL \
                     WHERE sekuire_id IN (SELECT value FROM json_each(?)) AND NOT EXISTS \
                     (SELECT 1 FROM installations i WHERE i.sekuire_id = agents.sekuire_id \
                      AND i.last_command IS NOT NULL AND i.command_delivered_at IS NULL AND {})",
                    live_installation("i", now)
                ),
                [serde_json::Value::from(agents).to_string()],
            )?;
        }
        // The interval in a statement of its own that changes a row only when the interval
        // changed: a statement that sets a column a trigger watches (the counts per
        // interval, migration 0013) takes a statement journal, whatever the trigger's WHEN
        // says, and the heartbeat's statement would pay for it on every lease.
        let mut heartbeat =
            tx.prepare_cached("UPDATE agents SET last_heartbeat_at = ?1 WHERE sekuire_id = ?2")?;
        let mut interval_change = tx.prepare_cached(
            "UPDATE agents SET heartbeat_interval_s = ?1 \
             WHERE sekuire_id = ?2 AND heartbeat_interval_s <> ?1",
        )?;
        for (id, interval) in &self.agents {
            heartbeat.execute(params![now, id])?;
            interval_change.execute(params![interval, id])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use std::time::Duration;

    /// A lease of an installation that does not exist, queued to `leases`.
    async fn queue_unknown_lease(
        leases: &mpsc::Sender<LeaseJob>,
    ) -> oneshot::Receiver<AppResult<LeaseOutcome>> {
        let (reply, answer) = oneshot::channel();
        let job = LeaseJob {
            installation_id: "inst_missing".into(),
            token_hash: "hash".into(),
            status: None,
            requested_interval: None,
            reply,
        };
        leases.send(job).await.unwrap();
        answer
    }

    /// A store in a fresh folder, and a second lease writer on it whose syncs run
    /// `make_durable`.
    async fn writer_with(
        make_durable: impl FnMut() -> std::io::Result<()> + Send + 'static,
    ) -> (mpsc::Sender<LeaseJob>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let db = open_lease_connection(&path).unwrap();
        let writer = start_lease_writer(db, store.write, store.priority, make_durable).unwrap();
        (writer, dir)
    }

    #[tokio::test]
    async fn a_batch_is_answered_only_once_the_wal_is_on_disk() {
        let (synced, on_disk) = std::sync::mpsc::channel::<()>();
        let (leases, _dir) = writer_with(move || {
            on_disk.recv().unwrap();
            Ok(())
        })
        .await;
        let mut answer = queue_unknown_lease(&leases).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            answer.try_recv().is_err(),
            "the lease is answered before its batch is on disk"
        );
        synced.send(()).unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(5), answer)
            .await
            .expect("the lease is answered once the sync is done")
            .unwrap();
        assert!(matches!(outcome, Err(AppError::Unauthorized(_))));
    }

    #[tokio::test]
    async fn a_failed_sync_fails_its_leases_and_every_later_one() {
        let mut syncs = 0;
        let (leases, _dir) = writer_with(move || {
            syncs += 1;
            match syncs {
                1 => Err(std::io::Error::other("disk gone")),
                _ => Ok(()),
            }
        })
        .await;
        for _ in 0..2 {
            let outcome = queue_unknown_lease(&leases).await.await.unwrap();
            assert!(
                matches!(&outcome, Err(AppError::Internal(err)) if err.to_string().contains("disk gone")),
                "{outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_writer_syncs_the_wal_sqlite_writes_behind_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.db");
        SqliteStore::open(&real).await.unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let db = open_lease_connection(&link).unwrap();
        assert_eq!(wal_of(&db).unwrap(), dir.path().join("real.db-wal"));
    }

    #[test]
    fn the_lease_connection_caches_less_and_syncs_only_when_the_writer_does() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_lease_connection(&dir.path().join("r.db")).unwrap();
        let setting = |pragma| {
            db.pragma_query_value(None, pragma, |row| row.get::<_, i64>(0))
                .unwrap()
        };
        assert_eq!(setting("foreign_keys"), 1);
        assert_eq!(setting("cache_size"), -16384, "16 MB");
        assert_eq!(setting("temp_store"), 2, "memory");
        assert_eq!(setting("mmap_size"), 2_147_418_112);
        assert_eq!(setting("synchronous"), 1, "NORMAL");
        assert_eq!(setting("wal_autocheckpoint"), 0);
    }
}
