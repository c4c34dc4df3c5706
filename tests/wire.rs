//! The dashboard's JSON readers against serde's own output of every wire type, in the
//! browser (they read through `JSON.parse`). A field renamed in the protocol crate, or an
//! enum spelled differently, fails here.
//! Run with `cargo test -p fleet-dashboard --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]
// A panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fleet_dashboard::api::bodies::{
    bulk_body, install_token_body, lifecycle_body, revoke_body, verification_body,
};
use fleet_dashboard::api::json::{decode, FromJson, Unreadable};
use fleet_dashboard::api::shapes::FleetList;
use fleet_dashboard::model::capabilities::{Capabilities, Feature};
use fleet_protocol::{
    Agent, AgentList, ApiError, AuditAction, AuditEntry, AuditPage, BulkOutcome, BulkRequest,
    BulkResponse, ErrorCode, EventTicket, FleetSummary, Health, HeartbeatEvent, InstallToken,
    InstallTokenRequest, Installation, InstallationList, LifecycleAction, LifecycleRequest,
    LogEntry, LogPage, Me, RevokeRequest, Role, RuntimeStatus, Severity, VerificationRequest,
    VerificationStatus,
};
use std::collections::BTreeMap;
use std::fmt::Debug;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Writes `value` with serde, reads it back with the dashboard's reader.
fn round_trip<T: serde::Serialize + FromJson + PartialEq + Debug>(value: T) {
    let text = serde_json::to_string(&value).unwrap();
    assert_eq!(decode::<T>(&text).expect(&text), value);
}

fn agent(pending: Option<LifecycleAction>) -> Agent {
    Agent {
        sekuire_id: "7f3a9c".into(),
        name: "triage-bot <b>".into(),
        version: "1.4.2".into(),
        description: "Sorts \"tickets\" — fast".into(),
        runtime_status: RuntimeStatus::Paused,
        verification_status: VerificationStatus::Verified,
        reputation_score: 87,
        last_heartbeat_at: pending.map(|_| "2026-11-27T10:00:00.000Z".into()),
        pending_command: pending,
        health: Health::Stale,
        heartbeat_interval_seconds: 30,
        status_reason: pending.map(|_| "maintenance".into()),
        status_changed_at: None,
        status_changed_by: Some("ops".into()),
        installations: 2,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-11-27T10:00:00.000Z".into(),
        revision: 9_007_199_254,
        manifest: pending.map(|_| {
            serde_json::json!({
                "project": {"name": "triage-bot", "version": "1.4.2", "authors": []},
                "identity": {"model": "gpt-4o", "temperature": 0.5, "tools_hash": null},
                "capabilities": {"provides": ["jira:tickets:create"]},
            })
        }),
        publisher_key: pending.map(|_| "ab".repeat(32)),
    }
}

#[wasm_bindgen_test]
fn agents_and_pages_of_agents_read_as_serde_wrote_them() {
    round_trip(agent(Some(LifecycleAction::Pause)));
    round_trip(agent(None));
    // Counted to the end, and stopped at the registry's cap.
    for total_exact in [true, false] {
        let page = AgentList {
            agents: vec![agent(None), agent(Some(LifecycleAction::Terminate))],
            total: 10_000,
            total_exact,
            next_cursor: Some("eyJrIjoxfQ".into()),
        };
        let text = serde_json::to_string(&page).unwrap();
        assert_eq!(
            text.contains("total_exact"),
            !total_exact,
            "absent means exact"
        );
        assert_eq!(
            decode::<FleetList>(&text).unwrap(),
            FleetList {
                list: page,
                counted: true,
                unresolved: Vec::new(),
            }
        );
    }
}

