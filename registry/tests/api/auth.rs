//! Keys and roles: 401 for no/unknown/revoked keys, 403 for roles too low, 429 past the limit.

use crate::harness::{assert_error, read, TestApp};
use fleet_registry::Config;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn requests_without_a_key_are_unauthorized() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("locked").await;
    for (method, path) in [
        ("GET", "/api/v1/agents".to_owned()),
        ("GET", format!("/api/v1/agents/{id}")),
        ("POST", format!("/api/v1/agents/{id}/pause")),
        ("GET", "/api/v1/audit".to_owned()),
        ("GET", "/api/v1/me".to_owned()),
    ] {
        let request = match method {
            "GET" => app.client.get(app.url(&path)),
            _ => app.client.post(app.url(&path)).json(&json!({})),
        };
        let (status, body) = read(request.send().await.unwrap()).await;
        assert_error(status, &body, 401, "unauthorized");
    }
    let (status, body) = app.get("sk_not_a_real_key", "/api/v1/me").await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = TestApp::spawn().await;
    let (status, _) = app.get(&app.viewer, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(app.store.revoke_key("viewer-victor").await.unwrap());
    let (status, body) = app.get(&app.viewer, "/api/v1/me").await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn roles_gate_each_command() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("gated").await;
    let (status, body) = app.act(&app.viewer, &id, "pause", json!({})).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = app.act(&app.operator, &id, "terminate", json!({})).await;
    assert_error(status, &body, 403, "forbidden");
    assert!(body["message"].as_str().unwrap().contains("admin"));
    let (status, body) = app
        .post(
            &app.operator,
            "/api/v1/workspaces/ws1/install-tokens",
            json!({"sekuire_id": id}),
        )
        .await;
    assert_error(status, &body, 403, "forbidden");
    assert_eq!(
        app.audit_count(&id).await,
        0,
        "refused commands change nothing"
    );

    let (status, _) = app.act(&app.operator, &id, "pause", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.act(&app.admin, &id, "terminate", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bearer_keys_are_accepted_and_me_names_the_caller() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&app.operator)
        .send()
        .await
        .unwrap();
    let (status, me) = read(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&me["name"], &me["role"]),
        (&json!("operator-olga"), &json!("operator"))
    );
    // Sekuire's user shape beside ours: `sekuire login` takes the first workspace.
    assert_eq!(me["workspaces"][0]["id"], "default");
    assert_eq!(me["orgs"][0]["id"], "default");
}

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(Config {
        rate_limit_per_second: 2,
        ..Config::default()
    })
    .await;
    let mut limited = None;
    for _ in 0..10 {
        let response = app
            .client
            .get(app.url("/api/v1/me"))
            .header("X-API-Key", &app.viewer)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let response = limited.expect("the burst of 4 is exceeded within 10 requests");
    assert!(response.headers().contains_key("retry-after"));
    let (status, body) = read(response).await;
    assert_error(status, &body, 429, "rate_limited");
    let (status, _) = app.get(&app.admin, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "other keys are unaffected");
}

#[tokio::test]
async fn keys_are_stored_hashed_and_never_echoed() {
    let app = TestApp::spawn().await;
    let (_, body) = app.get("sk_wrong_but_secret", "/api/v1/me").await;
    assert!(!body.to_string().contains("sk_wrong_but_secret"));
    let needle = app.admin.as_bytes();
    let Some(db) = app.sqlite_file() else {
        return;
    };
    for file in [db.clone(), db.with_extension("db-wal")] {
        let raw = std::fs::read(&file).unwrap_or_default();
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "{} must not contain a key in clear",
            file.display()
        );
    }
}

#[tokio::test]
async fn only_configured_origins_may_call_from_a_browser() {
    let app = TestApp::spawn_with(Config {
        cors_origins: vec!["http://console.example:8080".into()],
        ..Config::default()
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/agents"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "x-api-key,if-match,content-type",
            )
            .send()
    };
    let allowed = preflight("http://console.example:8080").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://console.example:8080"
    );
    let refused = preflight("http://elsewhere.example").await.unwrap();
    assert!(!refused
        .headers()
        .contains_key("access-control-allow-origin"));
    // A browser on that origin may read where a CSV export continues.
    let export = app
        .client
        .get(app.url("/api/v1/audit?format=csv"))
        .header("Origin", "http://console.example:8080")
        .header("X-API-Key", &app.viewer)
        .send()
        .await
        .unwrap();
    let exposed = export.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-next-cursor"), "{exposed}");
}
