//! Install tokens, bootstrap, and the lease/heartbeat that carries lifecycle commands to
//! running instances. **[compat]**

use crate::clock::format_ms;
use crate::error::{AppError, AppResult};
use crate::extract::JsonBody;
use crate::request_id;
use crate::routes::agents::checked_reason;
use crate::store::{is_plain_identifier, Caller, Revoke};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Json, Router};
use fleet_protocol::{
    is_valid_sekuire_id, ApiError, BootstrapRequest, BootstrapResponse, InstallToken,
    InstallTokenRequest, Installation, LeaseRequest, LeaseResponse, RefreshRequest,
    RefreshResponse, RevokeRequest, Role,
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
        .route(
            "/installations/{installation_id}/revoke",
            post(revoke_installation),
        )
        .route(
            "/installations/{installation_id}/refresh",
            post(refresh_installation),
        )
}

fn checked_installation_id(id: &str) -> AppResult<&str> {
    if is_plain_identifier(id) {
        Ok(id)
    } else {
        Err(AppError::InvalidRequest("malformed installation id".into()))
    }
}

/// Issues a single-use install token for an agent. Needs `admin`, and the key's own
/// workspace (`/me` names it): another workspace is `404`.
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
    if workspace_id != caller.workspace_id {
        return Err(AppError::NotFound(format!(
            "no workspace {workspace_id} for key {}; its workspace is {}",
            caller.name, caller.workspace_id
        )));
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
    let (answer, sekuire_id) = state.store.bootstrap(&body).await?;
    // The agent's count of installations changed; show it live.
    state.show_agent(&sekuire_id).await;
    Ok(Json(answer))
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
    let outcome = state
        .store
        .lease(
            checked_installation_id(&installation_id)?,
            token,
            body.status.as_deref(),
            body.heartbeat_interval_seconds,
        )
        .await?;
    if outcome.first_delivery {
        // Handing over a command may clear the agent's pending command; show that live.
        state.show_agent(&outcome.heartbeat.sekuire_id).await;
    }
    state.events.publish_heartbeat(outcome.heartbeat);
    Ok(Json(LeaseResponse {
        lease_expires_at: outcome.lease_expires_at,
        pending_command: outcome.pending_command,
        shutdown_timeout_ms: outcome.shutdown_timeout_ms,
        refreshed_token: outcome.refreshed_token,
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

/// Revokes one installation: it gets `terminate` on its next lease; the agent's other
/// installations run on. Needs `admin`; only installations of the key's workspace (another
/// workspace's is `404`). Audited; revoking a revoked installation changes nothing.
#[utoipa::path(post, path = "/api/v1/installations/{installation_id}/revoke", tag = "installations",
    params(("installation_id" = String, Path, pattern = r"^[A-Za-z0-9_-]{1,64}$")),
    request_body = RevokeRequest,
    responses((status = 200, body = Installation), (status = 403, body = ApiError),
              (status = 404, body = ApiError)))]
pub async fn revoke_installation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RevokeRequest>,
) -> AppResult<Json<Installation>> {
    caller.require_role(Role::Admin, "revoking installations")?;
    let reason = checked_reason(body.reason)?;
    let shutdown_timeout_ms = body
        .shutdown_timeout_ms
        .map(|ms| {
            u32::try_from(ms)
                .ok()
                .filter(|ms| *ms <= MAX_SHUTDOWN_TIMEOUT_MS)
                .ok_or_else(|| {
                    AppError::InvalidRequest(format!(
                        "shutdown_timeout_ms is 0 to {MAX_SHUTDOWN_TIMEOUT_MS} (an hour)"
                    ))
                })
        })
        .transpose()?;
    let (installation, audit) = state
        .store
        .revoke_installation(&Revoke {
            installation_id: checked_installation_id(&id)?,
            workspace_id: &caller.workspace_id,
            reason: reason.as_deref(),
            shutdown_timeout_ms,
            actor: &caller.name,
            request_id: &request_id::current(),
        })
        .await?;
    if let Some(entry) = audit {
        state.events.publish_audit(entry);
    }
    Ok(Json(installation))
}

/// Longest shutdown an admin may grant a revoked installation: an hour.
const MAX_SHUTDOWN_TIMEOUT_MS: u32 = 3_600_000;

/// Trades the installation's refresh token (from bootstrap) for a new runtime token; the
/// old one works until it expires. A revoked installation's tokens are not renewed (`401`).
#[utoipa::path(post, path = "/api/v1/installations/{installation_id}/refresh", tag = "installations",
    params(("installation_id" = String, Path, pattern = r"^[A-Za-z0-9_-]{1,64}$")),
    request_body = RefreshRequest,
    responses((status = 200, body = RefreshResponse), (status = 401, body = ApiError)))]
pub async fn refresh_installation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> AppResult<Json<RefreshResponse>> {
    Ok(Json(
        state
            .store
            .refresh_runtime_token(checked_installation_id(&id)?, &body.refresh_token)
            .await?,
    ))
}
