//! Whole-system test harness: the real `sekuire-registry` binary on a temporary SQLite
//! file, serving the release build of the dashboard, driven by Chromium through
//! chromedriver. Nothing is mocked.
//!
//! Needs `dist/` (built by `cargo xtask dist`), the registry binary (`cargo build -p
//! fleet-registry`), and `chromedriver` (`CHROMEDRIVER`, else `/usr/bin/chromedriver`).

mod accessibility;
mod agent_page;
mod audit_page;
mod fleet_page;
pub mod sekuire;
pub mod standard;
mod story;

pub use agent_page::AgentPage;
pub use audit_page::AuditPage;
pub use fleet_page::{FleetPage, FleetRow};
pub use story::{agent_path, screenshot_dir, Installation, Story};

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use fleet_protocol::{Role, RuntimeStatus, VerificationStatus};
use fleet_registry::store::{NewAgent, Store};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a page may take to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(10);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The built dashboard: `FLEET_DIST`, else `<workspace>/dist`.
pub fn dist_dir() -> Result<PathBuf> {
    let dist = std::env::var_os("FLEET_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("dist"));
    if !dist.join("index.html").is_file() {
        bail!(
            "{} has no built dashboard; run `cargo xtask dist` first",
            dist.display()
        );
    }
    Ok(dist)
}

/// A binary of the workspace the tests run: `$env`, else the debug build of `name`, which
/// `cargo build -p package` makes.
fn built_binary(env: &str, name: &str, package: &str) -> Result<PathBuf> {
    let bin = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug").join(name));
    if !bin.is_file() {
        bail!(
            "{} is missing; run `cargo build -p {package}` first",
            bin.display()
        );
    }
    Ok(bin)
}

fn registry_binary() -> Result<PathBuf> {
    built_binary("SEKUIRE_REGISTRY_BIN", "sekuire-registry", "fleet-registry")
}

/// An agent a test registers before the registry starts.
pub struct Seed {
    pub name: &'static str,
    pub status: RuntimeStatus,
    pub reputation: u8,
}

impl Seed {
    pub fn new(name: &'static str, status: RuntimeStatus, reputation: u8) -> Seed {
        Seed {
            name,
            status,
            reputation,
        }
    }

    pub fn active(name: &'static str) -> Seed {
        Seed::new(name, RuntimeStatus::Active, 80)
    }
}

/// A registry database prepared for a test: keys for each role and some agents.
pub struct Fleet {
    pub dir: TempDir,
    pub admin: String,
    pub operator: String,
    pub viewer: String,
    /// Sekuire IDs of the seeded agents, in seed order.
    pub ids: Vec<String>,
}

impl Fleet {
    /// A fresh database with the named agents (ids `e2e000000001`, …) and `filler`
    /// generated agents around them.
    pub async fn prepare(seeds: &[Seed], filler: usize) -> Result<Fleet> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&dir.path().join("registry.db")).await?;
        let admin = store.create_key("alice", Role::Admin, "default").await?;
        let operator = store.create_key("oscar", Role::Operator, "default").await?;
        let viewer = store.create_key("vera", Role::Viewer, "default").await?;
        let now = fleet_registry::clock::now_ms();
        let agents: Vec<NewAgent> = seeds
            .iter()
            .enumerate()
            .map(|(i, seed)| NewAgent {
                sekuire_id: format!("e2e{:09x}", i + 1),
                name: seed.name.to_owned(),
                version: "1.4.2".into(),
                description: "Seeded by the end-to-end tests.".into(),
                runtime_status: seed.status,
                verification_status: VerificationStatus::Verified,
                reputation_score: seed.reputation,
                last_heartbeat_at: Some(now - 5_000),
                created_at: now - 86_400_000,
            })
            .collect();
        store.insert_agents(&agents).await?;
        if filler > 0 {
            fleet_registry::demo::seed_fleet(&store, filler, 7).await?;
        }
        Ok(Fleet {
            dir,
            admin,
            operator,
            viewer,
            ids: agents.into_iter().map(|a| a.sekuire_id).collect(),
        })
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("registry.db")
    }
}

