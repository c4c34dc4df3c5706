//! The agent page as a user works it: the steps of pausing, resuming, terminating and
//! reviewing, so a story reads as what the user does rather than which element is clicked.

use crate::Browser;
use anyhow::Result;

/// The agent page open in a browser.
pub struct AgentPage<'a> {
    browser: &'a Browser,
}

impl Browser {
    /// The agent page this browser shows.
    pub fn agent_page(&self) -> AgentPage<'_> {
        AgentPage { browser: self }
    }
}

impl AgentPage<'_> {
    /// Pause…, a reason, Pause.
    pub async fn pause(&self, reason: &str) -> Result<()> {
        self.browser.click("[data-testid=pause]").await?;
        self.browser
            .fill("[data-testid=dialog] [data-testid=reason]", reason)
            .await?;
        self.browser.click("[data-testid=confirm-pause]").await
    }

    pub async fn resume(&self) -> Result<()> {
        self.browser.click("[data-testid=resume]").await
    }

    /// Terminate agent…, the agent's name typed out, a reason; not yet confirmed.
    pub async fn start_terminate(&self, typed_name: &str, reason: &str) -> Result<()> {
        self.browser.click("[data-testid=terminate]").await?;
        self.browser
            .fill(
                "[data-testid=dialog] [data-testid=confirm-name]",
                typed_name,
            )
            .await?;
        self.browser
            .fill("[data-testid=dialog] [data-testid=reason]", reason)
            .await
    }

    /// Terminate agent…, the name, a reason, Terminate.
    pub async fn terminate(&self, typed_name: &str, reason: &str) -> Result<()> {
        self.start_terminate(typed_name, reason).await?;
        self.browser.click("[data-testid=confirm-terminate]").await
    }
}
