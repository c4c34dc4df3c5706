//! A real agent gets in, as Sekuire's workflow takes it there: the published `sekuire`
//! CLI signs in at its prompt, makes a key, pushes a manifest; an admin reviews the draft
//! and mints an install token in Chromium; `sekuire run` starts a real child process, and
//! the dashboard's pause, resume and terminate reach that process.

// A panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use anyhow::{bail, Context, Result};
use fleet_e2e::sekuire::{children_of, process_state, Workstation};
use fleet_e2e::{Browser, Driver, Fleet, Registry};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Pictures of `css` in both themes, `docs/screenshots/<name>-<theme>.png`, for the README.
async fn screenshots(browser: &Browser, css: &str, name: &str) -> Result<()> {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&out)?;
    for theme in ["light", "dark"] {
        browser.use_theme(theme).await?;
        browser
            .screenshot_of(css, &out.join(format!("{name}-{theme}.png")))
            .await?;
    }
    Ok(())
}

/// Waits up to 20 s (leases come every second) until `check` holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) -> Result<()> {
    let started = Instant::now();
    while !check() {
        if started.elapsed() > Duration::from_secs(20) {
            bail!("timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// `sekuire run` of the agent with `token`, its child a long `sleep`, leasing every second.
fn start_instance(
    station: &Workstation,
    base: &str,
    token: &str,
    log_name: &str,
) -> Result<(Child, u32)> {
    let log_path = station.home().join(log_name);
    let log = std::fs::File::create(&log_path)?;
    let mut run = station
        .command(&[
            "run",
            "--backend",
            base,
            "--install-token",
            token,
            "--heartbeat-interval",
            "1",
            "--cmd",
            "sleep 600",
        ])
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .context("starting sekuire run")?;
    let started = Instant::now();
    loop {
        if let Some(&child) = children_of(run.id()).first() {
            return Ok((run, child));
        }
        if let Some(status) = run.try_wait()? {
            let log = std::fs::read_to_string(&log_path)?;
            bail!("sekuire run exited ({status}) before starting its child: {log}");
        }
        if started.elapsed() > Duration::from_secs(20) {
            run.kill()?;
            bail!("sekuire run never started its child");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn admin_reviews_and_mints_a_token(browser: &Browser) -> Result<String> {
    browser
        .until_text("[data-testid=manifest-model]", "gpt-4o-mini")
        .await?;
    browser.click("[data-testid=verify]").await?;
    browser
        .fill(
            "[data-testid=dialog] [data-testid=reason]",
            "Prompt and tools reviewed",
        )
        .await?;
    browser.click("[data-testid=confirm-verification]").await?;
    browser
        .until_text("[data-testid=agent-facts]", "verified")
        .await?;
    // The confirmation toast sits over the corner where the run panel's button is.
    browser.click("[data-testid=toast] .toast-close").await?;
    browser.click("[data-testid=create-install-token]").await?;
    let command = browser.text("[data-testid=run-command]").await?;
    assert!(command.starts_with("sekuire run --backend "), "{command}");
    token_in(&command)
}

/// The install token of a `sekuire run` command.
fn token_in(command: &str) -> Result<String> {
    let token = command
        .split_whitespace()
        .skip_while(|w| *w != "--install-token")
        .nth(1)
        .context("the run command names an install token")?;
    assert!(token.starts_with("skt_"), "{command}");
    Ok(token.to_owned())
}

#[tokio::test]
async fn a_pushed_agent_runs_and_the_dashboard_pauses_resumes_and_terminates_its_process(
) -> Result<()> {
    let fleet = Fleet::prepare(&[], 0).await?;
    let registry = Registry::start(fleet.db(), None, &[])?;
    let station = Workstation::new(&registry.base)?;

    // `sekuire login`: the key typed at its prompt; the first workspace becomes the default.
    let shown = station.login(&fleet.operator)?;
    let auth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        station.home().join(".sekuire/auth.json"),
    )?)?;
    assert_eq!(auth["workspace_id"], "default", "{shown}");
    assert_eq!(auth["api_key"], fleet.operator.as_str());

    station.write_project("ticket-triage", "1.0.0", "gpt-4o-mini")?;
    station.ok_offline(&["keygen"])?;
    let pushed = station.ok(&["push"])?;
    let id = pushed
        .lines()
        .find_map(|l| l.strip_prefix("Identity: "))
        .context("push prints the identity")?
        .trim()
        .to_owned();
    let (_, agent) = registry
        .get(&fleet.viewer, &format!("/api/v1/agents/{id}"))
        .await?;
    assert_eq!(agent["verification_status"], "pending", "{agent}");
    assert_eq!(agent["name"], "ticket-triage");
    // A second push of the same identity is a new version, not an error.
    station.write_project("ticket-triage", "1.0.1", "gpt-4o-mini")?;
    station.ok(&["push"])?;

    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser
        .sign_in(&fleet.admin, "/?verification_status=pending")
        .await?;
    browser
        .until_text("[data-testid=count-drafts]", "1 drafts to review")
        .await?;
    browser.goto(&format!("/agents/{id}")).await?;
    let token = admin_reviews_and_mints_a_token(&browser).await?;
    browser
        .assert_accessible("agent page with its manifest and a minted token")
        .await?;
    screenshots(&browser, "[data-testid=draft-review]", "draft-review").await?;
    screenshots(&browser, "[data-testid=run-panel]", "run-panel").await?;
    let metrics = station.ok(&["metrics", "--agent", &id])?;
    assert!(metrics.contains("Verification:     verified"), "{metrics}");

    let (mut run, child) = start_instance(&station, &registry.base, &token, "first.log")?;
    browser.click("[data-testid=tab-history]").await?;
    browser
        .until_text("[data-testid=installations]", "running")
        .await?;
    screenshots(&browser, "[data-testid=installations]", "installations").await?;

    // A second instance, revoked from the installations table: it stops, the first runs on.
    browser.click("[data-testid=create-install-token]").await?;
    let second_token = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let shown = token_in(&browser.text("[data-testid=run-command]").await?)?;
            if shown != token {
                return anyhow::Ok(shown);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .context("a second token is shown")??;
    let (mut second, second_child) =
        start_instance(&station, &registry.base, &second_token, "second.log")?;
    browser
        .until("two instances are listed", || async {
            Ok(browser.count("[data-testid=installation-row]").await? == 2)
        })
        .await?;
    // Newest first: the second instance's row.
    browser.click("[data-testid=revoke-installation]").await?;
    browser
        .fill(
            "[data-testid=dialog] [data-testid=reason]",
            "Extra instance",
        )
        .await?;
    browser.click("[data-testid=confirm-revoke]").await?;
    eventually("the revoked instance's sekuire run exits", || {
        matches!(second.try_wait(), Ok(Some(_)))
    })
    .await?;
    assert!(
        matches!(process_state(child), Some('S' | 'R')),
        "the first runs on"
    );
    assert!(matches!(process_state(second_child), None | Some('Z')));

    let agent_page = browser.agent_page();
    agent_page.pause("Customer escalation review").await?;
    eventually("the child is stopped (T)", || {
        process_state(child) == Some('T')
    })
    .await?;

    agent_page.resume().await?;
    eventually("the child runs again", || {
        matches!(process_state(child), Some('S' | 'R'))
    })
    .await?;

    agent_page
        .terminate("ticket-triage", "Replaced by v2")
        .await?;
    eventually("sekuire run exits", || {
        matches!(run.try_wait(), Ok(Some(_)))
    })
    .await?;
    eventually("the child is gone", || {
        matches!(process_state(child), None | Some('Z'))
    })
    .await?;

    // The audit trail tells the whole story, newest first.
    let (_, audit) = registry
        .get(&fleet.viewer, &format!("/api/v1/agents/{id}/audit"))
        .await?;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "terminate",
            "resume",
            "pause",
            "revoke",
            "verify",
            "publish",
            "publish"
        ]
    );
    // So does the agent's event log, with the token and the installation's start.
    browser.click("[data-testid=tab-logs]").await?;
    browser
        .fill("[data-testid=log-event-type]", "lifecycle\u{e007}")
        .await?;
    browser
        .until_text("[data-testid=log-range]", "of 11")
        .await?;
    let logs = browser.text("[data-testid=log-table]").await?;
    for step in [
        "install_token",
        "bootstrap",
        "Customer escalation review",
        "Replaced by v2",
    ] {
        assert!(logs.contains(step), "the log shows {step}: {logs}");
    }
    browser.assert_accessible("agent page, Logs tab").await?;
    screenshots(&browser, "[data-testid=logs]", "logs").await?;
    browser.click("[data-testid=tab-history]").await?;
    browser.find("[data-testid=installation-row]").await?;
    browser
        .assert_accessible("agent page, audit and installations")
        .await?;
    Ok(())
}
