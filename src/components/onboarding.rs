//! An agent pushed with `sekuire push` and how to run it: the draft review (manifest,
//! publisher key, verify or suspend with a reason) and the run panel (an install token,
//! shown once, inside the exact `sekuire run` command).

use crate::components::dialog::Modal;
use crate::components::handler;
use crate::components::lifecycle_dialogs::{optional, ReasonField};
use crate::components::logs::plain;
use crate::state::{use_app, ToastKind};
use fleet_protocol::{Agent, InstallToken, VerificationStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

/// `manifest.a.b` as text, or a dash.
fn manifest_text(manifest: &Value, path: &str) -> String {
    match manifest.pointer(path).map(plain) {
        Some(text) if !text.is_empty() => text,
        _ => "—".to_owned(),
    }
}

/// The manifest's capabilities as Sekuire declares them (`provides`, `requires`).
fn capabilities(manifest: &Value) -> String {
    match manifest.get("capabilities").map(plain) {
        Some(text) if !text.is_empty() => text,
        _ => "none declared".to_owned(),
    }
}

/// What an admin reviews before trusting a pushed agent, and the decision.
#[component]
pub fn DraftReview(agent: Agent, on_reviewed: Callback<Agent>) -> impl IntoView {
    let ctx = use_app();
    let decision = RwSignal::new(None::<VerificationStatus>);
    let busy = RwSignal::new(false);
    let manifest = agent.manifest.clone().unwrap_or(Value::Null);
    let sekuire_id = agent.sekuire_id.clone();
    let decide = Callback::new(move |reason: Option<String>| {
        let (Some(registry), Some(status)) = (ctx.registry(), decision.get_untracked()) else {
            return;
        };
        let sekuire_id = sekuire_id.clone();
        busy.set(true);
        spawn_local(async move {
            match registry.set_verification(&sekuire_id, status, reason).await {
                Ok(agent) => {
                    ctx.toast(
                        ToastKind::Success,
                        format!("{} is now {status}.", agent.name),
                    );
                    decision.set(None);
                    on_reviewed.run(agent);
                }
                Err(failure) => {
                    ctx.observe_failure(&failure);
                    ctx.toast(ToastKind::Error, failure.message);
                }
            }
            busy.set(false);
        });
    });
    let is_admin = move || ctx.role() == Some(fleet_protocol::Role::Admin);
    let current = agent.verification_status;
    let offer = move |status: VerificationStatus, label: &'static str, testid: &'static str| {
        (current != status).then(|| view! {
            <button type="button" data-testid=testid on:click=handler(move |_| decision.set(Some(status)))>{label}</button>
        })
    };
    view! {
        <section class="card" data-testid="draft-review" aria-labelledby="review-heading">
            <h2 id="review-heading">
                {if current == VerificationStatus::Pending { "Draft review" } else { "Manifest" }}
            </h2>
            {(current == VerificationStatus::Pending).then(|| view! {
                <p>"Pushed with " <code>"sekuire push"</code> " and not yet reviewed. Check what it is before you verify it."</p>
            })}
            <dl class="facts">
                <dt>"Model"</dt><dd data-testid="manifest-model">{manifest_text(&manifest, "/identity/model")}</dd>
                <dt>"Project"</dt><dd>{format!("{} {}", manifest_text(&manifest, "/project/name"), manifest_text(&manifest, "/project/version"))}</dd>
                <dt>"Capabilities"</dt><dd>{capabilities(&manifest)}</dd>
                <dt>"Prompt hash"</dt><dd class="mono small">{manifest_text(&manifest, "/identity/system_prompt_hash")}</dd>
                <dt>"Tools hash"</dt><dd class="mono small">{manifest_text(&manifest, "/identity/tools_hash")}</dd>
                <dt>"Publisher key"</dt><dd class="mono small" data-testid="publisher-key">{agent.publisher_key.clone().unwrap_or_else(|| "—".into())}</dd>
            </dl>
            {move || is_admin().then(|| view! {
                <div class="actions-row">
                    {offer(VerificationStatus::Verified, "Verify…", "verify")}
                    {offer(VerificationStatus::Suspended, "Suspend…", "suspend")}
                    {(current != VerificationStatus::Pending).then(|| offer(VerificationStatus::Unverified, "Mark unverified…", "unverify"))}
                </div>
            })}
            {move || decision.get().map(|status| view! {
                <DecisionDialog name=agent.name.clone() status=status busy=busy.into()
                    on_confirm=decide on_cancel=Callback::new(move |()| decision.set(None))/>
            })}
        </section>
    }
}

#[component]
fn DecisionDialog(
    name: String,
    status: VerificationStatus,
    busy: Signal<bool>,
    on_confirm: Callback<Option<String>>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let verb = match status {
        VerificationStatus::Verified => "Verify",
        VerificationStatus::Suspended => "Suspend",
        _ => "Mark unverified",
    };
    view! {
        <Modal title=format!("{verb} {name}?") on_close=on_cancel>
            <p>"The decision and its reason go to the audit trail."</p>
            <ReasonField reason=reason/>
            <div class="dialog-actions">
                <button type="button" on:click=handler(move |_| on_cancel.run(()))>"Cancel"</button>
                <button type="button" class="primary" data-testid="confirm-verification"
                    disabled=move || busy.get()
                    on:click=handler(move |_| on_confirm.run(optional(reason.get_untracked())))>{verb}</button>
            </div>
        </Modal>
    }
}

/// Token lifetimes offered, in minutes.
const EXPIRIES: [(i64, &str); 4] = [
    (15, "15 minutes"),
    (60, "1 hour"),
    (1_440, "1 day"),
    (10_080, "7 days"),
];

/// The command that starts an installation with `token`, as the user will paste it.
pub fn run_command(registry_url: &str, token: &str) -> String {
    format!("sekuire run --backend {registry_url} --install-token {token} --cmd \"python main.py\"")
}

/// "Run this agent": an install token, shown once, in the command to copy.
#[component]
pub fn RunPanel(sekuire_id: String) -> impl IntoView {
    let ctx = use_app();
    let minutes = RwSignal::new(60_i64);
    let issued = RwSignal::new(None::<InstallToken>);
    let busy = RwSignal::new(false);
    let create = move |_| {
        let Some(registry) = ctx.registry() else {
            return;
        };
        let sekuire_id = sekuire_id.clone();
        busy.set(true);
        spawn_local(async move {
            match registry
                .create_install_token(&ctx.workspace(), &sekuire_id, minutes.get_untracked())
                .await
            {
                Ok(token) => issued.set(Some(token)),
                Err(failure) => {
                    ctx.observe_failure(&failure);
                    ctx.toast(ToastKind::Error, failure.message);
                }
            }
            busy.set(false);
        });
    };
    let command = move || {
        let base = ctx.registry().map(|r| r.base_url).unwrap_or_default();
        issued.get().map(|t| run_command(&base, &t.token))
    };
    let copy = move |_| {
        if let (Some(text), Some(window)) = (command(), web_sys::window()) {
            let _ = window.navigator().clipboard().write_text(&text);
            ctx.toast(ToastKind::Info, "Command copied.");
        }
    };
    view! {
        <section class="card" data-testid="run-panel" aria-labelledby="run-heading">
            <h2 id="run-heading">"Run this agent"</h2>
            <p>"An install token lets one machine start an instance with " <code>"sekuire run"</code> ". It works once and is shown only here, now."</p>
            <div class="actions-row bottom">
                <label class="field inline">
                    <span>"Token expires after"</span>
                    <select data-testid="token-expiry" on:change=handler(move |ev| minutes.set(event_target_value(&ev).parse().unwrap_or(60)))>
                        {EXPIRIES.into_iter().map(|(m, label)| view! { <option value=m.to_string() selected=m == 60>{label}</option> }).collect_view()}
                    </select>
                </label>
                <button type="button" class="primary" data-testid="create-install-token" disabled=move || busy.get() on:click=handler(create)>"Create install token"</button>
            </div>
            {move || command().map(|text| view! {
                <p class="muted">{issued.get().map(|t| format!("Expires {}. Copy it now: it will not be shown again.", t.expires_at))}</p>
                <pre class="command" data-testid="run-command">{text}</pre>
                <button type="button" data-testid="copy-run-command" on:click=handler(copy)>"Copy command"</button>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_summary_reads_nested_fields_and_any_capability_list() {
        let manifest = serde_json::json!({
            "identity": {"model": "gpt-4o"},
            "capabilities": {"provides": ["jira:tickets:create", "email:send"], "requires": []},
        });
        assert_eq!(manifest_text(&manifest, "/identity/model"), "gpt-4o");
        assert_eq!(manifest_text(&manifest, "/project/name"), "—");
        assert_eq!(
            capabilities(&manifest),
            "provides: jira:tickets:create, email:send"
        );
        assert_eq!(capabilities(&Value::Null), "none declared");
    }

    #[test]
    fn the_run_command_is_the_one_sekuire_run_takes() {
        assert_eq!(
            run_command("http://127.0.0.1:8080", "skt_x"),
            "sekuire run --backend http://127.0.0.1:8080 --install-token skt_x --cmd \"python main.py\""
        );
    }
}
