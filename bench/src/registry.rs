//! Registry figures: list latency per filter and sort, lease throughput against a trivial
//! axum handler as ceiling, SSE fan-out latency, resident memory.

use crate::stats::{load, Summary, Throughput};
use anyhow::{Context, Result};
use fleet_e2e::Registry;
use fleet_protocol::{BootstrapRequest, Role, RuntimeStatus};
use fleet_registry::store::Store;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Keys the fan-out's streams are spread over, as a key may hold only so many streams:
/// enough for 128 streams.
const STREAM_KEYS: usize = 128_usize.div_ceil(fleet_registry::events::MAX_STREAMS_PER_KEY);

/// Concurrent clients of the load generator.
pub const CONCURRENCY: usize = 32;

/// A database of `agents` agents, a key, and installations ready to lease.
pub struct Prepared {
    pub dir: TempDir,
    pub key: String,
    /// Viewer keys for the event streams: a key may hold 16 streams at once.
    pub stream_keys: Vec<String>,
    pub installations: Vec<(String, String)>,
    pub seed_time: Duration,
}

pub async fn prepare(agents: usize, installations: usize) -> Result<Prepared> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("registry.db")).await?;
    let started = Instant::now();
    fleet_registry::demo::seed_fleet(&store, agents, 1).await?;
    let seed_time = started.elapsed();
    let key = store.create_key("bench", Role::Admin, "default").await?;
    let mut stream_keys = Vec::with_capacity(STREAM_KEYS);
    for i in 0..STREAM_KEYS {
        let name = format!("bench-streams-{i}");
        stream_keys.push(store.create_key(&name, Role::Viewer, "default").await?);
    }
    let live: Vec<String> = store
        .agent_ids()
        .await?
        .into_iter()
        .filter(|(_, s)| *s != RuntimeStatus::Terminated)
        .map(|(id, _)| id)
        .take(installations)
        .collect();
    let mut installations = Vec::with_capacity(live.len());
    for id in &live {
        let (token, _) = store
            .create_install_token("default", id, Some(60), "bench")
            .await?;
        let (boot, _) = store
            .bootstrap(&BootstrapRequest {
                install_token: token,
                heartbeat_interval_seconds: Some(60),
                ..Default::default()
            })
            .await?;
        installations.push((boot.installation_id, boot.runtime_token));
    }
    Ok(Prepared {
        dir,
        key,
        stream_keys,
        installations,
        seed_time,
    })
}

impl Prepared {
    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("registry.db")
    }

    /// Leases every installation once, in process. A fresh fleet's paused agents give their
    /// installations a `pause` to hand over, once each, and a lease that hands one over
    /// does more (it clears the agent's pending command; builds before `17c5398` also read
    /// the agent): without this, the first run on the fleet alone met those leases.
    pub async fn hand_over_first_commands(&self) -> Result<()> {
        let store = Store::open(&self.db()).await?;
        let answers: Vec<_> = futures_util::stream::iter(&self.installations)
            .map(|(id, token)| store.lease(id, token, None, None))
            .buffer_unordered(512)
            .collect()
            .await;
        for answer in answers {
            answer?;
        }
        Ok(())
    }
}

