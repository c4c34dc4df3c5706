//! What the security review found, each as the behaviour that closes it.

use crate::harness::{assert_error, db_path, read, TestApp};
use fleet_registry::store::Database;
use fleet_registry::Config;
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

#[tokio::test]
async fn api_answers_are_never_cached_or_sniffed() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("headers").await;
    for path in [
        format!("/api/v1/agents/{id}"),
        "/api/v1/agents".to_owned(),
        "/api/v1/no-such-route".to_owned(),
    ] {
        let response = app.get_response(&app.viewer, &path).await;
        let headers = response.headers();
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test]
async fn a_search_over_two_hundred_characters_is_a_400() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents?q={}", "a".repeat(50_000)),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("200"));
    let (status, _) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents?q={}", "é".repeat(200)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_search_holding_a_control_character_is_a_400() {
    let app = TestApp::spawn().await;
    app.add_agent("triage-bot").await;
    for q in [
        "tri%00age",
        "ab%01%01",
        "tri%09age",
        "%07",
        "%C2%83",
        "triage%0A",
    ] {
        let (status, body) = app
            .get(&app.viewer, &format!("/api/v1/agents?q={q}&sort=name"))
            .await;
        assert_error(status, &body, 400, "invalid_request");
        assert!(body["message"].as_str().unwrap().contains("U+00"), "{body}");
    }
    let (status, page) = app.get(&app.viewer, "/api/v1/agents?q=%20triage%20").await;
    assert_eq!(status, StatusCode::OK, "spaces around a search are trimmed");
    assert_eq!(page["total"], 1);
}

#[tokio::test]
async fn reasons_with_bidi_overrides_or_control_characters_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("disguise").await;
    for reason in ["approved by \u{202E}nimda", "tab\u{7}bell", "null\u{0}byte"] {
        let (status, body) = app
            .act(&app.operator, &id, "pause", json!({ "reason": reason }))
            .await;
        assert_error(status, &body, 400, "invalid_request");
    }
    let (_, agent) = app.get(&app.viewer, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(agent["runtime_status"], "active");
    assert_eq!(app.audit_count(&id).await, 0);
    let (status, _) = app
        .act(
            &app.operator,
            &id,
            "pause",
            json!({ "reason": "Two lines:\nmaintenance\tand upgrade" }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "line breaks and tabs are plain text"
    );
}

#[tokio::test]
async fn a_client_chosen_request_id_never_reaches_the_audit_trail() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("forged-id").await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/agents/{id}/pause")))
        .header("X-API-Key", &app.operator)
        .header("X-Request-Id", "incident-4711")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let ours = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(ours, "incident-4711");
    let (_, audit) = app
        .get(&app.viewer, &format!("/api/v1/agents/{id}/audit"))
        .await;
    assert_eq!(audit["entries"][0]["request_id"], ours.as_str());
}

