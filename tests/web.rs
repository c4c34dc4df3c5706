//! Component tests in headless Chromium: mount a piece, interact, check the DOM.
//! Run with `cargo test -p fleet-dashboard --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]
// A panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fleet_dashboard::components::badges::{HealthCell, ReputationBar, RuntimeBadge};
use fleet_dashboard::components::lifecycle_dialogs::{BulkDialog, TerminateDialog};
use fleet_dashboard::state::AppContext;
use fleet_protocol::{LifecycleAction, RuntimeStatus};
use leptos::prelude::*;
use leptos::task::tick;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlButtonElement, HtmlElement, HtmlInputElement, HtmlTextAreaElement};

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh container in the document for one test.
fn container() -> HtmlElement {
    let document = document();
    let div = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&div).unwrap();
    div.unchecked_into()
}

fn query<T: JsCast>(root: &HtmlElement, css: &str) -> T {
    root.query_selector(css)
        .unwrap()
        .unwrap_or_else(|| panic!("{css} is rendered"))
        .unchecked_into()
}

/// Types into a field as a user would: sets the value and fires `input`.
fn type_into(element: &web_sys::EventTarget, value: &str) {
    if let Some(input) = element.dyn_ref::<HtmlInputElement>() {
        input.set_value(value);
    } else if let Some(area) = element.dyn_ref::<HtmlTextAreaElement>() {
        area.set_value(value);
    }
    element
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn terminate_button_waits_for_the_exact_name_and_a_reason() {
    let root = container();
    let confirmed = Arc::new(AtomicU32::new(0));
    let cancelled = Arc::new(AtomicU32::new(0));
    let (c, x) = (confirmed.clone(), cancelled.clone());
    let _handle = mount_to(root.clone(), move || {
        provide_context(AppContext::new());
        view! {
            <TerminateDialog
                agent_name="billing-bot".to_owned()
                on_confirm=Callback::new(move |_reason: String| { c.fetch_add(1, Ordering::SeqCst); })
                on_cancel=Callback::new(move |()| { x.fetch_add(1, Ordering::SeqCst); })
                busy=Signal::derive(|| false)
            />
        }
    });
    tick().await;
    let button: HtmlButtonElement = query(&root, "[data-testid=confirm-terminate]");
    let name: HtmlInputElement = query(&root, "[data-testid=confirm-name]");
    let reason: HtmlTextAreaElement = query(&root, "[data-testid=reason]");
    assert!(button.disabled(), "disabled at first");

    type_into(&name, "billing-bot");
    tick().await;
    assert!(button.disabled(), "a reason is still missing");
    type_into(&reason, "Replaced by v2");
    type_into(&name, "Billing-bot");
    tick().await;
    assert!(button.disabled(), "the name must match exactly");
    type_into(&name, "billing-bot");
    tick().await;
    assert!(!button.disabled(), "exact name and a reason enable it");

    button.click();
    assert_eq!(confirmed.load(Ordering::SeqCst), 1);
    let cancel: HtmlButtonElement = query(&root, "[data-testid=cancel]");
    cancel.click();
    assert_eq!(cancelled.load(Ordering::SeqCst), 1);
}

#[wasm_bindgen_test]
async fn escape_closes_a_dialog() {
    let root = container();
    let cancelled = Arc::new(AtomicU32::new(0));
    let x = cancelled.clone();
    let _handle = mount_to(root.clone(), move || {
        provide_context(AppContext::new());
        view! {
            <TerminateDialog
                agent_name="a".to_owned()
                on_confirm=Callback::new(|_: String| {})
                on_cancel=Callback::new(move |()| { x.fetch_add(1, Ordering::SeqCst); })
                busy=Signal::derive(|| false)
            />
        }
    });
    tick().await;
    let dialog: HtmlElement = query(&root, "[role=dialog]");
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    let escape =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    dialog.dispatch_event(&escape).unwrap();
    assert_eq!(cancelled.load(Ordering::SeqCst), 1);
}

#[wasm_bindgen_test]
async fn bulk_terminate_asks_for_the_phrase_with_the_count() {
    let root = container();
    let _handle = mount_to(root.clone(), move || {
        provide_context(AppContext::new());
        view! {
            <BulkDialog
                action=LifecycleAction::Terminate
                agent_names=vec!["<b>one</b>".to_owned(), "two".to_owned(), "three".to_owned()]
                on_confirm=Callback::new(|_: Option<String>| {})
                on_close=Callback::new(|()| {})
                busy=Signal::derive(|| false)
                results=RwSignal::new(None)
            />
        }
    });
    tick().await;
    let button: HtmlButtonElement = query(&root, "[data-testid=confirm-bulk]");
    let phrase: HtmlInputElement = query(&root, "[data-testid=confirm-phrase]");
    let reason: HtmlTextAreaElement = query(&root, "[data-testid=reason]");
    type_into(&reason, "retiring");
    type_into(&phrase, "terminate 2 agents");
    tick().await;
    assert!(button.disabled());
    type_into(&phrase, "terminate 3 agents");
    tick().await;
    assert!(!button.disabled());
    assert!(
        root.text_content().unwrap().contains("<b>one</b>"),
        "names render as text"
    );
    assert!(
        root.query_selector("b").unwrap().is_none(),
        "never as markup"
    );
}

#[wasm_bindgen_test]
async fn badges_say_their_state_in_words() {
    let root = container();
    let _handle = mount_to(root.clone(), move || {
        provide_context(AppContext::new());
        view! {
            <RuntimeBadge status=RuntimeStatus::Paused/>
            <ReputationBar score=42/>
            <HealthCell last_heartbeat_at=None interval_secs=60/>
        }
    });
    tick().await;
    let text = root.text_content().unwrap();
    assert!(text.contains("paused"));
    assert!(text.contains("42"));
    assert!(text.contains("never") && text.contains("no heartbeat yet"));
    let fill: HtmlElement = query(&root, ".bar-fill");
    assert_eq!(fill.style().get_property_value("width").unwrap(), "42%");
}

#[wasm_bindgen_test]
async fn health_turns_stale_as_the_clock_moves_without_a_reload() {
    let root = container();
    let ctx = AppContext::new();
    let now = ctx.now_ms.get_untracked();
    let last = fleet_dashboard::model::time::parse_timestamp_ms("2026-01-15T10:30:00Z").unwrap();
    ctx.now_ms.set(last + 30_000);
    let _handle = mount_to(root.clone(), move || {
        provide_context(ctx);
        view! { <HealthCell last_heartbeat_at=Some("2026-01-15T10:30:00Z".to_owned()) interval_secs=60/> }
    });
    tick().await;
    assert!(root.text_content().unwrap().contains("healthy"));
    assert!(root.text_content().unwrap().contains("30 s ago"));
    ctx.now_ms.set(last + 120_000);
    tick().await;
    let text = root.text_content().unwrap();
    assert!(
        text.contains("stale") && text.contains("2 min ago"),
        "{text}"
    );
    ctx.now_ms.set(now);
}

/// Keys are kept per registry, each where the user chose (this tab or this device);
/// switching does not sign out; signing out forgets every key and keeps the registries.
#[wasm_bindgen_test]
fn keys_are_kept_per_registry_under_the_remember_or_tab_rule() {
    use fleet_dashboard::model::capabilities::Capabilities;
    use fleet_dashboard::state::storage;
    let (home, hosted) = ("http://127.0.0.1:9300", "https://proxy.example");
    storage::save_credentials(home, "sk_home", true);
    storage::save_credentials(hosted, "sk_hosted", false);
    assert_eq!(storage::saved_key(home), Some(("sk_home".into(), true)));
    assert_eq!(
        storage::saved_key(hosted),
        Some(("sk_hosted".into(), false))
    );
    let remembered = window().local_storage().unwrap().unwrap();
    assert_eq!(
        remembered
            .get_item(&format!("sekuire.key {hosted}"))
            .unwrap(),
        None,
        "a key for this tab only never reaches the device's storage"
    );
    assert_eq!(storage::current_registry().as_deref(), Some(hosted));
    assert_eq!(storage::saved_registries(), [home, hosted]);

    storage::save_capabilities(hosted, Capabilities::STANDARD);
    assert_eq!(
        storage::saved_capabilities(hosted),
        Some(Capabilities::STANDARD)
    );

    storage::forget_key(hosted);
    assert_eq!(storage::saved_key(hosted), None);
    assert!(storage::saved_key(home).is_some(), "other keys stay");
    storage::forget_keys();
    assert_eq!(storage::saved_key(home), None);
    assert_eq!(storage::saved_registries(), [home, hosted]);
}
