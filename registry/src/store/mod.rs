//! Every SQL statement of the registry. The store owns transactions: a state change, its
//! audit entry and its lifecycle log line commit together or not at all.
//!
//! SQLite in WAL mode with two pools: many readers, and one writer connection so that
//! writes queue in the process instead of failing with `SQLITE_BUSY`.

mod agents;
mod audit;
mod installations;
mod keys;
mod logs;
mod tickets;

pub use agents::{AgentFilter, AgentSort, LifecycleCommand, LifecycleOutcome, NewAgent, SortKey};
pub use audit::AuditFilter;
pub use installations::LeaseOutcome;
pub use keys::{ApiKeyRecord, Caller};
pub use logs::LogFilter;

use crate::error::AppResult;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The registry's database.
#[derive(Clone)]
pub struct Store {
    read: SqlitePool,
    write: SqlitePool,
    leases: tokio::sync::mpsc::Sender<installations::LeaseJob>,
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> AppResult<Store> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
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
        let leases = installations::spawn_lease_writer(write.clone());
        Ok(Store {
            read,
            write,
            leases,
        })
    }
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

    #[test]
    fn secrets_are_random_and_hash_deterministically() {
        let a = new_secret("sk_");
        assert!(a.starts_with("sk_") && a.len() == 51);
        assert_ne!(a, new_secret("sk_"));
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), a);
    }
}
