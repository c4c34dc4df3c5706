//! One test per user story of the dashboard issue: real registry binary, release build of
//! the dashboard, real Chromium.

// A panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use anyhow::Result;
use fleet_e2e::{Browser, Driver, Fleet, Registry, Seed};
use fleet_protocol::RuntimeStatus;
use serde_json::json;
use std::time::{Duration, Instant};

async fn runtime_of(registry: &Registry, key: &str, id: &str) -> Result<String> {
    let (_, agent) = registry.get(key, &format!("/api/v1/agents/{id}")).await?;
    Ok(agent["runtime_status"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test]
async fn s01_the_printed_link_signs_in_and_shows_the_fleet() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let registry = Registry::start(&dir.path().join("demo.db"), None, &["--demo"])?;
    let link = registry.printed.last().cloned().unwrap_or_default();
    assert!(
        link.contains("/#key=sk_"),
        "the demo prints a sign-in link: {link}"
    );

    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.client.goto(&link).await?;
    assert!(browser
        .text("[data-testid=whoami]")
        .await?
        .contains("demo-admin"));
    let url = browser.url().await?;
    assert!(
        !url.contains("key="),
        "the key leaves the address bar: {url}"
    );
    let history_has_key: bool = browser
        .client
        .execute("return window.location.href.includes('sk_')", vec![])
        .await?
        .as_bool()
        .unwrap_or(true);
    assert!(!history_has_key);

    browser
        .until("50 agent rows show", || async {
            Ok(browser.count("tr[data-testid=agent-row]").await? == 50)
        })
        .await?;
    for cell in ["runtime-status", "health", "reputation"] {
        let css = format!("tr[data-testid=agent-row]:first-child [data-testid={cell}]");
        assert!(!browser.text(&css).await?.is_empty(), "{cell} is shown");
    }
    assert!(browser.text("[data-testid=summary]").await?.contains("240"));
    Ok(())
}

#[tokio::test]
async fn s02_filter_and_search_live_in_the_url_through_reload_and_history() -> Result<()> {
    let fleet = Fleet::prepare(
        &[
            Seed::new("billing-triage-agent", RuntimeStatus::Paused, 70),
            Seed::new("support-triage-agent", RuntimeStatus::Active, 90),
            Seed::new("ledger-reconciler", RuntimeStatus::Paused, 60),
        ],
        40,
    )
    .await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(&fleet.admin, "/agents").await?;

    browser
        .click("[data-testid=filter-runtime] button[data-value=paused]")
        .await?;
    browser
        .until("the URL has the filter", || async {
            Ok(browser.url().await?.contains("runtime_status=paused"))
        })
        .await?;
    browser.fill("[data-testid=search]", "triage").await?;
    browser
        .until("the URL has the search", || async {
            Ok(browser.url().await?.contains("q=triage"))
        })
        .await?;
    let only_match = Browser::row(&fleet.ids[0]);
    browser
        .until("only the paused triage agent shows", || async {
            Ok(browser.count("tr[data-testid=agent-row]").await? == 1
                && browser.count(&only_match).await? == 1)
        })
        .await?;

    browser.client.refresh().await?;
    browser.find(&only_match).await?;
    assert_eq!(browser.count("tr[data-testid=agent-row]").await?, 1);
    let search = browser.find("[data-testid=search]").await?;
    assert_eq!(search.prop("value").await?.as_deref(), Some("triage"));

    browser.client.back().await?;
    browser
        .until("back drops the search but keeps the filter", || async {
            let url = browser.url().await?;
            Ok(!url.contains("q=")
                && url.contains("runtime_status=paused")
                && browser.count("tr[data-testid=agent-row]").await? > 1)
        })
        .await?;
    browser.client.forward().await?;
    browser
        .until("forward restores the search", || async {
            Ok(browser.url().await?.contains("q=triage")
                && browser.count("tr[data-testid=agent-row]").await? == 1)
        })
        .await?;
    Ok(())
}

#[tokio::test]
async fn s03_pause_with_a_reason_reaches_the_table_and_the_audit_page() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("invoice-summarizer")], 0).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    let id = &fleet.ids[0];
    browser
        .sign_in(&fleet.admin, &format!("/agents/{id}"))
        .await?;

    browser.agent_page().pause("Maintenance window").await?;
    browser
        .until_text("[data-testid=toasts]", "Agent invoice-summarizer paused.")
        .await?;
    assert_eq!(runtime_of(&registry, &fleet.viewer, id).await?, "paused");

    browser.goto("/agents").await?;
    browser
        .until_text(
            &format!("{} [data-testid=runtime-status]", Browser::row(id)),
            "paused",
        )
        .await?;

    browser.goto("/audit").await?;
    browser
        .until_text("[data-testid=audit-row] [data-testid=audit-actor]", "alice")
        .await?;
    assert_eq!(
        browser
            .text("[data-testid=audit-row] [data-testid=audit-reason]")
            .await?,
        "Maintenance window"
    );
    Ok(())
}

