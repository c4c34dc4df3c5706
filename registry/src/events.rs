//! Live fleet events fanned out to every open event stream of this process.
//!
//! Heartbeats are coalesced to at most one per agent per second at publication, so a
//! fleet leasing thousands of times a second does not flood the browsers.

use fleet_protocol::{event_names, Agent, AuditEntry, HeartbeatEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// One message of the live stream.
#[derive(Debug, Clone)]
pub enum FleetEvent {
    Agent(Box<Agent>),
    Heartbeat(HeartbeatEvent),
    Audit(Box<AuditEntry>),
}

impl FleetEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Agent(_) => event_names::AGENT,
            Self::Heartbeat(_) => event_names::HEARTBEAT,
            Self::Audit(_) => event_names::AUDIT,
        }
    }

    /// The SSE data line.
    pub fn json(&self) -> String {
        match self {
            Self::Agent(a) => serde_json::to_string(a),
            Self::Heartbeat(h) => serde_json::to_string(h),
            Self::Audit(e) => serde_json::to_string(e),
        }
        .unwrap_or_default()
    }
}

const HEARTBEAT_COALESCE: Duration = Duration::from_secs(1);
/// A subscriber further behind than this misses events and is told to resynchronise.
const CHANNEL_CAPACITY: usize = 4_096;

/// Publisher side of the live stream.
#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<FleetEvent>,
    last_heartbeat_sent: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Default for EventHub {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        EventHub {
            sender,
            last_heartbeat_sent: Arc::default(),
        }
    }
}

impl EventHub {
    pub fn subscribe(&self) -> broadcast::Receiver<FleetEvent> {
        self.sender.subscribe()
    }

    pub fn publish_agent(&self, agent: Agent) {
        // No receivers is normal (no browser open); nothing to do then.
        let _ = self.sender.send(FleetEvent::Agent(Box::new(agent)));
    }

    pub fn publish_audit(&self, entry: AuditEntry) {
        let _ = self.sender.send(FleetEvent::Audit(Box::new(entry)));
    }

    /// Publishes a heartbeat unless this agent had one published within the last second.
    pub fn publish_heartbeat(&self, heartbeat: HeartbeatEvent) {
        if self.sender.receiver_count() == 0 {
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
        let _ = self.sender.send(FleetEvent::Heartbeat(heartbeat));
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
        while let Ok(FleetEvent::Heartbeat(h)) = rx.try_recv() {
            ids.push(h.sekuire_id);
        }
        assert_eq!(ids, vec!["aa", "bb"]);
    }
}
