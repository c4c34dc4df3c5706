//! The life of one installation: revoke, token refresh, and expiry when its leases stop.

use crate::harness::{assert_error, read, TestApp};
use crate::installations::{install_every, lease_with, Instance};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn lease(app: &TestApp, instance: &Instance, token: &str) -> (StatusCode, Value) {
    lease_with(app, &instance.id, token).await
}

#[tokio::test]
async fn a_revoke_stops_one_installation_and_is_audited() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("two-instances").await;
    let (doomed, survivor) = (
        install_every(&app, &id, 60).await,
        install_every(&app, &id, 60).await,
    );
    let path = format!("/api/v1/installations/{}/revoke", doomed.id);
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

    let (_, answer) = lease(&app, &doomed, &doomed.token).await;
    assert_eq!(answer["pending_command"], "terminate");
    assert_eq!(answer["shutdown_timeout_ms"], 5000);
    let (_, answer) = lease(&app, &survivor, &survivor.token).await;
    assert!(answer.get("pending_command").is_none(), "{answer}");
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(agent["runtime_status"], "active");

    // A pause later does not overwrite the revoked installation's terminate.
    app.act(&app.operator, &id, "pause", json!({})).await;
    let (_, answer) = lease(&app, &doomed, &doomed.token).await;
    assert_eq!(answer["pending_command"], "terminate");

    let (_, audit) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents/{id}/audit?action=revoke"),
        )
        .await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["installation_id"], doomed.id.as_str());
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
    let boot = install_every(&app, &id, 60).await;
    let outsider = app
        .store
        .create_key("admin-other", fleet_protocol::Role::Admin, "other")
        .await
        .unwrap();
    let path = format!("/api/v1/installations/{}/revoke", boot.id);
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
    let (_, answer) = lease(&app, &boot, &boot.token).await;
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
    let boot = install_every(&app, &id, 60).await;
    let path = format!("/api/v1/installations/{}/refresh", boot.id);
    let refresh = |token: Value| {
        app.client
            .post(app.url(&path))
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    let (status, body) = read(refresh(json!("rf_forged")).await.unwrap()).await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, fresh) = read(refresh(json!(boot.refresh_token)).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let new_token = fresh["runtime_token"].as_str().unwrap();
    assert_ne!(new_token, &boot.token);
    assert_eq!(lease(&app, &boot, new_token).await.0, StatusCode::OK);
    assert_eq!(lease(&app, &boot, &boot.token).await.0, StatusCode::OK);

    app.post(
        &app.admin,
        &format!("/api/v1/installations/{}/revoke", boot.id),
        json!({}),
    )
    .await;
    let (status, body) = read(refresh(json!(boot.refresh_token)).await.unwrap()).await;
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
    let boot = install_every(&app, &id, 1).await;
    assert_eq!(lease(&app, &boot, &boot.token).await.0, StatusCode::OK);
    app.act(&app.operator, &id, "pause", json!({})).await;
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
    app.act(&app.operator, &id, "resume", json!({})).await;
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert!(agent.get("pending_command").is_none(), "{agent}");
    // If it comes back, it learns the state on its first lease.
    let (_, answer) = lease(&app, &boot, &boot.token).await;
    assert_eq!(answer["pending_command"], "resume");
}

/// A token within a week of expiry is replaced on a lease. A client whose answer was lost
/// leases again with the old token and gets another new one; once it has leased with a new
/// one, a late request still carrying the old one gets none, so neither token in use is
/// dropped.
#[tokio::test]
async fn a_new_token_lost_on_the_way_is_handed_out_again_until_the_client_uses_one() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("rotating").await;
    let boot = install_every(&app, &id, 60).await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    app.execute(&format!(
        "UPDATE installations SET token_expires_at = {} WHERE installation_id = '{}'",
        now_ms + 3_600_000,
        boot.id
    ))
    .await
    .unwrap();
    let new_token = |answer: &Value| answer["refreshed_token"].as_str().map(str::to_owned);

    let (status, first) = lease(&app, &boot, &boot.token).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let lost = new_token(&first).expect("a token near expiry is replaced");
    let (status, again) = lease(&app, &boot, &boot.token).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let kept = new_token(&again).expect("the lost token is handed out anew");
    assert_ne!(kept, lost);
    assert_eq!(lease(&app, &boot, &lost).await.0, StatusCode::UNAUTHORIZED);

    let (status, used) = lease(&app, &boot, &kept).await;
    assert_eq!(status, StatusCode::OK, "{used}");
    assert_eq!(new_token(&used), None, "a fresh token is not replaced");
    let (status, late) = lease(&app, &boot, &boot.token).await;
    assert_eq!(status, StatusCode::OK, "the old token still works: {late}");
    assert_eq!(new_token(&late), None, "a late request gets no token");
}