#[tokio::test]
async fn s04_resume_is_one_click_with_a_toast() -> Result<()> {
    let fleet =
        Fleet::prepare(&[Seed::new("paused-planner", RuntimeStatus::Paused, 75)], 0).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    let id = &fleet.ids[0];
    browser
        .sign_in(&fleet.operator, &format!("/agents/{id}"))
        .await?;
    browser.click("[data-testid=resume]").await?;
    browser
        .until_text("[data-testid=toasts]", "Agent paused-planner resumed.")
        .await?;
    browser
        .until_text(".agent-head [data-testid=runtime-status]", "active")
        .await?;
    assert_eq!(runtime_of(&registry, &fleet.viewer, id).await?, "active");
    Ok(())
}

#[tokio::test]
async fn s05_terminate_is_guarded_cancelable_and_final() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("legacy-router")], 0).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    let id = &fleet.ids[0];
    browser
        .sign_in(&fleet.admin, &format!("/agents/{id}"))
        .await?;

    let confirm = "[data-testid=confirm-terminate]";
    let disabled = || async {
        anyhow::Ok(
            browser
                .find(confirm)
                .await?
                .attr("disabled")
                .await?
                .is_some(),
        )
    };
    browser.click("[data-testid=terminate]").await?;
    assert!(browser
        .text("[data-testid=dialog]")
        .await?
        .contains("cannot be undone"));
    assert!(disabled().await?, "disabled while empty");
    browser
        .fill("[data-testid=confirm-name]", "legacy-route")
        .await?;
    browser
        .fill(
            "[data-testid=dialog] [data-testid=reason]",
            "Replaced by v2",
        )
        .await?;
    assert!(disabled().await?, "disabled with a wrong name");
    browser
        .fill("[data-testid=confirm-name]", "legacy-router")
        .await?;
    browser
        .fill("[data-testid=dialog] [data-testid=reason]", "")
        .await?;
    assert!(disabled().await?, "disabled without a reason");
    browser
        .fill(
            "[data-testid=dialog] [data-testid=reason]",
            "Replaced by v2",
        )
        .await?;
    assert!(!disabled().await?, "enabled with exact name and reason");

    browser.press_escape().await?;
    browser
        .until("Esc closes the dialog", || async {
            Ok(browser.count("[data-testid=dialog]").await? == 0)
        })
        .await?;
    assert_eq!(
        runtime_of(&registry, &fleet.viewer, id).await?,
        "active",
        "Esc changed nothing"
    );

    browser
        .agent_page()
        .start_terminate("legacy-router", "Replaced by v2")
        .await?;
    browser.click(confirm).await?;
    browser
        .until_text("[data-testid=terminated-banner]", "Replaced by v2")
        .await?;
    assert!(browser
        .text("[data-testid=terminated-banner]")
        .await?
        .contains("alice"));
    assert_eq!(browser.count("[data-testid=agent-actions]").await?, 0);
    assert_eq!(browser.count("[data-testid=terminate]").await?, 0);
    browser
        .until_text("[data-testid=agent-audit]", "Replaced by v2")
        .await?;

    let refused = registry
        .post(
            &fleet.admin,
            &format!("/api/v1/agents/{id}/resume"),
            json!({}),
        )
        .await;
    assert!(
        refused.unwrap_err().to_string().contains("409"),
        "the API refuses a later resume"
    );
    Ok(())
}

