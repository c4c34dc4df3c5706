//! Every SQL statement of the registry. The store owns transactions: a state change, its
//! audit entry and its lifecycle log line commit together or not at all.
//!
//! SQLite in WAL mode with two pools: many readers, and one writer connection so that
//! writes queue in the process instead of failing with `SQLITE_BUSY`.

mod agents;
mod audit;
mod credentials;
mod fleet_list;
mod installations;
mod keys;
mod leases;
mod logs;
mod publish;
mod tickets;

pub use agents::{LifecycleCommand, LifecycleOutcome, NewAgent};
pub use audit::AuditFilter;
pub use credentials::Revoke;
pub use fleet_list::AgentFilter;
pub use installations::LeaseOutcome;
pub use keys::{ApiKeyRecord, Caller, DEFAULT_WORKSPACE};
pub use logs::LogFilter;
pub use publish::{check_push, sekuire_id_of};

use crate::error::AppResult;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The registry's database.
#[derive(Clone)]
pub struct Store {
    read: SqlitePool,
    write: SqlitePool,
    leases: tokio::sync::mpsc::Sender<leases::LeaseJob>,
    priority: Arc<WritePriority>,
}

/// Lets lifecycle commands overtake lease batches for the one writer connection: a lease
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

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> AppResult<Store> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged, so an acknowledged
            // terminate survives a power loss or an OS crash, not only a process kill.
            // What it costs leases is in BENCHMARKS.md.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        let priority = Arc::new(WritePriority::default());
        let leases = leases::spawn_lease_writer(write.clone(), Arc::clone(&priority));
        Ok(Store {
            read,
            write,
            leases,
            priority,
        })
    }
}

/// True for a workspace or installation id: 1 to 64 letters, digits, `-` or `_`.
pub fn is_plain_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fresh random secret with a readable prefix, e.g. `sk_3f9c…`.
pub fn new_secret(prefix: &str) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// SHA-256 of a secret, as stored. Secrets are 192-bit random, so a fast hash is enough:
/// there is nothing to brute-force that a slow hash would protect.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
    }

    #[tokio::test]
    async fn commits_wait_for_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r.db")).await.unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.write)
            .await
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
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

    #[test]
    fn secrets_are_random_and_hash_deterministically() {
        let a = new_secret("sk_");
        assert!(a.starts_with("sk_") && a.len() == 51);
        assert_ne!(a, new_secret("sk_"));
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), a);
    }
}
