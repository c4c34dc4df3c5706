//! One module per route. Pages own data loading and actions.

pub mod agent;
pub mod audit;
pub mod connect;
pub mod fleet;
pub mod not_found;

use crate::api::ApiFailure;
use crate::state::AppContext;
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
            <button type="button" on:click=move |_| retry.run(())>"Retry"</button>
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
