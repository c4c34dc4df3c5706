//! Install tokens, bootstrap and leases: how running instances learn of pause and kill.

use crate::harness::{assert_error, read, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A running instance's credentials, from its bootstrap.
pub(crate) struct Instance {
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) refresh_token: String,
}

/// Issues an install token for `sekuire_id` and bootstraps with it, heartbeating every
/// minute.
async fn install(app: &TestApp, sekuire_id: &str) -> Instance {
    install_every(app, sekuire_id, 60).await
}

/// As [`install`], heartbeating every `interval` seconds.
pub(crate) async fn install_every(app: &TestApp, sekuire_id: &str, interval: i64) -> Instance {
    let (status, token) = app
        .post(
            &app.admin,
            "/api/v1/workspaces/default/install-tokens",
            json!({"agent_id": sekuire_id, "sekuire_id": sekuire_id, "expiry_minutes": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert!(token["token"].as_str().unwrap().starts_with("skt_"));
    let response = app
        .client
        .post(app.url("/api/v1/installations/bootstrap"))
        .json(&json!({"install_token": token["token"], "upstream_url": "http://x", "capabilities": [], "heartbeat_interval_seconds": interval}))
        .send()
        .await
        .unwrap();
    let (status, boot) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{boot}");
    assert_eq!(boot["heartbeat_interval"], interval);
    let text = |field: &str| boot[field].as_str().unwrap().to_owned();
    Instance {
        id: text("installation_id"),
        token: text("runtime_token"),
        refresh_token: text("refresh_token"),
    }
}

/// A lease of installation `id` with `token`, as its runtime sends it; status and body.
pub(crate) async fn lease_with(app: &TestApp, id: &str, token: &str) -> (StatusCode, Value) {
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

async fn lease(app: &TestApp, instance: &Instance) -> Value {
    let (status, body) = lease_with(app, &instance.id, &instance.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["lease_expires_at"].is_string());
    body
}

#[tokio::test]
async fn commands_reach_every_installation_and_repeat_until_replaced() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("runtime").await;
    let first = install(&app, &id).await;
    let second = install(&app, &id).await;
    assert!(lease(&app, &first).await.get("pending_command").is_none());

    app.act(&app.operator, &id, "pause", json!({})).await;
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(agent["pending_command"], "pause");
    assert_eq!(agent["installations"], 2);

    assert_eq!(lease(&app, &first).await["pending_command"], "pause");
    assert_eq!(
        lease(&app, &first).await["pending_command"],
        "pause",
        "pause repeats on every lease, so a lost answer cannot lose it"
    );
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(
        agent["pending_command"], "pause",
        "the second installation has not picked it up"
    );
    assert_eq!(lease(&app, &second).await["pending_command"], "pause");
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert!(
        agent.get("pending_command").is_none(),
        "every installation has it: {agent}"
    );

    app.act(&app.operator, &id, "resume", json!({})).await;
    assert_eq!(lease(&app, &first).await["pending_command"], "resume");
    assert_eq!(lease(&app, &first).await["pending_command"], "resume");

    app.act(&app.admin, &id, "terminate", json!({})).await;
    for _ in 0..3 {
        assert_eq!(lease(&app, &first).await["pending_command"], "terminate");
    }
    // The heartbeat variant body answers the same.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/installations/{}/heartbeat", second.id)))
        .bearer_auth(&second.token)
        .json(&json!({"status": "healthy", "uptime_seconds": 3600, "platform": {"os": "linux"}}))
        .send()
        .await
        .unwrap();
    let (_, body) = read(response).await;
    assert_eq!(body["pending_command"], "terminate");
}

#[tokio::test]
async fn leases_while_paused_keep_the_heartbeat_moving() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("paused-but-alive").await;
    let instance = install(&app, &id).await;
    app.act(&app.operator, &id, "pause", json!({})).await;
    lease(&app, &instance).await;
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(agent["runtime_status"], "paused");
    assert_eq!(agent["health"], "healthy");
    let first_beat = agent["last_heartbeat_at"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    lease(&app, &instance).await;
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert!(agent["last_heartbeat_at"].as_str().unwrap() > first_beat.as_str());
    assert_eq!(
        agent["revision"], 2,
        "heartbeats do not invalidate what an operator saw"
    );
}

#[tokio::test]
async fn an_install_token_works_once() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("once").await;
    let (_, token) = app
        .post(
            &app.admin,
            "/api/v1/workspaces/default/install-tokens",
            json!({"sekuire_id": id}),
        )
        .await;
    let boot = |token: Value| {
        app.client
            .post(app.url("/api/v1/installations/bootstrap"))
            .json(&json!({"install_token": token}))
            .send()
    };
    assert_eq!(
        boot(token["token"].clone()).await.unwrap().status(),
        StatusCode::OK
    );
    let (status, body) = read(boot(token["token"].clone()).await.unwrap()).await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn leases_need_the_installations_own_runtime_token() {
    let app = TestApp::spawn().await;
    let a = install(&app, &app.add_agent("a").await).await;
    let b = install(&app, &app.add_agent("b").await).await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/installations/{}/lease", a.id)))
        .bearer_auth(&b.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_error(status, &body, 401, "unauthorized");
    let response = app
        .client
        .post(app.url(&format!("/api/v1/installations/{}/lease", a.id)))
        .header("X-API-Key", &app.admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "API keys do not lease"
    );
}

#[tokio::test]
async fn a_new_installation_of_a_paused_agent_learns_it_on_first_lease() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("late-starter").await;
    app.act(&app.operator, &id, "pause", json!({})).await;
    let instance = install(&app, &id).await;
    assert_eq!(lease(&app, &instance).await["pending_command"], "pause");
}

#[tokio::test]
async fn installations_are_listed_with_their_command_delivery() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("listed").await;
    let instance = install(&app, &id).await;
    app.act(&app.operator, &id, "pause", json!({})).await;
    let (_, list) = app
        .get(&app.viewer, &format!("/api/v1/agents/{id}/installations"))
        .await;
    assert_eq!(list["installations"][0]["last_command"], "pause");
    assert_eq!(
        list["installations"][0]["command_delivered_at"],
        Value::Null
    );
    lease(&app, &instance).await;
    let (_, list) = app
        .get(&app.viewer, &format!("/api/v1/agents/{id}/installations"))
        .await;
    assert!(list["installations"][0]["command_delivered_at"].is_string());
    assert!(list["installations"][0]["last_lease_at"].is_string());
}

#[tokio::test]
async fn concurrent_leases_share_batches_without_failing_each_other() {
    let app = TestApp::spawn().await;
    let mut instances = Vec::new();
    for i in 0..12 {
        let id = app.add_agent(&format!("batch-{i}")).await;
        instances.push((id.clone(), install(&app, &id).await));
    }
    let requests = instances.iter().enumerate().flat_map(|(i, (_, instance))| {
        let good = (instance.id.clone(), instance.token.clone(), true);
        let bad = (instance.id.clone(), format!("rt_wrong_{i}"), false);
        [good, bad]
    });
    let results = futures_util::future::join_all(requests.map(|(id, token, good)| {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/installations/{id}/lease"));
        async move {
            let status = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"status": "running"}))
                .send()
                .await
                .unwrap()
                .status();
            (good, status)
        }
    }))
    .await;
    for (good, status) in results {
        let expected = if good {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected);
    }
    for (id, _) in &instances {
        let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
        assert_eq!(
            agent["health"], "healthy",
            "every good lease was recorded: {agent}"
        );
    }
}

