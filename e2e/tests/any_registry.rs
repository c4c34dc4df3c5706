//! The dashboard on any Sekuire registry: the same stories, in Chromium, against our
//! registry and against a registry with Sekuire's standard API only (the stand-in for the
//! hosted one, built from `sekuire-protocol`'s types) behind `sekuire-registry proxy`.
//! Then several registries saved side by side, switched from the header.

// A panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use anyhow::Result;
use fleet_e2e::standard::{StandardRegistry, STANDARD_KEY};
use fleet_e2e::{Browser, Driver, Fleet, Registry, Seed};
use fleet_protocol::RuntimeStatus;

fn seeds() -> [Seed; 4] {
    [
        Seed::active("triage-bot"),
        Seed::active("triage-helper"),
        Seed::new("billing-bot", RuntimeStatus::Paused, 60),
        Seed::active("search-bot"),
    ]
}

/// The registry a story runs against, as the browser reaches it.
struct Under<'a> {
    registry: &'a Registry,
    key: &'a str,
    /// Sekuire ID of `triage-bot`.
    triage: &'a str,
    /// Only Sekuire's standard API (no extensions).
    standard: bool,
}

impl Under<'_> {
    async fn runtime(&self) -> Result<String> {
        let path = format!("/api/v1/agents/{}", self.triage);
        let (_, agent) = self.registry.get(self.key, &path).await?;
        Ok(agent["runtime_status"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }
}

async fn sign_in_at_the_connect_page(browser: &Browser, key: &str) -> Result<()> {
    browser.goto("/connect").await?;
    browser.fill("[data-testid=api-key]", key).await?;
    browser.click("[data-testid=connect]").await?;
    browser.find("[data-testid=whoami]").await?;
    Ok(())
}

/// Sign in, list, search, open an agent, pause with a reason, resume, terminate
/// (guarded), read the logs.
async fn the_operator_story(under: &Under<'_>) -> Result<()> {
    let driver = Driver::start()?;
    let browser = driver.browser(&under.registry.base).await?;
    sign_in_at_the_connect_page(&browser, under.key).await?;

    // The list, with every row's runtime state (read per agent where the list has none).
    browser
        .until("all four agents, each with its state", || async {
            Ok(browser.count("tr[data-testid=agent-row]").await? == 4
                && browser.count("[data-testid=state-pending]").await? == 0)
        })
        .await?;
    let billing = browser
        .text("tr[data-testid=agent-row]:first-child [data-testid=runtime-status]")
        .await?;
    assert_eq!(billing, "paused", "billing-bot, first by name, is paused");
    assert!(browser
        .text("[data-testid=summary]")
        .await?
        .contains(if under.standard {
            "4 agents loaded"
        } else {
            "4 agents"
        }));

    // What the registry lacks is said, and what needs it is not offered.
    let notices = browser.count("[data-testid=missing-features]").await?;
    assert_eq!(notices, usize::from(under.standard));
    if under.standard {
        browser
            .click("[data-testid=missing-features] summary")
            .await?;
        browser
            .until_text("[data-testid=missing-features]", "no audit trail")
            .await?;
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/screenshots/standard-registry-light.png");
        browser.screenshot_of("main", &out).await?;
        browser
            .assert_accessible("the fleet page on a standard-API registry")
            .await?;
    }
    let audit_links = browser.count("nav a[href='/audit']").await?;
    assert_eq!(audit_links, usize::from(!under.standard));
    let live = if under.standard {
        "Refreshing every 15 s"
    } else {
        "Live"
    };
    browser.until_text("[data-testid=live-state]", live).await?;

    browser.fill("[data-testid=search]", "triage").await?;
    browser
        .until("two triage agents", || async {
            Ok(browser.count("tr[data-testid=agent-row]").await? == 2)
        })
        .await?;
    browser
        .click(&format!(
            "tr[data-id='{}'] a[data-testid=agent-name]",
            under.triage
        ))
        .await?;
    browser
        .until_text("[data-testid=agent-title]", "triage-bot")
        .await?;

    let page = browser.agent_page();
    page.pause("Maintenance window").await?;
    browser
        .until_text(
            "[data-testid=agent-facts] [data-testid=runtime-status]",
            "paused",
        )
        .await?;
    browser
        .until_text("[data-testid=toasts]", "Agent triage-bot paused.")
        .await?;
    assert_eq!(under.runtime().await?, "paused");

    page.resume().await?;
    browser
        .until_text(
            "[data-testid=agent-facts] [data-testid=runtime-status]",
            "active",
        )
        .await?;
    assert_eq!(under.runtime().await?, "active");

    page.start_terminate("triage-bo", "Replaced by v2").await?;
    let confirm = browser.find("[data-testid=confirm-terminate]").await?;
    assert!(
        confirm.attr("disabled").await?.is_some(),
        "a wrong name keeps Terminate disabled"
    );
    browser.click("[data-testid=cancel]").await?;
    page.terminate("triage-bot", "Replaced by v2").await?;
    browser.find("[data-testid=terminated-banner]").await?;
    assert_eq!(under.runtime().await?, "terminated");

    // The log: the only history tab on a registry without an audit trail.
    if !under.standard {
        browser.click("[data-testid=tab-logs]").await?;
    }
    let expected = if under.standard {
        "tool_execution"
    } else {
        "lifecycle"
    };
    browser
        .until_text("[data-testid=log-table]", expected)
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_operator_story_on_our_registry() -> Result<()> {
    let fleet = Fleet::prepare(&seeds(), 0).await?;
    let registry = Registry::start(fleet.db(), None, &[])?;
    the_operator_story(&Under {
        registry: &registry,
        key: &fleet.admin,
        triage: &fleet.ids[0],
        standard: false,
    })
    .await
}

#[tokio::test]
async fn the_operator_story_on_a_registry_with_the_standard_api_only() -> Result<()> {
    let standard = StandardRegistry::start(&seeds())?;
    the_operator_story(&Under {
        registry: &standard.proxy,
        key: STANDARD_KEY,
        triage: &standard.ids[0],
        standard: true,
    })
    .await
}

/// Two registries saved side by side: the second added from the header, both switched
/// between without signing out, the one in use always shown, and a `?registry=` link.
#[tokio::test]
async fn several_registries_are_saved_and_switched_from_the_header() -> Result<()> {
    // The home registry serves the dashboard and names the other in its policy; the
    // other lets the home origin call it. Each needs the other's address first.
    let home_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let home_origin = format!("http://127.0.0.1:{home_port}");
    let other_fleet = Fleet::prepare(&[Seed::active("other-bot")], 0).await?;
    let other = Registry::start(other_fleet.db(), None, &["--cors-origin", &home_origin])?;
    let home_fleet = Fleet::prepare(&[Seed::active("home-bot")], 0).await?;
    let home = Registry::start(
        home_fleet.db(),
        Some(home_port),
        &["--registry-origin", &other.base],
    )?;

    let driver = Driver::start()?;
    let browser = driver.browser(&home.base).await?;
    sign_in_at_the_connect_page(&browser, &home_fleet.admin).await?;
    browser
        .until_text("[data-testid=fleet-table]", "home-bot")
        .await?;

    let switcher = "[data-testid=registry-switcher]";
    browser.find(switcher).await?.select_by_value("").await?;
    browser
        .fill("[data-testid=registry-url]", &other.base)
        .await?;
    browser
        .fill("[data-testid=api-key]", &other_fleet.admin)
        .await?;
    browser.click("[data-testid=connect]").await?;
    browser
        .until_text("[data-testid=fleet-table]", "other-bot")
        .await?;
    let in_use = |base: &str| base.trim_start_matches("http://").to_owned();
    browser
        .until_text(&format!("{switcher} option:checked"), &in_use(&other.base))
        .await?;

    // Back to the first without signing in again: its key was kept.
    browser
        .find(switcher)
        .await?
        .select_by_value(&home.base)
        .await?;
    browser
        .until_text("[data-testid=fleet-table]", "home-bot")
        .await?;
    assert_eq!(browser.count("[data-testid=connect]").await?, 0);

    // A link names the registry to open.
    browser
        .goto(&format!("/agents?registry={}", other.base))
        .await?;
    browser
        .until_text("[data-testid=fleet-table]", "other-bot")
        .await?;
    browser
        .until_text(&format!("{switcher} option:checked"), &in_use(&other.base))
        .await?;

    // A key the second registry stops accepting: sign in again, to that same registry.
    let store = fleet_registry::store::Store::open(&other_fleet.db()).await?;
    assert!(store.revoke_key("alice").await?);
    browser.client.refresh().await?;
    browser.find("[data-testid=rejected]").await?;
    let url = browser.find("[data-testid=registry-url]").await?;
    assert_eq!(
        url.prop("value").await?.as_deref(),
        Some(other.base.as_str())
    );
    Ok(())
}