#[tokio::test]
async fn s06_roles_decide_which_actions_show() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("role-check")], 5).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let driver = Driver::start()?;
    let id = &fleet.ids[0];

    let viewer = driver.browser(&registry.base).await?;
    viewer.sign_in(&fleet.viewer, "/agents").await?;
    viewer.find(&Browser::row(id)).await?;
    assert_eq!(
        viewer.count("[data-testid=row-pause]").await?,
        0,
        "viewer: no row actions"
    );
    viewer.goto(&format!("/agents/{id}")).await?;
    viewer.find("[data-testid=agent-facts]").await?;
    assert_eq!(viewer.count("[data-testid=agent-actions]").await?, 0);
    assert_eq!(viewer.count("[data-testid=terminate]").await?, 0);
    viewer.close().await?;

    let operator = driver.browser(&registry.base).await?;
    operator
        .sign_in(&fleet.operator, &format!("/agents/{id}"))
        .await?;
    operator.find("[data-testid=pause]").await?;
    assert_eq!(
        operator.count("[data-testid=terminate]").await?,
        0,
        "operator: no terminate"
    );
    operator.goto("/agents").await?;
    operator
        .find(&format!("{} [data-testid=row-pause]", Browser::row(id)))
        .await?;
    Ok(())
}

#[tokio::test]
async fn s07_a_pause_in_one_session_appears_in_another_within_two_seconds() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("shared-view")], 10).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let driver = Driver::start()?;
    let id = &fleet.ids[0];
    let status = format!("{} [data-testid=runtime-status]", Browser::row(id));

    let watcher = driver.browser(&registry.base).await?;
    watcher.sign_in(&fleet.viewer, "/agents").await?;
    watcher
        .until_text("[data-testid=live-state]", "Live")
        .await?;
    watcher.until_text(&status, "active").await?;

    let actor = driver.browser(&registry.base).await?;
    actor.sign_in(&fleet.operator, "/agents").await?;
    actor
        .click(&format!("{} [data-testid=row-pause]", Browser::row(id)))
        .await?;
    actor.until_text("[data-testid=toasts]", "paused").await?;

    let acted = Instant::now();
    while !watcher.text(&status).await?.contains("paused") {
        assert!(
            acted.elapsed() < Duration::from_secs(2),
            "the other session updates within 2 s, without reload"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn s08_acting_on_a_changed_agent_shows_the_new_state_instead_of_overwriting() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("contested")], 0).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    let id = &fleet.ids[0];
    browser.sign_in(&fleet.admin, "/agents").await?;
    // With live updates off, the page keeps showing what it loaded.
    browser.click("[data-testid=live-toggle]").await?;
    browser
        .until_text("[data-testid=live-state]", "Live off")
        .await?;
    browser.goto(&format!("/agents/{id}")).await?;
    browser.find("[data-testid=pause]").await?;

    registry
        .post(
            &fleet.operator,
            &format!("/api/v1/agents/{id}/pause"),
            json!({"reason": "someone else"}),
        )
        .await?;

    browser.agent_page().pause("my stale view").await?;
    browser
        .until_text("[data-testid=stale-notice]", "now paused")
        .await?;
    assert!(browser
        .text("[data-testid=stale-notice]")
        .await?
        .contains("oscar"));
    browser
        .until_text(".agent-head [data-testid=runtime-status]", "paused")
        .await?;
    browser.find("[data-testid=resume]").await?;

    let (_, audit) = registry
        .get(&fleet.viewer, &format!("/api/v1/agents/{id}/audit"))
        .await?;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "the stale request wrote nothing");
    assert_eq!(entries[0]["reason"], "someone else");
    Ok(())
}

