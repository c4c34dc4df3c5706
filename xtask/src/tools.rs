//! Installs the tools a fresh machine lacks, offline-friendly: nothing is downloaded from
//! GitHub releases; everything comes from crates.io, npm or Debian (see
//! `../shared/toolchain.md`). Each tool is installed only when missing or at the wrong version.

use crate::{run, step};
use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::Command;

const TRUNK_VERSION: &str = "0.21.14";
/// Must equal the `wasm-bindgen` crate pinned in `Cargo.toml`.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const BINARYEN_VERSION: &str = "132";
/// The pinned nightly that builds the release wasm, and only that: its standard library is
/// rebuilt with `panic=immediate-abort`, which takes panic messages and their formatting
/// out of the bundle (about 22 KB gzip; see BENCHMARKS.md). Everything else is stable.
pub const RELEASE_NIGHTLY: &str = "nightly-2026-05-20";

/// What a command needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Building the dashboard.
    Build,
    /// Building and testing in a browser.
    Everything,
}

fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    home.join("bin").join(name)
}

/// A tool on PATH or in cargo's bin folder.
fn find(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(cargo_bin(name)).filter(|p| p.is_file()))
}

/// The first line a tool prints for `--version`, or empty.
fn version_of(tool: &PathBuf) -> String {
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

fn has(name: &str, version: &str) -> bool {
    find(name).is_some_and(|tool| version_of(&tool).contains(version))
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
    find("trunk").ok_or_else(|| anyhow::anyhow!("trunk is not installed; run `cargo xtask setup`"))
}

pub fn chromedriver() -> PathBuf {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| find("chromedriver"))
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

pub fn setup(need: Need) -> Result<()> {
    step("Checking tools");
    if !rustup_lists(&["target", "list", "--installed"]).contains("wasm32-unknown-unknown") {
        step("Adding the wasm32-unknown-unknown target");
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    if !release_nightly_ready() {
        step(&format!(
            "Installing {RELEASE_NIGHTLY} with rust-src, for the size-optimized release wasm"
        ));
        let installed = run(Command::new("rustup").args([
            "toolchain",
            "install",
            RELEASE_NIGHTLY,
            "--profile",
            "minimal",
            "--component",
            "rust-src",
            "--target",
            "wasm32-unknown-unknown",
        ]));
        if let Err(err) = installed {
            // The dashboard still builds on stable, only larger; `dist` says so.
            println!("    warning: {err:#}");
        }
    }
    if !has("wasm-bindgen", WASM_BINDGEN_VERSION) {
        step(&format!(
            "Installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (about 2 minutes)"
        ));
        // Not --locked: its lock file names a crate version the registry mirror lacks.
        run(Command::new("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN_VERSION,
        ]))?;
    }
    if !has("trunk", TRUNK_VERSION) {
        step(&format!(
            "Installing Trunk {TRUNK_VERSION} (about 6 minutes on 2 cores)"
        ));
        run(Command::new("cargo").args([
            "install",
            "trunk",
            "--version",
            TRUNK_VERSION,
            "--locked",
        ]))?;
    }
    if !has("wasm-opt", &format!("version {BINARYEN_VERSION}")) {
        step(&format!(
            "Installing wasm-opt (binaryen@{BINARYEN_VERSION} from npm)"
        ));
        run(Command::new("npm").args(["install", "-g", &format!("binaryen@{BINARYEN_VERSION}")]))?;
    }
    if need == Need::Everything && (find("chromium").is_none() || find("chromedriver").is_none()) {
        if !is_root() {
            bail!("Chromium is missing: run `sudo apt-get install -y chromium chromium-driver`");
        }
        step("Installing Chromium and chromedriver (Debian packages)");
        run(Command::new("apt-get").arg("update").arg("-qq"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    println!("    tools ready");
    Ok(())
}
