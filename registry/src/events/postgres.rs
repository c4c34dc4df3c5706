//! Live events between registry processes on one PostgreSQL database: each process sends
//! its events with `pg_notify` and hears every process's (its own included) on a LISTEN
//! connection, then fans them out to its own streams. A change is published after its
//! transaction commits, so a stream never shows a change another process cannot read yet.
//!
//! NOTIFY is not durable: events sent while a process's LISTEN connection is down are
//! lost to it. So when that connection drops, the process tells its streams to `resync`
//! (reload what they show), as it does for a stream that falls behind.

use super::{FleetEvent, RESYNC};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// The channel every registry process listens on.
const CHANNEL: &str = "sekuire_fleet_events";
/// PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;
/// Events waiting to be sent; past this the process's streams are told to resync.
const BACKLOG: usize = 8_192;
/// Most events sent in one statement.
const BATCH: usize = 256;

/// Starts listening, then returns the sender that relays this process's events.
pub(super) async fn start(
    pool: PgPool,
    streams: broadcast::Sender<FleetEvent>,
) -> Result<mpsc::Sender<FleetEvent>, sqlx::Error> {
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    tokio::spawn(hear(listener, streams.clone()));
    let (relay, queue) = mpsc::channel(BACKLOG);
    tokio::spawn(send(pool, queue, streams));
    Ok(relay)
}

/// Queues `event` for every process; a full queue (the database is slow or down) costs
/// this process's streams a `resync` instead of a silent gap.
pub(super) fn relay(
    relay: &mpsc::Sender<FleetEvent>,
    streams: &broadcast::Sender<FleetEvent>,
    event: FleetEvent,
) {
    if relay.try_send(event).is_err() {
        let _ = streams.send(resync());
    }
}

fn resync() -> FleetEvent {
    FleetEvent {
        name: RESYNC,
        json: Arc::from("{\"missed\":null}"),
    }
}

/// `name` and data as one payload: the event name, a newline, the JSON.
fn payload(event: &FleetEvent) -> String {
    if event.json.len() + event.name.len() + 1 > MAX_PAYLOAD {
        // Too long to notify: every process's streams reload instead.
        return format!("{RESYNC}\n{{\"missed\":null}}");
    }
    format!("{}\n{}", event.name, event.json)
}

/// The event a payload names, if it is one this registry sends.
fn parse(payload: &str) -> Option<FleetEvent> {
    use fleet_protocol::event_names::{AGENT, AUDIT, HEARTBEAT};
    let (name, json) = payload.split_once('\n')?;
    let name = [AGENT, AUDIT, HEARTBEAT, RESYNC]
        .into_iter()
        .find(|known| *known == name)?;
    Some(FleetEvent {
        name,
        json: Arc::from(json),
    })
}

/// Sends queued events in batches, in order, until the hub is dropped. A batch that cannot
/// be sent costs this process's streams a `resync` rather than a silent gap.
async fn send(
    pool: PgPool,
    mut queue: mpsc::Receiver<FleetEvent>,
    streams: broadcast::Sender<FleetEvent>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let payloads: Vec<String> = batch.drain(..).map(|e| payload(&e)).collect();
        // One statement: its notifications are delivered together and in order.
        let sent = sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(CHANNEL)
            .bind(&payloads)
            .execute(&pool)
            .await;
        if let Err(err) = sent {
            tracing::warn!(error = %err, events = payloads.len(), "relaying live events failed");
            let _ = streams.send(resync());
        }
    }
}

/// Hands every process's events to this process's streams. When the connection drops,
/// sqlx reconnects and listens again; what was sent meanwhile is lost, so the streams are
/// told to resync.
async fn hear(mut listener: PgListener, streams: broadcast::Sender<FleetEvent>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                if let Some(event) = parse(notification.payload()) {
                    let _ = streams.send(event);
                }
            }
            Ok(None) => {
                tracing::warn!("lost the live-event connection to PostgreSQL; reconnecting");
                let _ = streams.send(resync());
            }
            Err(err) => {
                tracing::warn!(error = %err, "live events from PostgreSQL failed; retrying");
                let _ = streams.send(resync());
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_name_and_data_and_oversize_ones_become_resync() {
        let event = FleetEvent {
            name: fleet_protocol::event_names::AGENT,
            json: Arc::from("{\"name\":\"a\\nb\"}"),
        };
        let back = parse(&payload(&event)).expect("an agent event");
        assert_eq!(back.name, event.name);
        assert_eq!(back.json, event.json);
        let long = FleetEvent {
            json: Arc::from(format!("\"{}\"", "x".repeat(MAX_PAYLOAD))),
            ..event
        };
        assert_eq!(parse(&payload(&long)).expect("resync").name, RESYNC);
        assert!(parse("unknown\n{}").is_none());
        assert!(parse("no newline").is_none());
    }
}
