//! Every SQL statement of the registry, behind one interface with two backends:
//!
//! - **SQLite** (`sqlite.rs` and the statements in the sibling modules): one file, zero
//!   set-up, the embedded default.
//! - **PostgreSQL** (`postgres/`): several registry processes on one database server.
//!
//! The store owns transactions on both: a state change, its audit entry and its lifecycle
//! log line commit together or not at all. Row types, the lease planner, cursors and
//! push checks are shared; each backend writes its own SQL, planned for its engine
//! (`postgres/mod.rs` lists what differs).

mod agents;
mod audit;
mod credentials;
mod fleet_list;
mod fleet_query;
mod fleet_search;
mod health_clock;
mod installations;
mod keys;
mod lease_plan;
mod leases;
#[cfg(test)]
mod list_pages;
mod list_plan;
mod logs;
pub mod migrate;
mod name_order;
mod postgres;
mod publish;
mod sqlite;
mod tickets;

pub use agents::{LifecycleCommand, LifecycleOutcome, NewAgent};
pub use audit::{AuditExport, AuditFilter};
pub use credentials::Revoke;
pub use fleet_query::AgentFilter;
pub use installations::LeaseOutcome;
pub use keys::{ApiKeyRecord, Caller, DEFAULT_WORKSPACE};
pub use logs::LogFilter;
pub use publish::{check_push, sekuire_id_of, CheckedPush, Reviewed};

use crate::error::AppResult;
use fleet_protocol::{
    Agent, AgentList, AgentSort, AuditEntry, AuditPage, BootstrapRequest, BootstrapResponse,
    FleetSummary, IncomingLogEvent, Installation, LogPage, PublishRequest, RefreshResponse,
    Reputation, Role, RuntimeStatus, VerificationStatus,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the registry keeps its data: `--db` as the command line gives it. A
/// `postgres://` or `postgresql://` URL is a PostgreSQL database; anything else is the
/// path of an SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::str::FromStr for Database {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Database, Self::Err> {
        Ok(
            if s.starts_with("postgres://") || s.starts_with("postgresql://") {
                Database::Postgres(s.to_owned())
            } else {
                Database::Sqlite(PathBuf::from(s))
            },
        )
    }
}

impl From<&Path> for Database {
    fn from(path: &Path) -> Database {
        Database::Sqlite(path.to_owned())
    }
}

impl From<&PathBuf> for Database {
    fn from(path: &PathBuf) -> Database {
        Database::Sqlite(path.clone())
    }
}

impl std::fmt::Display for Database {
    /// The file, or the server and database without the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => match url::Url::parse(url) {
                Ok(mut url) => {
                    let _ = url.set_password(None);
                    write!(f, "{url}")
                }
                Err(_) => f.write_str("postgres://…"),
            },
        }
    }
}

/// The registry's database.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    health: Arc<HealthCounts>,
}

/// How old the health counts of the fleet summary may be. Health moves with the time
/// (an agent turns stale 1.5 heartbeat intervals after its last heartbeat, so a minute or
/// more), and counting it reads every agent: at a million agents that takes most of a
/// second. So the summary shows counts this old, refreshed in the background; counts four
/// times as old (nobody asked for a while) are taken again before the answer.
pub const HEALTH_COUNTS_MAX_AGE: Duration = Duration::from_secs(5);

/// The last health counts and when they were taken; a refresh in progress.
#[derive(Default)]
struct HealthCounts {
    last: Mutex<Option<(Instant, Vec<u64>)>>,
    refreshing: AtomicBool,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// Opens the database (creating an SQLite file if needed) and brings its schema up to
    /// date.
    pub async fn open(database: impl Into<Database>) -> AppResult<Store> {
        let backend = match database.into() {
            Database::Sqlite(path) => Backend::Sqlite(sqlite::SqliteStore::open(&path).await?),
            Database::Postgres(url) => {
                Backend::Postgres(postgres::PostgresStore::open(&url).await?)
            }
        };
        Ok(Store {
            backend,
            health: Arc::default(),
        })
    }

