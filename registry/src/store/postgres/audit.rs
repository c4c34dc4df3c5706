//! The audit trail on PostgreSQL: append-only (enforced by triggers), read newest first by id.

use super::PostgresStore;
use crate::error::AppResult;
use crate::store::audit::{audit_export, audit_page, filtered, parse_cursor, AuditDraft, AuditRow};
use crate::store::{AuditExport, AuditFilter};
use fleet_protocol::{AuditEntry, AuditPage};
use sqlx::{PgConnection, Postgres};

/// The advisory lock that orders audit entries' commits (an arbitrary constant: "audit").
const AUDIT_ORDER_LOCK: i64 = 0x0061_7564_6974;

impl PostgresStore {
    /// Writes an audit entry and its `lifecycle` event-log line inside `tx`.
    pub(super) async fn append_audit(
        tx: &mut PgConnection,
        draft: AuditDraft<'_>,
    ) -> AppResult<AuditEntry> {
        // Audit ids must become visible in id order, or a reader paging by id could pass
        // an id whose transaction commits later and never see it (an export would lack an
        // entry). So audit-writing transactions take one lock here, their last, and hold
        // it to their commit: ids commit in the order they are taken.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_ORDER_LOCK)
            .execute(&mut *tx)
            .await?;
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

    /// A page of audit entries, newest first. The cursor is the id of the last entry seen.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<AuditPage> {
        let before_id = parse_cursor(cursor)?;
        let mut qb = filtered::<Postgres>("*", filter, before_id);
        qb.push(" LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<AuditRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        audit_page(rows, limit)
    }

    /// Fixes the rows of a CSV export of at most `limit` entries from `cursor`: the newest
    /// matching id, then the oldest the export holds and the one after it.
    pub async fn plan_audit_export(
        &self,
        filter: &AuditFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<AuditExport> {
        let before_id = parse_cursor(cursor)?;
        let newest: Option<i64> = filtered::<Postgres>("id", filter, before_id)
            .push(" LIMIT 1")
            .build_query_scalar()
            .fetch_optional(&self.pool)
            .await?;
        // Counted from the newest row read above, so entries written in between do not
        // shift the export's last row. (SQLite reads a negative OFFSET as 0; PostgreSQL
        // refuses it.)
        let mut qb = filtered::<Postgres>("id", filter, newest.map(|id| id + 1).or(before_id));
        qb.push(" LIMIT 2 OFFSET ")
            .push_bind((i64::from(limit) - 1).max(0));
        let edge: Vec<i64> = qb.build_query_scalar().fetch_all(&self.pool).await?;
        Ok(audit_export(filter, newest, &edge))
    }
}
