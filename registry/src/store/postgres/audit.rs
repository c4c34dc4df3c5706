//! The audit trail on PostgreSQL.

use super::PostgresStore;
use crate::error::AppResult;
use crate::store::audit::AuditDraft;
use fleet_protocol::AuditEntry;
use sqlx::PgConnection;
use fleet_protocol::AuditPage;
use crate::store::{AuditExport, AuditFilter};

impl PostgresStore {
    /// Writes an audit entry and its `lifecycle` event-log line inside `tx`.
    pub(super) async fn append_audit(
        tx: &mut PgConnection,
        draft: AuditDraft<'_>,
    ) -> AppResult<AuditEntry> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit_entries (at, actor, action, sekuire_id, agent_name, from_status, \
             to_status, reason, request_id, installation_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(draft.at)
        .bind(draft.actor)
        .bind(draft.action.as_str())
        .bind(draft.sekuire_id)
        .bind(draft.agent_name)
        .bind(draft.from)
        .bind(draft.to)
        .bind(draft.reason)
        .bind(draft.request_id)
        .bind(draft.installation_id)
        .fetch_one(&mut *tx)
        .await?;
        let (event_data, metadata) = draft.log_line(id);
        Self::append_registry_log(tx, draft.sekuire_id, draft.at, &event_data, &metadata).await?;
        Ok(draft.into_entry(id))
    }

    pub async fn list_audit(&self, _filter: &AuditFilter, _limit: u32, _cursor: Option<&str>) -> AppResult<AuditPage> {
        unimplemented!("postgres")
    }

    pub async fn plan_audit_export(&self, _filter: &AuditFilter, _limit: u32, _cursor: Option<&str>) -> AppResult<AuditExport> {
        unimplemented!("postgres")
    }
}
