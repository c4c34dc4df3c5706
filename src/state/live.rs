//! The live event feed: one `EventSource` for the whole app, opened with a single-use
//! ticket (keys never go into URLs) and reopened with backoff when it drops. A registry
//! without live events is polled instead: every [`POLL_INTERVAL`] pages reload what they
//! show, as after a reconnect.

use super::{use_app, watch, AppContext};
use crate::api::json;
use crate::model::capabilities::Feature;
use fleet_protocol::{event_names, Agent, AuditEntry, HeartbeatEvent};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use web_sys::{EventSource, MessageEvent};

/// One message of the stream, decoded.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    Agent(Box<Agent>),
    Heartbeat(HeartbeatEvent),
    Audit(Box<AuditEntry>),
    /// Events were missed (reconnect, or the registry says this client fell behind):
    /// reload what is shown.
    Resync,
}

/// What the live indicator shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveState {
    Off,
    Connecting,
    Live,
    Reconnecting,
    /// The registry has no live events; pages reload on a timer.
    Polling,
}

/// How often pages reload on a registry without live events. Each reload of the fleet
/// page reads the list and, where the list lacks them, each row's runtime state.
pub const POLL_INTERVAL: Duration = Duration::from_secs(15);

type Handler = Rc<dyn Fn(&LiveEvent)>;

/// Subscribers of the feed; pages subscribe while mounted.
#[derive(Default)]
pub struct LiveBus {
    next_id: u64,
    handlers: Vec<(u64, Handler)>,
}

impl LiveBus {
    pub fn subscribe(&mut self, handler: impl Fn(&LiveEvent) + 'static) -> u64 {
        self.next_id += 1;
        self.handlers.push((self.next_id, Rc::new(handler)));
        self.next_id
    }

    pub fn unsubscribe(&mut self, id: u64) {
        self.handlers.retain(|(h, _)| *h != id);
    }

    pub fn handlers(&self) -> Vec<Handler> {
        self.handlers.iter().map(|(_, h)| h.clone()).collect()
    }
}

/// An open `EventSource` and the callbacks it holds; closing on drop.
struct Connection {
    source: EventSource,
    _listeners: Vec<Closure<dyn FnMut(MessageEvent)>>,
    _on_open: Closure<dyn FnMut(web_sys::Event)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.source.close();
    }
}

fn decode(name: &str, data: &str) -> Option<LiveEvent> {
    Some(match name {
        event_names::AGENT => LiveEvent::Agent(Box::new(json::decode(data).ok()?)),
        event_names::HEARTBEAT => LiveEvent::Heartbeat(json::decode(data).ok()?),
        event_names::AUDIT => LiveEvent::Audit(Box::new(json::decode(data).ok()?)),
        _ => LiveEvent::Resync,
    })
}

/// Keeps the feed open while someone is signed in, live updates are on and the registry
/// is reachable. Renders nothing.
#[component]
pub fn LiveFeed() -> impl IntoView {
    let ctx = use_app();
    let connection: StoredValue<Option<Connection>, LocalStorage> = StoredValue::new_local(None);
    // Bumped to reopen after an error; counts attempts for the backoff.
    let attempt = RwSignal::new(0u64);

    watch(move || {
        let wanted = ctx.verified() && ctx.live_enabled.get() && !ctx.connection_lost.get();
        let this_attempt = attempt.get();
        ctx.reload_epoch.track();
        connection.set_value(None);
        if !wanted {
            ctx.live_state.set(LiveState::Off);
            return;
        }
        if !ctx.offers(Feature::LiveEvents) {
            ctx.live_state.set(LiveState::Polling);
            let poll = set_interval_with_handle(
                move || ctx.dispatch_live(&LiveEvent::Resync),
                POLL_INTERVAL,
            );
            on_cleanup(move || {
                if let Ok(poll) = poll {
                    poll.clear();
                }
            });
            return;
        }
        ctx.live_state.set(if this_attempt == 0 {
            LiveState::Connecting
        } else {
            LiveState::Reconnecting
        });
        spawn_local(open(ctx, connection, attempt, this_attempt));
    });
    on_cleanup(move || connection.set_value(None));
}

async fn open(
    ctx: AppContext,
    connection: StoredValue<Option<Connection>, LocalStorage>,
    attempt: RwSignal<u64>,
    this_attempt: u64,
) {
    let retry_later = move || {
        let delay = 1_000u64 << this_attempt.min(4);
        set_timeout(
            move || {
                if attempt.get_untracked() == this_attempt {
                    attempt.set(this_attempt + 1);
                }
            },
            Duration::from_millis(delay),
        );
    };
    let Some(registry) = ctx.registry() else {
        return;
    };
    let ticket = match registry.event_ticket().await {
        Ok(ticket) => ticket,
        Err(failure) => {
            ctx.observe_failure(&failure);
            if !failure.is_unauthorized() && !failure.is_unreachable() {
                retry_later();
            }
            return;
        }
    };
    let Ok(source) = EventSource::new(&registry.events_url(&ticket.ticket)) else {
        retry_later();
        return;
    };
    let listeners = [
        event_names::AGENT,
        event_names::HEARTBEAT,
        event_names::AUDIT,
        "resync",
    ]
    .into_iter()
    .map(|name| {
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data().as_string().unwrap_or_default();
            if let Some(live) = decode(name, &data) {
                ctx.dispatch_live(&live);
            }
        });
        let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
        listener
    })
    .collect();
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        ctx.live_state.set(LiveState::Live);
        if this_attempt > 0 {
            // Whatever happened while the feed was down was missed.
            ctx.dispatch_live(&LiveEvent::Resync);
        }
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    let failed_source = source.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        // The ticket was single-use, so the browser's own retry cannot succeed: close it
        // and start over with a new ticket (the next attempt drops this connection).
        failed_source.close();
        ctx.live_state.set(LiveState::Reconnecting);
        retry_later();
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    connection.set_value(Some(Connection {
        source,
        _listeners: listeners,
        _on_open: on_open,
        _on_error: on_error,
    }));
}
