//! `fleet-bench backends`: SQLite against PostgreSQL with one and with two registry
//! processes, on the same fleet and the same harness, each figure beside its goal. The
//! fleet is seeded once into SQLite and moved to PostgreSQL with `sekuire-registry
//! migrate`, which is timed too. The dashboard's first fleet render is measured on each
//! set-up and on a 10,000-agent SQLite registry, its reference. Writes
//! `bench/backends.md`, which the full run includes in `BENCHMARKS.md`.

use crate::registry::{self, Prepared};
use crate::stats::{ms, Summary, Throughput};
use crate::sweep::Sweep;
use crate::{browser, cpu, row};
use anyhow::{ensure, Context, Result};
use fleet_e2e::Registry;
use sqlx::Connection;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Where the section is kept between full runs.
pub const SECTION: &str = "bench/backends.md";

/// Requests per list figure: fewer than the main table's, as there are three set-ups.
const REQUESTS: usize = 25;
const LEASE_SECONDS: u64 = 10;
/// Installations leasing at once, a row each: a closed loop of clients leases at most one
/// lease per client per round trip, so the rate with 32 clients is bounded by the round
/// trip as much as by the registry; twice as many shows how much more it carries.
const LEASE_CLIENTS: [usize; 2] = [registry::CONCURRENCY, 2 * registry::CONCURRENCY];
/// The lease goal, a million agents on 60-second heartbeats.
const LEASE_GOAL: f64 = 16_700.0;
/// Live streams open, and changes whose events they wait for. Each change is a delivery to
/// every stream, so with 40 changes the p99 of the 4,000 deliveries fell among the slowest
/// change's; with 200, it is about the second-slowest change's, the changes' own p99.
const STREAMS: usize = 100;
const CHANGES: usize = 200;

/// `fleet-bench backends [--agents N] [--installations N]`, with `SEKUIRE_BENCH_POSTGRES`
/// naming a PostgreSQL server: the side-by-side section, written to `bench/backends.md`
/// and spliced into `BENCHMARKS.md`.
pub async fn write(agents: usize, installations: usize, root: &std::path::Path) -> Result<()> {
    let server = std::env::var("SEKUIRE_BENCH_POSTGRES")
        .map_err(|_| anyhow::anyhow!("SEKUIRE_BENCH_POSTGRES names no PostgreSQL server"))?;
    let section = run(agents, installations, &server).await?;
    std::fs::write(root.join(SECTION), &section)?;
    let path = root.join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, splice(&text, &section))?;
    println!("\n{section}");
    Ok(())
}

/// `text` with the section that starts like `section` (its heading line) replaced, or
/// `section` added before the set-up section.
fn splice(text: &str, section: &str) -> String {
    let heading = section.lines().next().unwrap_or_default();
    let prefix = heading.split(" at ").next().unwrap_or(heading);
    if let Some(start) = text.find(prefix) {
        let rest = &text[start + prefix.len()..];
        let end = rest
            .find("\n## ")
            .map_or(text.len(), |i| start + prefix.len() + i + 1);
        return format!("{}{section}{}", &text[..start], &text[end..]);
    }
    match text.find("## Set-up on a new machine") {
        Some(at) => format!("{}{section}{}", &text[..at], &text[at..]),
        None => format!("{text}\n{section}"),
    }
}

/// The fleet the first render at full size is compared with.
const REFERENCE_AGENTS: usize = 10_000;

/// What one set-up measured.
struct Figures {
    label: &'static str,
    /// Navigation → 50 rows visible in the dashboard, p50 of 10.
    first_render: Duration,
    lists: Vec<Summary>,
    sweep: Sweep,
    summary: Summary,
    /// One figure per [`LEASE_CLIENTS`].
    leases: Vec<Throughput>,
    /// The CPU each of [`Figures::leases`] took, on every side.
    lease_costs: Vec<cpu::Cost>,
    fanout: Summary,
    fanout_expected: usize,
}

pub async fn run(agents: usize, installations: usize, postgres: &str) -> Result<String> {
    let served = browser::instrumented_dist()?;
    std::env::set_var("FLEET_DIST", served.path());
    let reference = {
        println!("first render at {REFERENCE_AGENTS} agents, the reference…");
        let small = registry::prepare(REFERENCE_AGENTS, 0).await?;
        let sqlite = Registry::start(small.db(), None, &[])?;
        first_render(&sqlite, &small.key).await?
    };
    println!("preparing {agents} agents and {installations} installations in SQLite…");
    let prepared = registry::prepare(agents, installations).await?;
    let mut runs = Vec::new();
    {
        let sqlite = Registry::start(prepared.db(), None, &[])?;
        runs.push(measure("SQLite, 1 process", &[&sqlite], &prepared).await?);
    }
    let (url, took) = on_postgres(&prepared, postgres).await?;
    let moved = Moved {
        took,
        server: server_settings(postgres).await?,
    };
    {
        let one = Registry::start(&url, None, &[])?;
        runs.push(measure("PostgreSQL, 1 process", &[&one], &prepared).await?);
        let two = Registry::start(&url, None, &[])?;
        runs.push(measure("PostgreSQL, 2 processes", &[&one, &two], &prepared).await?);
    }
    let ceiling = {
        let trivial = registry::TrivialServer::start()?;
        registry::trivial_ceiling(&trivial.base, Duration::from_secs(LEASE_SECONDS)).await
    };
    Ok(section(
        agents,
        installations,
        &prepared,
        &moved,
        &runs,
        &ceiling,
        reference,
    ))
}

