//! Bulk actions on the selected rows: the bar that offers them by role, the dialog that
//! asks for a reason, and what each agent's outcome was.

use crate::components::lifecycle_dialogs::BulkDialog;
use crate::components::{handler, Show};
use crate::model::capabilities::Capabilities;
use crate::model::fleet_rows::{bulk_lines, bulk_summary, BulkLine};
use crate::state::{use_app, ToastKind};
use fleet_protocol::{AgentList, LifecycleAction, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The bulk bar while rows are selected, and its dialog. `on_done` runs after an action
/// was applied (to any of the agents), so the page reloads what it shows.
#[component]
pub(super) fn BulkActions(
    selected: RwSignal<Vec<String>>,
    list: RwSignal<Option<AgentList>>,
    on_done: Callback<()>,
) -> impl IntoView {
    let ctx = use_app();
    let role = move || ctx.role().unwrap_or(Role::Viewer);
    let may_operate = move || role() >= Role::Operator;
    let may_terminate = move || role() >= Role::Admin;
    let action = RwSignal::new(None::<LifecycleAction>);
    let busy = RwSignal::new(false);
    let results = RwSignal::new(None::<Vec<BulkLine>>);
    // The selected agents on the page, by id and name.
    let targets = move || {
        let ids = selected.get();
        list.with(|l| {
            l.as_ref()
                .map(|l| {
                    l.agents
                        .iter()
                        .filter(|a| ids.contains(&a.sekuire_id))
                        .map(|a| (a.sekuire_id.clone(), a.name.clone()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let run = Callback::new(move |reason: Option<String>| {
        let (Some(registry), Some(chosen)) = (ctx.registry(), action.get_untracked()) else {
            return;
        };
        let targets = targets();
        let caps = ctx.session.with_untracked(|s| {
            s.as_ref()
                .and_then(|s| s.caps)
                .unwrap_or(Capabilities::STANDARD)
        });
        busy.set(true);
        spawn_local(async move {
            let ids = targets.iter().map(|(id, _)| id.clone()).collect();
            match registry.apply_bulk(chosen, ids, reason, caps).await {
                Ok(response) => {
                    let lines = bulk_lines(chosen, &response.results, &targets);
                    let kind = if lines.iter().all(|l| l.ok) {
                        ToastKind::Success
                    } else {
                        ToastKind::Error
                    };
                    ctx.toast(kind, bulk_summary(chosen, &lines));
                    results.set(Some(lines));
                    on_done.run(());
                }
                Err(failure) => {
                    ctx.observe_failure(&failure);
                    ctx.toast(ToastKind::Error, failure.message);
                }
            }
            busy.set(false);
        });
    });
    let close = Callback::new(move |()| {
        if results.with_untracked(Option::is_some) {
            selected.set(Vec::new());
        }
        action.set(None);
        results.set(None);
    });
    let offer = move |chosen: LifecycleAction| move |_| action.set(Some(chosen));
    view! {
        <Show when=move || !selected.with(Vec::is_empty)>
            <div class="bulk-bar" data-testid="bulk-bar">
                <span>{move || format!("{} selected", selected.with(Vec::len))}</span>
                <Show when=may_operate>
                    <button type="button" data-testid="bulk-pause" on:click=handler(offer(LifecycleAction::Pause))>"Pause selected"</button>
                    <button type="button" data-testid="bulk-resume" on:click=handler(offer(LifecycleAction::Resume))>"Resume selected"</button>
                </Show>
                <Show when=may_terminate>
                    <button type="button" class="danger-outline" data-testid="bulk-terminate" on:click=handler(offer(LifecycleAction::Terminate))>"Terminate selected"</button>
                </Show>
                <button type="button" class="link" on:click=handler(move |_| selected.set(Vec::new()))>"Clear selection"</button>
            </div>
        </Show>
        {move || action.get().map(|chosen| view! {
            <BulkDialog
                action=chosen
                agent_names=targets().into_iter().map(|(_, n)| n).collect()
                on_confirm=run
                on_close=close
                busy=busy.into()
                results=results
            />
        })}
    }
}
