//! Onboarding with Sekuire's own CLI: `login` checks a key and reads `/me`, `push`
//! registers an agent, `metrics` reads its reputation; an admin verifies what was pushed.
//! **[compat]**, except verification **[ext]**.

use crate::error::AppResult;
use crate::extract::{AgentId, JsonBody};
use crate::request_id;
use crate::routes::agents::checked_reason;
use crate::store::{check_push, Caller};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use fleet_protocol::{
    Agent, ApiError, KeyCheck, KeyCheckRequest, PublishRequest, PublishResponse, Reputation, Role,
    VerificationRequest,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-keys/verify", post(verify_api_key))
        .route("/publish", post(publish))
        .route("/agents/{id}/reputation", get(agent_reputation))
        .route("/agents/{id}/verification", post(set_verification))
}

/// The organisation every key of this registry belongs to.
pub const ORG_ID: &str = "default";

/// Checks a key without using it (`sekuire login`): `valid` and the organisation, or
/// `valid: false` with why. A bad key is an answer here, not an error, as Sekuire's
/// client expects. Limited per address like every request without a valid key.
#[utoipa::path(post, path = "/api/v1/api-keys/verify", tag = "onboarding",
    request_body = KeyCheckRequest,
    responses((status = 200, body = KeyCheck)))]
pub async fn verify_api_key(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<KeyCheckRequest>,
) -> AppResult<Json<KeyCheck>> {
    let caller = state.store.authenticate(body.api_key.trim()).await?;
    Ok(Json(match caller {
        Some(_) => KeyCheck {
            valid: true,
            org_id: Some(ORG_ID.into()),
            error: None,
        },
        None => KeyCheck {
            valid: false,
            org_id: None,
            error: Some("API key is unknown or revoked".into()),
        },
    }))
}

/// Registers a pushed agent as a draft (`verification_status: pending`), or updates its
/// name, version, description and manifest. Needs `operator`. `201` for a new agent,
/// `200` for a new version; the ID must be the manifest's hash and the signature the
/// publisher key's.
#[utoipa::path(post, path = "/api/v1/publish", tag = "onboarding",
    request_body = PublishRequest,
    responses((status = 201, body = PublishResponse, description = "a new agent"),
              (status = 200, body = PublishResponse, description = "a new version of a known agent"),
              (status = 403, body = ApiError, description = "a viewer key, or another publisher's agent"),
              (status = 409, body = ApiError, description = "the agent is terminated")))]
pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(push): JsonBody<PublishRequest>,
) -> AppResult<(StatusCode, Json<PublishResponse>)> {
    caller.require_role(Role::Operator, "pushing agents")?;
    let checked = check_push(&push)?;
    let published = state
        .store
        .publish(&push, checked, &caller.name, &request_id::current())
        .await?;
    tracing::info!(sekuire_id = %push.sekuire_id, actor = %caller.name, "agent pushed");
    state.events.publish_agent(published.agent.clone());
    state.events.publish_audit(published.audit);
    let status = if published.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(PublishResponse {
            agent: published.agent,
            created: published.created,
        }),
    ))
}

/// Reputation as `sekuire metrics` reads it. Public, as Sekuire's is: the CLI sends no key.
#[utoipa::path(get, path = "/api/v1/agents/{id}/reputation", tag = "onboarding",
    params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$")),
    responses((status = 200, body = Reputation), (status = 404, body = ApiError)))]
pub async fn agent_reputation(
    State(state): State<AppState>,
    AgentId(id): AgentId,
) -> AppResult<Json<Reputation>> {
    Ok(Json(state.store.reputation(&id).await?))
}

/// An admin's verification decision, with a reason, audited. A terminated agent's is
/// final (`409`); the status it already has changes nothing.
#[utoipa::path(post, path = "/api/v1/agents/{id}/verification", tag = "onboarding",
    params(("id" = String, Path, description = "Sekuire ID", pattern = r"^[0-9a-f]{1,64}$")),
    request_body = VerificationRequest,
    responses((status = 200, body = Agent), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError, description = "the agent is terminated")))]
pub async fn set_verification(
    State(state): State<AppState>,
    caller: Caller,
    AgentId(id): AgentId,
    JsonBody(body): JsonBody<VerificationRequest>,
) -> AppResult<Json<Agent>> {
    caller.require_role(Role::Admin, "verifying agents")?;
    let reason = checked_reason(body.reason)?;
    let (agent, audit) = state
        .store
        .set_verification(
            &id,
            body.status,
            reason.as_deref(),
            &caller.name,
            &request_id::current(),
        )
        .await?;
    if let Some(entry) = audit {
        state.events.publish_agent(agent.clone());
        state.events.publish_audit(entry);
    }
    Ok(Json(agent))
}