/// Sekuire's hosted registry, as `sekuire-protocol` 0.1.2 serializes its answers
/// (`AgentResponse`, `UserContextResponse`) and as `sekuire agent-status` reads them.
#[wasm_bindgen_test]
fn answers_of_a_registry_with_the_standard_api_only_read_too() {
    let listed = r#"{"agents": [
        {"sekuire_id": "aa11", "public_key": "cd", "name": "hosted-bot", "version": "2.0.0",
         "description": null, "created_at": "2026-01-01T00:00:00Z",
         "verification_status": "verified", "reputation_score": 140}
    ]}"#;
    let found = decode::<FleetList>(listed).unwrap();
    assert!(!found.counted);
    assert_eq!(found.list.total, 1);
    assert_eq!(found.unresolved, ["aa11"]);
    let row = &found.list.agents[0];
    assert_eq!(row.reputation_score, 100, "an i32 score is held to 0–100");
    assert_eq!(row.revision, 0, "no revision: nothing goes in If-Match");
    assert_eq!(row.health, Health::Never);
    assert_eq!(row.updated_at, row.created_at);
    assert_eq!(row.publisher_key.as_deref(), Some("cd"));

    let status = r#"{"sekuire_id": "aa11", "public_key": "cd", "name": "hosted-bot",
        "version": "2.0.0", "created_at": "2026-01-01T00:00:00Z",
        "verification_status": "verified", "reputation_score": 80,
        "runtime_status": "paused", "last_heartbeat_at": null, "pending_command": "pause"}"#;
    let agent = decode::<Agent>(status).unwrap();
    assert_eq!(agent.runtime_status, RuntimeStatus::Paused);
    assert_eq!(agent.pending_command, Some(LifecycleAction::Pause));

    let me = r#"{"id": "u1", "email": "ops@example.com", "onboarded": true,
        "mfa_enabled": false, "role": null, "full_name": "Ops Team", "avatar_url": null,
        "onboarding_step": 3, "profile_completed": true, "orgs": [],
        "workspaces": [{"id": "ws-1", "name": "Main", "org_id": "o-1"}]}"#;
    let me = decode::<Me>(me).unwrap();
    assert_eq!(me.name, "Ops Team");
    assert_eq!(
        me.role,
        Role::Admin,
        "no role: every action offered, the registry decides"
    );
    assert_eq!(me.workspaces[0].id, "ws-1");
}

#[wasm_bindgen_test]
fn what_a_registry_offers_is_read_from_its_openapi_document() {
    let ours = r#"{"paths": {
        "/api/v1/agents": {"get": {"parameters": [{"name": "q"}, {"name": "sort"}]}},
        "/api/v1/audit": {"get": {}}, "/api/v1/events/ticket": {"post": {}}
    }}"#;
    let caps = decode::<Capabilities>(ours).unwrap();
    assert!(caps.has(Feature::ListQueries));
    assert!(caps.has(Feature::Audit));
    assert!(caps.has(Feature::LiveEvents));
    assert!(!caps.has(Feature::Bulk));
    assert_eq!(
        decode::<Capabilities>(r#"{"openapi": "3.1.0"}"#).unwrap(),
        Capabilities::STANDARD
    );
}

#[wasm_bindgen_test]
fn every_other_answer_reads_as_serde_wrote_it() {
    round_trip(BulkResponse {
        results: vec![
            BulkOutcome {
                sekuire_id: "a".into(),
                ok: true,
                changed: Some(false),
                error: None,
                message: None,
            },
            BulkOutcome {
                sekuire_id: "b".into(),
                ok: false,
                changed: None,
                error: Some(ErrorCode::InvalidTransition),
                message: Some("terminated is final".into()),
            },
        ],
    });
    round_trip(AuditPage {
        entries: vec![AuditEntry {
            id: 3,
            at: "2026-11-27T10:00:00.000Z".into(),
            actor: "ops".into(),
            action: AuditAction::Revoke,
            sekuire_id: "7f3a9c".into(),
            agent_name: "triage-bot".into(),
            from_status: "running".into(),
            to_status: "revoked".into(),
            reason: Some("leaked key".into()),
            request_id: "req-1".into(),
            installation_id: Some("inst_1".into()),
        }],
        next_cursor: None,
    });
    round_trip(ApiError {
        error: ErrorCode::PreconditionFailed,
        message: "changed since".into(),
        request_id: Some("req-2".into()),
    });
    round_trip(Me {
        name: "alice".into(),
        role: Role::Operator,
        workspaces: vec![fleet_protocol::WorkspaceSummary {
            id: "default".into(),
            name: "default".into(),
            org_id: "default".into(),
        }],
    });
    round_trip(FleetSummary {
        total: 7,
        runtime_status: BTreeMap::from([(RuntimeStatus::Active, 5), (RuntimeStatus::Paused, 2)]),
        health: BTreeMap::from([(Health::Healthy, 6), (Health::Never, 1)]),
        verification_status: BTreeMap::from([(VerificationStatus::Pending, 7)]),
        reputation_histogram: vec![0, 1, 2, 0, 0, 0, 0, 0, 3, 1],
    });
    round_trip(InstallationList {
        installations: vec![Installation {
            installation_id: "inst-1".into(),
            workspace_id: "default".into(),
            status: "running".into(),
            created_at: "2026-11-27T09:00:00.000Z".into(),
            last_lease_at: Some("2026-11-27T10:00:00.000Z".into()),
            lease_expires_at: None,
            heartbeat_interval_seconds: 60,
            last_command: Some(LifecycleAction::Resume),
            command_delivered_at: None,
            revoked_at: Some("2026-11-27T10:00:01.000Z".into()),
        }],
    });
    round_trip(EventTicket {
        ticket: "evt_1".into(),
        expires_at: "2026-11-27T10:01:00.000Z".into(),
    });
    round_trip(InstallToken {
        token: "skt_1".into(),
        expires_at: "2026-11-27T11:00:00.000Z".into(),
        workspace_id: "default".into(),
        agent_id: "7f3a9c".into(),
    });
    round_trip(LogPage {
        logs: vec![LogEntry {
            id: 7,
            sekuire_id: "7f3a9c".into(),
            session_id: None,
            event_type: "lifecycle".into(),
            severity: Severity::Info,
            event_timestamp: "2026-11-27T10:00:00.000Z".into(),
            received_at: "2026-11-27T10:00:00.000Z".into(),
            event_data: serde_json::json!({"action": "pause", "nested": [1, 2.5, true, null]}),
            metadata: serde_json::json!({}),
        }],
        total: 120,
        limit: 50,
        offset: 50,
    });
    round_trip(HeartbeatEvent {
        sekuire_id: "7f3a9c".into(),
        last_heartbeat_at: "2026-11-27T10:00:00.000Z".into(),
        health: Health::Healthy,
    });
}

