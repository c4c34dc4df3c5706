//! The fleet toolbar: search as you type, the chip filters, minimum reputation and sort.
//! Every change is a new URL, so the view can be linked and Back undoes it.

use crate::components::handler;
use crate::model::fleet_query::{Facet, FleetQuery, SORTS};
use crate::router::{use_go, use_replace};
use crate::state::watch;
use leptos::prelude::*;
use std::time::Duration;

/// Keystrokes closer together than this are coalesced into one search, sent this long
/// after the last of them; a keystroke after a pause searches at once.
const SEARCH_DEBOUNCE: Duration = Duration::from_millis(150);
/// Searches this close together (ms) share one history entry.
const SEARCH_SESSION_MS: u64 = 2_000;

#[component]
pub(super) fn Toolbar(view: Memo<FleetQuery>) -> impl IntoView {
    let go = use_go();
    let set_view = move |f: &dyn Fn(&mut FleetQuery)| {
        let mut next = view.get_untracked().first_page();
        f(&mut next);
        go(&next.to_url());
    };
    view! {
        <div class="toolbar" role="search">
            <SearchBox view=view/>
            {Facet::ALL
                .into_iter()
                .map(|facet| view! {
                    <FilterChips
                        facet=facet
                        view=view
                        on_toggle=Callback::new(move |name: &'static str| set_view(&|v| v.toggle_chip(facet, name)))
                    />
                })
                .collect_view()}
            <label class="select">
                <span>"Min. reputation"</span>
                <select
                    data-testid="min-reputation"
                    on:change=handler(move |ev| {
                        let min = event_target_value(&ev).parse().ok();
                        set_view(&|v| v.min_reputation = min);
                    })
                >
                    {[None, Some(20u8), Some(40), Some(60), Some(80)]
                        .into_iter()
                        .map(|m| view! {
                            <option
                                value=m.map(|m| m.to_string()).unwrap_or_default()
                                selected=move || view.with(|v| v.min_reputation == m)
                            >
                                {m.map(|m| format!("{m}+")).unwrap_or_else(|| "Any".into())}
                            </option>
                        })
                        .collect_view()}
                </select>
            </label>
            <label class="select">
                <span>"Sort"</span>
                <select
                    data-testid="sort"
                    on:change=handler(move |ev| {
                        let sort = event_target_value(&ev).parse().unwrap_or_default();
                        set_view(&|v| v.sort = sort);
                    })
                >
                    {SORTS
                        .into_iter()
                        .map(|(sort, label)| view! {
                            <option
                                value=sort.to_string()
                                selected=move || view.with(|v| v.sort == sort)
                            >
                                {label}
                            </option>
                        })
                        .collect_view()}
                </select>
            </label>
        </div>
    }
}

/// Search as you type: the first keystroke after a pause searches at once, a burst of
/// keystrokes becomes one search after it. The box follows the URL on back/forward.
#[component]
fn SearchBox(view: Memo<FleetQuery>) -> impl IntoView {
    let go = use_go();
    // One history entry per typing session: a search soon after the last one replaces it,
    // so Back returns to the view before the search, not to its first letter.
    let replace = use_replace();
    let text = RwSignal::new(view.get_untracked().q);
    watch(move || text.set(view.with(|v| v.q.clone())));
    let pending: StoredValue<Option<TimeoutHandle>> = StoredValue::new(None);
    let last_keystroke_ms = StoredValue::new(0_u64);
    let last_search_ms = StoredValue::new(0_u64);
    let search = move |q: String| {
        let now = js_sys::Date::now() as u64;
        let mut next = view.get_untracked().first_page();
        next.q = q;
        if now.saturating_sub(last_search_ms.get_value()) < SEARCH_SESSION_MS {
            replace(&next.to_url());
        } else {
            go(&next.to_url());
        }
        last_search_ms.set_value(now);
    };
    let on_input = move |ev: leptos::ev::Event| {
        let typed = event_target_value(&ev);
        text.set(typed.clone());
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        let now = js_sys::Date::now() as u64;
        let in_burst =
            now.saturating_sub(last_keystroke_ms.get_value()) < SEARCH_DEBOUNCE.as_millis() as u64;
        last_keystroke_ms.set_value(now);
        if in_burst {
            let later = move || search(typed.clone());
            pending.set_value(set_timeout_with_handle(later, SEARCH_DEBOUNCE).ok());
        } else {
            pending.set_value(None);
            search(typed);
        }
    };
    view! {
        <label class="search">
            <span class="visually-hidden">"Search agents by name or Sekuire ID"</span>
            <input
                id="fleet-search"
                type="search"
                placeholder="Search name or ID  ( / )"
                data-testid="search"
                prop:value=move || text.get()
                on:input=handler(on_input)
            />
        </label>
    }
}

/// Toggle chips for one filter, by wire name (one copy of this code serves every filter).
#[component]
fn FilterChips(
    facet: Facet,
    /// The chips on are those the view chose for `facet`.
    view: Memo<FleetQuery>,
    on_toggle: Callback<&'static str>,
) -> impl IntoView {
    view! {
        <fieldset class="chips" data-testid=facet.testid()>
            <legend>{facet.label()}</legend>
            {facet
                .options()
                .into_iter()
                .map(|name| {
                    let on = move || view.with(|v| v.chosen(facet).contains(&name));
                    view! {
                        <button
                            type="button"
                            class=move || if on() { format!("chip on chip-{name}") } else { format!("chip chip-{name}") }
                            aria-pressed=move || on().to_string()
                            data-value=name
                            on:click=handler(move |_| on_toggle.run(name))
                        >
                            {name}
                        </button>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}
