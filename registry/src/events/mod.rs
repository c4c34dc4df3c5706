//! Live fleet events fanned out to every open event stream: of this process on SQLite,
//! of every process sharing the database on PostgreSQL (`postgres.rs`).
//!
//! Heartbeats are coalesced to at most one per agent per second at publication, so a
//! fleet leasing thousands of times a second does not flood the browsers.

use fleet_protocol::{event_names, Agent, AuditEntry, HeartbeatEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

mod postgres;

/// One message of the live stream, encoded once when published: every subscriber sends
/// the same bytes.
#[derive(Debug, Clone)]
pub struct FleetEvent {
    /// The SSE event name.
    pub name: &'static str,
    /// The SSE data line.
    pub json: Arc<str>,
}

impl FleetEvent {
    fn encode(name: &'static str, value: &impl serde::Serialize) -> FleetEvent {
        FleetEvent {
            name,
            json: serde_json::to_string(value).unwrap_or_default().into(),
        }
    }
}

/// The event that tells a stream it missed events and should reload what it shows.
pub const RESYNC: &str = "resync";

const HEARTBEAT_COALESCE: Duration = Duration::from_secs(1);
/// A subscriber further behind than this misses events and is told to resynchronise.
const CHANNEL_CAPACITY: usize = 4_096;

/// Open streams one key may hold: a few browser tabs, not a connection flood.
pub const MAX_STREAMS_PER_KEY: usize = 16;
/// Open streams the whole process may hold.
pub const MAX_STREAMS: usize = 1_024;

/// Publisher side of the live stream.
#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<FleetEvent>,
    last_heartbeat_sent: Arc<Mutex<HashMap<String, Instant>>>,
    /// Open streams per key name.
    open: Arc<Mutex<HashMap<String, usize>>>,
    /// On PostgreSQL, events go to every process through the database, this one
    /// included, instead of straight to this process's streams.
    relay: Option<mpsc::Sender<FleetEvent>>,
}

impl Default for EventHub {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        EventHub {
            sender,
            last_heartbeat_sent: Arc::default(),
            open: Arc::default(),
            relay: None,
        }
    }
}

/// Why a stream was not opened.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamRefused {
    /// This key holds [`MAX_STREAMS_PER_KEY`] streams already.
    KeyFull,
    /// The process holds [`MAX_STREAMS`] streams already.
    ServerFull,
}

/// A place among the open streams; dropping it (the stream ends) frees it.
pub struct StreamSlot {
    key_name: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock() {
            if let Some(count) = open.get_mut(&self.key_name) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&self.key_name);
                }
            }
        }
    }
}