#[tokio::test]
async fn a_bulk_action_reports_an_outage_per_agent_and_stops_trying() {
    let app = TestApp::spawn().await;
    let before = app.add_agent("bulk-before").await;
    let broken = app.add_agent("bulk-broken").await;
    let after = app.add_agent("bulk-after").await;
    // Another connection to the database makes one agent's update fail inside it.
    let fault = match app.database {
        Database::Sqlite(_) => format!(
            "CREATE TRIGGER disk_on_fire BEFORE UPDATE ON agents WHEN NEW.sekuire_id = '{broken}' \
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        ),
        Database::Postgres(_) => format!(
            "CREATE FUNCTION disk_on_fire() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$; \
             CREATE TRIGGER disk_on_fire BEFORE UPDATE ON agents FOR EACH ROW \
             WHEN (NEW.sekuire_id = '{broken}') EXECUTE FUNCTION disk_on_fire();"
        ),
    };
    app.execute(&fault).await.unwrap();
    let (status, body) = app
        .post(
            &app.operator,
            "/api/v1/agents/bulk/pause",
            json!({ "ids": [before, broken, after], "reason": "bulk under fault" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["ok"], true);
    assert_eq!(results[1]["ok"], false);
    assert_eq!(results[1]["error"], "internal");
    assert!(!results[1]["message"]
        .as_str()
        .unwrap()
        .contains("disk on fire"));
    assert_eq!(results[2]["ok"], false);
    assert!(results[2]["message"]
        .as_str()
        .unwrap()
        .contains("not attempted"));
    assert_eq!(app.audit_count(&before).await, 1);
    assert_eq!(app.audit_count(&broken).await, 0);
    assert_eq!(app.audit_count(&after).await, 0);
}

#[tokio::test]
async fn a_lifecycle_command_waits_for_another_process_writing_the_same_file() {
    let app = TestApp::spawn().await;
    let Some(file) = app.sqlite_file() else {
        return;
    };
    let id = app.add_agent("second-writer").await;
    // A second process (Python's sqlite3, as `keys revoke` would be) takes the write lock,
    // holds it while the pause arrives, then commits a change of its own.
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n\
             db.execute('BEGIN IMMEDIATE')\n\
             db.execute(\"UPDATE api_keys SET role = role WHERE name = 'viewer-victor'\")\n\
             print('locked', flush=True)\n\
             time.sleep(1.0)\n\
             db.execute('COMMIT')\n",
        ])
        .arg(file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "locked");
    let (status, body) = app
        .act(
            &app.operator,
            &id,
            "pause",
            json!({ "reason": "while another process writes" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(holder.wait().unwrap().success());
    assert_eq!(app.audit_count(&id).await, 1);
}

#[tokio::test]
async fn a_heartbeat_interval_over_ten_minutes_is_refused() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("sleepy").await;
    let (_, token) = app
        .post(
            &app.admin,
            "/api/v1/workspaces/default/install-tokens",
            json!({ "sekuire_id": id }),
        )
        .await;
    let bootstrap = |interval: i64| {
        app.client
            .post(app.url("/api/v1/installations/bootstrap"))
            .json(
                &json!({ "install_token": token["token"], "heartbeat_interval_seconds": interval }),
            )
            .send()
    };
    let (status, body) = read(bootstrap(86_400).await.unwrap()).await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = read(bootstrap(600).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn anonymous_floods_and_key_guessing_are_limited_per_address() {
    let app = TestApp::spawn_with(Config {
        address_rate_limit_per_second: 2,
        ..Config::default()
    })
    .await;
    let flood = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = flood
            .post(app.url("/api/v1/installations/bootstrap"))
            .json(&json!({ "install_token": "skt_guess" }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            let (status, body) = read(response).await;
            assert_error(status, &body, 429, "rate_limited");
        }
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);
    // A valid key from that address still works: the flood spent another bucket.
    let viewer = |key: &str| {
        flood
            .get(app.url("/api/v1/agents"))
            .header("X-API-Key", key)
            .send()
    };
    assert_eq!(viewer(&app.viewer).await.unwrap().status(), StatusCode::OK);
    // Guessing keys is limited too: once the guesses spent their bucket, a wrong key is
    // told to wait. A right key from the same address (a neighbour behind the same NAT)
    // still goes through.
    let mut guesses = Vec::new();
    for _ in 0..5 {
        guesses.push(viewer("sk_guess").await.unwrap().status().as_u16());
    }
    assert_eq!(guesses, [401, 401, 401, 401, 429]);
    assert_eq!(viewer(&app.viewer).await.unwrap().status(), StatusCode::OK);
    // Another address, with a key, is not affected.
    let (status, _) = app.get(&app.viewer, "/api/v1/agents").await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn a_wildcard_or_malformed_cors_origin_stops_the_registry_with_a_reason() {
    for origin in ["*", "console.example.com", "https://example.com/app"] {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_sekuire-registry"))
            .args(["serve", "--addr", "127.0.0.1:0", "--cors-origin", origin])
            .arg("--db")
            .arg(db_path(dir.path()))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{origin}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("is not an origin"), "{origin}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn a_csv_export_streams_and_says_where_the_next_one_starts() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = app.add_agent(&format!("export-{i}")).await;
        let (status, _) = app
            .act(&app.operator, &id, "pause", json!({ "reason": "a;b" }))
            .await;
        assert_eq!(status, StatusCode::OK);
        ids.push(id);
    }
    let first = app
        .get_response(&app.viewer, "/api/v1/audit?format=csv&limit=3")
        .await;
    assert!(
        !first.headers().contains_key("content-length"),
        "streamed, not built whole in memory"
    );
    let next = first.headers()["x-next-cursor"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = first.text().await.unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].contains(&ids[4]) && rows[2].contains(&ids[2]));
    assert!(rows[0].contains("\"a;b\""), "`;` is quoted: {}", rows[0]);
    let rest = app
        .get_response(
            &app.viewer,
            &format!("/api/v1/audit?format=csv&limit=3&cursor={next}"),
        )
        .await;
    assert!(!rest.headers().contains_key("x-next-cursor"));
    let text = rest.text().await.unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows[1].contains(&ids[0]));
}

#[tokio::test]
async fn an_event_stream_ends_when_its_key_is_revoked() {
    let app = TestApp::spawn().await;
    let mut stream = app.get_response(&app.viewer, "/api/v1/events").await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(app.store.revoke_key("viewer-victor").await.unwrap());
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while stream.chunk().await.unwrap().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its key");
}

#[tokio::test]
async fn event_streams_are_capped_per_key() {
    let app = TestApp::spawn().await;
    let mut open = Vec::new();
    for _ in 0..fleet_registry::events::MAX_STREAMS_PER_KEY {
        let response = app.get_response(&app.viewer, "/api/v1/events").await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let refused = app.get_response(&app.viewer, "/api/v1/events").await;
    assert!(refused.headers().contains_key("retry-after"));
    let (status, body) = read(refused).await;
    assert_error(status, &body, 429, "rate_limited");
    drop(open);
}

#[tokio::test]
async fn a_csv_export_larger_than_one_chunk_holds_every_row_once() {
    use fleet_protocol::LifecycleAction;
    use fleet_registry::store::LifecycleCommand;
    let app = TestApp::spawn().await;
    let id = app.add_agent("busy").await;
    for i in 0..1_005 {
        let action = if i % 2 == 0 {
            LifecycleAction::Pause
        } else {
            LifecycleAction::Resume
        };
        app.store
            .apply_lifecycle(&LifecycleCommand {
                sekuire_id: &id,
                action,
                reason: None,
                actor: "load",
                expected_revision: None,
                request_id: "test",
                at: fleet_registry::clock::now_ms(),
            })
            .await
            .unwrap();
    }
    let response = app
        .get_response(&app.viewer, "/api/v1/audit?format=csv&limit=1003")
        .await;
    assert!(response.headers().contains_key("x-next-cursor"));
    let text = response.text().await.unwrap();
    let ids: Vec<i64> = text
        .lines()
        .skip(1)
        .map(|row| row.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 1_003);
    assert!(
        ids.windows(2).all(|w| w[0] == w[1] + 1),
        "newest first, each once"
    );
    assert_eq!(ids[0], 1_005);
}
