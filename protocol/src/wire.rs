//! JSON bodies of the registry API. Field names are the wire names; timestamps are
//! RFC 3339 strings in UTC. Fields marked **[compat]** are read by Sekuire's own client.
//! Each type carries the constraints the OpenAPI document publishes. Onboarding bodies
//! are in `onboarding.rs`, an installation's (tokens, bootstrap, leases) in
//! `installations.rs`.

use crate::{AuditAction, Health, LifecycleAction, Role, RuntimeStatus, VerificationStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// An agent as `GET /api/v1/agents/{id}` and the fleet list return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Agent {
    pub sekuire_id: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    pub runtime_status: RuntimeStatus,
    pub verification_status: VerificationStatus,
    pub reputation_score: u8,
    /// Always present; `null` when the agent never sent a heartbeat. **[compat]**
    pub last_heartbeat_at: Option<String>,
    /// Set while an installation has not yet picked up the last lifecycle command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_command: Option<LifecycleAction>,
    pub health: Health,
    /// Interval the health is judged against, in seconds. **[ext]**
    pub heartbeat_interval_seconds: i64,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub status_changed_at: Option<String>,
    #[serde(default)]
    pub status_changed_by: Option<String>,
    pub installations: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Increases on every change; also the `ETag`. **[ext]**
    pub revision: i64,
    /// The manifest of the last push; only `GET /agents/{id}` sends it. **[compat]**
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Value>,
    /// Hex Ed25519 key that signed the last push; only `GET /agents/{id}`. **[ext]**
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_key: Option<String>,
}

/// A page of the fleet list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AgentList {
    pub agents: Vec<Agent>,
    /// Every match of the filter, not just this page; when `total_exact` is false, the
    /// registry stopped counting here and more match. Ours stops at 10,000
    /// ([`TOTAL_COUNT_CAP`]), or at 1,000 for a text search (`q`).
    pub total: u64,
    /// [ext] False when `total` is a lower bound: counting every match of a broad filter
    /// over a large fleet would cost more than the page. Absent means exact.
    #[serde(default = "exact", skip_serializing_if = "is_exact")]
    pub total_exact: bool,
    /// Absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Where our registry stops counting a list's matches (`AgentList::total_exact`) when it
/// has no text search.
pub const TOTAL_COUNT_CAP: u64 = 10_000;

fn exact() -> bool {
    true
}

fn is_exact(exact: &bool) -> bool {
    *exact
}

/// Body of pause, resume and terminate. Sekuire's client sends `{}` or `{"reason": …}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LifecycleRequest {
    /// Why; plain text of at most 1,000 characters (line breaks and tabs allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000))]
    pub reason: Option<String>,
}

/// Answer to a lifecycle command. **[ext]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LifecycleResponse {
    pub agent: Agent,
    /// False when the agent already was in the requested state.
    pub changed: bool,
    /// The audit entry written; absent for a no-op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<i64>,
}

/// Body of `POST /api/v1/agents/bulk/{action}`. **[ext]**
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkRequest {
    /// The agents; an id that is not a Sekuire ID fails on its own, in the results.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub ids: Vec<String>,
    /// As for one agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000))]
    pub reason: Option<String>,
}

/// What happened to one agent of a bulk request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkOutcome {
    pub sekuire_id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Answer to a bulk request: one outcome per requested id, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkResponse {
    pub results: Vec<BulkOutcome>,
}

/// One line of the audit trail. Append-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: AuditAction,
    pub sekuire_id: String,
    pub agent_name: String,
    /// A runtime status; a verification status for `verify`; an installation's status
    /// for `revoke`.
    pub from_status: String,
    pub to_status: String,
    pub reason: Option<String>,
    pub request_id: String,
    /// The installation a `revoke` stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<String>,
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The `error` field of every error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    InvalidTransition,
    PreconditionFailed,
    PayloadTooLarge,
    RateLimited,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 10] = [
        Self::InvalidRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::InvalidTransition,
        Self::PreconditionFailed,
        Self::PayloadTooLarge,
        Self::RateLimited,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::InvalidTransition => "invalid_transition",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status this code is sent with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::InvalidTransition => 409,
            Self::PreconditionFailed => 412,
            Self::PayloadTooLarge => 413,
            Self::RateLimited => 429,
            Self::Internal => 500,
        }
    }
}

/// Every error the registry sends, whatever went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiError {
    pub error: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What the dashboard reads of `GET /api/v1/me` ([`crate::UserContext`]): the key's
/// name and role **[ext]**, and its workspaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Me {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub workspaces: Vec<crate::WorkspaceSummary>,
}

/// `GET /api/v1/fleet/summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FleetSummary {
    pub total: u64,
    pub runtime_status: BTreeMap<RuntimeStatus, u64>,
    pub health: BTreeMap<Health, u64>,
    pub verification_status: BTreeMap<VerificationStatus, u64>,
    /// Ten buckets: 0–9, 10–19, …, 90–100.
    pub reputation_histogram: Vec<u64>,
}

/// Severity of an event log entry. **[compat]**
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Debug, Self::Info, Self::Warn, Self::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// One entry of an agent's event log. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogEntry {
    pub id: i64,
    pub sekuire_id: String,
    pub session_id: Option<String>,
    pub event_type: String,
    pub severity: Severity,
    pub event_timestamp: String,
    pub received_at: String,
    pub event_data: Value,
    pub metadata: Value,
}

/// A page of an agent's event log. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogPage {
    pub logs: Vec<LogEntry>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// An event as an SDK sends it in a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IncomingLogEvent {
    #[serde(default)]
    pub session_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub event_type: String,
    #[serde(default)]
    pub severity: Severity,
    /// When the event happened; the time of receipt when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub event_timestamp: Option<String>,
    #[serde(default)]
    pub event_data: Option<Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// Body of `POST /api/v1/agents/{id}/logs/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogBatchRequest {
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub events: Vec<IncomingLogEvent>,
}

/// Answer to a log batch, in Sekuire's `LogEventResponse` shape. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogBatchResponse {
    pub success: bool,
    pub events_logged: u64,
    /// Always empty: a batch is stored whole or refused with a 400 that names the event.
    pub errors: Vec<String>,
}

/// A single-use ticket that opens the event stream without putting a key in a URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EventTicket {
    pub ticket: String,
    pub expires_at: String,
}

/// Payload of the `heartbeat` event of the live stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HeartbeatEvent {
    pub sekuire_id: String,
    pub last_heartbeat_at: String,
    pub health: Health,
}

/// Names of the live stream's events.
pub mod event_names {
    pub const AGENT: &str = "agent";
    pub const HEARTBEAT: &str = "heartbeat";
    pub const AUDIT: &str = "audit";
}
