//! The agent page as a user works it: the steps of pausing, resuming, terminating and
//! reviewing, so a story reads as what the user does rather than which element is clicked.

use crate::Browser;
use anyhow::Result;

/// The runtime-state badge in the page's heading.
const RUNTIME_STATE: &str = ".agent-head [data-testid=runtime-status]";
const CONFIRM_NAME: &str = "[data-testid=dialog] [data-testid=confirm-name]";
const REASON: &str = "[data-testid=dialog] [data-testid=reason]";
const CONFIRM_TERMINATE: &str = "[data-testid=confirm-terminate]";
const TERMINATED: &str = "[data-testid=terminated-banner]";
const STALE: &str = "[data-testid=stale-notice]";

/// The agent page open in a browser.
pub struct AgentPage<'a> {
    browser: &'a Browser,
}

impl Browser {
    /// The agent page this browser shows.
    pub fn agent_page(&self) -> AgentPage<'_> {
        AgentPage { browser: self }
    }

    /// Goes to the page of the agent with this Sekuire ID.
    pub async fn open_agent_page(&self, id: &str) -> Result<AgentPage<'_>> {
        self.goto(&format!("/agents/{id}")).await?;
        Ok(self.agent_page())
    }
}

impl AgentPage<'_> {
    /// Pause…, a reason, Pause.
    pub async fn pause(&self, reason: &str) -> Result<()> {
        self.browser.click("[data-testid=pause]").await?;
        self.type_reason(reason).await?;
        self.browser.click("[data-testid=confirm-pause]").await
    }

    pub async fn resume(&self) -> Result<()> {
        self.browser.click("[data-testid=resume]").await
    }

    /// Terminate agent…, the agent's name typed out, a reason; not yet confirmed.
    pub async fn start_terminate(&self, typed_name: &str, reason: &str) -> Result<()> {
        self.open_terminate().await?;
        self.type_name(typed_name).await?;
        self.type_reason(reason).await
    }

    /// Terminate agent…, the name, a reason, Terminate.
    pub async fn terminate(&self, typed_name: &str, reason: &str) -> Result<()> {
        self.start_terminate(typed_name, reason).await?;
        self.confirm_terminate().await
    }

    /// Terminate agent…: the dialog opens, nothing typed yet.
    pub async fn open_terminate(&self) -> Result<()> {
        self.browser.click("[data-testid=terminate]").await
    }

    /// In the terminate dialog, the agent's name typed out (replacing what was there).
    pub async fn type_name(&self, typed_name: &str) -> Result<()> {
        self.browser.fill(CONFIRM_NAME, typed_name).await
    }

    /// What the terminate dialog's name field holds.
    pub async fn typed_name(&self) -> Result<Option<String>> {
        self.browser.value(CONFIRM_NAME).await
    }

    /// In the open dialog, the reason typed (replacing what was there).
    pub async fn type_reason(&self, reason: &str) -> Result<()> {
        self.browser.fill(REASON, reason).await
    }

    /// Whether the terminate dialog's Terminate button can be pressed.
    pub async fn can_confirm_terminate(&self) -> Result<bool> {
        Ok(self
            .browser
            .attr(CONFIRM_TERMINATE, "disabled")
            .await?
            .is_none())
    }

    /// The terminate dialog's Terminate button.
    pub async fn confirm_terminate(&self) -> Result<()> {
        self.browser.click(CONFIRM_TERMINATE).await
    }

    /// The link back to the fleet.
    pub async fn back_to_fleet(&self) -> Result<()> {
        self.browser.click("a.back").await
    }

    /// Waits until the page shows its facts (the agent has loaded).
    pub async fn until_loaded(&self) -> Result<()> {
        self.browser.find("[data-testid=agent-facts]").await?;
        Ok(())
    }

    /// Waits until the heading names the agent `name`.
    pub async fn until_title(&self, name: &str) -> Result<()> {
        self.browser
            .until_text("[data-testid=agent-title]", name)
            .await
    }

    /// Waits until the heading's runtime-state badge says `state`.
    pub async fn until_runtime_state(&self, state: &str) -> Result<()> {
        self.browser.until_text(RUNTIME_STATE, state).await
    }

    /// Waits until the facts give `reason` as the reason of the last change.
    pub async fn until_status_reason(&self, reason: &str) -> Result<()> {
        self.browser
            .until_text("[data-testid=status-reason]", reason)
            .await
    }

    /// Waits until the page offers Pause…
    pub async fn until_pause_offered(&self) -> Result<()> {
        self.browser.find("[data-testid=pause]").await?;
        Ok(())
    }

    /// Waits until the page offers Resume.
    pub async fn until_resume_offered(&self) -> Result<()> {
        self.browser.find("[data-testid=resume]").await?;
        Ok(())
    }

    /// Whether the page offers Pause or Resume (the actions row).
    pub async fn offers_actions(&self) -> Result<bool> {
        Ok(self.browser.count("[data-testid=agent-actions]").await? > 0)
    }

    /// Whether the page offers Terminate agent…
    pub async fn offers_terminate(&self) -> Result<bool> {
        Ok(self.browser.count("[data-testid=terminate]").await? > 0)
    }

    /// Waits until the terminated banner shows `text`.
    pub async fn until_terminated_banner(&self, text: &str) -> Result<()> {
        self.browser.until_text(TERMINATED, text).await
    }

    /// The terminated banner: who terminated the agent, when, and why.
    pub async fn terminated_banner(&self) -> Result<String> {
        self.browser.text(TERMINATED).await
    }

    /// Waits until the notice that the agent changed under the user shows `text`.
    pub async fn until_stale_notice(&self, text: &str) -> Result<()> {
        self.browser.until_text(STALE, text).await
    }

    pub async fn stale_notice(&self) -> Result<String> {
        self.browser.text(STALE).await
    }

    /// Waits until the history tab shows the history section (its timeline, or a note
    /// that there is none yet).
    pub async fn until_history_section(&self) -> Result<()> {
        self.browser
            .find("[data-testid=agent-audit], .timeline, .muted")
            .await?;
        Ok(())
    }

    /// Waits until the agent's audit timeline shows `text`.
    pub async fn until_history_shows(&self, text: &str) -> Result<()> {
        self.browser
            .until_text("[data-testid=agent-audit]", text)
            .await
    }
}
