//! Installations: running instances of an agent. They bootstrap with a single-use install
//! token, then lease with a runtime token; each lease is a heartbeat and the channel that
//! delivers lifecycle commands.

use super::leases::LeaseJob;
use super::sqlite::SqliteStore;
use super::{new_secret, secret_hash};
use crate::clock::{format_ms, now_ms};
use crate::error::{AppError, AppResult};
use fleet_protocol::{
    BootstrapRequest, BootstrapResponse, HeartbeatEvent, Installation, LifecycleAction,
    RuntimeStatus,
};
use tokio::sync::{mpsc, oneshot};

/// Runtime tokens stay valid this long after they are issued.
pub(super) const RUNTIME_TOKEN_TTL_MS: i64 = 30 * 24 * 3_600_000;
/// A lease this close to its token's expiry also carries a new token.
pub(super) const REFRESH_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

/// SQL condition: installation `alias` is live at `now` (Unix ms): not revoked, and its
/// lease (or, before its first lease, three intervals from bootstrap) has not expired.
/// A dead installation no longer holds its agent's pending command.
pub(super) fn live_installation(alias: &str, now: i64) -> String {
    format!(
        "{alias}.revoked_at IS NULL AND COALESCE({alias}.lease_expires_at, \
         {alias}.created_at + {alias}.heartbeat_interval_s * 3000) >= {now}"
    )
}
/// Longest heartbeat interval an installation may ask for (ten minutes), in seconds. The
/// agent's health follows the interval, so a longer one would let a dead agent look
/// healthy for longer: at this cap, 15 minutes at most.
pub const MAX_HEARTBEAT_INTERVAL_SECS: i64 = 600;

/// What a lease did: the command to deliver and the heartbeat to publish.
#[derive(Debug)]
pub struct LeaseOutcome {
    pub lease_expires_at: String,
    pub pending_command: Option<LifecycleAction>,
    pub shutdown_timeout_ms: Option<u32>,
    pub refreshed_token: Option<String>,
    /// True the first time a lease carries the current command: the agent may change.
    pub first_delivery: bool,
    pub heartbeat: HeartbeatEvent,
}

/// The columns of [`InstallationRow`].
pub(super) const INSTALLATION_COLUMNS: &str = "installation_id, workspace_id, status, \
    created_at, last_lease_at, lease_expires_at, heartbeat_interval_s, last_command, \
    command_delivered_at, revoked_at";

#[derive(sqlx::FromRow)]
pub(super) struct InstallationRow {
    installation_id: String,
    workspace_id: String,
    status: String,
    created_at: i64,
    last_lease_at: Option<i64>,
    lease_expires_at: Option<i64>,
    heartbeat_interval_s: i64,
    last_command: Option<String>,
    command_delivered_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl InstallationRow {
    /// The installation as the API shows it at `now`.
    pub(super) fn into_installation(self, now: i64) -> Installation {
        Installation {
            status: installation_status(&self, now),
            installation_id: self.installation_id,
            workspace_id: self.workspace_id,
            created_at: format_ms(self.created_at),
            last_lease_at: self.last_lease_at.map(format_ms),
            lease_expires_at: self.lease_expires_at.map(format_ms),
            heartbeat_interval_seconds: self.heartbeat_interval_s,
            last_command: parse_command(self.last_command.as_deref()),
            command_delivered_at: self.command_delivered_at.map(format_ms),
            revoked_at: self.revoked_at.map(format_ms),
        }
    }
}

/// What a lease needs to know of its installation.
#[derive(sqlx::FromRow)]
pub(super) struct LeaseRow {
    pub(super) installation_id: String,
    pub(super) runtime_token_hash: String,
    pub(super) sekuire_id: String,
    pub(super) heartbeat_interval_s: i64,
    pub(super) last_command: Option<String>,
    pub(super) command_delivered_at: Option<i64>,
    pub(super) token_expires_at: i64,
    /// The client is known to hold the current token: bootstrap answered it, or a lease
    /// presented it.
    pub(super) token_used: bool,
    pub(super) previous_token_hash: Option<String>,
    pub(super) previous_token_expires_at: Option<i64>,
    pub(super) revoked_at: Option<i64>,
    pub(super) shutdown_timeout_ms: Option<i64>,
}

pub(super) fn parse_command(value: Option<&str>) -> Option<LifecycleAction> {
    value.and_then(|v| v.parse().ok())
}

pub(super) fn interval_or_default(requested: Option<i64>) -> AppResult<i64> {
    match requested {
        None => Ok(fleet_protocol::DEFAULT_HEARTBEAT_INTERVAL_SECS),
        Some(s) if (1..=MAX_HEARTBEAT_INTERVAL_SECS).contains(&s) => Ok(s),
        Some(s) => Err(AppError::InvalidRequest(format!(
            "heartbeat_interval_seconds must be 1 to {MAX_HEARTBEAT_INTERVAL_SECS}, got {s}"
        ))),
    }
}

/// An install token's lifetime in minutes: 60 unless asked, at most a week.
pub(super) fn install_token_minutes(expiry_minutes: Option<i64>) -> AppResult<i64> {
    let minutes = expiry_minutes.unwrap_or(60);
    if !(1..=7 * 24 * 60).contains(&minutes) {
        return Err(AppError::InvalidRequest(
            "expiry_minutes must be 1 to 10080 (a week)".into(),
        ));
    }
    Ok(minutes)
}

/// Refuses install tokens for a terminated agent: it cannot get new installations.
pub(super) fn check_installable(sekuire_id: &str, name: &str, status: &str) -> AppResult<()> {
    if status == RuntimeStatus::Terminated.as_str() {
        return Err(AppError::InvalidTransition(format!(
            "agent {sekuire_id} ({name}) is terminated; it cannot get new installations"
        )));
    }
    Ok(())
}

/// The command a new installation of an agent in `runtime_status` starts with.
pub(super) fn initial_command(runtime_status: &str) -> Option<&'static str> {
    match runtime_status {
        "paused" => Some("pause"),
        "terminated" => Some("terminate"),
        _ => None,
    }
}

