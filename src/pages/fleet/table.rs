//! The fleet table: rows keyed by Sekuire ID, each following its own agent, the inline
//! pause and resume, and the pager.

use crate::components::badges::{
    HealthCell, PendingBadge, ReputationBar, RuntimeBadge, ShortId, VerificationBadge,
};
use crate::components::{handler, KeyedList, Show};
use crate::model::fleet_query::{FleetQuery, STANDARD_LIST_LIMIT};
use crate::model::fleet_rows::patch_row;
use crate::pages::{act_on_seen, changed_sentence, ActionOutcome};
use crate::router::use_go;
use crate::state::{use_app, AppContext, ToastKind};
use fleet_protocol::{offered_actions, Agent, AgentList, LifecycleAction, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The fleet table: one row per agent on the page, keyed by Sekuire ID.
#[component]
pub(super) fn FleetTable(
    row_ids: Memo<Vec<String>>,
    selected: RwSignal<Vec<String>>,
    list: RwSignal<Option<AgentList>>,
    unresolved: RwSignal<Vec<String>>,
) -> impl IntoView {
    let all_selected = Signal::derive(move || {
        row_ids
            .with(|ids| !ids.is_empty() && selected.with(|s| ids.iter().all(|id| s.contains(id))))
    });
    let toggle_all = move |_| {
        if all_selected.get_untracked() {
            selected.set(Vec::new());
        } else {
            selected.set(row_ids.get_untracked());
        }
    };
    view! {
        <Show
            when=move || !row_ids.with(Vec::is_empty)
            fallback=move || view! {
                <div class="card empty" data-testid="empty-state">
                    <p><strong>"No agents match this view."</strong></p>
                    <p><a href="/agents">"Clear search and filters"</a></p>
                </div>
            }
        >
            <div class="table-wrap">
                <table class="fleet-table" data-testid="fleet-table">
                    <caption class="visually-hidden">"Agents in the fleet"</caption>
                    <thead>
                        <tr>
                            <th scope="col" class="select-col">
                                <input type="checkbox" aria-label="Select all agents on this page" prop:checked=move || all_selected.get() on:change=handler(toggle_all)/>
                            </th>
                            <th scope="col">"Agent"</th>
                            <th scope="col">"Sekuire ID"</th>
                            <th scope="col">"State"</th>
                            <th scope="col">"Health"</th>
                            <th scope="col">"Verification"</th>
                            <th scope="col">"Reputation"</th>
                            <th scope="col">"Pending"</th>
                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        <KeyedList
                            keys=move |()| row_ids.get()
                            child=move |id: String| view! { <FleetRow sekuire_id=id selected=selected list=list unresolved=unresolved/> }.into_any()
                        />
                    </tbody>
                </table>
            </div>
        </Show>
    }
}

/// Runs one agent's inline pause or resume from the table, with the revision on screen;
/// the row then shows the agent as it is (also when it had changed meanwhile).
fn inline_action(
    ctx: AppContext,
    seen: Agent,
    action: LifecycleAction,
    list: RwSignal<Option<AgentList>>,
) {
    spawn_local(async move {
        let fresh = match act_on_seen(ctx, &seen, action, None).await {
            ActionOutcome::Done(agent) => agent,
            ActionOutcome::Changed(agent) => {
                ctx.toast(ToastKind::Error, changed_sentence(&agent));
                agent
            }
            ActionOutcome::Failed => return,
        };
        list.update(|l| {
            let id = fresh.sekuire_id.clone();
            patch_row(l, &id, |row| *row = fresh);
        })
    });
}

/// One row, kept for as long as its agent is on the page. Its cells are redrawn in place,
/// so a heartbeat changes only the health cell's text in the DOM; the state and the action
/// buttons follow the runtime state alone, so the keyboard focus on a button stays. While
/// its runtime state is being read (`unresolved`), the row shows none and offers no action.
#[component]
fn FleetRow(
    sekuire_id: String,
    selected: RwSignal<Vec<String>>,
    list: RwSignal<Option<AgentList>>,
    unresolved: RwSignal<Vec<String>>,
) -> impl IntoView {
    let ctx = use_app();
    let agent = Memo::new({
        let id = sekuire_id.clone();
        move |_| {
            list.with(|l| {
                l.as_ref()
                    .and_then(|l| l.agents.iter().find(|a| a.sekuire_id == id).cloned())
            })
        }
    });
    let status = Memo::new({
        let id = sekuire_id.clone();
        move |_| {
            if unresolved.with(|u| u.contains(&id)) {
                return None;
            }
            agent.with(|a| a.as_ref().map(|a| a.runtime_status))
        }
    });
    let heartbeat = move || {
        agent.with(|a| {
            a.as_ref()
                .map(|a| (a.last_heartbeat_at.clone(), a.heartbeat_interval_seconds))
        })
    };
    let facts = move || {
        agent.with(|a| {
            a.as_ref()
                .map(|a| (a.verification_status, a.reputation_score, a.pending_command))
        })
    };
    let checked = {
        let id = sekuire_id.clone();
        Signal::derive(move || selected.with(|s| s.contains(&id)))
    };
    let toggle_selected = {
        let id = sekuire_id.clone();
        move |_| {
            selected.update(|s| {
                if let Some(i) = s.iter().position(|x| *x == id) {
                    s.remove(i);
                } else {
                    s.push(id.clone());
                }
            })
        }
    };
    let agent_name = move || agent.with(|a| a.as_ref().map(|a| a.name.clone()).unwrap_or_default());
    let inline_actions = move || {
        let role = ctx.role().unwrap_or(Role::Viewer);
        let Some(status) = status.get() else {
            return Vec::new();
        };
        offered_actions(role, status)
            .into_iter()
            .filter(|a| *a != LifecycleAction::Terminate)
            .map(|action| {
                let verb = if action == LifecycleAction::Pause {
                    "Pause"
                } else {
                    "Resume"
                };
                view! {
                    <button
                        type="button"
                        class="small"
                        data-testid=format!("row-{action}")
                        aria-label=move || format!("{verb} {}", agent_name())
                        on:click=handler(move |_| {
                            if let Some(seen) = agent.get_untracked() {
                                inline_action(ctx, seen, action, list);
                            }
                        })
                    >
                        {verb}
                    </button>
                }
            })
            .collect::<Vec<_>>()
    };
    view! {
        <tr
            data-testid="agent-row"
            data-id=sekuire_id.clone()
            class=move || status.get().map(|s| format!("row-{s}")).unwrap_or_default()
        >
            <td class="select-col">
                <input type="checkbox" aria-label=move || format!("Select {}", agent_name()) prop:checked=move || checked.get() on:change=handler(toggle_selected)/>
            </td>
            <td>
                <a class="agent-name" href=format!("/agents/{sekuire_id}") data-testid="agent-name">{move || agent_name()}</a>
                <span class="muted small version">
                    {move || agent.with(|a| a.as_ref().map(|a| format!(" v{}", a.version)).unwrap_or_default())}
                </span>
            </td>
            <td><ShortId sekuire_id=sekuire_id.clone()/></td>
            <td>
                {move || match status.get() {
                    Some(s) => view! { <RuntimeBadge status=s/> }.into_any(),
                    None => view! { <span class="muted" aria-busy="true" data-testid="state-pending">"reading…"</span> }.into_any(),
                }}
            </td>
            <td>
                {move || heartbeat().map(|(last, interval)| view! {
                    <HealthCell last_heartbeat_at=last interval_secs=interval/>
                })}
            </td>
            <td>{move || facts().map(|(v, _, _)| view! { <VerificationBadge status=v/> })}</td>
            <td>{move || facts().map(|(_, r, _)| view! { <ReputationBar score=r/> })}</td>
            <td>{move || facts().map(|(_, _, p)| view! { <PendingBadge command=p/> })}</td>
            <td class="actions">{move || inline_actions()}</td>
        </tr>
    }
}

/// Where in the list the user is, and the way to the next page.
#[component]
pub(super) fn Pager(
    view: Memo<FleetQuery>,
    list: RwSignal<Option<AgentList>>,
    loading: Signal<bool>,
    counted: Signal<bool>,
) -> impl IntoView {
    let go = use_go();
    view! {
        <nav class="pager" aria-label="Pages">
            <span data-testid="page-info">
                {move || list.with(|l| l.as_ref().map(|l| if counted.get() {
                    // Past the registry's count cap: "10000+ match".
                    format!(
                        "Page {} · {} on this page · {}{} match",
                        view.with(|v| v.page),
                        l.agents.len(),
                        l.total,
                        if l.total_exact { "" } else { "+" }
                    )
                } else {
                    // Sekuire's standard list neither counts nor pages.
                    format!(
                        "{} shown of {} loaded · this registry sends up to {STANDARD_LIST_LIMIT} matches; search to narrow them down",
                        l.agents.len(),
                        l.total
                    )
                }).unwrap_or_default())}
            </span>
            <Show when=move || loading.get()>
                <span class="muted small" aria-live="polite">"Updating…"</span>
            </Show>
            <Show when=move || view.with(|v| v.page > 1)>
                <button type="button" on:click=handler(move |_| go(&view.get_untracked().first_page().to_url()))>"First page"</button>
            </Show>
            {move || list.with(|l| l.as_ref().and_then(|l| l.next_cursor.clone())).map(|cursor| view! {
                <button
                    type="button"
                    data-testid="next-page"
                    on:click=handler(move |_| go(&view.get_untracked().next_page(cursor.clone()).to_url()))
                >
                    "Next page"
                </button>
            })}
        </nav>
    }
}
