//! `cargo xtask <command>`: the project's entry points.
//!
//! - `setup`: installs what a fresh machine lacks (wasm target, Trunk, wasm-bindgen CLI,
//!   wasm-opt, esbuild, Chromium and chromedriver), each only when missing, with visible progress.
//! - `dist`: builds the dashboard for release into `dist/`, precompressed, and prints sizes.
//! - `demo`: `setup` + `dist` + the registry with a demo fleet serving the dashboard.
//! - `test`: the whole suite: fmt, clippy, native tests, browser tests, end-to-end stories.
//! - `bench`: the benchmarks; writes `BENCHMARKS.md`.

mod bench;
mod bundle;
mod conformance;
mod postgres;
mod tools;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("setup") => tools::setup(tools::Need::Everything).map(drop),
        Some("dist") => {
            tools::setup(tools::Need::Build)?;
            dist(&root).map(drop)
        }
        Some("demo") => demo(&root, &args[1..]),
        Some("test") => test(&root),
        Some("bench") => bench::run_benchmarks(&root, &args[1..]),
        // The conformance run alone, on an already built registry (`cargo xtask test` runs it).
        Some("conformance") => conformance::check(&root, 40, 1),
        // A command beside a throwaway PostgreSQL server, e.g. the registry suite on it:
        // `cargo xtask postgres cargo test -p fleet-registry`.
        Some("postgres") => postgres::run_beside(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <setup|dist|demo|test|bench|conformance|postgres>");
            bail!("unknown command {:?}", args.first());
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Prints a step the way every step is printed.
pub fn step(what: &str) {
    println!("\n==> {what}");
}

/// Runs a command in the workspace, failing with its name if it fails.
pub fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// What the release nightly adds to the wasm flags: panics abort at once, without
/// messages, locations or `Debug` text (the dashboard never shows `Debug` output to users).
const RELEASE_NIGHTLY_FLAGS: &str =
    "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none";

/// The wasm flags of `.cargo/config.toml` (`[target.wasm32-unknown-unknown] rustflags`)
/// followed by [`RELEASE_NIGHTLY_FLAGS`]: an environment variable replaces the configured
/// flags rather than adding to them, so they are read from the one place they are set.
fn release_nightly_rustflags(root: &Path) -> Result<String> {
    let config = std::fs::read_to_string(root.join(".cargo/config.toml"))?;
    let configured = configured_wasm_rustflags(&config)
        .context(".cargo/config.toml has no rustflags for wasm32-unknown-unknown")?;
    Ok(format!("{} {RELEASE_NIGHTLY_FLAGS}", configured.join(" ")))
}

/// The `rustflags` array of the `[target.wasm32-unknown-unknown]` table (a TOML array of
/// plain strings, which reads as JSON).
fn configured_wasm_rustflags(config: &str) -> Option<Vec<String>> {
    let table = config.split("[target.wasm32-unknown-unknown]").nth(1)?;
    let table = table.split("\n[").next()?;
    let array = table
        .lines()
        .find_map(|line| line.trim().strip_prefix("rustflags"))?
        .trim_start()
        .strip_prefix('=')?;
    let flags: Vec<String> = array
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|flag| flag.trim().trim_matches('"').to_owned())
        .filter(|flag| !flag.is_empty())
        .collect();
    Some(flags)
}

/// Builds the dashboard with Trunk (release), finishes it (`bundle.rs`: wasm-opt, short
/// names, minified glue and CSS) and writes `.gz`/`.br` beside each asset for the registry
/// to serve. Returns the sizes of the shipped assets.
pub fn dist(root: &Path) -> Result<Vec<AssetSize>> {
    let mut trunk = Command::new(tools::trunk()?);
    trunk
        .args(["build", "--release"])
        .current_dir(root)
        .env("PATH", tools::tool_path());
    if tools::release_nightly_ready() {
        step(&format!(
            "Building the dashboard (trunk build --release, {}, std rebuilt with panic=immediate-abort)",
            tools::RELEASE_NIGHTLY
        ));
        trunk
            .env("RUSTUP_TOOLCHAIN", tools::RELEASE_NIGHTLY)
            .env("CARGO_UNSTABLE_BUILD_STD", tools::BUILD_STD)
            .env("CARGO_UNSTABLE_BUILD_STD_FEATURES", "optimize_for_size")
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
                release_nightly_rustflags(root)?,
            )
            .env_remove("CARGO");
    } else {
        step(&format!(
            "Building the dashboard (trunk build --release) on stable: {} is missing, so the wasm keeps panic messages and is about 22 KB gzip larger",
            tools::RELEASE_NIGHTLY
        ));
    }
    run(&mut trunk)?;
    step("Optimizing the wasm, shortening its import names, minifying the glue");
    bundle::finish(&root.join("dist"))?;
    externalize_boot_script(&root.join("dist"))?;
    let sizes = precompress(&root.join("dist"))?;
    for asset in &sizes {
        println!(
            "    {:<48} {:>9} B raw {:>9} B gzip ({:>9} B zlib -9) {:>9} B brotli",
            asset.name, asset.raw, asset.gzip, asset.zlib, asset.brotli
        );
    }
    let gzip: usize = sizes.iter().map(|a| a.gzip).sum();
    let zlib: usize = sizes.iter().map(|a| a.zlib).sum();
    let brotli: usize = sizes.iter().map(|a| a.brotli).sum();
    println!("    total shipped: {gzip} B gzip ({zlib} B with zlib -9), {brotli} B brotli");
    Ok(sizes)
}

