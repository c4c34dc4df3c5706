//! The fleet page as a user works it: searching, filtering, reading a row, acting on one
//! row or on a selection, so a story reads as what the user does rather than which
//! element is clicked.

use crate::Browser;
use anyhow::Result;

/// Every row of the fleet table.
const ROWS: &str = "tr[data-testid=agent-row]";

/// The fleet page open in a browser.
pub struct FleetPage<'a> {
    browser: &'a Browser,
}

/// One row of the fleet table.
pub struct FleetRow<'a> {
    browser: &'a Browser,
    css: String,
}

impl Browser {
    /// The fleet page this browser shows.
    pub fn fleet_page(&self) -> FleetPage<'_> {
        FleetPage { browser: self }
    }

    /// Goes to the fleet page (`/agents`).
    pub async fn open_fleet_page(&self) -> Result<FleetPage<'_>> {
        self.goto("/agents").await?;
        Ok(self.fleet_page())
    }
}

impl<'a> FleetPage<'a> {
    /// Waits until the page has loaded its summary strip.
    pub async fn until_loaded(&self) -> Result<()> {
        self.browser.find("[data-testid=summary]").await?;
        Ok(())
    }

    /// How many agents the table shows now.
    pub async fn rows(&self) -> Result<usize> {
        self.browser.count(ROWS).await
    }

    /// Waits until the table shows `count` rows.
    pub async fn until_rows(&self, count: usize) -> Result<()> {
        let what = format!("{count} agent rows show");
        self.browser
            .until(&what, || async { Ok(self.rows().await? == count) })
            .await
    }

    /// Waits until the table shows at least one row.
    pub async fn until_any_row(&self) -> Result<()> {
        self.browser.find(ROWS).await?;
        Ok(())
    }

    /// The row of the agent with this Sekuire ID.
    pub fn row(&self, id: &str) -> FleetRow<'a> {
        FleetRow {
            browser: self.browser,
            css: Browser::row(id),
        }
    }

    /// The table's first row.
    pub fn first_row(&self) -> FleetRow<'a> {
        FleetRow {
            browser: self.browser,
            css: format!("{ROWS}:first-child"),
        }
    }

    /// Types `text` into the search box (replacing what was there).
    pub async fn search(&self, text: &str) -> Result<()> {
        self.browser.fill("[data-testid=search]", text).await
    }

    /// What the search box holds.
    pub async fn search_text(&self) -> Result<Option<String>> {
        self.browser.value("[data-testid=search]").await
    }

    /// Toggles the chip `value` of the filter `filter` ("runtime", …).
    pub async fn toggle_chip(&self, filter: &str, value: &str) -> Result<()> {
        self.browser
            .click(&format!(
                "[data-testid=filter-{filter}] button[data-value={value}]"
            ))
            .await
    }

    /// The summary strip's text (the totals by state).
    pub async fn summary(&self) -> Result<String> {
        self.browser.text("[data-testid=summary]").await
    }

    /// How many rows offer a Pause button.
    pub async fn pause_buttons(&self) -> Result<usize> {
        self.browser.count("[data-testid=row-pause]").await
    }

    /// Ticks the rows of these agents.
    pub async fn select(&self, ids: &[String]) -> Result<()> {
        for id in ids {
            self.row(id).select().await?;
        }
        Ok(())
    }

    /// Waits until the bulk bar says how many rows are selected.
    pub async fn until_selected(&self, count: usize) -> Result<()> {
        self.browser
            .until_text("[data-testid=bulk-bar]", &format!("{count} selected"))
            .await
    }

    /// Pause selected: opens the confirmation and returns what it says.
    pub async fn bulk_pause(&self) -> Result<String> {
        self.browser.click("[data-testid=bulk-pause]").await?;
        self.browser.dialog_text().await
    }

    /// Confirms the bulk action the dialog offers.
    pub async fn confirm_bulk(&self) -> Result<()> {
        self.browser.click("[data-testid=confirm-bulk]").await
    }

    /// Waits until the bulk action lists `count` outcomes, and returns them.
    pub async fn bulk_outcomes(&self, count: usize) -> Result<String> {
        let what = format!("{count} outcomes are listed");
        self.browser
            .until(&what, || async {
                Ok(self.browser.count("[data-testid=bulk-result]").await? == count)
            })
            .await?;
        self.browser.text("[data-testid=bulk-results]").await
    }
}

impl FleetRow<'_> {
    fn cell(&self, testid: &str) -> String {
        format!("{} [data-testid={testid}]", self.css)
    }

    /// Waits until the row shows.
    pub async fn find(&self) -> Result<()> {
        self.browser.find(&self.css).await?;
        Ok(())
    }

    /// Whether the row shows now.
    pub async fn is_shown(&self) -> Result<bool> {
        Ok(self.browser.count(&self.css).await? == 1)
    }

    /// The agent's name as the row shows it.
    pub async fn name(&self) -> Result<String> {
        self.browser.text(&self.cell("agent-name")).await
    }

    /// The row's runtime-state badge.
    pub async fn runtime_state(&self) -> Result<String> {
        self.browser.text(&self.cell("runtime-status")).await
    }

    pub async fn until_runtime_state(&self, state: &str) -> Result<()> {
        self.browser
            .until_text(&self.cell("runtime-status"), state)
            .await
    }

    /// The row's health badge.
    pub async fn health(&self) -> Result<String> {
        self.browser.text(&self.cell("health")).await
    }

    pub async fn reputation(&self) -> Result<String> {
        self.browser.text(&self.cell("reputation")).await
    }

    /// Waits until the health cell's last heartbeat reads `ago` ("just now", "s ago").
    pub async fn until_heartbeat(&self, ago: &str) -> Result<()> {
        self.browser
            .until_text(&format!("{} .health", self.css), ago)
            .await
    }

    /// Ticks the row's checkbox.
    pub async fn select(&self) -> Result<()> {
        self.browser
            .click(&format!("{} input[type=checkbox]", self.css))
            .await
    }

    /// Waits until the row offers its Pause button.
    pub async fn until_pause_offered(&self) -> Result<()> {
        self.browser.find(&self.cell("row-pause")).await?;
        Ok(())
    }

    /// The row's Pause button: one click, no reason asked.
    pub async fn pause(&self) -> Result<()> {
        self.browser.click(&self.cell("row-pause")).await
    }

    /// Puts the keyboard focus on the row's Pause button.
    pub async fn focus_pause(&self) -> Result<()> {
        let script = format!(
            "document.querySelector(\"{}\").focus()",
            self.cell("row-pause")
        );
        self.browser.client.execute(&script, vec![]).await?;
        Ok(())
    }

    /// Whether the row's Pause button has the keyboard focus.
    pub async fn pause_has_focus(&self) -> Result<bool> {
        let script = format!(
            "return document.activeElement === document.querySelector(\"{}\")",
            self.cell("row-pause")
        );
        let focused = self.browser.client.execute(&script, vec![]).await?;
        Ok(focused == serde_json::json!(true))
    }
}
