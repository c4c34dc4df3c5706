//! `sekuire-registry proxy`: the dashboard from `--dist`, and `/api/v1` forwarded to an
//! upstream, which is either a stub that shows what reached it (and answers with bytes the
//! tests know) or this registry itself, both on loopback.

// In tests a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "api/harness.rs"]
mod harness;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use harness::TestApp;
use reqwest::RequestBuilder;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{watch, Notify};

const CONFLICT: &str = "{\"error\":\"invalid_transition\",  \"message\":\"agent a1 is terminated\",\"request_id\":\"upstream-409\"}\n";
const UNAUTHORIZED: &str = "{\"error\": \"unauthorized\", \"message\": \"unknown key\"}";
const KEY: &str = "sk_proxy_test_key_2f9c41d7e8a06b35";

/// The upstream stub: its base URL (with a path prefix) and the gate that lets its event
/// stream send its second event and end.
struct Stub {
    base: String,
    release: Arc<Notify>,
}

async fn stub() -> Stub {
    let release = Arc::new(Notify::new());
    let app = Router::new().fallback(upstream).with_state(release.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/prefix", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Stub { base, release }
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// Known bytes for some paths; for any other, what reached the stub, as JSON.
async fn upstream(State(gate): State<Arc<Notify>>, request: Request) -> Response {
    let conflict = [
        JSON,
        ("set-cookie", "up=1"),
        ("x-request-id", "upstream-409"),
    ];
    match request.uri().path() {
        "/prefix/api/v1/conflict" => canned(409, &conflict, CONFLICT),
        "/prefix/api/v1/me" => canned(401, &[JSON], UNAUTHORIZED),
        "/prefix/api/v1/moved" => canned(302, &[("location", "/elsewhere")], ""),
        "/prefix/api/v1/events" => events(gate),
        _ => echo(request).await,
    }
}

fn canned(status: u16, headers: &[(&'static str, &'static str)], body: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        let value = axum::http::HeaderValue::from_static(value);
        response.headers_mut().insert(*name, value);
    }
    response
}

async fn echo(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let headers = parts.headers.iter();
    let headers: serde_json::Map<String, Value> = headers
        .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap())))
        .collect();
    Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
    .into_response()
}

