//! Install tokens, bootstrap, and the lease/heartbeat that carries lifecycle commands to
//! running instances. **[compat]**

use crate::clock::format_ms;
use crate::error::{AppError, AppResult};
use crate::extract::JsonBody;
use crate::store::Caller;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use fleet_protocol::{
    is_valid_sekuire_id, ApiError, BootstrapRequest, BootstrapResponse, InstallToken,
    InstallTokenRequest, LeaseRequest, LeaseResponse, Role,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/workspaces/{ws}/install-tokens",
            post(create_install_token),
        )
        .route("/installations/bootstrap", post(bootstrap))
        .route("/installations/{installation_id}/lease", post(lease))
        .route(
            "/installations/{installation_id}/heartbeat",
            post(heartbeat),
        )
}

fn is_plain_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Issues a single-use install token for an agent. Needs `admin`.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/install-tokens", tag = "installations",
    params(("ws" = String, Path, description = "Workspace id", pattern = r"^[A-Za-z0-9_-]{1,64}$")),
    request_body = InstallTokenRequest,
    responses((status = 200, body = InstallToken), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError, description = "the agent is terminated")))]
pub async fn create_install_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(workspace_id): Path<String>,
    JsonBody(body): JsonBody<InstallTokenRequest>,
) -> AppResult<Json<InstallToken>> {
    caller.require_role(Role::Admin, "issuing install tokens")?;
    if !is_plain_identifier(&workspace_id) {
        return Err(AppError::InvalidRequest(
            "a workspace id is 1 to 64 letters, digits, - or _".into(),
        ));
    }
    let sekuire_id = body
        .sekuire_id
        .or(body.agent_id)
        .filter(|id| is_valid_sekuire_id(id))
        .ok_or_else(|| {
            AppError::InvalidRequest("sekuire_id (or agent_id) must name an agent".into())
        })?;
    let (token, expires_at) = state
        .store
        .create_install_token(
            &workspace_id,
            &sekuire_id,
            body.expiry_minutes,
            &caller.name,
        )
        .await?;
    Ok(Json(InstallToken {
        token,
        expires_at: format_ms(expires_at),
        workspace_id,
        agent_id: sekuire_id,
    }))
}

/// Trades an install token (in the body; no key) for runtime credentials. Works once.
#[utoipa::path(post, path = "/api/v1/installations/bootstrap", tag = "installations",
    request_body = BootstrapRequest,
    responses((status = 200, body = BootstrapResponse), (status = 401, body = ApiError)))]
pub async fn bootstrap(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<BootstrapRequest>,
) -> AppResult<Json<BootstrapResponse>> {
    Ok(Json(state.store.bootstrap(&body).await?))
}

fn runtime_token(headers: &HeaderMap) -> AppResult<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthorized(
            "send the runtime token as Authorization: Bearer <token>",
        ))
}

async fn renew(
    state: AppState,
    installation_id: String,
    headers: HeaderMap,
    body: LeaseRequest,
) -> AppResult<Json<LeaseResponse>> {
    let token = runtime_token(&headers)?;
    if !is_plain_identifier(&installation_id) {
        return Err(AppError::InvalidRequest("malformed installation id".into()));
    }
    let outcome = state
        .store
        .lease(
            &installation_id,
            token,
            body.status.as_deref(),
            body.heartbeat_interval_seconds,
        )
        .await?;
    if outcome.pending_command.is_some() {
        // Handing over a command may clear the agent's pending command; show that live.
        let agent = state.store.agent(&outcome.heartbeat.sekuire_id).await?;
        state.events.publish_agent(agent);
    }
    state.events.publish_heartbeat(outcome.heartbeat);
    Ok(Json(LeaseResponse {
        lease_expires_at: outcome.lease_expires_at,
        pending_command: outcome.pending_command,
    }))
}

/// Renews the lease, records a heartbeat, and hands over a pending command.
#[utoipa::path(post, path = "/api/v1/installations/{installation_id}/lease", tag = "installations",
    params(("installation_id" = String, Path, pattern = r"^[A-Za-z0-9_-]{1,64}$")),
    request_body = LeaseRequest,
    responses((status = 200, body = LeaseResponse), (status = 401, body = ApiError)))]
pub async fn lease(
    State(state): State<AppState>,
    Path(installation_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LeaseRequest>,
) -> AppResult<Json<LeaseResponse>> {
    renew(state, installation_id, headers, body).await
}

/// The documented heartbeat variant of the lease; same answer.
#[utoipa::path(post, path = "/api/v1/installations/{installation_id}/heartbeat", tag = "installations",
    params(("installation_id" = String, Path, pattern = r"^[A-Za-z0-9_-]{1,64}$")),
    request_body = LeaseRequest,
    responses((status = 200, body = LeaseResponse), (status = 401, body = ApiError)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    Path(installation_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LeaseRequest>,
) -> AppResult<Json<LeaseResponse>> {
    renew(state, installation_id, headers, body).await
}
