//! A believable fleet for demos and scale tests, and simulated installations that lease
//! over the same HTTP API a real agent runtime uses.

use crate::clock::now_ms;
use crate::error::AppResult;
use crate::store::{LifecycleCommand, NewAgent, Store};
use fleet_protocol::{
    BootstrapRequest, BootstrapResponse, InstallToken, InstallTokenRequest, LeaseRequest,
    LeaseResponse, LifecycleAction, RuntimeStatus, VerificationStatus,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::time::Duration;

const TEAMS: &[&str] = &[
    "billing",
    "support",
    "fraud",
    "search",
    "ledger",
    "onboarding",
    "compliance",
    "pricing",
    "catalog",
    "logistics",
    "claims",
    "risk",
    "growth",
    "security",
    "payroll",
    "inventory",
    "research",
    "legal",
    "marketing",
    "ops",
];
const JOBS: &[&str] = &[
    "triage-agent",
    "summarizer",
    "copilot",
    "reconciler",
    "classifier",
    "router",
    "planner",
    "reviewer",
    "scout",
    "negotiator",
    "auditor",
    "dispatcher",
    "translator",
    "forecaster",
    "responder",
    "curator",
];
const DESCRIPTIONS: &[&str] = &[
    "Reads incoming tickets and routes them to the right queue.",
    "Drafts replies for human review; never sends on its own.",
    "Flags anomalous transactions for the risk team.",
    "Summarizes long threads into a daily digest.",
    "Reconciles ledger entries against bank statements overnight.",
    "Answers policy questions from the internal handbook.",
];
const ACTORS: &[&str] = &["alice", "bob", "oncall-bot", "priya", "security-team"];
const PAUSE_REASONS: &[&str] = &[
    "Maintenance window",
    "Investigating elevated error rate",
    "Upstream API rate-limited us",
    "Cost spike; paused pending review",
    "Model upgrade in progress",
];
const TERMINATE_REASONS: &[&str] = &[
    "Decommissioned - replaced by v2",
    "Credentials leaked; retired",
    "Project cancelled",
    "Failed security review",
];

/// A Sekuire-style id: 64 lowercase hex characters, derived from `seed`.
pub fn sekuire_id_for(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

/// `n` agents with realistic names, versions, states and reputations; the same `seed`
/// gives the same fleet. Everyone starts `active`; [`replay_history`] moves some on.
pub fn generate_fleet(n: usize, seed: u64) -> Vec<NewAgent> {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = now_ms();
    (0..n)
        .map(|i| {
            let name = format!("{}-{}", pick(&mut rng, TEAMS), pick(&mut rng, JOBS));
            let name = if i >= TEAMS.len() * JOBS.len() / 2 {
                format!("{name}-{}", i % 997)
            } else {
                name
            };
            let verification_status = match rng.gen_range(0..100) {
                0..=54 => VerificationStatus::Verified,
                55..=74 => VerificationStatus::Pending,
                75..=89 => VerificationStatus::Unverified,
                _ => VerificationStatus::Suspended,
            };
            let reputation_score = match rng.gen_range(0..10) {
                0 => rng.gen_range(0..40),
                1..=2 => rng.gen_range(40..70),
                _ => rng.gen_range(70..=100),
            };
            let last_heartbeat_at = match rng.gen_range(0..10) {
                0 => None,
                1 => Some(now - rng.gen_range(200_000..86_400_000)),
                _ => Some(now - rng.gen_range(0..80_000)),
            };
            NewAgent {
                sekuire_id: sekuire_id_for(&format!("{seed}/{i}")),
                name,
                version: format!(
                    "{}.{}.{}",
                    rng.gen_range(0..4),
                    rng.gen_range(0..20),
                    rng.gen_range(0..10)
                ),
                description: pick(&mut rng, DESCRIPTIONS).to_owned(),
                runtime_status: RuntimeStatus::Active,
                verification_status,
                reputation_score,
                last_heartbeat_at,
                created_at: now - rng.gen_range(86_400_000..90 * 86_400_000),
                heartbeat_interval_s: fleet_protocol::DEFAULT_HEARTBEAT_INTERVAL_SECS,
            }
        })
        .collect()
}

/// Fills the database with `n` agents and a history: about 15% paused, 10% terminated,
/// and some pauses that were later resumed, each through the store's lifecycle path so
/// the audit trail and event logs agree with the states.
pub async fn seed_fleet(store: &Store, n: usize, seed: u64) -> AppResult<Vec<NewAgent>> {
    seed_fleet_reporting(store, n, seed, &mut |_| {}).await
}

/// How far a seeding run has got: calls come after each chunk of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedProgress {
    /// Agents written so far.
    Inserted(usize),
    /// Agents whose history has been replayed so far.
    Replayed(usize),
}

/// Agents written (and histories replayed) between two progress reports; each chunk of
/// agents is one transaction.
const SEED_CHUNK: usize = 20_000;

/// [`seed_fleet`], telling `report` how far it has got after each chunk, for long runs.
pub async fn seed_fleet_reporting(
    store: &Store,
    n: usize,
    seed: u64,
    report: &mut dyn FnMut(SeedProgress),
) -> AppResult<Vec<NewAgent>> {
    let fleet = generate_fleet(n, seed);
    let mut inserted = 0;
    for chunk in fleet.chunks(SEED_CHUNK) {
        store.insert_agents(chunk).await?;
        inserted += chunk.len();
        report(SeedProgress::Inserted(inserted));
    }
    replay_history(store, &fleet, seed, n <= 5_000, report).await?;
    Ok(fleet)
}

async fn replay_history(
    store: &Store,
    fleet: &[NewAgent],
    seed: u64,
    full: bool,
    report: &mut dyn FnMut(SeedProgress),
) -> AppResult<()> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let now = now_ms();
    for (done, agent) in fleet.iter().enumerate() {
        if done > 0 && done % SEED_CHUNK == 0 {
            report(SeedProgress::Replayed(done));
        }
        let roll = rng.gen_range(0..100);
        let plan: &[(LifecycleAction, &[&str])] = match roll {
            0..=9 => &[(LifecycleAction::Terminate, TERMINATE_REASONS)],
            10..=24 => &[(LifecycleAction::Pause, PAUSE_REASONS)],
            25..=34 if full => &[
                (LifecycleAction::Pause, PAUSE_REASONS),
                (LifecycleAction::Resume, &["Incident resolved"]),
            ],
            _ => &[],
        };
        let mut at = now - rng.gen_range(3_600_000..14 * 86_400_000);
        for (action, reasons) in plan {
            let reason = pick(&mut rng, reasons);
            store
                .apply_lifecycle(&LifecycleCommand {
                    sekuire_id: &agent.sekuire_id,
                    action: *action,
                    reason: Some(reason),
                    actor: pick(&mut rng, ACTORS),
                    expected_revision: None,
                    request_id: "seed",
                    at,
                })
                .await?;
            at += rng.gen_range(600_000..3_600_000);
        }
    }
    report(SeedProgress::Replayed(fleet.len()));
    Ok(())
}

