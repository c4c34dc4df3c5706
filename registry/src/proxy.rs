//! `sekuire-registry proxy`: the dashboard in front of a registry that runs elsewhere
//! (Sekuire's hosted one, say), from one origin.
//!
//! The dashboard's Content-Security-Policy allows requests to its own origin (and to the
//! registries `--registry-origin` names), and a remote registry's CORS policy is unknown,
//! so the proxy
//! serves the built dashboard exactly as `serve --dist` does ([`crate::serve_dashboard`])
//! and forwards every request under `/api/v1` to the upstream: method, path and query
//! (appended to the upstream URL, after any path prefix it has), headers and a streamed
//! body. The answer comes back as the upstream sent it: status, headers and a streamed
//! body, so event streams arrive event by event and the upstream's errors (401, 409, 412 …)
//! reach the dashboard byte for byte. Redirects are passed back, not followed.
//!
//! Stripped, both ways: the hop-by-hop headers (`Connection` and the headers it names,
//! `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`), which
//! describe one connection and not the request. Stripped from requests:
//! - `Host`: the upstream's own is sent;
//! - `Cookie`: the dashboard uses none, and cookies of the proxy's origin (on `127.0.0.1`,
//!   shared with every other local app) must not leave it;
//! - `Origin`: the browser names the proxy, an origin the upstream has never heard of and
//!   might refuse; to the upstream this is a server-to-server call;
//! - `Expect`: the proxy has already answered a `100-continue` itself.
//!
//! Stripped from answers: `Set-Cookie`, so the upstream cannot plant cookies on that
//! shared origin.
//!
//! It keeps no keys: the dashboard's `X-API-Key` (or `Authorization`) header passes
//! through untouched and is never stored or logged. The only log lines are the method,
//! path and status of each forwarded request (debug level) and, when the upstream cannot
//! be reached, why (warning); never a header or a query. It opens no database.
//!
//! Connections: `https` through rustls with Mozilla's root certificates built in (no
//! system store needed), 10 s to connect and no limit on the whole exchange, since an event
//! stream stays open for hours; open streams end when the proxy shuts down. A path whose
//! dot segments would leave the upstream's `/api/v1` is a JSON 404, so nothing else on the
//! upstream is reachable through the proxy, and other `/api` paths are the same JSON 404
//! as `serve` answers.
//!
//! An upstream that cannot be reached is a `502` in the registry's own error shape
//! ([`ApiError`]) with the code `internal`: the protocol has no code of its own for it,
//! and the dashboard shows the message of any code it knows while an unknown one would
//! lose it. The status says it is the upstream's failure, not the proxy's.

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use fleet_protocol::{ApiError, ErrorCode};
use futures_util::StreamExt;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long the upstream has to accept a connection. There is no limit on the whole
/// request: an event stream stays open for hours.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The part of the path that is forwarded; everything else is the dashboard.
const API_PREFIX: &str = "/api/v1";

/// Headers that describe one connection (RFC 9110 §7.6.1), never forwarded; so are all
/// `Proxy-*` headers and those that `Connection` names.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The registry requests are forwarded to: an `http` or `https` URL with a host and
/// perhaps a path prefix, kept without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream(String);

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Upstream {
    /// Where `path_and_query` (which starts with `/api/v1`) goes, or `None` when dot
    /// segments would take it out of the upstream's `/api/v1`.
    fn url_for(&self, path_and_query: &str) -> Option<url::Url> {
        let url = url::Url::parse(&format!("{}{path_and_query}", self.0)).ok()?;
        let prefix = url::Url::parse(&self.0).ok()?;
        let api = format!("{}{API_PREFIX}", prefix.path().trim_end_matches('/'));
        let inside = url
            .path()
            .strip_prefix(&api)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        inside.then_some(url)
    }
}

