//! `/agents`: the fleet at a glance. Search, filters, sort and paging are the registry's
//! work (the browser never downloads the fleet); the view lives in the URL. On a registry
//! with Sekuire's standard list only, `standard.rs` does what the registry cannot.

use crate::api::ApiFailure;
use crate::components::chrome::MissingFeatures;
use crate::components::lifecycle_dialogs::BulkDialog;
use crate::model::capabilities::{Capabilities, Feature};
use crate::model::fleet_query::{Facet, FleetQuery, SORTS};
use crate::model::fleet_rows::{bulk_lines, bulk_summary, is_on_page, patch_row, BulkLine};
use crate::model::time::parse_timestamp_ms;
use crate::pages::{settle, ErrorPanel, LatestOnly};
use crate::router::use_location;
use crate::router::{use_go, use_replace};
use crate::state::live::LiveEvent;
use crate::state::{use_app, ToastKind};
use fleet_protocol::{Agent, AgentList, FleetSummary, Health, LifecycleAction, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;

mod standard;
mod summary;
mod table;
mod toolbar;

use summary::SummaryStrip;
use table::{FleetTable, Pager};
use toolbar::FilterChips;

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
    let caps = Memo::new(move |_| ctx.caps());
    let list = RwSignal::new(None::<AgentList>);
    // Rows whose runtime state is still being read (a standard list has none).
    let unresolved = RwSignal::new(Vec::<String>::new());
    // The registry counted every match; a standard list only sends rows.
    let counted = RwSignal::new(true);
    let summary = RwSignal::new(None::<FleetSummary>);
    let summary_error = RwSignal::new(None::<ApiFailure>);
    let error = RwSignal::new(None::<ApiFailure>);
    let loading = RwSignal::new(false);
    let changes = RwSignal::new(0u32);
    let selected = RwSignal::new(Vec::<String>::new());
    let latest = LatestOnly::new();

    // A registry without a fleet summary has its loaded agents counted instead.
    let load_summary = move || {
        let Some(registry) = ctx.registry() else {
            return;
        };
        if !caps
            .get_untracked()
            .is_some_and(|c| c.has(Feature::FleetSummary))
        {
            return;
        }
        spawn_local(async move {
            settle(ctx, registry.fleet_summary().await, summary, summary_error);
        });
    };
    let load = move || {
        let (Some(registry), Some(caps)) = (ctx.registry(), caps.get_untracked()) else {
            return;
        };
        let view = view_q.get_untracked();
        let ticket = latest.start();
        loading.set(true);
        spawn_local(async move {
            let page = registry.list_agents(&view, caps).await;
            if !latest.is_current(ticket) {
                return;
            }
            loading.set(false);
            match page {
                Ok(found) if !caps.has(Feature::ListQueries) => {
                    changes.set(0);
                    counted.set(found.counted);
                    error.set(None);
                    let shown = standard::Shown {
                        list,
                        unresolved,
                        summary,
                    };
                    let now_ms = ctx.now_ms.get_untracked();
                    standard::show(
                        ctx,
                        registry,
                        view,
                        found,
                        shown,
                        move || latest.is_current(ticket),
                        move |agent| agent_health(agent, now_ms),
                    );
                }
                page => {
                    if page.is_ok() {
                        changes.set(0);
                    }
                    let page = page.map(|found| {
                        counted.set(found.counted);
                        unresolved.set(found.unresolved);
                        found.list
                    });
                    settle(ctx, page, list, error);
                }
            }
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
        caps.track();
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
            // Updated in place; a row that no longer fits stays until the user asks. Only
            // a change on the page touches the list (and what follows it).
            let on_page = list.with_untracked(|l| is_on_page(l, &agent.sekuire_id));
            if on_page {
                list.update(|l| {
                    patch_row(l, &agent.sekuire_id, |row| *row = (**agent).clone());
                });
            }
            if on_page != fits {
                changes.update(|n| *n += 1);
            }
        }
        LiveEvent::Heartbeat(beat) => {
            if list.with_untracked(|l| is_on_page(l, &beat.sekuire_id)) {
                list.update(|l| {
                    patch_row(l, &beat.sekuire_id, |row| {
                        row.last_heartbeat_at = Some(beat.last_heartbeat_at.clone());
                        row.health = beat.health;
                    });
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
            let caps = caps.get_untracked().unwrap_or(Capabilities::STANDARD);
            match registry.apply_bulk(action, ids, reason, caps).await {
                Ok(response) => {
                    let lines = bulk_lines(action, &response.results, &targets);
                    let kind = if lines.iter().all(|l| l.ok) {
                        ToastKind::Success
                    } else {
                        ToastKind::Error
                    };
                    ctx.toast(kind, bulk_summary(action, &lines));
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
                <SummaryStrip summary=summary counted=counted.into()/>
            </div>
            <MissingFeatures/>

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
                    <FleetTable row_ids=row_ids selected=selected list=list unresolved=unresolved/>
                    <Pager view=view_q list=list loading=loading.into() counted=counted.into()/>
                }
                .into_any()
            }}
        </section>
    }
}
