//! The router, the providers, and what happens once at start: theme, clock, sign-in from
//! a saved key, a `#key=` link or a `?registry=` link.

use crate::api::Registry;
use crate::components::chrome::{
    ConnectionBanner, LiveToggle, RegistrySwitcher, ShortcutHelp, ThemePicker, ToastHost,
};
use crate::components::{handler, Show};
use crate::model::capabilities::Feature;
use crate::model::encode_component;
use crate::model::route::Route;
use crate::pages::{
    agent::AgentPage,
    audit::{AuditPage, NoAuditTrail},
    connect::ConnectPage,
    fleet::FleetPage,
    not_found::NotFound,
};
use crate::router::{provide_location, use_go, use_location, use_replace, History};
use crate::state::live::LiveFeed;
use crate::state::{storage, use_app, watch, AppContext};
use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::JsCast;

/// The whole dashboard.
#[component]
pub fn App() -> impl IntoView {
    let ctx = AppContext::new();
    provide_context(ctx);

    watch(move || {
        let theme = ctx.theme.get();
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-theme", theme.as_str());
        }
    });
    let clock = set_interval_with_handle(
        move || ctx.now_ms.set(js_sys::Date::now() as i64),
        Duration::from_secs(1),
    );
    on_cleanup(move || {
        if let Ok(clock) = clock {
            clock.clear();
        }
    });
    match starting_session() {
        Some((registry, remember)) => ctx.resume(registry, remember),
        None => ctx.restoring.set(false),
    }

    let location = provide_location();
    watch(move || {
        if location.route.with(|r| *r == Route::Home) {
            location.navigate("/agents", History::Replace);
        }
    });
    let page = move || {
        match location.route.get() {
        Route::Home => ().into_any(),
        Route::Connect => view! { <ConnectPage/> }.into_any(),
        Route::Fleet => view! { <Protected><FleetPage/></Protected> }.into_any(),
        Route::Agent(sekuire_id) => {
            view! { <Protected><AgentPage sekuire_id=sekuire_id.clone()/></Protected> }.into_any()
        }
        Route::Audit => view! {
            <Protected>
                <Show when=move || ctx.caps().is_none_or(|c| c.has(Feature::Audit)) fallback=NoAuditTrail>
                    <AuditPage/>
                </Show>
            </Protected>
        }
        .into_any(),
        Route::NotFound => view! { <NotFound/> }.into_any(),
    }
    };

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <Header/>
        <ConnectionBanner/>
        <main id="main" tabindex="-1">{move || page()}</main>
        <ToastHost/>
        <ShortcutHelp/>
        <LiveFeed/>
        <KeyboardShortcuts/>
    }
}

/// The registry and key to start with, and whether the key is remembered on this device.
///
/// The registry: a `?registry=URL` link's, else the one this tab or device used last, else
/// this dashboard's own origin. A linked registry becomes the one in use even without a
/// key, so sign-in offers it. The key: a `#key=…` link's (the fragment is then removed from
/// the address bar and history), else the one saved for that registry.
fn starting_session() -> Option<(Registry, bool)> {
    let window = window();
    let location = window.location();
    let origin = location.origin().unwrap_or_default();
    let search = location.search().unwrap_or_default();
    let linked = web_sys::UrlSearchParams::new_with_str(&search)
        .ok()
        .and_then(|params| params.get("registry"))
        .map(|url| Registry::new(&url, "").base_url)
        .filter(|url| url.starts_with("http://") || url.starts_with("https://"));
    if let Some(url) = &linked {
        storage::choose_registry(url);
    }
    let base = linked.or_else(storage::current_registry).unwrap_or(origin);
    let hash = location.hash().unwrap_or_default();
    if let Some(key) = hash.strip_prefix("#key=") {
        let clean = format!("{}{search}", location.pathname().unwrap_or_default());
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
        }
        return Some((Registry::new(&base, key), false));
    }
    storage::saved_key(&base).map(|(key, remembered)| (Registry::new(&base, &key), remembered))
}

/// Pages that need a session: until there is one, send the user to sign in and bring
/// them back here afterwards.
#[component]
fn Protected(children: ChildrenFn) -> impl IntoView {
    let ctx = use_app();
    let location = use_location();
    let replace = use_replace();
    watch(move || {
        if !ctx.restoring.get() && ctx.session.with(Option::is_none) {
            let here = location.here();
            replace(&format!("/connect?next={}", encode_component(&here)));
        }
    });
    view! {
        <Show
            when=move || ctx.session.with(Option::is_some)
            fallback=|| view! { <p class="loading" aria-busy="true">"Signing in…"</p> }
        >
            {children()}
        </Show>
    }
}

#[component]
fn Header() -> impl IntoView {
    let ctx = use_app();
    let location = use_location();
    let current = move |route: Route| location.route.with(|r| *r == route).then_some("page");
    let who = move || {
        ctx.session.with(|s| {
            s.as_ref()
                .and_then(|s| s.me.as_ref())
                .map(|me| (me.name.clone(), me.role.to_string()))
        })
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/agents">"Sekuire " <span>"fleet"</span></a>
            <Show when=move || who().is_some()>
                <nav aria-label="Main">
                    <a href="/agents" aria-current=move || current(Route::Fleet)>"Fleet"</a>
                    <Show when=move || ctx.offers(Feature::Audit)>
                        <a href="/audit" aria-current=move || current(Route::Audit)>"Audit"</a>
                    </Show>
                </nav>
            </Show>
            <div class="topbar-right">
                <RegistrySwitcher/>
                <Show when=move || who().is_some()>
                    <LiveToggle/>
                </Show>
                <ThemePicker/>
                {move || who().map(|(name, role)| view! {
                    <span class="whoami" data-testid="whoami">{name}" · "<span class="role">{role}</span></span>
                    <button type="button" class="link" data-testid="sign-out" on:click=handler(move |_| ctx.sign_out(None))>"Sign out"</button>
                })}
                <button type="button" class="icon" aria-label="Keyboard shortcuts" on:click=handler(move |_| ctx.help_open.set(true))>"?"</button>
            </div>
        </header>
    }
}

/// `/` search, `g a` fleet, `g l` audit, `?` help. Ignored while typing in a field.
#[component]
fn KeyboardShortcuts() -> impl IntoView {
    let ctx = use_app();
    let go = use_go();
    let g_pressed_at = StoredValue::new(0_u64);
    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        let in_field = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if in_field || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let now = js_sys::Date::now() as u64;
        let after_g = now.saturating_sub(g_pressed_at.get_value()) < 1_500;
        match ev.key().as_str() {
            "/" => {
                ev.prevent_default();
                match document().get_element_by_id("fleet-search") {
                    Some(search) => {
                        if let Ok(search) = search.dyn_into::<web_sys::HtmlElement>() {
                            let _ = search.focus();
                        }
                    }
                    None => go("/agents"),
                }
            }
            "?" => ctx.help_open.update(|open| *open = !*open),
            "g" => g_pressed_at.set_value(now),
            "a" if after_g => {
                g_pressed_at.set_value(0);
                go("/agents");
            }
            "l" if after_g => {
                g_pressed_at.set_value(0);
                go("/audit");
            }
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
}
