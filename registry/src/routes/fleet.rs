//! `/me` and `/fleet/summary`. **[ext]**

use crate::error::AppResult;
use crate::store::Caller;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use fleet_protocol::{ApiError, FleetSummary, Me};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/fleet/summary", get(fleet_summary))
}

/// Who the key belongs to, and its role.
#[utoipa::path(get, path = "/api/v1/me", tag = "fleet",
    responses((status = 200, body = Me), (status = 401, body = ApiError)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
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