    /// Counts by runtime state, health and verification, and a reputation histogram. All
    /// but health are kept by the database as agents change, so they are exact and cost
    /// one small read; health counts are about [`HEALTH_COUNTS_MAX_AGE`] old.
    pub async fn fleet_summary(&self) -> AppResult<FleetSummary> {
        let counts = self.fleet_counts().await?;
        let health = self.recent_health_counts().await?;
        Ok(fleet_query::summary_from(&counts, &health))
    }

    /// The health counts: the last ones taken, refreshed in the background once they are
    /// too old (so no request waits for a count, but one after a long quiet).
    async fn recent_health_counts(&self) -> AppResult<Vec<u64>> {
        let cached = self.health.last.lock().ok().and_then(|last| last.clone());
        let Some((taken, counts)) = cached.filter(|(taken, _)| {
            // Long unasked (nobody watching): counted now, not shown hours old.
            taken.elapsed() <= 4 * HEALTH_COUNTS_MAX_AGE
        }) else {
            let counts = self.health_counts().await?;
            self.keep_health_counts(counts.clone());
            return Ok(counts);
        };
        if taken.elapsed() > HEALTH_COUNTS_MAX_AGE {
            self.count_health_in_background();
        }
        Ok(counts)
    }

    /// Takes the health counts again in the background, unless that is under way. The
    /// registry also calls it as it starts, so the first summary does not wait for a count
    /// (1.7 s at a million agents).
    pub fn count_health_in_background(&self) {
        if self.health.refreshing.swap(true, Ordering::SeqCst) {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            match store.health_counts().await {
                Ok(counts) => store.keep_health_counts(counts),
                Err(err) => tracing::warn!(error = %err, "counting the fleet's health failed"),
            }
            store.health.refreshing.store(false, Ordering::SeqCst);
        });
    }

    fn keep_health_counts(&self, counts: Vec<u64>) {
        if let Ok(mut last) = self.health.last.lock() {
            *last = Some((Instant::now(), counts));
        }
    }

    /// The PostgreSQL connection pool, when the store is on PostgreSQL: live events travel
    /// between processes through it.
    pub fn postgres_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(db) => Some(&db.pool),
        }
    }
}

