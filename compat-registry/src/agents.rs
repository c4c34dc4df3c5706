//! The agent routes: search (`GET /agents`), status (`GET /agents/{id}`), and the lifecycle
//! actions (`POST /agents/{id}/pause|resume|terminate`).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use sekuire_protocol::{AgentResponse, VerificationStatus};
use serde::{Deserialize, Serialize};

use crate::error::{parse_body, ApiError};
use crate::fleet::{timestamp, Agent, Registry, RuntimeStatus, Shared};

/// Longest lifecycle reason accepted, in characters.
const MAX_REASON_CHARS: usize = 1000;

/// `GET /agents/{id}`: the `AgentResponse` fields plus the runtime fields `sekuire agent-status`
/// reads (sekuire-cli 0.2.11, `src/commands/status_cmd.rs`: `runtime_status`,
/// `last_heartbeat_at`, `pending_command`). `sekuire verify` reads the same answer as a plain
/// `AgentResponse`.
#[derive(Serialize)]
pub(crate) struct AgentStatusResponse {
    #[serde(flatten)]
    agent: AgentResponse,
    runtime_status: RuntimeStatus,
    last_heartbeat_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_command: Option<&'static str>,
}

/// What `search.rs` sends that this registry knows; `tags`, `category` and anything else are
/// ignored, as a registry that does not know them would.
#[derive(Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    verification_status: Option<VerificationStatus>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub(crate) struct AgentList {
    agents: Vec<AgentResponse>,
}

pub(crate) async fn list_agents(
    State(registry): State<Shared>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<AgentList>, ApiError> {
    let Query(query) = query?;
    let needle = query.q.unwrap_or_default().to_lowercase();
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let fleet = registry.fleet();
    let mut found: Vec<&Agent> = fleet
        .agents
        .values()
        .filter(|a| {
            a.name.to_lowercase().contains(&needle)
                || a.sekuire_id.to_lowercase().starts_with(&needle)
        })
        .filter(|a| {
            query
                .verification_status
                .as_ref()
                .is_none_or(|status| *status == a.verification_status)
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name).then(a.sekuire_id.cmp(&b.sekuire_id)));
    let agents = found
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(100))
        .map(Agent::response)
        .collect();
    Ok(Json(AgentList { agents }))
}

pub(crate) async fn get_agent(
    State(registry): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<AgentStatusResponse>, ApiError> {
    let mut fleet = registry.fleet();
    let agent = fleet.agent(&id)?;
    Ok(Json(AgentStatusResponse {
        agent: agent.response(),
        runtime_status: agent.runtime_status,
        last_heartbeat_at: agent.last_heartbeat_at.clone(),
        pending_command: agent.pending_command,
    }))
}

/// What `lifecycle.rs` sends: `{}` or `{"reason": "..."}`.
#[derive(Default, Deserialize)]
struct LifecycleRequest {
    reason: Option<String>,
}

/// The lifecycle reply; the CLI reads only the status, so this shape is deliberately not ours.
#[derive(Serialize)]
pub(crate) struct LifecycleReply {
    success: bool,
    message: String,
}

/// `POST /agents/{id}/{action}`: `pause`, `resume` or `terminate` (anything else is the
/// same 404 as an unknown route).
pub(crate) async fn lifecycle_action(
    State(registry): State<Shared>,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<LifecycleReply>, ApiError> {
    let (command, target, done) = match action.as_str() {
        "pause" => ("pause", RuntimeStatus::Paused, "paused"),
        "resume" => ("resume", RuntimeStatus::Active, "resumed"),
        "terminate" => ("terminate", RuntimeStatus::Terminated, "terminated"),
        _ => return Err(ApiError::new(StatusCode::NOT_FOUND, "Not found")),
    };
    lifecycle(&registry, &id, &body, command, target, done)
}

/// active → paused (pause), paused → active (resume), active|paused → terminated (terminate).
/// Terminated is final. Asking for the state an agent is already in changes nothing.
fn lifecycle(
    registry: &Registry,
    id: &str,
    body: &[u8],
    command: &'static str,
    target: RuntimeStatus,
    done: &str,
) -> Result<Json<LifecycleReply>, ApiError> {
    let request: LifecycleRequest = if body.is_empty() {
        LifecycleRequest::default()
    } else {
        parse_body(body)?
    };
    if request
        .reason
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(ApiError::bad_request(format!(
            "reason must be at most {MAX_REASON_CHARS} characters"
        )));
    }
    let mut fleet = registry.fleet();
    let agent = fleet.agent(id)?;
    let message = match agent.runtime_status {
        RuntimeStatus::Terminated => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Agent is terminated and cannot {command}"),
            ))
        }
        current if current == target => format!("Agent already {done}"),
        _ => {
            agent.runtime_status = target;
            agent.pending_command = Some(command);
            agent.updated_at = Some(timestamp(Utc::now()));
            format!("Agent {done}")
        }
    };
    Ok(Json(LifecycleReply {
        success: true,
        message,
    }))
}