/// Moves the start-up script that Trunk writes inline into `index.html` into a file named
/// after its content (`boot-<16 hex>.js`, cached like every hashed asset), so the dashboard
/// runs under a Content-Security-Policy that allows no inline script.
fn externalize_boot_script(dist: &Path) -> Result<()> {
    const OPEN: &str = "<script type=\"module\">";
    const CLOSE: &str = "</script>";
    let index = dist.join("index.html");
    let html = std::fs::read_to_string(&index)?;
    let start = html
        .find(OPEN)
        .context("dist/index.html has no inline module script")?;
    let body = start + OPEN.len();
    let end = body
        + html[body..]
            .find(CLOSE)
            .context("dist/index.html has an unclosed script")?;
    let script = html[body..end].trim();
    let name = format!("boot-{}.js", bundle::content_hash(script.as_bytes()));
    std::fs::write(dist.join(&name), format!("{script}\n"))?;
    bundle::minify(&dist.join(&name), &["--format=esm"])?;
    let html = format!(
        "{}<script type=\"module\" src=\"/{name}\"></script>{}",
        &html[..start],
        &html[end + CLOSE.len()..]
    );
    std::fs::write(&index, html)?;
    Ok(())
}

/// Raw and compressed size of one shipped file.
#[derive(Debug, Clone)]
pub struct AssetSize {
    pub name: String,
    pub raw: usize,
    /// The shipped `.gz` twin, written by zopfli.
    pub gzip: usize,
    /// What zlib's best gzip would have been, for comparison with other builds.
    pub zlib: usize,
    pub brotli: usize,
}

fn zlib_size(raw: &[u8]) -> Result<usize> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(raw)?;
    Ok(gz.finish()?.len())
}

fn precompress(dist: &Path) -> Result<Vec<AssetSize>> {
    let mut sizes = Vec::new();
    for entry in std::fs::read_dir(dist)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let shipped = [".wasm", ".js", ".css", ".html"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if !shipped {
            continue;
        }
        let raw = std::fs::read(&path)?;
        // Zopfli writes ordinary gzip, 4–5 % smaller than zlib's best, once per build.
        let mut gz = Vec::new();
        zopfli::compress(
            zopfli::Options::default(),
            zopfli::Format::Gzip,
            raw.as_slice(),
            &mut gz,
        )?;
        let mut br = Vec::new();
        brotli::BrotliCompress(
            &mut raw.as_slice(),
            &mut br,
            &brotli::enc::BrotliEncoderParams {
                quality: 11,
                ..Default::default()
            },
        )?;
        std::fs::write(dist.join(format!("{name}.gz")), &gz)?;
        std::fs::write(dist.join(format!("{name}.br")), &br)?;
        sizes.push(AssetSize {
            name,
            raw: raw.len(),
            gzip: gz.len(),
            zlib: zlib_size(&raw)?,
            brotli: br.len(),
        });
    }
    sizes.sort_by_key(|a| std::cmp::Reverse(a.raw));
    Ok(sizes)
}

/// Builds everything and starts the registry with the demo fleet at 127.0.0.1:9300.
fn demo(root: &Path, extra: &[String]) -> Result<()> {
    let started = std::time::Instant::now();
    // The registry needs none of the tools: it builds beside their installs, filling the
    // core that a link or LTO step leaves idle. A debug build: it serves a demo fleet with
    // ease, compiles in about half the time of a release build, and is the build the test
    // suite uses too. For production: `cargo build --release -p fleet-registry`.
    step("Building the registry in the background");
    let mut build = cargo();
    build.args(["build", "-p", "fleet-registry"]);
    let registry = std::thread::spawn(move || tools::run_logged("registry", vec![build]));
    tools::setup(tools::Need::Build)?;
    let set_up = started.elapsed();
    let began = std::time::Instant::now();
    dist(root)?;
    let dashboard = began.elapsed();
    let registry = match registry.join() {
        Ok(built) => built?,
        Err(_) => bail!("the registry build panicked"),
    };
    step(&format!(
        "Built in {}: set-up {}, dashboard {}, registry {} (beside the set-up)",
        tools::seconds(started.elapsed()),
        tools::seconds(set_up),
        tools::seconds(dashboard),
        tools::seconds(registry.took)
    ));
    step("Starting the registry with a demo fleet (Ctrl-C stops it)");
    run(Command::new(root.join("target/debug/sekuire-registry"))
        .args([
            "serve",
            "--demo",
            "--dist",
            "dist",
            "--db",
            "sekuire-demo.db",
        ])
        .args(extra))
}