/// Fleet-list queries measured, as a user of the dashboard would issue them.
pub const LIST_CASES: [(&str, &str); 18] = [
    ("all, by name", "sort=name"),
    (
        "active, by reputation desc",
        "runtime_status=active&sort=-reputation_score",
    ),
    (
        "paused+terminated, by state",
        "runtime_status=paused,terminated&sort=runtime_status",
    ),
    (
        "healthy, newest heartbeat",
        "health=healthy&sort=-last_heartbeat_at",
    ),
    (
        "verified, rep ≥ 50, recently changed",
        "verification_status=verified&min_reputation=50&sort=-updated_at",
    ),
    ("search `triage`, by name", "q=triage&sort=name"),
    // A team's name starts its agents' names, so its matches sit together, late in the
    // name order: a walk of the name index passes every name before them.
    ("search a team name, by name", "q=security&sort=name"),
    (
        "search that matches nothing (a typo)",
        "q=triage-7&sort=name",
    ),
    // Two characters have no trigram: PostgreSQL finds them through the index of name
    // pieces, with a plan that must be made for this search and not reused for a dense one.
    ("two-character search, no match", "q=xq&sort=name"),
    ("id prefix search", "q=ab&sort=name"),
    // A few thousand matches under another sort: PostgreSQL walked the reputation index
    // past 26,000 rows for them.
    (
        "id prefix search, by reputation desc",
        "q=ab&sort=-reputation_score",
    ),
    // A search with a facet: no name-ordered index serves both, so each engine chooses
    // between walking the sort's index and gathering the matches.
    (
        "search a team name, active, by name",
        "q=security&runtime_status=active&sort=name",
    ),
    (
        "search a team name, verified, by reputation desc",
        "q=security&verification_status=verified&sort=-reputation_score",
    ),
    (
        "typo with a facet, by name",
        "q=triage-7&runtime_status=active&sort=name",
    ),
    // A search that could start a Sekuire ID, with a facet: SQLite chose the facet's
    // index over the ID range and read a third of the fleet.
    (
        "id prefix search, active, by reputation desc",
        "q=ab&runtime_status=active&sort=-reputation_score",
    ),
    (
        "search a team name, paused, recently changed",
        "q=security&runtime_status=paused&sort=-updated_at",
    ),
    // One character no name holds: PostgreSQL read every name for it (180–300 ms).
    ("one-character typo, by name", "q=%25&sort=name"),
    // Minutes after the fleet is seeded, most agents' deadlines passed in the last 15
    // minutes and none of them is stale: both engines read them all for the page or the
    // count (0.13–0.65 s) while the range reached back 1.5 of the longest interval allowed.
    ("stale, by name", "health=stale&sort=name"),
];

/// Median and p99 of `count` sequential requests to `path` (after a warm-up).
pub async fn time_get(
    client: &reqwest::Client,
    registry: &Registry,
    key: &str,
    path: &str,
    count: usize,
) -> Result<Summary> {
    time_get_over(client, &[registry], key, path, count).await
}

/// [`time_get`], the requests taking turns over `registries` (processes of one registry).
pub async fn time_get_over(
    client: &reqwest::Client,
    registries: &[&Registry],
    key: &str,
    path: &str,
    count: usize,
) -> Result<Summary> {
    let urls: Vec<String> = registries
        .iter()
        .map(|r| format!("{}{path}", r.base))
        .collect();
    let get = |n: usize| {
        let url = &urls[n % urls.len()];
        async move {
            let response = client.get(url).header("X-API-Key", key).send().await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.bytes().await?;
            anyhow::Ok(())
        }
    };
    for n in 0..5 {
        get(n).await?;
    }
    let mut samples = Vec::with_capacity(count);
    for n in 0..count {
        let started = Instant::now();
        get(n).await?;
        samples.push(started.elapsed());
    }
    Ok(Summary::of(samples))
}

/// The page-2 cursor of a query, to measure a keyset continuation too.
pub async fn second_page_path(
    client: &reqwest::Client,
    registry: &Registry,
    key: &str,
    query: &str,
) -> Result<String> {
    let page: serde_json::Value = client
        .get(format!("{}/api/v1/agents?{query}&limit=50", registry.base))
        .header("X-API-Key", key)
        .send()
        .await?
        .json()
        .await?;
    let cursor = page["next_cursor"].as_str().context("a second page")?;
    Ok(format!("/api/v1/agents?{query}&limit=50&cursor={cursor}"))
}

/// Lease throughput over loopback from [`CONCURRENCY`] clients.
pub async fn lease_throughput(
    registry: &Registry,
    installations: &[(String, String)],
    duration: Duration,
) -> Throughput {
    lease_throughput_over(&[registry], installations, duration, CONCURRENCY).await
}

