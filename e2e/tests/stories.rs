//! One test per user story of the dashboard issue: real registry binary, release build of
//! the dashboard, real Chromium. Each starts from a [`Story`] and works the pages through
//! their page objects (`fleet_page`, `agent_page`, `audit_page`).

// A panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use anyhow::Result;
use fleet_e2e::{agent_path, screenshot_dir, Seed, Story};
use fleet_protocol::Role::{Admin, Operator, Viewer};
use fleet_protocol::RuntimeStatus;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn s01_the_printed_link_signs_in_and_shows_the_fleet() -> Result<()> {
    let story = Story::with_registry_args(&[], 0, &["--demo"]).await?;
    let link = story.registry.printed.last().cloned().unwrap_or_default();
    assert!(
        link.contains("/#key=sk_"),
        "the demo prints a sign-in link: {link}"
    );

    let browser = &story.browser;
    browser.client.goto(&link).await?;
    assert!(browser.who_am_i().await?.contains("demo-admin"));
    let url = browser.url().await?;
    assert!(
        !url.contains("key="),
        "the key leaves the address bar: {url}"
    );
    assert!(!browser.location_has("sk_").await?, "nor the location");

    let fleet = browser.fleet_page();
    fleet.until_rows(50).await?;
    let first = fleet.first_row();
    let cells = [
        ("the runtime state", first.runtime_state().await?),
        ("the health", first.health().await?),
        ("the reputation", first.reputation().await?),
    ];
    for (cell, text) in cells {
        assert!(!text.is_empty(), "{cell} is shown");
    }
    assert!(fleet.summary().await?.contains("240"));
    Ok(())
}

#[tokio::test]
async fn s02_filter_and_search_live_in_the_url_through_reload_and_history() -> Result<()> {
    let story = Story::new(
        &[
            Seed::new("billing-triage-agent", RuntimeStatus::Paused, 70),
            Seed::new("support-triage-agent", RuntimeStatus::Active, 90),
            Seed::new("ledger-reconciler", RuntimeStatus::Paused, 60),
        ],
        40,
    )
    .await?;
    let browser = story.sign_in(Admin, "/agents").await?;
    let fleet = browser.fleet_page();

    fleet.toggle_chip("runtime", "paused").await?;
    browser.until_url_has("runtime_status=paused").await?;
    fleet.search("triage").await?;
    browser.until_url_has("q=triage").await?;
    let only_match = fleet.row(story.id(0));
    browser
        .until("only the paused triage agent shows", || async {
            Ok(fleet.rows().await? == 1 && only_match.is_shown().await?)
        })
        .await?;

    browser.client.refresh().await?;
    only_match.find().await?;
    assert_eq!(fleet.rows().await?, 1);
    assert_eq!(fleet.search_text().await?.as_deref(), Some("triage"));

    browser.client.back().await?;
    browser
        .until("back drops the search but keeps the filter", || async {
            let url = browser.url().await?;
            Ok(!url.contains("q=")
                && url.contains("runtime_status=paused")
                && fleet.rows().await? > 1)
        })
        .await?;
    browser.client.forward().await?;
    browser
        .until("forward restores the search", || async {
            Ok(browser.url().await?.contains("q=triage") && fleet.rows().await? == 1)
        })
        .await?;
    Ok(())
}

#[tokio::test]
async fn s03_pause_with_a_reason_reaches_the_table_and_the_audit_page() -> Result<()> {
    let story = Story::new(&[Seed::active("invoice-summarizer")], 0).await?;
    let id = story.id(0);
    let browser = story.sign_in(Admin, &agent_path(id)).await?;

    browser.agent_page().pause("Maintenance window").await?;
    browser
        .until_toast("Agent invoice-summarizer paused.")
        .await?;
    assert_eq!(story.runtime_of(id).await?, "paused");

    let fleet = browser.open_fleet_page().await?;
    fleet.row(id).until_runtime_state("paused").await?;

    let audit = browser.open_audit_page().await?;
    audit.until_newest_actor("alice").await?;
    assert_eq!(audit.newest_reason().await?, "Maintenance window");
    Ok(())
}

