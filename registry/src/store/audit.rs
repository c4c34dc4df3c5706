//! The audit trail: append-only (enforced by triggers), read newest first by id cursor.

use super::sqlite::SqliteStore;
use crate::clock::format_ms;
use crate::error::{AppError, AppResult};
use fleet_protocol::{AuditAction, AuditEntry, AuditPage};
use sqlx::{Database, Encode, QueryBuilder, Sqlite, SqliteConnection, Type};

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub sekuire_id: Option<String>,
    pub actions: Vec<AuditAction>,
    pub actor: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Only entries with this id or a later one (a CSV export's last row).
    pub min_id: Option<i64>,
}

/// The rows one CSV export holds, fixed before the first row is sent, so that its
/// `X-Next-Cursor` can go in the headers and entries written meanwhile do not shift it.
#[derive(Debug)]
pub struct AuditExport {
    /// The filter, bounded below at the export's oldest row.
    pub filter: AuditFilter,
    /// Where reading starts: just above the newest row, or `None` when nothing matches.
    pub start: Option<String>,
    /// Where the next export continues, when more entries match.
    pub next_cursor: Option<String>,
}

/// An audit cursor: an entry id, 1 to 18 digits, as the OpenAPI pattern says.
pub(super) fn parse_cursor(cursor: Option<&str>) -> AppResult<Option<i64>> {
    cursor
        .map(|c| {
            let digits = (1..=18).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit());
            c.parse::<i64>().ok().filter(|_| digits).ok_or_else(|| {
                AppError::InvalidRequest("cursor is not one this registry issued".into())
            })
        })
        .transpose()
}

/// `SELECT <columns> FROM audit_entries WHERE <filter>`, newest first from `before_id`,
/// on either engine.
pub(super) fn filtered<'a, DB: Database>(
    columns: &str,
    filter: &'a AuditFilter,
    before_id: Option<i64>,
) -> QueryBuilder<'a, DB>
where
    DB::Arguments<'a>: Default,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut qb =
        QueryBuilder::<DB>::new(format!("SELECT {columns} FROM audit_entries WHERE 1 = 1"));
    if let Some(id) = &filter.sekuire_id {
        qb.push(" AND sekuire_id = ").push_bind(id.as_str());
    }
    if !filter.actions.is_empty() {
        qb.push(" AND action IN (");
        let mut list = qb.separated(", ");
        for action in &filter.actions {
            let action: &'a str = action.as_str();
            list.push_bind(action);
        }
        qb.push(")");
    }
    if let Some(actor) = &filter.actor {
        qb.push(" AND actor = ").push_bind(actor.as_str());
    }
    if let Some(since) = filter.since_ms {
        qb.push(" AND at >= ").push_bind(since);
    }
    if let Some(until) = filter.until_ms {
        qb.push(" AND at <= ").push_bind(until);
    }
    if let Some(min) = filter.min_id {
        qb.push(" AND id >= ").push_bind(min);
    }
    if let Some(before) = before_id {
        qb.push(" AND id < ").push_bind(before);
    }
    qb.push(" ORDER BY id DESC");
    qb
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
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
    installation_id: Option<String>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = AppError;

    fn try_from(row: AuditRow) -> AppResult<AuditEntry> {
        let corrupt = |e: String| AppError::Internal(anyhow::anyhow!("corrupt audit row: {e}"));
        Ok(AuditEntry {
            id: row.id,
            at: format_ms(row.at),
            action: row.action.parse().map_err(corrupt)?,
            from_status: row.from_status,
            to_status: row.to_status,
            actor: row.actor,
            sekuire_id: row.sekuire_id,
            agent_name: row.agent_name,
            reason: row.reason,
            request_id: row.request_id,
            installation_id: row.installation_id,
        })
    }
}

