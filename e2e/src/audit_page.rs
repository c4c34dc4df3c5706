//! The audit page as a user reads it: the newest entry first.

use crate::Browser;
use anyhow::Result;

const NEWEST: &str = "[data-testid=audit-row]";

/// The audit page open in a browser.
pub struct AuditPage<'a> {
    browser: &'a Browser,
}

impl Browser {
    /// The audit page this browser shows.
    pub fn audit_page(&self) -> AuditPage<'_> {
        AuditPage { browser: self }
    }

    /// Goes to the audit page (`/audit`).
    pub async fn open_audit_page(&self) -> Result<AuditPage<'_>> {
        self.goto("/audit").await?;
        Ok(self.audit_page())
    }
}

impl AuditPage<'_> {
    /// Waits until the page lists an entry.
    pub async fn until_entries(&self) -> Result<()> {
        self.browser.find(NEWEST).await?;
        Ok(())
    }

    /// Waits until the newest entry's actor is `name`.
    pub async fn until_newest_actor(&self, name: &str) -> Result<()> {
        self.browser
            .until_text(&format!("{NEWEST} [data-testid=audit-actor]"), name)
            .await
    }

    /// Waits until the newest entry's reason shows `reason`.
    pub async fn until_newest_reason(&self, reason: &str) -> Result<()> {
        self.browser
            .until_text(&format!("{NEWEST} [data-testid=audit-reason]"), reason)
            .await
    }

    /// The newest entry's reason.
    pub async fn newest_reason(&self) -> Result<String> {
        self.browser
            .text(&format!("{NEWEST} [data-testid=audit-reason]"))
            .await
    }
}