/// Totals of every `test result:` line seen.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    /// Runs a `cargo test`, echoing its output, and adds up its result lines.
    fn run(&mut self, command: &mut Command) -> Result<()> {
        use std::io::{BufRead, BufReader};
        let shown = format!("{command:?}");
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {shown}"))?;
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout).lines() {
                let line = line?;
                println!("{line}");
                if let Some(rest) = line.strip_prefix("test result: ") {
                    self.add(rest);
                }
            }
        }
        let status = child.wait()?;
        if !status.success() {
            bail!("{shown} failed with {status}");
        }
        Ok(())
    }

    /// `ok. 39 passed; 0 failed; 0 ignored; …`
    fn add(&mut self, result: &str) {
        for part in result.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            if let [.., n, kind] = words.as_slice() {
                let n: u64 = n.parse().unwrap_or(0);
                match *kind {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    _ => {}
                }
            }
        }
    }
}

/// The whole suite, as CI runs it.
fn test(root: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    // One build, run once: incremental caches would only add gigabytes to the target folder.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        std::env::set_var("CARGO_INCREMENTAL", "0");
    }
    tools::setup(tools::Need::Everything)?;
    let set_up = started.elapsed();
    step("Formatting (cargo fmt --check)");
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    step("Lints, native (cargo clippy -D warnings)");
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("Lints, wasm (cargo clippy --target wasm32-unknown-unknown -D warnings)");
    run(cargo().args([
        "clippy",
        "-p",
        "fleet-dashboard",
        "--target",
        "wasm32-unknown-unknown",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("Native tests: protocol, registry (real HTTP + SQLite), dashboard logic, the standard-API stand-in against Sekuire's CLI");
    tally.run(
        cargo()
            .args(["test", "--workspace", "--exclude", "fleet-e2e"])
            .env("SEKUIRE_CLI", tools::sekuire()),
    )?;
    step("The registry suite again on PostgreSQL (a throwaway server), with two registry processes on one database");
    {
        let server = postgres::TestServer::start()?;
        tally.run(
            cargo()
                .args(["test", "-p", "fleet-registry", "--lib", "--test", "api"])
                .env("SEKUIRE_TEST_POSTGRES", server.url()),
        )?;
    }
    step("Component tests in headless Chromium (wasm-bindgen-test)");
    run(cargo()
        .args([
            "test",
            "-p",
            "fleet-dashboard",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .env("CHROMEDRIVER", tools::chromedriver())
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120"))?;
    dist(root)?;
    run(cargo().args(["build", "-p", "fleet-registry", "-p", "compat-registry"]))?;
    conformance::check(root, 40, 1)?;
    step("End-to-end: real registry, release dashboard, real Chromium, Sekuire's own CLI");
    tally.run(
        cargo()
            .args(["test", "-p", "fleet-e2e", "--", "--test-threads=1"])
            .env("CHROMEDRIVER", tools::chromedriver())
            .env("SEKUIRE_CLI", tools::sekuire())
            .env("AXE_CORE", tools::axe_core()),
    )?;
    step(&format!(
        "Summary: set-up {}, whole run {}",
        tools::seconds(set_up),
        tools::seconds(started.elapsed())
    ));
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn the_release_nightly_keeps_the_configured_wasm_flags() {
        let config = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cargo/config.toml"),
        )
        .unwrap_or_default();
        assert_eq!(
            super::configured_wasm_rustflags(&config),
            Some(vec!["--cfg".to_owned(), "erase_components".to_owned()])
        );
        let other = "[alias]\nx = \"y\"\n[target.wasm32-unknown-unknown]\nrunner = \"r\"\nrustflags = [\"-Ca\", \"-Cb\"]\n[build]\nrustflags = [\"-Cz\"]\n";
        assert_eq!(
            super::configured_wasm_rustflags(other),
            Some(vec!["-Ca".to_owned(), "-Cb".to_owned()])
        );
    }

    #[test]
    fn result_lines_add_up() {
        let mut tally = Tally::default();
        tally.add(
            "ok. 39 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.47s",
        );
        tally.add("FAILED. 10 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        assert_eq!((tally.passed, tally.failed), (49, 1));
    }
}
