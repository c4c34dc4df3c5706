//! `/me` and `/fleet/summary`. **[ext]**

use crate::error::AppResult;
use crate::routes::onboarding::ORG_ID;
use crate::store::Caller;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use fleet_protocol::{ApiError, FleetSummary, OrgSummary, UserContext, WorkspaceSummary};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/fleet/summary", get(fleet_summary))
}

/// Who the key belongs to: its name and role, in Sekuire's user shape with the key's
/// organisation and workspace (`sekuire login` takes the first workspace as its default).
#[utoipa::path(get, path = "/api/v1/me", tag = "fleet",
    responses((status = 200, body = UserContext), (status = 401, body = ApiError)))]
pub async fn me(caller: Caller) -> Json<UserContext> {
    Json(UserContext {
        id: format!("key:{}", caller.name),
        email: String::new(),
        full_name: Some(caller.name.clone()),
        avatar_url: None,
        onboarded: true,
        mfa_enabled: false,
        onboarding_step: 0,
        profile_completed: true,
        orgs: vec![OrgSummary {
            id: ORG_ID.into(),
            slug: ORG_ID.into(),
        }],
        workspaces: vec![WorkspaceSummary {
            id: caller.workspace_id.clone(),
            name: caller.workspace_id,
            org_id: ORG_ID.into(),
        }],
        name: caller.name,
        role: caller.role,
    })
}

/// Counts by runtime state, health and verification, and a reputation histogram.
#[utoipa::path(get, path = "/api/v1/fleet/summary", tag = "fleet",
    responses((status = 200, body = FleetSummary), (status = 401, body = ApiError)))]
pub async fn fleet_summary(
    State(state): State<AppState>,
    _caller: Caller,
) -> AppResult<Json<FleetSummary>> {
    Ok(Json(state.store.fleet_summary().await?))
}
