//! `/events`: the live stream of fleet changes over Server-Sent Events. **[ext]**
//!
//! Browsers cannot set headers on `EventSource`, and a key must never go into a URL, so a
//! browser first trades its key for a single-use ticket that lives 30 s.

use crate::auth::presented_key;
use crate::clock::format_ms;
use crate::error::{AppError, AppResult};
use crate::events::{StreamRefused, MAX_STREAMS, MAX_STREAMS_PER_KEY};
use crate::extract::ApiQuery;
use crate::store::{Caller, Store};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use fleet_protocol::{ApiError, EventTicket};
use futures_util::stream::{Stream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(stream_events))
        .route("/events/ticket", post(issue_ticket))
}

/// A ticket that opens the event stream once, within 30 s. Any role.
#[utoipa::path(post, path = "/api/v1/events/ticket", tag = "events",
    responses((status = 200, body = EventTicket), (status = 401, body = ApiError)))]
pub async fn issue_ticket(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<EventTicket>> {
    let (ticket, expires_at) = state.store.issue_ticket(&caller.name).await?;
    Ok(Json(EventTicket {
        ticket,
        expires_at: format_ms(expires_at),
    }))
}

/// Query of the event stream.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventStreamQuery {
    /// From `POST /api/v1/events/ticket`. Clients that can set headers may send a key instead.
    ticket: Option<String>,
}

/// Server-Sent Events: `agent`, `heartbeat` (coalesced per agent per second), `audit`, and
/// `resync` when this client fell behind and should reload what it shows.
#[utoipa::path(get, path = "/api/v1/events", params(EventStreamQuery), tag = "events",
    responses((status = 200, description = "text/event-stream"), (status = 401, body = ApiError),
        (status = 429, body = ApiError, description = "too many streams open for this key or this registry")))]
pub async fn stream_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<EventStreamQuery>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let key_name = match (query.ticket.as_deref(), presented_key(&headers)) {
        (Some(ticket), _) => state.store.redeem_ticket(ticket).await?,
        (None, Some(key)) => state.store.authenticate(key).await?.map(|c| c.name),
        (None, None) => None,
    };
    let Some(key_name) = key_name else {
        return Err(AppError::Unauthorized(
            "event stream needs a fresh ticket from POST /api/v1/events/ticket",
        ));
    };
    let slot = state
        .events
        .open_stream(&key_name)
        .map_err(|refused| match refused {
            StreamRefused::KeyFull => AppError::TooManyStreams(format!(
                "key {key_name} has {MAX_STREAMS_PER_KEY} event streams open already; close one"
            )),
            StreamRefused::ServerFull => AppError::TooManyStreams(format!(
                "this registry serves {MAX_STREAMS} event streams already; retry later"
            )),
        })?;
    let mut shutdown = state.shutdown.clone();
    let store = state.store.clone();
    let ended = async move {
        tokio::select! {
            // The server shuts down: shutdown need not wait for open streams.
            _ = shutdown.wait_for(|stopping| *stopping) => {}
            // The key was revoked, perhaps by another process sharing the database.
            _ = key_revoked(&store, &key_name) => {}
        }
    };
    let events = BroadcastStream::new(state.events.subscribe())
        .map(move |received| {
            // The stream holds its place among the open streams until it ends.
            let _held = &slot;
            Ok(match received {
                Ok(event) => Event::default().event(event.name).data(&*event.json),
                Err(BroadcastStreamRecvError::Lagged(missed)) => Event::default()
                    .event(crate::events::RESYNC)
                    .data(format!("{{\"missed\":{missed}}}")),
            })
        })
        .take_until(ended);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// How often an open stream checks that its key is still live.
const KEY_RECHECK: Duration = Duration::from_secs(5);

/// Resolves once `key_name` is no longer a live key. A failed check keeps the stream.
async fn key_revoked(store: &Store, key_name: &str) {
    loop {
        tokio::time::sleep(KEY_RECHECK).await;
        if let Ok(false) = store.key_is_live(key_name).await {
            return;
        }
    }
}
