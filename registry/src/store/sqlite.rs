//! The SQLite backend: WAL mode with many reader connections and a write pool of one
//! connection, which is also the process's turn to write (the lease writer, on its own
//! connection, holds it for each batch), so that writes queue in the process instead of
//! failing with `SQLITE_BUSY`. Its statements live beside the shared row types in the
//! sibling modules (`agents.rs`, `leases.rs` …).

use super::leases;
use crate::error::{AppError, AppResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// A registry database in one SQLite file.
#[derive(Clone)]
pub(crate) struct SqliteStore {
    pub(super) read: SqlitePool,
    pub(super) write: SqlitePool,
    pub(super) leases: tokio::sync::mpsc::Sender<leases::LeaseJob>,
    pub(super) priority: Arc<WritePriority>,
}

/// Lets lifecycle commands overtake lease batches for the one turn to write: a lease
/// batch starts only when no lifecycle write is waiting. Heartbeats can wait a moment; a
/// terminate must not queue behind a flood of them.
#[derive(Default)]
pub(crate) struct WritePriority {
    urgent: AtomicUsize,
    clear: Notify,
}

/// A lifecycle write in progress; dropping it lets lease batches go again.
pub(crate) struct UrgentWrite<'a>(&'a WritePriority);

impl WritePriority {
    pub(crate) fn urgent(&self) -> UrgentWrite<'_> {
        self.urgent.fetch_add(1, Ordering::SeqCst);
        UrgentWrite(self)
    }

    /// Waits until no lifecycle write is waiting or running.
    pub(crate) async fn wait_for_clear(&self) {
        loop {
            let clear = self.clear.notified();
            tokio::pin!(clear);
            clear.as_mut().enable();
            if self.urgent.load(Ordering::SeqCst) == 0 {
                return;
            }
            clear.await;
        }
    }
}

impl Drop for UrgentWrite<'_> {
    fn drop(&mut self) {
        if self.0.urgent.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.clear.notify_waiters();
        }
    }
}

/// Starts a write transaction with `BEGIN IMMEDIATE`, which takes SQLite's write lock at
/// once (waiting up to the busy timeout while another process holds it). A deferred
/// `BEGIN` would read first and could then find its snapshot stale when another process
/// (`keys revoke` against a live registry, say) committed in between, and SQLite fails
/// that with `SQLITE_BUSY` at once instead of waiting.
pub(crate) async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub(super) async fn open(path: &Path) -> AppResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged, so an acknowledged
            // terminate survives a power loss or an OS crash, not only a process kill.
            // Leases keep that promise another way: their writer's commits do not wait,
            // and their answers wait for a sync of the WAL (`leases.rs`).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let options = CONNECTION_PRAGMAS
            .iter()
            .fold(options, |options, (pragma, value)| {
                options.pragma(*pragma, *value)
            });
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            // A local file has no connection to lose: a ping before each lease batch was
            // one more round trip to SQLite's thread on the writer's critical path.
            .test_before_acquire(false)
            // No write checkpoints on its own; `spawn_checkpointer` does.
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        sqlx::migrate!("./migrations").run(&write).await?;
        spawn_checkpointer(
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?,
            write.clone(),
        );
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        let priority = Arc::new(WritePriority::default());
        let leases = leases::spawn_lease_writer(path, write.clone(), Arc::clone(&priority))
            .map_err(AppError::Internal)?;
        Ok(SqliteStore {
            read,
            write,
            leases,
            priority,
        })
    }
}

/// How long a connection waits for SQLite's write lock (another process's, or the
/// checkpointer's restart waiting for readers) before giving up.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection is set to, sqlx's and the lease writer's.
pub(super) const CONNECTION_PRAGMAS: [(&str, &str); 4] = [
    ("foreign_keys", "ON"),
    ("cache_size", "-65536"),
    ("temp_store", "memory"),
    ("mmap_size", MMAP_SIZE),
];

/// How much of the database file SQLite reads through a memory map: as much as SQLite
/// allows (`SQLITE_MAX_MMAP_SIZE`, just under 2 GiB): a 100k-agent registry (220 MB) whole,
/// and most of a million-agent one.
///
/// Decision: without it, a page missing from a connection's 64 MB cache was copied in from
/// the kernel's page cache with `pread`. At 100k agents the file is 220 MB, so most lease
/// batches' pages were misses, copied while every lease waited; mapped, a read is a
/// pointer into the kernel's page cache, shared by every connection. About 10 % more
/// leases/s and 10 % less registry CPU per lease (BENCHMARKS.md). Writes still go through
/// the WAL and its fsync; only reads are mapped. The price: an I/O error while reading a
/// mapped page stops the process (SIGBUS) instead of failing one request, which on a disk
/// that fails reads is where the registry would end up anyway.
const MMAP_SIZE: &str = "2147418112";

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// WAL length, in frames (a 4 KB page each), from which the log is started over: about
/// 128 MB. Each restart holds the writer for the frames the passive checkpoint missed, so
/// fewer of them cost leases less; at 1,000 frames (SQLite's own threshold) they cost
/// 10–15 % of `fleet-bench leases` at 512 clients.
const RESTART_FRAMES: i64 = 32_768;

