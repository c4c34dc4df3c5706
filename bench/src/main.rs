//! `fleet-bench`: the benchmark harness behind `cargo xtask bench`. Sets up its own data,
//! measures each figure beside its floor or ceiling in the same run (absolute times on a
//! shared machine drift), and writes `BENCHMARKS.md`.
//!
//! Benchmarks are not tests: nothing here asserts a time.

mod backends;
mod browser;
mod cpu;
mod registry;
mod stats;
mod sweep;

use anyhow::Result;
use fleet_e2e::Registry;
use stats::{ms, Summary};
use std::fmt::Write as _;
use std::time::Duration;

struct Options {
    /// `name:raw:gzip:zlib:brotli` of each shipped asset, from `cargo xtask dist`.
    bundle: Vec<(String, usize, usize, usize, usize)>,
    agents: usize,
    /// Installations leasing in the backends' comparison.
    installations: usize,
    /// Fleet sizes for the growth table.
    growth: Vec<usize>,
    lease_seconds: u64,
    /// Installations leasing at once in `fleet-bench leases`, one run each.
    lease_clients: Vec<usize>,
    /// Registry binaries `fleet-bench leases` takes turns with, on one prepared fleet.
    registries: Vec<std::path::PathBuf>,
    /// A PostgreSQL server `fleet-bench leases` moves its fleet to, instead of SQLite
    /// (`fleet-bench backends` takes its server from `SEKUIRE_BENCH_POSTGRES`).
    postgres: Option<String>,
    live_seconds: u64,
    browser: bool,
}

fn parse_options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let quick = args.iter().any(|a| a == "--quick");
    Options {
        bundle: value("--bundle")
            .unwrap_or_default()
            .split(',')
            .filter_map(|entry| {
                let parts: Vec<&str> = entry.split(':').collect();
                match parts.as_slice() {
                    [name, raw, gz, zlib, br] => Some((
                        name.to_string(),
                        raw.parse().ok()?,
                        gz.parse().ok()?,
                        zlib.parse().ok()?,
                        br.parse().ok()?,
                    )),
                    _ => None,
                }
            })
            .collect(),
        agents: value("--agents")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000),
        installations: value("--installations")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000),
        growth: if quick {
            vec![10_000]
        } else {
            vec![10_000, 100_000, 1_000_000]
        },
        lease_seconds: if quick { 3 } else { 10 },
        lease_clients: value("--clients").map_or(vec![registry::CONCURRENCY], |v| {
            v.split(',').filter_map(|n| n.parse().ok()).collect()
        }),
        registries: value("--registries")
            .map(|v| v.split(',').map(Into::into).collect())
            .unwrap_or_default(),
        postgres: value("--postgres"),
        live_seconds: if quick { 30 } else { 300 },
        browser: !args.iter().any(|a| a == "--no-browser"),
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|m| m.trim().to_owned()))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {memory} memory")
}

fn row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

const USAGE: &str = "\
usage: fleet-bench [--quick] [--no-browser] [--agents N] [--bundle …]   every benchmark, into BENCHMARKS.md
       fleet-bench backends [--agents N] [--installations N]          SQLite and PostgreSQL side by side
       fleet-bench leases [--agents N] [--installations N] [--clients N,…] [--registries BIN,…]
                          [--postgres URL]
       fleet-bench first-render [--agents N]
Run through `cargo xtask bench`, which builds what these need first.";

/// The section `cargo xtask bench setup` writes.
const SETUP_SECTION: &str = "bench/setup.md";

