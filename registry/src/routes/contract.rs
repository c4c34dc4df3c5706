//! `GET /api/v1/openapi.json`: the document utoipa generates from the handlers, completed
//! with what every operation can answer and who may call it, so that the published
//! contract says exactly what the server does. A property-based conformance run
//! (schemathesis, all checks; `cargo xtask test`) holds it to that.

use super::ApiDoc;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use utoipa::OpenApi;

/// The published document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        complete(&mut document);
        document
    })
}

pub async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(document()).unwrap_or_default(),
    )
}

/// Operations that take no API key: an installation bootstraps with the install token in
/// its body, refreshes with its refresh token and leases with its runtime token;
/// `sekuire login` checks a key it sends in the body; `sekuire metrics` sends none.
const NO_KEY: &[&str] = &[
    "bootstrap",
    "refresh_installation",
    "verify_api_key",
    "agent_reputation",
];
const RUNTIME_TOKEN: &[&str] = &["lease", "heartbeat"];
/// The event stream opens with a ticket in the query, or a key.
const TICKET_OR_KEY: &[&str] = &["stream_events"];

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ApiError" } } }
    })
}

/// Adds to each operation the answers any request of its kind can get, and its security.
fn complete(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut)
    {
        let id = operation
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        headers_are_strings(operation);
        let takes_input = operation.contains_key("requestBody")
            || operation
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty());
        let mut answers = vec![
            (
                "429",
                "Rate limited: per key, or per address without a valid key; see Retry-After",
            ),
            ("500", "A bug or an outage; the body names a request id"),
        ];
        if takes_input {
            answers.push(("400", "Malformed request: the message names what is wrong"));
        }
        if operation.contains_key("requestBody") {
            answers.push(("413", "Body over 64 KiB"));
        }
        if !NO_KEY.contains(&id.as_str()) {
            answers.push(("401", "Missing, unknown or revoked key (or token)"));
        }
        let responses = operation
            .entry("responses")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(responses) = responses.as_object_mut() {
            for (status, description) in answers {
                responses
                    .entry(status)
                    .or_insert_with(|| error(description));
            }
        }
        let security = if NO_KEY.contains(&id.as_str()) {
            Some(json!([]))
        } else if RUNTIME_TOKEN.contains(&id.as_str()) {
            Some(json!([{ "bearer": [] }]))
        } else if TICKET_OR_KEY.contains(&id.as_str()) {
            Some(json!([{}, { "api_key": [] }, { "bearer": [] }]))
        } else {
            None
        };
        if let Some(security) = security {
            operation.insert("security".into(), security);
        }
    }
    require_an_agent(document);
    plain_text_reasons(document);
    sort_vocabulary(document);
    sdk_event_types(document);
    settable_verification(document);
}

/// Every `reason` is plain text: no control characters but line feed and tab, and none of
/// Unicode's bidirectional formatting characters (`fleet_protocol::is_disguising_char`).
const REASON_PATTERN: &str =
    r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$";

/// Gives each request schema's `reason` the pattern the registry enforces.
fn plain_text_reasons(document: &mut Value) {
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for schema in schemas.values_mut() {
        if let Some(reason) = schema
            .pointer_mut("/properties/reason")
            .and_then(Value::as_object_mut)
        {
            reason.insert("pattern".into(), json!(REASON_PATTERN));
        }
    }
}

/// An SDK event's type: no hidden characters (`logs::hides_in_event_type`), and never the
/// registry's own `lifecycle`, whatever its case or surrounding spaces.
fn sdk_event_types(document: &mut Value) {
    if let Some(event_type) = document
        .pointer_mut("/components/schemas/IncomingLogEvent/properties/event_type")
        .and_then(Value::as_object_mut)
    {
        event_type.insert(
            "pattern".into(),
            json!(r"^[^\x00-\x1F\x7F-\x9F\u061C\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]*$"),
        );
        event_type.insert(
            "not".into(),
            json!({ "pattern": r"^\s*[Ll][Ii][Ff][Ee][Cc][Yy][Cc][Ll][Ee]\s*$" }),
        );
    }
}

/// The fleet list's `sort` takes the names of `fleet_protocol::SortKey`.
fn sort_vocabulary(document: &mut Value) {
    let parameters = document
        .pointer_mut("/paths/~1api~1v1~1agents/get/parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == "sort");
    for parameter in parameters {
        if let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) {
            schema.insert("pattern".into(), json!(fleet_protocol::sort_pattern()));
        }
    }
}

/// An admin sets verification to `verified`, `suspended` or `unverified`; `pending` is
/// where a push starts and cannot be set.
fn settable_verification(document: &mut Value) {
    if let Some(status) =
        document.pointer_mut("/components/schemas/VerificationRequest/properties/status")
    {
        *status = json!({ "type": "string", "enum": ["verified", "suspended", "unverified"] });
    }
}

/// A header is text or absent, never `null`: an optional header parameter's schema says
/// `string`, where utoipa writes `["string", "null"]` for an `Option`.
fn headers_are_strings(operation: &mut Map<String, Value>) {
    let headers = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "header");
    for header in headers {
        if let Some(schema) = header.get_mut("schema").and_then(Value::as_object_mut) {
            schema.insert("type".into(), json!("string"));
        }
    }
}

/// An install token request names its agent by `sekuire_id` or, as Sekuire's client
/// does, `agent_id`: one of the two must be a string.
fn require_an_agent(document: &mut Value) {
    let Some(schema) = document
        .pointer_mut("/components/schemas/InstallTokenRequest")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    schema.insert(
        "anyOf".into(),
        json!([
            { "required": ["sekuire_id"], "properties": { "sekuire_id": { "type": "string" } } },
            { "required": ["agent_id"], "properties": { "agent_id": { "type": "string" } } }
        ]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operation(path: &str, method: &str) -> &'static Value {
        &document()["paths"][path][method]
    }

    #[test]
    fn every_operation_documents_rate_limits_and_outages() {
        let paths = document()["paths"].as_object().expect("paths");
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("item") {
                for status in ["429", "500"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn query_parameters_are_in_the_query_and_ids_have_their_pattern() {
        let list = operation("/api/v1/agents", "get");
        for parameter in list["parameters"].as_array().expect("parameters") {
            assert_eq!(parameter["in"], "query", "{parameter}");
            assert_ne!(parameter["required"], true, "{parameter}");
        }
        let get = operation("/api/v1/agents/{id}", "get");
        assert_eq!(
            get["parameters"][0]["schema"]["pattern"],
            "^[0-9a-f]{1,64}$"
        );
    }

    #[test]
    fn installations_authenticate_with_their_own_tokens() {
        assert_eq!(
            operation("/api/v1/installations/bootstrap", "post")["security"],
            json!([])
        );
        assert_eq!(
            operation("/api/v1/installations/{installation_id}/lease", "post")["security"],
            json!([{ "bearer": [] }])
        );
        assert!(
            operation("/api/v1/installations/bootstrap", "post")["responses"]
                .get("401")
                .is_some()
        );
    }
}
