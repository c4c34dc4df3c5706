//! A Sekuire-compatible agent registry. [`app`] builds the router that the binary serves
//! and that the tests drive, so both exercise the same code.

pub mod auth;
pub mod clock;
pub mod demo;
pub mod error;
pub mod events;
pub mod extract;
pub mod proxy;
pub mod request_id;
pub mod routes;
pub mod store;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// What the server needs besides its database.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Folder of the built dashboard, served at `/` with an `index.html` fallback.
    pub dist: Option<PathBuf>,
    /// Origins allowed to call the API from a browser (besides the registry's own).
    pub cors_origins: Vec<String>,
    /// Other registries the dashboard served here may call (`--registry-origin`).
    pub registry_origins: Vec<String>,
    /// Requests a second per key; 0 turns rate limiting off.
    pub rate_limit_per_second: u32,
    /// Requests a second per client address without a valid key; 0 turns it off.
    pub address_rate_limit_per_second: u32,
}

/// Shared by every request; a clone is one reference count.
///
/// Decision: the fields sit behind one `Arc`. Every request clones the state more than
/// once (the router, each middleware with state, each handler), and a clone of the fields
/// themselves counted up and down some fifteen handles, which two cores contend for: in a
/// profile under a lease load, about 1 % of the machine.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    pub store: store::Store,
    pub events: events::EventHub,
    pub rate_limiter: Arc<auth::RateLimiter>,
    /// Buckets per client address, for requests without a valid key.
    pub address_limiter: Arc<auth::RateLimiter>,
    pub config: Arc<Config>,
    /// Turns true when the server shuts down; ends open event streams.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// State over `store`; the returned sender starts a shutdown. On PostgreSQL, returns
    /// once this process listens for the other processes' live events.
    pub async fn new(
        store: store::Store,
        config: Config,
    ) -> Result<(AppState, watch::Sender<bool>), sqlx::Error> {
        let events = match store.postgres_pool() {
            Some(pool) => events::EventHub::through_postgres(pool.clone()).await?,
            None => events::EventHub::default(),
        };
        let (stop, shutdown) = watch::channel(false);
        let state = AppState(Arc::new(Shared {
            store,
            events,
            rate_limiter: Arc::new(auth::RateLimiter::new(config.rate_limit_per_second)),
            address_limiter: Arc::new(auth::RateLimiter::new(config.address_rate_limit_per_second)),
            config: Arc::new(config),
            shutdown,
        }));
        tokio::spawn(sweep_undeliverable_commands(state.clone()));
        Ok((state, stop))
    }

    /// Shows a committed change to an agent on the live streams. The agent is read only
    /// when a stream could hear it (a fleet-wide pause makes every installation's next
    /// lease change its agent), and a failed read costs the event, never the change.
    pub async fn show_agent(&self, sekuire_id: &str) {
        if !self.events.heard() {
            return;
        }
        match self.store.agent(sekuire_id).await {
            Ok(agent) => self.events.publish_agent(agent),
            Err(err) => {
                tracing::warn!(error = %err, sekuire_id, "reading an agent for its live event failed");
            }
        }
    }
}

/// How often commands owed only to dead installations are cleared.
const SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(30);

/// Clears, every [`SWEEP_PERIOD`], the pending commands that only dead installations
/// still owed, and shows the change live; stops with the server.
async fn sweep_undeliverable_commands(state: AppState) {
    let mut tick = tokio::time::interval(SWEEP_PERIOD);
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        match state.store.clear_undeliverable_commands().await {
            Ok(ids) => {
                for id in ids {
                    state.show_agent(&id).await;
                }
            }
            Err(err) => tracing::warn!(error = %err, "sweeping undeliverable commands failed"),
        }
    }
}

/// The whole server: `/api/v1`, the dashboard, request ids, panics caught as JSON 500s.
pub fn app(state: AppState) -> Router {
    let cors = cors_layer(&state.config.cors_origins);
    // API answers are never cached (they carry fleet state, some of it per key) and never
    // sniffed into another type.
    let api = routes::api()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::limit_by_address,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    let router = Router::new()
        .nest("/api/v1", api)
        .fallback(not_api)
        .with_state(state)
        .layer(CatchPanicLayer::custom(|_| {
            error::AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }));
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(axum::middleware::from_fn(request_id::assign))
}

/// Paths outside `/api/v1`: JSON 404 under `/api`, the dashboard elsewhere.
async fn not_api(State(state): State<AppState>, request: Request) -> Response {
    serve_dashboard(
        state.config.dist.as_deref(),
        &state.config.registry_origins,
        request,
    )
    .await
}