#[tokio::main]
async fn main() -> Result<()> {
    if std::env::args().nth(1).as_deref() == Some("trivial-server") {
        return registry::serve_trivial().await;
    }
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let options = parse_options();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_var(
        "SEKUIRE_REGISTRY_BIN",
        root.join("target/release/sekuire-registry"),
    );
    match std::env::args().nth(1).as_deref() {
        Some("backends") => {
            return backends::write(options.agents, options.installations, &root).await
        }
        Some("leases") => return leases_only(&options).await,
        Some("first-render") => return first_render_only(&options).await,
        Some(command) if !command.starts_with("--") => {
            eprintln!("unknown command `{command}`\n\n{USAGE}");
            std::process::exit(2);
        }
        _ => {}
    }
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `cargo xtask bench` (harness: `bench/src/`). Machine: {}.\n",
        machine()
    );
    let _ = writeln!(
        out,
        "Each figure is measured beside its floor or ceiling in the same run, because absolute \
         times on a shared 2-core machine drift. Latencies are client-observed over loopback \
         (they include HTTP), sequential unless a concurrency is given. Registry: release \
         build, `RUST_LOG=warn`, `--rate-limit 0`.\n"
    );

    bundle_section(&mut out, &options);

    println!("preparing {} agents…", options.agents);
    let prepared = registry::prepare(options.agents, 10_000).await?;
    let served = browser::instrumented_dist()?;
    std::env::set_var("FLEET_DIST", served.path());
    let main_registry = Registry::start(prepared.db(), None, &[])?;
    let client = reqwest::Client::new();
    let _ = writeln!(out, "## Registry at {} agents\n", options.agents);
    let _ = writeln!(
        out,
        "Seeding {} agents with their history took {:.1} s (`sekuire-registry seed`).\n",
        options.agents,
        prepared.seed_time.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "### `GET /api/v1/agents`, 50-row page, 200 sequential requests each\n"
    );
    row(
        &mut out,
        &["query".into(), "p50 ms".into(), "p99 ms".into()],
    );
    row(&mut out, &["---".into(), "---:".into(), "---:".into()]);
    for (label, query) in registry::LIST_CASES {
        println!("list: {label}");
        let path = format!("/api/v1/agents?{query}&limit=50");
        let s = registry::time_get(&client, &main_registry, &prepared.key, &path, 200).await?;
        row(
            &mut out,
            &[format!("{label} (`{query}`)"), ms(s.p50), ms(s.p99)],
        );
    }
    let next = registry::second_page_path(
        &client,
        &main_registry,
        &prepared.key,
        "runtime_status=active&sort=-reputation_score",
    )
    .await?;
    let s = registry::time_get(&client, &main_registry, &prepared.key, &next, 200).await?;
    row(
        &mut out,
        &[
            "page 2 of active by reputation (keyset cursor)".into(),
            ms(s.p50),
            ms(s.p99),
        ],
    );
    let s = registry::time_get(
        &client,
        &main_registry,
        &prepared.key,
        "/api/v1/fleet/summary",
        100,
    )
    .await?;
    row(
        &mut out,
        &["`GET /api/v1/fleet/summary`".into(), ms(s.p50), ms(s.p99)],
    );
    let s = registry::time_get(&client, &main_registry, &prepared.key, "/api/v1/me", 200).await?;
    row(
        &mut out,
        &[
            "`GET /api/v1/me` (floor: auth + HTTP only)".into(),
            ms(s.p50),
            ms(s.p99),
        ],
    );
    let _ = writeln!(out);

    println!("lease throughput…");
    let duration = Duration::from_secs(options.lease_seconds);
    let leases =
        registry::lease_throughput(&main_registry, &prepared.installations, duration).await;
    let trivial = registry::TrivialServer::start()?;
    let ceiling = registry::trivial_ceiling(&trivial.base, duration).await;
    drop(trivial);
    let _ = writeln!(
        out,
        "### Leases, {} concurrent clients for {} s over {} installations\n",
        registry::CONCURRENCY,
        options.lease_seconds,
        prepared.installations.len()
    );
    row(
        &mut out,
        &[
            "target".into(),
            "requests/s".into(),
            "p50 ms".into(),
            "p99 ms".into(),
            "errors".into(),
        ],
    );
    row(
        &mut out,
        &[
            "---".into(),
            "---:".into(),
            "---:".into(),
            "---:".into(),
            "---:".into(),
        ],
    );
    for (label, t) in [
        ("`POST …/lease` (registry)", leases),
        ("trivial axum handler (ceiling)", ceiling),
    ] {
        row(
            &mut out,
            &[
                label.into(),
                format!("{:.0}", t.per_second),
                ms(t.latency.p50),
                ms(t.latency.p99),
                t.errors.to_string(),
            ],
        );
    }
    let _ = writeln!(out);

    println!("SSE fan-out…");
    let (_, page) = main_registry
        .get(
            &prepared.key,
            "/api/v1/agents?runtime_status=active&limit=1",
        )
        .await?;
    let agent = page["agents"][0]["sekuire_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let fanout = registry::sse_fanout(
        &main_registry,
        &prepared.key,
        &prepared.stream_keys,
        &agent,
        100,
        40,
    )
    .await?;
    let _ = writeln!(out, "### Live events: 100 open streams, 40 changes\n");
    let _ = writeln!(
        out,
        "From sending a pause/resume to its `agent` event arriving on each stream: p50 {} ms, \
         p99 {} ms over {} deliveries (expected {}).\n",
        ms(fanout.p50),
        ms(fanout.p99),
        fanout.count,
        100 * 40
    );
    let _ = writeln!(
        out,
        "Registry resident memory after all of the above: {:.0} MiB.\n",
        registry::rss_mib(main_registry.pid())
    );

    if options.browser {
        browser::section(
            &mut out,
            &main_registry,
            &prepared.key,
            &prepared.installations,
            options.live_seconds,
        )
        .await?;
    }
    drop(main_registry);
    drop(prepared);

    growth_section(&mut out, &options).await?;

    // The backends' comparison is `cargo xtask bench backends`, a run of its own.
    if let Ok(backends) = std::fs::read_to_string(root.join(backends::SECTION)) {
        out.push_str(&backends);
    }
    // Set-up time is measured by `cargo xtask bench setup` on a new machine, not here.
    if let Ok(setup) = std::fs::read_to_string(root.join(SETUP_SECTION)) {
        out.push_str(&setup);
    }
    // The hand-kept history of what the figures called for.
    if let Ok(notes) = std::fs::read_to_string(root.join("bench/notes.md")) {
        out.push_str(&notes);
    }
    std::fs::write(root.join("BENCHMARKS.md"), &out)?;
    println!("\n{out}");
    Ok(())
}