/// The page from the `limit + 1` rows read, with a cursor after its last entry when there
/// are more.
pub(super) fn audit_page(mut rows: Vec<AuditRow>, limit: u32) -> AppResult<AuditPage> {
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

/// The export of `filter` whose newest row is `newest`, and `edge` its oldest row and the
/// one after it (if any), as [`SqliteStore::plan_audit_export`] reads them.
pub(super) fn audit_export(filter: &AuditFilter, newest: Option<i64>, edge: &[i64]) -> AuditExport {
    AuditExport {
        filter: AuditFilter {
            min_id: edge.first().copied(),
            ..filter.clone()
        },
        start: newest.map(|id| (id + 1).to_string()),
        next_cursor: (edge.len() == 2).then(|| edge[0].to_string()),
    }
}

impl SqliteStore {
    /// A page of audit entries, newest first. The cursor is the id of the last entry seen.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<AuditPage> {
        let before_id = parse_cursor(cursor)?;
        let mut qb = filtered::<Sqlite>("*", filter, before_id);
        qb.push(" LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<AuditRow> = qb.build_query_as().fetch_all(&self.read).await?;
        audit_page(rows, limit)
    }

    /// Fixes the rows of a CSV export of at most `limit` entries from `cursor`: two
    /// index-only reads of ids, whatever the size of the export.
    pub async fn plan_audit_export(
        &self,
        filter: &AuditFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<AuditExport> {
        let before_id = parse_cursor(cursor)?;
        let newest: Option<i64> = filtered::<Sqlite>("id", filter, before_id)
            .push(" LIMIT 1")
            .build_query_scalar()
            .fetch_optional(&self.read)
            .await?;
        // Counted from the newest row read above, so entries written in between do not
        // shift the export's last row.
        let mut qb = filtered::<Sqlite>("id", filter, newest.map(|id| id + 1).or(before_id));
        qb.push(" LIMIT 2 OFFSET ").push_bind(i64::from(limit) - 1);
        let edge: Vec<i64> = qb.build_query_scalar().fetch_all(&self.read).await?;
        Ok(audit_export(filter, newest, &edge))
    }
}

/// The fields of an audit entry before it has an id.
pub(super) struct AuditDraft<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: AuditAction,
    pub sekuire_id: &'a str,
    pub agent_name: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub reason: Option<&'a str>,
    pub request_id: &'a str,
    pub installation_id: Option<&'a str>,
}

impl AuditDraft<'_> {
    /// The `lifecycle` event-log line's data and metadata for the entry `id`.
    pub(super) fn log_line(&self, id: i64) -> (serde_json::Value, serde_json::Value) {
        let event_data = serde_json::json!({
            "action": self.action,
            "reason": self.reason,
            "actor": self.actor,
            "from_status": self.from,
            "to_status": self.to,
            "installation_id": self.installation_id,
        });
        let metadata = serde_json::json!({ "audit_id": id, "request_id": self.request_id });
        (event_data, metadata)
    }

    /// The entry as written, with its id.
    pub(super) fn into_entry(self, id: i64) -> AuditEntry {
        AuditEntry {
            id,
            at: format_ms(self.at),
            actor: self.actor.to_owned(),
            action: self.action,
            sekuire_id: self.sekuire_id.to_owned(),
            agent_name: self.agent_name.to_owned(),
            from_status: self.from.to_owned(),
            to_status: self.to.to_owned(),
            reason: self.reason.map(str::to_owned),
            request_id: self.request_id.to_owned(),
            installation_id: self.installation_id.map(str::to_owned),
        }
    }
}

impl SqliteStore {
    /// Writes an audit entry and its `lifecycle` event-log line inside `tx`. Only the
    /// registry writes `lifecycle` lines: the SDK batch refuses that event type.
    pub(super) async fn append_audit(
        tx: &mut SqliteConnection,
        draft: AuditDraft<'_>,
    ) -> AppResult<AuditEntry> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit_entries (at, actor, action, sekuire_id, agent_name, from_status, \
             to_status, reason, request_id, installation_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
}
