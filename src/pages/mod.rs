//! One module per route. Pages own data loading and actions.

pub mod agent;
pub mod audit;
pub mod connect;
pub mod fleet;
pub mod not_found;

use crate::api::ApiFailure;
use crate::components::handler;
use crate::state::{AppContext, ToastKind};
use fleet_protocol::{Agent, LifecycleAction};
use leptos::prelude::*;

/// A designed error state with a retry, in the registry's words.
#[component]
pub fn ErrorPanel(failure: ApiFailure, retry: Callback<()>) -> impl IntoView {
    let hint = if failure.is_unreachable() {
        "The registry did not answer. It will be retried automatically; you can also retry now."
    } else {
        "Retry, or change what you asked for."
    };
    view! {
        <div class="card error-state" role="alert" data-testid="error-state">
            <p><strong>{failure.message}</strong></p>
            <p class="muted">{hint}</p>
            <button type="button" on:click=handler(move |_| retry.run(()))>"Retry"</button>
        </div>
    }
}

/// Runs a load whose answer applies only if no newer load started meanwhile, so fast
/// typing or clicking never shows an older answer over a newer one.
#[derive(Clone, Copy)]
pub struct LatestOnly(StoredValue<u64>);

impl LatestOnly {
    pub fn new() -> LatestOnly {
        LatestOnly(StoredValue::new(0))
    }

    /// Starts a load; returns its ticket.
    pub fn start(&self) -> u64 {
        let next = self.0.get_value() + 1;
        self.0.set_value(next);
        next
    }

    /// True while `ticket` is the newest load.
    pub fn is_current(&self, ticket: u64) -> bool {
        self.0.get_value() == ticket
    }
}

impl Default for LatestOnly {
    fn default() -> Self {
        Self::new()
    }
}

/// Applies a load's result: data on success; on failure the data already on screen stays
/// and the failure is reported.
pub fn settle<T>(
    ctx: AppContext,
    result: Result<T, ApiFailure>,
    data: RwSignal<Option<T>>,
    error: RwSignal<Option<ApiFailure>>,
) where
    T: Send + Sync + 'static,
{
    match result {
        Ok(value) => {
            data.set(Some(value));
            error.set(None);
        }
        Err(failure) => {
            ctx.observe_failure(&failure);
            error.set(Some(failure));
        }
    }
}

/// "Agent my-agent paused.", the sentence every action ends in.
pub fn done_sentence(agent_name: &str, action: LifecycleAction, changed: bool) -> String {
    if changed {
        format!("Agent {agent_name} {}.", action.past_tense())
    } else {
        format!("Agent {agent_name} was already {}.", action.past_tense())
    }
}

/// What the user is told when the agent changed under them: its new state, and by whom.
pub fn changed_sentence(fresh: &Agent) -> String {
    format!(
        "{} changed while you were looking at it: it is now {}{}. Nothing was done — review its current state and choose again.",
        fresh.name,
        fresh.runtime_status,
        fresh
            .status_changed_by
            .as_deref()
            .map(|by| format!(" (changed by {by})"))
            .unwrap_or_default(),
    )
}

/// How an action on an agent, as the user saw it, ended.
pub enum ActionOutcome {
    /// Applied (or it already was so): the agent as it is now.
    Done(Agent),
    /// The agent had changed since it was shown, so nothing was done: its current state.
    Changed(Agent),
    /// It failed, and the user was told why.
    Failed,
}

/// Applies `action` to the agent the user saw — its revision goes in `If-Match`, so an
/// operator never acts on a state they have not seen — reads the agent again (any 2xx is
/// success; the answer's body is not relied on, so any Sekuire registry works), and toasts
/// success or failure.
pub async fn act_on_seen(
    ctx: AppContext,
    seen: &Agent,
    action: LifecycleAction,
    reason: Option<String>,
) -> ActionOutcome {
    let Some(registry) = ctx.registry() else {
        return ActionOutcome::Failed;
    };
    let failed = |failure: ApiFailure| {
        ctx.observe_failure(&failure);
        ctx.toast(ToastKind::Error, failure.message);
        ActionOutcome::Failed
    };
    match registry
        .apply(&seen.sekuire_id, action, reason, seen.revision)
        .await
    {
        Ok(()) => match registry.agent(&seen.sekuire_id).await {
            Ok(now) => {
                let changed = now.runtime_status != seen.runtime_status;
                ctx.toast(
                    ToastKind::Success,
                    done_sentence(&now.name, action, changed),
                );
                ActionOutcome::Done(now)
            }
            Err(failure) => failed(failure),
        },
        Err(stale) if stale.is_stale() => match registry.agent(&seen.sekuire_id).await {
            Ok(fresh) => ActionOutcome::Changed(fresh),
            Err(failure) => failed(failure),
        },
        Err(failure) => failed(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_end_in_a_sentence_saying_what_happened() {
        assert_eq!(
            done_sentence("my-agent", LifecycleAction::Pause, true),
            "Agent my-agent paused."
        );
        assert_eq!(
            done_sentence("my-agent", LifecycleAction::Terminate, false),
            "Agent my-agent was already terminated."
        );
    }
}
