//! The API key: the check on keyed routes, and the two routes about the key itself
//! (`POST /api-keys/verify`, `GET /me`).

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sekuire_protocol::{OrgSummary, UserContextResponse, WorkspaceSummary};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{parse_body, ApiError};
use crate::fleet::{Shared, ORG_ID, WORKSPACE_ID};

pub(crate) async fn require_key(
    State(registry): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let key = request.headers().get("x-api-key");
    if key.is_some_and(|key| key.as_bytes() == registry.key.as_bytes()) {
        next.run(request).await
    } else {
        ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized").into_response()
    }
}

/// What `login.rs` sends; only the key matters here.
#[derive(Deserialize)]
struct VerifyRequest {
    api_key: Option<String>,
}

pub(crate) async fn verify_key(
    State(registry): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: VerifyRequest = parse_body(&body)?;
    Ok(Json(if request.api_key.as_deref() == Some(&registry.key) {
        json!({ "valid": true, "org_id": ORG_ID })
    } else {
        json!({ "valid": false, "error": "Invalid API Key" })
    }))
}

pub(crate) async fn me() -> Json<UserContextResponse> {
    let workspace = WorkspaceSummary {
        id: WORKSPACE_ID.into(),
        name: "Compat Workspace".into(),
        org_id: ORG_ID.into(),
    };
    Json(UserContextResponse {
        id: "user_compat".into(),
        email: "admin@compat.test".into(),
        onboarded: true,
        mfa_enabled: false,
        role: Some("admin".into()),
        full_name: Some("Compat Admin".into()),
        avatar_url: None,
        onboarding_step: 0,
        profile_completed: true,
        orgs: vec![OrgSummary {
            id: ORG_ID.into(),
            slug: "compat".into(),
            workspaces: vec![workspace.clone()],
        }],
        workspaces: vec![workspace],
    })
}