/// Queues a lease to a backend's lease writer and waits for its answer.
pub(super) async fn queue_lease(
    leases: &mpsc::Sender<LeaseJob>,
    installation_id: &str,
    runtime_token: &str,
    status: Option<&str>,
    requested_interval: Option<i64>,
) -> AppResult<LeaseOutcome> {
    if let Some(interval) = requested_interval {
        interval_or_default(Some(interval))?;
    }
    let (reply, answer) = oneshot::channel();
    let job = LeaseJob {
        installation_id: installation_id.to_owned(),
        token_hash: secret_hash(runtime_token),
        status: status.map(|s| s.chars().take(32).collect()),
        requested_interval,
        reply,
    };
    let stopped = || AppError::Internal(anyhow::anyhow!("the lease writer has stopped"));
    leases.send(job).await.map_err(|_| stopped())?;
    answer.await.map_err(|_| stopped())?
}

impl SqliteStore {
    /// Issues a single-use install token for an agent; returns it and its expiry (Unix ms).
    pub async fn create_install_token(
        &self,
        workspace_id: &str,
        sekuire_id: &str,
        expiry_minutes: Option<i64>,
        created_by: &str,
    ) -> AppResult<(String, i64)> {
        let minutes = install_token_minutes(expiry_minutes)?;
        let agent = self.agent(sekuire_id).await?;
        check_installable(sekuire_id, &agent.name, agent.runtime_status.as_str())?;
        let token = new_secret("skt_");
        let now = now_ms();
        let expires_at = now + minutes * 60_000;
        let mut tx = super::sqlite::begin_write(&self.write).await?;
        sqlx::query(
            "INSERT INTO install_tokens (token_hash, workspace_id, sekuire_id, created_by, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(secret_hash(&token))
        .bind(workspace_id)
        .bind(sekuire_id)
        .bind(created_by)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        let event = serde_json::json!({
            "action": "install_token", "actor": created_by, "workspace_id": workspace_id,
            "expires_at": format_ms(expires_at),
        });
        Self::append_registry_log(&mut tx, sekuire_id, now, &event, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok((token, expires_at))
    }

    /// Redeems an install token (once) for a new installation and its runtime credentials.
    /// An installation of a paused agent starts with `pause` pending, of a terminated one
    /// with `terminate`, so it learns the state on its first lease.
    /// Answers the credentials and the agent's id.
    pub async fn bootstrap(
        &self,
        request: &BootstrapRequest,
    ) -> AppResult<(BootstrapResponse, String)> {
        let interval = interval_or_default(request.heartbeat_interval_seconds)?;
        let now = now_ms();
        let mut tx = super::sqlite::begin_write(&self.write).await?;
        let (sekuire_id, workspace_id): (String, String) = sqlx::query_as(
            "UPDATE install_tokens SET used_at = ? \
             WHERE token_hash = ? AND used_at IS NULL AND expires_at >= ? \
             RETURNING sekuire_id, workspace_id",
        )
        .bind(now)
        .bind(secret_hash(&request.install_token))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::Unauthorized(
            "install token is unknown, already used or expired",
        ))?;
        let status: String =
            sqlx::query_scalar("SELECT runtime_status FROM agents WHERE sekuire_id = ?")
                .bind(&sekuire_id)
                .fetch_one(&mut *tx)
                .await?;
        let initial_command = initial_command(&status);
        let installation_id = format!("inst_{}", &new_secret("")[..24]);
        let runtime_token = new_secret("rt_");
        let refresh_token = new_secret("rf_");
        let capabilities = serde_json::to_string(&request.capabilities).unwrap_or_default();
        sqlx::query(
            "INSERT INTO installations (installation_id, sekuire_id, workspace_id, \
             runtime_token_hash, refresh_token_hash, upstream_url, capabilities, \
             heartbeat_interval_s, created_at, last_command, token_expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&installation_id)
        .bind(&sekuire_id)
        .bind(&workspace_id)
        .bind(secret_hash(&runtime_token))
        .bind(secret_hash(&refresh_token))
        .bind(&request.upstream_url)
        .bind(capabilities)
        .bind(interval)
        .bind(now)
        .bind(initial_command)
        .bind(now + RUNTIME_TOKEN_TTL_MS)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE agents SET installations = installations + 1, \
             pending_command = COALESCE(?, pending_command) WHERE sekuire_id = ?",
        )
        .bind(initial_command)
        .bind(&sekuire_id)
        .execute(&mut *tx)
        .await?;
        let event = serde_json::json!({
            "action": "bootstrap", "installation_id": installation_id,
            "workspace_id": workspace_id, "heartbeat_interval_seconds": interval,
            "initial_command": initial_command,
        });
        Self::append_registry_log(&mut tx, &sekuire_id, now, &event, &serde_json::json!({}))
            .await?;
        tx.commit().await?;
        Ok((
            BootstrapResponse {
                installation_id,
                runtime_token,
                refresh_token,
                expires_at: format_ms(now + RUNTIME_TOKEN_TTL_MS),
                heartbeat_interval: interval,
            },
            sekuire_id,
        ))
    }

    /// Renews an installation's lease: sets the agent's heartbeat and hands over the pending
    /// command. `pause`/`resume` are handed over once; `terminate` on every lease. Leases
    /// queue to the lease writer (`leases.rs`), which commits them in batches.
    pub async fn lease(
        &self,
        installation_id: &str,
        runtime_token: &str,
        status: Option<&str>,
        requested_interval: Option<i64>,
    ) -> AppResult<LeaseOutcome> {
        queue_lease(
            &self.leases,
            installation_id,
            runtime_token,
            status,
            requested_interval,
        )
        .await
    }

    /// Clears the pending command of agents whose every installation still owed it is
    /// dead (its lease expired): nobody is left to deliver it to. Returns their ids.
    pub async fn clear_undeliverable_commands(&self) -> AppResult<Vec<String>> {
        let now = now_ms();
        Ok(sqlx::query_scalar(&format!(
            "UPDATE agents SET pending_command = NULL WHERE pending_command IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM installations i WHERE i.sekuire_id = agents.sekuire_id \
             AND i.last_command IS NOT NULL AND i.command_delivered_at IS NULL AND {}) \
             RETURNING sekuire_id",
            live_installation("i", now)
        ))
        .fetch_all(&self.write)
        .await?)
    }

    /// The installations of an agent, newest first.
    pub async fn list_installations(&self, sekuire_id: &str) -> AppResult<Vec<Installation>> {
        self.agent(sekuire_id).await?;
        let rows: Vec<InstallationRow> = sqlx::query_as(&format!(
            "SELECT {INSTALLATION_COLUMNS} FROM installations WHERE sekuire_id = ? \
             ORDER BY created_at DESC, installation_id"
        ))
        .bind(sekuire_id)
        .fetch_all(&self.read)
        .await?;
        let now = now_ms();
        Ok(rows
            .into_iter()
            .map(|row| row.into_installation(now))
            .collect())
    }
}

/// `revoked`, `gone` once the lease expired (as [`live_installation`] decides), or what
/// the instance last reported.
fn installation_status(row: &InstallationRow, now: i64) -> String {
    let expires = row
        .lease_expires_at
        .unwrap_or(row.created_at + row.heartbeat_interval_s * 3_000);
    if row.revoked_at.is_some() {
        "revoked".into()
    } else if expires < now {
        "gone".into()
    } else {
        row.status.clone()
    }
}