impl EventHub {
    /// Takes a place for one more stream of `key_name`, within the caps.
    pub fn open_stream(&self, key_name: &str) -> Result<StreamSlot, StreamRefused> {
        let Ok(mut open) = self.open.lock() else {
            return Err(StreamRefused::ServerFull);
        };
        if open.values().sum::<usize>() >= MAX_STREAMS {
            return Err(StreamRefused::ServerFull);
        }
        let count = open.entry(key_name.to_owned()).or_default();
        if *count >= MAX_STREAMS_PER_KEY {
            return Err(StreamRefused::KeyFull);
        }
        *count += 1;
        Ok(StreamSlot {
            key_name: key_name.to_owned(),
            open: Arc::clone(&self.open),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FleetEvent> {
        self.sender.subscribe()
    }

    /// An event hub whose events travel through PostgreSQL's LISTEN/NOTIFY, so that the
    /// streams of every registry process on the database hear every change. Returns once
    /// this process listens.
    pub async fn through_postgres(pool: sqlx::PgPool) -> Result<EventHub, sqlx::Error> {
        let hub = EventHub::default();
        let relay = postgres::start(pool, hub.sender.clone()).await?;
        Ok(EventHub {
            relay: Some(relay),
            ..hub
        })
    }

    /// Whether anyone could hear an event: a stream of this process, or, through the
    /// database, of another. No listener is normal (no browser open); nothing to encode
    /// or send then.
    pub fn heard(&self) -> bool {
        self.relay.is_some() || self.sender.receiver_count() > 0
    }

    fn send(&self, name: &'static str, value: &impl serde::Serialize) {
        let event = FleetEvent::encode(name, value);
        match &self.relay {
            Some(relay) => postgres::relay(relay, &self.sender, event),
            None => {
                let _ = self.sender.send(event);
            }
        }
    }

    pub fn publish_agent(&self, agent: Agent) {
        if self.heard() {
            self.send(event_names::AGENT, &agent);
        }
    }

    pub fn publish_audit(&self, entry: AuditEntry) {
        if self.heard() {
            self.send(event_names::AUDIT, &entry);
        }
    }

    /// Publishes a heartbeat unless this agent had one published within the last second
    /// (per process: with several processes, up to one each).
    pub fn publish_heartbeat(&self, heartbeat: HeartbeatEvent) {
        if !self.heard() {
            return;
        }
        let now = Instant::now();
        {
            let Ok(mut last) = self.last_heartbeat_sent.lock() else {
                return;
            };
            match last.get(&heartbeat.sekuire_id) {
                Some(at) if now.duration_since(*at) < HEARTBEAT_COALESCE => return,
                _ => {}
            }
            if last.len() > 200_000 {
                last.retain(|_, at| now.duration_since(*at) < HEARTBEAT_COALESCE);
            }
            last.insert(heartbeat.sekuire_id.clone(), now);
        }
        self.send(event_names::HEARTBEAT, &heartbeat);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_protocol::Health;

    fn beat(id: &str) -> HeartbeatEvent {
        HeartbeatEvent {
            sekuire_id: id.into(),
            last_heartbeat_at: "2026-01-15T10:30:00Z".into(),
            health: Health::Healthy,
        }
    }

    #[test]
    fn heartbeats_coalesce_per_agent_within_a_second() {
        let hub = EventHub::default();
        let mut rx = hub.subscribe();
        hub.publish_heartbeat(beat("aa"));
        hub.publish_heartbeat(beat("aa"));
        hub.publish_heartbeat(beat("bb"));
        let mut ids = Vec::new();
        while let Ok(event) = rx.try_recv() {
            assert_eq!(event.name, event_names::HEARTBEAT);
            let beat: serde_json::Value = serde_json::from_str(&event.json).unwrap();
            ids.push(beat["sekuire_id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids, vec!["aa", "bb"]);
    }

    #[test]
    fn every_subscriber_gets_the_same_encoding() {
        let hub = EventHub::default();
        let (mut a, mut b) = (hub.subscribe(), hub.subscribe());
        hub.publish_heartbeat(beat("aa"));
        let (a, b) = (a.try_recv().unwrap(), b.try_recv().unwrap());
        assert!(Arc::ptr_eq(&a.json, &b.json), "encoded once, shared");
    }

    #[test]
    fn streams_are_capped_per_key_and_freed_when_they_end() {
        let hub = EventHub::default();
        let slots: Vec<StreamSlot> = (0..MAX_STREAMS_PER_KEY)
            .map(|_| hub.open_stream("alice").unwrap())
            .collect();
        assert_eq!(hub.open_stream("alice").err(), Some(StreamRefused::KeyFull));
        assert!(hub.open_stream("bob").is_ok(), "caps are per key");
        drop(slots);
        assert!(
            hub.open_stream("alice").is_ok(),
            "ended streams free their place"
        );
    }

    #[test]
    fn the_process_caps_all_streams() {
        let hub = EventHub::default();
        let _slots: Vec<StreamSlot> = (0..MAX_STREAMS)
            .map(|i| hub.open_stream(&format!("key{}", i % 100)).unwrap())
            .collect();
        assert_eq!(
            hub.open_stream("newcomer").err(),
            Some(StreamRefused::ServerFull)
        );
    }
}
