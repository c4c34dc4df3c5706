//! WCAG 2.1 A and AA checks in the real browser: axe-core (npm, pinned and installed by
//! `cargo xtask setup`; `AXE_CORE` names its `axe.min.js`) injected into the page as it is.

use crate::Browser;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// The rules axe runs: everything tagged WCAG 2.0/2.1, levels A and AA, including
/// `label-content-name-mismatch` (WCAG 2.5.3), which axe ships as experimental and off.
const SCAN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    rules: { "label-content-name-mismatch": { enabled: true } },
  })
  .then(result => done(result.violations.map(v =>
      `${v.id} (${v.nodes.length} nodes): ${v.help}; e.g. ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | ")}`)))
  .catch(error => done([`axe failed: ${error}`]));
"#;

fn axe_source() -> Result<String> {
    let path = std::env::var_os("AXE_CORE")
        .map(PathBuf::from)
        .context("AXE_CORE is not set; run the suite with `cargo xtask test`")?;
    std::fs::read_to_string(&path)
        .with_context(|| format!("reading {}; run `cargo xtask setup`", path.display()))
}

impl Browser {
    /// Picks a theme with the header's theme picker, as a user does.
    pub async fn use_theme(&self, theme: &str) -> Result<()> {
        self.select("[data-testid=theme]", theme).await
    }

    /// What axe finds wrong with the page as it is now.
    pub async fn accessibility_violations(&self) -> Result<Vec<String>> {
        let injected = format!("{}\nreturn typeof axe;", axe_source()?);
        let loaded = self.client.execute(&injected, vec![]).await?;
        if loaded != "object" {
            bail!("axe-core did not load into the page ({loaded})");
        }
        let found = self.client.execute_async(SCAN, vec![]).await?;
        Ok(serde_json::from_value(found)?)
    }

    /// Fails unless the page as it is now passes axe in the light and the dark theme;
    /// `what` names the page in the report. Leaves the light theme on.
    pub async fn assert_accessible(&self, what: &str) -> Result<()> {
        let mut report = Vec::new();
        for theme in ["dark", "light"] {
            self.use_theme(theme).await?;
            for violation in self.accessibility_violations().await? {
                report.push(format!("{what}, {theme} theme: {violation}"));
            }
        }
        if !report.is_empty() {
            bail!("accessibility violations:\n{}", report.join("\n"));
        }
        Ok(())
    }
}
