//! The real registry binary killed with SIGKILL in the middle of concurrent lifecycle load,
//! then restarted on the same database: every change it acknowledged is in the audit
//! trail, and every agent's state is its newest audit entry's `to_status`.

use crate::harness::fresh_database;
use fleet_protocol::Role;
use fleet_registry::store::{Database, NewAgent, Store};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `--db` for `database`.
fn db_arg(database: &Database) -> OsString {
    match database {
        Database::Sqlite(path) => path.clone().into(),
        Database::Postgres(url) => url.into(),
    }
}

/// A registry process; dropping it kills it, so a failing test leaves none behind
/// (holding the test's output open).
pub struct Registry(Child);

impl Registry {
    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `sekuire-registry serve` on a free port; returns it and its base URL.
pub fn start_registry(db: &Database) -> (Registry, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sekuire-registry"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
            "--db",
        ])
        .arg(db_arg(db))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("registry starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines.next().expect("a listening line").expect("output");
        if let Some(rest) = line.strip_prefix("Registry listening on ") {
            break rest.split_whitespace().next().expect("url").to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (Registry(child), base)
}

/// A change the registry acknowledged: the agent, its audit entry and the state it reached.
#[derive(Debug)]
pub struct Acknowledged {
    sekuire_id: String,
    audit_id: i64,
    to_status: String,
}

/// How many changes the `drive`s sharing it have had acknowledged so far.
///
/// Tests kill a registry once the load has made a number of changes, not after a time:
/// a loaded machine slows them down but cannot leave them without changes to check.
#[derive(Clone, Default)]
pub struct Tally(Arc<AtomicUsize>);

impl Tally {
    /// Changes acknowledged so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Waits until `count` changes have been acknowledged in all.
    pub async fn reach(&self, count: usize) {
        let reached = async {
            while self.count() < count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(60), reached)
            .await
            .is_err()
        {
            panic!(
                "{} of {count} changes acknowledged in a minute",
                self.count()
            );
        }
    }
}

/// Sends pause/resume (and, now and then, terminate) to `ids` until the registry stops
/// answering; returns what it acknowledged as changed, and counts it in `tally`.
pub async fn drive(
    base: String,
    key: String,
    ids: Vec<String>,
    worker: usize,
    tally: Tally,
) -> Vec<Acknowledged> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut acknowledged = Vec::new();
    for round in 0.. {
        let id = &ids[(round * 7 + worker) % ids.len()];
        let action = match (round + worker) % 11 {
            10 => "terminate",
            n if n % 2 == 0 => "pause",
            _ => "resume",
        };
        let response = client
            .post(format!("{base}/api/v1/agents/{id}/{action}"))
            .header("X-API-Key", &key)
            .json(&json!({ "reason": format!("load {worker}/{round}") }))
            .send()
            .await;
        let Ok(response) = response else { break };
        let Ok(body) = response.json::<Value>().await else {
            break;
        };
        if body["changed"] == true {
            acknowledged.push(Acknowledged {
                sekuire_id: id.clone(),
                audit_id: body["audit_id"].as_i64().expect("audit id"),
                to_status: body["agent"]["runtime_status"]
                    .as_str()
                    .expect("state")
                    .to_owned(),
            });
            tally.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    acknowledged
}

async fn get(client: &reqwest::Client, base: &str, key: &str, path: &str) -> Value {
    client
        .get(format!("{base}{path}"))
        .header("X-API-Key", key)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn sigkill_under_lifecycle_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let (key, ids) = chaos_fleet(&db).await;
    let mut acknowledged = Vec::new();
    let tally = Tally::default();
    for cycle in 1..=3 {
        let (mut registry, base) = start_registry(&db);
        let workers: Vec<_> = (0..8)
            .map(|worker| {
                let tally = tally.clone();
                tokio::spawn(drive(base.clone(), key.clone(), ids.clone(), worker, tally))
            })
            .collect();
        tally.reach(25 * cycle).await;
        registry.kill();
        for worker in workers {
            acknowledged.extend(worker.await.unwrap());
        }
    }
    let (_registry, base) = start_registry(&db);
    assert_all_acknowledged(&base, &key, &ids, &acknowledged).await;
}

/// An admin key and 60 active agents in `db`.
pub async fn chaos_fleet(db: &Database) -> (String, Vec<String>) {
    let store = Store::open(db.clone()).await.unwrap();
    let key = store
        .create_key("chaos", Role::Admin, "default")
        .await
        .unwrap();
    let now = fleet_registry::clock::now_ms();
    let agents: Vec<NewAgent> = (0..60)
        .map(|i| NewAgent::active(format!("c0ffee{i:06x}"), format!("chaos-{i}"), now))
        .collect();
    store.insert_agents(&agents).await.unwrap();
    (
        key,
        agents.into_iter().map(|a| a.sekuire_id).collect::<Vec<_>>(),
    )
}

/// Checks through `base` that every acknowledged change is in the audit trail and that
/// each agent is in its newest entry's state.
pub async fn assert_all_acknowledged(
    base: &str,
    key: &str,
    ids: &[String],
    acknowledged: &[Acknowledged],
) {
    assert!(
        acknowledged.len() > 50,
        "the load made changes: {}",
        acknowledged.len()
    );
    let client = reqwest::Client::new();
    let mut newest: HashMap<String, (i64, String)> = HashMap::new();
    for id in ids {
        let audit = get(
            &client,
            base,
            key,
            &format!("/api/v1/agents/{id}/audit?limit=500"),
        )
        .await;
        let entries = audit["entries"].as_array().expect("entries");
        let recorded: HashMap<i64, &str> = entries
            .iter()
            .map(|e| (e["id"].as_i64().unwrap(), e["to_status"].as_str().unwrap()))
            .collect();
        for ack in acknowledged.iter().filter(|a| &a.sekuire_id == id) {
            assert_eq!(
                recorded.get(&ack.audit_id).copied(),
                Some(ack.to_status.as_str()),
                "acknowledged change {ack:?} is in the audit trail"
            );
        }
        if let Some(first) = entries.first() {
            newest.insert(
                id.clone(),
                (
                    first["id"].as_i64().unwrap(),
                    first["to_status"].as_str().unwrap().to_owned(),
                ),
            );
        }
        let agent = get(&client, base, key, &format!("/api/v1/agents/{id}")).await;
        let expected = newest
            .get(id)
            .map_or("active", |(_, status)| status.as_str());
        assert_eq!(agent["runtime_status"], expected, "agent {id}");
    }
}
