//! `/audit`: the fleet's audit trail, newest first, filtered by the registry; CSV export of
//! the filtered set.

use crate::api::ApiFailure;
use crate::components::badges::ShortId;
use crate::components::{handler, Show};
use crate::model::audit_query::AuditQuery;
use crate::model::fleet_query::toggle;
use crate::model::time::exact_time;
use crate::pages::{settle, ErrorPanel, LatestOnly};
use crate::router::use_go;
use crate::router::use_location;
use crate::state::live::LiveEvent;
use crate::state::{use_app, watch, ToastKind};
use fleet_protocol::{AuditAction, AuditPage};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

/// Hands `csv` to the browser as a download without putting the key in any URL.
fn download_csv(csv: &str) -> Result<(), wasm_bindgen::JsValue> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(csv));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/csv");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let link: web_sys::HtmlAnchorElement = document().create_element("a")?.unchecked_into();
    link.set_href(&url);
    link.set_download("sekuire-audit.csv");
    link.click();
    web_sys::Url::revoke_object_url(&url)
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let ctx = use_app();
    let query = use_location().query;
    let go = use_go();
    let view_q = Memo::new(move |_| query.with(|q| AuditQuery::from_params(|k| q.get(k))));
    let page = RwSignal::new(None::<AuditPage>);
    let error = RwSignal::new(None::<ApiFailure>);
    let new_entries = RwSignal::new(0u64);
    let latest = LatestOnly::new();

    let load = move || {
        let Some(registry) = ctx.registry() else {
            return;
        };
        let view = view_q.get_untracked();
        let ticket = latest.start();
        spawn_local(async move {
            let result = registry.audit(&view).await;
            if latest.is_current(ticket) {
                new_entries.set(0);
                settle(ctx, result, page, error);
            }
        });
    };
    watch(move || {
        view_q.track();
        ctx.reload_epoch.track();
        load();
    });
    ctx.on_live_event(move |event| match event {
        LiveEvent::Audit(_) => new_entries.update(|n| *n += 1),
        LiveEvent::Resync => load(),
        _ => {}
    });

    let set_view = move |f: &dyn Fn(&mut AuditQuery)| {
        let mut next = view_q.get_untracked().first_page();
        f(&mut next);
        go(&next.to_url());
    };
    let text_filter = move |apply: fn(&mut AuditQuery, String)| {
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            set_view(&|v| apply(v, value.clone()));
        }
    };
    let export = move |_| {
        let Some(registry) = ctx.registry() else {
            return;
        };
        let view = view_q.get_untracked();
        spawn_local(async move {
            match registry.audit_csv(&view).await {
                Ok(export) => {
                    if download_csv(&export.csv).is_err() {
                        ctx.toast(ToastKind::Error, "The browser refused the download.");
                    } else if export.more {
                        ctx.toast(
                            ToastKind::Info,
                            "Exported the newest 100,000 entries; more match. Set an earlier \"To\" date to export the rest.",
                        );
                    }
                }
                Err(failure) => {
                    ctx.observe_failure(&failure);
                    ctx.toast(ToastKind::Error, failure.message);
                }
            }
        });
    };

    view! {
        <section class="audit">
            <div class="page-head">
                <h1>"Audit trail"</h1>
                <button type="button" data-testid="export-csv" on:click=handler(export)>"Export CSV"</button>
            </div>
            <form class="toolbar" on:submit=handler(|ev: leptos::ev::SubmitEvent| ev.prevent_default())>
                <fieldset class="chips">
                    <legend>"Action"</legend>
                    {AuditAction::ALL.into_iter().map(|action| {
                        let on = move || view_q.with(|v| v.actions.contains(&action));
                        view! {
                            <button
                                type="button"
                                class="chip"
                                class:on=on
                                aria-pressed=move || on().to_string()
                                on:click=handler(move |_| set_view(&|v| v.actions = toggle(&v.actions, action)))
                            >
                                {action.as_str()}
                            </button>
                        }
                    }).collect_view()}
                </fieldset>
                <label class="field inline">
                    <span>"Actor"</span>
                    <input type="text" data-testid="filter-actor" placeholder="key name" prop:value=move || view_q.with(|v| v.actor.clone()) on:change=handler(text_filter(|v, s| v.actor = s))/>
                </label>
                <label class="field inline">
                    <span>"Agent ID"</span>
                    <input type="text" data-testid="filter-agent" placeholder="Sekuire ID" prop:value=move || view_q.with(|v| v.agent.clone()) on:change=handler(text_filter(|v, s| v.agent = s.trim().to_ascii_lowercase()))/>
                </label>
                <label class="field inline">
                    <span>"From"</span>
                    <input type="date" prop:value=move || view_q.with(|v| v.since.clone()) on:change=handler(text_filter(|v, s| v.since = s))/>
                </label>
                <label class="field inline">
                    <span>"To"</span>
                    <input type="date" prop:value=move || view_q.with(|v| v.until.clone()) on:change=handler(text_filter(|v, s| v.until = s))/>
                </label>
                <a href="/audit" class="link">"Clear filters"</a>
            </form>
            <Show when=move || { new_entries.get() > 0 }>
                <button type="button" class="pill" on:click=handler(move |_| load())>
                    {move || format!("{} new — show", new_entries.get())}
                </button>
            </Show>
            {move || match (page.get(), error.get()) {
                (None, Some(failure)) => view! { <ErrorPanel failure=failure retry=Callback::new(move |()| load())/> }.into_any(),
                (None, None) => view! { <p class="loading" aria-busy="true">"Loading audit trail…"</p> }.into_any(),
                (Some(p), _) if p.entries.is_empty() => view! {
                    <div class="card empty" data-testid="empty-state"><p>"No audit entries match these filters."</p></div>
                }.into_any(),
                (Some(p), _) => {
                    let next = p.next_cursor.clone();
                    view! {
                        <div class="table-wrap">
                            <table class="audit-table" data-testid="audit-table">
                                <caption class="visually-hidden">"Audit entries, newest first"</caption>
                                <thead>
                                    <tr>
                                        <th scope="col">"Time (UTC)"</th>
                                        <th scope="col">"Actor"</th>
                                        <th scope="col">"Action"</th>
                                        <th scope="col">"Agent"</th>
                                        <th scope="col">"From → to"</th>
                                        <th scope="col">"Reason"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {p.entries.into_iter().map(|e| view! {
                                        <tr data-testid="audit-row">
                                            <td><time datetime=e.at.clone()>{exact_time(&e.at)}</time></td>
                                            <td data-testid="audit-actor">{e.actor}</td>
                                            <td><span class=format!("badge action-{}", e.action)>{e.action.as_str()}</span></td>
                                            <td>
                                                <a href=format!("/agents/{}", e.sekuire_id)>{e.agent_name}</a>
                                                " "
                                                <ShortId sekuire_id=e.sekuire_id/>
                                            </td>
                                            <td>{e.from_status.clone()}" → "{e.to_status.clone()}</td>
                                            <td data-testid="audit-reason">{e.reason.unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <nav class="pager" aria-label="Pages">
                            <span>{move || format!("Page {}", view_q.with(|v| v.page))}</span>
                            <Show when=move || view_q.with(|v| v.page > 1)>
                                <button type="button" on:click=handler(move |_| go(&view_q.get_untracked().first_page().to_url()))>"Newest"</button>
                            </Show>
                            {next.map(|cursor| view! {
                                <button type="button" on:click=handler(move |_| go(&view_q.get_untracked().next_page(cursor.clone()).to_url()))>"Older"</button>
                            })}
                        </nav>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// `/audit` on a registry that keeps no audit trail: where the history is instead.
#[component]
pub fn NoAuditTrail() -> impl IntoView {
    view! {
        <section class="card" data-testid="no-audit">
            <h1>"Audit trail"</h1>
            <p>"This registry keeps no audit trail that this dashboard can read. Each agent's history is in its log: open an agent from the "<a href="/agents">"fleet"</a>" and read its Logs tab."</p>
        </section>
    }
}
