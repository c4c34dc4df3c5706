//! Leases: one writer task commits each batch of waiting leases in a single transaction,
//! so a fleet heartbeating thousands of times a second costs a commit per batch, not per
//! lease. Each lease is a heartbeat and the channel that hands over lifecycle commands.

use super::installations::{
    parse_command, LeaseOutcome, LeaseRow, MAX_HEARTBEAT_INTERVAL_SECS, RUNTIME_TOKEN_TTL_MS,
};
use super::WritePriority;
use crate::clock::{format_ms, now_ms};
use crate::error::{AppError, AppResult};
use fleet_protocol::{Health, HeartbeatEvent, LifecycleAction};
use sqlx::{SqliteConnection, SqlitePool};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Longest a lease batch waits for lifecycle writes to go first.
const MAX_PRIORITY_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Most leases committed in one transaction.
const MAX_LEASE_BATCH: usize = 512;

/// A lease waiting for the writer.
pub(super) struct LeaseJob {
    pub(super) installation_id: String,
    pub(super) token_hash: String,
    pub(super) status: Option<String>,
    pub(super) requested_interval: Option<i64>,
    pub(super) reply: oneshot::Sender<AppResult<LeaseOutcome>>,
}

/// Starts the task that owns lease writes; it ends when every sender is gone.
pub(super) fn spawn_lease_writer(
    write: SqlitePool,
    priority: Arc<WritePriority>,
) -> mpsc::Sender<LeaseJob> {
    let (sender, mut queue) = mpsc::channel::<LeaseJob>(4 * MAX_LEASE_BATCH);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_LEASE_BATCH);
        while queue.recv_many(&mut batch, MAX_LEASE_BATCH).await > 0 {
            // Bounded, so a steady stream of lifecycle writes cannot starve heartbeats.
            let _ = tokio::time::timeout(MAX_PRIORITY_WAIT, priority.wait_for_clear()).await;
            match commit_leases(&write, &batch).await {
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
    });
    sender
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
    let mut tx = super::begin_write(write).await?;
    let found: Vec<LeaseRow> = sqlx::query_as(
        "SELECT installation_id, runtime_token_hash, sekuire_id, heartbeat_interval_s, \
         last_command, command_delivered_at, created_at FROM installations \
         WHERE installation_id IN (SELECT value FROM json_each(?))",
    )
    .bind(serde_json::Value::from(ids).to_string())
    .fetch_all(&mut *tx)
    .await?;
    let mut rows: HashMap<String, LeaseRow> = found
        .into_iter()
        .map(|row| (row.installation_id.clone(), row))
        .collect();
    let mut plan = LeasePlan::default();
    let outcomes = batch
        .iter()
        .map(|job| plan.lease(rows.get_mut(&job.installation_id), job, now))
        .collect();
    plan.write(&mut tx, now).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// The writes a batch of leases adds up to; a later lease of the same installation or
/// agent in the batch wins, as it would have one after the other.
#[derive(Default)]
struct LeasePlan {
    /// installation id → `[id, status or null, interval, lease expiry]`.
    installations: BTreeMap<String, serde_json::Value>,
    /// sekuire id → heartbeat interval.
    agents: BTreeMap<String, i64>,
    /// Agents whose pending command was handed to an installation.
    delivered_to: BTreeSet<String>,
}

impl LeasePlan {
    /// Decides one lease against its installation's row, which it updates so that a
    /// second lease of the same installation in the batch sees the first.
    fn lease(
        &mut self,
        row: Option<&mut LeaseRow>,
        job: &LeaseJob,
        now: i64,
    ) -> AppResult<LeaseOutcome> {
        let Some(row) = row.filter(|row| row.runtime_token_hash == job.token_hash) else {
            return Err(AppError::Unauthorized(
                "runtime token does not belong to this installation",
            ));
        };
        if now - row.created_at > RUNTIME_TOKEN_TTL_MS {
            return Err(AppError::Unauthorized("runtime token has expired"));
        }
        // Rows from before the cap may hold a longer interval; a lease brings them within it.
        let interval = job
            .requested_interval
            .unwrap_or(row.heartbeat_interval_s)
            .min(MAX_HEARTBEAT_INTERVAL_SECS);
        let command = parse_command(row.last_command.as_deref());
        let deliver = command
            .filter(|c| row.command_delivered_at.is_none() || *c == LifecycleAction::Terminate);
        let lease_expires_at = now + interval * 3_000;
        row.heartbeat_interval_s = interval;
        if command.is_some() {
            row.command_delivered_at.get_or_insert(now);
        }
        let status = match (&job.status, self.installations.get(&job.installation_id)) {
            (Some(status), _) => serde_json::Value::from(status.as_str()),
            (None, Some(earlier)) => earlier[1].clone(),
            (None, None) => serde_json::Value::Null,
        };
        self.installations.insert(
            job.installation_id.clone(),
            serde_json::json!([job.installation_id, status, interval, lease_expires_at]),
        );
        self.agents.insert(row.sekuire_id.clone(), interval);
        if deliver.is_some() {
            self.delivered_to.insert(row.sekuire_id.clone());
        }
        Ok(LeaseOutcome {
            lease_expires_at: format_ms(lease_expires_at),
            pending_command: deliver,
            heartbeat: HeartbeatEvent {
                sekuire_id: row.sekuire_id.clone(),
                last_heartbeat_at: format_ms(now),
                health: Health::derive(Some(now), interval, now),
            },
        })
    }

