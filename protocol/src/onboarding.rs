//! Bodies of onboarding: how Sekuire's own CLI signs in (`login`), registers an agent
//! (`push`), reads its reputation (`metrics`), and how an admin reviews what was pushed.
//! Shapes marked **[compat]** are those of `sekuire-cli` 0.2.11 and `sekuire-protocol`
//! 0.1.2 (`UserContextResponse`, `ReputationResponse`, `LogEventResponse`).

use crate::whole_number::optional_whole_number;
use crate::{Role, VerificationStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Body of `POST /api/v1/api-keys/verify`, sent by `sekuire login`. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct KeyCheckRequest {
    pub api_key: String,
    #[serde(default)]
    pub device_fingerprint: Option<String>,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub device_os: Option<String>,
}

/// Answer of `POST /api/v1/api-keys/verify`: `valid` and the organisation, or why not.
/// **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct KeyCheck {
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An organisation in `/me`. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OrgSummary {
    pub id: String,
    pub slug: String,
}

/// A workspace in `/me`; the CLI takes the first as its default. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WorkspaceSummary {
    pub id: String,
    pub name: String,
    pub org_id: String,
}

/// `GET /api/v1/me`: Sekuire's `UserContextResponse`, with the key's `name` and `role`
/// beside it **[ext]**. A key is not a person, so `email` is empty and the onboarding
/// fields say "done". The dashboard reads only the [`crate::Me`] part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UserContext {
    /// The key's name; the audit trail's actor. **[ext]**
    pub name: String,
    pub role: Role,
    pub id: String,
    pub email: String,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
    pub onboarded: bool,
    pub mfa_enabled: bool,
    pub onboarding_step: i32,
    pub profile_completed: bool,
    pub orgs: Vec<OrgSummary>,
    pub workspaces: Vec<WorkspaceSummary>,
}

/// Body of `POST /api/v1/publish`, sent by `sekuire push`. **[compat]**
///
/// `signature` is Ed25519 (hex) over the ASCII bytes of `sekuire_id`, by `public_key`
/// (hex, 32 bytes). `sekuire_id` must be the BLAKE3 hash of the manifest's
/// `identity.model`, `system_prompt_hash` and `tools_hash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PublishRequest {
    /// Sekuire's manifest: `project {name, version, description?}`, `identity {model,
    /// system_prompt_hash, tools_hash, …}` and any other sections, kept as sent.
    pub manifest: Value,
    pub sekuire_id: String,
    pub signature: String,
    pub public_key: String,
    #[serde(default)]
    pub publisher_org_id: Option<String>,
    #[serde(default)]
    pub visibility: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// Answer of a push: the agent as stored, and whether it was new. **[ext]**; the CLI
/// reads only the status code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PublishResponse {
    pub agent: crate::Agent,
    pub created: bool,
}

/// Body of `POST /api/v1/agents/{id}/verification` (admin). **[ext]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VerificationRequest {
    /// `verified`, `suspended` or `unverified`; `pending` is where a push starts.
    pub status: VerificationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000))]
    pub reason: Option<String>,
}

/// A rating in the reputation's recent history. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReputationLog {
    pub id: String,
    pub task_hash: String,
    pub rating: i32,
    pub comment: Option<String>,
    pub timestamp: String,
}

/// `GET /api/v1/agents/{id}/reputation`, read by `sekuire metrics`. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Reputation {
    pub score: i32,
    /// SDK events whose type starts with `task`.
    pub task_count: i32,
    /// `verified` once an admin verified the agent.
    pub verification_badge: Option<String>,
    /// Ratings; this registry takes none yet, so the list is empty.
    pub recent_logs: Vec<ReputationLog>,
}

/// Body of `POST /api/v1/installations/{installation_id}/revoke` (admin). **[ext]**
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RevokeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000))]
    pub reason: Option<String>,
    /// How long the instance may take to stop, passed on with `terminate`.
    #[serde(
        default,
        deserialize_with = "optional_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 3600000))]
    pub shutdown_timeout_ms: Option<i64>,
}

/// Body of `POST /api/v1/installations/{installation_id}/refresh`. **[ext]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A new runtime token; the previous one keeps working until it expires. **[ext]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefreshResponse {
    pub runtime_token: String,
    pub expires_at: String,
}