/// `fleet-bench leases [--agents N] [--installations N] [--clients N,M…] [--registries A,B…]
/// [--postgres URL]`:
/// only the lease figure against its ceiling, for iterating on the lease path without the
/// full run. With `--registries`, those binaries take turns on one prepared fleet, three
/// rounds each in alternating order, so that two builds are compared under the same
/// conditions: this machine's rate drifts by ±15 % between runs minutes apart. Each run
/// also prints the CPU the registry and the load generator used per lease ([`cpu`]), which
/// drifts less than the rate. With `--postgres URL`, the fleet is moved to a new database
/// on that server first ([`backends::on_postgres`]; it stays there), and the registries
/// run there. Prints; writes nothing else.
async fn leases_only(options: &Options) -> Result<()> {
    println!(
        "preparing {} agents, {} installations…",
        options.agents, options.installations
    );
    let prepared = registry::prepare(options.agents, options.installations).await?;
    // So that no run, the first included, hands over commands the others do not.
    prepared.hand_over_first_commands().await?;
    let db: std::ffi::OsString = match &options.postgres {
        Some(server) => backends::on_postgres(&prepared, server).await?.0.into(),
        None => prepared.db().into(),
    };
    let (registries, rounds) = match &options.registries[..] {
        [] => (
            vec![std::env::var_os("SEKUIRE_REGISTRY_BIN")
                .unwrap_or_default()
                .into()],
            1,
        ),
        given => (given.to_vec(), 3),
    };
    let duration = Duration::from_secs(10);
    for &clients in &options.lease_clients {
        for round in 1..=rounds {
            // In turns A B, B A, A B: whichever runs first in a round measured about 10 %
            // lower, whatever the build.
            let mut order: Vec<&std::path::PathBuf> = registries.iter().collect();
            if round % 2 == 0 {
                order.reverse();
            }
            for binary in order {
                std::env::set_var("SEKUIRE_REGISTRY_BIN", binary);
                let registry = Registry::start(&db, None, &[])?;
                // A fresh process starts with a cold page cache: the first seconds are not
                // its rate.
                let warm_up = Duration::from_secs(3);
                registry::lease_throughput_over(
                    &[&registry],
                    &prepared.installations,
                    warm_up,
                    clients,
                )
                .await;
                let meter = cpu::Meter::start(&[registry.pid()]);
                let leases = registry::lease_throughput_over(
                    &[&registry],
                    &prepared.installations,
                    duration,
                    clients,
                )
                .await;
                let cost = meter.stop();
                let which = if rounds > 1 {
                    format!(", {} (round {round})", binary.display())
                } else {
                    String::new()
                };
                println!(
                    "leases, {clients} clients{which}: {:.0}/s (p50 {} ms, p99 {} ms, {} errors)",
                    leases.per_second,
                    ms(leases.latency.p50),
                    ms(leases.latency.p99),
                    leases.errors,
                );
                println!("  {}", cost.describe(leases.latency.count as f64));
            }
        }
    }
    let trivial = registry::TrivialServer::start()?;
    let ceiling = registry::trivial_ceiling(&trivial.base, duration).await;
    println!(
        "ceiling (a handler that does nothing): {:.0}/s",
        ceiling.per_second
    );
    Ok(())
}

/// `fleet-bench first-render [--agents N]`: only the first fleet render against its floor,
/// on a fleet that has just taken a lease load as in the full run. Needs `dist/` built.
/// Prints; writes nothing.
async fn first_render_only(options: &Options) -> Result<()> {
    println!("preparing {} agents…", options.agents);
    let prepared = registry::prepare(options.agents, 10_000).await?;
    let served = browser::instrumented_dist()?;
    std::env::set_var("FLEET_DIST", served.path());
    let registry = Registry::start(prepared.db(), None, &[])?;
    registry::lease_throughput(&registry, &prepared.installations, Duration::from_secs(3)).await;
    let driver = fleet_e2e::Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(&prepared.key, "/agents").await?;
    let (app, floor, cold) = browser::first_render(&browser, &prepared.key).await?;
    println!(
        "first render: dashboard p50 {} ms (p99 {}, cold {}), floor p50 {} ms: {:.2}x",
        ms(app.p50),
        ms(app.p99),
        ms(cold),
        ms(floor.p50),
        app.p50.as_secs_f64() / floor.p50.as_secs_f64().max(1e-9)
    );
    browser.close().await?;
    Ok(())
}

