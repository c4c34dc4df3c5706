//! Whole-system test harness: the real `sekuire-registry` binary on a temporary SQLite
//! file, serving the release build of the dashboard, driven by Chromium through
//! chromedriver. Nothing is mocked.
//!
//! Needs `dist/` (built by `cargo xtask dist`), the registry binary (`cargo build -p
//! fleet-registry`), and `chromedriver` (`CHROMEDRIVER`, else `/usr/bin/chromedriver`).

mod accessibility;
mod agent_page;
mod audit_page;
mod browser;
mod fleet_page;
pub mod sekuire;
pub mod standard;
mod story;

pub use agent_page::AgentPage;
pub use audit_page::AuditPage;
pub use browser::{Browser, Driver};
pub use fleet_page::{FleetPage, FleetRow};
pub use story::{agent_path, screenshot_dir, Installation, Story};

use anyhow::{anyhow, bail, Context, Result};
use fleet_protocol::{Role, RuntimeStatus, VerificationStatus};
use fleet_registry::store::{NewAgent, Store};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
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

/// The built `sekuire-registry` (`SEKUIRE_REGISTRY_BIN`, or the debug build).
pub fn registry_binary() -> Result<PathBuf> {
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
                heartbeat_interval_s: fleet_protocol::DEFAULT_HEARTBEAT_INTERVAL_SECS,
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
    /// `db` is an SQLite file or a PostgreSQL URL, as `--db` takes it.
    pub fn start(
        db: impl AsRef<std::ffi::OsStr>,
        port: Option<u16>,
        extra_args: &[&str],
    ) -> Result<Registry> {
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
