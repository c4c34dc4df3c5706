//! Two registry processes on one PostgreSQL database behave as one registry: a change
//! made through one is on the other's live stream, a ticket issued by one opens a stream
//! on the other, and SIGKILL of one in the middle of load loses nothing it acknowledged
//! while the other goes on serving. PostgreSQL only: SQLite is one process's database.

use crate::durability::{assert_all_acknowledged, chaos_fleet, drive, start_registry, Tally};
use crate::harness::{fresh_database, postgres_server, wait_for_event};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn two_processes_on_one_database_are_one_registry() {
    if postgres_server().is_none() {
        eprintln!("PostgreSQL only: set SEKUIRE_TEST_POSTGRES (cargo xtask test does)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let (key, ids) = chaos_fleet(&db).await;
    let (mut first, first_base) = start_registry(&db);
    let (mut second, second_base) = start_registry(&db);
    let client = reqwest::Client::new();

    // A ticket issued by the first process opens a stream on the second.
    let ticket: Value = client
        .post(format!("{first_base}/api/v1/events/ticket"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stream = client
        .get(format!(
            "{second_base}/api/v1/events?ticket={}",
            ticket["ticket"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200, "a ticket works on any process");

    // A pause through the first process is on the second's stream, and readable there.
    let paused = &ids[0];
    let (status, body) = {
        let response = client
            .post(format!("{first_base}/api/v1/agents/{paused}/pause"))
            .header("X-API-Key", &key)
            .json(&json!({ "reason": "seen everywhere" }))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200, "{body}");
    let event = wait_for_event(stream, "agent", Duration::from_secs(10), |agent| {
        agent["sekuire_id"] == *paused
    })
    .await;
    assert_eq!(event["runtime_status"], "paused");
    let agent: Value = client
        .get(format!("{second_base}/api/v1/agents/{paused}"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        agent["runtime_status"], "paused",
        "at once, on the other process"
    );

    // Load through both; the first is killed mid-load; the second goes on serving.
    let tally = Tally::default();
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let base = if worker % 2 == 0 {
                &first_base
            } else {
                &second_base
            };
            let tally = tally.clone();
            tokio::spawn(drive(base.clone(), key.clone(), ids.clone(), worker, tally))
        })
        .collect();
    tally.reach(40).await;
    first.kill();
    let list = client
        .get(format!("{second_base}/api/v1/agents?limit=100"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200, "the second process goes on serving");
    tally.reach(tally.count() + 20).await;
    second.kill();
    let mut acknowledged = Vec::new();
    for handle in workers {
        acknowledged.extend(handle.await.unwrap());
    }

    let (_check, check_base) = start_registry(&db);
    assert_all_acknowledged(&check_base, &key, &ids, &acknowledged).await;
}
