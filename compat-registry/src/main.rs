//! A compat-only Sekuire registry, for tests.
//!
//! Sekuire's CLI and SDKs talk to a hosted registry (`https://api.sekuire.ai`) that we do not
//! run. This binary stands in for it: it answers only the requests Sekuire's published client
//! code is seen to make (`sekuire-cli` 0.2.11: `search`, `verify`, `agent-status`, `stop`,
//! `resume`, `kill`, `logs`, `login`), with bodies built from Sekuire's published types
//! (`sekuire-protocol` 0.1.2). It never uses our own `fleet-protocol` crate.
//!
//! What it leaves out, on purpose: everything our registry adds on top of Sekuire's API (list
//! totals and cursors, agent health, revisions, ETag/If-Match, live events, the audit trail,
//! the fleet summary, bulk actions, the OpenAPI document, CORS). A client that works against
//! this binary therefore relies only on what the hosted registry is known to answer. Where the
//! client code is silent (the error body, the lifecycle reply) it answers with small plain
//! shapes that are deliberately not ours.
//!
//! It keeps its fleet in memory, seeded from a JSON file at start: it is a test stand-in for a
//! registry we do not run, so nothing outlives the process.
//!
//! Routes, all under `/api/v1` (those marked *key* need `X-API-Key: <--key>`, else 401):
//!
//! | Route | Answer | Client code |
//! |---|---|---|
//! | `POST /api-keys/verify` | `{"valid", "org_id"}` or `{"valid": false, "error"}` | `login.rs` |
//! | `GET /me` *key* | `UserContextResponse` | `services/auth.rs` |
//! | `GET /agents?q&verification_status&limit` | `{"agents": [AgentResponse]}` | `search.rs` (sends no key) |
//! | `GET /agents/{id}` | `AgentResponse` + runtime fields | `status_cmd.rs`; `verify.rs` (no key) |
//! | `POST /agents/{id}/pause\|resume\|terminate` *key* | `{"success", "message"}` | `lifecycle.rs` |
//! | `GET /agents/{id}/logs?limit&offset&event_type&severity&session_id` *key* | `GetLogsResponse` | `logs.rs` |
//! | `POST /agents/{id}/logs/batch` *key* | `LogEventResponse` | `LogEventRequest` |

use std::collections::BTreeMap;
use std::io::Write;
use std::mem::discriminant;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use clap::Parser;
use sekuire_protocol::{
    AgentEventLogResponse, AgentResponse, EventType, GetLogsQuery, GetLogsResponse,
    LogEventRequest, LogEventResponse, OrgSummary, Severity, UserContextResponse,
    VerificationStatus, WorkspaceSummary,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The one organization and workspace the API key belongs to.
const ORG_ID: &str = "org_compat";
const WORKSPACE_ID: &str = "ws_compat";
/// Longest lifecycle reason accepted, in characters.
const MAX_REASON_CHARS: usize = 1000;

#[derive(Parser)]
#[command(
    name = "sekuire-compat-registry",
    about = "Test stand-in for Sekuire's hosted registry"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// The one API key accepted (header `X-API-Key`).
    #[arg(long)]
    key: String,
    /// JSON array of agents to start with.
    #[arg(long)]
    fleet: PathBuf,
}

/// One agent in the `--fleet` file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    sekuire_id: String,
    name: String,
    version: String,
    #[serde(default)]
    description: Option<String>,
    verification_status: VerificationStatus,
    reputation_score: i32,
    runtime_status: RuntimeStatus,
    /// Hex ed25519 key, which `sekuire verify` decodes; 32 zero bytes when absent.
    #[serde(default)]
    public_key: Option<String>,
    /// `null` when absent, which `sekuire agent-status` shows as "never".
    #[serde(default)]
    last_heartbeat_at: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RuntimeStatus {
    Active,
    Paused,
    Terminated,
}

struct Agent {
    sekuire_id: String,
    name: String,
    version: String,
    description: Option<String>,
    verification_status: VerificationStatus,
    reputation_score: i32,
    public_key: String,
    created_at: String,
    updated_at: Option<String>,
    runtime_status: RuntimeStatus,
    last_heartbeat_at: Option<String>,
    pending_command: Option<&'static str>,
    /// Oldest first; answers reverse it.
    logs: Vec<AgentEventLogResponse>,
}

impl Agent {
    fn response(&self) -> AgentResponse {
        AgentResponse {
            sekuire_id: self.sekuire_id.clone(),
            public_key: self.public_key.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            created_at: self.created_at.clone(),
            verification_status: self.verification_status.clone(),
            reputation_score: self.reputation_score,
            manifest: None,
            updated_at: self.updated_at.clone(),
            publisher_user_id: None,
            publisher_email: None,
            publisher_name: None,
            publisher_org_id: Some(ORG_ID.into()),
            publisher_org_name: None,
            org_metadata: None,
            visibility: None,
            public_url: None,
            git_repository: None,
            commit_hash: None,
            tag: None,
            repository_verified: None,
            readme_content: None,
            changelog_content: None,
            code_review_status: None,
            security_score: None,
            reviewed_by: None,
            reviewed_at: None,
            review_notes: None,
        }
    }
}