/// The real registry binary, serving the dashboard.
pub struct Registry {
    child: Child,
    pub base: String,
    /// Everything it printed on stdout.
    pub printed: Vec<String>,
}

impl Registry {
    /// Starts on a free port (or `port`), returns once it is listening.
    pub fn start(db: &Path, port: Option<u16>, extra_args: &[&str]) -> Result<Registry> {
        let addr = format!("127.0.0.1:{}", port.unwrap_or(0));
        let mut command = Command::new(registry_binary()?);
        command
            .args(["serve", "--addr", &addr, "--rate-limit", "0", "--db"])
            .arg(db)
            .arg("--dist")
            .arg(dist_dir()?)
            .args(extra_args);
        // The demo prints its sign-in link after the listening line.
        let demo = extra_args.contains(&"--demo");
        Registry::listening(command, |line| !demo || line.contains("/#key="))
    }

    /// `sekuire-registry proxy`: the dashboard served here, `/api/v1` forwarded to
    /// `upstream`.
    pub fn proxy(upstream: &str) -> Result<Registry> {
        let mut command = Command::new(registry_binary()?);
        command
            .args([
                "proxy",
                "--addr",
                "127.0.0.1:0",
                "--upstream",
                upstream,
                "--dist",
            ])
            .arg(dist_dir()?);
        Registry::listening(command, |_| true)
    }

    /// Spawns `command` and returns once it printed its listening line and then a line
    /// for which `ready` holds.
    pub fn listening(mut command: Command, ready: impl Fn(&str) -> bool) -> Result<Registry> {
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut printed = Vec::new();
        let mut base = None;
        let mut is_ready = false;
        while base.is_none() || !is_ready {
            let line = lines
                .next()
                .ok_or_else(|| anyhow!("registry exited before listening: {printed:?}"))??;
            if let Some(rest) = line.strip_prefix("Registry listening on ") {
                base = rest.split_whitespace().next().map(str::to_owned);
            }
            is_ready = base.is_some() && ready(&line);
            printed.push(line);
        }
        // Keep draining stdout so the registry never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Registry {
            child,
            base: base.ok_or_else(|| anyhow!("no listening line in {printed:?}"))?,
            printed,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default()
    }

    /// Stops the process (as an operator's Ctrl-C would not be graceful enough to test
    /// an outage, it is killed).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A direct API call, as another client (Sekuire's CLI, a second operator) would make.
    pub async fn post(
        &self,
        key: &str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("X-API-Key", key)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        Ok(body)
    }

