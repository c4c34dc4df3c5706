//! `sekuire-registry`: serve the registry, manage keys, seed a database, or serve the
//! dashboard in front of a registry elsewhere.

use anyhow::Context;
use clap::{Parser, Subcommand};
use fleet_protocol::Role;
use fleet_registry::proxy::Upstream;
use fleet_registry::store::{Database, Store};
use fleet_registry::{app, demo, AppState, Config};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "sekuire-registry",
    version,
    about = "A Sekuire-compatible agent registry"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (and, with --dist, the dashboard).
    Serve {
        /// Address to listen on; port 0 picks a free port (the log line says which).
        #[arg(long, default_value = "127.0.0.1:9300")]
        addr: SocketAddr,
        #[command(flatten)]
        db: DatabaseArg,
        /// Folder of the built dashboard to serve at `/`.
        #[arg(long)]
        dist: Option<PathBuf>,
        /// Seed a demo fleet into an empty database, run simulated installations, and
        /// print a sign-in link with a fresh admin key.
        #[arg(long)]
        demo: bool,
        /// Another origin allowed to call the API from a browser (repeatable).
        #[arg(long = "cors-origin", value_parser = fleet_registry::parse_cors_origin)]
        cors_origins: Vec<String>,
        /// Another registry the dashboard served here may call (repeatable); that
        /// registry must allow this one's origin with its own --cors-origin.
        #[arg(long = "registry-origin", value_parser = fleet_registry::parse_cors_origin)]
        registry_origins: Vec<String>,
        /// Requests a second allowed per key (bursts of twice that); 0 for no limit.
        #[arg(long, default_value_t = 200)]
        rate_limit: u32,
        /// Requests a second per client address that come without a valid key
        /// (bootstraps, ticketed event streams, refused keys; bursts of twice that); 0 for
        /// no limit.
        #[arg(long, default_value_t = 50)]
        address_rate_limit: u32,
    },
    /// Serve the dashboard for another registry (Sekuire's hosted one, say), forwarding
    /// `/api/v1` to it so the browser talks to one origin. Keeps no keys; opens no database.
    Proxy {
        /// The registry to forward `/api/v1` to, e.g. https://api.sekuire.ai (a path
        /// prefix is kept: https://host/prefix).
        #[arg(long, value_parser = fleet_registry::proxy::parse_upstream)]
        upstream: Upstream,
        /// Address to listen on; port 0 picks a free port (the log line says which).
        #[arg(long, default_value = "127.0.0.1:9300")]
        addr: SocketAddr,
        /// Folder of the built dashboard to serve at `/`.
        #[arg(long)]
        dist: Option<PathBuf>,
        /// Another registry the dashboard served here may call (repeatable).
        #[arg(long = "registry-origin", value_parser = fleet_registry::parse_cors_origin)]
        registry_origins: Vec<String>,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Copy an SQLite registry into an empty PostgreSQL database, all of it or nothing, and
    /// check every table's count (the audit trail's included). Stop the registry first.
    Migrate {
        /// The SQLite registry file.
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL database, e.g. postgres://sekuire@db.internal/sekuire.
        #[arg(long, env = "SEKUIRE_REGISTRY_DB", hide_env_values = true)]
        to: String,
    },
    /// Fill a database with generated agents, for scale tests.
    Seed {
        #[command(flatten)]
        db: DatabaseArg,
        #[arg(long)]
        agents: usize,
        /// Same seed, same fleet.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// `--db`, the same for every command that opens the database.
#[derive(clap::Args)]
struct DatabaseArg {
    /// SQLite database file, created when missing, or a PostgreSQL URL
    /// (`postgres://user:password@host/database`) for several registry processes.
    #[arg(
        long = "db",
        default_value = "sekuire-registry.db",
        env = "SEKUIRE_REGISTRY_DB",
        hide_env_values = true
    )]
    database: Database,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; it is printed once, alone on the last line, and stored only as a hash.
    Create {
        #[command(flatten)]
        db: DatabaseArg,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The workspace the key issues install tokens in and revokes installations of.
        #[arg(long, default_value = fleet_registry::store::DEFAULT_WORKSPACE)]
        workspace: String,
    },
    /// List keys (names, roles, dates; never the keys).
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Revoke a key by name; it stops working at once.
    Revoke {
        #[command(flatten)]
        db: DatabaseArg,
        #[arg(long)]
        name: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|_| format!("role must be viewer, operator or admin, not `{s}`"))
}