#[tokio::test]
async fn s09_bulk_pause_of_three_agents_lists_three_outcomes() -> Result<()> {
    let fleet = Fleet::prepare(
        &[
            Seed::active("bulk-one"),
            Seed::active("bulk-two"),
            Seed::new("bulk-three", RuntimeStatus::Paused, 50),
        ],
        0,
    )
    .await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(&fleet.operator, "/agents").await?;
    for id in &fleet.ids {
        browser
            .click(&format!("{} input[type=checkbox]", Browser::row(id)))
            .await?;
    }
    browser
        .until_text("[data-testid=bulk-bar]", "3 selected")
        .await?;
    browser.click("[data-testid=bulk-pause]").await?;
    let dialog = browser.text("[data-testid=dialog]").await?;
    for name in ["bulk-one", "bulk-two", "bulk-three"] {
        assert!(dialog.contains(name), "the confirmation lists {name}");
    }
    browser.click("[data-testid=confirm-bulk]").await?;
    browser
        .until("three outcomes are listed", || async {
            Ok(browser.count("[data-testid=bulk-result]").await? == 3)
        })
        .await?;
    let results = browser.text("[data-testid=bulk-results]").await?;
    assert!(results.contains("bulk-three: already paused"), "{results}");
    for id in &fleet.ids {
        assert_eq!(runtime_of(&registry, &fleet.viewer, id).await?, "paused");
    }
    Ok(())
}

#[tokio::test]
async fn s10_registry_text_is_rendered_as_text_never_as_html() -> Result<()> {
    let hostile = "<img src=x onerror=alert(1)>";
    let fleet = Fleet::prepare(&[Seed::active(hostile)], 0).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let id = &fleet.ids[0];
    registry
        .post(
            &fleet.admin,
            &format!("/api/v1/agents/{id}/pause"),
            json!({"reason": "<script>alert(2)</script>"}),
        )
        .await?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(&fleet.admin, "/agents").await?;
    let name = browser
        .text(&format!("{} [data-testid=agent-name]", Browser::row(id)))
        .await?;
    assert_eq!(name, hostile);
    browser.goto(&format!("/agents/{id}")).await?;
    browser
        .until_text("[data-testid=agent-title]", hostile)
        .await?;
    browser
        .until_text("[data-testid=status-reason]", "<script>alert(2)</script>")
        .await?;
    browser.goto("/audit").await?;
    browser
        .until_text("[data-testid=audit-reason]", "<script>alert(2)</script>")
        .await?;
    // An alert would block this script call; injected markup would add elements.
    let injected = browser
        .client
        .execute(
            "return document.querySelectorAll('main img, main script').length",
            vec![],
        )
        .await?;
    assert_eq!(injected, json!(0));
    Ok(())
}

#[tokio::test]
async fn s11_a_registry_outage_shows_a_banner_and_recovers_by_itself() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("outage-survivor")], 20).await?;
    let mut registry = Registry::start(&fleet.db(), None, &[])?;
    let port = registry.port();
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(&fleet.viewer, "/agents").await?;
    browser
        .until_text("[data-testid=live-state]", "Live")
        .await?;
    let rows = browser.count("tr[data-testid=agent-row]").await?;
    assert!(rows > 0);

    registry.stop();
    browser.find("[data-testid=connection-banner]").await?;
    assert_eq!(
        browser.count("tr[data-testid=agent-row]").await?,
        rows,
        "the data on screen stays"
    );

    let _registry = Registry::start(&fleet.db(), Some(port), &[])?;
    browser
        .until("the banner goes once the registry is back", || async {
            Ok(browser.count("[data-testid=connection-banner]").await? == 0)
        })
        .await?;
    browser
        .until_text("[data-testid=live-state]", "Live")
        .await?;
    assert_eq!(browser.count("tr[data-testid=agent-row]").await?, rows);
    Ok(())
}

