//! A compat-only Sekuire registry, for tests.
//!
//! Sekuire's CLI and SDKs talk to a hosted registry (`https://api.sekuire.ai`) that we do not
//! run. This binary stands in for it: it answers only the requests Sekuire's published client
//! code is seen to make (`sekuire-cli` 0.2.11: `search`, `verify`, `agent-status`, `stop`,
//! `resume`, `kill`, `logs`, `login`), with bodies built from Sekuire's published types
//! (`sekuire-protocol` 0.1.2). It never uses our own `fleet-protocol` crate.
//!
//! What it leaves out, on purpose: everything our registry adds on top of Sekuire's API (list
//! totals and cursors, agent health, revisions, ETag/If-Match, live events, the audit trail,
//! the fleet summary, bulk actions, the OpenAPI document, CORS). A client that works against
//! this binary therefore relies only on what the hosted registry is known to answer. Where the
//! client code is silent (the error body, the lifecycle reply) it answers with small plain
//! shapes that are deliberately not ours.
//!
//! It keeps its fleet in memory, seeded from a JSON file at start: it is a test stand-in for a
//! registry we do not run, so nothing outlives the process.
//!
//! Routes, all under `/api/v1` (those marked *key* need `X-API-Key: <--key>`, else 401):
//!
//! | Route | Answer | Client code |
//! |---|---|---|
//! | `POST /api-keys/verify` | `{"valid", "org_id"}` or `{"valid": false, "error"}` | `login.rs` |
//! | `GET /me` *key* | `UserContextResponse` | `services/auth.rs` |
//! | `GET /agents?q&verification_status&limit` | `{"agents": [AgentResponse]}` | `search.rs` (sends no key) |
//! | `GET /agents/{id}` | `AgentResponse` + runtime fields | `status_cmd.rs`; `verify.rs` (no key) |
//! | `POST /agents/{id}/pause\|resume\|terminate` *key* | `{"success", "message"}` | `lifecycle.rs` |
//! | `GET /agents/{id}/logs?limit&offset&event_type&severity&session_id` *key* | `GetLogsResponse` | `logs.rs` |
//! | `POST /agents/{id}/logs/batch` *key* | `LogEventResponse` | `LogEventRequest` |

mod agents;
mod auth;
mod error;
mod fleet;
mod logs;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use clap::Parser;

use crate::agents::{get_agent, lifecycle_action, list_agents};
use crate::auth::{me, require_key, verify_key};
use crate::error::ApiError;
use crate::fleet::{Registry, Seed, Shared};
use crate::logs::{get_logs, post_logs};

#[derive(Parser)]
#[command(
    name = "sekuire-compat-registry",
    about = "Test stand-in for Sekuire's hosted registry"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// The one API key accepted (header `X-API-Key`).
    #[arg(long)]
    key: String,
    /// JSON array of agents to start with.
    #[arg(long)]
    fleet: PathBuf,
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not found")
}

fn app(registry: Shared) -> Router {
    let keyed = Router::new()
        .route("/me", get(me))
        .route("/agents/{id}/{action}", post(lifecycle_action))
        .route("/agents/{id}/logs", get(get_logs))
        .route("/agents/{id}/logs/batch", post(post_logs))
        .route_layer(middleware::from_fn_with_state(
            registry.clone(),
            require_key,
        ));
    // The CLI's `search` and `verify` send no key, so these answer without one.
    let open = Router::new()
        .route("/api-keys/verify", post(verify_key))
        .route("/agents", get(list_agents))
        .route("/agents/{id}", get(get_agent));
    Router::new()
        .nest("/api/v1", open.merge(keyed))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(registry)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.key.is_empty() {
        bail!("--key must not be empty");
    }
    let text = std::fs::read_to_string(&args.fleet)
        .with_context(|| format!("reading {}", args.fleet.display()))?;
    let seeds: Vec<Seed> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", args.fleet.display()))?;
    let registry = Arc::new(Registry::new(args.key, seeds)?);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "Registry listening on http://{addr}")?;
        stdout.flush()?;
    }
    axum::serve(listener, app(registry)).await?;
    Ok(())
}
