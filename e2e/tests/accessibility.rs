//! Every page of the dashboard, and its dialogs, against WCAG 2.1 A and AA (axe-core in
//! Chromium), in the light and the dark theme. The onboarding pages are scanned in their
//! story (`onboarding.rs`), where they hold real content.

use anyhow::Result;
use fleet_e2e::{Driver, Fleet, Registry, Seed};
use fleet_protocol::RuntimeStatus;
use serde_json::json;

#[tokio::test]
async fn every_page_passes_axe_in_both_themes() -> Result<()> {
    let fleet = Fleet::prepare(
        &[
            Seed::new("invoice-triage-agent", RuntimeStatus::Active, 92),
            Seed::new("fraud-scout", RuntimeStatus::Paused, 64),
        ],
        60,
    )
    .await?;
    let registry = Registry::start(fleet.db(), None, &[])?;
    registry
        .post(
            &fleet.operator,
            &format!("/api/v1/agents/{}/pause", fleet.ids[0]),
            json!({"reason": "Cost spike"}),
        )
        .await?;
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;

    browser.goto("/").await?;
    browser.find("[data-testid=connect]").await?;
    browser.assert_accessible("sign-in page").await?;

    browser.sign_in(&fleet.admin, "/agents").await?;
    browser.find("tr[data-testid=agent-row]").await?;
    browser.find("[data-testid=summary]").await?;
    browser.assert_accessible("fleet page").await?;

    browser.goto(&format!("/agents/{}", fleet.ids[0])).await?;
    browser.find("[data-testid=agent-facts]").await?;
    browser.find("[data-testid=agent-audit]").await?;
    browser.assert_accessible("agent page").await?;
    browser.click("[data-testid=terminate]").await?;
    browser.find("[data-testid=dialog]").await?;
    browser.assert_accessible("terminate dialog").await?;
    browser.press_escape().await?;

    browser.goto("/audit").await?;
    browser.find("[data-testid=audit-row]").await?;
    browser.assert_accessible("audit page").await?;

    browser.goto("/no-such-page").await?;
    browser.find("h1").await?;
    browser.assert_accessible("not-found page").await?;

    // The scan can fail: an image without a text alternative, and a button whose name
    // does not contain its text (as the copy-id buttons once were), are both found.
    browser
        .client
        .execute(
            "document.body.appendChild(document.createElement('img'));\
             const b = document.createElement('button');\
             b.textContent = '7f8a9b3c2d1e'; b.setAttribute('aria-label', 'Copy Sekuire ID');\
             document.body.appendChild(b);",
            vec![],
        )
        .await?;
    let found = browser.accessibility_violations().await?;
    for rule in ["image-alt", "label-content-name-mismatch"] {
        assert!(
            found.iter().any(|v| v.starts_with(rule)),
            "{rule}: {found:?}"
        );
    }
    Ok(())
}