/// What `serve` and `proxy` both answer outside `/api/v1`: a JSON 404 under `/api`, and
/// elsewhere the built dashboard in `dist` (any path without a file is `index.html`, so
/// the app's own routes load), with its security headers and `cache_policy`.
pub async fn serve_dashboard(
    dist: Option<&Path>,
    registry_origins: &[String],
    request: Request,
) -> Response {
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return error::AppError::NotFound(format!("no API route {path}")).into_response();
    }
    let caching = cache_policy(path);
    let Some(dist) = dist else {
        return error::AppError::NotFound(
            "this registry serves no dashboard; start it with --dist".into(),
        )
        .into_response();
    };
    let spa = ServeDir::new(dist)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(ServeFile::new(dist.join("index.html")));
    let mut response = match spa.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    let found = response.status().is_success();
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&content_security_policy(registry_origins))
            .unwrap_or_else(|_| HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
    );
    if found {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(caching));
    }
    response
}

/// What the dashboard may load and run: its own scripts (no inline script: `cargo xtask
/// dist` moves Trunk's start-up script into a file), its own wasm, its own styles (style
/// attributes are set through the CSSOM, which CSP allows), and requests to this registry
/// only. Nothing may frame it. This is the policy without `--registry-origin`.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// [`CONTENT_SECURITY_POLICY`] with `connect-src` widened to the other registries the
/// operator named. Decision: the dashboard can save several registries, but a page may
/// only call the origins its policy lists, so each one is named when the server starts
/// (`--registry-origin`, already checked to be a bare origin); nothing wider such as
/// `https:` is allowed, so a script injected despite the rest of the policy still could not
/// send a key anywhere else. Each of those registries must in turn allow this dashboard's
/// origin with its own `--cors-origin`.
pub fn content_security_policy(registry_origins: &[String]) -> String {
    if registry_origins.is_empty() {
        return CONTENT_SECURITY_POLICY.to_owned();
    }
    CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'",
        &format!("connect-src 'self' {}", registry_origins.join(" ")),
    )
}

/// How long a browser may keep a dashboard file. `cargo xtask dist` names every asset after
/// a hash of its content (`main-f067bc3d092900f0.css`), so those never change and are kept for a
/// year without asking again, which also lets the browser keep the compiled wasm; anything
/// else, `index.html` above all, is checked on every load so a new build is seen at once.
fn cache_policy(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    let hashed = name.split(['-', '_', '.']).any(|part| {
        part.len() == 16
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// Checks an origin given to `--cors-origin`: `http` or `https`, a host, an optional port,
/// nothing else (a trailing `/` is dropped). `*` is refused: a browser with a key would
/// let any site drive the registry.
pub fn parse_cors_origin(origin: &str) -> Result<String, String> {
    let refuse = |why: &str| {
        format!(
            "`{origin}` is not an origin: {why}; write it like https://console.example.com or http://127.0.0.1:8080"
        )
    };
    if origin.trim() == "*" {
        return Err(refuse(
            "any origin would let every website use a signed-in browser's key",
        ));
    }
    let url = url::Url::parse(origin.trim()).map_err(|err| refuse(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("the scheme must be http or https"));
    }
    if url.host().is_none() || url.port() == Some(0) {
        return Err(refuse("it needs a host and a port from 1 to 65535"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("an origin has no path, query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("an origin has no user name or password"));
    }
    Ok(url.origin().ascii_serialization())
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::IF_MATCH,
                HeaderName::from_static("x-api-key"),
            ])
            .expose_headers([
                header::ETAG,
                header::RETRY_AFTER,
                HeaderName::from_static(request_id::HEADER),
                HeaderName::from_static(routes::audit::NEXT_CURSOR_HEADER),
            ]),
    )
}

#[cfg(test)]
mod tests {
    use super::{cache_policy, parse_cors_origin};

    #[test]
    fn cors_origins_are_scheme_host_and_port_and_never_a_wildcard() {
        assert_eq!(
            parse_cors_origin("https://Console.example.com/").as_deref(),
            Ok("https://console.example.com")
        );
        assert!(parse_cors_origin("http://127.0.0.1:8080").is_ok());
        assert!(parse_cors_origin("http://[::1]:8080").is_ok());
        for bad in [
            "*",
            "console.example.com",
            "ftp://example.com",
            "https://example.com/path",
            "https://exa mple.com",
            "https://example.com:0",
            "https://example.com:99999",
            "https://",
        ] {
            let refused = parse_cors_origin(bad);
            assert!(refused.is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn hashed_assets_are_immutable_and_pages_are_revalidated() {
        for asset in [
            "/main-f067bc3d092900f0.css",
            "/fleet-dashboard-d9498411098b50e8_bg.wasm",
            "/fleet-dashboard-d9498411098b50e8.js",
        ] {
            assert!(cache_policy(asset).contains("immutable"), "{asset}");
        }
        for page in [
            "/",
            "/index.html",
            "/agents",
            "/agents/0123456789abcdef0",
            "/floor.html",
        ] {
            assert_eq!(cache_policy(page), "no-cache", "{page}");
        }
    }
}
