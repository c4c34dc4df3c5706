//! The log routes: `GET /agents/{id}/logs` and `POST /agents/{id}/logs/batch`.

use std::mem::discriminant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::Utc;
use sekuire_protocol::{
    AgentEventLogResponse, GetLogsQuery, GetLogsResponse, LogEventRequest, LogEventResponse,
};

use crate::error::{parse_body, ApiError};
use crate::fleet::{timestamp, Shared};

/// Filters from Sekuire's published `GetLogsQuery`; a time window is refused rather than
/// silently ignored, since no Sekuire client is seen to send one.
pub(crate) async fn get_logs(
    State(registry): State<Shared>,
    Path(id): Path<String>,
    query: Result<Query<GetLogsQuery>, QueryRejection>,
) -> Result<Json<GetLogsResponse>, ApiError> {
    let Query(query) = query?;
    if query.start_time.is_some() || query.end_time.is_some() {
        return Err(ApiError::bad_request(
            "start_time and end_time are not supported by this stand-in",
        ));
    }
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::bad_request("offset must not be negative"));
    }
    let mut fleet = registry.fleet();
    let agent = fleet.agent(&id)?;
    let matching: Vec<&AgentEventLogResponse> = agent
        .logs
        .iter()
        .rev()
        .filter(|log| {
            query
                .event_type
                .as_ref()
                .is_none_or(|t| discriminant(t) == discriminant(&log.event_type))
        })
        .filter(|log| {
            query
                .severity
                .as_ref()
                .is_none_or(|s| discriminant(s) == discriminant(&log.severity))
        })
        .filter(|log| {
            query
                .session_id
                .as_ref()
                .is_none_or(|s| *s == log.session_id)
        })
        .collect();
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let logs = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(100))
        .cloned()
        .collect();
    Ok(Json(GetLogsResponse {
        logs,
        total,
        limit,
        offset,
    }))
}

/// Logs the events that name the agent in the path; the others become `errors`.
pub(crate) async fn post_logs(
    State(registry): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<LogEventResponse>, ApiError> {
    let request: LogEventRequest = parse_body(&body)?;
    let received_at = timestamp(Utc::now());
    let mut fleet = registry.fleet();
    let mut next_id = fleet.next_log_id;
    let agent = fleet.agent(&id)?;
    let mut errors = Vec::new();
    let mut events_logged = 0;
    for (i, event) in request.events.into_iter().enumerate() {
        if event.sekuire_id != id {
            errors.push(format!(
                "events[{i}]: sekuire_id {} is not agent {id}",
                event.sekuire_id
            ));
            continue;
        }
        agent.logs.push(AgentEventLogResponse {
            id: next_id,
            sekuire_id: event.sekuire_id,
            session_id: event.session_id,
            workspace_id: event.workspace_id,
            event_type: event.event_type,
            severity: event.severity,
            event_timestamp: event.event_timestamp,
            received_at: received_at.clone(),
            event_data: event.event_data,
            metadata: event.metadata,
        });
        next_id += 1;
        events_logged += 1;
    }
    fleet.next_log_id = next_id;
    Ok(Json(LogEventResponse {
        success: errors.is_empty(),
        events_logged,
        errors,
    }))
}
