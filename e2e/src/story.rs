//! The fixture a story starts from, so that a story is only what the user does: a prepared
//! fleet, the real registry on it, Chromium with the dashboard, and what the stories ask
//! of the registry directly (an agent's state as the API reports it, another client's
//! pause, an installation's heartbeat). Then what every page of the dashboard shows (the
//! header, the toasts, a dialog, the sign-in page), on [`Browser`].

use crate::{Browser, Driver, Fleet, Registry, Seed};
use anyhow::Result;
use fleet_protocol::Role;
use serde_json::{json, Value};
use std::path::PathBuf;

/// A story's world. Its fields drop in order: the window, chromedriver (with its
/// Chromium), the registry, then the fleet's database.
pub struct Story {
    pub browser: Browser,
    pub driver: Driver,
    pub registry: Registry,
    pub fleet: Fleet,
    /// The extra arguments the registry was started with, for a restart.
    registry_args: Vec<String>,
}

impl Story {
    /// The seeded agents (and `filler` generated ones), the registry, and a browser window
    /// on it, not yet signed in.
    pub async fn new(seeds: &[Seed], filler: usize) -> Result<Story> {
        Story::with_registry_args(seeds, filler, &[]).await
    }

    /// As [`Story::new`], with the registry started with `args` too (e.g. `--demo`).
    pub async fn with_registry_args(seeds: &[Seed], filler: usize, args: &[&str]) -> Result<Story> {
        let fleet = Fleet::prepare(seeds, filler).await?;
        let registry = Registry::start(fleet.db(), None, args)?;
        let driver = Driver::start()?;
        let browser = driver.browser(&registry.base).await?;
        Ok(Story {
            browser,
            driver,
            registry,
            fleet,
            registry_args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        })
    }

    /// The Sekuire ID of the `i`th seeded agent.
    pub fn id(&self, i: usize) -> &str {
        &self.fleet.ids[i]
    }

    /// The Sekuire IDs of the seeded agents, in seed order.
    pub fn ids(&self) -> &[String] {
        &self.fleet.ids
    }

    /// The fleet's API key for `role`.
    pub fn key(&self, role: Role) -> &str {
        match role {
            Role::Admin => &self.fleet.admin,
            Role::Operator => &self.fleet.operator,
            Role::Viewer => &self.fleet.viewer,
        }
    }

    /// The window opened at `path`, signed in as `role` through a `#key=` link.
    pub async fn sign_in(&self, role: Role, path: &str) -> Result<&Browser> {
        self.browser.sign_in(self.key(role), path).await?;
        Ok(&self.browser)
    }

    /// A second window, signed in as `role` at `path`: another person at the dashboard.
    pub async fn another_browser(&self, role: Role, path: &str) -> Result<Browser> {
        let browser = self.driver.browser(&self.registry.base).await?;
        browser.sign_in(self.key(role), path).await?;
        Ok(browser)
    }

