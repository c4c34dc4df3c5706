//! Onboarding as Sekuire's CLI does it: `login` (key check, `/me`), `push`, `metrics`,
//! and an admin's review of what was pushed. Pushes are built here the way `sekuire push`
//! builds them (sekuire-cli 0.2.11, `push.rs`), not with the registry's own code.

use crate::harness::{assert_error, read, TestApp};
use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn blake3_hex(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

/// A push as `sekuire push` sends it, signed by the key seeded with `seed`.
fn push_body(seed: u8, model: &str, name: &str, version: &str) -> Value {
    let prompt_hash = blake3_hex("You are a careful triage agent.");
    let tools_hash = blake3_hex("[]");
    let sekuire_id = blake3_hex(&format!(
        "model:{model}|prompt:{prompt_hash}|tools:{tools_hash}"
    ));
    let key = SigningKey::from_bytes(&[seed; 32]);
    json!({
        "manifest": {
            "project": {"name": name, "version": version, "description": null, "license": null, "authors": []},
            "identity": {"model": model, "system_prompt_path": "prompt.md", "tools_path": "tools.json",
                         "system_prompt_hash": prompt_hash, "tools_hash": tools_hash},
        },
        "sekuire_id": sekuire_id,
        "signature": hex::encode(key.sign(sekuire_id.as_bytes()).to_bytes()),
        "public_key": hex::encode(key.verifying_key().to_bytes()),
        "publisher_org_id": "default",
        "visibility": null,
        "status": "draft",
    })
}

async fn push(app: &TestApp, key: &str, body: &Value) -> (StatusCode, Value) {
    app.post(key, "/api/v1/publish", body.clone()).await
}

#[tokio::test]
async fn login_checks_a_key_without_using_it() {
    let app = TestApp::spawn().await;
    let check = |key: &str| {
        app.client
            .post(app.url("/api/v1/api-keys/verify"))
            .json(&json!({"api_key": key, "device_fingerprint": "f", "device_name": "laptop", "device_os": "linux"}))
            .send()
    };
    let (status, good) = read(check(&app.viewer).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(good, json!({"valid": true, "org_id": "default"}));
    let (status, bad) = read(check("sk_guess").await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bad["valid"], false);
    assert!(bad["error"].is_string());
}

#[tokio::test]
async fn a_push_registers_a_draft_and_a_new_version_keeps_its_state() {
    let app = TestApp::spawn().await;
    let mut body = push_body(7, "gpt-4o", "triage-bot", "1.0.0");
    // YAML's block text: line breaks are part of a description.
    body["manifest"]["project"]["description"] = json!("Sorts tickets.\nEscalates outages.\n");
    let id = body["sekuire_id"].as_str().unwrap().to_owned();
    let (status, first) = push(&app, &app.operator, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["created"], true);
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(
        (&agent["name"], &agent["version"]),
        (&json!("triage-bot"), &json!("1.0.0"))
    );
    assert_eq!(agent["verification_status"], "pending");
    assert_eq!(agent["description"], "Sorts tickets.\nEscalates outages.");
    assert_eq!(agent["runtime_status"], "active");
    assert_eq!(agent["manifest"]["identity"]["model"], "gpt-4o");
    assert_eq!(agent["publisher_key"], body["public_key"]);
    let (_, list) = app
        .get(&app.viewer, "/api/v1/agents?verification_status=pending")
        .await;
    assert!(
        list["agents"][0].get("manifest").is_none(),
        "lists carry no manifests"
    );

    app.act(&app.operator, &id, "pause", json!({"reason": "review"}))
        .await;
    let (status, second) = push(
        &app,
        &app.operator,
        &push_body(7, "gpt-4o", "triage-bot", "1.1.0"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["created"], false);
    assert_eq!(second["agent"]["version"], "1.1.0");
    assert_eq!(
        second["agent"]["runtime_status"], "paused",
        "a new version keeps the state"
    );
    let (_, audit) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents/{id}/audit?action=publish"),
        )
        .await;
    let versions: Vec<_> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from_status"].as_str().unwrap(),
                e["to_status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions, [("1.0.0", "1.1.0"), ("new", "1.0.0")]);
    let (_, logs) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents/{id}/logs?event_type=lifecycle"),
        )
        .await;
    assert_eq!(logs["total"], 3, "two pushes and a pause: {logs}");

    // The same ID signed by someone else's key is not theirs to update.
    let (status, body) = push(
        &app,
        &app.operator,
        &push_body(9, "gpt-4o", "hijack", "6.6.6"),
    )
    .await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = push(
        &app,
        &app.viewer,
        &push_body(7, "gpt-4o", "triage-bot", "1.2.0"),
    )
    .await;
    assert_error(status, &body, 403, "forbidden");
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(
        (&agent["name"], &agent["version"]),
        (&json!("triage-bot"), &json!("1.1.0"))
    );
}

/// The names a search finds in `sort`'s order, one per page, so that every page after the
/// first is read from a cursor; from `cursor` when one is given.
async fn found(app: &TestApp, q: &str, sort: &str, cursor: Option<&str>) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
    loop {
        let path = format!("/api/v1/agents?q={q}&sort={sort}&limit=1{cursor}");
        let (status, page) = app.get(&app.viewer, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let agents = page["agents"].as_array().unwrap();
        names.extend(
            agents
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return names,
        }
    }
}

#[tokio::test]
async fn a_push_that_renames_an_agent_moves_it_in_searches_by_name() {
    let app = TestApp::spawn().await;
    for (model, name) in [("m1", "scan-b"), ("m2", "scan-d"), ("m3", "scan-f")] {
        let (status, body) = push(&app, &app.operator, &push_body(7, model, name, "1.0.0")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(
        found(&app, "scan", "name", None).await,
        ["scan-b", "scan-d", "scan-f"]
    );
    let (_, first) = app
        .get(&app.viewer, "/api/v1/agents?q=scan&sort=name&limit=1")
        .await;
    let after_b = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, first) = app
        .get(&app.viewer, "/api/v1/agents?q=scan&sort=-name&limit=1")
        .await;
    let before_f = first["next_cursor"].as_str().unwrap().to_owned();

    let (status, body) = push(&app, &app.operator, &push_body(7, "m1", "scan-z", "1.1.0")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        found(&app, "scan", "name", None).await,
        ["scan-d", "scan-f", "scan-z"]
    );
    assert_eq!(
        found(&app, "scan", "-name", None).await,
        ["scan-z", "scan-f", "scan-d"]
    );
    assert!(
        found(&app, "scan-b", "name", None).await.is_empty(),
        "the old name is gone"
    );
    assert_eq!(found(&app, "can-z", "name", None).await, ["scan-z"]);
    assert_eq!(
        found(&app, "-z", "name", None).await,
        ["scan-z"],
        "two characters"
    );
    // A cursor is a place in name order: its agent renamed away, the pages after it are
    // still the names after that place.
    assert_eq!(
        found(&app, "scan", "name", Some(&after_b)).await,
        ["scan-d", "scan-f", "scan-z"]
    );
    let (status, body) = push(&app, &app.operator, &push_body(7, "m3", "scan-a", "1.1.0")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        found(&app, "scan", "-name", Some(&before_f)).await,
        ["scan-d", "scan-a"]
    );

    // A new version under the same name keeps the agent where it is.
    let (status, body) = push(&app, &app.operator, &push_body(7, "m2", "scan-d", "1.1.0")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        found(&app, "scan", "name", None).await,
        ["scan-a", "scan-d", "scan-z"]
    );
}

#[tokio::test]
async fn forged_and_malformed_pushes_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let good = push_body(7, "gpt-4o", "triage-bot", "1.0.0");
    let mut bad_signature = good.clone();
    bad_signature["signature"] = json!(hex::encode(
        SigningKey::from_bytes(&[8; 32])
            .sign(b"something else")
            .to_bytes()
    ));
    let mut wrong_id = good.clone();
    wrong_id["manifest"]["identity"]["model"] = json!("gpt-5");
    let mut control_name = good.clone();
    control_name["manifest"]["project"]["name"] = json!("triage\u{1b}[31m-bot");
    let mut bidi_name = good.clone();
    bidi_name["manifest"]["project"]["name"] = json!("triage\u{202e}tob");
    let mut no_identity = good.clone();
    no_identity["manifest"]
        .as_object_mut()
        .unwrap()
        .remove("identity");
    let mut not_hex_key = good.clone();
    not_hex_key["public_key"] = json!("zz");
    for (case, body, says) in [
        ("bad signature", &bad_signature, "signature does not verify"),
        (
            "id not the manifest's",
            &wrong_id,
            "does not match the manifest",
        ),
        ("control characters", &control_name, "manifest.project.name"),
        ("bidi override", &bidi_name, "manifest.project.name"),
        ("no identity", &no_identity, "manifest.identity is missing"),
        ("bad key", &not_hex_key, "public_key"),
    ] {
        let (status, answer) = push(&app, &app.operator, body).await;
        assert_error(status, &answer, 400, "invalid_request");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{case}: {answer}"
        );
    }
    let mut huge = good.clone();
    huge["manifest"]["padding"] = json!("x".repeat(10 * 1024 * 1024));
    let (status, answer) = push(&app, &app.operator, &huge).await;
    assert_error(status, &answer, 413, "payload_too_large");
    let (_, list) = app.get(&app.viewer, "/api/v1/agents").await;
    assert_eq!(list["total"], 0, "nothing was registered: {list}");
}

#[tokio::test]
async fn an_admin_verifies_a_draft_with_a_reason_and_metrics_show_the_badge() {
    let app = TestApp::spawn().await;
    let body = push_body(7, "gpt-4o", "triage-bot", "1.0.0");
    let id = body["sekuire_id"].as_str().unwrap().to_owned();
    push(&app, &app.operator, &body).await;
    let path = format!("/api/v1/agents/{id}/verification");
    let (status, answer) = app
        .post(&app.operator, &path, json!({"status": "verified"}))
        .await;
    assert_error(status, &answer, 403, "forbidden");
    let (status, answer) = app
        .post(&app.admin, &path, json!({"status": "pending"}))
        .await;
    assert_error(status, &answer, 400, "invalid_request");
    let (status, agent) = app
        .post(
            &app.admin,
            &path,
            json!({"status": "verified", "reason": "reviewed the prompt"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{agent}");
    assert_eq!(agent["verification_status"], "verified");
    let (_, audit) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents/{id}/audit?action=verify"),
        )
        .await;
    let entry = &audit["entries"][0];
    assert_eq!(
        (&entry["from_status"], &entry["to_status"]),
        (&json!("pending"), &json!("verified"))
    );
    assert_eq!(entry["reason"], "reviewed the prompt");

    // `sekuire metrics` sends no key.
    let (status, reputation) = read(
        app.client
            .get(app.url(&format!("/api/v1/agents/{id}/reputation")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reputation["verification_badge"], "verified");
    assert_eq!(reputation["recent_logs"], json!([]));
    assert!(reputation["score"].is_i64() && reputation["task_count"].is_i64());

    // Terminated is final: its verification is frozen too.
    app.act(&app.admin, &id, "terminate", json!({"reason": "retired"}))
        .await;
    let (status, answer) = app
        .post(&app.admin, &path, json!({"status": "suspended"}))
        .await;
    assert_error(status, &answer, 409, "invalid_transition");
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(agent["verification_status"], "verified");
}

#[tokio::test]
async fn sdk_batches_answer_in_sekuires_shape_and_cannot_forge_lifecycle_lines() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("logger").await;
    let path = format!("/api/v1/agents/{id}/logs/batch");
    let (status, answer) = app
        .post(
            &app.operator,
            &path,
            json!({"events": [{"event_type": "task_completed", "severity": "info"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({"success": true, "events_logged": 1, "errors": []})
    );
    let forged = json!({"events": [
        {"event_type": "tool_execution"},
        {"event_type": "lifecycle", "event_data": {"action": "terminate", "actor": "admin-alice"}},
    ]});
    let (status, answer) = app.post(&app.operator, &path, forged).await;
    assert_error(status, &answer, 400, "invalid_request");
    assert!(answer["message"].as_str().unwrap().contains("events[1]"));
    for disguised in [" Lifecycle", "life\u{200b}cycle", "LIFECYCLE"] {
        let batch = json!({"events": [{"event_type": disguised}]});
        let (status, answer) = app.post(&app.operator, &path, batch).await;
        assert_error(status, &answer, 400, "invalid_request");
    }
    let (_, logs) = app
        .get(&app.viewer, &format!("/api/v1/agents/{id}/logs"))
        .await;
    assert_eq!(logs["total"], 1, "the whole batch was refused: {logs}");
}
