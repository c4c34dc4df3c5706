//! App chrome: toasts, the lost-connection banner, the shortcut help, the live indicator,
//! the registry switcher and what the registry in use lacks.

use crate::components::dialog::Modal;
use crate::components::{handler, KeyedList, Show};
use crate::router::use_go;
use crate::state::live::LiveState;
use crate::state::{storage, use_app, Theme, ToastKind};
use leptos::prelude::*;

/// Toasts, announced politely to screen readers.
#[component]
pub fn ToastHost() -> impl IntoView {
    let ctx = use_app();
    view! {
        <div class="toasts" role="status" aria-live="polite" data-testid="toasts">
            <KeyedList
                keys=move |()| ctx.toasts.with(|t| t.iter().map(|t| t.id.to_string()).collect())
                child=move |key: String| {
                    // A toast never changes: what it says is read once.
                    let Some(toast) = ctx.toasts.with_untracked(|t| t.iter().find(|t| t.id.to_string() == key).cloned()) else {
                        return ().into_any();
                    };
                    let class = match toast.kind {
                        ToastKind::Success => "toast success",
                        ToastKind::Info => "toast info",
                        ToastKind::Error => "toast error",
                    };
                    let id = toast.id;
                    view! {
                        <div class=class data-testid="toast">
                            <span>{toast.text}</span>
                            <button
                                type="button"
                                class="toast-close"
                                aria-label="Dismiss"
                                on:click=handler(move |_| ctx.toasts.update(|t| t.retain(|x| x.id != id)))
                            >
                                "×"
                            </button>
                        </div>
                    }
                    .into_any()
                }
            />
        </div>
    }
}

/// Shown while the registry is unreachable; the data on screen stays.
#[component]
pub fn ConnectionBanner() -> impl IntoView {
    let ctx = use_app();
    view! {
        <Show when=move || ctx.connection_lost.get()>
            <div class="banner warning" role="alert" data-testid="connection-banner">
                "Lost connection to the registry. Retrying automatically — what you see may be out of date."
            </div>
        </Show>
    }
}

/// Live updates on/off, with the feed's state.
#[component]
pub fn LiveToggle() -> impl IntoView {
    let ctx = use_app();
    let label = move || match ctx.live_state.get() {
        LiveState::Off => "Live off",
        LiveState::Connecting => "Connecting…",
        LiveState::Live => "Live",
        LiveState::Reconnecting => "Reconnecting…",
        LiveState::Polling => "Refreshing every 15 s",
    };
    view! {
        <label class="live-toggle" title="Update rows as the fleet changes">
            <input
                type="checkbox"
                data-testid="live-toggle"
                prop:checked=move || ctx.live_enabled.get()
                on:change=handler(move |ev| {
                    let on = event_target_checked(&ev);
                    storage::save_live_updates(on);
                    ctx.live_enabled.set(on);
                })
            />
            <span class=move || format!("live-dot {}", if matches!(ctx.live_state.get(), LiveState::Live | LiveState::Polling) { "on" } else { "off" })></span>
            <span data-testid="live-state">{move || label()}</span>
        </label>
    }
}

/// System / light / dark.
#[component]
pub fn ThemePicker() -> impl IntoView {
    let ctx = use_app();
    view! {
        <label class="theme-picker">
            <span class="visually-hidden">"Theme"</span>
            <select
                data-testid="theme"
                on:change=handler(move |ev| {
                    let theme = Theme::parse(&event_target_value(&ev));
                    storage::save_theme(theme.as_str());
                    ctx.theme.set(theme);
                })
            >
                {Theme::ALL
                    .into_iter()
                    .map(|t| {
                        view! {
                            <option value=t.as_str() selected=move || ctx.theme.get() == t>
                                {match t {
                                    Theme::System => "System theme",
                                    Theme::Light => "Light",
                                    Theme::Dark => "Dark",
                                }}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// `?`: the keyboard shortcuts.
#[component]
pub fn ShortcutHelp() -> impl IntoView {
    let ctx = use_app();
    let close = Callback::new(move |()| ctx.help_open.set(false));
    view! {
        <Show when=move || ctx.help_open.get()>
            <Modal title="Keyboard shortcuts".to_owned() on_close=close>
                <table class="shortcuts">
                    <tbody>
                        <tr><td><kbd>"/"</kbd></td><td>"Search the fleet"</td></tr>
                        <tr><td><kbd>"g"</kbd>" "<kbd>"a"</kbd></td><td>"Go to the fleet"</td></tr>
                        <tr><td><kbd>"g"</kbd>" "<kbd>"l"</kbd></td><td>"Go to the audit log"</td></tr>
                        <tr><td><kbd>"?"</kbd></td><td>"Show this help"</td></tr>
                        <tr><td><kbd>"Esc"</kbd></td><td>"Close a dialog"</td></tr>
                    </tbody>
                </table>
                <div class="dialog-actions">
                    <button type="button" on:click=handler(move |_| close.run(()))>"Close"</button>
                </div>
            </Modal>
        </Show>
    }
}

/// A registry's address as the header shows it: host and port, and the path if any.
fn registry_label(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

/// The registry in use, always visible, and the saved ones to switch to without signing
/// out; "Add a registry…" signs in to another.
#[component]
pub fn RegistrySwitcher() -> impl IntoView {
    let ctx = use_app();
    let go = use_go();
    let current = move || {
        ctx.session
            .with(|s| s.as_ref().map(|s| s.registry.base_url.clone()))
    };
    view! {
        {move || current().map(|in_use| {
            let saved = storage::saved_registries();
            view! {
                <label class="registry-switcher">
                    <span class="visually-hidden">"Registry in use"</span>
                    <select
                        data-testid="registry-switcher"
                        on:change=handler(move |ev| {
                            let chosen = event_target_value(&ev);
                            if chosen.is_empty() {
                                go("/connect?add=1");
                            } else {
                                ctx.switch_registry(&chosen);
                                go("/agents");
                            }
                        })
                    >
                        {saved
                            .into_iter()
                            .map(|url| {
                                let selected = url == in_use;
                                view! { <option value=url.clone() selected=selected>{registry_label(&url).to_owned()}</option> }
                            })
                            .collect_view()}
                        <option value="">"Add a registry…"</option>
                    </select>
                </label>
            }
        })}
    }
}

/// Tells the user, once per page, which of this dashboard's features the registry in use
/// does not offer and what stands in for each.
#[component]
pub fn MissingFeatures() -> impl IntoView {
    let ctx = use_app();
    let missing = move || ctx.caps().map(|caps| caps.missing()).unwrap_or_default();
    view! {
        <Show when=move || !missing().is_empty()>
            <details class="notice" data-testid="missing-features">
                <summary>"This registry offers Sekuire's standard API, without some of this dashboard's features."</summary>
                <ul>
                    {move || missing().into_iter().map(|f| view! { <li data-testid="missing-feature">{f.without()}</li> }).collect_view()}
                </ul>
            </details>
        </Show>
    }
}
