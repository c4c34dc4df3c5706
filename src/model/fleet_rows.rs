//! The fleet page's rows as plain data: patching one agent in place when the registry says
//! it changed, the words for each outcome of a bulk action, and counts of the rows loaded
//! where the registry keeps no fleet summary.

use fleet_protocol::{Agent, AgentList, BulkOutcome, FleetSummary, LifecycleAction};

/// True when the agent `sekuire_id` is on the page.
pub fn is_on_page(list: &Option<AgentList>, sekuire_id: &str) -> bool {
    list.as_ref()
        .is_some_and(|l| l.agents.iter().any(|a| a.sekuire_id == sekuire_id))
}

/// Applies `change` to the agent `sekuire_id` of the page, if it is on it; true if it was.
pub fn patch_row(
    list: &mut Option<AgentList>,
    sekuire_id: &str,
    change: impl FnOnce(&mut Agent),
) -> bool {
    let row = list
        .as_mut()
        .and_then(|l| l.agents.iter_mut().find(|a| a.sekuire_id == sekuire_id));
    match row {
        Some(row) => {
            change(row);
            true
        }
        None => false,
    }
}

/// Whether a live `fresh` copy of an agent may replace the `shown` one. Several registry
/// processes publish in the order their transactions commit, not always in the order the
/// events arrive, so a late event of an older revision is ignored. A registry that keeps
/// no revision (0) is always believed.
pub fn supersedes(fresh: &Agent, shown: &Agent) -> bool {
    fresh.revision == 0 || fresh.revision >= shown.revision
}

/// One line of a bulk action's outcome, as the dialog lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkLine {
    pub agent_name: String,
    pub ok: bool,
    pub text: String,
}

/// The lines of a bulk outcome, by agent name (`targets` are the ids and names sent):
/// "paused", "already paused", or the registry's reason for refusing.
pub fn bulk_lines(
    action: LifecycleAction,
    results: &[BulkOutcome],
    targets: &[(String, String)],
) -> Vec<BulkLine> {
    results
        .iter()
        .map(|r| BulkLine {
            agent_name: targets
                .iter()
                .find(|(id, _)| *id == r.sekuire_id)
                .map_or_else(|| r.sekuire_id.clone(), |(_, name)| name.clone()),
            ok: r.ok,
            text: match (r.ok, r.changed) {
                (true, Some(false)) => format!("already {}", action.past_tense()),
                // Changed, or a registry that does not say (one request per agent).
                (true, _) => action.past_tense().to_owned(),
                (false, _) => r.message.clone().unwrap_or_else(|| "failed".into()),
            },
        })
        .collect()
}

/// The fleet summary of the agents loaded, for a registry that has none of its own.
pub fn summarize(agents: &[Agent]) -> FleetSummary {
    let mut summary = FleetSummary {
        total: agents.len() as u64,
        reputation_histogram: vec![0; 10],
        ..FleetSummary::default()
    };
    for agent in agents {
        *summary
            .runtime_status
            .entry(agent.runtime_status)
            .or_default() += 1;
        *summary.health.entry(agent.health).or_default() += 1;
        *summary
            .verification_status
            .entry(agent.verification_status)
            .or_default() += 1;
        summary.reputation_histogram[usize::from(agent.reputation_score / 10).min(9)] += 1;
    }
    summary
}

/// "3 of 4 agents paused."
pub fn bulk_summary(action: LifecycleAction, lines: &[BulkLine]) -> String {
    let done = lines.iter().filter(|l| l.ok).count();
    format!("{done} of {} agents {}.", lines.len(), action.past_tense())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_protocol::{ErrorCode, Health, RuntimeStatus};

    fn outcome(id: &str, ok: bool, changed: Option<bool>, message: Option<&str>) -> BulkOutcome {
        BulkOutcome {
            sekuire_id: id.into(),
            ok,
            changed,
            error: (!ok).then_some(ErrorCode::InvalidTransition),
            message: message.map(str::to_owned),
        }
    }

    #[test]
    fn bulk_outcomes_read_by_name_with_the_registrys_reasons() {
        let targets = [
            ("a".to_owned(), "alpha".to_owned()),
            ("b".to_owned(), "beta".to_owned()),
        ];
        let lines = bulk_lines(
            LifecycleAction::Pause,
            &[
                outcome("a", true, Some(true), None),
                outcome("b", true, Some(false), None),
                outcome("c", false, None, Some("agent c is terminated")),
            ],
            &targets,
        );
        let texts: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| (l.agent_name.as_str(), l.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("alpha", "paused"),
                ("beta", "already paused"),
                ("c", "agent c is terminated")
            ]
        );
        assert_eq!(
            bulk_summary(LifecycleAction::Pause, &lines),
            "2 of 3 agents paused."
        );
    }

    fn agent(status: &str, reputation: u8) -> Agent {
        serde_json::from_value(serde_json::json!({
            "sekuire_id": "ab", "name": "a", "version": "1", "runtime_status": status,
            "verification_status": "pending", "reputation_score": reputation,
            "last_heartbeat_at": null, "health": "never", "heartbeat_interval_seconds": 60,
            "installations": 0, "revision": 0,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .expect("a valid agent")
    }

    #[test]
    fn a_late_event_of_an_older_revision_does_not_undo_a_newer_one() {
        let at = |revision: i64| Agent {
            revision,
            ..agent("paused", 50)
        };
        assert!(supersedes(&at(6), &at(5)));
        assert!(
            supersedes(&at(6), &at(6)),
            "same revision: a heartbeat-side change"
        );
        assert!(
            !supersedes(&at(5), &at(6)),
            "arrived late from another process"
        );
        assert!(supersedes(&at(0), &at(6)), "a registry without revisions");
    }

    #[test]
    fn loaded_agents_are_counted_like_the_registrys_summary() {
        let summary = summarize(&[
            agent("paused", 100),
            agent("paused", 5),
            agent("active", 59),
        ]);
        assert_eq!(summary.total, 3);
        assert_eq!(summary.runtime_status.get(&RuntimeStatus::Paused), Some(&2));
        assert_eq!(summary.health.get(&Health::Never), Some(&3));
        assert_eq!(
            summary.reputation_histogram,
            [1, 0, 0, 0, 0, 1, 0, 0, 0, 1],
            "100 belongs to the top bucket, 90–100"
        );
    }

    #[test]
    fn a_bulk_outcome_that_does_not_say_whether_it_changed_reads_as_done() {
        let lines = bulk_lines(
            LifecycleAction::Resume,
            &[outcome("a", true, None, None)],
            &[],
        );
        assert_eq!(lines[0].text, "resumed");
    }

    #[test]
    fn a_row_is_patched_only_when_it_is_on_the_page() {
        let mut list = None;
        assert!(!patch_row(&mut list, "a", |_| unreachable!()));
        assert!(!is_on_page(&list, "a"));
        let mut list = Some(AgentList {
            agents: Vec::new(),
            total: 0,
            total_exact: true,
            next_cursor: None,
        });
        assert!(!patch_row(&mut list, "a", |_| unreachable!()));
    }
}
