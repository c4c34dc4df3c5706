//! Presentational pieces: they take props and render; pages own data and actions.

pub mod badges;
pub mod charts;
pub mod chrome;
pub mod dialog;
pub mod installations;
pub mod lifecycle_dialogs;
pub mod logs;
pub mod onboarding;

use leptos::prelude::*;

/// Leptos's `Show`, with its condition and children type-erased, so the whole app shares
/// one copy of it instead of one per use. Shadows the prelude's `Show` where imported.
#[component]
pub fn Show(
    /// Built each time `when` turns true.
    children: ChildrenFn,
    /// Whether to show the children; memoized, so the children are rebuilt only when it
    /// changes.
    #[prop(into)]
    when: Signal<bool>,
    /// Shown while `when` is false; nothing by default.
    #[prop(optional, into)]
    fallback: ViewFn,
) -> impl IntoView {
    let shown = Memo::new(move |_| when.get());
    move || {
        if shown.get() {
            children()
        } else {
            fallback.run()
        }
    }
}

/// Leptos's `For` over string keys, with the child builder type-erased, so every keyed
/// list in the app shares one compiled copy of the keyed-list machinery.
#[component]
pub fn KeyedList(
    /// One child per key, in this order; a child stays (with its DOM) while its key does.
    /// Read reactively. (A `Signal` here would compile a memo of `Vec<String>` as well.)
    #[prop(into)]
    keys: Callback<(), Vec<String>>,
    /// Builds the child for a key.
    #[prop(into)]
    child: Callback<String, AnyView>,
) -> impl IntoView {
    view! { <For each=move || keys.run(()) key=String::clone children=move |key| child.run(key)/> }
}

/// An event handler boxed to the one type every handler of an event type shares, as in
/// `on:click=handler(move |_| …)`: the code that attaches a handler is then compiled once
/// per event type instead of once per handler.
pub fn handler<E: 'static>(handle: impl FnMut(E) + 'static) -> Box<dyn FnMut(E)> {
    Box::new(handle)
}