/// How a simulated installation behaves.
#[derive(Debug, Clone, Copy)]
pub struct SimulatedInstallation {
    pub heartbeat_interval_secs: i64,
    /// Stops leasing after this long, as a crashed process would.
    pub falls_silent_after: Option<Duration>,
}

/// Starts simulated installations for `agents`: each gets an install token and bootstraps
/// over HTTP against `base_url`, then leases on its interval until it is terminated (or
/// falls silent). Paused installations keep leasing, as a paused agent keeps its heartbeat.
pub async fn run_installations(
    base_url: String,
    admin_key: String,
    agents: Vec<(String, SimulatedInstallation)>,
) {
    let client = reqwest::Client::new();
    for (sekuire_id, behaviour) in agents {
        let client = client.clone();
        let base_url = base_url.clone();
        let admin_key = admin_key.clone();
        tokio::spawn(async move {
            if let Err(err) =
                simulate_installation(&client, &base_url, &admin_key, &sekuire_id, behaviour).await
            {
                tracing::warn!(sekuire_id = %sekuire_id, error = %err, "simulated installation stopped");
            }
        });
    }
}

async fn simulate_installation(
    client: &reqwest::Client,
    base_url: &str,
    admin_key: &str,
    sekuire_id: &str,
    behaviour: SimulatedInstallation,
) -> anyhow::Result<()> {
    let token: InstallToken = client
        .post(format!(
            "{base_url}/api/v1/workspaces/default/install-tokens"
        ))
        .header("X-API-Key", admin_key)
        .json(&InstallTokenRequest {
            sekuire_id: Some(sekuire_id.to_owned()),
            expiry_minutes: Some(5),
            ..Default::default()
        })
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let bootstrap = BootstrapRequest {
        install_token: token.token,
        upstream_url: Some(format!("http://{sekuire_id}.agents.internal")),
        capabilities: vec!["tasks".into()],
        heartbeat_interval_seconds: Some(behaviour.heartbeat_interval_secs),
    };
    // A whole fleet starting at once from one address meets the per-address limit on
    // bootstraps; like a real runtime, wait as told and try again.
    let installation: BootstrapResponse = loop {
        let response = client
            .post(format!("{base_url}/api/v1/installations/bootstrap"))
            .json(&bootstrap)
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::TOO_MANY_REQUESTS {
            break response.error_for_status()?.json().await?;
        }
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(1);
        let jitter = rand::thread_rng().gen_range(0..1_000);
        tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(jitter)).await;
    };
    let started = tokio::time::Instant::now();
    let mut status = "running";
    let interval = Duration::from_secs(behaviour.heartbeat_interval_secs.max(1) as u64);
    loop {
        if behaviour
            .falls_silent_after
            .is_some_and(|silent| started.elapsed() >= silent)
        {
            return Ok(());
        }
        let lease: LeaseResponse = client
            .post(format!(
                "{base_url}/api/v1/installations/{}/lease",
                installation.installation_id
            ))
            .bearer_auth(&installation.runtime_token)
            .json(&LeaseRequest {
                status: Some(status.to_owned()),
                heartbeat_interval_seconds: Some(behaviour.heartbeat_interval_secs),
                ..Default::default()
            })
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        match lease.pending_command {
            Some(LifecycleAction::Terminate) => return Ok(()),
            Some(LifecycleAction::Pause) => status = "paused",
            Some(LifecycleAction::Resume) => status = "running",
            None => {}
        }
        let jitter = rand::thread_rng().gen_range(0..1_000);
        tokio::time::sleep(interval.mul_f64(0.8) + Duration::from_millis(jitter)).await;
    }
}