/// Copies committed pages from the WAL into the database file, off the writer's thread,
/// and keeps the WAL from growing without bound.
///
/// Decision: SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL
/// pages, so every few lease batches one of them also wrote and synced the database file
/// while every write waited. A passive checkpoint on another connection does that work
/// beside the writer (it never blocks writers or readers). But the WAL starts over from its
/// beginning only when a write begins after a checkpoint has copied every frame, and under
/// a steady stream of leases the writer always appends more first: the WAL grew with
/// everything written (450 MB in 3 s of back-to-back batches), and every append to a
/// growing file made the kernel zero new blocks (18 % of the registry's CPU in
/// `fleet-bench leases`). So once the WAL is [`RESTART_FRAMES`] long, a `RESTART`
/// checkpoint on the writer's own connection copies the few frames the passive one missed,
/// between two batches, and the next write starts the WAL over, reusing its blocks. The
/// task lives as long as the runtime.
fn spawn_checkpointer(checkpointer: SqlitePool, write: SqlitePool) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(err) = checkpoint(&checkpointer, &write).await {
                tracing::warn!(error = %err, "WAL checkpoint failed; the next one retries");
            }
        }
    });
}

/// One round: a passive checkpoint, then a restart when the WAL holds [`RESTART_FRAMES`]
/// frames or more.
async fn checkpoint(checkpointer: &SqlitePool, write: &SqlitePool) -> Result<(), sqlx::Error> {
    let (_busy, log, _copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(checkpointer)
        .await?;
    if log >= RESTART_FRAMES {
        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .execute(write)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commits_wait_for_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("r.db")).await.unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.write)
            .await
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
    }

    #[tokio::test]
    async fn every_connection_reads_through_the_memory_map() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("r.db")).await.unwrap();
        for pool in [&store.write, &store.read] {
            let mapped: i64 = sqlx::query_scalar("PRAGMA mmap_size")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(mapped.to_string(), MMAP_SIZE);
        }
    }

    /// A store in a fresh folder, with an empty table `filler` of one page per row.
    async fn store_with_filler() -> (SqliteStore, tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let store = SqliteStore::open(&path).await.unwrap();
        sqlx::query("CREATE TABLE filler (page BLOB)")
            .execute(&store.write)
            .await
            .unwrap();
        (store, dir, path)
    }

    #[tokio::test]
    async fn commits_reach_the_database_file_without_the_writer_checkpointing() {
        let (store, _dir, path) = store_with_filler().await;
        let before = std::fs::metadata(&path).unwrap().len();
        // 100 pages: a tenth of what would trigger SQLite's own automatic checkpoint.
        for _ in 0..100 {
            sqlx::query("INSERT INTO filler VALUES (zeroblob(4000))")
                .execute(&store.write)
                .await
                .unwrap();
        }
        let grown = async {
            while std::fs::metadata(&path).unwrap().len() < before + 400_000 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), grown)
            .await
            .expect("the checkpointer copies the WAL into the database file");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_short_under_writes_that_never_pause() {
        let (store, dir, _path) = store_with_filler().await;
        // Batches of 50 pages, back to back, as leases come under load, until three times
        // the restart length has gone through the WAL.
        let mut pages = 0;
        while pages < 3 * RESTART_FRAMES {
            let mut tx = begin_write(&store.write).await.unwrap();
            sqlx::query(
                "INSERT INTO filler SELECT zeroblob(4000) FROM \
                 (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) \
                  SELECT i FROM n)",
            )
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
            pages += 50;
        }
        let wal = std::fs::metadata(dir.path().join("r.db-wal"))
            .unwrap()
            .len() as i64;
        let bound = 2 * RESTART_FRAMES * (4096 + 24);
        assert!(
            wal < bound,
            "the WAL is {wal} bytes after {pages} pages: it is not started over"
        );
    }

    #[tokio::test]
    async fn lease_batches_wait_while_a_lifecycle_write_is_pending() {
        let priority = Arc::new(WritePriority::default());
        let urgent = priority.urgent();
        let waiting = tokio::spawn({
            let priority = Arc::clone(&priority);
            async move { priority.wait_for_clear().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "the batch waits for the lifecycle write"
        );
        drop(urgent);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the batch goes once the lifecycle write is done")
            .unwrap();
        priority.wait_for_clear().await;
    }
}
