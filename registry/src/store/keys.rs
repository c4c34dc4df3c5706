//! API keys: named, with a role, stored only as a hash.

use super::sqlite::SqliteStore;
use super::{new_secret, secret_hash};
use crate::clock::{format_ms, now_ms};
use crate::error::{AppError, AppResult};
use fleet_protocol::Role;

/// Who is calling: the key's name (the audit trail's actor), its role and its workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// Install tokens are issued, and installations revoked, only in this workspace.
    pub workspace_id: String,
}

/// The workspace every key belongs to unless created with another.
pub const DEFAULT_WORKSPACE: &str = "default";

/// A key as `keys list` shows it; the key itself is never kept.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// `name` trimmed, once it and `workspace_id` are fit for a new key.
pub(super) fn checked_new_key<'n>(name: &'n str, workspace_id: &str) -> AppResult<&'n str> {
    if !crate::store::is_plain_identifier(workspace_id) {
        return Err(AppError::InvalidRequest(
            "a workspace id is 1 to 64 letters, digits, - or _".into(),
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AppError::InvalidRequest(
            "a key name is 1 to 100 characters".into(),
        ));
    }
    Ok(name)
}

/// The answer to creating a key whose name is taken.
pub(super) fn name_taken(name: &str) -> AppError {
    AppError::InvalidRequest(format!(
        "a key named {name} already exists; revoke it or pick another name"
    ))
}

fn stored_role(role: &str) -> AppResult<Role> {
    role.parse()
        .map_err(|e: String| AppError::Internal(anyhow::anyhow!(e)))
}

/// A `name, role, created_at, revoked_at` row of `api_keys`.
pub(super) type KeyRow = (String, String, i64, Option<i64>);

pub(super) fn key_record((name, role, created, revoked): KeyRow) -> AppResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        name,
        role: stored_role(&role)?,
        created_at: format_ms(created),
        revoked_at: revoked.map(format_ms),
    })
}

/// The caller of a `name, role, workspace_id` row of `api_keys`.
pub(super) fn caller((name, role, workspace_id): (String, String, String)) -> AppResult<Caller> {
    Ok(Caller {
        name,
        role: stored_role(&role)?,
        workspace_id,
    })
}

impl SqliteStore {
    /// Creates a key in `workspace_id` and returns it: the only time it is ever visible.
    pub async fn create_key(
        &self,
        name: &str,
        role: Role,
        workspace_id: &str,
    ) -> AppResult<String> {
        let name = checked_new_key(name, workspace_id)?;
        let key = new_secret("sk_");
        let inserted = sqlx::query(
            "INSERT INTO api_keys (name, role, key_hash, created_at, workspace_id) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(secret_hash(&key))
        .bind(now_ms())
        .bind(workspace_id)
        .execute(&self.write)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(name_taken(name));
        }
        Ok(key)
    }

    /// Gives the key called `name` a new secret (creating the key if needed) and returns
    /// it; the old secret stops working at once. The demo uses this on every start.
    pub async fn rotate_key(&self, name: &str, role: Role) -> AppResult<String> {
        let key = new_secret("sk_");
        sqlx::query(
            "INSERT INTO api_keys (name, role, key_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, key_hash = excluded.key_hash, \
             revoked_at = NULL",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(secret_hash(&key))
        .bind(now_ms())
        .execute(&self.write)
        .await?;
        Ok(key)
    }

    /// Every key, revoked ones included, by name.
    pub async fn list_keys(&self) -> AppResult<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> =
            sqlx::query_as("SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY name")
                .fetch_all(&self.read)
                .await?;
        rows.into_iter().map(key_record).collect()
    }

    /// Whether a key of this name is live (not revoked), for streams opened with it.
    pub async fn key_is_live(&self, name: &str) -> AppResult<bool> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM api_keys WHERE name = ? AND revoked_at IS NULL",
        )
        .bind(name)
        .fetch_one(&self.read)
        .await?
            > 0)
    }

    /// Revokes the key called `name`; false when there is no such live key.
    pub async fn revoke_key(&self, name: &str) -> AppResult<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(name)
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The caller a live key belongs to, or `None` for an unknown or revoked key.
    pub async fn authenticate(&self, key: &str) -> AppResult<Option<Caller>> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT name, role, workspace_id FROM api_keys \
             WHERE key_hash = ? AND revoked_at IS NULL",
        )
        .bind(secret_hash(key))
        .fetch_optional(&self.read)
        .await?;
        row.map(caller).transpose()
    }
}
