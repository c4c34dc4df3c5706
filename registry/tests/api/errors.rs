//! Each row of the spec's error table, as status and JSON body.

use crate::harness::{assert_error, read, TestApp};
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("json").await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/agents/{id}/pause")))
        .header("X-API-Key", &app.operator)
        .header("content-type", "application/json")
        .body("{\"reason\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = app
        .act(&app.operator, &id, "pause", json!({"reason": 42}))
        .await;
    assert_error(status, &body, 400, "invalid_request");
    assert_eq!(app.audit_count(&id).await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("content-type").await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/agents/{id}/pause")))
        .header("X-API-Key", &app.operator)
        .header("content-type", "text/plain")
        .body("pause please")
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_error(status, &body, 400, "invalid_request");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("application/json"));
}

#[tokio::test]
async fn ids_that_are_not_lowercase_hex_are_a_400() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(65);
    for bad in ["XYZ", "7F8A9B", "not-hex", long.as_str(), "a.b", "%20"] {
        let (status, body) = app.get(&app.viewer, &format!("/api/v1/agents/{bad}")).await;
        assert_error(status, &body, 400, "invalid_request");
        let (status, body) = app.act(&app.admin, bad, "terminate", json!({})).await;
        assert_error(status, &body, 400, "invalid_request");
    }
}

#[tokio::test]
async fn bad_query_values_are_a_400() {
    let app = TestApp::spawn().await;
    for query in [
        "runtime_status=sleeping",
        "health=great",
        "verification_status=maybe",
        "min_reputation=101",
        "min_reputation=abc",
        "sort=colour",
        "limit=0",
        "limit=-5",
        "cursor=garbage",
    ] {
        let (status, body) = app
            .get(&app.viewer, &format!("/api/v1/agents?{query}"))
            .await;
        assert_error(status, &body, 400, "invalid_request");
    }
    for query in ["since=yesterday", "action=delete", "format=xml", "cursor=x"] {
        let (status, body) = app
            .get(&app.viewer, &format!("/api/v1/audit?{query}"))
            .await;
        assert_error(status, &body, 400, "invalid_request");
    }
}

#[tokio::test]
async fn a_cursor_from_another_sort_is_a_400() {
    let app = TestApp::spawn().await;
    app.add_agent("one").await;
    app.add_agent("two").await;
    let (_, page) = app
        .get(&app.viewer, "/api/v1/agents?limit=1&sort=name")
        .await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, body) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents?limit=1&sort=-reputation_score&cursor={cursor}"),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
}

#[tokio::test]
async fn reasons_over_a_thousand_characters_are_a_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("wordy").await;
    let (status, body) = app
        .act(
            &app.operator,
            &id,
            "pause",
            json!({"reason": "x".repeat(1_001)}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(agent["runtime_status"], "active");
    let (status, _) = app
        .act(
            &app.operator,
            &id,
            "pause",
            json!({"reason": "x".repeat(1_000)}),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "exactly 1,000 is allowed");
}

#[tokio::test]
async fn unknown_agents_and_routes_are_json_404s() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get(&app.viewer, "/api/v1/agents/0123456789ab").await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = app
        .act(&app.admin, "0123456789ab", "terminate", json!({}))
        .await;
    assert_error(status, &body, 404, "not_found");
    for path in ["/api/v1/nope", "/api/v2/agents", "/api"] {
        let (status, body) = app.get(&app.viewer, path).await;
        assert_error(status, &body, 404, "not_found");
    }
    let response = app
        .client
        .delete(app.url("/api/v1/agents"))
        .header("X-API-Key", &app.admin)
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_error(status, &body, 405, "method_not_allowed");
}

#[tokio::test]
async fn bodies_over_64_kib_are_a_413() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("heavy").await;
    let padding = "x".repeat(70 * 1024);
    let (status, body) = app
        .act(
            &app.operator,
            &id,
            "pause",
            json!({"reason": "r", "padding": padding}),
        )
        .await;
    assert_error(status, &body, 413, "payload_too_large");

    // Without a Content-Length (chunked), the limit still holds while reading.
    let chunks =
        futures_util::stream::iter((0..80).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let response = app
        .client
        .post(app.url(&format!("/api/v1/agents/{id}/pause")))
        .header("X-API-Key", &app.operator)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_error(status, &body, 413, "payload_too_large");
    assert_eq!(app.audit_count(&id).await, 0);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (_, body) = read(response).await;
    assert_eq!(body["request_id"], header.as_str());
}
