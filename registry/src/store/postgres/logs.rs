//! Agents' event logs on PostgreSQL.

use super::PostgresStore;
use crate::error::AppResult;
use serde_json::Value;
use sqlx::PgConnection;
use fleet_protocol::{IncomingLogEvent, LogPage};
use crate::store::LogFilter;

impl PostgresStore {
    /// Writes a `lifecycle` line inside `tx`: only the registry writes those.
    pub(super) async fn append_registry_log(
        tx: &mut PgConnection,
        sekuire_id: &str,
        at: i64,
        event_data: &Value,
        metadata: &Value,
    ) -> AppResult<()> {
        sqlx::query(
            "INSERT INTO event_logs (sekuire_id, event_type, severity, event_timestamp, \
             received_at, event_data, metadata) VALUES ($1, $2, 'info', $3, $3, $4, $5)",
        )
        .bind(sekuire_id)
        .bind(crate::routes::logs::LIFECYCLE_EVENT_TYPE)
        .bind(at)
        .bind(event_data.to_string())
        .bind(metadata.to_string())
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    pub async fn list_logs(&self, _sekuire_id: &str, _filter: &LogFilter, _limit: u32, _offset: u64) -> AppResult<LogPage> {
        unimplemented!("postgres")
    }

    pub async fn ingest_logs(&self, _sekuire_id: &str, _events: &[IncomingLogEvent]) -> AppResult<u64> {
        unimplemented!("postgres")
    }
}
