//! The state machine over HTTP, exactly as Sekuire's CLI drives it.

use crate::harness::{assert_error, read, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn every_allowed_edge_changes_state_and_writes_one_audit_entry() {
    let app = TestApp::spawn().await;
    let edges = [
        ("pause", "active", "paused"),
        ("resume", "paused", "active"),
        ("pause", "active", "paused"),
        ("terminate", "paused", "terminated"),
    ];
    let id = app.add_agent("edge-walker").await;
    for (n, (action, from, to)) in edges.iter().enumerate() {
        let (status, body) = app.act(&app.admin, &id, action, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
        assert_eq!(body["changed"], true);
        assert_eq!(body["agent"]["runtime_status"], *to);
        assert!(body["audit_id"].is_i64());
        let (_, audit) = app
            .get(&app.admin, &format!("/api/v1/agents/{id}/audit"))
            .await;
        assert_eq!(audit["entries"].as_array().unwrap().len(), n + 1);
        assert_eq!(audit["entries"][0]["from_status"], *from);
        assert_eq!(audit["entries"][0]["to_status"], *to);
        assert_eq!(audit["entries"][0]["action"], *action);
    }

    let direct = app.add_agent("direct-kill").await;
    let (status, body) = app.act(&app.admin, &direct, "terminate", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["agent"]["runtime_status"], "terminated");
    assert_eq!(app.audit_count(&direct).await, 1);
}

#[tokio::test]
async fn same_state_requests_succeed_without_change_or_audit() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("idempotent").await;
    let (status, body) = app.act(&app.admin, &id, "resume", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["changed"], false);
    assert!(body.get("audit_id").is_none());
    app.act(&app.admin, &id, "pause", json!({})).await;
    let (status, body) = app.act(&app.admin, &id, "pause", json!({})).await;
    assert_eq!((status, &body["changed"]), (StatusCode::OK, &json!(false)));
    app.act(&app.admin, &id, "terminate", json!({})).await;
    let (status, body) = app.act(&app.admin, &id, "terminate", json!({})).await;
    assert_eq!((status, &body["changed"]), (StatusCode::OK, &json!(false)));
    assert_eq!(
        app.audit_count(&id).await,
        2,
        "only the two real changes are audited"
    );
}

#[tokio::test]
async fn nothing_leaves_terminated() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("gone-for-good").await;
    app.act(&app.admin, &id, "terminate", json!({})).await;
    for action in ["resume", "pause"] {
        let (status, body) = app.act(&app.admin, &id, action, json!({})).await;
        assert_error(status, &body, 409, "invalid_transition");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(&id) && message.contains("terminated"),
            "{message}"
        );
    }
    let (_, agent) = app.get(&app.admin, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(agent["runtime_status"], "terminated");
    assert_eq!(app.audit_count(&id).await, 1);
}

#[tokio::test]
async fn stale_if_match_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("guarded").await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/agents/{id}")))
        .header("X-API-Key", &app.operator)
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let (_, seen) = read(response).await;
    assert_eq!(etag, format!("\"{}\"", seen["revision"]));

    // Someone else pauses and resumes meanwhile: the revision moves on twice.
    app.act(&app.admin, &id, "pause", json!({})).await;
    app.act(&app.admin, &id, "resume", json!({})).await;

    let stale = app
        .client
        .post(app.url(&format!("/api/v1/agents/{id}/pause")))
        .header("X-API-Key", &app.operator)
        .header("If-Match", &etag)
        .json(&json!({"reason": "acting on what I saw"}))
        .send()
        .await
        .unwrap();
    let (status, body) = read(stale).await;
    assert_error(status, &body, 412, "precondition_failed");
    let (_, now) = app.get(&app.admin, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(now["runtime_status"], "active");
    assert_eq!(app.audit_count(&id).await, 2);

    let fresh = app
        .client
        .post(app.url(&format!("/api/v1/agents/{id}/pause")))
        .header("X-API-Key", &app.operator)
        .header("If-Match", format!("\"{}\"", now["revision"]))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
}

