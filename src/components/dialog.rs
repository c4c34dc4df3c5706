//! A modal dialog: Esc and Cancel close it, focus is trapped inside while it is open and
//! returned to where it was when it closes.

use crate::components::handler;
use crate::state::watch;
use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

const FOCUSABLE: &str =
    "button:not([disabled]), input:not([disabled]), select, textarea, a[href], [tabindex]:not([tabindex='-1'])";

fn focusables(root: &HtmlElement) -> Vec<HtmlElement> {
    let Ok(list) = root.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<HtmlElement>().ok())
        .collect()
}

/// A modal with a title; `on_close` runs on Esc, on the backdrop and on Cancel buttons
/// that the caller wires to it.
#[component]
pub fn Modal(
    /// Heading, also the dialog's accessible name.
    title: String,
    on_close: Callback<()>,
    /// Styles the dialog as dangerous (terminate).
    #[prop(optional)]
    danger: bool,
    children: Children,
) -> impl IntoView {
    let panel = NodeRef::<html::Div>::new();
    let document = web_sys::window().and_then(|w| w.document());
    let returns_focus_to: StoredValue<Option<HtmlElement>, LocalStorage> = StoredValue::new_local(
        document
            .and_then(|d| d.active_element())
            .and_then(|e| e.dyn_into::<HtmlElement>().ok()),
    );
    watch(move || {
        if let Some(panel) = panel.get() {
            let panel: HtmlElement = panel.into();
            if let Some(first) = focusables(&panel).first() {
                let _ = first.focus();
            }
        }
    });
    on_cleanup(move || {
        if let Some(element) = returns_focus_to.get_value() {
            let _ = element.focus();
        }
    });
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            ev.stop_propagation();
            on_close.run(());
        } else if ev.key() == "Tab" {
            let Some(panel) = panel.get() else { return };
            let panel: HtmlElement = panel.into();
            let items = focusables(&panel);
            let (Some(first), Some(last)) = (items.first(), items.last()) else {
                return;
            };
            let active = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.active_element());
            let at = |e: &HtmlElement| {
                active
                    .as_ref()
                    .is_some_and(|a| a == e.unchecked_ref::<web_sys::Element>())
            };
            if ev.shift_key() && at(first) {
                ev.prevent_default();
                let _ = last.focus();
            } else if !ev.shift_key() && at(last) {
                ev.prevent_default();
                let _ = first.focus();
            }
        }
    };
    let class = if danger { "dialog danger" } else { "dialog" };
    let label = title.clone();
    view! {
        <div class="backdrop" on:click=handler(move |_| on_close.run(()))></div>
        <div
            class=class
            role="dialog"
            aria-modal="true"
            aria-label=label
            node_ref=panel
            on:keydown=handler(on_keydown)
            data-testid="dialog"
        >
            <h2>{title}</h2>
            {children()}
        </div>
    }
}
