//! `sekuire-registry migrate`: an SQLite registry that served real load is copied into
//! PostgreSQL, and a registry on PostgreSQL then serves every acknowledged change, the
//! audit trail and the keys. A second migrate into the same database is refused.

use crate::durability::{assert_all_acknowledged, chaos_fleet, drive, start_registry, Tally};
use crate::harness::{db_path, fresh_database, postgres_server};
use fleet_registry::store::Database;
use std::process::Command;

fn migrate(from: &std::path::Path, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sekuire-registry"))
        .args(["migrate", "--from"])
        .arg(from)
        .args(["--to", to])
        .output()
        .expect("migrate runs")
}

#[tokio::test]
async fn an_sqlite_registry_moves_to_postgres_with_everything_it_acknowledged() {
    if postgres_server().is_none() {
        eprintln!("PostgreSQL only: set SEKUIRE_TEST_POSTGRES (cargo xtask test does)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = db_path(dir.path());
    let sqlite = Database::Sqlite(file.clone());
    let (key, ids) = chaos_fleet(&sqlite).await;
    let (mut registry, base) = start_registry(&sqlite);
    let tally = Tally::default();
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let tally = tally.clone();
            tokio::spawn(drive(base.clone(), key.clone(), ids.clone(), worker, tally))
        })
        .collect();
    tally.reach(60).await;
    registry.kill();
    let mut acknowledged = Vec::new();
    for worker in workers {
        acknowledged.extend(worker.await.unwrap());
    }

    let Database::Postgres(url) = fresh_database(dir.path()).await else {
        unreachable!("a PostgreSQL server is set");
    };
    let output = migrate(&file, &url);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("audit_entries"), "{stdout}");
    assert!(stdout.contains("the same on both sides"), "{stdout}");

    // The key, every agent's state and every acknowledged audit entry, on PostgreSQL.
    let (_registry, base) = start_registry(&Database::Postgres(url.clone()));
    assert_all_acknowledged(&base, &key, &ids, &acknowledged).await;

    let again = migrate(&file, &url);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("migrate only into an empty registry"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
