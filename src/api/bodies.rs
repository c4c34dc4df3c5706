//! Request bodies, written as serde would write them (the browser tests compare them with
//! serde's own output). Each writer destructures its request, so a field added to a
//! request type stops this from compiling until it is written too.

use fleet_protocol::{
    BulkRequest, InstallTokenRequest, LifecycleRequest, RevokeRequest, VerificationRequest,
};
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::JsValue;

/// The body of pause, resume and terminate, as serde would write it.
pub fn lifecycle_body(request: &LifecycleRequest) -> String {
    let LifecycleRequest { reason } = request;
    object_body(&[("reason", reason.as_deref().map(JsValue::from_str))])
}

/// The body of a bulk action, as serde would write it.
pub fn bulk_body(request: &BulkRequest) -> String {
    let BulkRequest { ids, reason } = request;
    let list: Array = ids.iter().map(|id| JsValue::from_str(id)).collect();
    object_body(&[
        ("ids", Some(list.into())),
        ("reason", reason.as_deref().map(JsValue::from_str)),
    ])
}

/// The body of a verification decision.
pub fn verification_body(request: &VerificationRequest) -> String {
    let VerificationRequest { status, reason } = request;
    object_body(&[
        ("status", Some(JsValue::from_str(status.as_str()))),
        ("reason", reason.as_deref().map(JsValue::from_str)),
    ])
}

/// The body of an installation's revoke.
pub fn revoke_body(request: &RevokeRequest) -> String {
    let RevokeRequest {
        reason,
        shutdown_timeout_ms,
    } = request;
    object_body(&[
        ("reason", reason.as_deref().map(JsValue::from_str)),
        (
            "shutdown_timeout_ms",
            shutdown_timeout_ms.map(|ms| JsValue::from_f64(ms as f64)),
        ),
    ])
}

/// The body of an install token request.
pub fn install_token_body(request: &InstallTokenRequest) -> String {
    let InstallTokenRequest {
        sekuire_id,
        agent_id,
        expiry_minutes,
    } = request;
    object_body(&[
        ("sekuire_id", sekuire_id.as_deref().map(JsValue::from_str)),
        ("agent_id", agent_id.as_deref().map(JsValue::from_str)),
        (
            "expiry_minutes",
            expiry_minutes.map(|m| JsValue::from_f64(m as f64)),
        ),
    ])
}

/// A JSON object of the fields that are present. `JSON.stringify` of a plain object of
/// strings, numbers and arrays cannot fail.
fn object_body(fields: &[(&str, Option<JsValue>)]) -> String {
    let body = Object::new();
    for (key, value) in fields {
        if let Some(value) = value {
            let _ = Reflect::set(&body, &JsValue::from_str(key), value);
        }
    }
    JSON::stringify(&body)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}