    pub async fn get(&self, key: &str, path: &str) -> Result<(u16, serde_json::Value)> {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .header("X-API-Key", key)
            .send()
            .await?;
        Ok((response.status().as_u16(), response.json().await?))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A chromedriver process; each [`Browser`] is a session of it.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    pub fn start() -> Result<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        // Its own process group, so that dropping the driver also ends the Chromium
        // processes it started (killing chromedriver alone orphans them, still running).
        let child = Command::new(&path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {path}"))?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > WAIT {
                bail!("chromedriver did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Driver { child, port })
    }

    /// A new browser window with its own empty profile.
    pub async fn browser(&self, base: &str) -> Result<Browser> {
        let profile = tempfile::tempdir()?;
        let mut capabilities = serde_json::Map::new();
        // The console, for the Content-Security-Policy reports (`Browser::csp_violations`).
        capabilities.insert(
            "goog:loggingPrefs".into(),
            serde_json::json!({ "browser": "ALL" }),
        );
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .context("opening a Chromium session")?;
        Ok(Browser {
            client,
            base: base.to_owned(),
            _profile: profile,
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window, with the page-object helpers the stories use.
pub struct Browser {
    pub client: Client,
    pub base: String,
    _profile: TempDir,
}

/// chromedriver's console log of the page (`POST /session/{id}/se/log`), which the W3C
/// protocol lacks.
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

impl Browser {
    /// Console messages since the last call that report a Content-Security-Policy
    /// violation: anything the policy blocked.
    pub async fn csp_violations(&self) -> Result<Vec<String>> {
        let entries = self.client.issue_cmd(ConsoleLog).await?;
        Ok(entries
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry["message"].as_str())
            .filter(|message| message.contains("Content Security Policy"))
            .map(str::to_owned)
            .collect())
    }

    pub async fn goto(&self, path: &str) -> Result<()> {
        self.client.goto(&format!("{}{path}", self.base)).await?;
        Ok(())
    }

    /// Opens the dashboard signed in with `key` through a `#key=` link.
    pub async fn sign_in(&self, key: &str, path: &str) -> Result<()> {
        self.goto(&format!("{path}#key={key}")).await?;
        self.find("[data-testid=whoami]").await?;
        Ok(())
    }

    pub async fn find(&self, css: &str) -> Result<Element> {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css}"))
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        Ok(self.client.find_all(Locator::Css(css)).await?)
    }

    pub async fn count(&self, css: &str) -> Result<usize> {
        Ok(self.find_all(css).await?.len())
    }

    /// Clicks the element at `css`, first brought to the middle of the screen, as a person
    /// scrolls to a button (the sticky header would otherwise cover one near the top).
    pub async fn click(&self, css: &str) -> Result<()> {
        let element = self.find(css).await?;
        let argument = serde_json::to_value(&element)?;
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'center'});",
                vec![argument],
            )
            .await?;
        element.click().await?;
        Ok(())
    }

    /// Replaces the text of an input the way a user does: select all, delete, type.
    /// (WebDriver's own clear fires no `input` event, so a page would never see it.)
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        const CONTROL: char = '\u{e009}';
        const BACKSPACE: char = '\u{e003}';
        const RELEASE_MODIFIERS: char = '\u{e000}';
        let input = self.find(css).await?;
        input
            .send_keys(&format!("{CONTROL}a{RELEASE_MODIFIERS}{BACKSPACE}{text}"))
            .await?;
        Ok(())
    }

    pub async fn text(&self, css: &str) -> Result<String> {
        Ok(self.find(css).await?.text().await?)
    }

    pub async fn url(&self) -> Result<String> {
        Ok(self.client.current_url().await?.to_string())
    }

    /// Waits until `check` holds, retrying for [`WAIT`]; the error names `what`.
    pub async fn until<F, Fut>(&self, what: &str, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        let started = Instant::now();
        loop {
            if check().await.unwrap_or(false) {
                return Ok(());
            }
            if started.elapsed() > WAIT {
                bail!("timed out waiting until {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element at `css` has text containing `needle`.
    pub async fn until_text(&self, css: &str, needle: &str) -> Result<()> {
        let what = format!("{css} shows {needle:?}");
        self.until(&what, || async {
            Ok(self.text(css).await?.contains(needle))
        })
        .await
    }

    /// The row of the fleet table for the agent with this id.
    pub fn row(id: &str) -> String {
        format!("tr[data-testid=agent-row][data-id='{id}']")
    }

    /// A screenshot with the element at `css` scrolled to the top of the window.
    pub async fn screenshot_of(&self, css: &str, path: &Path) -> Result<()> {
        let element = self.find(css).await?;
        let argument = serde_json::to_value(&element)?;
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -70);",
                vec![argument],
            )
            .await?;
        self.screenshot(path).await
    }

    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = self.client.screenshot().await?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Types `keys` as real key presses to whatever has focus (the page, if nothing).
    pub async fn press_keys(&self, keys: &str) -> Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    pub async fn press_escape(&self) -> Result<()> {
        let active = self.client.active_element().await?;
        active.send_keys("\u{e00c}").await?;
        Ok(())
    }

    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}
