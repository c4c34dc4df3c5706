//! Reading the registry's JSON into the protocol's types (`bodies.rs` writes requests;
//! `shapes.rs` reads the answers whose shape differs between registries).
//!
//! Decision, measured twice: the browser parses (`JSON.parse`) and this module reads
//! fields by name. serde_json's deserializer, instantiated for every wire type, was 23 KB
//! gzip of the wasm bundle; `serde-wasm-bindgen` over the protocol crate's own derives
//! (reading the `JsValue` that `JSON.parse` returns) was 29.9 KB gzip more than these
//! readers (see BENCHMARKS.md). They are one small function per type over a handful of
//! non-generic accessors, and fail with a typed [`Unreadable`]. Two guards keep them in step with the
//! protocol crate: a struct literal names every field, so a field added to a wire type
//! stops this from compiling; and the browser tests decode each type from serde's own
//! output, so a renamed field fails a test.

use fleet_protocol::{
    ApiError, AuditEntry, AuditPage, BulkOutcome, BulkResponse, EventTicket, FleetSummary, Health,
    HeartbeatEvent, InstallToken, Installation, InstallationList, LogEntry, LogPage, RuntimeStatus,
    VerificationStatus, WorkspaceSummary,
};
use js_sys::{Array, Object, Reflect, JSON};
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use wasm_bindgen::JsValue;

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// The body is not JSON at all (say, an HTML error page from something in between).
    NotJson,
    /// A field is missing or of the wrong kind: its path, e.g. `agents[3].name`.
    Field(String),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::NotJson => f.write_str("the answer is not JSON"),
            Unreadable::Field(path) => write!(f, "field `{path}` is missing or invalid"),
        }
    }
}

/// A value read from an answer, or why it could not be.
pub type Decoded<T> = Result<T, Unreadable>;

/// A type read from a JSON object.
pub trait FromJson: Sized {
    fn from_json(json: &Json) -> Decoded<Self>;
}

/// Parses `text` as JSON and reads a `T` from it.
pub fn decode<T: FromJson>(text: &str) -> Decoded<T> {
    let value = JSON::parse(text).map_err(|_| Unreadable::NotJson)?;
    T::from_json(&Json(value))
}

/// A parsed JSON value.
pub struct Json(pub(super) JsValue);

pub(super) fn invalid(key: &str) -> Unreadable {
    Unreadable::Field(key.to_owned())
}

impl Json {
    pub(super) fn field(&self, key: &str) -> Json {
        Json(Reflect::get(&self.0, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED))
    }

    pub(super) fn is_absent(&self) -> bool {
        self.0.is_null() || self.0.is_undefined()
    }

    /// `None` for an absent or `null` field, else the field read by `read`.
    pub(super) fn optional<T>(
        &self,
        key: &str,
        read: fn(&Json, &str) -> Decoded<T>,
    ) -> Decoded<Option<T>> {
        if self.field(key).is_absent() {
            Ok(None)
        } else {
            read(self, key).map(Some)
        }
    }

    pub(super) fn string(&self, key: &str) -> Decoded<String> {
        self.field(key).0.as_string().ok_or_else(|| invalid(key))
    }

    pub(super) fn opt_string(&self, key: &str) -> Decoded<Option<String>> {
        self.optional(key, Json::string)
    }

    pub(super) fn int(&self, key: &str) -> Decoded<i64> {
        whole_number(&self.field(key).0).ok_or_else(|| invalid(key))
    }

    pub(super) fn count(&self, key: &str) -> Decoded<u64> {
        u64::from_json(&self.field(key)).map_err(|_| invalid(key))
    }

    pub(super) fn bool(&self, key: &str) -> Decoded<bool> {
        self.field(key).0.as_bool().ok_or_else(|| invalid(key))
    }

    /// Any JSON, as a `serde_json::Value` built by walking the parsed object (no serde
    /// deserializer in the bundle).
    pub(super) fn value(&self, key: &str) -> Decoded<Value> {
        to_value(&self.field(key).0).ok_or_else(|| invalid(key))
    }

    /// An enum by its wire name.
    pub(super) fn wire<T: FromStr>(&self, key: &str) -> Decoded<T> {
        self.string(key)?.parse().map_err(|_| invalid(key))
    }

    pub(super) fn opt_wire<T: FromStr>(&self, key: &str) -> Decoded<Option<T>> {
        self.optional(key, Json::wire)
    }

    pub(super) fn list<T: FromJson>(&self, key: &str) -> Decoded<Vec<T>> {
        let items = self.field(key).0;
        if !Array::is_array(&items) {
            return Err(invalid(key));
        }
        Array::from(&items)
            .iter()
            .enumerate()
            .map(|(i, item)| {
                T::from_json(&Json(item)).map_err(|err| match err {
                    Unreadable::Field(inner) => Unreadable::Field(format!("{key}[{i}].{inner}")),
                    Unreadable::NotJson => Unreadable::NotJson,
                })
            })
            .collect()
    }

    /// Counts keyed by an enum's wire names, e.g. `{"active": 3, "paused": 1}`; names this
    /// dashboard does not know are skipped.
    pub(super) fn counts<K: FromStr + Ord>(&self, key: &str) -> Decoded<BTreeMap<K, u64>> {
        let map = self.field(key);
        if map.is_absent() {
            return Err(invalid(key));
        }
        let mut counts = BTreeMap::new();
        for name in Object::keys(&Object::from(map.0.clone())).iter() {
            let Some(name) = name.as_string() else {
                continue;
            };
            if let Ok(k) = name.parse() {
                counts.insert(k, map.count(&name)?);
            }
        }
        Ok(counts)
    }
}

