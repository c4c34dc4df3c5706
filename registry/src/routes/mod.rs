//! One module per resource; `api()` merges them under `/api/v1`.

pub mod agents;
pub mod audit;
pub mod contract;
pub mod events;
pub mod fleet;
pub mod installations;
pub mod logs;
pub mod onboarding;

use crate::error::AppError;
use crate::AppState;
use axum::extract::OriginalUri;
use axum::http::Method;
use axum::routing::get;
use axum::Router;
use fleet_protocol::*;
use utoipa::OpenApi;

/// The API described by `GET /api/v1/openapi.json`, generated from the handlers above and
/// completed in [`contract`].
#[derive(OpenApi)]
#[openapi(
    info(title = "Sekuire registry", description = "Sekuire-compatible agent registry: \
        lifecycle, audit trail, event logs, installations, live events."),
    paths(
        agents::list_agents, agents::get_agent, agents::pause_agent, agents::resume_agent,
        agents::terminate_agent, agents::bulk_lifecycle, agents::list_installations,
        audit::fleet_audit, audit::agent_audit, logs::list_logs, logs::ingest_logs,
        installations::create_install_token, installations::bootstrap, installations::lease,
        installations::heartbeat, installations::revoke_installation,
        installations::refresh_installation, events::issue_ticket, events::stream_events,
        fleet::me, fleet::fleet_summary, onboarding::verify_api_key, onboarding::publish,
        onboarding::agent_reputation, onboarding::set_verification,
    ),
    components(schemas(
        Agent, AgentList, LifecycleRequest, LifecycleResponse, BulkRequest, BulkResponse,
        BulkOutcome, AuditEntry, AuditPage, ApiError, ErrorCode, UserContext, OrgSummary,
        WorkspaceSummary, KeyCheckRequest, KeyCheck, PublishRequest, PublishResponse,
        VerificationRequest, Reputation, ReputationLog, RevokeRequest, RefreshRequest,
        RefreshResponse, AuditAction, FleetSummary, LogEntry,
        LogPage, LogBatchRequest, LogBatchResponse, IncomingLogEvent, Severity,
        InstallTokenRequest, InstallToken, BootstrapRequest, BootstrapResponse, LeaseRequest,
        LeaseResponse, Installation, InstallationList, EventTicket, HeartbeatEvent,
        RuntimeStatus, VerificationStatus, Health, LifecycleAction, Role,
    )),
    modifiers(&ApiKeyScheme),
    security(("api_key" = []), ("bearer" = [])),
)]
pub struct ApiDoc;

struct ApiKeyScheme;

impl utoipa::Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route of `/api/v1`; unknown paths and methods answer in JSON.
pub fn api() -> Router<AppState> {
    Router::new()
        .merge(agents::router())
        .merge(audit::router())
        .merge(logs::router())
        .merge(installations::router())
        .merge(events::router())
        .merge(fleet::router())
        .merge(onboarding::router())
        .route("/openapi.json", get(contract::openapi_json))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// JSON 404 for any unknown path under `/api`.
pub async fn api_not_found(OriginalUri(uri): OriginalUri) -> AppError {
    AppError::NotFound(format!("no API route {}", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> AppError {
    AppError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