/// A copy of `prepared` in a new database on the PostgreSQL `server`, moved there by
/// `sekuire-registry migrate`: its URL, and how long `migrate` took. The database stays
/// when the run ends, to be looked into; the next run from the same process id replaces it.
pub async fn on_postgres(prepared: &Prepared, server: &str) -> Result<(String, Duration)> {
    let url = fresh_database(server).await?;
    println!("migrating to PostgreSQL, into {url}…");
    let started = Instant::now();
    let migrated = std::process::Command::new(fleet_e2e::registry_binary()?)
        .args(["migrate", "--from"])
        .arg(prepared.db())
        .args(["--to", &url])
        .output()?;
    ensure!(
        migrated.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    Ok((url, started.elapsed()))
}

/// The fleet's move to PostgreSQL: how long `migrate` took, and the server it went to.
struct Moved {
    took: Duration,
    /// The server's version and memory settings, as the paragraph under the table's
    /// heading names them.
    server: String,
}

/// ``PostgreSQL 15.18, `shared_buffers = 2GB`, `max_wal_size = 8GB` ``, as the server
/// reports them.
async fn server_settings(server: &str) -> Result<String> {
    let mut admin = sqlx::PgConnection::connect(server).await?;
    let (version, buffers, wal): (String, String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), current_setting('shared_buffers'), \
         current_setting('max_wal_size')",
    )
    .fetch_one(&mut admin)
    .await?;
    // `15.14 (Debian 15.14-0+deb12u1)`: the number.
    let version = version.split_whitespace().next().unwrap_or_default();
    Ok(format!(
        "PostgreSQL {version}, `shared_buffers = {buffers}`, `max_wal_size = {wal}`"
    ))
}

