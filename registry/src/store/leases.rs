//! Leases: one writer task commits each batch of waiting leases in a single transaction,
//! so a fleet heartbeating thousands of times a second costs a commit per batch, not per
//! lease. Each lease is a heartbeat and the channel that hands over lifecycle commands.

use super::credentials::INSTALL_TOKENS;
use super::installations::{live_installation, LeaseOutcome, LeaseRow};
use super::lease_plan::LeasePlan;
use super::sqlite::WritePriority;
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use sqlx::{SqliteConnection, SqlitePool};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Longest a lease batch waits for lifecycle writes to go first.
const MAX_PRIORITY_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Most leases committed in one transaction.
pub(super) const MAX_LEASE_BATCH: usize = 512;

/// What a lease decides from: the columns of [`LeaseRow`], in its order.
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
/// Decision: the writer runs on a thread of its own (a single-threaded runtime), not as a
/// task among the request handlers. Its batches are serial, so their hand-offs with
/// SQLite's worker thread (five per batch, and the rows of the read) are the lease path's
/// critical path, and a task woken from another thread waited in the shared runtime's
/// queue behind hundreds of connections' tasks each time. On its own thread, the writer
/// runs as soon as SQLite answers: about 8 % more leases/s at 512 clients, with builds
/// compared in turns on one fleet (BENCHMARKS.md).
pub(super) fn spawn_lease_writer(
    write: SqlitePool,
    priority: Arc<WritePriority>,
) -> std::io::Result<mpsc::Sender<LeaseJob>> {
    let (sender, mut queue) = mpsc::channel::<LeaseJob>(4 * MAX_LEASE_BATCH);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("lease-writer".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut batch = Vec::with_capacity(MAX_LEASE_BATCH);
                while queue.recv_many(&mut batch, MAX_LEASE_BATCH).await > 0 {
                    // Bounded, so a steady stream of lifecycle writes cannot starve heartbeats.
                    let _ =
                        tokio::time::timeout(MAX_PRIORITY_WAIT, priority.wait_for_clear()).await;
                    let committed = commit_leases(&write, &batch).await;
                    answer(&mut batch, committed);
                }
            })
        })?;
    Ok(sender)
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

/// Applies a batch of leases in one transaction of four statements, whatever the batch
/// size: one read of the installations, then one write per table. A lease refused for its
/// token is that lease's answer; a database failure fails (and rolls back) the batch.
///
/// Decision: the batch is planned in Rust and written with `json_each` parameters rather
/// than statement by statement, because each statement is a round trip to SQLite's worker
/// thread, and those hand-offs, not SQLite itself, were most of a lease's cost.
async fn commit_leases(
    write: &SqlitePool,
    batch: &[LeaseJob],
) -> Result<Vec<AppResult<LeaseOutcome>>, sqlx::Error> {
    let now = now_ms();
    let ids: Vec<&str> = batch.iter().map(|j| j.installation_id.as_str()).collect();
    let mut tx = super::sqlite::begin_write(write).await?;
    // One row holding every installation as a JSON array, not a row each: sqlx hands each
    // row over from SQLite's thread on its own, and the read took 45 % less time per batch
    // this way (BENCHMARKS.md).
    let found: String = sqlx::query_scalar(&format!(
        "SELECT json_group_array(json_array({LEASE_COLUMNS})) FROM installations \
         WHERE installation_id IN (SELECT value FROM json_each(?))"
    ))
    .bind(serde_json::Value::from(ids).to_string())
    .fetch_one(&mut *tx)
    .await?;
    let found: Vec<LeaseRow> =
        serde_json::from_str(&found).map_err(|err| sqlx::Error::Decode(err.into()))?;
    let (plan, outcomes) = LeasePlan::decide(batch, found, now);
    plan.write(&mut tx, now).await?;
    tx.commit().await?;
    Ok(outcomes)
}

impl LeasePlan {
    /// Writes the plan: one statement per table, over `json_each` parameters.
    async fn write(self, tx: &mut SqliteConnection, now: i64) -> Result<(), sqlx::Error> {
        if self.installations.is_empty() {
            return Ok(());
        }
        let installations: Vec<serde_json::Value> = self
            .installations
            .iter()
            .map(|(id, l)| {
                serde_json::json!([id, l.status, l.interval, l.lease_expires_at, l.token_used])
            })
            .collect();
        sqlx::query(
            "UPDATE installations SET status = COALESCE(l.status, installations.status), \
             heartbeat_interval_s = l.interval, last_lease_at = ?1, lease_expires_at = l.expires, \
             command_delivered_at = CASE WHEN installations.last_command IS NULL THEN NULL \
                                         ELSE COALESCE(installations.command_delivered_at, ?1) END, \
             token_used = MAX(installations.token_used, l.used) \
             FROM (SELECT value ->> 0 AS id, value ->> 1 AS status, value ->> 2 AS interval, \
                          value ->> 3 AS expires, value ->> 4 AS used FROM json_each(?2)) AS l \
             WHERE installations.installation_id = l.id",
        )
        .bind(now)
        .bind(serde_json::Value::from(installations).to_string())
        .execute(&mut *tx)
        .await?;
        if !self.tokens.is_empty() {
            let tokens: Vec<serde_json::Value> = self
                .tokens
                .iter()
                .map(|(id, t)| serde_json::json!([id, t.hash, t.expires_at, t.rotate]))
                .collect();
            sqlx::query(INSTALL_TOKENS)
                .bind(serde_json::Value::from(tokens).to_string())
                .execute(&mut *tx)
                .await?;
        }
        if !self.delivered_to.is_empty() {
            // An agent's pending command clears once every live installation has had it.
            let agents: Vec<String> = self.delivered_to.into_iter().collect();
            sqlx::query(&format!(
                "UPDATE agents SET pending_command = NULL \
                 WHERE sekuire_id IN (SELECT value FROM json_each(?)) AND NOT EXISTS \
                 (SELECT 1 FROM installations i WHERE i.sekuire_id = agents.sekuire_id \
                  AND i.last_command IS NOT NULL AND i.command_delivered_at IS NULL AND {})",
                live_installation("i", now)
            ))
            .bind(serde_json::Value::from(agents).to_string())
            .execute(&mut *tx)
            .await?;
        }
        let agents: Vec<serde_json::Value> = self
            .agents
            .into_iter()
            .map(|(id, interval)| serde_json::json!([id, interval]))
            .collect();
        sqlx::query(
            "UPDATE agents SET last_heartbeat_at = ?1, heartbeat_interval_s = l.interval \
             FROM (SELECT value ->> 0 AS id, value ->> 1 AS interval FROM json_each(?2)) AS l \
             WHERE agents.sekuire_id = l.id",
        )
        .bind(now)
        .bind(serde_json::Value::from(agents).to_string())
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
