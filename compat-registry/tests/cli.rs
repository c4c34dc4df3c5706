//! Black-box tests of `sekuire-compat-registry`: the built binary on a temporary fleet file,
//! read back through Sekuire's published types (`sekuire-protocol` 0.1.2), and driven by
//! Sekuire's real CLI (`sekuire`, from `SEKUIRE_CLI` or `PATH`).

// Helpers outside `#[test]` functions panic on failure too, which is what a test wants.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use sekuire_protocol::{
    AgentEventLog, AgentResponse, EventType, GetLogsResponse, LogEventRequest, LogEventResponse,
    Severity, UserContextResponse, VerificationStatus,
};
use serde_json::{json, Value};

const KEY: &str = "sk_compat_test_key";
const ALPHA: &str = "aa11aa11";
const BETA: &str = "bb22bb22";
const GAMMA: &str = "cc33cc33";
const HELPER: &str = "dd44dd44";

/// Four agents, deliberately not in name order.
fn fleet() -> Value {
    json!([
        {"sekuire_id": GAMMA, "name": "Gamma Ops", "version": "3.1.0", "description": "Runs ops",
         "verification_status": "verified", "reputation_score": 95, "runtime_status": "terminated",
         "last_heartbeat_at": "2025-01-01T00:00:00Z"},
        {"sekuire_id": ALPHA, "name": "Alpha Researcher", "version": "1.0.0", "description": "Researches",
         "verification_status": "verified", "reputation_score": 80, "runtime_status": "active"},
        {"sekuire_id": BETA, "name": "Beta Writer", "version": "2.0.0", "description": "Writes",
         "verification_status": "unverified", "reputation_score": 40, "runtime_status": "paused"},
        {"sekuire_id": HELPER, "name": "Alpha Helper", "version": "0.9.0", "description": "Helps",
         "verification_status": "pending", "reputation_score": 55, "runtime_status": "active"},
    ])
}

