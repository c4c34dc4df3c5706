//! Small status pieces. Every state is text as well as colour.

use crate::components::handler;
use crate::model::time::{exact_time, parse_timestamp_ms, relative_time};
use crate::state::{use_app, ToastKind};
use fleet_protocol::{Health, LifecycleAction, RuntimeStatus, VerificationStatus};
use leptos::prelude::*;

/// Runtime state: active, paused, terminated.
#[component]
pub fn RuntimeBadge(status: RuntimeStatus) -> impl IntoView {
    view! {
        <span class=format!("badge runtime-{status}") data-testid="runtime-status">
            {status.as_str()}
        </span>
    }
}

/// Verification state.
#[component]
pub fn VerificationBadge(status: VerificationStatus) -> impl IntoView {
    view! { <span class=format!("badge verification-{status}")>{status.as_str()}</span> }
}

/// A command waiting for installations to pick it up.
#[component]
pub fn PendingBadge(command: Option<LifecycleAction>) -> impl IntoView {
    command.map(|c| {
        view! {
            <span class="badge pending" title="Not yet picked up by every installation">
                {format!("{c} pending")}
            </span>
        }
    })
}

/// Health derived in the browser from the last heartbeat and the clock, so it turns stale
/// and unhealthy on time without a reload; with "last heartbeat 42 s ago" ticking.
#[component]
pub fn HealthCell(
    /// RFC 3339 time of the last heartbeat, if any.
    last_heartbeat_at: Option<String>,
    /// The agent's heartbeat interval, in seconds.
    interval_secs: i64,
) -> impl IntoView {
    let ctx = use_app();
    let last_ms = last_heartbeat_at.as_deref().and_then(parse_timestamp_ms);
    let exact = last_heartbeat_at
        .as_deref()
        .map(exact_time)
        .unwrap_or_default();
    let health = move || Health::derive(last_ms, interval_secs, ctx.now_ms.get());
    let ago = move || match last_ms {
        Some(ms) => format!("last heartbeat {}", relative_time(ctx.now_ms.get(), ms)),
        None => "no heartbeat yet".to_owned(),
    };
    view! {
        <span class="health" title=exact>
            <span class=move || format!("badge health-{}", health()) data-testid="health">
                {move || health().as_str()}
            </span>
            <span class="muted small">{move || ago()}</span>
        </span>
    }
}

/// Reputation as a number and a bar.
#[component]
pub fn ReputationBar(score: u8) -> impl IntoView {
    let band = match score {
        0..=39 => "low",
        40..=69 => "mid",
        _ => "high",
    };
    view! {
        <span class="reputation" title=format!("Reputation {score} of 100")>
            <span class="reputation-number" data-testid="reputation">{score}</span>
            <span class="bar" aria-hidden="true">
                <span class=format!("bar-fill rep-{band}") style:width=format!("{score}%")></span>
            </span>
        </span>
    }
}

/// The first 12 characters of a Sekuire ID; a click copies the whole id.
#[component]
pub fn ShortId(sekuire_id: String, #[prop(optional)] full: bool) -> impl IntoView {
    let ctx = use_app();
    let shown = if full {
        sekuire_id.clone()
    } else {
        sekuire_id.chars().take(12).collect()
    };
    // The accessible name starts with the visible text (WCAG 2.5.3, axe's
    // `label-content-name-mismatch`); the title shows the whole id on hover.
    let label = format!("{shown} (copy the Sekuire ID)");
    let title = format!("Copy Sekuire ID {sekuire_id}");
    let copy = move |_| {
        let clipboard = web_sys::window().map(|w| w.navigator().clipboard());
        if let Some(clipboard) = clipboard {
            let _ = clipboard.write_text(&sekuire_id);
            ctx.toast(ToastKind::Info, "Sekuire ID copied.");
        }
    };
    view! {
        <button type="button" class="id-copy mono" title=title aria-label=label on:click=handler(copy)>
            {shown}
        </button>
    }
}