/// Checks the value of `--upstream`: `http` or `https`, a host, perhaps a port and a path
/// prefix; no user name or password (the dashboard sends the key), no query or fragment.
pub fn parse_upstream(upstream: &str) -> Result<Upstream, String> {
    let refuse = |why: &str| {
        format!(
            "`{upstream}` is not a registry URL: {why}; write it like https://api.sekuire.ai or http://127.0.0.1:9300"
        )
    };
    let url = url::Url::parse(upstream.trim()).map_err(|err| refuse(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) || url.port() == Some(0) {
        return Err(refuse("it needs a host and a port from 1 to 65535"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "it holds no user name or password (the dashboard sends the key)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("it has no query or fragment"));
    }
    let base = url.as_str().trim_end_matches('/');
    if base.ends_with(API_PREFIX) {
        return Err(refuse("leave out /api/v1, which the proxy adds"));
    }
    Ok(Upstream(base.to_owned()))
}

#[derive(Clone)]
struct Proxy {
    upstream: Arc<Upstream>,
    client: reqwest::Client,
    dist: Option<Arc<Path>>,
    /// Other registries the dashboard may call (`--registry-origin`).
    registry_origins: Arc<[String]>,
    /// Turns true when the server shuts down; ends forwarded streams so it can.
    shutdown: watch::Receiver<bool>,
}

/// The proxy's whole server: `/api/v1` forwarded to `upstream`, the dashboard in `dist`
/// elsewhere. Streams still open end when `shutdown` turns true.
pub fn router(
    upstream: Upstream,
    dist: Option<PathBuf>,
    registry_origins: Vec<String>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Router> {
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        // Bodies pass as they are, compressed or not, whatever features another crate of
        // the workspace turns on in reqwest.
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .build()?;
    let proxy = Proxy {
        upstream: Arc::new(upstream),
        client,
        dist: dist.map(Arc::from),
        registry_origins: registry_origins.into(),
        shutdown,
    };
    Ok(Router::new().fallback(handle).with_state(proxy))
}

async fn handle(State(proxy): State<Proxy>, request: Request) -> Response {
    let path = request.uri().path();
    let api = path
        .strip_prefix(API_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if api {
        forward(&proxy, request).await
    } else {
        crate::serve_dashboard(proxy.dist.as_deref(), &proxy.registry_origins, request).await
    }
}

async fn forward(proxy: &Proxy, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method;
    let path = parts.uri.path().to_owned();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.as_str(), |pq| pq.as_str());
    let Some(url) = proxy.upstream.url_for(path_and_query) else {
        return own_error(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no API route {path}"),
        );
    };
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    for name in [header::HOST, header::COOKIE, header::ORIGIN, header::EXPECT] {
        headers.remove(name);
    }
    let mut outgoing = proxy.client.request(method.clone(), url).headers(headers);
    // A request without a body is sent without one; any other body is streamed as it comes
    // (with the client's `Content-Length` when it sent one), never gathered first.
    if body.size_hint().exact() != Some(0) {
        outgoing = outgoing.body(reqwest::Body::wrap_stream(body.into_data_stream()));
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(err) => return unreachable(&proxy.upstream, &method, &path, err),
    };
    let status = answer.status();
    tracing::debug!(%method, path, status = status.as_u16(), "forwarded");
    let mut headers = answer.headers().clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::SET_COOKIE);
    let mut shutdown = proxy.shutdown.clone();
    let stopping = async move {
        if shutdown.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let mut response = Response::new(Body::from_stream(
        answer.bytes_stream().take_until(stopping),
    ));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Removes the hop-by-hop headers: [`HOP_BY_HOP`], every `Proxy-*`, and those that
/// `Connection` names as such.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok());
    let proxy = headers
        .keys()
        .filter(|name| name.as_str().starts_with("proxy-"))
        .cloned();
    let doomed: Vec<HeaderName> = named.chain(proxy).collect();
    for name in doomed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The upstream could not be reached or broke off before answering: a 502 in the
/// registry's error shape, and a warning that says why (the error names no header).
fn unreachable(upstream: &Upstream, method: &Method, path: &str, err: reqwest::Error) -> Response {
    let why = if err.is_timeout() {
        format!(
            "it accepted no connection within {} s",
            CONNECT_TIMEOUT.as_secs()
        )
    } else if err.is_connect() {
        "no connection could be made (refused, unknown host or failed TLS handshake)".to_owned()
    } else {
        "it broke off before answering".to_owned()
    };
    // Without the URL, whose query is the client's business; the rest names no header.
    let err = err.without_url();
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(err) = source {
        if !chain.is_empty() {
            chain.push_str(": ");
        }
        chain.push_str(&err.to_string());
        source = err.source();
    }
    let response = own_error(
        StatusCode::BAD_GATEWAY,
        ErrorCode::Internal,
        format!("the upstream registry {upstream} could not be reached: {why}"),
    );
    let request_id = response
        .headers()
        .get(crate::request_id::HEADER)
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default();
    tracing::warn!(request_id, %method, path, error = %chain, "upstream registry unreachable");
    response
}

/// An answer of the proxy's own, in the registry's error shape, with a fresh request id
/// in the body and in `X-Request-Id` (answers from the upstream keep the upstream's).
fn own_error(status: StatusCode, code: ErrorCode, message: String) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let body = ApiError {
        error: code,
        message: format!("{message}; quote request id {request_id} when reporting it"),
        request_id: Some(request_id.clone()),
    };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert(crate::request_id::HEADER, id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_are_http_urls_with_a_host_and_perhaps_a_prefix() {
        let ok = |s: &str| parse_upstream(s).map(|u| u.to_string());
        assert_eq!(
            ok("https://api.sekuire.ai").as_deref(),
            Ok("https://api.sekuire.ai")
        );
        assert_eq!(
            ok(" https://Host.example/prefix/ ").as_deref(),
            Ok("https://host.example/prefix")
        );
        assert_eq!(
            ok("http://127.0.0.1:9300/").as_deref(),
            Ok("http://127.0.0.1:9300")
        );
        for bad in [
            "api.sekuire.ai",
            "ftp://example.com",
            "https://",
            "https://example.com:0",
            "https://user:pass@example.com",
            "https://example.com/?x=1",
            "https://example.com/#x",
            "https://example.com/api/v1",
            "file:///tmp",
        ] {
            let refused = parse_upstream(bad);
            assert!(refused.is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn paths_go_after_the_prefix_and_never_leave_the_api() {
        let upstream = parse_upstream("https://host.example/prefix").unwrap();
        let url = |p: &str| upstream.url_for(p).map(|u| u.to_string());
        assert_eq!(
            url("/api/v1/agents?limit=5&q=a%20b").as_deref(),
            Some("https://host.example/prefix/api/v1/agents?limit=5&q=a%20b")
        );
        assert_eq!(
            url("/api/v1").as_deref(),
            Some("https://host.example/prefix/api/v1")
        );
        for escape in ["/api/v1/../../admin", "/api/v1/%2e%2e/x", "/api/v1/./../v2"] {
            assert_eq!(url(escape), None, "{escape}");
        }
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-private"),
            ("keep-alive", "timeout=5"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic x"),
            ("proxy-anything", "y"),
            ("x-api-key", "kept"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert_eq!(headers["x-api-key"], "kept");
    }
}