/// The registry binary, running until dropped.
struct Registry {
    child: Child,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fleet_file = dir.path().join("fleet.json");
        std::fs::write(&fleet_file, fleet().to_string()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sekuire-compat-registry"))
            .args(["--addr", "127.0.0.1:0", "--key", KEY, "--fleet"])
            .arg(&fleet_file)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim_end()
            .strip_prefix("Registry listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            child,
            url,
            http,
            _dir: dir,
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let request = match key {
            Some(key) => request.header("X-API-Key", key),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.json().await.unwrap();
        (status, body)
    }

    async fn get(&self, path: &str, key: Option<&str>) -> (StatusCode, Value) {
        let request = self.http.get(format!("{}{path}", self.url));
        self.send(request, key).await
    }

    async fn post(&self, path: &str, key: Option<&str>, body: &str) -> (StatusCode, Value) {
        let request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_owned());
        self.send(request, key).await
    }

    async fn agents(&self, query: &str) -> Vec<AgentResponse> {
        let (status, body) = self.get(&format!("/api/v1/agents{query}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body["agents"].clone()).unwrap()
    }

    async fn agent(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/agents/{id}"), Some(KEY)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn logs(&self, id: &str, query: &str) -> GetLogsResponse {
        let path = format!("/api/v1/agents/{id}/logs{query}");
        let (status, body) = self.get(&path, Some(KEY)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn names(agents: &[AgentResponse]) -> Vec<&str> {
    agents.iter().map(|a| a.name.as_str()).collect()
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode) {
    assert_eq!(status, expected, "{body}");
    assert!(body["error"].is_string(), "no error message: {body}");
}

#[tokio::test]
async fn list_answers_agents_and_nothing_else() {
    let registry = Registry::start();

    // The CLI's `search` sends no key.
    let (status, body) = registry.get("/api/v1/agents", None).await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["agents"], "the list is `agents` and nothing else");
    assert!(body.get("total").is_none() && body.get("next_cursor").is_none());
    let all: Vec<AgentResponse> = serde_json::from_value(body["agents"].clone()).unwrap();
    assert_eq!(
        names(&all),
        [
            "Alpha Helper",
            "Alpha Researcher",
            "Beta Writer",
            "Gamma Ops"
        ]
    );

    let alpha = registry.agents("?q=ALPHA").await;
    assert_eq!(names(&alpha), ["Alpha Helper", "Alpha Researcher"]);
    assert_eq!(names(&registry.agents("?q=bb22").await), ["Beta Writer"]);
    assert!(
        registry.agents("?q=22").await.is_empty(),
        "ids match by prefix"
    );

    let verified = registry.agents("?verification_status=verified").await;
    assert_eq!(names(&verified), ["Alpha Researcher", "Gamma Ops"]);
    assert!(verified
        .iter()
        .all(|a| a.verification_status == VerificationStatus::Verified));
    let query = "?q=alpha&verification_status=verified&limit=10";
    assert_eq!(names(&registry.agents(query).await), ["Alpha Researcher"]);

    assert_eq!(names(&registry.agents("?limit=2").await).len(), 2);
    assert_eq!(names(&registry.agents("?limit=1000").await).len(), 4);

    // Parameters this registry does not know are ignored.
    let ignored = "?runtime_status=paused&sort=-name&cursor=abc&tags=x&category=y";
    assert_eq!(registry.agents(ignored).await.len(), 4);

    let (status, body) = registry
        .get("/api/v1/agents?verification_status=bogus", None)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn agent_status_carries_runtime_fields() {
    let registry = Registry::start();

    let body = registry.agent(ALPHA).await;
    let agent: AgentResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(agent.sekuire_id, ALPHA);
    assert_eq!(agent.name, "Alpha Researcher");
    assert_eq!(agent.version, "1.0.0");
    assert_eq!(agent.description.as_deref(), Some("Researches"));
    assert_eq!(agent.verification_status, VerificationStatus::Verified);
    assert_eq!(agent.reputation_score, 80);
    assert_eq!(
        agent.public_key.len(),
        64,
        "hex of 32 bytes, as `sekuire verify` reads it"
    );
    assert!(agent.updated_at.is_none());
    assert_eq!(body["runtime_status"], "active");
    assert_eq!(body.get("last_heartbeat_at"), Some(&Value::Null));
    assert!(body.get("pending_command").is_none());
    for ours in ["health", "revision", "etag"] {
        assert!(body.get(ours).is_none(), "{ours} is ours, not Sekuire's");
    }

    // `sekuire verify` asks without a key.
    let (status, unkeyed) = registry.get(&format!("/api/v1/agents/{ALPHA}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unkeyed, body);

    let gamma = registry.agent(GAMMA).await;
    assert_eq!(gamma["runtime_status"], "terminated");
    assert_eq!(gamma["last_heartbeat_at"], "2025-01-01T00:00:00Z");
    assert_eq!(registry.agent(BETA).await["runtime_status"], "paused");

    let (status, body) = registry.get("/api/v1/agents/nope", Some(KEY)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn lifecycle_follows_the_state_machine() {
    let registry = Registry::start();
    let action = |id: &str, verb: &str| format!("/api/v1/agents/{id}/{verb}");

    let (status, body) = registry
        .post(
            &action(ALPHA, "pause"),
            Some(KEY),
            r#"{"reason": "maintenance"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"success": true, "message": "Agent paused"}));
    let agent = registry.agent(ALPHA).await;
    assert_eq!(agent["runtime_status"], "paused");
    assert_eq!(agent["pending_command"], "pause");
    assert!(agent["updated_at"].is_string());

    // Asking for the state it is already in: 200, no change.
    let (status, body) = registry
        .post(&action(ALPHA, "pause"), Some(KEY), "{}")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(registry.agent(ALPHA).await["runtime_status"], "paused");

    let (status, _) = registry
        .post(&action(ALPHA, "resume"), Some(KEY), "{}")
        .await;
    assert_eq!(status, StatusCode::OK);
    let agent = registry.agent(ALPHA).await;
    assert_eq!(agent["runtime_status"], "active");
    assert_eq!(agent["pending_command"], "resume");
    let (status, _) = registry
        .post(&action(ALPHA, "resume"), Some(KEY), "{}")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(registry.agent(ALPHA).await["runtime_status"], "active");

    // An empty body counts as `{}`.
    let (status, body) = registry
        .post(&action(ALPHA, "terminate"), Some(KEY), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Agent terminated");
    let agent = registry.agent(ALPHA).await;
    assert_eq!(agent["runtime_status"], "terminated");
    assert_eq!(agent["pending_command"], "terminate");

    // Terminated is final.
    for verb in ["pause", "resume", "terminate"] {
        let (status, body) = registry.post(&action(ALPHA, verb), Some(KEY), "{}").await;
        assert_error(status, &body, StatusCode::CONFLICT);
    }
    assert_eq!(registry.agent(ALPHA).await["runtime_status"], "terminated");

    // Paused agents can be terminated.
    let (status, _) = registry
        .post(&action(BETA, "terminate"), Some(KEY), "{}")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(registry.agent(BETA).await["runtime_status"], "terminated");

    let at_most = json!({ "reason": "r".repeat(1000) }).to_string();
    let too_long = json!({ "reason": "r".repeat(1001) }).to_string();
    let (status, body) = registry
        .post(&action(HELPER, "pause"), Some(KEY), &too_long)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);
    assert_eq!(registry.agent(HELPER).await["runtime_status"], "active");
    let (status, _) = registry
        .post(&action(HELPER, "pause"), Some(KEY), &at_most)
        .await;
    assert_eq!(status, StatusCode::OK);

    for malformed in [r#"{"reason": "#, r#"{"reason": 5}"#, "[]"] {
        let (status, body) = registry
            .post(&action(HELPER, "resume"), Some(KEY), malformed)
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST);
    }
    assert_eq!(registry.agent(HELPER).await["runtime_status"], "paused");

    let (status, body) = registry
        .post(&action("nope", "pause"), Some(KEY), "{}")
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn key_is_required_where_the_cli_sends_it() {
    let registry = Registry::start();

    for key in [None, Some("wrong")] {
        let gets = [
            "/api/v1/me".to_owned(),
            format!("/api/v1/agents/{ALPHA}/logs"),
        ];
        for path in gets {
            let (status, body) = registry.get(&path, key).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(body, json!({"error": "Unauthorized"}));
        }
        let posts = [
            format!("/api/v1/agents/{ALPHA}/pause"),
            format!("/api/v1/agents/{ALPHA}/resume"),
            format!("/api/v1/agents/{ALPHA}/terminate"),
            format!("/api/v1/agents/{ALPHA}/logs/batch"),
        ];
        for path in posts {
            let (status, body) = registry.post(&path, key, "{}").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(body, json!({"error": "Unauthorized"}));
        }
    }
    assert_eq!(registry.agent(ALPHA).await["runtime_status"], "active");

    let (status, body) = registry.get("/api/v1/me", Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    let me: UserContextResponse = serde_json::from_value(body).unwrap();
    assert_eq!(me.role.as_deref(), Some("admin"));
    assert!(me.full_name.is_some() && me.email.contains('@'));
    assert_eq!(me.orgs.len(), 1);
    assert_eq!(me.workspaces.len(), 1);
    assert_eq!(me.workspaces[0].org_id, me.orgs[0].id);

    // What `sekuire login` sends and reads.
    let login = |key: &str| {
        json!({"api_key": key, "device_fingerprint": "fp", "device_name": "n", "device_os": "linux"})
            .to_string()
    };
    let (status, body) = registry
        .post("/api/v1/api-keys/verify", None, &login(KEY))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"valid": true, "org_id": me.orgs[0].id}));
    let (status, body) = registry
        .post("/api/v1/api-keys/verify", None, &login("wrong"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"valid": false, "error": "Invalid API Key"}));
}

#[tokio::test]
async fn logs_filter_page_and_batch() {
    let registry = Registry::start();

    let all = registry.logs(ALPHA, "").await;
    assert_eq!((all.total, all.limit, all.offset), (3, 50, 0));
    assert_eq!(all.logs.len(), 3);
    assert!(matches!(all.logs[0].event_type, EventType::PolicyViolation));
    assert!(matches!(all.logs[0].severity, Severity::Warn));
    assert!(matches!(all.logs[1].event_type, EventType::ModelCall));
    assert!(matches!(all.logs[2].event_type, EventType::ToolExecution));
    assert!(all.logs.iter().all(|log| log.sekuire_id == ALPHA));
    assert!(
        all.logs[0].event_timestamp > all.logs[1].event_timestamp
            && all.logs[1].event_timestamp > all.logs[2].event_timestamp,
        "newest first"
    );
    assert_ne!(all.logs[0].session_id, all.logs[1].session_id);
    assert_ne!(all.logs[1].session_id, all.logs[2].session_id);

    let model_calls = registry.logs(ALPHA, "?event_type=model_call").await;
    assert_eq!(model_calls.total, 1);
    assert!(matches!(model_calls.logs[0].severity, Severity::Debug));
    let warnings = registry.logs(ALPHA, "?severity=warn").await;
    assert!(
        matches!(warnings.logs[..], [ref log] if matches!(log.event_type, EventType::PolicyViolation))
    );
    let none = registry
        .logs(ALPHA, "?event_type=model_call&severity=info")
        .await;
    assert_eq!((none.total, none.logs.len()), (0, 0));
    let session = &all.logs[2].session_id;
    assert_eq!(
        registry
            .logs(ALPHA, &format!("?session_id={session}"))
            .await
            .total,
        1
    );

    let page = registry.logs(ALPHA, "?limit=1&offset=1").await;
    assert_eq!((page.total, page.limit, page.offset), (3, 1, 1));
    assert!(matches!(page.logs[..], [ref log] if matches!(log.event_type, EventType::ModelCall)));

    for bad in [
        "?event_type=nope",
        "?severity=loud",
        "?offset=-1",
        "?limit=many",
    ] {
        let (status, body) = registry
            .get(&format!("/api/v1/agents/{ALPHA}/logs{bad}"), Some(KEY))
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST);
    }

    let event = |id: &str| AgentEventLog {
        sekuire_id: id.to_owned(),
        session_id: "batch-session".into(),
        workspace_id: None,
        event_type: EventType::FileAccess,
        severity: Severity::Error,
        event_timestamp: "2030-01-01T00:00:00Z".into(),
        event_data: json!({"path": "/etc/passwd"}),
        metadata: json!({}),
    };
    let batch = LogEventRequest {
        events: vec![event(ALPHA), event(BETA)],
    };
    let path = format!("/api/v1/agents/{ALPHA}/logs/batch");
    let (status, body) = registry
        .post(&path, Some(KEY), &serde_json::to_string(&batch).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let logged: LogEventResponse = serde_json::from_value(body).unwrap();
    assert_eq!(logged.events_logged, 1);
    assert_eq!(
        logged.errors.len(),
        1,
        "the event for another agent is refused"
    );
    assert!(!logged.success);

    let after = registry.logs(ALPHA, "").await;
    assert_eq!(after.total, 4);
    assert!(matches!(after.logs[0].event_type, EventType::FileAccess));
    assert!(!after.logs[0].received_at.is_empty());
    assert_eq!(registry.logs(BETA, "").await.total, 3);

    let (status, body) = registry.post(&path, Some(KEY), r#"{"events": "#).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);
    let (status, body) = registry.get("/api/v1/agents/nope/logs", Some(KEY)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn none_of_our_extensions() {
    let registry = Registry::start();

    let gets = [
        "/openapi.json",
        "/api/v1/openapi.json",
        "/health",
        "/api/v1/health",
        "/api/v1/events",
        "/api/v1/audit",
        "/api/v1/fleet/summary",
        "/api/v1/agents/",
    ];
    for path in gets {
        let (status, body) = registry.get(path, Some(KEY)).await;
        assert_error(status, &body, StatusCode::NOT_FOUND);
    }
    let (status, body) = registry
        .post("/api/v1/agents/bulk/pause", Some(KEY), r#"{"ids": []}"#)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = registry.post("/api/v1/agents", Some(KEY), "{}").await;
    assert_error(status, &body, StatusCode::NOT_FOUND);

    let response = registry
        .http
        .get(format!("{}/api/v1/agents/{ALPHA}", registry.url))
        .header("Origin", "http://elsewhere.test")
        .header("X-API-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert!(headers.get("access-control-allow-origin").is_none());
    assert!(headers.get("etag").is_none());

    let preflight = registry
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/agents", registry.url),
        )
        .header("Origin", "http://elsewhere.test")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(!preflight.status().is_success());
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

/// Sekuire's CLI: `SEKUIRE_CLI`, else `sekuire` on `PATH`. Missing is a failure, not a skip.
fn sekuire_cli() -> PathBuf {
    let cli = match std::env::var_os("SEKUIRE_CLI") {
        Some(path) => PathBuf::from(path),
        None => std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join("sekuire"))
            .find(|path| path.is_file())
            .expect(
                "Sekuire's CLI not found: set SEKUIRE_CLI or put `sekuire` on PATH \
                 (cargo install sekuire-cli --version 0.2.11)",
            ),
    };
    assert!(cli.is_file(), "SEKUIRE_CLI={} is not a file", cli.display());
    cli
}

/// A home directory holding `.sekuire/auth.json` with the given key and fingerprint.
fn sekuire_home(key: &str, fingerprint: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let auth = json!({"api_key": key, "device_fingerprint": fingerprint, "org_id": "o", "workspace_id": "ws"});
    std::fs::create_dir(home.path().join(".sekuire")).unwrap();
    std::fs::write(home.path().join(".sekuire/auth.json"), auth.to_string()).unwrap();
    home
}

fn run(cli: &Path, home: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(cli);
    command
        .args(args)
        .env("HOME", home)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    for proxy in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env_remove(proxy);
    }
    command.output().unwrap()
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "sekuire failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn sekuires_own_cli_works_against_it() {
    let cli = sekuire_cli();
    let registry = Registry::start();
    let url = registry.url.as_str();
    let home = sekuire_home(KEY, "x");
    let sekuire = |args: &[&str]| run(&cli, home.path(), args);
    let ok = |args: &[&str]| stdout_of(&sekuire(args));

    let status = ok(&["agent-status", ALPHA, "--registry", url]);
    let expected = format!(
        "Agent: Alpha Researcher v1.0.0\n  Sekuire ID: {ALPHA}\n  Runtime:    active\n  \
         Verified:   verified\n  Reputation: 80\n  Heartbeat:  never\n"
    );
    assert_eq!(status, expected);
    let gamma = ok(&["agent-status", GAMMA, "--registry", url]);
    assert!(
        gamma.contains("  Heartbeat:  2025-01-01T00:00:00Z\n"),
        "{gamma}"
    );

    let stop = ok(&[
        "stop",
        ALPHA,
        "--reason",
        "maintenance window",
        "--registry",
        url,
    ]);
    assert_eq!(
        stop,
        format!("Agent {ALPHA} paused\n  Reason: maintenance window\n")
    );
    let status = ok(&["agent-status", ALPHA, "--registry", url]);
    assert!(status.contains("  Runtime:    paused\n"), "{status}");
    assert!(status.contains("  Pending:    pause\n"), "{status}");

    let resume = ok(&["resume", ALPHA, "--registry", url]);
    assert_eq!(resume, format!("Agent {ALPHA} resumed\n"));
    let status = ok(&["agent-status", ALPHA, "--registry", url]);
    assert!(status.contains("  Runtime:    active\n"), "{status}");
    assert!(status.contains("  Pending:    resume\n"), "{status}");

    let kill = ok(&["kill", ALPHA, "--reason", "retired", "--registry", url]);
    assert_eq!(
        kill,
        format!("Agent {ALPHA} terminated\n  Reason: retired\n")
    );
    let status = ok(&["agent-status", ALPHA, "--registry", url]);
    assert!(status.contains("  Runtime:    terminated\n"), "{status}");

    let refused = sekuire(&["resume", ALPHA, "--registry", url]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("Failed to resume agent: 409"), "{stderr}");

    let logs = ok(&["logs", HELPER, "--registry", url]);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 3, "{logs}");
    assert!(lines[0].ends_with("] WRN policy_violation Blocked request to an unlisted domain"));
    assert!(lines[1].contains("] DBG model_call {"), "{logs}");
    assert!(
        lines[2].ends_with("] INF tool_execution tool=web_search"),
        "{logs}"
    );
    assert_eq!(
        ok(&["logs", HELPER, "--limit", "1", "--registry", url])
            .lines()
            .count(),
        1
    );

    let search = ok(&["search", "alpha", "--registry", url]);
    assert!(
        search.starts_with("Searching registry for: \"alpha\"\n"),
        "{search}"
    );
    assert!(search.contains("Alpha Helper"), "{search}");
    assert!(search.contains("Alpha Researcher"), "{search}");
    assert!(search.contains("Found 2 agent(s)"), "{search}");
    let verified = ok(&["search", "alpha", "--verified", "true", "--registry", url]);
    assert!(verified.contains("Found 1 agent(s)"), "{verified}");
    assert!(!verified.contains("Alpha Helper"), "{verified}");
    let nothing = ok(&["search", "zzz", "--registry", url]);
    assert!(
        nothing.contains("No agents found matching \"zzz\""),
        "{nothing}"
    );
    let json_out = ok(&["search", "beta", "--format", "json", "--registry", url]);
    let (_, json_text) = json_out.split_once('\n').unwrap();
    let listed: Value = serde_json::from_str(json_text).unwrap();
    assert_eq!(listed.as_object().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["agents"][0]["name"], "Beta Writer");

    // `whoami` prints 16 characters of the fingerprint, so it gets a longer one.
    let whoami_home = sekuire_home(KEY, "compat-test-device-fingerprint");
    let whoami = stdout_of(&run(
        &cli,
        whoami_home.path(),
        &["auth", "whoami", "--backend-url", url],
    ));
    assert!(whoami.contains("Email: admin@compat.test"), "{whoami}");

    let wrong_home = sekuire_home("sk_wrong", "x");
    // `agent-status` would pass: reading an agent needs no key (`sekuire verify` sends none).
    let rejected = run(&cli, wrong_home.path(), &["stop", BETA, "--registry", url]);
    assert!(!rejected.status.success());
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(stderr.contains("Failed to pause agent: 401"), "{stderr}");
}