/// Agents in the demo fleet: enough to page, filter and search for real.
const DEMO_FLEET_SIZE: usize = 240;
const DEMO_SEED: u64 = 42;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Quiet by default: warnings and errors only; start-up lines are printed, not logged.
    // `RUST_LOG=info` adds lifecycle changes, `RUST_LOG=debug` a line per request.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve {
            addr,
            db,
            dist,
            demo,
            cors_origins,
            registry_origins,
            rate_limit,
            address_rate_limit,
        } => {
            serve(
                addr,
                &db.database,
                Config {
                    dist,
                    cors_origins,
                    registry_origins,
                    rate_limit_per_second: rate_limit,
                    address_rate_limit_per_second: address_rate_limit,
                },
                demo,
            )
            .await
        }
        Command::Proxy {
            upstream,
            addr,
            dist,
            registry_origins,
        } => proxy(addr, upstream, dist, registry_origins).await,
        Command::Keys { command } => keys(command).await,
        Command::Seed { db, agents, seed } => seed_database(&db.database, agents, seed).await,
        Command::Migrate { from, to } => migrate(&from, &to).await,
    }
}

/// Seeds `agents` agents, reporting progress on stderr about once a second and the rate at
/// the end: a million agents take minutes.
async fn seed_database(db: &Database, agents: usize, seed: u64) -> anyhow::Result<()> {
    let store = open(db).await?;
    let started = Instant::now();
    let mut last_report = started;
    demo::seed_fleet_reporting(&store, agents, seed, &mut |progress| {
        let now = Instant::now();
        let (stage, done) = match progress {
            demo::SeedProgress::Inserted(done) => ("agents written", done),
            demo::SeedProgress::Replayed(done) => ("histories replayed", done),
        };
        if now.duration_since(last_report) >= Duration::from_secs(1) || done == agents {
            last_report = now;
            eprintln!(
                "  {stage}: {done} of {agents} ({:.0} s)",
                now.duration_since(started).as_secs_f64()
            );
        }
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seeded {agents} agents into {db} in {seconds:.1} s ({:.0} agents/s)",
        agents as f64 / seconds.max(0.001)
    );
    Ok(())
}

async fn migrate(from: &std::path::Path, to: &str) -> anyhow::Result<()> {
    let target = Database::Postgres(to.to_owned());
    if !to.starts_with("postgres://") && !to.starts_with("postgresql://") {
        anyhow::bail!("--to must be a postgres:// URL");
    }
    let started = Instant::now();
    let copied = fleet_registry::store::migrate::sqlite_to_postgres(from, to)
        .await
        .with_context(|| format!("migrating {} to {target}", from.display()))?;
    for table in &copied {
        println!(
            "  {:<16} {:>10} rows, the same on both sides",
            table.table, table.rows
        );
    }
    println!(
        "Migrated {} to {target} in {:.1} s. Start the registry with --db on it.",
        from.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn open(db: &Database) -> anyhow::Result<Store> {
    Store::open(db.clone())
        .await
        .with_context(|| format!("opening database {db}"))
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            db,
            name,
            role,
            workspace,
        } => {
            let key = open(&db.database)
                .await?
                .create_key(&name, role, &workspace)
                .await?;
            println!("Created {role} key {name}. It is shown once; store it now:");
            println!("{key}");
        }
        KeysCommand::List { db } => {
            for k in open(&db.database).await?.list_keys().await? {
                let state = k
                    .revoked_at
                    .map(|at| format!("revoked {at}"))
                    .unwrap_or_else(|| "live".into());
                println!(
                    "{:<24} {:<9} created {}  {state}",
                    k.name, k.role, k.created_at
                );
            }
        }
        KeysCommand::Revoke { db, name } => {
            if open(&db.database).await?.revoke_key(&name).await? {
                println!("Revoked key {name}.");
            } else {
                anyhow::bail!("no live key named {name}");
            }
        }
    }
    Ok(())
}

async fn serve(addr: SocketAddr, db: &Database, config: Config, demo: bool) -> anyhow::Result<()> {
    let store = open(db).await?;
    check_dist(config.dist.as_deref())?;
    let demo_key = if demo {
        if store.agent_count().await? == 0 {
            demo::seed_fleet(&store, DEMO_FLEET_SIZE, DEMO_SEED).await?;
            println!("Seeded a demo fleet of {DEMO_FLEET_SIZE} agents into {db}");
        }
        Some(store.rotate_key("demo-admin", Role::Admin).await?)
    } else {
        None
    };
    store.count_health_in_background();
    let (state, stop) = AppState::new(store.clone(), config)
        .await
        .context("listening for live events")?;
    let (listener, base_url) = listen(addr, |base_url| {
        format!("API at {base_url}/api/v1, docs at {base_url}/api/v1/openapi.json")
    })
    .await?;
    if let Some(key) = demo_key {
        let fleet = store.agent_ids().await?;
        tokio::spawn(demo::run_installations(
            base_url.clone(),
            key.clone(),
            demo::demo_installations(&fleet, DEMO_SEED),
        ));
        let link = format!("{base_url}/#key={key}");
        print_sign_in_link(&link);
        // A plain thread: a blocked read of stdin must not hold up the runtime's shutdown.
        std::thread::spawn(move || reprint_on_enter(&link));
    }
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    })
    .await?;
    Ok(())
}

