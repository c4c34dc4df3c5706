//! Installs the tools a new machine lacks. Nothing is downloaded from GitHub releases;
//! everything comes from crates.io, npm, Debian or rustup's component server (see
//! `../shared/toolchain.md`). Each tool is installed only when missing or at the wrong
//! version, so a second run skips what is there.
//!
//! On 2 cores the compiles are the critical path, so the downloads (toolchains, wasm-opt,
//! Debian packages) run in the background beside them, and the compiled tools are built
//! with a light profile (see [`LIGHT_PROFILE`]). Then every crate the offline builds need
//! is fetched, the standard library's own crates included.

use crate::{run, step};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRUNK_VERSION: &str = "0.21.14";
/// Must equal the `wasm-bindgen` crate pinned in `Cargo.toml`.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const BINARYEN_VERSION: &str = "132";
/// Sekuire's published command-line client, driven by the end-to-end stories.
const SEKUIRE_CLI_VERSION: &str = "0.2.11";
/// The pinned nightly that builds the release wasm, and only that: its standard library is
/// rebuilt with `panic=immediate-abort`, which takes panic messages and their formatting
/// out of the bundle (about 22 KB gzip; see BENCHMARKS.md). Everything else is stable.
pub const RELEASE_NIGHTLY: &str = "nightly-2026-05-20";
/// What `-Zbuild-std` rebuilds for the release wasm; the fetch before an offline build
/// must name the same crates.
pub const BUILD_STD: &str = "std,panic_abort";

/// The profile the tools are compiled with. Their upstream profile (fat LTO, one codegen
/// unit) spends minutes of a single core on speed nobody notices in a build tool:
/// measured on 2 cores, see BENCHMARKS.md, "Set-up on a new machine".
const LIGHT_PROFILE: [(&str, &str); 3] = [
    ("CARGO_PROFILE_RELEASE_LTO", "off"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
];

/// What a command needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Building the dashboard.
    Build,
    /// Building, testing in a browser, driving Sekuire's CLI, checking the OpenAPI.
    Everything,
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default()
}

/// Where `cargo install` puts tools: the only place the cargo-installed tools are looked
/// for, so a tool left elsewhere on PATH never hides a missing install.
fn cargo_bin(name: &str) -> PathBuf {
    cargo_home().join("bin").join(name)
}