#[tokio::test]
async fn sekuire_cli_requests_work_unchanged() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("my-agent").await;

    // `sekuire stop <ID> --reason T`
    let (status, body) = app
        .act(
            &app.operator,
            &id,
            "pause",
            json!({"reason": "Maintenance window"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // `sekuire resume <ID>` with an empty body and no content type
    let response = app
        .client
        .post(app.url(&format!("/api/v1/agents/{id}/resume")))
        .header("X-API-Key", &app.operator)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // `sekuire kill <ID>` with `{}`
    let (status, _) = app.act(&app.admin, &id, "terminate", json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // `sekuire agent-status <ID>` reads these fields.
    let (status, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "name",
        "version",
        "sekuire_id",
        "runtime_status",
        "verification_status",
        "reputation_score",
        "last_heartbeat_at",
    ] {
        assert!(
            agent.get(field).is_some(),
            "agent-status needs `{field}`: {agent}"
        );
    }
    assert_eq!(agent["name"], "my-agent");
    assert_eq!(agent["last_heartbeat_at"], Value::Null);
    assert_eq!(agent["status_changed_by"], "admin-alice");

    let (_, audit) = app
        .get(&app.viewer, &format!("/api/v1/agents/{id}/audit"))
        .await;
    let reasons: Vec<_> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        vec![Value::Null, Value::Null, json!("Maintenance window")]
    );
}

#[tokio::test]
async fn lifecycle_changes_appear_in_the_event_log() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("logged").await;
    app.act(&app.operator, &id, "pause", json!({"reason": "why not"}))
        .await;
    let (status, logs) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents/{id}/logs?event_type=lifecycle"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(logs["total"], 1);
    let data = &logs["logs"][0]["event_data"];
    assert_eq!(data["action"], "pause");
    assert_eq!(data["reason"], "why not");
    assert_eq!(data["actor"], "operator-olga");
    assert_eq!(data["from_status"], "active");
    assert_eq!(data["to_status"], "paused");
}

#[tokio::test]
async fn concurrent_commands_leave_an_audit_trail_that_explains_the_final_state() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("contended").await;
    let actions = ["pause", "resume", "pause", "resume", "terminate"];
    let requests = (0..50).map(|i| {
        let action = if i == 37 { "terminate" } else { actions[i % 4] };
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/agents/{id}/{action}"));
        let key = app.admin.clone();
        async move {
            let response = client
                .post(url)
                .header("X-API-Key", key)
                .json(&json!({"reason": format!("request {i}")}))
                .send()
                .await
                .unwrap();
            read(response).await
        }
    });
    let results = futures_util::future::join_all(requests).await;
    let mut changed = 0;
    for (status, body) in &results {
        assert!(!status.is_server_error(), "no 5xx under contention: {body}");
        assert!(
            *status == StatusCode::OK || *status == StatusCode::CONFLICT,
            "{status} {body}"
        );
        if body["changed"] == true {
            changed += 1;
        }
    }
    let (_, audit) = app
        .get(&app.admin, &format!("/api/v1/agents/{id}/audit?limit=500"))
        .await;
    let mut entries = audit["entries"].as_array().unwrap().clone();
    assert_eq!(
        entries.len(),
        changed,
        "exactly the successful changes are audited"
    );
    entries.reverse();
    for pair in entries.windows(2) {
        assert_eq!(
            pair[0]["to_status"], pair[1]["from_status"],
            "audit is a chain"
        );
    }
    let (_, agent) = app.get(&app.admin, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(
        agent["runtime_status"],
        entries.last().unwrap()["to_status"]
    );
    assert_eq!(agent["runtime_status"], "terminated");
}

#[tokio::test]
async fn bulk_commands_report_each_agent_on_its_own() {
    let app = TestApp::spawn().await;
    let live = app.add_agent("bulk-live").await;
    let paused = app.add_agent("bulk-paused").await;
    let dead = app.add_agent("bulk-dead").await;
    app.act(&app.admin, &paused, "pause", json!({})).await;
    app.act(&app.admin, &dead, "terminate", json!({})).await;
    let unknown = crate::harness::fresh_id();
    let (status, body) = app
        .post(
            &app.operator,
            "/api/v1/agents/bulk/pause",
            json!({"ids": [live, paused, dead, unknown, "NOT-HEX"], "reason": "bulk"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(
        results[0],
        json!({"sekuire_id": live, "ok": true, "changed": true})
    );
    assert_eq!(
        results[1],
        json!({"sekuire_id": paused, "ok": true, "changed": false})
    );
    assert_eq!(results[2]["error"], "invalid_transition");
    assert_eq!(results[3]["error"], "not_found");
    assert_eq!(results[4]["error"], "invalid_request");
    let (_, agent) = app
        .get(&app.viewer, &format!("/api/v1/agents/{live}"))
        .await;
    assert_eq!(agent["runtime_status"], "paused");

    let (status, body) = app
        .post(
            &app.operator,
            "/api/v1/agents/bulk/terminate",
            json!({"ids": [live]}),
        )
        .await;
    assert_error(status, &body, 403, "forbidden");
    let too_many: Vec<String> = (0..501).map(|_| live.clone()).collect();
    let (status, body) = app
        .post(
            &app.admin,
            "/api/v1/agents/bulk/pause",
            json!({"ids": too_many}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
}

#[tokio::test]
async fn a_restarted_registry_keeps_agents_states_keys_and_audit() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("survivor").await;
    app.act(
        &app.operator,
        &id,
        "pause",
        json!({"reason": "before restart"}),
    )
    .await;
    let (_, before) = app.get(&app.admin, &format!("/api/v1/agents/{id}")).await;
    let app = app.restart().await;
    let (status, after) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(status, StatusCode::OK, "keys survive: {after}");
    assert_eq!(after, before);
    let (_, audit) = app
        .get(&app.viewer, &format!("/api/v1/agents/{id}/audit"))
        .await;
    assert_eq!(audit["entries"][0]["reason"], "before restart");
}
