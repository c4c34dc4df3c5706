//! The PostgreSQL backend: several registry processes on one database behave as one
//! registry. Every acknowledged change is committed on the server before the answer goes
//! out, so any process (and any process started after a `kill -9`) sees it.
//!
//! What differs from the SQLite backend, and why:
//!
//! - **Concurrency.** SQLite writes one transaction at a time per process (the write
//!   pool's one connection is the turn to write) and `BEGIN IMMEDIATE` serializes
//!   writers. Here many transactions run at once under READ COMMITTED, so a transaction
//!   that reads a row to decide a write locks it first (`SELECT … FOR UPDATE`), always
//!   agents before installations, and in key order within a table.
//!   A transaction PostgreSQL aborts as a deadlock or serialization failure is retried
//!   whole ([`retry`]).
//! - **Batches** are passed as arrays (`= ANY($1)`, `unnest($1, $2, …)`) where SQLite
//!   takes a JSON text through `json_each`, except for a lease batch's frequent writes,
//!   which SQLite makes a row at a time by primary key (`store::leases`): inside a
//!   transaction a statement that changes several rows makes SQLite journal every page
//!   it changes, a cost PostgreSQL does not have.
//! - **Search.** A `pg_trgm` GIN index answers `ILIKE '%…%'` directly; SQLite needs the
//!   FTS5 trigram table plus LIKE. Two characters have no trigram, and `pg_trgm`'s
//!   trigrams stop at every character that is not a letter or digit (FTS5's do not): here
//!   a GIN index of each name's one- and two-character pieces, and of its three-character
//!   pieces that hold such a character, serves both (when few names hold them), where
//!   SQLite reads a range of its trigram index's term list. That index is on
//!   `agent_names`, which heartbeats never touch (migration 0010), so such a search takes
//!   its candidates' IDs from there. Columns that are sorted or
//!   searched are `COLLATE "C"`, so order and case folding (ASCII only) are the same on
//!   both.
//! - **Search in name order.** SQLite's trigram index is keyed by each agent's place in
//!   name order (`name_rank`, `store/name_order.rs`), and FTS5 reads a phrase's matches in
//!   key order and stops at a `LIMIT`, so a search by name, and a search's count, read
//!   only the first matches. A GIN index returns its matches in no order. Here a search of
//!   letters and digits reads the first names of each word of the vocabulary that holds
//!   it, from `name_words`, which keeps each word's names in name order (migration 0013,
//!   `name_words.rs`): `se` by name at 1M agents, 124 → 9 ms; `security`, 35 → 6 ms. A
//!   search that more than 64 words hold is read as any other search.
//!   Another search walks the name index and tests each name, up to 50,000 names, then
//!   gathers its page from `agent_names`, a narrow copy of the names with a trigram index
//!   of its own, and sorts it (`name_walk.rs`). With facets, both probe each match's
//!   facets as they reach it, and the gather reads its matches a bounded round at a time.
//! - **Plans.** SQLite's planner is steered with `INDEXED BY`; PostgreSQL's is
//!   cost-based and keeps statistics, so its queries state the filter plainly (and the
//!   migrations that add an expression index run `ANALYZE`). A list's statements are not
//!   kept prepared: a kept statement gets one generic plan, and one plan cannot serve a
//!   search that matches 60,000 names and one that matches none (`fleet_list.rs`). Both
//!   read a page's ids before its rows, so a walk on an index that covers the filter
//!   reads no row it skips.
//! - **Counting** uses `COUNT(*) FILTER (WHERE …)` (SQLite sums booleans). A filter the
//!   kept counts do not answer is counted in a narrow index on both; here that index is on
//!   `agent_facets`, a copy of the three facets that heartbeats never touch (migration
//!   0008), as an index-only count on `agents` reads the rows a heartbeat changed: two
//!   facets at once at 1M agents, 69–84 → 1.5–4.1 ms a list (BENCHMARKS.md). It holds the
//!   name too, with a trigram index and in the facet index (0012), so a search with facets
//!   and no health is counted there, and its few matches found there: 280 lists of a search with
//!   a facet under five sorts at 1M agents, 41 → 12 over 50 ms (`fleet_list.rs`).
//! - **Heartbeats** rewrite the agent's row on both. SQLite writes only the indexes that
//!   hold a heartbeat column (the facet index holds none since migration 0010), and a
//!   background connection checkpoints its WAL off the writer (restarting it from 128 MB,
//!   so steady writes cannot grow it without bound). Here a heartbeat changes
//!   indexed columns, so it is never a HOT update: every index of `agents` takes an entry,
//!   and an expression index computes its expression again. The index of name pieces,
//!   whose expression is the costliest (about 40 µs a name), moved to `agent_names` for
//!   that: half of a heartbeat's time in the database (migration 0010).
//! - **Live events** reach every process through LISTEN/NOTIFY (`crate::events`).

mod agents;
mod audit;
mod credentials;
mod fleet_estimates;
mod fleet_list;
mod installations;
mod keys;
mod leases;
mod logs;
mod name_walk;
mod name_words;
mod publish;
mod tickets;

/// A fresh PostgreSQL store beside an SQLite one, for tests that compare or run both.
#[cfg(test)]
pub(super) use fleet_list::tests::both;
/// An active agent with installations, on either engine, for tests.
#[cfg(test)]
pub(super) use leases::tests::agent_with_installations;

use super::leases::LeaseJob;
use crate::error::AppResult;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

/// A registry database on a PostgreSQL server.
#[derive(Clone)]
pub(crate) struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(super) leases: tokio::sync::mpsc::Sender<LeaseJob>,
}

/// Connections one registry process keeps open.
const MAX_CONNECTIONS: u32 = 16;

impl PostgresStore {
    /// Connects and brings the schema up to date. Several processes may start at once:
    /// sqlx's migrator takes an advisory lock, so the schema is migrated once.
    pub(super) async fn open(url: &str) -> AppResult<PostgresStore> {
        let options = PgConnectOptions::from_str(url)?.application_name("sekuire-registry");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations-postgres").run(&pool).await?;
        let leases = leases::spawn_lease_writer(pool.clone());
        Ok(PostgresStore { pool, leases })
    }
}

/// Times a transaction is tried before its error is returned.
const ATTEMPTS: u32 = 5;

/// Runs `transaction` again when PostgreSQL aborted it as a deadlock (40P01) or a
/// serialization failure (40001): nothing of it was committed, and a second try usually
/// goes through. Other errors, and the last try's, are returned.
pub(super) async fn retry<T, F, Fut>(mut transaction: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    let mut attempt = 1;
    loop {
        match transaction().await {
            Err(crate::error::AppError::Internal(err))
                if attempt < ATTEMPTS && conflicted(&err) =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
            }
            other => return other,
        }
    }
}

/// Whether PostgreSQL aborted the transaction for a conflict with another one.
fn conflicted(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<sqlx::Error>(),
        Some(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("40P01" | "40001"))
    )
}
