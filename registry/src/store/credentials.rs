//! An installation's credentials after bootstrap: an admin's revoke of one installation,
//! and runtime-token refresh. The token a client holds is never the one a refresh drops.

use super::audit::AuditDraft;
use super::installations::{live_installation, RUNTIME_TOKEN_TTL_MS};
use super::sqlite::SqliteStore;
use super::{new_secret, secret_hash};
use crate::clock::{format_ms, now_ms};
use crate::error::{AppError, AppResult};
use fleet_protocol::{AuditAction, AuditEntry, Installation, RefreshResponse};

/// Installs new runtime tokens, given as a JSON array of `[installation id, token hash,
/// expiry, rotate]`. With `rotate` (the current token has been used) it becomes the
/// previous one, valid until its own expiry; without, the previous one stays and only the
/// current one, which no client has used, is replaced. So the token a client uses is never
/// the one a refresh drops. The new token is unused.
pub(super) const INSTALL_TOKENS: &str = "UPDATE installations SET \
    previous_token_hash = CASE WHEN t.rotate THEN runtime_token_hash ELSE previous_token_hash END, \
    previous_token_expires_at = CASE WHEN t.rotate THEN token_expires_at \
                                     ELSE previous_token_expires_at END, \
    runtime_token_hash = t.hash, token_expires_at = t.expires, token_used = 0 \
    FROM (SELECT value ->> 0 AS id, value ->> 1 AS hash, value ->> 2 AS expires, \
                 value ->> 3 AS rotate FROM json_each(?)) AS t \
    WHERE installations.installation_id = t.id";

/// An admin's revoke of one installation.
#[derive(Debug, Clone, Copy)]
pub struct Revoke<'a> {
    pub installation_id: &'a str,
    /// The caller's workspace: only its installations can be revoked.
    pub workspace_id: &'a str,
    pub reason: Option<&'a str>,
    pub shutdown_timeout_ms: Option<u32>,
    pub actor: &'a str,
    pub request_id: &'a str,
}

impl SqliteStore {
    /// Revokes one installation of `workspace_id`: it gets `terminate` (with the shutdown
    /// timeout) on its next lease, and the agent's other installations run on. Revoking a
    /// revoked installation changes nothing and writes no entry. An installation of another
    /// workspace is not found, as if it did not exist.
    pub async fn revoke_installation(
        &self,
        revoke: &Revoke<'_>,
    ) -> AppResult<(Installation, Option<AuditEntry>)> {
        let now = now_ms();
        let _urgent = self.priority.urgent();
        let mut tx = super::sqlite::begin_write(&self.write).await?;
        let found: Option<(String, String, Option<i64>, String, String)> = sqlx::query_as(
            "SELECT i.sekuire_id, i.workspace_id, i.revoked_at, i.status, a.name \
             FROM installations i JOIN agents a USING (sekuire_id) WHERE i.installation_id = ?",
        )
        .bind(revoke.installation_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((sekuire_id, _, revoked_at, status, agent_name)) =
            found.filter(|(_, workspace, ..)| workspace == revoke.workspace_id)
        else {
            return Err(AppError::NotFound(format!(
                "no installation {} in workspace {}",
                revoke.installation_id, revoke.workspace_id
            )));
        };
        let mut audit = None;
        if revoked_at.is_none() {
            // A command that only this installation still owed is no longer pending.
            sqlx::query(&format!(
                "UPDATE agents SET pending_command = NULL WHERE sekuire_id = ? AND NOT EXISTS \
                 (SELECT 1 FROM installations i WHERE i.sekuire_id = agents.sekuire_id \
                  AND i.installation_id != ? AND i.last_command IS NOT NULL \
                  AND i.command_delivered_at IS NULL AND {})",
                live_installation("i", now)
            ))
            .bind(&sekuire_id)
            .bind(revoke.installation_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE installations SET revoked_at = ?, last_command = 'terminate', \
                 command_delivered_at = NULL, shutdown_timeout_ms = ? WHERE installation_id = ?",
            )
            .bind(now)
            .bind(revoke.shutdown_timeout_ms)
            .bind(revoke.installation_id)
            .execute(&mut *tx)
            .await?;
            audit = Some(
                Self::append_audit(
                    &mut tx,
                    AuditDraft {
                        at: now,
                        actor: revoke.actor,
                        action: AuditAction::Revoke,
                        sekuire_id: &sekuire_id,
                        agent_name: &agent_name,
                        from: &status,
                        to: "revoked",
                        reason: revoke.reason,
                        request_id: revoke.request_id,
                        installation_id: Some(revoke.installation_id),
                    },
                )
                .await?,
            );
        }
        tx.commit().await?;
        let installation = self
            .list_installations(&sekuire_id)
            .await?
            .into_iter()
            .find(|i| i.installation_id == revoke.installation_id)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("revoked installation vanished")))?;
        Ok((installation, audit))
    }

    /// Trades an installation's refresh token for a new runtime token. The token it
    /// replaces keeps working until its own expiry. A revoked installation gets none.
    pub async fn refresh_runtime_token(
        &self,
        installation_id: &str,
        refresh_token: &str,
    ) -> AppResult<RefreshResponse> {
        let now = now_ms();
        let mut tx = super::sqlite::begin_write(&self.write).await?;
        let found: Option<(Option<i64>, bool)> = sqlx::query_as(
            "SELECT revoked_at, token_used FROM installations \
             WHERE installation_id = ? AND refresh_token_hash = ?",
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
        let expires_at = now + RUNTIME_TOKEN_TTL_MS;
        let token = serde_json::json!([[
            installation_id,
            secret_hash(&runtime_token),
            expires_at,
            rotate
        ]]);
        sqlx::query(INSTALL_TOKENS)
            .bind(token.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RefreshResponse {
            runtime_token,
            expires_at: format_ms(expires_at),
        })
    }
}
