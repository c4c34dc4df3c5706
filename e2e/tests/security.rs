//! The dashboard under the registry's Content-Security-Policy: every page works, nothing
//! is blocked, and the policy allows no inline script.

// A panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use anyhow::Result;
use fleet_e2e::{Driver, Fleet, Registry, Seed};

#[tokio::test]
async fn every_page_runs_under_a_strict_content_security_policy() -> Result<()> {
    let fleet = Fleet::prepare(&[Seed::active("csp-reconciler")], 60).await?;
    let registry = Registry::start(fleet.db(), None, &[])?;

    let shell = reqwest::get(format!("{}/agents", registry.base)).await?;
    let policy = shell.headers()["content-security-policy"]
        .to_str()?
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let html = shell.text().await?;
    assert!(
        !html.contains("<script>") && !html.contains("<script type=\"module\">"),
        "the shell has no inline script: {html}"
    );

    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(&fleet.admin, "/agents").await?;
    browser
        .until("the fleet shows", || async {
            Ok(browser.count("tr[data-testid=agent-row]").await? == 50)
        })
        .await?;
    // Reputation bars are sized through the CSSOM, which the policy allows.
    let width: String = browser
        .client
        .execute(
            "return document.querySelector('.bar-fill').style.width",
            vec![],
        )
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(width.ends_with('%'), "bar width {width:?}");

    browser.goto(&format!("/agents/{}", fleet.ids[0])).await?;
    browser.click("[data-testid=terminate]").await?;
    browser.find("[data-testid=confirm-terminate]").await?;
    browser.goto("/audit").await?;
    browser.find("[data-testid=export-csv]").await?;

    let blocked = browser.csp_violations().await?;
    assert!(blocked.is_empty(), "the policy blocked: {blocked:#?}");

    // The check sees what the policy blocks: an inline style attribute is refused.
    browser
        .client
        .execute("document.body.setAttribute('style', 'color: red')", vec![])
        .await?;
    assert!(!browser.csp_violations().await?.is_empty());
    Ok(())
}
