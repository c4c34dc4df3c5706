//! `/agents`: the fleet list, agent status, lifecycle commands (one and bulk), installations.

use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use crate::extract::{comma_list, AgentId, ApiQuery, IfMatch, JsonBody};
use crate::request_id;
use crate::store::{AgentFilter, Caller, LifecycleCommand};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fleet_protocol::{
    is_disguising_char, is_valid_sekuire_id, Agent, AgentList, AgentSort, ApiError, BulkOutcome,
    BulkRequest, BulkResponse, InstallationList, LifecycleAction, LifecycleRequest,
    LifecycleResponse, DEFAULT_PAGE_LIMIT, MAX_BULK_IDS, MAX_PAGE_LIMIT, MAX_REASON_CHARS,
    MAX_SEARCH_CHARS,
};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list_agents))
        .route("/agents/bulk/{action}", post(bulk_lifecycle))
        .route("/agents/{id}", get(get_agent))
        .route("/agents/{id}/pause", post(pause_agent))
        .route("/agents/{id}/resume", post(resume_agent))
        .route("/agents/{id}/terminate", post(terminate_agent))
        .route("/agents/{id}/installations", get(list_installations))
}

/// Query of the fleet list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentListQuery {
    /// Substring of the name, or prefix of the Sekuire ID; ASCII case-insensitive; spaces
    /// around it are ignored. No control characters (Unicode's Cc: U+0000–U+001F,
    /// U+007F–U+009F), which no name holds.
    #[param(max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    q: Option<String>,
    /// Comma list: `active,paused`.
    #[param(pattern = r"^((active|paused|terminated)(,(active|paused|terminated))*)?$")]
    runtime_status: Option<String>,
    /// Comma list of verification states.
    #[param(
        pattern = r"^((unverified|pending|verified|suspended)(,(unverified|pending|verified|suspended))*)?$"
    )]
    verification_status: Option<String>,
    /// Comma list: `healthy,stale,unhealthy,never`.
    #[param(pattern = r"^((healthy|stale|unhealthy|never)(,(healthy|stale|unhealthy|never))*)?$")]
    health: Option<String>,
    #[param(minimum = 0, maximum = 100)]
    min_reputation: Option<u8>,
    #[param(minimum = 0, maximum = 100)]
    max_reputation: Option<u8>,
    /// Sort key, `-` first for descending; by name when absent or empty. Its pattern is
    /// written from `fleet_protocol::SortKey` (see `contract.rs`).
    sort: Option<String>,
    /// Page size, default 50; values above 500 are served as 500.
    #[param(minimum = 1, maximum = 4294967295_u64)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as issued; any other value is a 400.
    cursor: Option<String>,
}

/// Checks a page size: default when absent, capped at the maximum, never zero.
pub fn page_limit(limit: Option<u32>) -> AppResult<u32> {
    match limit {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(0) => Err(AppError::InvalidRequest("limit must be at least 1".into())),
        Some(n) => Ok(n.min(MAX_PAGE_LIMIT)),
    }
}

fn reputation_bound(name: &str, value: Option<u8>) -> AppResult<Option<u8>> {
    match value {
        Some(v) if v > 100 => Err(AppError::InvalidRequest(format!(
            "{name} must be 0 to 100, got {v}"
        ))),
        other => Ok(other),
    }
}

impl AgentListQuery {
    fn filter(&self) -> AppResult<AgentFilter> {
        if let Some(q) = &self.q {
            let chars = q.chars().count();
            if chars > MAX_SEARCH_CHARS {
                return Err(AppError::InvalidRequest(format!(
                    "q is {chars} characters; the limit is {MAX_SEARCH_CHARS}"
                )));
            }
            // No name holds one (a push is refused), and inside the search index's phrase
            // a NUL would end it early. The whole of `q`, as the published pattern says:
            // the dashboard trims what it sends.
            if let Some(c) = q.chars().find(|c| c.is_control()) {
                return Err(AppError::InvalidRequest(format!(
                    "q holds the control character U+{:04X}; no agent's name does",
                    u32::from(c)
                )));
            }
        }
        Ok(AgentFilter {
            q: self.q.clone(),
            runtime_status: comma_list("runtime_status", self.runtime_status.as_deref())?,
            verification_status: comma_list(
                "verification_status",
                self.verification_status.as_deref(),
            )?,
            health: comma_list("health", self.health.as_deref())?,
            min_reputation: reputation_bound("min_reputation", self.min_reputation)?,
            max_reputation: reputation_bound("max_reputation", self.max_reputation)?,
        })
    }
}

