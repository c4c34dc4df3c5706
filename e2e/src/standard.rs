//! A registry with Sekuire's standard API only: `sekuire-compat-registry`, the stand-in
//! for Sekuire's hosted registry built from `sekuire-protocol`'s published types, with the
//! dashboard in front of it through `sekuire-registry proxy`, as a user of the hosted
//! registry would run it.

use crate::{built_binary, Registry, Seed};
use anyhow::Result;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use tempfile::TempDir;

/// The key the stand-in accepts.
pub const STANDARD_KEY: &str = "sk_hosted_e2e_key";

fn compat_binary() -> Result<PathBuf> {
    built_binary(
        "SEKUIRE_COMPAT_REGISTRY_BIN",
        "sekuire-compat-registry",
        "compat-registry",
    )
}

/// The stand-in registry and the proxy that serves the dashboard in front of it.
pub struct StandardRegistry {
    pub upstream: Registry,
    pub proxy: Registry,
    /// Sekuire IDs of the seeded agents, in seed order.
    pub ids: Vec<String>,
    _fleet: TempDir,
}

impl StandardRegistry {
    /// Starts the stand-in with `seeds` (ids `a0000001`, …), and the proxy before it.
    pub fn start(seeds: &[Seed]) -> Result<StandardRegistry> {
        let fleet = tempfile::tempdir()?;
        let ids: Vec<String> = (1..=seeds.len()).map(|i| format!("a{i:07}")).collect();
        let agents: Vec<serde_json::Value> = seeds
            .iter()
            .zip(&ids)
            .map(|(seed, id)| {
                json!({
                    "sekuire_id": id,
                    "name": seed.name,
                    "version": "2.0.0",
                    "description": "Seeded in the standard registry.",
                    "verification_status": "verified",
                    "reputation_score": seed.reputation,
                    "runtime_status": seed.status.as_str(),
                })
            })
            .collect();
        let file = fleet.path().join("fleet.json");
        std::fs::write(&file, serde_json::to_vec(&agents)?)?;
        let mut command = Command::new(compat_binary()?);
        command
            .args(["--addr", "127.0.0.1:0", "--key", STANDARD_KEY, "--fleet"])
            .arg(&file);
        let upstream = Registry::listening(command, |_| true)?;
        let proxy = Registry::proxy(&upstream.base)?;
        Ok(StandardRegistry {
            upstream,
            proxy,
            ids,
            _fleet: fleet,
        })
    }
}
