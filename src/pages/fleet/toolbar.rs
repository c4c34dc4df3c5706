//! The fleet toolbar's chip filters.

use leptos::prelude::*;

/// Toggle chips for one filter, by wire name (one copy of this code serves every filter).
#[component]
pub(super) fn FilterChips(
    label: &'static str,
    testid: &'static str,
    options: Vec<&'static str>,
    chosen: Signal<Vec<&'static str>>,
    on_toggle: Callback<&'static str>,
) -> impl IntoView {
    view! {
        <fieldset class="chips" data-testid=testid>
            <legend>{label}</legend>
            {options
                .into_iter()
                .map(|name| {
                    let on = move || chosen.with(|c| c.contains(&name));
                    view! {
                        <button
                            type="button"
                            class=move || if on() { format!("chip on chip-{name}") } else { format!("chip chip-{name}") }
                            aria-pressed=move || on().to_string()
                            data-value=name
                            on:click=move |_| on_toggle.run(name)
                        >
                            {name}
                        </button>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}
