//! The registry's state: the fleet it keeps in memory, seeded from the `--fleet` file at start.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::bail;
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use sekuire_protocol::{
    AgentEventLogResponse, AgentResponse, EventType, Severity, VerificationStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;

/// The one organization and workspace the API key belongs to.
pub(crate) const ORG_ID: &str = "org_compat";
pub(crate) const WORKSPACE_ID: &str = "ws_compat";

/// One agent in the `--fleet` file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seed {
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
pub(crate) enum RuntimeStatus {
    Active,
    Paused,
    Terminated,
}

pub(crate) struct Agent {
    pub(crate) sekuire_id: String,
    pub(crate) name: String,
    version: String,
    description: Option<String>,
    pub(crate) verification_status: VerificationStatus,
    reputation_score: i32,
    public_key: String,
    created_at: String,
    pub(crate) updated_at: Option<String>,
    pub(crate) runtime_status: RuntimeStatus,
    pub(crate) last_heartbeat_at: Option<String>,
    pub(crate) pending_command: Option<&'static str>,
    /// Oldest first; answers reverse it.
    pub(crate) logs: Vec<AgentEventLogResponse>,
}

impl Agent {
    pub(crate) fn response(&self) -> AgentResponse {
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

pub(crate) struct Fleet {
    pub(crate) agents: BTreeMap<String, Agent>,
    pub(crate) next_log_id: i64,
}

impl Fleet {
    pub(crate) fn agent(&mut self, id: &str) -> Result<&mut Agent, ApiError> {
        self.agents
            .get_mut(id)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Agent not found"))
    }
}

pub(crate) struct Registry {
    pub(crate) key: String,
    fleet: Mutex<Fleet>,
}

pub(crate) type Shared = Arc<Registry>;

impl Registry {
    pub(crate) fn new(key: String, seeds: Vec<Seed>) -> anyhow::Result<Self> {
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

    pub(crate) fn fleet(&self) -> MutexGuard<'_, Fleet> {
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

pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