fn bundle_section(out: &mut String, options: &Options) {
    if options.bundle.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Bundle (release; see `xtask/src/bundle.rs`)\n");
    let _ = writeln!(
        out,
        "gzip is the shipped `.gz` twin (zopfli); zlib -9 is what zlib's best gzip gives the \
         same file, for comparison with builds that do not use zopfli.\n"
    );
    row(
        out,
        &[
            "asset".into(),
            "raw B".into(),
            "gzip B".into(),
            "zlib -9 B".into(),
            "brotli B".into(),
        ],
    );
    row(
        out,
        &[
            "---".into(),
            "---:".into(),
            "---:".into(),
            "---:".into(),
            "---:".into(),
        ],
    );
    let (mut gz, mut zl, mut br) = (0, 0, 0);
    for (name, raw, g, z, b) in &options.bundle {
        row(
            out,
            &[
                name.clone(),
                raw.to_string(),
                g.to_string(),
                z.to_string(),
                b.to_string(),
            ],
        );
        gz += g;
        zl += z;
        br += b;
    }
    row(
        out,
        &[
            "**total**".into(),
            String::new(),
            format!("**{gz}**"),
            format!("**{zl}**"),
            format!("**{br}**"),
        ],
    );
    let verdict = if gz <= BUNDLE_CEILING_GZIP {
        "within"
    } else {
        "**over**"
    };
    let _ = writeln!(
        out,
        "\nTotal gzip {gz} B against the ceiling of {BUNDLE_CEILING_GZIP} B: {verdict}.\n"
    );
}

/// The dashboard's size goal: everything a first visit downloads, gzip, at most 200 KB.
const BUNDLE_CEILING_GZIP: usize = 200_000;

async fn growth_section(out: &mut String, options: &Options) -> Result<()> {
    let _ = writeln!(out, "## Growth\n");
    let _ = writeln!(
        out,
        "The same list query (`runtime_status=active&sort=-reputation_score`, 50 rows, with \
         `total`), a search that matches nothing (`q=triage-7`, a typo), and the lease load \
         at each fleet size.\n"
    );
    row(
        out,
        &[
            "agents".into(),
            "list p50 ms".into(),
            "list p99 ms".into(),
            "typo search p50 ms".into(),
            "leases/s".into(),
            "lease p99 ms".into(),
            "RSS MiB".into(),
        ],
    );
    row(
        out,
        &[
            "---:".into(),
            "---:".into(),
            "---:".into(),
            "---:".into(),
            "---:".into(),
            "---:".into(),
            "---:".into(),
        ],
    );
    let client = reqwest::Client::new();
    for agents in options.growth.iter().copied() {
        println!("growth: {agents} agents…");
        let prepared = registry::prepare(agents, 2_000).await?;
        let reg = Registry::start(prepared.db(), None, &[])?;
        let list: Summary = registry::time_get(
            &client,
            &reg,
            &prepared.key,
            "/api/v1/agents?runtime_status=active&sort=-reputation_score&limit=50",
            100,
        )
        .await?;
        let typo: Summary = registry::time_get(
            &client,
            &reg,
            &prepared.key,
            "/api/v1/agents?q=triage-7&sort=name&limit=50",
            25,
        )
        .await?;
        let leases =
            registry::lease_throughput(&reg, &prepared.installations, Duration::from_secs(5)).await;
        row(
            out,
            &[
                agents.to_string(),
                ms(list.p50),
                ms(list.p99),
                ms(typo.p50),
                format!("{:.0}", leases.per_second),
                ms(leases.latency.p99),
                format!("{:.0}", registry::rss_mib(reg.pid())),
            ],
        );
    }
    let _ = writeln!(out);
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A full run rewrites BENCHMARKS.md and ends it with `bench/notes.md`: a round
    /// written into BENCHMARKS.md alone would be lost at the next full run.
    #[test]
    fn benchmarks_end_with_the_hand_kept_notes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap();
        assert!(
            read("BENCHMARKS.md").ends_with(&read("bench/notes.md")),
            "BENCHMARKS.md's last section differs from bench/notes.md, which a full run writes there"
        );
    }
}