/// The fleet list: filtered, sorted and paged by the registry.
#[utoipa::path(get, path = "/api/v1/agents", params(AgentListQuery), tag = "agents",
    responses((status = 200, body = AgentList), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn list_agents(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(query): ApiQuery<AgentListQuery>,
) -> AppResult<Json<AgentList>> {
    let sort = match query.sort.as_deref() {
        Some(s) if !s.is_empty() => s.parse().map_err(AppError::InvalidRequest)?,
        _ => AgentSort::default(),
    };
    let list = state
        .store
        .list_agents(
            &query.filter()?,
            sort,
            page_limit(query.limit)?,
            query.cursor.as_deref().filter(|c| !c.is_empty()),
        )
        .await?;
    Ok(Json(list))
}

fn with_etag(revision: i64, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Agent status: every field `sekuire agent-status` prints, and more; with the manifest
/// and publisher key of the last push.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents",
    params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$")),
    responses((status = 200, body = Agent), (status = 404, body = ApiError)))]
pub async fn get_agent(
    State(state): State<AppState>,
    _caller: Caller,
    AgentId(id): AgentId,
) -> AppResult<Response> {
    let agent = state.store.agent_detail(&id).await?;
    Ok(with_etag(agent.revision, Json(agent)))
}

pub(crate) fn checked_reason(reason: Option<String>) -> AppResult<Option<String>> {
    match reason {
        Some(r) if r.chars().count() > MAX_REASON_CHARS => Err(AppError::InvalidRequest(format!(
            "reason is {} characters; the limit is {MAX_REASON_CHARS}",
            r.chars().count()
        ))),
        Some(r) if r.chars().any(is_disguising_char) => Err(AppError::InvalidRequest(
            "reason holds a control or bidirectional formatting character (such as U+202E); \
             write it as plain text"
                .into(),
        )),
        Some(r) if r.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// Applies one lifecycle command, publishes the change, and answers like the spec says.
async fn run_lifecycle(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: LifecycleAction,
    expected_revision: Option<i64>,
    reason: Option<&str>,
) -> AppResult<LifecycleResponse> {
    let request_id = request_id::current();
    let outcome = state
        .store
        .apply_lifecycle(&LifecycleCommand {
            sekuire_id: id,
            action,
            reason,
            actor: &caller.name,
            expected_revision,
            request_id: &request_id,
            at: now_ms(),
        })
        .await?;
    let audit_id = outcome.audit.as_ref().map(|a| a.id);
    if let Some(entry) = outcome.audit {
        tracing::info!(sekuire_id = %id, action = %action, actor = %caller.name, audit_id = entry.id, "lifecycle change");
        state.events.publish_agent(outcome.agent.clone());
        state.events.publish_audit(entry);
    }
    Ok(LifecycleResponse {
        changed: audit_id.is_some(),
        agent: outcome.agent,
        audit_id,
    })
}

async fn lifecycle(
    state: AppState,
    caller: Caller,
    id: String,
    if_match: Option<i64>,
    request: LifecycleRequest,
    action: LifecycleAction,
) -> AppResult<Response> {
    caller.require_action(action)?;
    let reason = checked_reason(request.reason)?;
    let response = run_lifecycle(&state, &caller, &id, action, if_match, reason.as_deref()).await?;
    Ok(with_etag(response.agent.revision, Json(response)))
}

/// `sekuire stop`: the agent takes no new tasks; heartbeats go on. Needs `operator`.
#[utoipa::path(post, path = "/api/v1/agents/{id}/pause", tag = "lifecycle",
    params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$"),
           ("If-Match" = Option<String>, Header, description = "Revision the caller saw: `\"17\"`, `W/\"17\"`, `17` or `*`", pattern = r#"^(\*|(W/)?("[0-9]{1,18}"|[0-9]{1,18}))$"#)),
    request_body = LifecycleRequest,
    responses((status = 200, body = LifecycleResponse), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError),
              (status = 412, body = ApiError)))]
pub async fn pause_agent(
    State(state): State<AppState>,
    caller: Caller,
    AgentId(id): AgentId,
    IfMatch(rev): IfMatch,
    JsonBody(body): JsonBody<LifecycleRequest>,
) -> AppResult<Response> {
    lifecycle(state, caller, id, rev, body, LifecycleAction::Pause).await
}

/// `sekuire resume`: the agent takes new tasks again. Needs `operator`.
#[utoipa::path(post, path = "/api/v1/agents/{id}/resume", tag = "lifecycle",
    params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$"),
           ("If-Match" = Option<String>, Header, description = "Revision the caller saw: `\"17\"`, `W/\"17\"`, `17` or `*`", pattern = r#"^(\*|(W/)?("[0-9]{1,18}"|[0-9]{1,18}))$"#)),
    request_body = LifecycleRequest,
    responses((status = 200, body = LifecycleResponse), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError),
              (status = 412, body = ApiError)))]
pub async fn resume_agent(
    State(state): State<AppState>,
    caller: Caller,
    AgentId(id): AgentId,
    IfMatch(rev): IfMatch,
    JsonBody(body): JsonBody<LifecycleRequest>,
) -> AppResult<Response> {
    lifecycle(state, caller, id, rev, body, LifecycleAction::Resume).await
}

