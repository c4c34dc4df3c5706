//! A Sekuire-compatible agent registry. [`app`] builds the router that the binary serves
//! and that the tests drive, so both exercise the same code.

pub mod auth;
pub mod clock;
pub mod demo;
pub mod error;
pub mod events;
pub mod extract;
pub mod request_id;
pub mod routes;
pub mod store;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

/// What the server needs besides its database.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Folder of the built dashboard, served at `/` with an `index.html` fallback.
    pub dist: Option<PathBuf>,
    /// Origins allowed to call the API from a browser (besides the registry's own).
    pub cors_origins: Vec<String>,
    /// Requests a second per key; 0 turns rate limiting off.
    pub rate_limit_per_second: u32,
}

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub store: store::Store,
    pub events: events::EventHub,
    pub rate_limiter: Arc<auth::RateLimiter>,
    pub config: Arc<Config>,
    /// Turns true when the server shuts down; ends open event streams.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// State over `store`; the returned sender starts a shutdown.
    pub fn new(store: store::Store, config: Config) -> (AppState, watch::Sender<bool>) {
        let (stop, shutdown) = watch::channel(false);
        let state = AppState {
            store,
            events: events::EventHub::default(),
            rate_limiter: Arc::new(auth::RateLimiter::new(config.rate_limit_per_second)),
            config: Arc::new(config),
            shutdown,
        };
        (state, stop)
    }
}

/// The whole server: `/api/v1`, the dashboard, request ids, panics caught as JSON 500s.
pub fn app(state: AppState) -> Router {
    let cors = cors_layer(&state.config.cors_origins);
    let router = Router::new()
        .nest("/api/v1", routes::api())
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
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return error::AppError::NotFound(format!("no API route {path}")).into_response();
    }
    let Some(dist) = state.config.dist.as_ref() else {
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
    response
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
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
            ]),
    )
}
