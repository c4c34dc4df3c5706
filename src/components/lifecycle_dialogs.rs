//! The confirmations in front of lifecycle commands. Terminate is irreversible, so its
//! dialogs ask for proof of intent: the agent's exact name (or the count) and a reason.

use crate::components::dialog::Modal;
use crate::components::{handler, Show};
use crate::model::confirm::{bulk_terminate_confirmed, bulk_terminate_phrase, terminate_confirmed};
use crate::model::fleet_rows::BulkLine;
use fleet_protocol::{LifecycleAction, MAX_REASON_CHARS};
use leptos::prelude::*;

pub fn optional(reason: String) -> Option<String> {
    let trimmed = reason.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The reason field shared by every dialog, limited as the registry limits it.
#[component]
pub fn ReasonField(reason: RwSignal<String>, #[prop(optional)] required: bool) -> impl IntoView {
    let label = if required {
        "Reason (required, goes to the audit trail)"
    } else {
        "Reason (optional, goes to the audit trail)"
    };
    view! {
        <label class="field">
            <span>{label}</span>
            <textarea
                data-testid="reason"
                maxlength=MAX_REASON_CHARS.to_string()
                rows="3"
                prop:value=move || reason.get()
                on:input=handler(move |ev| reason.set(event_target_value(&ev)))
            ></textarea>
        </label>
    }
}

/// The field where the user types what a terminate asks for, word for word; `children`
/// say what to type.
#[component]
fn ConfirmField(
    testid: &'static str,
    typed: RwSignal<String>,
    children: Children,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{children()}</span>
            <input
                type="text"
                data-testid=testid
                autocomplete="off"
                spellcheck="false"
                prop:value=move || typed.get()
                on:input=handler(move |ev| typed.set(event_target_value(&ev)))
            />
        </label>
    }
}

/// Pause one agent, with an optional reason.
#[component]
pub fn PauseDialog(
    agent_name: String,
    on_confirm: Callback<Option<String>>,
    on_cancel: Callback<()>,
    busy: Signal<bool>,
) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    view! {
        <Modal title=format!("Pause {agent_name}?") on_close=on_cancel>
            <p>
                "The agent takes no new tasks; tasks in flight finish and heartbeats go on. "
                "You can resume it at any time."
            </p>
            <ReasonField reason=reason/>
            <div class="dialog-actions">
                <button type="button" on:click=handler(move |_| on_cancel.run(()))>"Cancel"</button>
                <button
                    type="button"
                    class="primary"
                    data-testid="confirm-pause"
                    disabled=move || busy.get()
                    on:click=handler(move |_| on_confirm.run(optional(reason.get())))
                >
                    "Pause agent"
                </button>
            </div>
        </Modal>
    }
}

/// Terminate one agent: the button stays disabled until the exact name and a reason are in.
#[component]
pub fn TerminateDialog(
    agent_name: String,
    on_confirm: Callback<String>,
    on_cancel: Callback<()>,
    busy: Signal<bool>,
) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let expected = agent_name.clone();
    let ready = Signal::derive(move || terminate_confirmed(&typed.get(), &expected, &reason.get()));
    view! {
        <Modal title=format!("Terminate {agent_name}?") on_close=on_cancel danger=true>
            <p class="danger-text">
                <strong>"This cannot be undone."</strong>
                " A terminated agent stays terminated: running instances are told to shut down, "
                "and nothing can resume it. Its audit history stays."
            </p>
            <ConfirmField testid="confirm-name" typed=typed>
                "Type the agent's name, " <code class="mono">{agent_name.clone()}</code> ", to confirm"
            </ConfirmField>
            <ReasonField reason=reason required=true/>
            <div class="dialog-actions">
                <button type="button" data-testid="cancel" on:click=handler(move |_| on_cancel.run(()))>"Cancel"</button>
                <button
                    type="button"
                    class="danger"
                    data-testid="confirm-terminate"
                    disabled=move || !ready.get() || busy.get()
                    on:click=handler(move |_| on_confirm.run(reason.get().trim().to_owned()))
                >
                    "Terminate agent"
                </button>
            </div>
        </Modal>
    }
}

/// Pause, resume or terminate the selected agents; lists them before and the outcome of
/// each after. Terminate asks for `terminate N agents` typed out.
#[component]
pub fn BulkDialog(
    action: LifecycleAction,
    agent_names: Vec<String>,
    on_confirm: Callback<Option<String>>,
    on_close: Callback<()>,
    busy: Signal<bool>,
    /// The outcome of each agent once the action ran (written by the caller; an
    /// `RwSignal` rather than a `Signal`, which would compile a memo for this type too).
    results: RwSignal<Option<Vec<BulkLine>>>,
) -> impl IntoView {
    let count = agent_names.len();
    let reason = RwSignal::new(String::new());
    let typed = RwSignal::new(String::new());
    let is_terminate = action == LifecycleAction::Terminate;
    let ready = move || {
        !is_terminate
            || (bulk_terminate_confirmed(&typed.get(), count) && !reason.get().trim().is_empty())
    };
    let verb = match action {
        LifecycleAction::Pause => "Pause",
        LifecycleAction::Resume => "Resume",
        LifecycleAction::Terminate => "Terminate",
    };
    let names = agent_names
        .into_iter()
        .map(|n| view! { <li>{n}</li> })
        .collect_view();
    let phrase = bulk_terminate_phrase(count);
    view! {
        <Modal title=format!("{verb} {count} agents?") on_close=on_close danger=is_terminate>
            <Show
                when=move || results.with(Option::is_some)
                fallback=move || ()
            >
                <ul class="bulk-results" data-testid="bulk-results">
                    {move || {
                        results
                            .get()
                            .unwrap_or_default()
                            .into_iter()
                            .map(|line| {
                                view! {
                                    <li class=if line.ok { "ok" } else { "failed" } data-testid="bulk-result">
                                        <strong>{line.agent_name}</strong>
                                        ": "
                                        {line.text}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
                <div class="dialog-actions">
                    <button type="button" class="primary" on:click=handler(move |_| on_close.run(()))>"Done"</button>
                </div>
            </Show>
            <div class:hidden=move || results.with(Option::is_some)>
                <ul class="bulk-list">{names}</ul>
                {is_terminate.then(|| view! {
                    <p class="danger-text"><strong>"This cannot be undone."</strong>" Terminated agents stay terminated."</p>
                    <ConfirmField testid="confirm-phrase" typed=typed>
                        "Type " <code class="mono">{phrase.clone()}</code> " to confirm"
                    </ConfirmField>
                })}
                <ReasonField reason=reason required=is_terminate/>
                <div class="dialog-actions">
                    <button type="button" on:click=handler(move |_| on_close.run(()))>"Cancel"</button>
                    <button
                        type="button"
                        class=if is_terminate { "danger" } else { "primary" }
                        data-testid="confirm-bulk"
                        disabled=move || !ready() || busy.get()
                        on:click=handler(move |_| on_confirm.run(optional(reason.get())))
                    >
                        {format!("{verb} {count} agents")}
                    </button>
                </div>
            </div>
        </Modal>
    }
}