/// One event at once, the second only when the test opens the gate, then the end.
fn events(gate: Arc<Notify>) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(4);
    tokio::spawn(async move {
        let _ = tx.send(Ok(Bytes::from("event: one\ndata: 1\n\n"))).await;
        gate.notified().await;
        let _ = tx.send(Ok(Bytes::from("event: two\ndata: 2\n\n"))).await;
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

/// The proxy in this process, on a free loopback port, and a client that follows no
/// redirects (the tests see what the proxy answered).
struct Proxy {
    base: String,
    client: reqwest::Client,
}

impl Proxy {
    async fn start(upstream: &str, dist: Option<PathBuf>) -> Proxy {
        let upstream = fleet_registry::proxy::parse_upstream(upstream).unwrap();
        // No shutdown here: the sender goes at once, which must not end any stream.
        let (_, shutdown) = watch::channel(false);
        let router = fleet_registry::proxy::router(upstream, dist, Vec::new(), shutdown).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Proxy { base, client }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str, key: &str) -> RequestBuilder {
        self.client.get(self.url(path)).header("X-API-Key", key)
    }

    fn post(&self, path: &str, key: &str, body: Value) -> RequestBuilder {
        let request = self.client.post(self.url(path));
        request.header("X-API-Key", key).json(&body)
    }
}

async fn send(request: RequestBuilder) -> reqwest::Response {
    request.send().await.unwrap()
}

/// `future`'s output, which must come within 5 s.
async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    let limit = Duration::from_secs(5);
    let late = |_| panic!("{what} within 5 s");
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(late)
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

/// Reads `stream` into `text` until it holds `until`; each chunk must come within 5 s.
async fn read_until(
    stream: &mut (impl Stream<Item = reqwest::Result<Bytes>> + Unpin),
    text: &mut String,
    until: &str,
) {
    while !text.contains(until) {
        let chunk = within(until, stream.next()).await.expect("open").unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// A loopback address nothing listens on.
async fn dead_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn dist() -> tempfile::TempDir {
    let dist = tempfile::tempdir().unwrap();
    let shell = "<!doctype html><title>proxied shell</title>";
    std::fs::write(dist.path().join("index.html"), shell).unwrap();
    dist
}

#[tokio::test]
async fn a_get_reaches_the_upstream_with_its_query_and_key_and_without_cookies() {
    let stub = stub().await;
    let proxy = Proxy::start(&stub.base, None).await;
    let request = proxy.get("/api/v1/echo?limit=5&q=a%20b&sort=-name", KEY);
    let response = send(
        request
            .header("Cookie", "session=of-the-proxy-origin")
            .header("Origin", proxy.base.as_str())
            .header("Connection", "x-hop")
            .header("X-Hop", "named by Connection")
            .header("Accept", "application/json"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["path"], "/prefix/api/v1/echo");
    assert_eq!(seen["query"], "limit=5&q=a%20b&sort=-name");
    let headers = &seen["headers"];
    assert_eq!(headers["x-api-key"], KEY);
    assert_eq!(headers["accept"], "application/json");
    let host = stub.base.trim_start_matches("http://");
    assert_eq!(headers["host"], host.trim_end_matches("/prefix"));
    let gone = [
        "cookie",
        "origin",
        "x-hop",
        "content-length",
        "transfer-encoding",
    ];
    for gone in gone {
        assert!(headers.get(gone).is_none(), "{gone} was sent: {headers}");
    }
}

#[tokio::test]
async fn a_post_body_reaches_the_upstream_byte_for_byte_sized_or_streamed() {
    let stub = stub().await;
    let proxy = Proxy::start(&stub.base, None).await;
    let body = format!("{{\"reason\":\"{}\"}}", "é-ok ".repeat(40_000));
    let request = proxy
        .client
        .post(proxy.url("/api/v1/echo"))
        .body(body.clone());
    let response = send(request.header("Content-Type", "application/json")).await;
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["headers"]["content-type"], "application/json");
    assert_eq!(seen["headers"]["content-length"], body.len().to_string());
    assert_eq!(seen["body"], body.as_str());

    // A body of unknown length (chunked) goes on as it comes.
    let chunks = ["{\"reason\":", "\"in ", "parts\"}"].map(|c| Ok::<_, Infallible>(c.to_owned()));
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = send(proxy.client.post(proxy.url("/api/v1/echo")).body(streamed)).await;
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["body"], "{\"reason\":\"in parts\"}");
}

#[tokio::test]
async fn upstream_errors_and_redirects_come_back_unchanged() {
    let stub = stub().await;
    let proxy = Proxy::start(&stub.base, None).await;
    let response = send(proxy.post("/api/v1/conflict", KEY, json!({"reason": "late"}))).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(header(&response, "x-request-id"), "upstream-409");
    assert_eq!(header(&response, "content-type"), "application/json");
    assert!(response.headers().get("set-cookie").is_none(), "no cookie");
    assert_eq!(response.bytes().await.unwrap(), CONFLICT.as_bytes());

    let response = send(proxy.get("/api/v1/me", "sk_unknown")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.bytes().await.unwrap(), UNAUTHORIZED.as_bytes());

    let response = send(proxy.get("/api/v1/moved", KEY)).await;
    assert_eq!(response.status(), StatusCode::FOUND, "not followed");
    assert_eq!(header(&response, "location"), "/elsewhere");
}

#[tokio::test]
async fn an_event_arrives_before_the_upstream_stream_ends() {
    let stub = stub().await;
    let proxy = Proxy::start(&stub.base, None).await;
    let events = proxy.client.get(proxy.url("/api/v1/events?ticket=t1"));
    let response = within("the stream's head", send(events)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), "text/event-stream");
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    // The upstream holds the stream open after the first event until the gate opens.
    read_until(&mut stream, &mut text, "event: one\ndata: 1\n\n").await;
    assert!(!text.contains("event: two"));
    stub.release.notify_one();
    while let Some(chunk) = within("the rest of the stream", stream.next()).await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert_eq!(text, "event: one\ndata: 1\n\nevent: two\ndata: 2\n\n");
}

#[tokio::test]
async fn this_registry_works_through_the_proxy_keys_bodies_errors_and_live_events() {
    let app = TestApp::spawn().await;
    let proxy = Proxy::start(&app.base, None).await;
    let id = app.add_agent("proxied").await;
    let (status, me) = harness::read(send(proxy.get("/api/v1/me", &app.viewer)).await).await;
    assert_eq!(
        (status, &me["name"]),
        (StatusCode::OK, &json!("viewer-victor"))
    );
    let list = proxy.get(&format!("/api/v1/agents?q={id}&limit=5"), &app.viewer);
    let (status, list) = harness::read(send(list).await).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["agents"][0]["sekuire_id"], id.as_str());

    // The live stream, opened with a ticket through the proxy, shows a pause sent through it.
    let ticket = proxy.post("/api/v1/events/ticket", &app.viewer, json!({}));
    let (_, ticket) = harness::read(send(ticket).await).await;
    let ticket = ticket["ticket"].as_str().unwrap();
    let events = proxy.url(&format!("/api/v1/events?ticket={ticket}"));
    let events = within("the stream's head", send(proxy.client.get(events))).await;
    assert_eq!(events.status(), StatusCode::OK);
    let mut stream = events.bytes_stream();
    let agent = |action: &str| format!("/api/v1/agents/{id}/{action}");
    let pause = json!({"reason": "via the proxy"});
    let paused = send(proxy.post(&agent("pause"), &app.operator, pause)).await;
    assert_eq!(paused.status(), StatusCode::OK);
    let paused_event = "\"runtime_status\":\"paused\"";
    read_until(&mut stream, &mut String::new(), paused_event).await;
    let (_, audit) = app.get(&app.admin, &agent("audit")).await;
    assert_eq!(audit["entries"][0]["reason"], "via the proxy");

    // Errors come back as the registry sent them, request id and all.
    send(proxy.post(&agent("terminate"), &app.admin, json!({}))).await;
    let refused = send(proxy.post(&agent("resume"), &app.admin, json!({}))).await;
    let request_id = header(&refused, "x-request-id");
    let (status, body) = harness::read(refused).await;
    harness::assert_error(status, &body, 409, "invalid_transition");
    assert_eq!(body["request_id"], request_id.as_str());
    let wrong = send(proxy.post("/api/v1/events/ticket", "sk_wrong", json!({}))).await;
    let (status, body) = harness::read(wrong).await;
    harness::assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_in_the_registry_error_shape() {
    let proxy = Proxy::start(&dead_upstream().await, None).await;
    let response = send(proxy.get("/api/v1/agents", KEY)).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(header(&response, "content-type"), "application/json");
    let request_id = header(&response, "x-request-id");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "internal");
    assert_eq!(body["request_id"], request_id.as_str());
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("could not be reached"), "{message}");
}