/// The store's interface: each method is written once per backend, with the same name and
/// signature, and called through this dispatch.
macro_rules! interface {
    ($( $(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$doc])*
                pub async fn $name(&self $(, $arg: $ty)*) -> AppResult<$ret> {
                    match &self.backend {
                        Backend::Sqlite(db) => db.$name($($arg),*).await,
                        Backend::Postgres(db) => db.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

interface! {
    /// One agent by Sekuire ID, as lists and events show it.
    fn agent(&self, sekuire_id: &str) -> Agent;
    /// One agent with its manifest and publisher key, for its own page.
    fn agent_detail(&self, sekuire_id: &str) -> Agent;
    /// Applies a lifecycle command: checks the revision and the state machine, then writes
    /// the new state, the audit entry, the lifecycle log line and the installations'
    /// pending command in one transaction. A same-state request changes nothing.
    fn apply_lifecycle(&self, command: &LifecycleCommand<'_>) -> LifecycleOutcome;
    /// Inserts agents in large batches: 100,000 take seconds.
    fn insert_agents(&self, agents: &[NewAgent]) -> ();
    /// Number of agents registered.
    fn agent_count(&self) -> i64;
    /// Ids of every agent, for the demo's simulated installations.
    fn agent_ids(&self) -> Vec<(String, RuntimeStatus)>;
    /// One page of the fleet, and the number of agents matching the filter.
    fn list_agents(&self, filter: &AgentFilter, sort: AgentSort, limit: u32, cursor: Option<&str>) -> AgentList;
    /// The kept counts per facet (`total`, `runtime:<state>`, …): one small read.
    fn fleet_counts(&self) -> Vec<(String, i64)>;
    /// Agents by health now, in `Health::ALL`'s order: a pass over every agent.
    fn health_counts(&self) -> Vec<u64>;
    /// A page of audit entries, newest first. The cursor is the id of the last entry seen.
    fn list_audit(&self, filter: &AuditFilter, limit: u32, cursor: Option<&str>) -> AuditPage;
    /// Fixes the rows of a CSV export of at most `limit` entries from `cursor`.
    fn plan_audit_export(&self, filter: &AuditFilter, limit: u32, cursor: Option<&str>) -> AuditExport;
    /// Revokes one installation in the caller's workspace; audited as `revoke`.
    fn revoke_installation(&self, revoke: &Revoke<'_>) -> (Installation, Option<AuditEntry>);
    /// A new runtime token for the bootstrap's refresh token.
    fn refresh_runtime_token(&self, installation_id: &str, refresh_token: &str) -> RefreshResponse;
    /// A one-use install token for `sekuire run`, and when it expires.
    fn create_install_token(&self, workspace_id: &str, sekuire_id: &str, expiry_minutes: Option<i64>, created_by: &str) -> (String, i64);
    /// Trades an install token for an installation and its runtime and refresh tokens.
    fn bootstrap(&self, request: &BootstrapRequest) -> (BootstrapResponse, String);
    /// Renews a lease, records the heartbeat and hands over the current command.
    fn lease(&self, installation_id: &str, runtime_token: &str, status: Option<&str>, requested_interval: Option<i64>) -> LeaseOutcome;
    /// Clears pending commands that only dead installations owed; the agents changed.
    fn clear_undeliverable_commands(&self) -> Vec<String>;
    /// An agent's installations.
    fn list_installations(&self, sekuire_id: &str) -> Vec<Installation>;
    /// Creates an API key; returns the key, shown once.
    fn create_key(&self, name: &str, role: Role, workspace_id: &str) -> String;
    /// Replaces a key by name; returns the new key.
    fn rotate_key(&self, name: &str, role: Role) -> String;
    /// Every key's name, role and dates; never the key.
    fn list_keys(&self) -> Vec<ApiKeyRecord>;
    /// Whether the named key exists and is not revoked.
    fn key_is_live(&self, name: &str) -> bool;
    /// Revokes a key by name; false when there was none to revoke.
    fn revoke_key(&self, name: &str) -> bool;
    /// The caller a presented key belongs to.
    fn authenticate(&self, key: &str) -> Option<Caller>;
    /// A page of an agent's event log.
    fn list_logs(&self, sekuire_id: &str, filter: &LogFilter, limit: u32, offset: u64) -> LogPage;
    /// Stores a batch of SDK events for an agent, all or none.
    fn ingest_logs(&self, sekuire_id: &str, events: &[IncomingLogEvent]) -> u64;
    /// Registers a pushed agent or a new version of it.
    fn publish(&self, push: &PublishRequest, checked: CheckedPush, actor: &str, request_id: &str) -> Reviewed;
    /// Records a verification decision, with its audit entry.
    fn set_verification(&self, sekuire_id: &str, status: VerificationStatus, reason: Option<&str>, actor: &str, request_id: &str) -> (Agent, Option<AuditEntry>);
    /// An agent's reputation in Sekuire's shape.
    fn reputation(&self, sekuire_id: &str) -> Reputation;
    /// A short-lived ticket that opens the event stream without a key in the URL.
    fn issue_ticket(&self, key_name: &str) -> (String, i64);
    /// The key name a ticket was issued to; a ticket works once.
    fn redeem_ticket(&self, ticket: &str) -> Option<String>;
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

    /// The count taken in the background (as the registry starts) is the one the summary
    /// shows: an agent added since is in the total at once, and in the health counts at
    /// the next count.
    #[tokio::test]
    async fn the_summary_shows_health_counted_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("r.db").as_path())
            .await
            .unwrap();
        let mut fleet = crate::demo::generate_fleet(11, 1);
        let latecomer = fleet.split_off(10);
        store.insert_agents(&fleet).await.unwrap();
        store.count_health_in_background();
        let counted = async {
            while store.health.last.lock().unwrap().is_none() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), counted)
            .await
            .expect("the background count ends");
        store.insert_agents(&latecomer).await.unwrap();
        let summary = store.fleet_summary().await.unwrap();
        assert_eq!(summary.total, 11);
        assert_eq!(summary.health.values().sum::<u64>(), 10);
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
