//! `/agents`: the fleet at a glance. Search, filters, sort and paging are the registry's
//! work (the browser never downloads the fleet); the view lives in the URL. On a registry
//! with Sekuire's standard list only, `standard.rs` does what the registry cannot.

use crate::api::ApiFailure;
use crate::components::chrome::MissingFeatures;
use crate::components::{handler, Show};
use crate::model::capabilities::Feature;
use crate::model::fleet_query::FleetQuery;
use crate::model::fleet_rows::{is_on_page, patch_row, supersedes};
use crate::model::time::parse_timestamp_ms;
use crate::pages::{settle, ErrorPanel, LatestOnly};
use crate::router::use_location;
use crate::state::live::LiveEvent;
use crate::state::{use_app, watch};
use fleet_protocol::{Agent, AgentList, FleetSummary, Health};
use leptos::prelude::*;
use leptos::task::spawn_local;

mod bulk;
mod standard;
mod summary;
mod table;
mod toolbar;

use bulk::BulkActions;
use summary::SummaryStrip;
use table::{FleetTable, Pager};
use toolbar::Toolbar;

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
    // The view (filters, search, sort, page) is the URL's query.
    let url_params = use_location().query;
    let view = Memo::new(move |_| url_params.with(|q| FleetQuery::from_params(|k| q.get(k))));
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
    let changes = RwSignal::new(0u64);
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
        let asked = view.get_untracked();
        let ticket = latest.start();
        loading.set(true);
        spawn_local(async move {
            let page = registry.list_agents(&asked, caps).await;
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
                    standard::show(ctx, registry, asked, found, shown, move || {
                        latest.is_current(ticket)
                    });
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
    watch(move || {
        view.track();
        ctx.reload_epoch.track();
        caps.track();
        selected.set(Vec::new());
        load();
    });
    // After a reconnect: the list reloads above, the summary here.
    let summary_epoch = StoredValue::new(ctx.reload_epoch.get_untracked());
    watch(move || {
        let epoch = ctx.reload_epoch.get();
        if epoch != summary_epoch.get_value() {
            summary_epoch.set_value(epoch);
            load_summary();
        }
    });

    ctx.on_live_event(move |event| match event {
        LiveEvent::Agent(agent) => {
            let fits = view.with_untracked(|v| {
                v.matches(agent, agent_health(agent, ctx.now_ms.get_untracked()))
            });
            // Updated in place; a row that no longer fits stays until the user asks. Only
            // a change on the page touches the list (and what follows it).
            let on_page = list.with_untracked(|l| is_on_page(l, &agent.sekuire_id));
            if on_page {
                list.update(|l| {
                    patch_row(l, &agent.sekuire_id, |row| {
                        if supersedes(agent, row) {
                            *row = (**agent).clone();
                        }
                    });
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

    // What the page shows changes only when loading finishes or fails, not on every
    // update of the rows (those are the rows' own business).
    let loaded = Memo::new(move |_| list.with(Option::is_some));
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

    view! {
        <section class="fleet">
            <div class="page-head">
                <h1>"Fleet"</h1>
                <SummaryStrip summary=summary counted=counted.into()/>
            </div>
            <MissingFeatures/>

            <Toolbar view=view/>

            <Show when=move || { changes.get() > 0 }>
                <button
                    type="button"
                    class="pill"
                    data-testid="changes-pill"
                    on:click=handler(move |_| { load(); load_summary(); })
                >
                    {move || format!("{} {} — show", changes.get(), if changes.get() == 1 { "change" } else { "changes" })}
                </button>
            </Show>

            <BulkActions
                selected=selected
                list=list
                on_done=Callback::new(move |()| {
                    load();
                    load_summary();
                })
            />

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
                            <button type="button" class="link" on:click=handler(move |_| load())>"Retry"</button>
                        </p>
                    })}
                    <FleetTable row_ids=row_ids selected=selected list=list unresolved=unresolved/>
                    <Pager view=view list=list loading=loading.into() counted=counted.into()/>
                }
                .into_any()
            }}
        </section>
    }
}