/// `GET /agents/{id}`: the `AgentResponse` fields plus the runtime fields `sekuire agent-status`
/// reads (sekuire-cli 0.2.11, `src/commands/status_cmd.rs`: `runtime_status`,
/// `last_heartbeat_at`, `pending_command`). `sekuire verify` reads the same answer as a plain
/// `AgentResponse`.
#[derive(Serialize)]
struct AgentStatusResponse {
    #[serde(flatten)]
    agent: AgentResponse,
    runtime_status: RuntimeStatus,
    last_heartbeat_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_command: Option<&'static str>,
}

struct Fleet {
    agents: BTreeMap<String, Agent>,
    next_log_id: i64,
}

impl Fleet {
    fn agent(&mut self, id: &str) -> Result<&mut Agent, ApiError> {
        self.agents
            .get_mut(id)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Agent not found"))
    }
}

struct Registry {
    key: String,
    fleet: Mutex<Fleet>,
}

type Shared = Arc<Registry>;

impl Registry {
    fn new(key: String, seeds: Vec<Seed>) -> anyhow::Result<Self> {
        let now = Utc::now();
        let mut fleet = Fleet {
            agents: BTreeMap::new(),
            next_log_id: 1,
        };
        for seed in seeds {
            if fleet.agents.contains_key(&seed.sekuire_id) {
                bail!("duplicate sekuire_id in fleet: {}", seed.sekuire_id);
            }
            let logs = seed_logs(&seed.sekuire_id, now, &mut fleet.next_log_id);
            let agent = Agent {
                public_key: seed.public_key.unwrap_or_else(|| "00".repeat(32)),
                created_at: timestamp(now),
                updated_at: None,
                runtime_status: seed.runtime_status,
                last_heartbeat_at: seed.last_heartbeat_at,
                pending_command: None,
                logs,
                sekuire_id: seed.sekuire_id.clone(),
                name: seed.name,
                version: seed.version,
                description: seed.description,
                verification_status: seed.verification_status,
                reputation_score: seed.reputation_score,
            };
            fleet.agents.insert(seed.sekuire_id, agent);
        }
        Ok(Self {
            key,
            fleet: Mutex::new(fleet),
        })
    }

    fn fleet(&self) -> MutexGuard<'_, Fleet> {
        self.fleet.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Three log entries per agent, five minutes apart, the newest five minutes before start.
fn seed_logs(id: &str, now: DateTime<Utc>, next_id: &mut i64) -> Vec<AgentEventLogResponse> {
    let entries = [
        (
            EventType::ToolExecution,
            Severity::Info,
            json!({"tool": "web_search", "duration_ms": 412}),
        ),
        (
            EventType::ModelCall,
            Severity::Debug,
            json!({"model": "gpt-4o-mini", "prompt_tokens": 812, "completion_tokens": 164}),
        ),
        (
            EventType::PolicyViolation,
            Severity::Warn,
            json!({"message": "Blocked request to an unlisted domain", "policy": "network.allowlist"}),
        ),
    ];
    entries
        .into_iter()
        .zip(1_i64..)
        .map(|((event_type, severity, event_data), n)| {
            let at = timestamp(now - TimeDelta::minutes(20 - 5 * n));
            let log = AgentEventLogResponse {
                id: *next_id,
                sekuire_id: id.to_owned(),
                session_id: format!("{id}-session-{n}"),
                workspace_id: Some(WORKSPACE_ID.into()),
                event_type,
                severity,
                event_timestamp: at.clone(),
                received_at: at,
                event_data,
                metadata: json!({"source": "compat-registry seed"}),
            };
            *next_id += 1;
            log
        })
        .collect()
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Every error is `{"error": "..."}`: the hosted error shape is unknown, so this one is plain.
struct ApiError(StatusCode, String);

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into())
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(rejection.body_text())
    }
}

/// Reads a JSON body whatever its content type says, as a lenient server would.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON body: {e}")))
}

