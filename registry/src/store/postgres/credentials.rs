//! Installation credentials on PostgreSQL: an admin's revoke, runtime-token refresh.

use super::installations::command_owed;
use super::PostgresStore;
use crate::clock::{format_ms, now_ms};
use crate::error::{AppError, AppResult};
use crate::store::audit::AuditDraft;
use crate::store::installations::RUNTIME_TOKEN_TTL_MS;
use crate::store::{new_secret, secret_hash, Revoke};
use fleet_protocol::{AuditAction, AuditEntry, Installation, RefreshResponse};

/// Installs new runtime tokens, given as arrays of installation ids, token hashes, expiries
/// and `rotate` flags: SQLite's `INSTALL_TOKENS` (which explains the rotation) over arrays.
pub(super) const INSTALL_TOKENS: &str = "UPDATE installations SET \
    previous_token_hash = CASE WHEN t.rotate THEN installations.runtime_token_hash \
                               ELSE installations.previous_token_hash END, \
    previous_token_expires_at = CASE WHEN t.rotate THEN installations.token_expires_at \
                                     ELSE installations.previous_token_expires_at END, \
    runtime_token_hash = t.hash, token_expires_at = t.expires, token_used = FALSE \
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::boolean[]) \
         AS t (id, hash, expires, rotate) \
    WHERE installations.installation_id = t.id";

impl PostgresStore {
    /// Revokes one installation of the caller's workspace, as on SQLite. The agent is
    /// locked before the installation, as a lifecycle change and a lease batch lock them.
    pub async fn revoke_installation(
        &self,
        revoke: &Revoke<'_>,
    ) -> AppResult<(Installation, Option<AuditEntry>)> {
        let (sekuire_id, audit) = super::retry(|| self.try_revoke(revoke)).await?;
        let installation = self
            .list_installations(&sekuire_id)
            .await?
            .into_iter()
            .find(|i| i.installation_id == revoke.installation_id)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("revoked installation vanished")))?;
        Ok((installation, audit))
    }

    /// One try of a revoke: the agent's id and the audit entry, if it changed anything.
    async fn try_revoke(&self, revoke: &Revoke<'_>) -> AppResult<(String, Option<AuditEntry>)> {
        let mut tx = self.pool.begin().await?;
        // An installation's agent and workspace never change: read them unlocked.
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT sekuire_id, workspace_id FROM installations WHERE installation_id = $1",
        )
        .bind(revoke.installation_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((sekuire_id, _)) = found.filter(|(_, workspace)| workspace == revoke.workspace_id)
        else {
            return Err(AppError::NotFound(format!(
                "no installation {} in workspace {}",
                revoke.installation_id, revoke.workspace_id
            )));
        };
        let agent = Self::agent_in(&mut tx, &sekuire_id).await?;
        let (revoked_at, status): (Option<i64>, String) = sqlx::query_as(
            "SELECT revoked_at, status FROM installations WHERE installation_id = $1 FOR UPDATE",
        )
        .bind(revoke.installation_id)
        .fetch_one(&mut *tx)
        .await?;
        if revoked_at.is_some() {
            return Ok((sekuire_id, None));
        }
        let now = now_ms();
        // A command that only this installation still owed is no longer pending.
        sqlx::query(&format!(
            "UPDATE agents SET pending_command = NULL WHERE sekuire_id = $1 AND NOT {}",
            command_owed(now, " AND i.installation_id != $2")
        ))
        .bind(&sekuire_id)
        .bind(revoke.installation_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE installations SET revoked_at = $1, last_command = 'terminate', \
             command_delivered_at = NULL, shutdown_timeout_ms = $2 WHERE installation_id = $3",
        )
        .bind(now)
        .bind(revoke.shutdown_timeout_ms.map(i64::from))
        .bind(revoke.installation_id)
        .execute(&mut *tx)
        .await?;
        let audit = Self::append_audit(
            &mut tx,
            AuditDraft {
                at: now,
                actor: revoke.actor,
                action: AuditAction::Revoke,
                sekuire_id: &sekuire_id,
                agent_name: &agent.name,
                from: &status,
                to: "revoked",
                reason: revoke.reason,
                request_id: revoke.request_id,
                installation_id: Some(revoke.installation_id),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((sekuire_id, Some(audit)))
    }

    /// Trades an installation's refresh token for a new runtime token, as on SQLite. The
    /// installation is locked while the rotation is decided, so a lease batch that
    /// refreshes the same token waits, then builds on this one.
    pub async fn refresh_runtime_token(
        &self,
        installation_id: &str,
        refresh_token: &str,
    ) -> AppResult<RefreshResponse> {
        super::retry(|| self.try_refresh(installation_id, refresh_token)).await
    }

    async fn try_refresh(
        &self,
        installation_id: &str,
        refresh_token: &str,
    ) -> AppResult<RefreshResponse> {
        let mut tx = self.pool.begin().await?;
        let found: Option<(Option<i64>, bool)> = sqlx::query_as(
            "SELECT revoked_at, token_used FROM installations \
             WHERE installation_id = $1 AND refresh_token_hash = $2 FOR UPDATE",
        )
        .bind(installation_id)
        .bind(secret_hash(refresh_token))
        .fetch_optional(&mut *tx)
        .await?;
        let rotate = match found {
            None => {
                return Err(AppError::Unauthorized(
                    "refresh token does not belong to this installation",
                ))
            }
            Some((Some(_), _)) => {
                return Err(AppError::Unauthorized(
                    "installation was revoked; its tokens are not renewed",
                ))
            }
            Some((None, used)) => used,
        };
        let runtime_token = new_secret("rt_");
        let expires_at = now_ms() + RUNTIME_TOKEN_TTL_MS;
        sqlx::query(INSTALL_TOKENS)
            .bind(vec![installation_id])
            .bind(vec![secret_hash(&runtime_token)])
            .bind(vec![expires_at])
            .bind(vec![rotate])
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RefreshResponse {
            runtime_token,
            expires_at: format_ms(expires_at),
        })
    }
}
