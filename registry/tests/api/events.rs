//! The live event stream: single-use tickets, and changes arriving as SSE.

use crate::harness::{assert_error, read, wait_for_event, TestApp};
use crate::installations::{install_every, lease_with};
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

/// How long an event may take to reach a stream of the same process.
const EVENT_WITHIN: Duration = Duration::from_secs(5);

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
    // Agent and audit events may come in either order: one stream waits for each.
    let audits = open_stream(&app).await;

    app.act(&app.operator, &id, "pause", json!({"reason": "live"}))
        .await;

    let agent = wait_for_event(response, "agent", EVENT_WITHIN, |_| true).await;
    wait_for_event(audits, "audit", EVENT_WITHIN, |_| true).await;
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
    app.act(&app.operator, &id, "pause", json!({})).await;
    let stream = open_stream(&app).await;

    let (status, answer) = lease_with(&app, &instance.id, &instance.token).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["pending_command"], "pause");

    let agent = wait_for_event(stream, "agent", EVENT_WITHIN, |_| true).await;
    assert_eq!(agent["sekuire_id"], id.as_str());
    assert_eq!(agent["runtime_status"], "paused");
    assert!(agent.get("pending_command").is_none(), "{agent}");
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