/// Where `npm install -g` puts wasm-opt (`npm_config_prefix` moves it).
fn npm_bin_dir() -> PathBuf {
    let prefix = Command::new("npm")
        .args(["prefix", "-g"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    PathBuf::from(prefix).join("bin")
}

/// PATH for the builds: cargo's and npm's tool folders first, so Trunk finds the pinned
/// wasm-bindgen.
pub fn tool_path() -> OsString {
    let mut dirs = vec![cargo_home().join("bin"), npm_bin_dir()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// A tool found on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// The first line a tool prints for `--version`, or empty.
fn version_of(tool: &Path) -> String {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default()
}

fn is_version(tool: &Path, version: &str) -> bool {
    tool.is_file() && version_of(tool).contains(version)
}

fn rustup_lists(args: &[&str]) -> String {
    Command::new("rustup")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// True when [`RELEASE_NIGHTLY`] is installed with the standard library's source and the
/// wasm target.
pub fn release_nightly_ready() -> bool {
    let toolchain = format!("+{RELEASE_NIGHTLY}");
    rustup_lists(&[&toolchain, "component", "list", "--installed"]).contains("rust-src")
        && rustup_lists(&[&toolchain, "target", "list", "--installed"])
            .contains("wasm32-unknown-unknown")
}

pub fn trunk() -> Result<PathBuf> {
    Some(cargo_bin("trunk"))
        .filter(|t| t.is_file())
        .context("trunk is not installed; run `cargo xtask setup`")
}

/// An npm package pinned at a version, installed under `target/` in a folder named by both
/// (so a new pin installs afresh), not globally.
struct NpmPackage {
    name: &'static str,
    version: &'static str,
}

impl NpmPackage {
    fn dir(&self) -> PathBuf {
        std::env::current_dir()
            .unwrap_or_default()
            .join(format!("target/{}-{}", self.name, self.version))
    }

    /// A file of the installed package, by its path under the install folder.
    fn file(&self, path: &str) -> PathBuf {
        self.dir().join(path)
    }

    /// Set-up's job that installs it.
    fn install(&self) -> (&'static str, Vec<Command>) {
        let mut npm = Command::new("npm");
        npm.args(["install", "--silent", "--no-save", "--prefix"])
            .arg(self.dir())
            .arg(format!("{}@{}", self.name, self.version));
        (self.name, vec![npm])
    }
}

/// The accessibility checker the end-to-end suite injects into each page.
const AXE_CORE: NpmPackage = NpmPackage {
    name: "axe-core",
    version: "4.10.3",
};

/// `axe.min.js`, as set-up installs it.
pub fn axe_core() -> PathBuf {
    AXE_CORE.file("node_modules/axe-core/axe.min.js")
}

/// The JavaScript minifier for wasm-bindgen's glue (see `bundle.rs`).
const ESBUILD: NpmPackage = NpmPackage {
    name: "esbuild",
    version: "0.28.2",
};

/// esbuild, as set-up installs it.
pub fn esbuild() -> PathBuf {
    ESBUILD.file("node_modules/.bin/esbuild")
}

/// wasm-opt, as set-up installs it.
pub fn wasm_opt() -> PathBuf {
    npm_bin_dir().join("wasm-opt")
}

/// Sekuire's CLI, as set-up installs it.
pub fn sekuire() -> PathBuf {
    cargo_bin("sekuire")
}

pub fn chromedriver() -> PathBuf {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| on_path("chromedriver"))
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A cargo-installed tool: crate, version, binary, and whether its lock file can be used.
struct CargoTool {
    krate: &'static str,
    version: &'static str,
    binary: &'static str,
    /// wasm-bindgen-cli's lock file names a crate version the registry mirror lacks.
    locked: bool,
}

const WASM_BINDGEN: CargoTool = CargoTool {
    krate: "wasm-bindgen-cli",
    version: WASM_BINDGEN_VERSION,
    binary: "wasm-bindgen",
    locked: false,
};
const TRUNK: CargoTool = CargoTool {
    krate: "trunk",
    version: TRUNK_VERSION,
    binary: "trunk",
    locked: true,
};
const SEKUIRE_CLI: CargoTool = CargoTool {
    krate: "sekuire-cli",
    version: SEKUIRE_CLI_VERSION,
    binary: "sekuire",
    locked: true,
};

impl CargoTool {
    fn install(&self) -> Result<()> {
        let mut install = Command::new("cargo");
        install.args(["install", self.krate, "--version", self.version]);
        if self.locked {
            install.arg("--locked");
        }
        run(install.envs(LIGHT_PROFILE))
    }
}

/// One part of set-up and how long it took.
pub struct Part {
    pub name: String,
    pub took: Duration,
    /// Ran in the background, beside the compiles.
    pub background: bool,
}

/// Runs `commands` with their output in a log file; returns the time they took, or the
/// log's tail when one fails. For the work that runs in the background.
pub fn run_logged(name: &str, commands: Vec<Command>) -> Result<Part> {
    let started = Instant::now();
    let log_path = std::env::temp_dir().join(format!("xtask-setup-{name}.log"));
    let log = std::fs::File::create(&log_path)?;
    for mut command in commands {
        let shown = format!("{command:?}");
        let status = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .status()
            .with_context(|| format!("could not start {shown}"))?;
        if !status.success() {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("{shown} failed with {status}:\n{}", tail.join("\n"));
        }
    }
    let took = started.elapsed();
    println!("    {name}: ready in {}", seconds(took));
    Ok(Part {
        name: name.to_owned(),
        took,
        background: true,
    })
}

/// The Debian packages the whole suite needs and the machine lacks: Chromium and its
/// driver for the browser tests, PostgreSQL for the registry suite's second backend.
fn debian_packages(need: Need) -> Vec<&'static str> {
    let mut packages = Vec::new();
    if need == Need::Everything {
        if on_path("chromium").is_none() || on_path("chromedriver").is_none() {
            packages.extend(["chromium", "chromium-driver"]);
        }
        if crate::postgres::bin_dir().is_none() {
            packages.push("postgresql");
        }
    }
    packages
}

const DEBIAN: &str = "Debian packages";

/// Where a release nightly that cannot be had leaves the build: on stable, only larger.
const OPTIONAL: &str = "release nightly";

/// The downloads that set-up needs: each a name and its commands, empty when present.
fn downloads(need: Need) -> Vec<(&'static str, Vec<Command>)> {
    let mut jobs = Vec::new();
    if !rustup_lists(&["target", "list", "--installed"]).contains("wasm32-unknown-unknown") {
        let mut target = Command::new("rustup");
        target.args(["target", "add", "wasm32-unknown-unknown"]);
        jobs.push(("wasm target", vec![target]));
    }
    if !release_nightly_ready() {
        let mut nightly = Command::new("rustup");
        nightly.args([
            "toolchain",
            "install",
            RELEASE_NIGHTLY,
            "--profile",
            "minimal",
            "--component",
            "rust-src",
            "--target",
            "wasm32-unknown-unknown",
        ]);
        jobs.push((OPTIONAL, vec![nightly]));
    }
    if !is_version(&esbuild(), ESBUILD.version) {
        jobs.push(ESBUILD.install());
    }
    let wasm_opt = wasm_opt();
    if !is_version(&wasm_opt, &format!("version {BINARYEN_VERSION}")) {
        let mut npm = Command::new("npm");
        npm.args(["install", "-g", &format!("binaryen@{BINARYEN_VERSION}")]);
        jobs.push(("wasm-opt (binaryen from npm)", vec![npm]));
    }
    let debian = debian_packages(need);
    if !debian.is_empty() {
        let mut update = Command::new("apt-get");
        update.args(["update", "-qq"]);
        let mut install = Command::new("apt-get");
        install
            .args(["install", "-y", "-qq"])
            .args(&debian)
            .env("DEBIAN_FRONTEND", "noninteractive");
        // One job: two apt-get runs at once would fight over dpkg's lock.
        jobs.push((DEBIAN, vec![update, install]));
    }
    if need == Need::Everything && !axe_core().is_file() {
        jobs.push(AXE_CORE.install());
    }
    if need == Need::Everything {
        let root = std::env::current_dir().unwrap_or_default();
        let schemathesis = crate::conformance::install_commands(&root);
        if !schemathesis.is_empty() {
            jobs.push(("schemathesis (PyPI)", schemathesis));
        }
    }
    jobs
}

/// Installs what is missing and fetches every crate the offline builds need. Prints each
/// part's time and the total; returns the parts.
pub fn setup(need: Need) -> Result<Vec<Part>> {
    step("Setting up tools (only what is missing)");
    let started = Instant::now();
    let downloads = downloads(need);
    let debian = debian_packages(need);
    if !debian.is_empty() && !is_root() {
        bail!(
            "missing Debian packages: run `sudo apt-get install -y {}`",
            debian.join(" ")
        );
    }
    let mut tools = vec![WASM_BINDGEN, TRUNK];
    if need == Need::Everything {
        tools.push(SEKUIRE_CLI);
    }
    tools.retain(|tool| !is_version(&cargo_bin(tool.binary), tool.version));

    let mut parts = std::thread::scope(|scope| -> Result<Vec<Part>> {
        let background: Vec<_> = downloads
            .into_iter()
            .map(|(name, commands)| {
                println!("    {name}: installing in the background");
                (name, scope.spawn(move || run_logged(name, commands)))
            })
            .collect();
        let mut parts = Vec::new();
        for tool in &tools {
            step(&format!(
                "Installing {} {} (light profile)",
                tool.krate, tool.version
            ));
            let began = Instant::now();
            tool.install()?;
            parts.push(Part {
                name: tool.krate.to_owned(),
                took: began.elapsed(),
                background: false,
            });
        }
        for (name, job) in background {
            match job.join() {
                Ok(Ok(part)) => parts.push(part),
                // The dashboard still builds on stable, only larger; `dist` says so.
                Ok(Err(err)) if name == OPTIONAL => println!("    warning: {err:#}"),
                Ok(Err(err)) => return Err(err),
                Err(_) => bail!("a set-up download panicked"),
            }
        }
        Ok(parts)
    })?;

    if !release_nightly_ready() {
        // The dashboard still builds on stable, only larger; `dist` says so.
        println!("    warning: {RELEASE_NIGHTLY} could not be installed; the release wasm will be built on stable");
    }
    parts.push(fetch_crates()?);
    let total = started.elapsed();
    let shown: Vec<String> = parts
        .iter()
        .map(|p| {
            let beside = if p.background {
                ", in the background"
            } else {
                ""
            };
            format!("{} {}{beside}", p.name, seconds(p.took))
        })
        .collect();
    println!(
        "    set-up took {} ({})",
        seconds(total),
        if shown.is_empty() {
            "nothing was missing".to_owned()
        } else {
            shown.join("; ")
        }
    );
    Ok(parts)
}

/// Downloads every crate the offline builds use: the workspace's, for every target, and
/// the standard library's own (`wasip1`, `hashbrown`, …) that the release nightly rebuilds.
/// Trunk builds with `--offline`, so a new machine needs these before its first build.
fn fetch_crates() -> Result<Part> {
    step("Fetching crates for the offline builds");
    let began = Instant::now();
    run(crate::cargo().args(["fetch", "--locked"]))?;
    if release_nightly_ready() {
        run(Command::new("cargo")
            .args(["fetch", "--locked", "--target", "wasm32-unknown-unknown"])
            .env("RUSTUP_TOOLCHAIN", RELEASE_NIGHTLY)
            .env("CARGO_UNSTABLE_BUILD_STD", BUILD_STD)
            .env_remove("CARGO"))?;
    }
    Ok(Part {
        name: "crates".to_owned(),
        took: began.elapsed(),
        background: false,
    })
}

/// `1m 05s` or `42 s`.
pub fn seconds(took: Duration) -> String {
    let s = took.as_secs();
    if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{:.1} s", took.as_secs_f64())
    }
}