    /// The agent's runtime state as the registry reports it (read as the viewer).
    pub async fn runtime_of(&self, id: &str) -> Result<String> {
        let (_, agent) = self
            .registry
            .get(self.key(Role::Viewer), &format!("/api/v1/agents/{id}"))
            .await?;
        Ok(agent["runtime_status"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The agent's audit entries as the registry reports them, newest first.
    pub async fn audit_of(&self, id: &str) -> Result<Vec<Value>> {
        let (_, audit) = self
            .registry
            .get(
                self.key(Role::Viewer),
                &format!("/api/v1/agents/{id}/audit"),
            )
            .await?;
        Ok(audit["entries"].as_array().cloned().unwrap_or_default())
    }

    /// A pause by another client of the API (the CLI, a second operator), as `role`.
    pub async fn api_pause(&self, role: Role, id: &str, reason: &str) -> Result<()> {
        self.registry
            .post(
                self.key(role),
                &format!("/api/v1/agents/{id}/pause"),
                json!({ "reason": reason }),
            )
            .await?;
        Ok(())
    }

    /// A resume by another client of the API, as `role`; the error carries the status.
    pub async fn api_resume(&self, role: Role, id: &str) -> Result<Value> {
        self.registry
            .post(
                self.key(role),
                &format!("/api/v1/agents/{id}/resume"),
                json!({}),
            )
            .await
    }

    /// Revokes the key of `role` in the database, behind the registry's back; whether a
    /// key was revoked.
    pub async fn revoke_key(&self, role: Role) -> Result<bool> {
        let name = match role {
            Role::Admin => "alice",
            Role::Operator => "oscar",
            Role::Viewer => "vera",
        };
        let store = fleet_registry::store::Store::open(&self.fleet.db()).await?;
        Ok(store.revoke_key(name).await?)
    }

    /// An installation of the agent, bootstrapped with an install token the admin made, as
    /// a runtime does when it starts.
    pub async fn install(&self, id: &str) -> Result<Installation> {
        let token = self
            .registry
            .post(
                self.key(Role::Admin),
                "/api/v1/workspaces/default/install-tokens",
                json!({ "sekuire_id": id }),
            )
            .await?;
        let installation = self
            .registry
            .post(
                "",
                "/api/v1/installations/bootstrap",
                json!({ "install_token": token["token"] }),
            )
            .await?;
        let field = |name: &str| installation[name].as_str().unwrap_or_default().to_owned();
        Ok(Installation {
            base: self.registry.base.clone(),
            id: field("installation_id"),
            token: field("runtime_token"),
        })
    }

    /// Kills the registry, as an outage would.
    pub fn stop_registry(&mut self) {
        self.registry.stop();
    }

    /// Starts the registry again on the same port and database, with the same arguments.
    pub fn restart_registry(&mut self) -> Result<()> {
        let port = self.registry.port();
        let args: Vec<&str> = self.registry_args.iter().map(String::as_str).collect();
        self.registry = Registry::start(self.fleet.db(), Some(port), &args)?;
        Ok(())
    }
}

/// A bootstrapped installation of an agent, heartbeating as its runtime would.
pub struct Installation {
    base: String,
    id: String,
    token: String,
}

impl Installation {
    /// One lease (a heartbeat), as the runtime sends it.
    pub async fn lease(&self) -> Result<()> {
        reqwest::Client::new()
            .post(format!(
                "{}/api/v1/installations/{}/lease",
                self.base, self.id
            ))
            .bearer_auth(&self.token)
            .json(&json!({ "status": "running" }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

/// The address of the agent page of `id`.
pub fn agent_path(id: &str) -> String {
    format!("/agents/{id}")
}

/// Where the stories write the README's screenshots (`docs/screenshots/`), created.
pub fn screenshot_dir() -> Result<PathBuf> {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&out)?;
    Ok(out)
}

/// What every page shows: the header, the toasts, a dialog; and the sign-in page.
impl Browser {
    /// Who the header says is signed in.
    pub async fn who_am_i(&self) -> Result<String> {
        self.text("[data-testid=whoami]").await
    }

    pub async fn until_signed_in_as(&self, name: &str) -> Result<()> {
        self.until_text("[data-testid=whoami]", name).await
    }

    /// Waits until the address bar holds `needle`.
    pub async fn until_url_has(&self, needle: &str) -> Result<()> {
        let what = format!("the address has {needle:?}");
        self.until(&what, || async { Ok(self.url().await?.contains(needle)) })
            .await
    }

    /// Waits until the address bar ends with `path`.
    pub async fn until_url_ends_with(&self, path: &str) -> Result<()> {
        let what = format!("the address ends with {path:?}");
        self.until(&what, || async { Ok(self.url().await?.ends_with(path)) })
            .await
    }

    /// Whether the page's address (`window.location`, what history keeps) holds `needle`;
    /// true if the page cannot tell.
    pub async fn location_has(&self, needle: &str) -> Result<bool> {
        let script = format!("return window.location.href.includes({needle:?})");
        let has = self.client.execute(&script, vec![]).await?;
        Ok(has.as_bool().unwrap_or(true))
    }

    pub async fn until_toast(&self, message: &str) -> Result<()> {
        self.until_text("[data-testid=toasts]", message).await
    }

    /// Waits until the header's live updates say `state` ("Live", "Live off", …).
    pub async fn until_live(&self, state: &str) -> Result<()> {
        self.until_text("[data-testid=live-state]", state).await
    }

    /// Unticks the header's live updates, so the page keeps what it loaded.
    pub async fn turn_live_updates_off(&self) -> Result<()> {
        self.click("[data-testid=live-toggle]").await?;
        self.until_live("Live off").await
    }

    /// Waits for the banner that says the registry cannot be reached.
    pub async fn until_connection_banner(&self) -> Result<()> {
        self.find("[data-testid=connection-banner]").await?;
        Ok(())
    }

    pub async fn until_no_connection_banner(&self) -> Result<()> {
        self.until("the banner goes once the registry is back", || async {
            Ok(self.count("[data-testid=connection-banner]").await? == 0)
        })
        .await
    }

    /// The text of the open dialog.
    pub async fn dialog_text(&self) -> Result<String> {
        self.text("[data-testid=dialog]").await
    }

    pub async fn until_dialog_closed(&self, what: &str) -> Result<()> {
        self.until(what, || async {
            Ok(self.count("[data-testid=dialog]").await? == 0)
        })
        .await
    }

    /// Waits until the keyboard-shortcut help (a `role=dialog`) shows `text`.
    pub async fn until_help_shows(&self, text: &str) -> Result<()> {
        self.until_text("[role=dialog]", text).await
    }

    pub async fn until_help_closed(&self, what: &str) -> Result<()> {
        self.until(what, || async {
            Ok(self.count("[role=dialog]").await? == 0)
        })
        .await
    }

    /// The `id` of the element with the keyboard focus.
    pub async fn focused_id(&self) -> Result<Value> {
        Ok(self
            .client
            .execute("return document.activeElement.id", vec![])
            .await?)
    }

    /// Takes the focus off whatever has it, as a click on the page's background does.
    pub async fn blur(&self) -> Result<()> {
        self.client
            .execute("document.activeElement.blur()", vec![])
            .await?;
        Ok(())
    }

    /// How many elements match `css`, counted by a script in the page (which an open
    /// `alert` would block).
    pub async fn count_by_script(&self, css: &str) -> Result<u64> {
        let script = format!("return document.querySelectorAll({css:?}).length");
        let count = self.client.execute(&script, vec![]).await?;
        count
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("not a count: {count}"))
    }

    /// Remembers `theme` as the one picked, for the next page load.
    pub async fn remember_theme(&self, theme: &str) -> Result<()> {
        self.client
            .execute(
                &format!("localStorage.setItem('sekuire.theme', '{theme}')"),
                vec![],
            )
            .await?;
        Ok(())
    }

    /// Waits until the sign-in page says the key was rejected.
    pub async fn until_key_rejected(&self) -> Result<()> {
        self.until_text("[data-testid=rejected]", "rejected").await
    }

    /// On the sign-in page: the key typed in, Connect.
    pub async fn connect_with(&self, key: &str) -> Result<()> {
        self.fill("[data-testid=api-key]", key).await?;
        self.click("[data-testid=connect]").await
    }
}
