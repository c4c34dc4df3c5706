//! The audit trail: append-only (enforced by triggers), read newest first by id cursor.

use super::Store;
use crate::clock::format_ms;
use crate::error::{AppError, AppResult};
use fleet_protocol::{AuditEntry, AuditPage, LifecycleAction};
use sqlx::{QueryBuilder, Sqlite};

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub sekuire_id: Option<String>,
    pub actions: Vec<LifecycleAction>,
    pub actor: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    sekuire_id: String,
    agent_name: String,
    from_status: String,
    to_status: String,
    reason: Option<String>,
    request_id: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = AppError;

    fn try_from(row: AuditRow) -> AppResult<AuditEntry> {
        let corrupt = |e: String| AppError::Internal(anyhow::anyhow!("corrupt audit row: {e}"));
        Ok(AuditEntry {
            id: row.id,
            at: format_ms(row.at),
            action: row.action.parse().map_err(corrupt)?,
            from_status: row.from_status.parse().map_err(corrupt)?,
            to_status: row.to_status.parse().map_err(corrupt)?,
            actor: row.actor,
            sekuire_id: row.sekuire_id,
            agent_name: row.agent_name,
            reason: row.reason,
            request_id: row.request_id,
        })
    }
}

impl Store {
    /// A page of audit entries, newest first. The cursor is the id of the last entry seen.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<AuditPage> {
        let before_id = cursor
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    AppError::InvalidRequest("cursor is not one this registry issued".into())
                })
            })
            .transpose()?;
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT * FROM audit_entries WHERE 1 = 1");
        if let Some(id) = &filter.sekuire_id {
            qb.push(" AND sekuire_id = ").push_bind(id.clone());
        }
        if !filter.actions.is_empty() {
            qb.push(" AND action IN (");
            let mut list = qb.separated(", ");
            for action in &filter.actions {
                list.push_bind(action.as_str());
            }
            qb.push(")");
        }
        if let Some(actor) = &filter.actor {
            qb.push(" AND actor = ").push_bind(actor.clone());
        }
        if let Some(since) = filter.since_ms {
            qb.push(" AND at >= ").push_bind(since);
        }
        if let Some(until) = filter.until_ms {
            qb.push(" AND at <= ").push_bind(until);
        }
        if let Some(before) = before_id {
            qb.push(" AND id < ").push_bind(before);
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let mut rows: Vec<AuditRow> = qb.build_query_as().fetch_all(&self.read).await?;
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id.to_string())
        } else {
            None
        };
        Ok(AuditPage {
            entries: rows
                .into_iter()
                .map(AuditEntry::try_from)
                .collect::<AppResult<_>>()?,
            next_cursor,
        })
    }
}
