//! Installations on PostgreSQL: install tokens, bootstrap, leases, and listing.

use super::PostgresStore;
use crate::clock::{format_ms, now_ms};
use crate::error::{AppError, AppResult};
use crate::store::installations::{
    check_installable, initial_command, install_token_minutes, interval_or_default,
    live_installation, queue_lease, InstallationRow, INSTALLATION_COLUMNS, RUNTIME_TOKEN_TTL_MS,
};
use crate::store::{new_secret, secret_hash, LeaseOutcome};
use fleet_protocol::{BootstrapRequest, BootstrapResponse, Installation};

/// SQL condition on `agents`: a live installation of the agent has yet to get its command.
/// Both `sekuire_id` columns are `COLLATE "C"`, so the join uses `installations_by_agent`.
pub(super) fn command_owed(now: i64, except_installation: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM installations i \
         WHERE i.sekuire_id = agents.sekuire_id{except_installation} \
         AND i.last_command IS NOT NULL AND i.command_delivered_at IS NULL AND {})",
        live_installation("i", now)
    )
}

impl PostgresStore {
    /// Issues a single-use install token, as on SQLite. The agent is locked while its
    /// state is checked, so no token is issued after its terminate has committed.
    pub async fn create_install_token(
        &self,
        workspace_id: &str,
        sekuire_id: &str,
        expiry_minutes: Option<i64>,
        created_by: &str,
    ) -> AppResult<(String, i64)> {
        let minutes = install_token_minutes(expiry_minutes)?;
        super::retry(|| async move {
            let mut tx = self.pool.begin().await?;
            let agent = Self::agent_in(&mut tx, sekuire_id).await?;
            check_installable(sekuire_id, &agent.name, &agent.runtime_status)?;
            let token = new_secret("skt_");
            let now = now_ms();
            let expires_at = now + minutes * 60_000;
            sqlx::query(
                "INSERT INTO install_tokens (token_hash, workspace_id, sekuire_id, created_by, \
                 expires_at) VALUES ($1, $2, $3, $4, $5)",
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
            Self::append_registry_log(&mut tx, sekuire_id, now, &event, &serde_json::json!({}))
                .await?;
            tx.commit().await?;
            Ok((token, expires_at))
        })
        .await
    }

    /// Redeems an install token for an installation, as on SQLite. Its `UPDATE … WHERE
    /// used_at IS NULL` takes the token's row lock, so of two processes redeeming one
    /// token, the second waits and then finds it used. The agent is locked before its
    /// state picks the initial command, so a concurrent pause either commits first (and
    /// the installation starts with `pause`) or waits and then reaches the installation.
    pub async fn bootstrap(
        &self,
        request: &BootstrapRequest,
    ) -> AppResult<(BootstrapResponse, String)> {
        let interval = interval_or_default(request.heartbeat_interval_seconds)?;
        super::retry(|| self.try_bootstrap(request, interval)).await
    }

    async fn try_bootstrap(
        &self,
        request: &BootstrapRequest,
        interval: i64,
    ) -> AppResult<(BootstrapResponse, String)> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let (sekuire_id, workspace_id): (String, String) = sqlx::query_as(
            "UPDATE install_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at >= $1 \
             RETURNING sekuire_id, workspace_id",
        )
        .bind(now)
        .bind(secret_hash(&request.install_token))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::Unauthorized(
            "install token is unknown, already used or expired",
        ))?;
        let agent = Self::agent_in(&mut tx, &sekuire_id).await?;
        let initial_command = initial_command(&agent.runtime_status);
        let installation_id = format!("inst_{}", &new_secret("")[..24]);
        let runtime_token = new_secret("rt_");
        let refresh_token = new_secret("rf_");
        let capabilities = serde_json::to_string(&request.capabilities).unwrap_or_default();
        sqlx::query(
            "INSERT INTO installations (installation_id, sekuire_id, workspace_id, \
             runtime_token_hash, refresh_token_hash, upstream_url, capabilities, \
             heartbeat_interval_s, created_at, last_command, token_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
             pending_command = COALESCE($1, pending_command) WHERE sekuire_id = $2",
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

    /// Renews a lease through this process's lease writer (`leases.rs`).
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

    /// Clears the pending command of agents no live installation still owes it, as on
    /// SQLite. The candidates are locked first (in key order); the clearing statement then
    /// reads the installations afresh, so a pause that committed meanwhile is not cleared.
    pub async fn clear_undeliverable_commands(&self) -> AppResult<Vec<String>> {
        super::retry(|| async move {
            let now = now_ms();
            let undelivered = format!(
                "pending_command IS NOT NULL AND NOT {}",
                command_owed(now, "")
            );
            let mut tx = self.pool.begin().await?;
            let candidates: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT sekuire_id FROM agents WHERE {undelivered} \
                 ORDER BY sekuire_id FOR UPDATE OF agents"
            ))
            .fetch_all(&mut *tx)
            .await?;
            if candidates.is_empty() {
                return Ok(candidates);
            }
            let cleared: Vec<String> = sqlx::query_scalar(&format!(
                "UPDATE agents SET pending_command = NULL \
                 WHERE sekuire_id = ANY($1) AND {undelivered} RETURNING sekuire_id"
            ))
            .bind(&candidates)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(cleared)
        })
        .await
    }

    /// The installations of an agent, newest first.
    pub async fn list_installations(&self, sekuire_id: &str) -> AppResult<Vec<Installation>> {
        self.agent(sekuire_id).await?;
        let rows: Vec<InstallationRow> = sqlx::query_as(&format!(
            "SELECT {INSTALLATION_COLUMNS} FROM installations WHERE sekuire_id = $1 \
             ORDER BY created_at DESC, installation_id COLLATE \"C\""
        ))
        .bind(sekuire_id)
        .fetch_all(&self.pool)
        .await?;
        let now = now_ms();
        Ok(rows
            .into_iter()
            .map(|row| row.into_installation(now))
            .collect())
    }
}