#[tokio::test]
async fn simultaneous_leases_all_carry_the_pause_and_it_is_delivered_once() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("simultaneous").await;
    let instance = install(&app, &id).await;
    let (status, _) = app
        .act(
            &app.operator,
            &id,
            "pause",
            json!({"reason": "maintenance"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Leases of one installation arriving together land in one batch or a few; each
    // carries the pause, and the first that did is when it was delivered.
    let answers = futures_util::future::join_all((0..8).map(|_| lease(&app, &instance))).await;
    assert!(
        answers.iter().all(|a| a["pending_command"] == "pause"),
        "{answers:?}"
    );
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert!(agent.get("pending_command").is_none(), "{agent}");
    let (_, list) = app
        .get(&app.viewer, &format!("/api/v1/agents/{id}/installations"))
        .await;
    assert!(list["installations"][0]["command_delivered_at"].is_string());
}

#[tokio::test]
async fn a_lease_whose_answer_never_arrives_does_not_lose_the_pause() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let id = app.add_agent("lossy").await;
    let instance = install(&app, &id).await;
    app.act(&app.operator, &id, "pause", json!({})).await;
    // A client that sends its lease and gives up before reading the answer (a timeout, a
    // crash): the registry commits the lease, and the delivery, with nobody to read it.
    let body = r#"{"status":"running","heartbeat_interval_seconds":60}"#;
    let request = format!(
        "POST /api/v1/installations/{}/lease HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        instance.id,
        instance.token,
        body.len()
    );
    let mut socket = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let delivered = async {
        loop {
            let (_, list) = app
                .get(&app.viewer, &format!("/api/v1/agents/{id}/installations"))
                .await;
            if list["installations"][0]["command_delivered_at"].is_string() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), delivered)
        .await
        .expect("the lease was committed");
    drop(socket);
    assert_eq!(
        lease(&app, &instance).await["pending_command"],
        "pause",
        "the next lease carries the pause again"
    );
}