/// Chooses which demo agents get a simulated installation: most live agents, a few of
/// which fall silent so that stale and unhealthy health show up within minutes.
pub fn demo_installations(
    fleet: &[(String, RuntimeStatus)],
    seed: u64,
) -> Vec<(String, SimulatedInstallation)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x1157);
    let mut chosen = Vec::new();
    for (id, status) in fleet {
        if *status == RuntimeStatus::Terminated || !rng.gen_bool(0.75) {
            continue;
        }
        let falls_silent_after = rng
            .gen_bool(0.12)
            .then(|| Duration::from_secs(rng.gen_range(20..120)));
        chosen.push((
            id.clone(),
            SimulatedInstallation {
                heartbeat_interval_secs: 20,
                falls_silent_after,
            },
        ));
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_fleet() {
        let a = generate_fleet(50, 7);
        let b = generate_fleet(50, 7);
        assert_eq!(
            a.iter().map(|x| &x.sekuire_id).collect::<Vec<_>>(),
            b.iter().map(|x| &x.sekuire_id).collect::<Vec<_>>()
        );
        assert!(a
            .iter()
            .all(|x| fleet_protocol::is_valid_sekuire_id(&x.sekuire_id)));
        assert!(a.iter().all(|x| x.reputation_score <= 100));
    }
}
