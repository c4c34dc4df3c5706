//! Readers for the answers whose shape differs between this project's registry and
//! Sekuire's hosted one (as `sekuire-protocol` 0.1.2 and `sekuire-cli` 0.2.11 show it): an
//! agent, a page of the fleet list, who a key belongs to, and what a registry offers.
//! Every extension field is optional here; what it would have said is filled from what is
//! there, and the pages hide what needs it.

use super::json::{invalid, Decoded, FromJson, Json};
use crate::model::capabilities::Capabilities;
use fleet_protocol::{Agent, AgentList, Health, Me, Role, RuntimeStatus};
use js_sys::{Array, Reflect};
use wasm_bindgen::JsValue;

/// Sekuire's client runs agents with a heartbeat every 60 seconds unless told otherwise;
/// health is judged against that when a registry does not say.
const DEFAULT_HEARTBEAT_SECONDS: i64 = 60;

/// Reads an agent from our registry or any Sekuire registry. The hosted one sends
/// `AgentResponse` (no health, revision or installation count; `public_key` for the
/// publisher; a score that is any `i32`) and, on `GET /agents/{id}`, the runtime fields
/// `sekuire agent-status` reads. What an extension would say is filled from what is there:
/// health from the last heartbeat, `updated_at` from `created_at`. `revision` 0 means the
/// registry keeps none, so nothing goes in `If-Match`. A list row without `runtime_status`
/// reads as active until the page has it fetched ([`FleetList::unresolved`]).
impl FromJson for Agent {
    fn from_json(j: &Json) -> Decoded<Self> {
        let created_at = j.string("created_at")?;
        let last_heartbeat_at = j.opt_string("last_heartbeat_at")?;
        let heartbeat_interval_seconds = j
            .optional("heartbeat_interval_seconds", Json::int)?
            .unwrap_or(DEFAULT_HEARTBEAT_SECONDS);
        let health = match j.opt_wire("health")? {
            Some(health) => health,
            None => Health::derive(
                last_heartbeat_at
                    .as_deref()
                    .and_then(crate::model::time::parse_timestamp_ms),
                heartbeat_interval_seconds,
                js_sys::Date::now() as i64,
            ),
        };
        Ok(Agent {
            sekuire_id: j.string("sekuire_id")?,
            name: j.string("name")?,
            version: j.string("version")?,
            description: j.opt_string("description")?.unwrap_or_default(),
            runtime_status: j
                .opt_wire("runtime_status")?
                .unwrap_or(RuntimeStatus::Active),
            verification_status: j.wire("verification_status")?,
            reputation_score: j.int("reputation_score")?.clamp(0, 100) as u8,
            last_heartbeat_at,
            pending_command: j.opt_wire("pending_command")?,
            health,
            heartbeat_interval_seconds,
            status_reason: j.opt_string("status_reason")?,
            status_changed_at: j.opt_string("status_changed_at")?,
            status_changed_by: j.opt_string("status_changed_by")?,
            installations: j.optional("installations", Json::int)?.unwrap_or(0),
            updated_at: j
                .opt_string("updated_at")?
                .unwrap_or_else(|| created_at.clone()),
            created_at,
            revision: j.optional("revision", Json::int)?.unwrap_or(0),
            manifest: j.optional("manifest", Json::value)?,
            publisher_key: match j.opt_string("publisher_key")? {
                Some(key) => Some(key),
                None => j.opt_string("public_key")?,
            },
        })
    }
}

/// A page of the fleet list, and what the registry left out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetList {
    /// Its `total` is the number of rows when the registry does not count.
    pub list: AgentList,
    /// The registry counted every match (`total`), not only the rows sent.
    pub counted: bool,
    /// Rows that came without their runtime state: Sekuire's hosted list has none, so
    /// the page reads each from `GET /agents/{id}`.
    pub unresolved: Vec<String>,
}

impl FromJson for FleetList {
    fn from_json(j: &Json) -> Decoded<Self> {
        let agents: Vec<Agent> = j.list("agents")?;
        let rows = j.field("agents").0;
        let unresolved = agents
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                Json(Reflect::get_u32(&rows, *i as u32).unwrap_or(JsValue::UNDEFINED))
                    .field("runtime_status")
                    .is_absent()
            })
            .map(|(_, agent)| agent.sekuire_id.clone())
            .collect();
        let total = j.optional("total", Json::count)?;
        Ok(FleetList {
            list: AgentList {
                total: total.unwrap_or(agents.len() as u64),
                total_exact: j.optional("total_exact", Json::bool)?.unwrap_or(true),
                agents,
                next_cursor: j.opt_string("next_cursor")?,
            },
            counted: total.is_some(),
            unresolved,
        })
    }
}

/// What a registry's OpenAPI document says it offers.
impl FromJson for Capabilities {
    fn from_json(j: &Json) -> Decoded<Self> {
        let paths = j.field("paths");
        let parameters = paths
            .field("/api/v1/agents")
            .field("get")
            .field("parameters")
            .0;
        let parameters = if Array::is_array(&parameters) {
            Array::from(&parameters)
        } else {
            Array::new()
        };
        Ok(Capabilities::from_document(
            |path| !paths.field(path).is_absent(),
            |name| {
                parameters
                    .iter()
                    .any(|p| Json(p).field("name").0.as_string().as_deref() == Some(name))
            },
        ))
    }
}

/// Who a key belongs to. Our registry sends `name` and `role`; Sekuire's `/me`
/// (`UserContextResponse`) sends `full_name`, `email` and a free-text `role` that may be
/// null. Decision: a role this dashboard does not know, or none, offers every action and
/// lets the registry decide: it refuses what the key may not do, and the user is told why.
impl FromJson for Me {
    fn from_json(j: &Json) -> Decoded<Self> {
        let name = [
            j.opt_string("name")?,
            j.opt_string("full_name")?,
            j.opt_string("email")?,
        ]
        .into_iter()
        .flatten()
        .find(|n| !n.is_empty())
        .ok_or_else(|| invalid("name"))?;
        Ok(Me {
            name,
            role: j.opt_wire("role").ok().flatten().unwrap_or(Role::Admin),
            workspaces: if j.field("workspaces").is_absent() {
                Vec::new()
            } else {
                j.list("workspaces")?
            },
        })
    }
}