#[tokio::test]
async fn s04_resume_is_one_click_with_a_toast() -> Result<()> {
    let story = Story::new(&[Seed::new("paused-planner", RuntimeStatus::Paused, 75)], 0).await?;
    let id = story.id(0);
    let browser = story.sign_in(Operator, &agent_path(id)).await?;
    let agent = browser.agent_page();

    agent.resume().await?;
    browser.until_toast("Agent paused-planner resumed.").await?;
    agent.until_runtime_state("active").await?;
    assert_eq!(story.runtime_of(id).await?, "active");
    Ok(())
}

#[tokio::test]
async fn s05_terminate_is_guarded_cancelable_and_final() -> Result<()> {
    let story = Story::new(&[Seed::active("legacy-router")], 0).await?;
    let id = story.id(0);
    let browser = story.sign_in(Admin, &agent_path(id)).await?;
    let agent = browser.agent_page();

    let reason = "Replaced by v2";
    let can_confirm = || agent.can_confirm_terminate();
    agent.open_terminate().await?;
    assert!(browser.dialog_text().await?.contains("cannot be undone"));
    assert!(!can_confirm().await?, "disabled while empty");
    agent.type_name("legacy-route").await?;
    agent.type_reason(reason).await?;
    assert!(!can_confirm().await?, "disabled with a wrong name");
    agent.type_name("legacy-router").await?;
    agent.type_reason("").await?;
    assert!(!can_confirm().await?, "disabled without a reason");
    agent.type_reason(reason).await?;
    assert!(can_confirm().await?, "enabled with exact name and reason");

    browser.press_escape().await?;
    browser.until_dialog_closed("Esc closes the dialog").await?;
    assert_eq!(story.runtime_of(id).await?, "active", "Esc changed nothing");

    agent.start_terminate("legacy-router", reason).await?;
    agent.confirm_terminate().await?;
    agent.until_terminated_banner(reason).await?;
    assert!(agent.terminated_banner().await?.contains("alice"));
    assert!(!agent.offers_actions().await?);
    assert!(!agent.offers_terminate().await?);
    agent.until_history_shows(reason).await?;

    let refused = story.api_resume(Admin, id).await;
    assert!(
        refused.unwrap_err().to_string().contains("409"),
        "the API refuses a later resume"
    );
    Ok(())
}

#[tokio::test]
async fn s06_roles_decide_which_actions_show() -> Result<()> {
    let story = Story::new(&[Seed::active("role-check")], 5).await?;
    let id = story.id(0);

    let viewer = story.sign_in(Viewer, "/agents").await?;
    let fleet = viewer.fleet_page();
    fleet.row(id).find().await?;
    assert_eq!(fleet.pause_buttons().await?, 0, "viewer: no row actions");
    let agent = viewer.open_agent_page(id).await?;
    agent.until_loaded().await?;
    assert!(!agent.offers_actions().await?);
    assert!(!agent.offers_terminate().await?);

    let operator = story.another_browser(Operator, &agent_path(id)).await?;
    let agent = operator.agent_page();
    agent.until_pause_offered().await?;
    assert!(!agent.offers_terminate().await?, "operator: no terminate");
    let fleet = operator.open_fleet_page().await?;
    fleet.row(id).until_pause_offered().await?;
    Ok(())
}

