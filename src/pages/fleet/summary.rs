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
                    let href = FleetQuery {
                        runtime_status: vec![state],
                        ..FleetQuery::default()
                    }
                    .to_url();
                    let n = s.runtime_status.get(&state).copied().unwrap_or(0);
                    view! {
                        <a class=format!("count runtime-{state}") href=href data-testid=format!("count-{state}")>
                            <strong>{n}</strong>" "{state.as_str()}
                        </a>
                    }
                })
                .collect_view();
            let by_health = Health::ALL
                .into_iter()
                .map(|health| {
                    let href = FleetQuery {
                        health: vec![health],
                        ..FleetQuery::default()
                    }
                    .to_url();
                    let n = s.health.get(&health).copied().unwrap_or(0);
                    view! {
                        <a class=format!("count health-{health}") href=href>
                            <strong>{n}</strong>" "{health.as_str()}
                        </a>
                    }
                })
                .collect_view();
            // Drafts: pushed with `sekuire push`, waiting for an admin's review.
            let drafts_href = FleetQuery {
                verification_status: vec![VerificationStatus::Pending],
                ..FleetQuery::default()
            }
            .to_url();
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
                        <a class="count drafts" href=drafts_href data-testid="count-drafts">
                            <strong>{drafts}</strong>" drafts to review"
                        </a>
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