    async fn write(self, tx: &mut SqliteConnection, now: i64) -> Result<(), sqlx::Error> {
        if self.installations.is_empty() {
            return Ok(());
        }
        let installations: Vec<serde_json::Value> = self.installations.into_values().collect();
        sqlx::query(
            "UPDATE installations SET status = COALESCE(l.status, installations.status), \
             heartbeat_interval_s = l.interval, last_lease_at = ?1, lease_expires_at = l.expires, \
             command_delivered_at = CASE WHEN installations.last_command IS NULL THEN NULL \
                                         ELSE COALESCE(installations.command_delivered_at, ?1) END \
             FROM (SELECT value ->> 0 AS id, value ->> 1 AS status, value ->> 2 AS interval, \
                          value ->> 3 AS expires FROM json_each(?2)) AS l \
             WHERE installations.installation_id = l.id",
        )
        .bind(now)
        .bind(serde_json::Value::from(installations).to_string())
        .execute(&mut *tx)
        .await?;
        if !self.delivered_to.is_empty() {
            // An agent's pending command clears once every installation has picked it up.
            let agents: Vec<String> = self.delivered_to.into_iter().collect();
            sqlx::query(
                "UPDATE agents SET pending_command = NULL \
                 WHERE sekuire_id IN (SELECT value FROM json_each(?)) AND NOT EXISTS \
                 (SELECT 1 FROM installations i WHERE i.sekuire_id = agents.sekuire_id \
                  AND i.last_command IS NOT NULL AND i.command_delivered_at IS NULL)",
            )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn job(installation_id: &str, token_hash: &str, status: Option<&str>) -> LeaseJob {
        LeaseJob {
            installation_id: installation_id.to_owned(),
            token_hash: token_hash.to_owned(),
            status: status.map(str::to_owned),
            requested_interval: None,
            reply: oneshot::channel().0,
        }
    }

    fn paused_row() -> LeaseRow {
        LeaseRow {
            installation_id: "inst".into(),
            runtime_token_hash: "good".into(),
            sekuire_id: "agent".into(),
            heartbeat_interval_s: 30,
            last_command: Some("pause".into()),
            command_delivered_at: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_batch_hands_a_pause_to_the_first_of_two_leases_of_one_installation() {
        let mut plan = LeasePlan::default();
        let mut row = paused_row();
        let first = plan.lease(Some(&mut row), &job("inst", "good", Some("busy")), 1_000);
        let second = plan.lease(Some(&mut row), &job("inst", "good", None), 1_000);
        assert_eq!(
            first.expect("accepted").pending_command,
            Some(LifecycleAction::Pause)
        );
        assert_eq!(second.expect("accepted").pending_command, None);
        assert_eq!(plan.installations.len(), 1, "one write per installation");
        assert_eq!(
            plan.installations["inst"][1], "busy",
            "the last known status"
        );
        assert!(plan.delivered_to.contains("agent"));
    }

    #[test]
    fn terminate_is_handed_to_every_lease_and_bad_tokens_write_nothing() {
        let mut plan = LeasePlan::default();
        let mut row = LeaseRow {
            last_command: Some("terminate".into()),
            ..paused_row()
        };
        for _ in 0..2 {
            let outcome = plan.lease(Some(&mut row), &job("inst", "good", None), 1_000);
            assert_eq!(
                outcome.expect("accepted").pending_command,
                Some(LifecycleAction::Terminate)
            );
        }
        let mut empty = LeasePlan::default();
        let refused = empty.lease(Some(&mut paused_row()), &job("inst", "bad", None), 1_000);
        assert!(matches!(refused, Err(AppError::Unauthorized(_))));
        assert!(empty
            .lease(None, &job("gone", "good", None), 1_000)
            .is_err());
        let expired = empty.lease(
            Some(&mut paused_row()),
            &job("inst", "good", None),
            RUNTIME_TOKEN_TTL_MS + 1,
        );
        assert!(matches!(expired, Err(AppError::Unauthorized(_))));
        assert!(empty.installations.is_empty() && empty.agents.is_empty());
    }
}
