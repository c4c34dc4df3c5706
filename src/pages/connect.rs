//! `/connect`: registry URL and API key, checked with `GET /api/v1/me`, then what the
//! registry offers. `?add=1` signs in to another registry while one is in use.

use crate::api::Registry;
use crate::components::handler;
use crate::router::use_location;
use crate::router::use_replace;
use crate::state::{confirm, storage, use_app, watch};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Where to go after signing in: a path of this dashboard, never another site.
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/connect"))
        .unwrap_or_else(|| "/agents".to_owned())
}

#[component]
pub fn ConnectPage() -> impl IntoView {
    let ctx = use_app();
    let query = use_location().query;
    let replace = use_replace();
    let origin = window().location().origin().unwrap_or_default();
    let adding = query.with_untracked(|q| q.get("add").is_some());
    let url = RwSignal::new(if adding {
        String::new()
    } else {
        storage::current_registry().unwrap_or(origin)
    });
    let key = RwSignal::new(String::new());
    let remember = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Signed in (or already, unless adding another registry): on to where the user was.
    let start = ctx
        .session
        .with_untracked(|s| s.as_ref().map(|s| s.registry.clone()));
    watch(move || {
        let now = ctx.session.with(|s| s.as_ref().map(|s| s.registry.clone()));
        if now.is_some() && (!adding || now != start) {
            replace(&safe_next(query.read_untracked().get("next")));
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let registry = Registry::new(&url.get_untracked(), &key.get_untracked());
        if registry.key.is_empty() {
            error.set(Some("Enter an API key.".into()));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match confirm(&registry).await {
                Ok((me, caps)) => {
                    ctx.sign_in(registry, me, caps, remember.get_untracked());
                    // Adding the registry already in use changes no session: go on anyway.
                    if adding {
                        replace(&safe_next(query.read_untracked().get("next")));
                    }
                }
                Err(failure) if failure.is_unauthorized() => error.set(Some(
                    "The registry rejected that key. Check it and try again.".into(),
                )),
                Err(failure) if failure.is_unreachable() => error.set(Some(format!(
                    "Could not reach {}. Check the address and that the registry is running.",
                    registry.base_url
                ))),
                Err(failure) => error.set(Some(failure.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <section class="connect card">
            <h1>"Connect to a registry"</h1>
            {move || ctx.rejected.get().map(|why| view! {
                <p class="alert" role="alert" data-testid="rejected">{why}</p>
            })}
            <form on:submit=handler(submit)>
                <label class="field">
                    <span>"Registry URL"</span>
                    <input
                        type="url"
                        required
                        data-testid="registry-url"
                        prop:value=move || url.get()
                        on:input=handler(move |ev| url.set(event_target_value(&ev)))
                    />
                </label>
                <label class="field">
                    <span>"API key"</span>
                    <input
                        type="password"
                        autocomplete="current-password"
                        data-testid="api-key"
                        prop:value=move || key.get()
                        on:input=handler(move |ev| key.set(event_target_value(&ev)))
                    />
                </label>
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || remember.get()
                        on:change=handler(move |ev| remember.set(event_target_checked(&ev)))
                    />
                    " Remember on this device"
                </label>
                <p class="muted small">
                    "Otherwise the key is kept for this tab only. Sign out forgets it either way."
                </p>
                {move || error.get().map(|e| view! { <p class="alert" role="alert" data-testid="connect-error">{e}</p> })}
                <button type="submit" class="primary" data-testid="connect" disabled=move || busy.get()>
                    {move || if busy.get() { "Checking…" } else { "Connect" }}
                </button>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_dashboard() {
        assert_eq!(safe_next(Some("/agents/abc".into())), "/agents/abc");
        assert_eq!(safe_next(Some("//evil.example".into())), "/agents");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/agents");
        assert_eq!(safe_next(Some("/connect?next=/x".into())), "/agents");
        assert_eq!(safe_next(None), "/agents");
    }
}