/// A new database on the server, for this run alone.
async fn fresh_database(server: &str) -> Result<String> {
    let name = format!("bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .context("the benchmark's PostgreSQL server")?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let mut url = url::Url::parse(server)?;
    url.set_path(&name);
    Ok(url.into())
}

async fn measure(
    label: &'static str,
    processes: &[&Registry],
    prepared: &Prepared,
) -> Result<Figures> {
    println!("{label}…");
    let client = reqwest::Client::new();
    let key = &prepared.key;
    let mut lists = Vec::new();
    for (_, query) in registry::LIST_CASES {
        let path = format!("/api/v1/agents?{query}&limit=50");
        lists.push(registry::time_get_over(&client, processes, key, &path, REQUESTS).await?);
    }
    let sweep = Sweep::run(processes, key).await?;
    let summary =
        registry::time_get_over(&client, processes, key, "/api/v1/fleet/summary", REQUESTS).await?;
    let first_render = first_render(processes[0], key).await?;
    let (mut leases, mut lease_costs) = (Vec::new(), Vec::new());
    let pids: Vec<u32> = processes.iter().map(|p| p.pid()).collect();
    for clients in LEASE_CLIENTS {
        let meter = cpu::Meter::start(&pids);
        let rate = registry::lease_throughput_over(
            processes,
            &prepared.installations,
            Duration::from_secs(LEASE_SECONDS),
            clients,
        )
        .await;
        lease_costs.push(meter.stop());
        leases.push(rate);
    }
    let (first, last) = (processes[0], processes[processes.len() - 1]);
    let (_, page) = first
        .get(key, "/api/v1/agents?runtime_status=active&limit=1")
        .await?;
    let agent = page["agents"][0]["sekuire_id"]
        .as_str()
        .context("an active agent")?
        .to_owned();
    let fanout = registry::sse_fanout_across(
        last,
        first,
        key,
        &prepared.stream_keys,
        &agent,
        STREAMS,
        CHANGES,
    )
    .await?;
    Ok(Figures {
        label,
        first_render,
        lists,
        sweep,
        summary,
        leases,
        lease_costs,
        fanout,
        fanout_expected: STREAMS * CHANGES,
    })
}

/// The dashboard's first fleet render on `registry`: navigation → 50 rows, p50 of 10 in
/// headless Chromium.
async fn first_render(registry: &Registry, key: &str) -> Result<Duration> {
    let driver = fleet_e2e::Driver::start()?;
    let chromium = driver.browser(&registry.base).await?;
    chromium.sign_in(key, "/agents").await?;
    let (app, _, _) = browser::first_render(&chromium, key).await?;
    chromium.close().await?;
    Ok(app.p50)
}

fn section(
    agents: usize,
    installations: usize,
    prepared: &Prepared,
    moved: &Moved,
    runs: &[Figures],
    ceiling: &Throughput,
    reference: Duration,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## SQLite and PostgreSQL, one and two processes, at {agents} agents\n"
    );
    let _ = writeln!(
        out,
        "`cargo xtask bench backends`: the same fleet ({agents} agents seeded in {:.0} s, \
         {installations} installations) on each set-up, the same harness. {} \
         (Debian's package, `fsync` on) runs on this machine beside the registry processes \
         and the load generator: all share its 2 cores. The fleet was moved from SQLite \
         with `sekuire-registry migrate` in {:.1} s (counts checked). With two processes, \
         requests take turns between them, lease clients are spread over both, and the \
         live streams are open on one process while the changes go through \
         the other. p50 of {REQUESTS} sequential requests, in ms.\n",
        prepared.seed_time.as_secs_f64(),
        moved.server,
        moved.took.as_secs_f64()
    );
    let mut header = vec!["figure".to_owned()];
    header.extend(runs.iter().map(|r| r.label.to_owned()));
    header.push("goal".into());
    row(&mut out, &header);
    let mut align = vec!["---".to_owned()];
    align.extend(runs.iter().map(|_| "---:".to_owned()));
    align.push("---".into());
    row(&mut out, &align);
    for (i, (label, query)) in registry::LIST_CASES.iter().enumerate() {
        let mut cells = vec![format!("list: {label} (`{query}`)")];
        cells.extend(runs.iter().map(|r| ms(r.lists[i].p50)));
        cells.push("≤ 50 ms".into());
        row(&mut out, &cells);
    }
    let mut cells = vec![Sweep::label()];
    cells.extend(runs.iter().map(|r| r.sweep.cell()));
    cells.push("none over 50 ms".into());
    row(&mut out, &cells);
    let mut cells = vec!["dashboard: first fleet render, navigation → 50 rows, p50 ms".to_owned()];
    cells.extend(runs.iter().map(|r| {
        format!(
            "{} ({:.2}×)",
            ms(r.first_render),
            r.first_render.as_secs_f64() / reference.as_secs_f64().max(1e-9)
        )
    }));
    cells.push(format!(
        "≤ 1.5 × the render at {REFERENCE_AGENTS} agents on SQLite ({} ms)",
        ms(reference)
    ));
    row(&mut out, &cells);
    let mut cells = vec!["`GET /api/v1/fleet/summary`".to_owned()];
    cells.extend(runs.iter().map(|r| ms(r.summary.p50)));
    cells.push("≤ 20 ms".into());
    row(&mut out, &cells);
    for (i, clients) in LEASE_CLIENTS.iter().enumerate() {
        let mut cells = vec![format!("leases/s, {clients} clients (p99 ms; errors)")];
        cells.extend(runs.iter().map(|r| {
            format!(
                "{:.0} ({}; {})",
                r.leases[i].per_second,
                ms(r.leases[i].latency.p99),
                r.leases[i].errors
            )
        }));
        cells.push(format!(
            "≥ {LEASE_GOAL:.0}/s (ceiling here: trivial handler, {} clients, {:.0}/s)",
            registry::CONCURRENCY,
            ceiling.per_second
        ));
        row(&mut out, &cells);
        let mut cells = vec![format!(
            "leases, {clients} clients: CPU a lease in the registry + the load generator + \
             the rest of the machine (PostgreSQL, where it runs); machine busy; the rate its \
             cores allow at that cost; how long the registry's threads waited for a core, \
             and SQLite's lease writer's time running and waiting"
        )];
        cells.extend(
            runs.iter()
                .map(|r| r.lease_costs[i].cell(r.leases[i].latency.count as f64)),
        );
        let cores = cpu::cores();
        cells.push(format!(
            "{LEASE_GOAL:.0}/s on {cores} cores needs ≤ {:.0} µs a lease in all",
            cores * 1e6 / LEASE_GOAL
        ));
        row(&mut out, &cells);
    }
    let mut cells = vec![format!(
        "live events: {STREAMS} streams × {CHANGES} changes, p50 / p99 ms (delivered)"
    )];
    cells.extend(runs.iter().map(|r| {
        format!(
            "{} / {} ({}/{})",
            ms(r.fanout.p50),
            ms(r.fanout.p99),
            r.fanout.count,
            r.fanout_expected
        )
    }));
    cells.push("≤ 50 ms".into());
    row(&mut out, &cells);
    let _ = writeln!(out);
    out
}