async fn require_key(State(registry): State<Shared>, request: Request, next: Next) -> Response {
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

async fn verify_key(State(registry): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: VerifyRequest = parse_body(&body)?;
    Ok(Json(if request.api_key.as_deref() == Some(&registry.key) {
        json!({ "valid": true, "org_id": ORG_ID })
    } else {
        json!({ "valid": false, "error": "Invalid API Key" })
    }))
}

async fn me() -> Json<UserContextResponse> {
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

/// What `search.rs` sends that this registry knows; `tags`, `category` and anything else are
/// ignored, as a registry that does not know them would.
#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    verification_status: Option<VerificationStatus>,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct AgentList {
    agents: Vec<AgentResponse>,
}

async fn list_agents(
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

async fn get_agent(
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
struct LifecycleReply {
    success: bool,
    message: String,
}

#[derive(Clone, Copy)]
enum Action {
    Pause,
    Resume,
    Terminate,
}

async fn pause(
    State(registry): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<LifecycleReply>, ApiError> {
    lifecycle(&registry, &id, &body, Action::Pause)
}

async fn resume(
    State(registry): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<LifecycleReply>, ApiError> {
    lifecycle(&registry, &id, &body, Action::Resume)
}

async fn terminate(
    State(registry): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<LifecycleReply>, ApiError> {
    lifecycle(&registry, &id, &body, Action::Terminate)
}

/// active → paused (pause), paused → active (resume), active|paused → terminated (terminate).
/// Terminated is final. Asking for the state an agent is already in changes nothing.
fn lifecycle(
    registry: &Registry,
    id: &str,
    body: &[u8],
    action: Action,
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
    let (command, target, done) = match action {
        Action::Pause => ("pause", RuntimeStatus::Paused, "paused"),
        Action::Resume => ("resume", RuntimeStatus::Active, "resumed"),
        Action::Terminate => ("terminate", RuntimeStatus::Terminated, "terminated"),
    };
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

/// Filters from Sekuire's published `GetLogsQuery`; a time window is refused rather than
/// silently ignored, since no Sekuire client is seen to send one.
async fn get_logs(
    State(registry): State<Shared>,
    Path(id): Path<String>,
    query: Result<Query<GetLogsQuery>, QueryRejection>,
) -> Result<Json<GetLogsResponse>, ApiError> {
    let Query(query) = query?;
    if query.start_time.is_some() || query.end_time.is_some() {
        return Err(ApiError::bad_request(
            "start_time and end_time are not supported by this stand-in",
        ));
    }
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::bad_request("offset must not be negative"));
    }
    let mut fleet = registry.fleet();
    let agent = fleet.agent(&id)?;
    let matching: Vec<&AgentEventLogResponse> = agent
        .logs
        .iter()
        .rev()
        .filter(|log| {
            query
                .event_type
                .as_ref()
                .is_none_or(|t| discriminant(t) == discriminant(&log.event_type))
        })
        .filter(|log| {
            query
                .severity
                .as_ref()
                .is_none_or(|s| discriminant(s) == discriminant(&log.severity))
        })
        .filter(|log| {
            query
                .session_id
                .as_ref()
                .is_none_or(|s| *s == log.session_id)
        })
        .collect();
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let logs = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(100))
        .cloned()
        .collect();
    Ok(Json(GetLogsResponse {
        logs,
        total,
        limit,
        offset,
    }))
}

/// Logs the events that name the agent in the path; the others become `errors`.
async fn post_logs(
    State(registry): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<LogEventResponse>, ApiError> {
    let request: LogEventRequest = parse_body(&body)?;
    let received_at = timestamp(Utc::now());
    let mut fleet = registry.fleet();
    let mut next_id = fleet.next_log_id;
    let agent = fleet.agent(&id)?;
    let mut errors = Vec::new();
    let mut events_logged = 0;
    for (i, event) in request.events.into_iter().enumerate() {
        if event.sekuire_id != id {
            errors.push(format!(
                "events[{i}]: sekuire_id {} is not agent {id}",
                event.sekuire_id
            ));
            continue;
        }
        agent.logs.push(AgentEventLogResponse {
            id: next_id,
            sekuire_id: event.sekuire_id,
            session_id: event.session_id,
            workspace_id: event.workspace_id,
            event_type: event.event_type,
            severity: event.severity,
            event_timestamp: event.event_timestamp,
            received_at: received_at.clone(),
            event_data: event.event_data,
            metadata: event.metadata,
        });
        next_id += 1;
        events_logged += 1;
    }
    fleet.next_log_id = next_id;
    Ok(Json(LogEventResponse {
        success: errors.is_empty(),
        events_logged,
        errors,
    }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not found")
}

fn app(registry: Shared) -> Router {
    let keyed = Router::new()
        .route("/me", get(me))
        .route("/agents/{id}/pause", post(pause))
        .route("/agents/{id}/resume", post(resume))
        .route("/agents/{id}/terminate", post(terminate))
        .route("/agents/{id}/logs", get(get_logs))
        .route("/agents/{id}/logs/batch", post(post_logs))
        .route_layer(middleware::from_fn_with_state(
            registry.clone(),
            require_key,
        ));
    // The CLI's `search` and `verify` send no key, so these answer without one.
    let open = Router::new()
        .route("/api-keys/verify", post(verify_key))
        .route("/agents", get(list_agents))
        .route("/agents/{id}", get(get_agent));
    Router::new()
        .nest("/api/v1", open.merge(keyed))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(registry)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.key.is_empty() {
        bail!("--key must not be empty");
    }
    let text = std::fs::read_to_string(&args.fleet)
        .with_context(|| format!("reading {}", args.fleet.display()))?;
    let seeds: Vec<Seed> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", args.fleet.display()))?;
    let registry = Arc::new(Registry::new(args.key, seeds)?);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "Registry listening on http://{addr}")?;
        stdout.flush()?;
    }
    axum::serve(listener, app(registry)).await?;
    Ok(())
}
