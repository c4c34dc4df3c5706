//! The agent's event log (`/agents/{id}/logs`): lifecycle lines the registry writes and
//! events SDKs send, filtered by type, severity and day, fifty to a page.

use crate::api::ApiFailure;
use crate::components::handler;
use crate::model::log_query::LogQuery;
use crate::model::time::exact_time;
use crate::state::{use_app, watch};
use fleet_protocol::{LogEntry, LogPage, Severity};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

/// JSON as a person reads it: strings bare, lists joined, objects as `key: value`.
/// Written out rather than `Value`'s `Display`, whose serializer (with float formatting)
/// would cost the bundle more than this whole panel.
pub fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => js_sys::Number::from(n.as_f64().unwrap_or(f64::NAN))
                .to_string_with_radix(10)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k, plain(v)))
            .filter(|(_, text)| !text.is_empty())
            .map(|(k, text)| format!("{k}: {text}"))
            .collect::<Vec<_>>()
            .join(" · "),
    }
}

/// One line of text for an entry's data: `action: pause · actor: alice · reason: …`.
pub fn summary(entry: &LogEntry) -> String {
    plain(&entry.event_data)
}

#[component]
pub fn LogsPanel(sekuire_id: String) -> impl IntoView {
    let ctx = use_app();
    let query = RwSignal::new(LogQuery::default());
    let page = RwSignal::new(None::<LogPage>);
    let error = RwSignal::new(None::<ApiFailure>);
    let id = StoredValue::new(sekuire_id);
    watch(move || {
        let view = query.get();
        ctx.reload_epoch.track();
        let Some(registry) = ctx.registry() else {
            return;
        };
        spawn_local(async move {
            crate::pages::settle(
                ctx,
                registry.logs(&id.get_value(), &view).await,
                page,
                error,
            );
        });
    });
    let set_filter = move |change: &dyn Fn(&mut LogQuery)| {
        query.update(|q| {
            change(q);
            q.offset = 0;
        });
    };
    view! {
        <section class="card" data-testid="logs" aria-labelledby="logs-heading">
            <h2 id="logs-heading">"Logs"</h2>
            <div class="filters">
                <label class="field inline"><span>"Event type"</span>
                    <input type="text" data-testid="log-event-type" placeholder="e.g. lifecycle"
                        on:change=handler(move |ev| set_filter(&|q| q.event_type = event_target_value(&ev)))/>
                </label>
                <label class="field inline"><span>"Severity"</span>
                    <select data-testid="log-severity" on:change=handler(move |ev| set_filter(&|q| q.severity = event_target_value(&ev).parse().ok()))>
                        <option value="">"any"</option>
                        {Severity::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label class="field inline"><span>"From"</span>
                    <input type="date" on:change=handler(move |ev| set_filter(&|q| q.since = event_target_value(&ev)))/>
                </label>
                <label class="field inline"><span>"To"</span>
                    <input type="date" on:change=handler(move |ev| set_filter(&|q| q.until = event_target_value(&ev)))/>
                </label>
            </div>
            {move || error.get().map(|f| view! { <p class="alert">{f.message}</p> })}
            {move || page.get().map(|p| {
                let range = query.with(|q| q.range_text(p.logs.len(), p.total));
                let next = query.with(|q| q.next_page(p.total));
                let previous = query.with(LogQuery::previous_page);
                view! {
                    <p class="muted" data-testid="log-range" aria-live="polite">{range}</p>
                    <table class="compact" data-testid="log-table">
                        <thead><tr><th scope="col">"When"</th><th scope="col">"Type"</th><th scope="col">"Severity"</th><th scope="col">"What"</th></tr></thead>
                        <tbody>
                            {p.logs.into_iter().map(|entry| view! {
                                <tr data-testid="log-row">
                                    <td><time datetime=entry.event_timestamp.clone()>{exact_time(&entry.event_timestamp)}</time></td>
                                    <td class="mono small">{entry.event_type.clone()}</td>
                                    <td>{entry.severity.as_str()}</td>
                                    <td>{summary(&entry)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <div class="pager">
                        <button type="button" data-testid="log-previous" disabled=previous.is_none()
                            on:click=handler(move |_| if let Some(q) = previous.clone() { query.set(q) })>"Previous"</button>
                        <button type="button" data-testid="log-next" disabled=next.is_none()
                            on:click=handler(move |_| if let Some(q) = next.clone() { query.set(q) })>"Next"</button>
                    </div>
                }
            })}
        </section>
    }
}
