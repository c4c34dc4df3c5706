//! The live event stream: single-use tickets, and changes arriving as SSE.

use crate::harness::{assert_error, read, TestApp};
use futures_util::StreamExt;
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

#[tokio::test]
async fn a_pause_arrives_on_the_stream_as_agent_and_audit_events() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("watched").await;
    let ticket = ticket(&app).await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/events?ticket={ticket}")))
        .send()
        .await
        .unwrap();
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

    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !(text.contains("event: agent") && text.contains("event: audit")) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events arrive within 5 s")
            .expect("stream open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let agent_data = text
        .split("event: agent\ndata: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap();
    let agent: serde_json::Value = serde_json::from_str(agent_data).unwrap();
    assert_eq!(agent["sekuire_id"], id.as_str());
    assert_eq!(agent["runtime_status"], "paused");
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
