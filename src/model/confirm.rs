//! What a user must type before an irreversible action goes ahead.

/// The phrase a bulk terminate asks for: `terminate 3 agents` (`terminate 1 agent`).
pub fn bulk_terminate_phrase(count: usize) -> String {
    if count == 1 {
        "terminate 1 agent".to_owned()
    } else {
        format!("terminate {count} agents")
    }
}

/// The terminate dialog's button is enabled only when the agent's name is typed exactly
/// (case and spaces count) and a reason is given.
pub fn terminate_confirmed(typed_name: &str, agent_name: &str, reason: &str) -> bool {
    typed_name == agent_name && !reason.trim().is_empty()
}

/// The bulk terminate button is enabled only when the phrase is typed exactly.
pub fn bulk_terminate_confirmed(typed: &str, count: usize) -> bool {
    count > 0 && typed.trim() == bulk_terminate_phrase(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminate_needs_the_exact_name_and_a_reason() {
        assert!(terminate_confirmed(
            "my-agent",
            "my-agent",
            "replaced by v2"
        ));
        assert!(!terminate_confirmed("my-agent", "my-agent", "   "));
        assert!(!terminate_confirmed("My-Agent", "my-agent", "reason"));
        assert!(!terminate_confirmed("my-agent ", "my-agent", "reason"));
        assert!(!terminate_confirmed("", "my-agent", "reason"));
    }

    #[test]
    fn bulk_terminate_needs_the_phrase_with_the_count() {
        assert_eq!(bulk_terminate_phrase(3), "terminate 3 agents");
        assert!(bulk_terminate_confirmed("terminate 3 agents", 3));
        assert!(!bulk_terminate_confirmed("terminate 2 agents", 3));
        assert!(!bulk_terminate_confirmed("terminate", 3));
        assert!(bulk_terminate_confirmed("terminate 1 agent", 1));
    }
}