#[wasm_bindgen_test]
fn unreadable_answers_name_what_is_wrong() {
    let nameless = decode::<Me>(r#"{"role": "admin", "email": ""}"#)
        .unwrap_err()
        .to_string();
    assert!(nameless.contains("`name`"), "{nameless}");
    let unknown = decode::<Me>(r#"{"name": "alice", "role": "owner"}"#).unwrap();
    assert_eq!(unknown.role, Role::Admin);
    let fractional = decode::<EventTicket>(r#"{"ticket": 1.5, "expires_at": ""}"#);
    assert!(fractional.is_err());
    assert_eq!(decode::<Me>("<html>"), Err(Unreadable::NotJson));
    let nested = decode::<FleetList>(r#"{"agents": [{"name": "a"}]}"#).unwrap_err();
    assert_eq!(nested, Unreadable::Field("agents[0].created_at".into()));
    let score = serde_json::to_string(&agent(None))
        .unwrap()
        .replace("\"reputation_score\":87", "\"reputation_score\":\"high\"");
    assert_eq!(
        decode::<Agent>(&score),
        Err(Unreadable::Field("reputation_score".into()))
    );
}

#[wasm_bindgen_test]
fn request_bodies_are_what_serde_would_send() {
    let as_value = |text: String| serde_json::from_str::<serde_json::Value>(&text).unwrap();
    for reason in [None, Some("rotating \"keys\"".to_owned())] {
        let request = LifecycleRequest {
            reason: reason.clone(),
        };
        assert_eq!(
            as_value(lifecycle_body(&request)),
            serde_json::to_value(&request).unwrap()
        );
        let bulk = BulkRequest {
            ids: vec!["a".into(), "b".into()],
            reason,
        };
        assert_eq!(
            as_value(bulk_body(&bulk)),
            serde_json::to_value(&bulk).unwrap()
        );
    }
    for reason in [None, Some("reviewed".to_owned())] {
        let verification = VerificationRequest {
            status: VerificationStatus::Suspended,
            reason: reason.clone(),
        };
        assert_eq!(
            as_value(verification_body(&verification)),
            serde_json::to_value(&verification).unwrap()
        );
        let revoke = RevokeRequest {
            reason,
            shutdown_timeout_ms: Some(5_000),
        };
        assert_eq!(
            as_value(revoke_body(&revoke)),
            serde_json::to_value(&revoke).unwrap()
        );
    }
    let token = InstallTokenRequest {
        agent_id: Some("7f3a9c".into()),
        sekuire_id: Some("7f3a9c".into()),
        expiry_minutes: Some(60),
    };
    assert_eq!(
        as_value(install_token_body(&token)),
        serde_json::to_value(&token).unwrap()
    );
}