/// Forwards `/api/v1` to `upstream` and serves the dashboard in `dist` elsewhere.
async fn proxy(
    addr: SocketAddr,
    upstream: Upstream,
    dist: Option<PathBuf>,
    registry_origins: Vec<String>,
) -> anyhow::Result<()> {
    check_dist(dist.as_deref())?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let router = fleet_registry::proxy::router(upstream.clone(), dist, registry_origins, shutdown)?;
    let (listener, _) = listen(addr, |base_url| {
        format!("API at {base_url}/api/v1, forwarded to {upstream}/api/v1")
    })
    .await?;
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        })
        .await?;
    Ok(())
}

fn check_dist(dist: Option<&std::path::Path>) -> anyhow::Result<()> {
    if let Some(dist) = dist {
        anyhow::ensure!(
            dist.join("index.html").is_file(),
            "{} has no index.html; build the dashboard first (cargo xtask dist)",
            dist.display()
        );
    }
    Ok(())
}

/// Binds `addr` and prints the line that says where (`Registry listening on <URL> (…)`,
/// which scripts and tests read the URL from); answers the listener and that URL.
async fn listen(
    addr: SocketAddr,
    details: impl FnOnce(&str) -> String,
) -> anyhow::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    println!("Registry listening on {base_url} ({})", details(&base_url));
    Ok((listener, base_url))
}

fn print_sign_in_link(link: &str) {
    println!("Demo fleet ready. Open this link to sign in as demo-admin:");
    println!("{link}");
    println!("(Press Enter to show the link again. Ctrl-C stops the registry.)");
}

/// The sign-in link scrolls away under warnings; Enter prints it again. Ends quietly when
/// there is no terminal to read (standard input closed).
fn reprint_on_enter(link: &str) {
    for line in std::io::stdin().lines() {
        if line.is_err() {
            break;
        }
        print_sign_in_link(link);
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