/// `value` as JSON, or `None` for what JSON cannot hold (`undefined`, functions).
fn to_value(value: &JsValue) -> Option<Value> {
    if value.is_null() {
        Some(Value::Null)
    } else if let Some(b) = value.as_bool() {
        Some(Value::Bool(b))
    } else if let Some(n) = value.as_f64() {
        Some(whole_number(value).map_or_else(
            || Number::from_f64(n).map_or(Value::Null, Value::Number),
            |i| Value::Number(i.into()),
        ))
    } else if let Some(s) = value.as_string() {
        Some(Value::String(s))
    } else if Array::is_array(value) {
        Array::from(value)
            .iter()
            .map(|v| to_value(&v))
            .collect::<Option<_>>()
            .map(Value::Array)
    } else if value.is_object() {
        let mut map = Map::new();
        for entry in Object::entries(&Object::from(value.clone())).iter() {
            let pair = Array::from(&entry);
            map.insert(pair.get(0).as_string()?, to_value(&pair.get(1))?);
        }
        Some(Value::Object(map))
    } else {
        None
    }
}

/// A whole number (JSON numbers are doubles; the registry's fit in 53 bits).
fn whole_number(value: &JsValue) -> Option<i64> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0)
        .map(|n| n as i64)
}

/// A count: a whole number, not negative.
impl FromJson for u64 {
    fn from_json(json: &Json) -> Decoded<Self> {
        whole_number(&json.0)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| invalid("count"))
    }
}

impl FromJson for BulkOutcome {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(BulkOutcome {
            sekuire_id: j.string("sekuire_id")?,
            ok: j.bool("ok")?,
            changed: j.optional("changed", Json::bool)?,
            error: j.opt_wire("error")?,
            message: j.opt_string("message")?,
        })
    }
}

impl FromJson for BulkResponse {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(BulkResponse {
            results: j.list("results")?,
        })
    }
}

impl FromJson for AuditEntry {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(AuditEntry {
            id: j.int("id")?,
            at: j.string("at")?,
            actor: j.string("actor")?,
            action: j.wire("action")?,
            sekuire_id: j.string("sekuire_id")?,
            agent_name: j.string("agent_name")?,
            from_status: j.string("from_status")?,
            to_status: j.string("to_status")?,
            reason: j.opt_string("reason")?,
            request_id: j.string("request_id")?,
            installation_id: j.opt_string("installation_id")?,
        })
    }
}

impl FromJson for AuditPage {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(AuditPage {
            entries: j.list("entries")?,
            next_cursor: j.opt_string("next_cursor")?,
        })
    }
}

impl FromJson for ApiError {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(ApiError {
            error: j.wire("error")?,
            message: j.string("message")?,
            request_id: j.opt_string("request_id")?,
        })
    }
}

impl FromJson for WorkspaceSummary {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(WorkspaceSummary {
            id: j.string("id")?,
            name: j.string("name")?,
            org_id: j.string("org_id")?,
        })
    }
}

impl FromJson for FleetSummary {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(FleetSummary {
            total: j.count("total")?,
            runtime_status: j.counts::<RuntimeStatus>("runtime_status")?,
            health: j.counts::<Health>("health")?,
            verification_status: j.counts::<VerificationStatus>("verification_status")?,
            reputation_histogram: j.list("reputation_histogram")?,
        })
    }
}

impl FromJson for Installation {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(Installation {
            installation_id: j.string("installation_id")?,
            workspace_id: j.string("workspace_id")?,
            revoked_at: j.opt_string("revoked_at")?,
            status: j.string("status")?,
            created_at: j.string("created_at")?,
            last_lease_at: j.opt_string("last_lease_at")?,
            lease_expires_at: j.opt_string("lease_expires_at")?,
            heartbeat_interval_seconds: j.int("heartbeat_interval_seconds")?,
            last_command: j.opt_wire("last_command")?,
            command_delivered_at: j.opt_string("command_delivered_at")?,
        })
    }
}

impl FromJson for InstallationList {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(InstallationList {
            installations: j.list("installations")?,
        })
    }
}

impl FromJson for InstallToken {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(InstallToken {
            token: j.string("token")?,
            expires_at: j.string("expires_at")?,
            workspace_id: j.string("workspace_id")?,
            agent_id: j.string("agent_id")?,
        })
    }
}

impl FromJson for LogEntry {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(LogEntry {
            id: j.int("id")?,
            sekuire_id: j.string("sekuire_id")?,
            session_id: j.opt_string("session_id")?,
            event_type: j.string("event_type")?,
            severity: j.wire("severity")?,
            event_timestamp: j.string("event_timestamp")?,
            received_at: j.string("received_at")?,
            event_data: j.value("event_data")?,
            metadata: j.value("metadata")?,
        })
    }
}

impl FromJson for LogPage {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(LogPage {
            logs: j.list("logs")?,
            total: j.count("total")?,
            limit: u32::try_from(j.int("limit")?).map_err(|_| invalid("limit"))?,
            offset: j.count("offset")?,
        })
    }
}

impl FromJson for EventTicket {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(EventTicket {
            ticket: j.string("ticket")?,
            expires_at: j.string("expires_at")?,
        })
    }
}

impl FromJson for HeartbeatEvent {
    fn from_json(j: &Json) -> Decoded<Self> {
        Ok(HeartbeatEvent {
            sekuire_id: j.string("sekuire_id")?,
            last_heartbeat_at: j.string("last_heartbeat_at")?,
            health: j.wire("health")?,
        })
    }
}
