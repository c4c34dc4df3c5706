//! Event logs on PostgreSQL: what SDKs report, plus a `lifecycle` line for every state change.

use super::PostgresStore;
use crate::clock::now_ms;
use crate::error::AppResult;
use crate::store::logs::{checked_events, object, push_log_filter, LogRow};
use crate::store::LogFilter;
use fleet_protocol::{IncomingLogEvent, LogEntry, LogPage};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};

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

    /// A page of an agent's event log, newest first, by limit and offset as Sekuire's API does.
    pub async fn list_logs(
        &self,
        sekuire_id: &str,
        filter: &LogFilter,
        limit: u32,
        offset: u64,
    ) -> AppResult<LogPage> {
        self.agent(sekuire_id).await?;
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM event_logs");
        push_log_filter(&mut count, sekuire_id, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut page = QueryBuilder::<Postgres>::new("SELECT * FROM event_logs");
        push_log_filter(&mut page, sekuire_id, filter);
        page.push(" ORDER BY event_timestamp DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit))
            .push(" OFFSET ")
            .push_bind(offset.min(i64::MAX as u64) as i64);
        let rows: Vec<LogRow> = page.build_query_as().fetch_all(&self.pool).await?;
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

    /// Stores a batch of SDK events for an agent, all or none: one statement over arrays,
    /// rows in the batch's order.
    pub async fn ingest_logs(
        &self,
        sekuire_id: &str,
        events: &[IncomingLogEvent],
    ) -> AppResult<u64> {
        self.agent(sekuire_id).await?;
        let now = now_ms();
        let rows = checked_events(events, now)?;
        let column =
            |f: fn(&(&IncomingLogEvent, i64)) -> String| rows.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO event_logs (sekuire_id, session_id, event_type, severity, \
             event_timestamp, received_at, event_data, metadata) \
             SELECT $1, e.session_id, e.event_type, e.severity, e.at, $2, e.event_data, e.metadata \
             FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[]) \
             AS e (session_id, event_type, severity, at, event_data, metadata)",
        )
        .bind(sekuire_id)
        .bind(now)
        .bind(
            rows.iter()
                .map(|(e, _)| e.session_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(column(|(e, _)| e.event_type.clone()))
        .bind(column(|(e, _)| e.severity.as_str().to_owned()))
        .bind(rows.iter().map(|(_, at)| *at).collect::<Vec<_>>())
        .bind(column(|(e, _)| object(e.event_data.as_ref())))
        .bind(column(|(e, _)| object(e.metadata.as_ref())))
        .execute(&self.pool)
        .await?;
        Ok(events.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{secret_hash, AuditFilter, LifecycleCommand, LogFilter, NewAgent, Store};
    use fleet_protocol::{AuditAction, IncomingLogEvent, LifecycleAction, Severity};

    /// Lifecycle commands, log batches, then every read of logs and audit, as text.
    async fn scenario(store: &Store) -> Vec<String> {
        let id = secret_hash("agent");
        let agent = NewAgent::active(id.clone(), "agent", 1_700_000_000_000);
        store.insert_agents(&[agent]).await.unwrap();
        let actions = [LifecycleAction::Pause, LifecycleAction::Resume];
        for i in 0..5 {
            let command = LifecycleCommand {
                sekuire_id: &id,
                action: actions[i % 2],
                reason: Some("test"),
                actor: ["alice", "bob"][i % 2],
                expected_revision: None,
                request_id: &format!("req-{i}"),
                at: 1_700_000_001_000 + i as i64 * 1_000,
            };
            store.apply_lifecycle(&command).await.unwrap();
        }
        let event = |event_type: &str, severity, at: Option<&str>| IncomingLogEvent {
            session_id: at.map(|_| "s1".to_owned()),
            event_type: event_type.to_owned(),
            severity,
            event_timestamp: at.map(str::to_owned),
            event_data: at.map(|_| serde_json::json!({"n": 1})),
            metadata: None,
        };
        let t = |s: u32| format!("2023-11-14T22:13:{s:02}Z");
        let batch = [
            event("tool_call", Severity::Info, Some(&t(21))),
            event("tool_call", Severity::Error, Some(&t(21))),
            event("llm", Severity::Warn, Some(&t(25))),
            event("untimed", Severity::Debug, None),
        ];
        let mut out = vec![format!("{:?}", store.ingest_logs(&id, &batch).await)];
        let bad = [
            batch[0].clone(),
            event("x", Severity::Info, Some("yesterday")),
        ];
        for (target, events) in [(&id, &bad[..]), (&secret_hash("none"), &batch[..1])] {
            let result = store.ingest_logs(target, events).await;
            out.push(format!("{:?}", result.map_err(|e| e.to_string())));
        }
        let log_filters = [
            LogFilter::default(),
            LogFilter {
                event_type: Some("tool_call".into()),
                ..LogFilter::default()
            },
            LogFilter {
                severity: Some(Severity::Info),
                start_ms: Some(1_700_000_002_000),
                end_ms: Some(1_700_000_004_000),
                ..LogFilter::default()
            },
        ];
        for filter in &log_filters {
            for (limit, offset) in [(3, 0), (3, 3), (100, 0), (2, u64::MAX)] {
                let mut page = store.list_logs(&id, filter, limit, offset).await.unwrap();
                for log in &mut page.logs {
                    log.received_at.clear();
                    if log.event_type == "untimed" {
                        log.event_timestamp.clear();
                    }
                }
                out.push(format!("{page:?}"));
            }
        }
        let audit_filters = [
            AuditFilter::default(),
            AuditFilter {
                actions: vec![AuditAction::Pause],
                ..AuditFilter::default()
            },
            AuditFilter {
                actor: Some("bob".into()),
                since_ms: Some(1_700_000_002_000),
                ..AuditFilter::default()
            },
        ];
        for filter in &audit_filters {
            let mut cursor = None;
            loop {
                let page = store
                    .list_audit(filter, 2, cursor.as_deref())
                    .await
                    .unwrap();
                out.push(format!("{page:?}"));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            for (limit, cursor) in [(2, None), (100, None), (1, Some("4")), (2, Some("x"))] {
                let plan = store.plan_audit_export(filter, limit, cursor).await;
                out.push(format!("{:?}", plan.map_err(|e| e.to_string())));
            }
        }
        out
    }

    #[tokio::test]
    async fn logs_and_audit_read_as_on_sqlite() {
        let Some((sqlite, postgres, _dir)) = super::super::fleet_list::tests::both().await else {
            return;
        };
        let expected = scenario(&sqlite).await;
        let got = scenario(&postgres).await;
        assert_eq!(got.len(), expected.len());
        for (got, expected) in got.iter().zip(&expected) {
            assert_eq!(got, expected);
        }
        assert!(got[0].contains("Ok(4)") && got[1].contains("events[1].event_timestamp"));
    }
}
