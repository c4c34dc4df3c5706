//! A request id for every request: sent back as `X-Request-Id`, attached to every log line
//! of the request, written into audit entries and error bodies.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, or `"none"` outside of one.
pub fn current() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "none".to_owned())
}

/// A client may send its own id (short, printable) so its logs and ours line up. It is
/// logged beside ours, never used as ours: the audit trail records only ids the registry
/// made, so no client can forge or repeat one there.
fn accepted_client_id(value: &HeaderValue) -> Option<&str> {
    let id = value.to_str().ok()?;
    let sane = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    sane.then_some(id)
}

/// Middleware: assigns the id, logs the request at debug level (method, path, status, time —
/// never headers, so keys stay out of logs) and echoes the id in the response.
pub async fn assign(request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        client_request_id = request.headers().get(HEADER).and_then(accepted_client_id),
        method = %request.method(),
        path = %request.uri().path()
    );
    let started = std::time::Instant::now();
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    // One line per request only when asked for (`RUST_LOG=debug`): a fleet's leases would
    // drown everything else. A server error is always worth a warning.
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    span.in_scope(|| {
        if response.status().is_server_error() {
            tracing::warn!(status, micros, "served");
        } else {
            tracing::debug!(status, micros, "served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
