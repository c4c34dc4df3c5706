//! A real registry on a random loopback port over a fresh database, with one key per role,
//! driven over HTTP like any client would. The database is an SQLite file, or, when
//! `SEKUIRE_TEST_POSTGRES` names a PostgreSQL server (`cargo xtask test` starts one), a
//! fresh database on that server: the whole suite runs on either backend.

use fleet_protocol::Role;
use fleet_registry::store::{Database, NewAgent, Store};
use fleet_registry::{app, AppState, Config};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin: String,
    pub operator: String,
    pub viewer: String,
    pub store: Store,
    pub database: Database,
    pub dir: TempDir,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

static NEXT_AGENT: AtomicU64 = AtomicU64::new(1);

/// A unique short Sekuire ID, as docs and tests use them (`7f8a9b3c2d1e`).
pub fn fresh_id() -> String {
    format!(
        "{:012x}",
        0xa000_0000_0000 + NEXT_AGENT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("registry.db")
}

/// The PostgreSQL server the suite runs on, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var("SEKUIRE_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A database of its own for one test: a file in `dir`, or a new database on the
/// PostgreSQL server.
pub async fn fresh_database(dir: &Path) -> Database {
    let Some(server) = postgres_server() else {
        return Database::Sqlite(db_path(dir));
    };
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("the test PostgreSQL server answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    let mut url = url::Url::parse(&server).expect("a server URL");
    url.set_path(&name);
    Database::Postgres(url.into())
}

/// Runs `sql` on `database` over a connection of its own, as another program would.
pub async fn execute(database: &Database, sql: &str) -> Result<u64, sqlx::Error> {
    Ok(match database {
        Database::Sqlite(path) => {
            let mut db =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
            sqlx::raw_sql(sql).execute(&mut db).await?.rows_affected()
        }
        Database::Postgres(url) => {
            let mut db = sqlx::PgConnection::connect(url).await?;
            sqlx::raw_sql(sql).execute(&mut db).await?.rows_affected()
        }
    })
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Config::default()).await
    }

    pub async fn spawn_with(config: Config) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = fresh_database(dir.path()).await;
        let store = Store::open(database.clone()).await.expect("open store");
        let admin = store
            .create_key("admin-alice", Role::Admin, "default")
            .await
            .expect("key");
        let operator = store
            .create_key("operator-olga", Role::Operator, "default")
            .await
            .expect("key");
        let viewer = store
            .create_key("viewer-victor", Role::Viewer, "default")
            .await
            .expect("key");
        Self::serve(dir, database, store, config, admin, operator, viewer).await
    }

    async fn serve(
        dir: TempDir,
        database: Database,
        store: Store,
        config: Config,
        admin: String,
        operator: String,
        viewer: String,
    ) -> TestApp {
        let (state, stop) = AppState::new(store.clone(), config).await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut shutdown = state.shutdown.clone();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await
            .expect("serve");
        });
        TestApp {
            base,
            client: reqwest::Client::new(),
            admin,
            operator,
            viewer,
            store,
            database,
            dir,
            stop,
            server,
        }
    }

    /// Stops the server and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        let _ = self.stop.send(true);
        self.server.await.expect("server stopped cleanly");
        let store = Store::open(self.database.clone())
            .await
            .expect("reopen store");
        Self::serve(
            self.dir,
            self.database,
            store,
            Config::default(),
            self.admin,
            self.operator,
            self.viewer,
        )
        .await
    }

    /// Runs `sql` on this registry's database behind its back.
    pub async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        execute(&self.database, sql).await
    }

    /// The SQLite file, for tests of what only SQLite has (files, its write lock); `None`
    /// on PostgreSQL, where such a test says so and has nothing to check.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match &self.database {
            Database::Sqlite(path) => Some(path.clone()),
            Database::Postgres(_) => {
                eprintln!("SQLite only: nothing to check on PostgreSQL");
                None
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers an active, verified agent and returns its id.
    pub async fn add_agent(&self, name: &str) -> String {
        let id = fresh_id();
        self.store
            .insert_agents(&[NewAgent {
                reputation_score: 85,
                ..NewAgent::active(id.clone(), name, fleet_registry::clock::now_ms())
            }])
            .await
            .expect("insert agent");
        id
    }

    pub async fn get(&self, key: &str, path: &str) -> (StatusCode, Value) {
        read(self.get_response(key, path).await).await
    }

    /// A GET whose answer is read as it comes: headers, a stream, CSV.
    pub async fn get_response(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("X-API-Key", key)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("X-API-Key", key)
            .json(&body)
            .send()
            .await
            .expect("request");
        read(response).await
    }

    /// Sends a lifecycle command (`pause`, `resume`, `terminate`) to agent `id` as `key`.
    pub async fn act(&self, key: &str, id: &str, action: &str, body: Value) -> (StatusCode, Value) {
        self.post(key, &format!("/api/v1/agents/{id}/{action}"), body)
            .await
    }

    /// Number of audit entries recorded for an agent.
    pub async fn audit_count(&self, id: &str) -> usize {
        let (status, body) = self
            .get(&self.admin, &format!("/api/v1/agents/{id}/audit?limit=500"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["entries"].as_array().map_or(0, Vec::len)
    }
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    (status, body)
}

/// Asserts an error body of the spec's shape with the given code.
pub fn assert_error(status: StatusCode, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status.as_u16(), expected_status, "body: {body}");
    assert_eq!(body["error"], code, "body: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error has a message: {body}"
    );
}

/// Reads an SSE response until an event named `name` whose data satisfies `wanted`, for
/// at most `within`.
pub async fn wait_for_event(
    response: reqwest::Response,
    name: &str,
    within: Duration,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let read = async {
        while let Some(chunk) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk.expect("stream")));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let field = |prefix: &str| {
                    event
                        .lines()
                        .find_map(|l| l.strip_prefix(prefix))
                        .map(str::trim)
                        .map(str::to_owned)
                };
                if field("event:").as_deref() == Some(name) {
                    let data: Value = serde_json::from_str(&field("data:").unwrap()).unwrap();
                    if wanted(&data) {
                        return data;
                    }
                }
            }
        }
        panic!("the stream ended before a {name} event");
    };
    tokio::time::timeout(within, read)
        .await
        .unwrap_or_else(|_| panic!("no {name} event within {within:?}"))
}
