//! `/events`: the live stream of fleet changes over Server-Sent Events. **[ext]**
//!
//! Browsers cannot set headers on `EventSource`, and a key must never go into a URL, so a
//! browser first trades its key for a single-use ticket that lives 30 s.

use crate::auth::presented_key;
use crate::clock::format_ms;
use crate::error::{AppError, AppResult};
use crate::events::FleetEvent;
use crate::extract::ApiQuery;
use crate::store::Caller;
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
pub struct EventStreamQuery {
    /// From `POST /api/v1/events/ticket`. Clients that can set headers may send a key instead.
    ticket: Option<String>,
}

/// Server-Sent Events: `agent`, `heartbeat` (coalesced per agent per second), `audit`, and
/// `resync` when this client fell behind and should reload what it shows.
#[utoipa::path(get, path = "/api/v1/events", params(EventStreamQuery), tag = "events",
    responses((status = 200, description = "text/event-stream"), (status = 401, body = ApiError)))]
pub async fn stream_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<EventStreamQuery>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let authorized = match (query.ticket.as_deref(), presented_key(&headers)) {
        (Some(ticket), _) => state.store.redeem_ticket(ticket).await?.is_some(),
        (None, Some(key)) => state.store.authenticate(key).await?.is_some(),
        (None, None) => false,
    };
    if !authorized {
        return Err(AppError::Unauthorized(
            "event stream needs a fresh ticket from POST /api/v1/events/ticket",
        ));
    }
    let mut shutdown = state.shutdown.clone();
    let events = BroadcastStream::new(state.events.subscribe())
        .map(|received| {
            Ok(match received {
                Ok(event) => sse_event(&event),
                Err(BroadcastStreamRecvError::Lagged(missed)) => Event::default()
                    .event("resync")
                    .data(format!("{{\"missed\":{missed}}}")),
            })
        })
        .take_until(async move {
            // Ends the stream when the server shuts down, so shutdown need not wait for it.
            let _ = shutdown.wait_for(|stopping| *stopping).await;
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn sse_event(event: &FleetEvent) -> Event {
    Event::default().event(event.name()).data(event.json())
}
