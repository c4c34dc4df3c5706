//! The live event stream: single-use tickets, and changes arriving as SSE.

use crate::harness::{assert_error, read, TestApp};
use crate::installations::{install_every, lease_with};
use futures_util::{Stream, StreamExt};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

async fn ticket(app: &TestApp) -> String {
    let (status, body) = app
        .post(&app.viewer, "/api/v1/events/ticket", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["ticket"].as_str().unwrap().to_owned()
}

/// The live stream, opened with a fresh ticket.
async fn open_stream(app: &TestApp) -> reqwest::Response {
    let ticket = ticket(app).await;
    app.client
        .get(app.url(&format!("/api/v1/events?ticket={ticket}")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_pause_arrives_on_the_stream_as_agent_and_audit_events() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("watched").await;
    let response = open_stream(&app).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = response.bytes_stream();

    app.post(
        &app.operator,
        &format!("/api/v1/agents/{id}/pause"),
        json!({"reason": "live"}),
    )
    .await;

    let text = read_until(&mut stream, |text| {
        text.contains("event: agent") && text.contains("event: audit")
    })
    .await;
    let agent = first_event(&text, "agent");
    assert_eq!(agent["sekuire_id"], id.as_str());
    assert_eq!(agent["runtime_status"], "paused");
}

/// The first lease after a pause hands the command over, which clears the agent's pending
/// command: an open stream shows the agent without it.
#[tokio::test]
async fn a_pause_handed_to_the_installation_clears_on_the_stream() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("delivered").await;
    let instance = install_every(&app, &id, 60).await;
    app.post(
        &app.operator,
        &format!("/api/v1/agents/{id}/pause"),
        json!({}),
    )
    .await;
    let mut stream = open_stream(&app).await.bytes_stream();

    let (status, answer) = lease_with(&app, &instance.id, &instance.token).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["pending_command"], "pause");

    let text = read_until(&mut stream, |text| text.contains("event: agent")).await;
    let agent = first_event(&text, "agent");
    assert_eq!(agent["sekuire_id"], id.as_str());
    assert_eq!(agent["runtime_status"], "paused");
    assert!(agent.get("pending_command").is_none(), "{agent}");
}

/// Reads `stream` until its text so far is `done`, for at most 5 s.
async fn read_until(
    stream: &mut (impl Stream<Item = reqwest::Result<impl AsRef<[u8]>>> + Unpin),
    done: impl Fn(&str) -> bool,
) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !done(&text) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events arrive within 5 s")
            .expect("stream open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
    text
}

/// The data of the first `name` event in a stream's text.
fn first_event(text: &str, name: &str) -> serde_json::Value {
    let data = text
        .split(&format!("event: {name}\ndata: "))
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("no {name} event in {text}"));
    serde_json::from_str(data).unwrap()
}

#[tokio::test]
async fn a_ticket_opens_the_stream_once() {
    let app = TestApp::spawn().await;
    let ticket = ticket(&app).await;
    let first = app
        .client
        .get(app.url(&format!("/api/v1/events?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    drop(first);
    let second = app
        .client
        .get(app.url(&format!("/api/v1/events?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    let (status, body) = read(second).await;
    assert_error(status, &body, 401, "unauthorized");
    let none = app
        .client
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    let (status, body) = read(none).await;
    assert_error(status, &body, 401, "unauthorized");
}