/// [`lease_throughput`] with `clients` installations leasing at once, spread over
/// `registries` (processes of one registry).
pub async fn lease_throughput_over(
    registries: &[&Registry],
    installations: &[(String, String)],
    duration: Duration,
    clients: usize,
) -> Throughput {
    let client = reqwest::Client::new();
    let bases: Arc<Vec<String>> = Arc::new(registries.iter().map(|r| r.base.clone()).collect());
    let installations = Arc::new(installations.to_vec());
    load(clients, duration, move |worker, n| {
        let client = client.clone();
        let (id, token) = installations[(worker * 7919 + n) % installations.len()].clone();
        let base = &bases[worker % bases.len()];
        let url = format!("{base}/api/v1/installations/{id}/lease");
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&serde_json::json!({"status": "running", "heartbeat_interval_seconds": 60}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await
}

/// The same generator against a handler that does nothing: the ceiling of this machine,
/// this HTTP stack and this client.
pub async fn trivial_ceiling(base: &str, duration: Duration) -> Throughput {
    let client = reqwest::Client::new();
    let url = format!("{base}/lease");
    load(CONCURRENCY, duration, move |_, _| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .post(url)
                .bearer_auth("token")
                .json(&serde_json::json!({"status": "running", "heartbeat_interval_seconds": 60}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await
}

/// Serves `POST /lease` with a constant answer until the process is killed.
pub async fn serve_trivial() -> Result<()> {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/lease",
        post(|| async {
            axum::Json(serde_json::json!({"lease_expires_at": "2026-01-15T10:30:00Z"}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// A child process running [`serve_trivial`].
pub struct TrivialServer {
    child: std::process::Child,
    pub base: String,
}

impl TrivialServer {
    pub fn start() -> Result<TrivialServer> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg("trivial-server")
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .context("trivial server address")?
            .to_owned();
        Ok(TrivialServer { child, base })
    }
}

impl Drop for TrivialServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Latency from a lifecycle command being sent to its `agent` event arriving at each of
/// `clients` open event streams.
pub async fn sse_fanout(
    registry: &Registry,
    key: &str,
    stream_keys: &[String],
    agent: &str,
    clients: usize,
    changes: usize,
) -> Result<Summary> {
    sse_fanout_across(
        registry,
        registry,
        key,
        stream_keys,
        agent,
        clients,
        changes,
    )
    .await
}

/// [`sse_fanout`] with the streams open on `streams_on` and the changes sent through
/// `changed_through`: across processes when they are two.
pub async fn sse_fanout_across(
    streams_on: &Registry,
    changed_through: &Registry,
    key: &str,
    stream_keys: &[String],
    agent: &str,
    clients: usize,
    changes: usize,
) -> Result<Summary> {
    let client = reqwest::Client::new();
    let received: Arc<Mutex<HashMap<(usize, i64), Instant>>> = Arc::default();
    let mut readers = Vec::new();
    for c in 0..clients {
        let ticket: serde_json::Value = client
            .post(format!("{}/api/v1/events/ticket", streams_on.base))
            .header("X-API-Key", &stream_keys[c % stream_keys.len()])
            .send()
            .await?
            .json()
            .await?;
        let ticket = ticket["ticket"].as_str().context("ticket")?.to_owned();
        let response = client
            .get(format!("{}/api/v1/events?ticket={ticket}", streams_on.base))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "event stream {c} was refused: {}",
            response.status()
        );
        let received = received.clone();
        let agent = agent.to_owned();
        readers.push(tokio::spawn(async move {
            let mut stream = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let message: String = buffer.drain(..end + 2).collect();
                    if !message.contains("event: agent") {
                        continue;
                    }
                    let data = message.lines().find_map(|l| l.strip_prefix("data: "));
                    let Some(value) =
                        data.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                    else {
                        continue;
                    };
                    if value["sekuire_id"] == agent.as_str() {
                        let revision = value["revision"].as_i64().unwrap_or_default();
                        if let Ok(mut map) = received.lock() {
                            map.insert((c, revision), Instant::now());
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut sent = Vec::new();
    for i in 0..changes {
        let action = if i % 2 == 0 { "pause" } else { "resume" };
        let started = Instant::now();
        let done: serde_json::Value = client
            .post(format!(
                "{}/api/v1/agents/{agent}/{action}",
                changed_through.base
            ))
            .header("X-API-Key", key)
            .json(&serde_json::json!({"reason": "fan-out benchmark"}))
            .send()
            .await?
            .json()
            .await?;
        sent.push((
            done["agent"]["revision"].as_i64().unwrap_or_default(),
            started,
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for reader in &readers {
        reader.abort();
    }
    let map = received.lock().map(|m| m.clone()).unwrap_or_default();
    let mut samples = Vec::new();
    for (revision, started) in sent {
        for c in 0..clients {
            if let Some(at) = map.get(&(c, revision)) {
                samples.push(at.duration_since(started));
            }
        }
    }
    Ok(Summary::of(samples))
}

/// Resident memory of a process, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))
        .unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or_default()
}
