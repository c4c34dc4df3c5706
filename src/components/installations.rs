//! The agent's installations: each running instance, its last lease, the command waiting
//! for it and whether a lease carried it; an admin can revoke one instance.

use crate::api::ApiFailure;
use crate::components::dialog::Modal;
use crate::components::handler;
use crate::components::lifecycle_dialogs::{optional, ReasonField};
use crate::model::time::when;
use crate::state::{use_app, ToastKind};
use fleet_protocol::{Installation, InstallationList, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// "pause, delivered 2 min ago (…)", "pause, waiting for a lease", or a dash.
fn command_text(installation: &Installation, now_ms: i64) -> String {
    match (
        installation.last_command,
        installation.command_delivered_at.as_deref(),
    ) {
        (Some(c), Some(at)) => format!("{c}, delivered {}", when(Some(at), now_ms)),
        (Some(c), None) => format!("{c}, waiting for a lease"),
        (None, _) => "—".to_owned(),
    }
}

#[component]
pub fn InstallationTable(
    installations: RwSignal<Option<InstallationList>>,
    error: RwSignal<Option<ApiFailure>>,
    /// Runs after a revoke, to reload the list and the audit.
    on_change: Callback<()>,
) -> impl IntoView {
    let ctx = use_app();
    let revoking = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let revoke = Callback::new(move |reason: Option<String>| {
        let (Some(registry), Some(id)) = (ctx.registry(), revoking.get_untracked()) else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match registry.revoke_installation(&id, reason).await {
                Ok(_) => {
                    ctx.toast(
                        ToastKind::Success,
                        format!("Installation {id} revoked; it stops on its next lease."),
                    );
                    revoking.set(None);
                    on_change.run(());
                }
                Err(failure) => {
                    ctx.observe_failure(&failure);
                    ctx.toast(ToastKind::Error, failure.message);
                }
            }
            busy.set(false);
        });
    });
    let is_admin = move || ctx.role() == Some(Role::Admin);
    view! {
        <section class="card" aria-labelledby="installations-heading">
            <h2 id="installations-heading">"Installations"</h2>
            {move || error.get().map(|f| view! { <p class="alert">{f.message}</p> })}
            {move || installations.get().map(|list| {
                if list.installations.is_empty() {
                    view! { <p class="muted">"No running instances have registered."</p> }.into_any()
                } else {
                    let now = ctx.now_ms.get_untracked();
                    view! {
                        <table class="compact" data-testid="installations">
                            <thead><tr>
                                <th scope="col">"Installation"</th><th scope="col">"Status"</th>
                                <th scope="col">"Last lease"</th><th scope="col">"Heartbeat"</th>
                                <th scope="col">"Command"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>
                                {list.installations.into_iter().map(|i| {
                                    let id = i.installation_id.clone();
                                    let live = i.revoked_at.is_none();
                                    view! {
                                        <tr data-testid="installation-row">
                                            <td class="mono small">{i.installation_id.clone()}</td>
                                            <td data-testid="installation-status">{i.status.clone()}</td>
                                            <td>{when(i.last_lease_at.as_deref(), now)}</td>
                                            <td>{format!("every {} s", i.heartbeat_interval_seconds)}</td>
                                            <td>{command_text(&i, now)}</td>
                                            <td>{(live && is_admin()).then(|| view! {
                                                <button type="button" class="danger-outline small" data-testid="revoke-installation"
                                                    aria-label=format!("Revoke installation {id}")
                                                    on:click=handler({let id = id.clone(); move |_| revoking.set(Some(id.clone()))})>"Revoke…"</button>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }
            })}
            {move || revoking.get().map(|id| {
                let reason = RwSignal::new(String::new());
                view! {
                    <Modal title=format!("Revoke installation {id}?") on_close=Callback::new(move |()| revoking.set(None)) danger=true>
                        <p>"This instance is told to shut down on its next lease; the agent's other instances run on."</p>
                        <ReasonField reason=reason/>
                        <div class="dialog-actions">
                            <button type="button" on:click=handler(move |_| revoking.set(None))>"Cancel"</button>
                            <button type="button" class="danger" data-testid="confirm-revoke" disabled=move || busy.get()
                                on:click=handler(move |_| revoke.run(optional(reason.get_untracked())))>"Revoke"</button>
                        </div>
                    </Modal>
                }
            })}
        </section>
    }
}