/// Screenshots of every page in both themes, written to `docs/screenshots/` by each run
/// so the README's pictures stay current.
#[tokio::test]
async fn s12_screenshots_of_every_page_in_light_and_dark() -> Result<()> {
    let fleet = Fleet::prepare(
        &[
            Seed::new("invoice-triage-agent", RuntimeStatus::Active, 92),
            Seed::new("fraud-scout", RuntimeStatus::Paused, 64),
        ],
        120,
    )
    .await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let id = &fleet.ids[0];
    registry
        .post(
            &fleet.operator,
            &format!("/api/v1/agents/{}/pause", fleet.ids[1]),
            json!({"reason": "Cost spike; paused pending review"}),
        )
        .await?;
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&out)?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(&fleet.admin, "/agents").await?;
    for theme in ["light", "dark"] {
        browser
            .client
            .execute(
                &format!("localStorage.setItem('sekuire.theme', '{theme}')"),
                vec![],
            )
            .await?;
        browser.goto("/agents").await?;
        browser.find("[data-testid=summary]").await?;
        browser
            .until("rows show", || async {
                Ok(browser.count("tr[data-testid=agent-row]").await? == 50)
            })
            .await?;
        browser
            .screenshot(&out.join(format!("fleet-{theme}.png")))
            .await?;

        browser.goto(&format!("/agents/{id}")).await?;
        browser
            .find("[data-testid=agent-audit], .timeline, .muted")
            .await?;
        browser.find("[data-testid=agent-facts]").await?;
        browser
            .screenshot(&out.join(format!("agent-{theme}.png")))
            .await?;
        browser.click("[data-testid=terminate]").await?;
        browser
            .fill("[data-testid=confirm-name]", "invoice-triage")
            .await?;
        browser
            .screenshot(&out.join(format!("terminate-dialog-{theme}.png")))
            .await?;
        browser.press_escape().await?;

        browser.goto("/audit").await?;
        browser.find("[data-testid=audit-row]").await?;
        browser
            .screenshot(&out.join(format!("audit-{theme}.png")))
            .await?;
    }
    Ok(())
}

/// One lease (a heartbeat) of a bootstrapped installation, as its runtime sends it.
async fn lease(registry: &Registry, installation: &serde_json::Value) -> Result<()> {
    let id = installation["installation_id"].as_str().unwrap_or_default();
    reqwest::Client::new()
        .post(format!("{}/api/v1/installations/{id}/lease", registry.base))
        .bearer_auth(installation["runtime_token"].as_str().unwrap_or_default())
        .json(&json!({"status": "running"}))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[tokio::test]
async fn s13_a_live_heartbeat_updates_a_row_in_place_and_keeps_focus() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("heartbeating")], 5).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let id = &fleet.ids[0];
    let token = registry
        .post(
            &fleet.admin,
            "/api/v1/workspaces/default/install-tokens",
            json!({"sekuire_id": id}),
        )
        .await?;
    let installation = registry
        .post(
            "",
            "/api/v1/installations/bootstrap",
            json!({"install_token": token["token"]}),
        )
        .await?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(&fleet.operator, "/agents").await?;
    browser
        .until_text("[data-testid=live-state]", "Live")
        .await?;
    let pause = format!("{} [data-testid=row-pause]", Browser::row(id));
    browser
        .client
        .execute(
            &format!("document.querySelector(\"{pause}\").focus()"),
            vec![],
        )
        .await?;
    browser
        .until_text(&format!("{} .health", Browser::row(id)), "s ago")
        .await?;

    lease(&registry, &installation).await?;
    browser
        .until_text(&format!("{} .health", Browser::row(id)), "just now")
        .await?;
    let focused = browser
        .client
        .execute(
            &format!("return document.activeElement === document.querySelector(\"{pause}\")"),
            vec![],
        )
        .await?;
    assert_eq!(
        focused,
        json!(true),
        "the focused Pause button survived the update"
    );

    // On the agent page, an update while the terminate dialog is open keeps what was typed.
    let admin = driver.browser(&registry.base).await?;
    admin
        .sign_in(&fleet.admin, &format!("/agents/{id}"))
        .await?;
    admin.until_text("[data-testid=live-state]", "Live").await?;
    admin.click("[data-testid=terminate]").await?;
    admin
        .fill("[data-testid=confirm-name]", "heartbeat")
        .await?;
    lease(&registry, &installation).await?;
    registry
        .post(
            &fleet.operator,
            &format!("/api/v1/agents/{id}/pause"),
            json!({"reason": "meanwhile"}),
        )
        .await?;
    admin
        .until_text(".agent-head [data-testid=runtime-status]", "paused")
        .await?;
    let typed = admin
        .find("[data-testid=confirm-name]")
        .await?
        .prop("value")
        .await?;
    assert_eq!(
        typed.as_deref(),
        Some("heartbeat"),
        "the open dialog kept its input"
    );
    Ok(())
}

