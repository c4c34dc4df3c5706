//! `cargo xtask bench`: builds what the benchmarks measure (release registry, release
//! dashboard) and runs the `fleet-bench` harness, which writes `BENCHMARKS.md`.
//! `cargo xtask bench setup` measures the first `cargo xtask demo` on a new machine.

use crate::{cargo, dist, run, step, tools};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

pub fn run_benchmarks(root: &Path, args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("setup") {
        return setup_time(root);
    }
    if args.first().map(String::as_str) == Some("backends") {
        return backends(root, &args[1..]);
    }
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
    run(Command::new(root.join("target/release/fleet-bench"))
        .arg("--bundle")
        .arg(sizes_arg.join(","))
        .args(args)
        .env("CHROMEDRIVER", tools::chromedriver()))
}

/// The memory `docs/deploy.md` tells a deployment to give PostgreSQL, which the
/// benchmark's server runs with: the defaults (128 MB of shared buffers, 1 GB of WAL
/// between checkpoints) hold a 100,000-agent fleet's indexes but not a million's.
const DEPLOYED_SETTINGS: &[&str] = &["shared_buffers=2GB", "max_wal_size=8GB"];

/// SQLite against PostgreSQL with one and two registry processes, at a million agents
/// unless `--agents N` says otherwise, beside a throwaway PostgreSQL server.
fn backends(root: &Path, args: &[String]) -> Result<()> {
    tools::setup(tools::Need::Everything)?;
    dist(root)?;
    step("Building the registry and the benchmark harness (release)");
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "fleet-registry",
        "-p",
        "fleet-bench",
    ]))?;
    let server = crate::postgres::TestServer::start_with(DEPLOYED_SETTINGS)?;
    step("SQLite and PostgreSQL side by side (writes bench/backends.md and BENCHMARKS.md)");
    let agents: &[String] = if args.iter().any(|a| a == "--agents") {
        &[]
    } else {
        &["--agents".to_owned(), "1000000".to_owned()]
    };
    run(Command::new(root.join("target/release/fleet-bench"))
        .arg("backends")
        .args(agents)
        .args(args)
        .env("SEKUIRE_BENCH_POSTGRES", server.url())
        .env("CHROMEDRIVER", tools::chromedriver()))
}

/// Where the set-up section is kept; `fleet-bench` includes it in `BENCHMARKS.md`.
const SETUP_SECTION: &str = "bench/setup.md";
const SETUP_HEADING: &str = "## Set-up on a new machine";

/// Runs `cargo xtask demo` in a fresh clone under `.ci/new-machine` (throwaway cargo, rustup and npm homes,
/// nothing of ours installed) until it prints the sign-in link, then stops it. Writes the
/// time and its parts, as the demo printed them, into `bench/setup.md` and `BENCHMARKS.md`.
fn setup_time(root: &Path) -> Result<()> {
    step("Timing the first `cargo xtask demo` on a new machine (.ci/new-machine), to the sign-in link");
    // A clone of HEAD: no target folder, no dist, as a new user has it.
    let clone = std::env::temp_dir().join("sekuire-new-machine-clone");
    let _ = std::fs::remove_dir_all(&clone);
    run(Command::new("git")
        .arg("clone")
        .arg("--quiet")
        .arg(root)
        .arg(&clone))?;
    let started = Instant::now();
    let mut demo = Command::new(clone.join(".ci/new-machine"));
    demo.args(["cargo", "xtask", "demo", "--addr", "127.0.0.1:0"])
        .current_dir(&clone)
        .env("NEW_MACHINE_KEEP_DEBIAN", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0);
    let mut demo = DemoRun(demo.spawn().context("starting .ci/new-machine")?);
    let stdout = demo.0.stdout.take().context("no output from the demo")?;
    let mut parts = Vec::new();
    let mut to_link = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        let line = line.trim_start_matches("==> ").trim();
        if line.starts_with("set-up took") || line.starts_with("Built in") {
            parts.push(line.to_owned());
        }
        if line.contains("/#key=") {
            to_link = Some(started.elapsed());
            break;
        }
    }
    drop(demo);
    let _ = std::fs::remove_dir_all(&clone);
    let Some(to_link) = to_link else {
        bail!("the demo ended before it printed the sign-in link");
    };
    let section = format!(
        "{SETUP_HEADING}\n\nThe first `cargo xtask demo` on a machine that has never built this project \
         (`cargo xtask bench setup`: throwaway cargo, rustup and npm homes with only stable Rust 1.95, \
         as `.ci/new-machine` makes them), from the command to the sign-in link: **{}** (goal < 10 min on 2 cores).\n\n\
         Its parts, as the demo printed them:\n\n{}\n\n",
        tools::seconds(to_link),
        parts
            .iter()
            .map(|p| format!("- {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    std::fs::write(root.join(SETUP_SECTION), &section)?;
    splice_section(&root.join("BENCHMARKS.md"), &section)?;
    println!("\n{section}");
    Ok(())
}

/// The demo under `.ci/new-machine`, in a process group of its own. Dropping it, on every
/// path out, stops the whole group (the script, cargo, xtask, the registry), and the
/// script then removes its throwaway homes.
struct DemoRun(std::process::Child);

impl Drop for DemoRun {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

/// Replaces the set-up section of `BENCHMARKS.md`, or puts it before the notes.
fn splice_section(path: &Path, section: &str) -> Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let spliced = match text.find(SETUP_HEADING) {
        Some(start) => {
            let rest = &text[start + SETUP_HEADING.len()..];
            let end = rest
                .find("\n## ")
                .map_or(text.len(), |i| start + SETUP_HEADING.len() + i + 1);
            format!("{}{section}{}", &text[..start], &text[end..])
        }
        None => match text.find("## What the figures called for") {
            Some(at) => format!("{}{section}{}", &text[..at], &text[at..]),
            None => format!("{text}\n{section}"),
        },
    };
    std::fs::write(path, spliced)?;
    Ok(())
}
