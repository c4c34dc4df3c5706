//! Sekuire's own published CLI (`sekuire-cli` 0.2.11, installed by `cargo xtask setup`)
//! against the real registry binary: the commands an operator types, unchanged, and what
//! they leave in the audit trail and the agent's log.

use anyhow::{Context, Result};
use fleet_e2e::sekuire::Workstation;
use fleet_e2e::{Fleet, Registry, Seed};

#[tokio::test]
async fn sekuire_cli_pauses_resumes_and_kills_an_agent_with_reasons_in_the_audit() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("billing-reconciler")], 0).await?;
    let registry = Registry::start(fleet.db(), None, &[])?;
    let id = fleet.ids[0].as_str();
    let cli = Workstation::signed_in(&fleet.admin, &registry.base)?;

    let status = cli.ok(&["agent-status", id])?;
    assert!(
        status.contains("Agent: billing-reconciler v1.4.2"),
        "{status}"
    );
    assert!(status.contains(&format!("Sekuire ID: {id}")), "{status}");
    assert!(status.contains("Runtime:    active"), "{status}");
    assert!(status.contains("Verified:   verified"), "{status}");

    let paused = cli.ok(&["stop", id, "--reason", "Maintenance window"])?;
    assert!(paused.contains(&format!("Agent {id} paused")), "{paused}");
    assert!(cli
        .ok(&["agent-status", id])?
        .contains("Runtime:    paused"));

    let resumed = cli.ok(&["resume", id])?;
    assert!(
        resumed.contains(&format!("Agent {id} resumed")),
        "{resumed}"
    );

    let killed = cli.ok(&["kill", id, "--reason", "Decommissioned"])?;
    assert!(
        killed.contains(&format!("Agent {id} terminated")),
        "{killed}"
    );
    assert!(cli
        .ok(&["agent-status", id])?
        .contains("Runtime:    terminated"));

    // Terminated is final: the CLI reports the registry's refusal and exits non-zero.
    let refused = cli.run(&["resume", id])?;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("409"), "{stderr}");

    // Each change is one audit entry, with the CLI's reason and the key's name as actor.
    let (code, audit) = registry
        .get(&fleet.admin, &format!("/api/v1/agents/{id}/audit"))
        .await?;
    assert_eq!(code, 200, "{audit}");
    let entries = audit["entries"].as_array().context("entries")?;
    let trail: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["to_status"].as_str().unwrap_or_default(),
                e["reason"].as_str().unwrap_or_default(),
                e["actor"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            ("terminated", "Decommissioned", "alice"),
            ("active", "", "alice"),
            ("paused", "Maintenance window", "alice"),
        ]
    );

    // `sekuire logs` reads the same story from the agent's event log.
    let logs = cli.ok(&["logs", id, "--limit", "10"])?;
    assert!(!logs.contains("No logs found"), "{logs}");
    assert_eq!(logs.lines().count(), 3, "{logs}");
    Ok(())
}

#[tokio::test]
async fn sekuire_cli_with_a_viewer_key_is_refused_and_changes_nothing() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("support-triage-agent")], 0).await?;
    let registry = Registry::start(fleet.db(), None, &[])?;
    let id = fleet.ids[0].as_str();
    let cli = Workstation::signed_in(&fleet.viewer, &registry.base)?;

    let refused = cli.run(&["kill", id, "--reason", "not mine to kill"])?;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("403"), "{stderr}");
    assert!(cli
        .ok(&["agent-status", id])?
        .contains("Runtime:    active"));
    assert!(cli.home().join(".sekuire/auth.json").is_file());
    Ok(())
}