#[tokio::test]
async fn s14_a_rejected_key_returns_to_sign_in_and_back_to_the_same_page() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("kept-in-view")], 0).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let id = &fleet.ids[0];
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser
        .sign_in(&fleet.viewer, &format!("/agents/{id}"))
        .await?;
    browser.find("[data-testid=agent-facts]").await?;

    let store = fleet_registry::store::Store::open(&fleet.db()).await?;
    assert!(store.revoke_key("vera").await?);
    browser.click("a.back").await?;
    browser
        .until_text("[data-testid=rejected]", "rejected")
        .await?;
    assert!(browser.url().await?.contains("/connect?next="));

    browser.fill("[data-testid=api-key]", &fleet.admin).await?;
    browser.click("[data-testid=connect]").await?;
    browser
        .until("back on the page the user was on", || async {
            Ok(browser.url().await?.ends_with("/agents"))
        })
        .await?;
    browser.until_text("[data-testid=whoami]", "alice").await?;
    Ok(())
}

#[tokio::test]
async fn s15_keyboard_shortcuts_search_navigate_and_explain_themselves() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("keyboard-user")], 5).await?;
    let registry = Registry::start(&fleet.db(), None, &[])?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(&fleet.viewer, "/agents").await?;
    browser.find("tr[data-testid=agent-row]").await?;

    browser.press_keys("/").await?;
    let focused = browser
        .client
        .execute("return document.activeElement.id", vec![])
        .await?;
    assert_eq!(focused, json!("fleet-search"), "/ focuses the search");
    browser.press_keys("keyboard").await?;
    browser
        .until("typing searches", || async {
            Ok(browser.url().await?.contains("q=keyboard"))
        })
        .await?;
    browser.press_escape().await?;
    browser
        .client
        .execute("document.activeElement.blur()", vec![])
        .await?;

    browser.press_keys("gl").await?;
    browser
        .until("g l opens the audit trail", || async {
            Ok(browser.url().await?.ends_with("/audit"))
        })
        .await?;
    browser.press_keys("ga").await?;
    browser
        .until("g a opens the fleet", || async {
            Ok(browser.url().await?.ends_with("/agents"))
        })
        .await?;
    browser.press_keys("?").await?;
    browser
        .until_text("[role=dialog]", "Keyboard shortcuts")
        .await?;
    browser.press_escape().await?;
    browser
        .until("Esc closes the help", || async {
            Ok(browser.count("[role=dialog]").await? == 0)
        })
        .await?;
    Ok(())
}
