//! Event logs: what SDKs report, plus a `lifecycle` line for every state change.

use super::sqlite::SqliteStore;
use crate::clock::{format_ms, now_ms, parse_rfc3339};
use crate::error::{AppError, AppResult};
use fleet_protocol::{IncomingLogEvent, LogEntry, LogPage, Severity};
use serde_json::Value;
use sqlx::{Database, Encode, QueryBuilder, Sqlite, SqliteConnection, Type};

/// Which log entries to read (`event_type`, `severity`, time range) and where to start.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub event_type: Option<String>,
    pub severity: Option<Severity>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct LogRow {
    id: i64,
    sekuire_id: String,
    session_id: Option<String>,
    event_type: String,
    severity: String,
    event_timestamp: i64,
    received_at: i64,
    event_data: String,
    metadata: String,
}

impl TryFrom<LogRow> for LogEntry {
    type Error = AppError;

    fn try_from(row: LogRow) -> AppResult<LogEntry> {
        Ok(LogEntry {
            id: row.id,
            severity: row.severity.parse().map_err(|_| {
                AppError::Internal(anyhow::anyhow!("corrupt severity {}", row.severity))
            })?,
            event_timestamp: format_ms(row.event_timestamp),
            received_at: format_ms(row.received_at),
            event_data: serde_json::from_str(&row.event_data).unwrap_or(Value::Null),
            metadata: serde_json::from_str(&row.metadata).unwrap_or(Value::Null),
            sekuire_id: row.sekuire_id,
            session_id: row.session_id,
            event_type: row.event_type,
        })
    }
}

/// ` WHERE …` for an agent's log entries that pass `filter`, on either engine.
pub(super) fn push_log_filter<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    sekuire_id: &str,
    filter: &LogFilter,
) where
    &'a str: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    qb.push(" WHERE sekuire_id = ")
        .push_bind(sekuire_id.to_owned());
    if let Some(event_type) = &filter.event_type {
        qb.push(" AND event_type = ").push_bind(event_type.clone());
    }
    if let Some(severity) = filter.severity {
        let severity: &'a str = severity.as_str();
        qb.push(" AND severity = ").push_bind(severity);
    }
    if let Some(start) = filter.start_ms {
        qb.push(" AND event_timestamp >= ").push_bind(start);
    }
    if let Some(end) = filter.end_ms {
        qb.push(" AND event_timestamp <= ").push_bind(end);
    }
}

impl SqliteStore {
    /// A page of an agent's event log, newest first, by limit and offset as Sekuire's API does.
    pub async fn list_logs(
        &self,
        sekuire_id: &str,
        filter: &LogFilter,
        limit: u32,
        offset: u64,
    ) -> AppResult<LogPage> {
        self.agent(sekuire_id).await?;
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM event_logs");
        push_log_filter(&mut count, sekuire_id, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.read).await?;
        let mut page = QueryBuilder::<Sqlite>::new("SELECT * FROM event_logs");
        push_log_filter(&mut page, sekuire_id, filter);
        page.push(" ORDER BY event_timestamp DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit))
            .push(" OFFSET ")
            .push_bind(offset.min(i64::MAX as u64) as i64);
        let rows: Vec<LogRow> = page.build_query_as().fetch_all(&self.read).await?;
        let logs = rows
            .into_iter()
            .map(LogEntry::try_from)
            .collect::<AppResult<_>>()?;
        Ok(LogPage {
            logs,
            total: total as u64,
            limit,
            offset,
        })
    }

    /// Writes one of the registry's own `lifecycle` lines inside `tx`: a state change, a
    /// push, a verification, a revoke, an install token or a bootstrap.
    pub(super) async fn append_registry_log(
        tx: &mut SqliteConnection,
        sekuire_id: &str,
        at: i64,
        event_data: &Value,
        metadata: &Value,
    ) -> AppResult<()> {
        sqlx::query(
            "INSERT INTO event_logs (sekuire_id, event_type, severity, event_timestamp, \
             received_at, event_data, metadata) VALUES (?, ?, 'info', ?, ?, ?, ?)",
        )
        .bind(sekuire_id)
        .bind(crate::routes::logs::LIFECYCLE_EVENT_TYPE)
        .bind(at)
        .bind(at)
        .bind(event_data.to_string())
        .bind(metadata.to_string())
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Stores a batch of SDK events for an agent, all or none.
    pub async fn ingest_logs(
        &self,
        sekuire_id: &str,
        events: &[IncomingLogEvent],
    ) -> AppResult<u64> {
        self.agent(sekuire_id).await?;
        let now = now_ms();
        let rows = checked_events(events, now)?;
        let mut tx = super::sqlite::begin_write(&self.write).await?;
        for chunk in rows.chunks(1_000) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO event_logs (sekuire_id, session_id, event_type, severity, \
                 event_timestamp, received_at, event_data, metadata) ",
            );
            qb.push_values(chunk, |mut row, (event, at)| {
                row.push_bind(sekuire_id.to_owned())
                    .push_bind(event.session_id.clone())
                    .push_bind(event.event_type.clone())
                    .push_bind(event.severity.as_str())
                    .push_bind(*at)
                    .push_bind(now)
                    .push_bind(object(event.event_data.as_ref()))
                    .push_bind(object(event.metadata.as_ref()));
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(events.len() as u64)
    }
}

/// The events of a batch, each with its time (Unix ms; `now` when it has none), once
/// every one is valid.
pub(super) fn checked_events(
    events: &[IncomingLogEvent],
    now: i64,
) -> AppResult<Vec<(&IncomingLogEvent, i64)>> {
    let mut rows = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        if !(1..=100).contains(&event.event_type.chars().count()) {
            return Err(AppError::InvalidRequest(format!(
                "events[{i}].event_type must be 1 to 100 characters"
            )));
        }
        let at = match event.event_timestamp.as_deref() {
            Some(ts) => parse_rfc3339(ts).ok_or_else(|| {
                AppError::InvalidRequest(format!(
                    "events[{i}].event_timestamp is not an RFC 3339 time"
                ))
            })?,
            None => now,
        };
        rows.push((event, at));
    }
    Ok(rows)
}

/// An event's data or metadata as stored: the JSON text, `{}` when absent.
pub(super) fn object(v: Option<&Value>) -> String {
    v.map_or_else(|| "{}".to_owned(), Value::to_string)
}
