//! Bodies of an installation's life: the install token an admin issues, the bootstrap
//! that turns it into credentials, the leases and heartbeats that follow, and the
//! installations list of the agent page. Shapes marked **[compat]** are those Sekuire's
//! SDKs send and read.

use crate::whole_number::optional_whole_number;
use crate::LifecycleAction;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Body of `POST /api/v1/workspaces/{ws}/install-tokens`. **[compat]**
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InstallTokenRequest {
    /// Sekuire's name for `sekuire_id`, used when that is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9a-f]{1,64}$"))]
    pub agent_id: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9a-f]{1,64}$"))]
    pub sekuire_id: Option<String>,
    /// Default 60.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10080))]
    pub expiry_minutes: Option<i64>,
}

/// A single-use install token. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InstallToken {
    pub token: String,
    pub expires_at: String,
    pub workspace_id: String,
    pub agent_id: String,
}

/// Body of `POST /api/v1/installations/bootstrap`. **[compat]**
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BootstrapRequest {
    pub install_token: String,
    #[serde(default)]
    pub upstream_url: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Default 60.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 600))]
    pub heartbeat_interval_seconds: Option<i64>,
}

/// Credentials of a new installation. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BootstrapResponse {
    pub installation_id: String,
    pub runtime_token: String,
    pub refresh_token: String,
    pub expires_at: String,
    pub heartbeat_interval: i64,
}

/// Body of a lease or heartbeat. Both documented variants parse: `{"status": "running",
/// "heartbeat_interval_seconds": 60}` and `{"status": "healthy", "uptime_seconds": …,
/// "platform": {…}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LeaseRequest {
    /// Free text; the registry keeps its first 32 characters.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 600))]
    pub heartbeat_interval_seconds: Option<i64>,
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[cfg_attr(feature = "openapi", schema(minimum = -9223372036854775808_i64, maximum = 9223372036854775807_i64))]
    pub uptime_seconds: Option<i64>,
    #[serde(default)]
    pub platform: Option<Value>,
}

/// Answer to a lease or heartbeat. **[compat]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LeaseResponse {
    pub lease_expires_at: String,
    /// The installation's current command, repeated on every lease until another replaces
    /// it, so a lost response never loses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_command: Option<LifecycleAction>,
    /// With `terminate` after a revoke: how long the instance may take to stop. **[ext]**
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_timeout_ms: Option<u32>,
    /// A new runtime token, sent within 7 days of the current one's expiry. **[ext]**
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_token: Option<String>,
}

/// A running instance of an agent, as the agent page lists it. **[ext]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Installation {
    pub installation_id: String,
    pub workspace_id: String,
    /// What the instance last reported, `gone` once its lease has expired, or `revoked`.
    pub status: String,
    pub created_at: String,
    pub last_lease_at: Option<String>,
    pub lease_expires_at: Option<String>,
    pub heartbeat_interval_seconds: i64,
    /// The last lifecycle command sent to this installation.
    pub last_command: Option<LifecycleAction>,
    /// When a lease first carried it; absent while it is pending.
    pub command_delivered_at: Option<String>,
    #[serde(default)]
    pub revoked_at: Option<String>,
}

/// `GET /api/v1/agents/{id}/installations`. **[ext]**
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InstallationList {
    pub installations: Vec<Installation>,
}
