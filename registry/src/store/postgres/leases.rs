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
/// 6,804–8,170, three 7,254–7,668. Again on a slower machine, where one writer left it
/// 62–67 % busy (two writers sharing one queue, the same harness, three rounds each):
/// 32 clients, one writer 3,513–3,956/s, two 3,081–3,323; 64 clients, one 4,167–5,416,
/// two 4,335–5,407. The second batch in flight made each lease cost more CPU (registry
/// 85–88 → 104–115 µs at 32 clients) than the idle core gave back. Several processes
/// still write side by side; a database server with more cores than this 2-core
/// benchmark machine may want more.
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
/// goes back to the pool when the next batch comes, which takes one the pool has pinged
/// (between batches the writer holds one of the process's connections); one whose batch
/// failed is closed, which rolls back whatever the batch had done.
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
pub(super) mod tests;