#[tokio::test]
async fn s07_a_pause_in_one_session_appears_in_another_within_two_seconds() -> Result<()> {
    let story = Story::new(&[Seed::active("shared-view")], 10).await?;
    let id = story.id(0);

    let watcher = story.sign_in(Viewer, "/agents").await?;
    watcher.until_live("Live").await?;
    let watched = watcher.fleet_page().row(id);
    watched.until_runtime_state("active").await?;

    let actor = story.another_browser(Operator, "/agents").await?;
    actor.fleet_page().row(id).pause().await?;
    actor.until_toast("paused").await?;

    let acted = Instant::now();
    while !watched.runtime_state().await?.contains("paused") {
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
    let story = Story::new(&[Seed::active("contested")], 0).await?;
    let id = story.id(0);
    let browser = story.sign_in(Admin, "/agents").await?;
    // With live updates off, the page keeps showing what it loaded.
    browser.turn_live_updates_off().await?;
    let agent = browser.open_agent_page(id).await?;
    agent.until_pause_offered().await?;

    story.api_pause(Operator, id, "someone else").await?;

    agent.pause("my stale view").await?;
    agent.until_stale_notice("now paused").await?;
    assert!(agent.stale_notice().await?.contains("oscar"));
    agent.until_runtime_state("paused").await?;
    agent.until_resume_offered().await?;

    let entries = story.audit_of(id).await?;
    assert_eq!(entries.len(), 1, "the stale request wrote nothing");
    assert_eq!(entries[0]["reason"], "someone else");
    Ok(())
}

#[tokio::test]
async fn s09_bulk_pause_of_three_agents_lists_three_outcomes() -> Result<()> {
    let story = Story::new(
        &[
            Seed::active("bulk-one"),
            Seed::active("bulk-two"),
            Seed::new("bulk-three", RuntimeStatus::Paused, 50),
        ],
        0,
    )
    .await?;
    let browser = story.sign_in(Operator, "/agents").await?;
    let fleet = browser.fleet_page();

    fleet.select(story.ids()).await?;
    fleet.until_selected(3).await?;
    let confirmation = fleet.bulk_pause().await?;
    for name in ["bulk-one", "bulk-two", "bulk-three"] {
        assert!(confirmation.contains(name), "the confirmation lists {name}");
    }
    fleet.confirm_bulk().await?;
    let outcomes = fleet.bulk_outcomes(3).await?;
    assert!(
        outcomes.contains("bulk-three: already paused"),
        "{outcomes}"
    );
    for id in story.ids() {
        assert_eq!(story.runtime_of(id).await?, "paused");
    }
    Ok(())
}

#[tokio::test]
async fn s10_registry_text_is_rendered_as_text_never_as_html() -> Result<()> {
    let hostile = "<img src=x onerror=alert(1)>";
    let script = "<script>alert(2)</script>";
    let story = Story::new(&[Seed::active(hostile)], 0).await?;
    let id = story.id(0);
    story.api_pause(Admin, id, script).await?;
    let browser = story.sign_in(Admin, "/agents").await?;

    assert_eq!(browser.fleet_page().row(id).name().await?, hostile);
    let agent = browser.open_agent_page(id).await?;
    agent.until_title(hostile).await?;
    agent.until_status_reason(script).await?;
    let audit = browser.open_audit_page().await?;
    audit.until_newest_reason(script).await?;
    // An alert would block this script call; injected markup would add elements.
    let injected = browser.count_by_script("main img, main script").await?;
    assert_eq!(injected, 0);
    Ok(())
}

#[tokio::test]
async fn s11_a_registry_outage_shows_a_banner_and_recovers_by_itself() -> Result<()> {
    let mut story = Story::new(&[Seed::active("outage-survivor")], 20).await?;
    story.sign_in(Viewer, "/agents").await?;
    story.browser.until_live("Live").await?;
    let rows = story.browser.fleet_page().rows().await?;
    assert!(rows > 0);

    story.stop_registry();
    story.browser.until_connection_banner().await?;
    assert_eq!(
        story.browser.fleet_page().rows().await?,
        rows,
        "the data on screen stays"
    );

    story.restart_registry()?;
    story.browser.until_no_connection_banner().await?;
    story.browser.until_live("Live").await?;
    assert_eq!(story.browser.fleet_page().rows().await?, rows);
    Ok(())
}

/// Screenshots of every page in both themes, written to `docs/screenshots/` by each run
/// so the README's pictures stay current.
#[tokio::test]
async fn s12_screenshots_of_every_page_in_light_and_dark() -> Result<()> {
    let story = Story::new(
        &[
            Seed::new("invoice-triage-agent", RuntimeStatus::Active, 92),
            Seed::new("fraud-scout", RuntimeStatus::Paused, 64),
        ],
        120,
    )
    .await?;
    let id = story.id(0);
    let reason = "Cost spike; paused pending review";
    story.api_pause(Operator, story.id(1), reason).await?;
    let out = screenshot_dir()?;
    let browser = story.sign_in(Admin, "/agents").await?;
    for theme in ["light", "dark"] {
        let shot = |page: &str| out.join(format!("{page}-{theme}.png"));
        browser.remember_theme(theme).await?;
        let fleet = browser.open_fleet_page().await?;
        fleet.until_loaded().await?;
        fleet.until_rows(50).await?;
        browser.screenshot(&shot("fleet")).await?;

        let agent = browser.open_agent_page(id).await?;
        agent.until_history_section().await?;
        agent.until_loaded().await?;
        browser.screenshot(&shot("agent")).await?;
        agent.open_terminate().await?;
        agent.type_name("invoice-triage").await?;
        browser.screenshot(&shot("terminate-dialog")).await?;
        browser.press_escape().await?;

        browser.open_audit_page().await?.until_entries().await?;
        browser.screenshot(&shot("audit")).await?;
    }
    Ok(())
}

#[tokio::test]
async fn s13_a_live_heartbeat_updates_a_row_in_place_and_keeps_focus() -> Result<()> {
    let story = Story::new(&[Seed::active("heartbeating")], 5).await?;
    let id = story.id(0);
    let installation = story.install(id).await?;
    let browser = story.sign_in(Operator, "/agents").await?;
    browser.until_live("Live").await?;
    let row = browser.fleet_page().row(id);
    row.focus_pause().await?;
    row.until_heartbeat("s ago").await?;

    installation.lease().await?;
    row.until_heartbeat("just now").await?;
    assert!(
        row.pause_has_focus().await?,
        "the focused Pause button survived the update"
    );

    // On the agent page, an update while the terminate dialog is open keeps what was typed.
    let admin = story.another_browser(Admin, &agent_path(id)).await?;
    admin.until_live("Live").await?;
    let agent = admin.agent_page();
    agent.open_terminate().await?;
    agent.type_name("heartbeat").await?;
    installation.lease().await?;
    story.api_pause(Operator, id, "meanwhile").await?;
    agent.until_runtime_state("paused").await?;
    assert_eq!(
        agent.typed_name().await?.as_deref(),
        Some("heartbeat"),
        "the open dialog kept its input"
    );
    Ok(())
}

#[tokio::test]
async fn s14_a_rejected_key_returns_to_sign_in_and_back_to_the_same_page() -> Result<()> {
    let story = Story::new(&[Seed::active("kept-in-view")], 0).await?;
    let id = story.id(0);
    let browser = story.sign_in(Viewer, &agent_path(id)).await?;
    let agent = browser.agent_page();
    agent.until_loaded().await?;

    assert!(story.revoke_key(Viewer).await?);
    agent.back_to_fleet().await?;
    browser.until_key_rejected().await?;
    assert!(browser.url().await?.contains("/connect?next="));

    browser.connect_with(story.key(Admin)).await?;
    // Back on the page the user was on.
    browser.until_url_ends_with("/agents").await?;
    browser.until_signed_in_as("alice").await?;
    Ok(())
}

#[tokio::test]
async fn s15_keyboard_shortcuts_search_navigate_and_explain_themselves() -> Result<()> {
    let story = Story::new(&[Seed::active("keyboard-user")], 5).await?;
    let browser = story.sign_in(Viewer, "/agents").await?;
    browser.fleet_page().until_any_row().await?;

    browser.press_keys("/").await?;
    assert_eq!(
        browser.focused_id().await?,
        json!("fleet-search"),
        "/ focuses the search"
    );
    browser.press_keys("keyboard").await?;
    browser.until_url_has("q=keyboard").await?;
    browser.press_escape().await?;
    browser.blur().await?;

    browser.press_keys("gl").await?;
    browser.until_url_ends_with("/audit").await?;
    browser.press_keys("ga").await?;
    browser.until_url_ends_with("/agents").await?;
    browser.press_keys("?").await?;
    browser.until_help_shows("Keyboard shortcuts").await?;
    browser.press_escape().await?;
    browser.until_help_closed("Esc closes the help").await?;
    Ok(())
}
