//! `/agents`: the fleet at a glance. Search, filters, sort and paging are the registry's
//! work (the browser never downloads the fleet); the view lives in the URL.

use crate::api::ApiFailure;
use crate::components::badges::{
    HealthCell, PendingBadge, ReputationBar, RuntimeBadge, ShortId, VerificationBadge,
};
use crate::components::charts::{HealthBar, ReputationHistogram};
use crate::components::lifecycle_dialogs::{BulkDialog, BulkLine};
use crate::model::fleet_query::{Facet, FleetQuery, SORTS};
use crate::model::time::parse_timestamp_ms;
use crate::pages::{act_on_seen, changed_sentence, settle, ActionOutcome, ErrorPanel, LatestOnly};
use crate::router::use_location;
use crate::router::{use_go, use_replace};
use crate::state::live::LiveEvent;
use crate::state::{use_app, AppContext, ToastKind};
use fleet_protocol::{
    offered_actions, Agent, AgentList, FleetSummary, Health, LifecycleAction, Role, RuntimeStatus,
    VerificationStatus,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;

/// Keystrokes closer together than this are coalesced into one search, sent this long
/// after the last of them; a keystroke after a pause searches at once.
const SEARCH_DEBOUNCE: Duration = Duration::from_millis(150);
/// Searches this close together (ms) share one history entry.
const SEARCH_SESSION_MS: f64 = 2_000.0;

fn agent_health(agent: &Agent, now_ms: i64) -> Health {
    Health::derive(
        agent
            .last_heartbeat_at
            .as_deref()
            .and_then(parse_timestamp_ms),
        agent.heartbeat_interval_seconds,
        now_ms,
    )
}

#[component]
pub fn FleetPage() -> impl IntoView {
    let ctx = use_app();
    let query = use_location().query;
    let go = use_go();
    let view_q = Memo::new(move |_| query.with(|q| FleetQuery::from_params(|k| q.get(k))));
    let list = RwSignal::new(None::<AgentList>);
    let summary = RwSignal::new(None::<FleetSummary>);
    let summary_error = RwSignal::new(None::<ApiFailure>);
    let error = RwSignal::new(None::<ApiFailure>);
    let loading = RwSignal::new(false);
    let changes = RwSignal::new(0u32);
    let selected = RwSignal::new(Vec::<String>::new());
    let latest = LatestOnly::new();

    let load_summary = move || {
        let Some(registry) = ctx.registry() else {
            return;
        };
        spawn_local(async move {
            settle(ctx, registry.fleet_summary().await, summary, summary_error);
        });
    };
    let load = move || {
        let Some(registry) = ctx.registry() else {
            return;
        };
        let view = view_q.get_untracked();
        let ticket = latest.start();
        loading.set(true);
        spawn_local(async move {
            let page = registry.list_agents(&view).await;
            if !latest.is_current(ticket) {
                return;
            }
            loading.set(false);
            if page.is_ok() {
                changes.set(0);
            }
            settle(ctx, page, list, error);
            // The summary waits for the page's first rows: at 100,000 agents it is the
            // heavier query, and the table is what the user came for.
            if summary.with_untracked(Option::is_none) {
                load_summary();
            }
        });
    };
    Effect::new(move |_| {
        view_q.track();
        ctx.reload_epoch.track();
        selected.set(Vec::new());
        load();
    });
    // After a reconnect: the list reloads above, the summary here.
    Effect::new(move |first: Option<()>| {
        ctx.reload_epoch.track();
        if first.is_some() {
            load_summary();
        }
    });

    ctx.on_live_event(move |event| match event {
        LiveEvent::Agent(agent) => {
            let fits = view_q.with_untracked(|v| {
                v.matches(agent, agent_health(agent, ctx.now_ms.get_untracked()))
            });
            let on_page = list.with_untracked(|l| {
                l.as_ref()
                    .is_some_and(|l| l.agents.iter().any(|a| a.sekuire_id == agent.sekuire_id))
            });
            if on_page {
                // Updated in place; a row that no longer fits stays until the user asks.
                list.update(|l| {
                    if let Some(row) = l.as_mut().and_then(|l| {
                        l.agents
                            .iter_mut()
                            .find(|a| a.sekuire_id == agent.sekuire_id)
                    }) {
                        *row = (**agent).clone();
                    }
                });
            }
            if on_page != fits {
                changes.update(|n| *n += 1);
            }
        }
        LiveEvent::Heartbeat(beat) => {
            let on_page = list.with_untracked(|l| {
                l.as_ref()
                    .is_some_and(|l| l.agents.iter().any(|a| a.sekuire_id == beat.sekuire_id))
            });
            if on_page {
                list.update(|l| {
                    if let Some(row) = l.as_mut().and_then(|l| {
                        l.agents
                            .iter_mut()
                            .find(|a| a.sekuire_id == beat.sekuire_id)
                    }) {
                        row.last_heartbeat_at = Some(beat.last_heartbeat_at.clone());
                        row.health = beat.health;
                    }
                });
            }
        }
        LiveEvent::Resync => {
            load();
            load_summary();
        }
        LiveEvent::Audit(_) => {}
    });

    let set_view = move |f: &dyn Fn(&mut FleetQuery)| {
        let mut next = view_q.get_untracked().first_page();
        f(&mut next);
        go(&next.to_url());
    };

    // Search as you type: the first keystroke after a pause searches at once, a burst of
    // keystrokes becomes one search after it. The box follows the URL on back/forward.
    let search_text = RwSignal::new(view_q.get_untracked().q);
    Effect::new(move |_| search_text.set(view_q.with(|v| v.q.clone())));
    let pending_search: StoredValue<Option<TimeoutHandle>> = StoredValue::new(None);
    let last_keystroke_ms = StoredValue::new(0.0_f64);
    // One history entry per typing session: a search soon after the last one replaces it,
    // so Back returns to the view before the search, not to its first letter.
    let replace = use_replace();
    let last_search_ms = StoredValue::new(0.0_f64);
    let search = move |text: String| {
        let now = js_sys::Date::now();
        let mut next = view_q.get_untracked().first_page();
        next.q = text;
        if now - last_search_ms.get_value() < SEARCH_SESSION_MS {
            replace(&next.to_url());
        } else {
            go(&next.to_url());
        }
        last_search_ms.set_value(now);
    };
    let on_search = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        search_text.set(text.clone());
        if let Some(handle) = pending_search.get_value() {
            handle.clear();
        }
        let now = js_sys::Date::now();
        let in_burst = now - last_keystroke_ms.get_value() < SEARCH_DEBOUNCE.as_millis() as f64;
        last_keystroke_ms.set_value(now);
        if in_burst {
            let later = move || search(text.clone());
            pending_search.set_value(set_timeout_with_handle(later, SEARCH_DEBOUNCE).ok());
        } else {
            pending_search.set_value(None);
            search(text);
        }
    };

    // What the page shows changes only when loading finishes or fails, not on every
    // update of the rows (those are the rows' own business).
    let loaded = Memo::new(move |_| list.with(Option::is_some));
    let role = move || ctx.role().unwrap_or(Role::Viewer);
    let may_operate = move || role() >= Role::Operator;
    let may_terminate = move || role() >= Role::Admin;
    // The ids on the page change only when a page loads, not on every heartbeat: the
    // table's structure follows this, each row follows its own agent.
    let row_ids = Memo::new(move |_| {
        list.with(|l| {
            l.as_ref()
                .map(|l| {
                    l.agents
                        .iter()
                        .map(|a| a.sekuire_id.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });

    // Bulk actions on the selected rows.
    let bulk_action = RwSignal::new(None::<LifecycleAction>);
    let bulk_busy = RwSignal::new(false);
    let bulk_results = RwSignal::new(None::<Vec<BulkLine>>);
    let selected_names = move || {
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
    let run_bulk = Callback::new(move |reason: Option<String>| {
        let (Some(registry), Some(action)) = (ctx.registry(), bulk_action.get_untracked()) else {
            return;
        };
        let targets = selected_names();
        bulk_busy.set(true);
        spawn_local(async move {
            let ids = targets.iter().map(|(id, _)| id.clone()).collect();
            match registry.apply_bulk(action, ids, reason).await {
                Ok(response) => {
                    let lines: Vec<BulkLine> = response
                        .results
                        .iter()
                        .map(|r| {
                            let agent_name = targets
                                .iter()
                                .find(|(id, _)| *id == r.sekuire_id)
                                .map(|(_, n)| n.clone())
                                .unwrap_or_else(|| r.sekuire_id.clone());
                            let text = match (r.ok, r.changed) {
                                (true, Some(true)) => action.past_tense().to_owned(),
                                (true, _) => format!("already {}", action.past_tense()),
                                (false, _) => r.message.clone().unwrap_or_else(|| "failed".into()),
                            };
                            BulkLine {
                                agent_name,
                                ok: r.ok,
                                text,
                            }
                        })
                        .collect();
                    let failed = lines.iter().filter(|l| !l.ok).count();
                    let kind = if failed == 0 {
                        ToastKind::Success
                    } else {
                        ToastKind::Error
                    };
                    ctx.toast(
                        kind,
                        format!(
                            "{} of {} agents {}.",
                            lines.len() - failed,
                            lines.len(),
                            action.past_tense()
                        ),
                    );
                    bulk_results.set(Some(lines));
                    load();
                    load_summary();
                }
                Err(failure) => {
                    ctx.observe_failure(&failure);
                    ctx.toast(ToastKind::Error, failure.message);
                }
            }
            bulk_busy.set(false);
        });
    });
    let close_bulk = Callback::new(move |()| {
        if bulk_results.with_untracked(Option::is_some) {
            selected.set(Vec::new());
        }
        bulk_action.set(None);
        bulk_results.set(None);
    });

    view! {
        <section class="fleet">
            <div class="page-head">
                <h1>"Fleet"</h1>
                <SummaryStrip summary=summary/>
            </div>

            <div class="toolbar" role="search">
                <label class="search">
                    <span class="visually-hidden">"Search agents by name or Sekuire ID"</span>
                    <input
                        id="fleet-search"
                        type="search"
                        placeholder="Search name or ID  ( / )"
                        data-testid="search"
                        prop:value=move || search_text.get()
                        on:input=on_search
                    />
                </label>
                {Facet::ALL
                    .into_iter()
                    .map(|facet| view! {
                        <FilterChips
                            label=facet.label()
                            testid=facet.testid()
                            options=facet.options()
                            chosen=Signal::derive(move || view_q.with(|v| v.chosen(facet)))
                            on_toggle=Callback::new(move |name: &'static str| set_view(&|v| v.toggle_chip(facet, name)))
                        />
                    })
                    .collect_view()}
                <label class="select">
                    <span>"Min. reputation"</span>
                    <select
                        data-testid="min-reputation"
                        on:change=move |ev| {
                            let min = event_target_value(&ev).parse().ok();
                            set_view(&|v| v.min_reputation = min);
                        }
                    >
                        {[None, Some(20u8), Some(40), Some(60), Some(80)]
                            .into_iter()
                            .map(|m| view! {
                                <option
                                    value=m.map(|m| m.to_string()).unwrap_or_default()
                                    selected=move || view_q.with(|v| v.min_reputation == m)
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
                        on:change=move |ev| {
                            let sort = event_target_value(&ev).parse().unwrap_or_default();
                            set_view(&|v| v.sort = sort);
                        }
                    >
                        {SORTS
                            .into_iter()
                            .map(|(sort, label)| view! {
                                <option
                                    value=sort.to_string()
                                    selected=move || view_q.with(|v| v.sort == sort)
                                >
                                    {label}
                                </option>
                            })
                            .collect_view()}
                    </select>
                </label>
            </div>

            <Show when=move || { changes.get() > 0 }>
                <button
                    type="button"
                    class="pill"
                    data-testid="changes-pill"
                    on:click=move |_| { load(); load_summary(); }
                >
                    {move || format!("{} {} — show", changes.get(), if changes.get() == 1 { "change" } else { "changes" })}
                </button>
            </Show>

            <Show when=move || !selected.with(Vec::is_empty)>
                <div class="bulk-bar" data-testid="bulk-bar">
                    <span>{move || format!("{} selected", selected.with(Vec::len))}</span>
                    <Show when=may_operate>
                        <button type="button" data-testid="bulk-pause" on:click=move |_| bulk_action.set(Some(LifecycleAction::Pause))>"Pause selected"</button>
                        <button type="button" data-testid="bulk-resume" on:click=move |_| bulk_action.set(Some(LifecycleAction::Resume))>"Resume selected"</button>
                    </Show>
                    <Show when=may_terminate>
                        <button type="button" class="danger-outline" data-testid="bulk-terminate" on:click=move |_| bulk_action.set(Some(LifecycleAction::Terminate))>"Terminate selected"</button>
                    </Show>
                    <button type="button" class="link" on:click=move |_| selected.set(Vec::new())>"Clear selection"</button>
                </div>
            </Show>

            {move || bulk_action.get().map(|action| view! {
                <BulkDialog
                    action=action
                    agent_names=selected_names().into_iter().map(|(_, n)| n).collect()
                    on_confirm=run_bulk
                    on_close=close_bulk
                    busy=bulk_busy.into()
                    results=bulk_results.into()
                />
            })}

            {move || {
                if !loaded.get() {
                    // Before the first page arrives: loading, or why it did not.
                    return match error.get() {
                        Some(failure) => view! { <ErrorPanel failure=failure retry=Callback::new(move |()| load())/> }.into_any(),
                        None => view! { <p class="loading" aria-busy="true" data-testid="loading">"Loading agents…"</p> }.into_any(),
                    };
                }
                view! {
                    {move || error.get().map(|failure| view! {
                        <p class="alert" role="alert">
                            {failure.message}" Showing what was loaded before. "
                            <button type="button" class="link" on:click=move |_| load()>"Retry"</button>
                        </p>
                    })}
                    <FleetTable row_ids=row_ids selected=selected list=list/>
                    <Pager view=view_q list=list loading=loading.into()/>
                }
                .into_any()
            }}
        </section>
    }
}

/// Counts by state and health, each a link that sets the filter, with the two charts.
#[component]
fn SummaryStrip(summary: RwSignal<Option<FleetSummary>>) -> impl IntoView {
    move || {
        summary.get().map(|s| {
            let by_state = RuntimeStatus::ALL
                .into_iter()
                .map(|state| {
                    let href = FleetQuery {
                        runtime_status: vec![state],
                        ..FleetQuery::default()
                    }
                    .to_url();
                    let n = s.runtime_status.get(&state).copied().unwrap_or(0);
                    view! {
                        <a class=format!("count runtime-{state}") href=href data-testid=format!("count-{state}")>
                            <strong>{n}</strong>" "{state.as_str()}
                        </a>
                    }
                })
                .collect_view();
            let by_health = Health::ALL
                .into_iter()
                .map(|health| {
                    let href = FleetQuery {
                        health: vec![health],
                        ..FleetQuery::default()
                    }
                    .to_url();
                    let n = s.health.get(&health).copied().unwrap_or(0);
                    view! {
                        <a class=format!("count health-{health}") href=href>
                            <strong>{n}</strong>" "{health.as_str()}
                        </a>
                    }
                })
                .collect_view();
            // Drafts: pushed with `sekuire push`, waiting for an admin's review.
            let drafts_href = FleetQuery {
                verification_status: vec![VerificationStatus::Pending],
                ..FleetQuery::default()
            }
            .to_url();
            let drafts = s
                .verification_status
                .get(&VerificationStatus::Pending)
                .copied()
                .unwrap_or(0);
            view! {
                <div class="summary" data-testid="summary">
                    <div class="summary-group">
                        <span class="summary-total"><strong>{s.total}</strong>" agents"</span>
                        {by_state}
                        <a class="count drafts" href=drafts_href data-testid="count-drafts">
                            <strong>{drafts}</strong>" drafts to review"
                        </a>
                    </div>
                    <div class="summary-group">
                        {by_health}
                        <HealthBar counts=s.health.clone()/>
                    </div>
                    <div class="summary-group">
                        <span class="muted small">"Reputation"</span>
                        <ReputationHistogram buckets=s.reputation_histogram.clone()/>
                    </div>
                </div>
            }
        })
    }
}

/// Toggle chips for one filter, by wire name (one copy of this code serves every filter).
#[component]
fn FilterChips(
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

/// The fleet table: one row per agent on the page, keyed by Sekuire ID.
#[component]
fn FleetTable(
    row_ids: Memo<Vec<String>>,
    selected: RwSignal<Vec<String>>,
    list: RwSignal<Option<AgentList>>,
) -> impl IntoView {
    let all_selected = move || {
        row_ids
            .with(|ids| !ids.is_empty() && selected.with(|s| ids.iter().all(|id| s.contains(id))))
    };
    let toggle_all = move |_| {
        if all_selected() {
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
                                <input type="checkbox" aria-label="Select all agents on this page" prop:checked=all_selected on:change=toggle_all/>
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
                        <For
                            each=move || row_ids.get()
                            key=|id| id.clone()
                            children=move |id| view! { <FleetRow sekuire_id=id selected=selected list=list/> }
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
            if let Some(row) = l.as_mut().and_then(|l| {
                l.agents
                    .iter_mut()
                    .find(|a| a.sekuire_id == fresh.sekuire_id)
            }) {
                *row = fresh;
            }
        })
    });
}

/// One row, kept for as long as its agent is on the page: each cell follows only the
/// fields it shows, so a heartbeat updates the health cell and leaves the rest of the row
/// (and the keyboard focus on its buttons) alone.
#[component]
fn FleetRow(
    sekuire_id: String,
    selected: RwSignal<Vec<String>>,
    list: RwSignal<Option<AgentList>>,
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
    let status = Memo::new(move |_| agent.with(|a| a.as_ref().map(|a| a.runtime_status)));
    let name =
        Memo::new(move |_| agent.with(|a| a.as_ref().map(|a| (a.name.clone(), a.version.clone()))));
    let heartbeat = Memo::new(move |_| {
        agent.with(|a| {
            a.as_ref()
                .map(|a| (a.last_heartbeat_at.clone(), a.heartbeat_interval_seconds))
        })
    });
    let facts = Memo::new(move |_| {
        agent.with(|a| {
            a.as_ref()
                .map(|a| (a.verification_status, a.reputation_score, a.pending_command))
        })
    });
    let checked = {
        let id = sekuire_id.clone();
        move || selected.with(|s| s.contains(&id))
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
    let agent_name = move || name.with(|n| n.as_ref().map(|(n, _)| n.clone()).unwrap_or_default());
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
                        on:click=move |_| {
                            if let Some(seen) = agent.get_untracked() {
                                inline_action(ctx, seen, action, list);
                            }
                        }
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
                <input type="checkbox" aria-label=move || format!("Select {}", agent_name()) prop:checked=checked on:change=toggle_selected/>
            </td>
            <td>
                <a class="agent-name" href=format!("/agents/{sekuire_id}") data-testid="agent-name">{agent_name}</a>
                <span class="muted small version">
                    {move || name.with(|n| n.as_ref().map(|(_, v)| format!(" v{v}")).unwrap_or_default())}
                </span>
            </td>
            <td><ShortId sekuire_id=sekuire_id.clone()/></td>
            <td>{move || status.get().map(|s| view! { <RuntimeBadge status=s/> })}</td>
            <td>
                {move || heartbeat.get().map(|(last, interval)| view! {
                    <HealthCell last_heartbeat_at=last interval_secs=interval/>
                })}
            </td>
            <td>{move || facts.get().map(|(v, _, _)| view! { <VerificationBadge status=v/> })}</td>
            <td>{move || facts.get().map(|(_, r, _)| view! { <ReputationBar score=r/> })}</td>
            <td>{move || facts.get().map(|(_, _, p)| view! { <PendingBadge command=p/> })}</td>
            <td class="actions">{inline_actions}</td>
        </tr>
    }
}

/// Where in the list the user is, and the way to the next page.
#[component]
fn Pager(
    view: Memo<FleetQuery>,
    list: RwSignal<Option<AgentList>>,
    loading: Signal<bool>,
) -> impl IntoView {
    let go = use_go();
    view! {
        <nav class="pager" aria-label="Pages">
            <span data-testid="page-info">
                {move || list.with(|l| l.as_ref().map(|l| format!(
                    "Page {} · {} on this page · {} match",
                    view.with(|v| v.page),
                    l.agents.len(),
                    l.total
                )))}
            </span>
            <Show when=move || loading.get()>
                <span class="muted small" aria-live="polite">"Updating…"</span>
            </Show>
            <Show when=move || view.with(|v| v.page > 1)>
                <button type="button" on:click=move |_| go(&view.get_untracked().first_page().to_url())>"First page"</button>
            </Show>
            {move || list.with(|l| l.as_ref().and_then(|l| l.next_cursor.clone())).map(|cursor| view! {
                <button
                    type="button"
                    data-testid="next-page"
                    on:click=move |_| go(&view.get_untracked().next_page(cursor.clone()).to_url())
                >
                    "Next page"
                </button>
            })}
        </nav>
    }
}
