//! `/agents/{id}/logs`: an agent's event log, read and batch ingest. **[compat]**

use crate::error::{AppError, AppResult};
use crate::extract::{time_param, AgentId, ApiQuery, JsonBody};
use crate::routes::agents::page_limit;
use crate::store::{Caller, LogFilter};
use crate::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use fleet_protocol::{ApiError, LogBatchRequest, LogBatchResponse, LogPage, Role};
use serde::Deserialize;

/// The event type of the lines the registry writes for state changes, pushes and revokes.
pub const LIFECYCLE_EVENT_TYPE: &str = "lifecycle";

/// True for a character an event type may not hold, because it hides or disguises what
/// the type says: control characters, bidirectional formatting and zero-width characters.
/// `contract.rs` publishes the same set as the event type's pattern.
pub fn hides_in_event_type(c: char) -> bool {
    c.is_control()
        || fleet_protocol::is_disguising_char(c)
        || matches!(c, '\u{200B}'..='\u{200D}' | '\u{FEFF}')
}

/// Most events one batch may carry.
const MAX_BATCH_EVENTS: usize = 1_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agents/{id}/logs", get(list_logs))
        .route("/agents/{id}/logs/batch", post(ingest_logs))
}

/// Query of an agent's event log, as Sekuire's API takes it.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Default 50; values above 500 are served as 500.
    #[param(minimum = 1, maximum = 4294967295_u64)]
    limit: Option<u32>,
    #[param(minimum = 0, maximum = 18446744073709551615_u64)]
    offset: Option<u64>,
    event_type: Option<String>,
    #[param(pattern = r"^(debug|info|warn|error)?$")]
    severity: Option<String>,
    #[param(format = DateTime)]
    start_time: Option<String>,
    #[param(format = DateTime)]
    end_time: Option<String>,
}

/// An agent's event log, newest first; lifecycle changes appear as `event_type: "lifecycle"`.
#[utoipa::path(get, path = "/api/v1/agents/{id}/logs", params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$"), LogQuery), tag = "logs",
    responses((status = 200, body = LogPage), (status = 404, body = ApiError)))]
pub async fn list_logs(
    State(state): State<AppState>,
    _caller: Caller,
    AgentId(id): AgentId,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> AppResult<Json<LogPage>> {
    let severity = match query.severity.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse().map_err(|_| {
            AppError::InvalidRequest(format!(
                "severity must be debug, info, warn or error, got `{s}`"
            ))
        })?),
        None => None,
    };
    let filter = LogFilter {
        event_type: query.event_type.filter(|t| !t.is_empty()),
        severity,
        start_ms: time_param("start_time", query.start_time.as_deref())?,
        end_ms: time_param("end_time", query.end_time.as_deref())?,
    };
    let page = state
        .store
        .list_logs(
            &id,
            &filter,
            page_limit(query.limit)?,
            query.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(page))
}

/// Ingests SDK events for an agent, all or none. Needs `operator`: a viewer key only reads.
/// `lifecycle` lines are the registry's own record of state changes; a batch cannot write
/// one.
#[utoipa::path(post, path = "/api/v1/agents/{id}/logs/batch", params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$")), tag = "logs",
    request_body = LogBatchRequest,
    responses((status = 200, body = LogBatchResponse), (status = 400, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn ingest_logs(
    State(state): State<AppState>,
    caller: Caller,
    AgentId(id): AgentId,
    JsonBody(batch): JsonBody<LogBatchRequest>,
) -> AppResult<Json<LogBatchResponse>> {
    caller.require_role(Role::Operator, "writing event logs")?;
    if batch.events.len() > MAX_BATCH_EVENTS {
        return Err(AppError::InvalidRequest(format!(
            "a batch holds at most {MAX_BATCH_EVENTS} events"
        )));
    }
    if let Some(i) = batch.events.iter().position(|e| {
        e.event_type
            .trim()
            .eq_ignore_ascii_case(LIFECYCLE_EVENT_TYPE)
            || e.event_type.chars().any(hides_in_event_type)
    }) {
        return Err(AppError::InvalidRequest(format!(
            "events[{i}].event_type: `{LIFECYCLE_EVENT_TYPE}` lines are written only by the \
             registry, and an event type holds no control or invisible characters"
        )));
    }
    let events_logged = state.store.ingest_logs(&id, &batch.events).await?;
    Ok(Json(LogBatchResponse {
        success: true,
        events_logged,
        errors: Vec::new(),
    }))
}