#[tokio::test]
async fn the_dashboard_comes_from_dist_and_other_api_paths_are_not_forwarded() {
    let dist = dist();
    // Nothing upstream: whatever is answered here, the proxy answered itself.
    let proxy = Proxy::start(&dead_upstream().await, Some(dist.path().to_path_buf())).await;
    for page in ["/", "/agents/0123456789ab", "/audit?q=x"] {
        let response = send(proxy.client.get(proxy.url(page))).await;
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        let csp = header(&response, "content-security-policy");
        assert_eq!(csp, fleet_registry::CONTENT_SECURITY_POLICY);
        assert_eq!(header(&response, "cache-control"), "no-cache");
        let shell = response.text().await.unwrap();
        assert!(shell.contains("proxied shell"), "{page}");
    }
    for path in ["/api", "/api/v2/agents", "/api/v1x"] {
        let (status, body) = harness::read(send(proxy.get(path, KEY)).await).await;
        harness::assert_error(status, &body, 404, "not_found");
    }
}

/// `sekuire-registry proxy` as a process, killed when dropped.
struct Binary(Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary at debug level; answers it, its URL, and all it prints (stdout, then
/// stderr), complete once it has been stopped.
fn start_binary(upstream: &str, dist: &Path) -> (Binary, String, JoinHandle<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sekuire-registry"))
        .args(["proxy", "--addr", "127.0.0.1:0", "--dist"])
        .arg(dist)
        .args(["--upstream", upstream])
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let child = Binary(child);
    let mut printed = String::new();
    let base = loop {
        let line = lines.next().expect("a listening line").unwrap();
        printed.push_str(&line);
        if let Some(rest) = line.strip_prefix("Registry listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let output = std::thread::spawn(move || {
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        lines
            .map_while(Result::ok)
            .for_each(|line| printed.push_str(&line));
        printed + &errors.join().unwrap()
    });
    (child, base, output)
}

#[tokio::test]
async fn the_binary_never_prints_a_key_even_when_logging_every_request() {
    let stub = stub().await;
    let dist = dist();
    let dead = dead_upstream().await;
    let client = reqwest::Client::new();
    let mut printed = String::new();
    let upstreams = [
        (stub.base.as_str(), StatusCode::OK),
        (dead.as_str(), StatusCode::BAD_GATEWAY),
    ];
    for (upstream, expected) in upstreams {
        let (child, base, output) = start_binary(upstream, dist.path());
        let url = format!("{base}/api/v1/echo");
        let keyed = client
            .get(format!("{url}?limit=1"))
            .header("X-API-Key", KEY);
        assert_eq!(send(keyed).await.status(), expected);
        let bearer = client.post(&url).bearer_auth(KEY).body("{}");
        assert_eq!(send(bearer).await.status(), expected);
        let shell = send(client.get(&base)).await;
        assert!(shell.text().await.unwrap().contains("proxied shell"));
        drop(child);
        printed.push_str(&output.join().unwrap());
    }
    // Debug logging was on, the failure was logged, and not the key nor a part of it.
    assert!(printed.contains("/api/v1/echo"), "{printed}");
    assert!(printed.contains("unreachable"), "{printed}");
    assert!(!printed.contains(KEY), "{printed}");
    assert!(!printed.contains("2f9c41d7"), "{printed}");
}
