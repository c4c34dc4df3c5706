//! The life of one installation: revoke, token refresh, and expiry when its leases stop.

use crate::harness::{assert_error, read, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Bootstraps an installation of `sekuire_id`; returns the bootstrap answer.
async fn bootstrap(app: &TestApp, sekuire_id: &str, interval: i64) -> Value {
    let (status, token) = app
        .post(
            &app.admin,
            "/api/v1/workspaces/default/install-tokens",
            json!({ "sekuire_id": sekuire_id }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let response = app
        .client
        .post(app.url("/api/v1/installations/bootstrap"))
        .json(&json!({"install_token": token["token"], "heartbeat_interval_seconds": interval}))
        .send()
        .await
        .unwrap();
    let (status, boot) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{boot}");
    boot
}

async fn lease(app: &TestApp, boot: &Value, token: &str) -> (StatusCode, Value) {
    let id = boot["installation_id"].as_str().unwrap();
    let response = app
        .client
        .post(app.url(&format!("/api/v1/installations/{id}/lease")))
        .bearer_auth(token)
        .json(&json!({"status": "running"}))
        .send()
        .await
        .unwrap();
    read(response).await
}

fn runtime_token(boot: &Value) -> &str {
    boot["runtime_token"].as_str().unwrap()
}

#[tokio::test]
async fn a_revoke_stops_one_installation_and_is_audited() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("two-instances").await;
    let (doomed, survivor) = (
        bootstrap(&app, &id, 60).await,
        bootstrap(&app, &id, 60).await,
    );
    let path = format!(
        "/api/v1/installations/{}/revoke",
        doomed["installation_id"].as_str().unwrap()
    );
    let (status, body) = app
        .post(&app.operator, &path, json!({"reason": "leaked token"}))
        .await;
    assert_error(status, &body, 403, "forbidden");
    let (status, revoked) = app
        .post(
            &app.admin,
            &path,
            json!({"reason": "leaked token", "shutdown_timeout_ms": 5000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked_at"].is_string());

    let (_, answer) = lease(&app, &doomed, runtime_token(&doomed)).await;
    assert_eq!(answer["pending_command"], "terminate");
    assert_eq!(answer["shutdown_timeout_ms"], 5000);
    let (_, answer) = lease(&app, &survivor, runtime_token(&survivor)).await;
    assert!(answer.get("pending_command").is_none(), "{answer}");
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(agent["runtime_status"], "active");

    // A pause later does not overwrite the revoked installation's terminate.
    app.post(
        &app.operator,
        &format!("/api/v1/agents/{id}/pause"),
        json!({}),
    )
    .await;
    let (_, answer) = lease(&app, &doomed, runtime_token(&doomed)).await;
    assert_eq!(answer["pending_command"], "terminate");

    let (_, audit) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents/{id}/audit?action=revoke"),
        )
        .await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["installation_id"], doomed["installation_id"]);
    assert_eq!(
        (&entry["to_status"], &entry["reason"]),
        (&json!("revoked"), &json!("leaked token"))
    );
    let (status, again) = app.post(&app.admin, &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        app.audit_count(&id).await,
        2,
        "a second revoke writes nothing (pause + revoke)"
    );
}

#[tokio::test]
async fn another_workspaces_installation_cannot_be_revoked_or_issued() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("elsewhere").await;
    let boot = bootstrap(&app, &id, 60).await;
    let outsider = app
        .store
        .create_key("admin-other", fleet_protocol::Role::Admin, "other")
        .await
        .unwrap();
    let path = format!(
        "/api/v1/installations/{}/revoke",
        boot["installation_id"].as_str().unwrap()
    );
    let (status, body) = app.post(&outsider, &path, json!({"reason": "mine?"})).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = app
        .post(
            &outsider,
            "/api/v1/workspaces/default/install-tokens",
            json!({ "sekuire_id": id }),
        )
        .await;
    assert_error(status, &body, 404, "not_found");
    let (_, answer) = lease(&app, &boot, runtime_token(&boot)).await;
    assert!(
        answer.get("pending_command").is_none(),
        "nothing changed: {answer}"
    );
    assert_eq!(app.audit_count(&id).await, 0);
    let (_, me) = app.get(&outsider, "/api/v1/me").await;
    assert_eq!(me["workspaces"][0]["id"], "other");
}

#[tokio::test]
async fn a_refreshed_token_works_beside_the_old_one_but_not_after_a_revoke() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("refreshing").await;
    let boot = bootstrap(&app, &id, 60).await;
    let path = format!(
        "/api/v1/installations/{}/refresh",
        boot["installation_id"].as_str().unwrap()
    );
    let refresh = |token: Value| {
        app.client
            .post(app.url(&path))
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    let (status, body) = read(refresh(json!("rf_forged")).await.unwrap()).await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, fresh) = read(refresh(boot["refresh_token"].clone()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let new_token = fresh["runtime_token"].as_str().unwrap();
    assert_ne!(new_token, runtime_token(&boot));
    assert_eq!(lease(&app, &boot, new_token).await.0, StatusCode::OK);
    assert_eq!(
        lease(&app, &boot, runtime_token(&boot)).await.0,
        StatusCode::OK
    );

    app.post(
        &app.admin,
        &format!(
            "/api/v1/installations/{}/revoke",
            boot["installation_id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    let (status, body) = read(refresh(boot["refresh_token"].clone()).await.unwrap()).await;
    assert_error(status, &body, 401, "unauthorized");
    assert!(body["message"].as_str().unwrap().contains("revoked"));
    let (_, answer) = lease(&app, &boot, new_token).await;
    assert_eq!(
        answer["pending_command"], "terminate",
        "the revoked token still hears terminate"
    );
}

#[tokio::test]
async fn an_installation_whose_leases_stop_is_gone_and_owes_nothing() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("vanishing").await;
    // One-second heartbeats: the lease expires three seconds after the last one.
    let boot = bootstrap(&app, &id, 1).await;
    assert_eq!(
        lease(&app, &boot, runtime_token(&boot)).await.0,
        StatusCode::OK
    );
    app.post(
        &app.operator,
        &format!("/api/v1/agents/{id}/pause"),
        json!({}),
    )
    .await;
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(agent["pending_command"], "pause");
    tokio::time::sleep(std::time::Duration::from_millis(3_300)).await;

    let (_, list) = app
        .get(&app.viewer, &format!("/api/v1/agents/{id}/installations"))
        .await;
    assert_eq!(list["installations"][0]["status"], "gone");
    assert_eq!(
        app.store.clear_undeliverable_commands().await.unwrap(),
        vec![id.clone()]
    );
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert!(agent.get("pending_command").is_none(), "{agent}");
    // A later change no longer shows as waiting for it.
    app.post(
        &app.operator,
        &format!("/api/v1/agents/{id}/resume"),
        json!({}),
    )
    .await;
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert!(agent.get("pending_command").is_none(), "{agent}");
    // If it comes back, it learns the state on its first lease.
    let (_, answer) = lease(&app, &boot, runtime_token(&boot)).await;
    assert_eq!(answer["pending_command"], "resume");
}
