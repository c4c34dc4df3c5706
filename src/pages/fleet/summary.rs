//! The summary strip above the fleet table: counts that set filters, and two charts.

use crate::components::charts::{HealthBar, ReputationHistogram};
use crate::model::fleet_query::FleetQuery;
use fleet_protocol::{FleetSummary, Health, RuntimeStatus, VerificationStatus};
use leptos::prelude::*;

/// Counts by state and health, each a link that sets the filter, with the two charts.
#[component]
pub(super) fn SummaryStrip(
    summary: RwSignal<Option<FleetSummary>>,
    /// The registry counted the fleet; otherwise these are counts of the agents loaded.
    counted: Signal<bool>,
) -> impl IntoView {
    view! {
        {move || summary.get().map(|s| {
            let by_state = RuntimeStatus::ALL
                .into_iter()
                .map(|state| {
                    let query = FleetQuery {
                        runtime_status: vec![state],
                        ..FleetQuery::default()
                    };
                    let n = s.runtime_status.get(&state).copied().unwrap_or(0);
                    count_link(format!("runtime-{state}"), format!("count-{state}"), &query, n, state.as_str())
                })
                .collect_view();
            let by_health = Health::ALL
                .into_iter()
                .map(|health| {
                    let query = FleetQuery {
                        health: vec![health],
                        ..FleetQuery::default()
                    };
                    let n = s.health.get(&health).copied().unwrap_or(0);
                    count_link(format!("health-{health}"), format!("count-{health}"), &query, n, health.as_str())
                })
                .collect_view();
            // Drafts: pushed with `sekuire push`, waiting for an admin's review.
            let drafts_query = FleetQuery {
                verification_status: vec![VerificationStatus::Pending],
                ..FleetQuery::default()
            };
            let drafts = s
                .verification_status
                .get(&VerificationStatus::Pending)
                .copied()
                .unwrap_or(0);
            view! {
                <div class="summary" data-testid="summary">
                    <div class="summary-group">
                        <span class="summary-total" data-testid="summary-total"><strong>{s.total}</strong>{if counted.get() { " agents" } else { " agents loaded" }}</span>
                        {by_state}
                        {count_link("drafts".into(), "count-drafts".into(), &drafts_query, drafts, "drafts to review")}
                    </div>
                    <div class="summary-group">
                        {by_health}
                        <HealthBar counts=s.health.clone()/>
                    </div>
                    <div class="summary-group">
                        <span class="muted small">"Reputation"</span>
                        <ReputationHistogram buckets=s.reputation_histogram.clone()/>
                    </div>
                </div>
            }
        })}
    }
}

/// One count: `n label`, a link to the fleet filtered to what it counts.
fn count_link(
    kind: String,
    testid: String,
    query: &FleetQuery,
    n: u64,
    label: &'static str,
) -> impl IntoView {
    view! {
        <a class=format!("count {kind}") href=query.to_url() data-testid=testid>
            <strong>{n}</strong>" "{label}
        </a>
    }
}