/// `sekuire kill`: terminates the agent for good. Needs `admin`.
#[utoipa::path(post, path = "/api/v1/agents/{id}/terminate", tag = "lifecycle",
    params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$"),
           ("If-Match" = Option<String>, Header, description = "Revision the caller saw: `\"17\"`, `W/\"17\"`, `17` or `*`", pattern = r#"^(\*|(W/)?("[0-9]{1,18}"|[0-9]{1,18}))$"#)),
    request_body = LifecycleRequest,
    responses((status = 200, body = LifecycleResponse), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError),
              (status = 412, body = ApiError)))]
pub async fn terminate_agent(
    State(state): State<AppState>,
    caller: Caller,
    AgentId(id): AgentId,
    IfMatch(rev): IfMatch,
    JsonBody(body): JsonBody<LifecycleRequest>,
) -> AppResult<Response> {
    lifecycle(state, caller, id, rev, body, LifecycleAction::Terminate).await
}

/// One command for many agents; each succeeds or fails on its own.
#[utoipa::path(post, path = "/api/v1/agents/bulk/{action}", tag = "lifecycle",
    params(("action" = String, Path, description = "pause, resume or terminate; anything else is a 404")),
    request_body = BulkRequest,
    responses((status = 200, body = BulkResponse), (status = 400, body = ApiError),
              (status = 403, body = ApiError), (status = 404, body = ApiError, description = "no such bulk action")))]
pub async fn bulk_lifecycle(
    State(state): State<AppState>,
    caller: Caller,
    Path(action): Path<String>,
    JsonBody(body): JsonBody<BulkRequest>,
) -> AppResult<Json<BulkResponse>> {
    let action: LifecycleAction = action.parse().map_err(|_| {
        AppError::NotFound(format!(
            "no bulk action `{action}`; use pause, resume or terminate"
        ))
    })?;
    caller.require_action(action)?;
    if body.ids.is_empty() || body.ids.len() > MAX_BULK_IDS {
        return Err(AppError::InvalidRequest(format!(
            "ids must name 1 to {MAX_BULK_IDS} agents, got {}",
            body.ids.len()
        )));
    }
    let reason = checked_reason(body.reason)?;
    let mut results = Vec::with_capacity(body.ids.len());
    let mut outage = false;
    for id in body.ids {
        let outcome = if outage {
            // After an outage, the rest are not tried: each would wait out the database.
            Err(AppError::Internal(anyhow::anyhow!(
                "not attempted after an outage on an earlier agent"
            )))
        } else if is_valid_sekuire_id(&id) {
            run_lifecycle(&state, &caller, &id, action, None, reason.as_deref()).await
        } else {
            Err(AppError::InvalidRequest(format!(
                "`{id}` is not a Sekuire ID (1 to 64 lowercase hex characters)"
            )))
        };
        results.push(match outcome {
            Ok(done) => BulkOutcome {
                sekuire_id: id,
                ok: true,
                changed: Some(done.changed),
                error: None,
                message: None,
            },
            // Even an outage is reported per agent: the agents before it have changed, and
            // the caller must learn which.
            Err(err) => {
                let message = match &err {
                    AppError::Internal(cause) if outage => cause.to_string(),
                    AppError::Internal(cause) => {
                        outage = true;
                        let request_id = request_id::current();
                        tracing::error!(request_id = %request_id, sekuire_id = %id, error = ?cause, "bulk action failed for one agent");
                        format!("internal error; quote request id {request_id} when reporting it")
                    }
                    other => other.to_string(),
                };
                BulkOutcome {
                    sekuire_id: id,
                    ok: false,
                    changed: None,
                    error: Some(err.code()),
                    message: Some(message),
                }
            }
        });
    }
    Ok(Json(BulkResponse { results }))
}

/// The running instances of an agent, with their last lease and command delivery.
#[utoipa::path(get, path = "/api/v1/agents/{id}/installations", tag = "agents",
    params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$")),
    responses((status = 200, body = InstallationList), (status = 404, body = ApiError)))]
pub async fn list_installations(
    State(state): State<AppState>,
    _caller: Caller,
    AgentId(id): AgentId,
) -> AppResult<Json<InstallationList>> {
    Ok(Json(InstallationList {
        installations: state.store.list_installations(&id).await?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_over_a_thousand_characters_are_refused() {
        assert!(checked_reason(Some("é".repeat(1_000))).is_ok());
        assert!(checked_reason(Some("é".repeat(1_001))).is_err());
        assert_eq!(checked_reason(Some("  ".into())).unwrap(), None);
        assert!(checked_reason(Some("Paused\nby the on-call".into())).is_ok());
        assert!(checked_reason(Some("approved \u{202E}dekcah".into())).is_err());
        assert!(checked_reason(Some("bell\u{7}".into())).is_err());
    }

    #[test]
    fn page_limits_default_cap_and_refuse_zero() {
        assert_eq!(page_limit(None).unwrap(), 50);
        assert_eq!(page_limit(Some(10_000)).unwrap(), 500);
        assert!(page_limit(Some(0)).is_err());
    }
}
