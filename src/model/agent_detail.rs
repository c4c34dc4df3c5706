//! The agent page shows what only `GET /agents/{id}` sends (the manifest, the publisher
//! key); lifecycle answers and live events carry the agent without them.

use fleet_protocol::Agent;

/// `fresh` with the manifest and publisher key of the agent on screen, which a push alone
/// changes; `None` when `fresh` is of another version, so the page reads it again.
pub fn with_shown_detail(mut fresh: Agent, shown: Option<&Agent>) -> Option<Agent> {
    if fresh.manifest.is_some() {
        return Some(fresh);
    }
    match shown {
        Some(shown) if shown.sekuire_id == fresh.sekuire_id && shown.version == fresh.version => {
            fresh.manifest = shown.manifest.clone();
            fresh.publisher_key = shown.publisher_key.clone();
            Some(fresh)
        }
        Some(shown) if shown.manifest.is_some() => None,
        _ => Some(fresh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_protocol::{Health, RuntimeStatus, VerificationStatus};

    fn agent(version: &str, manifest: Option<serde_json::Value>) -> Agent {
        Agent {
            sekuire_id: "7f3a".into(),
            name: "triage".into(),
            version: version.into(),
            description: String::new(),
            runtime_status: RuntimeStatus::Active,
            verification_status: VerificationStatus::Pending,
            reputation_score: 50,
            last_heartbeat_at: None,
            pending_command: None,
            health: Health::Never,
            heartbeat_interval_seconds: 60,
            status_reason: None,
            status_changed_at: None,
            status_changed_by: None,
            installations: 0,
            created_at: String::new(),
            updated_at: String::new(),
            revision: 1,
            publisher_key: manifest.as_ref().map(|_| "ab".into()),
            manifest,
        }
    }

    #[test]
    fn a_change_keeps_the_manifest_on_screen_and_a_new_version_asks_for_it_again() {
        let shown = agent(
            "1.0.0",
            Some(serde_json::json!({"identity": {"model": "m"}})),
        );
        let kept = with_shown_detail(agent("1.0.0", None), Some(&shown)).expect("same version");
        assert_eq!(kept.manifest, shown.manifest);
        assert_eq!(kept.publisher_key.as_deref(), Some("ab"));
        assert_eq!(with_shown_detail(agent("1.1.0", None), Some(&shown)), None);
        let seeded = agent("1.0.0", None);
        assert_eq!(
            with_shown_detail(agent("2.0.0", None), Some(&seeded)),
            Some(agent("2.0.0", None)),
            "an agent that was never pushed has no manifest to fetch"
        );
    }
}
