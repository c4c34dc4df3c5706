//! `cargo xtask bench`: builds what the benchmarks measure (release registry, release
//! dashboard) and runs the `fleet-bench` harness, which writes `BENCHMARKS.md`.

use crate::{cargo, dist, run, step, tools};
use anyhow::Result;
use std::path::Path;

pub fn run_benchmarks(root: &Path, args: &[String]) -> Result<()> {
    tools::setup(tools::Need::Everything)?;
    let sizes = dist(root)?;
    let sizes_arg: Vec<String> = sizes
        .iter()
        .map(|a| format!("{}:{}:{}:{}:{}", a.name, a.raw, a.gzip, a.zlib, a.brotli))
        .collect();
    step("Building the registry and the benchmark harness (release)");
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "fleet-registry",
        "-p",
        "fleet-bench",
    ]))?;
    step("Running benchmarks (writes BENCHMARKS.md)");
    run(
        std::process::Command::new(root.join("target/release/fleet-bench"))
            .arg("--bundle")
            .arg(sizes_arg.join(","))
            .args(args)
            .env("CHROMEDRIVER", tools::chromedriver()),
    )
}
