//! `/agents/{id}`: everything `sekuire agent-status` shows, the lifecycle actions, the
//! pushed manifest and its review, how to run it, and two tabs: the audit timeline with the
//! installations, and the event log. On a registry without an audit trail the event log
//! is the agent's history; what the registry does not offer is not shown.

use crate::api::ApiFailure;
use crate::components::badges::{
    HealthCell, PendingBadge, ReputationBar, RuntimeBadge, ShortId, VerificationBadge,
};
use crate::components::installations::InstallationTable;
use crate::components::lifecycle_dialogs::{PauseDialog, TerminateDialog};
use crate::components::logs::LogsPanel;
use crate::components::onboarding::{DraftReview, RunPanel};
use crate::components::{handler, Show};
use crate::model::agent_detail::with_shown_detail;
use crate::model::audit_query::AuditQuery;
use crate::model::capabilities::Feature;
use crate::model::fleet_rows::supersedes;
use crate::model::time::{exact_time, when};
use crate::pages::{act_on_seen, changed_sentence, settle, ActionOutcome, ErrorPanel};
use crate::state::live::LiveEvent;
use crate::state::{use_app, watch};
use fleet_protocol::{
    offered_actions, Agent, AuditPage, InstallationList, LifecycleAction, Role, RuntimeStatus,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn AgentPage(sekuire_id: String) -> impl IntoView {
    let ctx = use_app();
    // A page per agent: the route builds a new one when the id changes.
    let id = StoredValue::new(sekuire_id);
    let agent = RwSignal::new(None::<Agent>);
    let error = RwSignal::new(None::<ApiFailure>);
    let installations = RwSignal::new(None::<InstallationList>);
    let installations_error = RwSignal::new(None::<ApiFailure>);
    let audit = RwSignal::new(None::<AuditPage>);
    let audit_error = RwSignal::new(None::<ApiFailure>);
    let notice = RwSignal::new(None::<String>);
    let dialog = RwSignal::new(None::<LifecycleAction>);
    let busy = RwSignal::new(false);
    let logs_tab = RwSignal::new(false);
    // Without an audit trail, the log is the agent's history and the only tab.
    let has_history = Memo::new(move |_| ctx.offers(Feature::Audit));
    let show_logs = move || logs_tab.get() || !has_history.get();

    let load_history = move || {
        let Some(registry) = ctx.registry() else {
            return;
        };
        let sekuire_id = id.get_value();
        let (with_audit, with_installations) = (
            ctx.offers(Feature::Audit),
            ctx.offers(Feature::Installations),
        );
        spawn_local(async move {
            if with_audit {
                let trail = AuditQuery {
                    agent: sekuire_id.clone(),
                    ..AuditQuery::default()
                };
                settle(ctx, registry.audit(&trail).await, audit, audit_error);
            }
            if with_installations {
                settle(
                    ctx,
                    registry.installations(&sekuire_id).await,
                    installations,
                    installations_error,
                );
            }
        });
    };
    let load = move || {
        let Some(registry) = ctx.registry() else {
            return;
        };
        let sekuire_id = id.get_value();
        spawn_local(async move {
            settle(ctx, registry.agent(&sekuire_id).await, agent, error);
        });
        load_history();
    };
    // Lifecycle answers and events carry no manifest: keep the one on screen, or read the
    // agent again when a push changed its version.
    let show = move |fresh: Agent| match agent
        .with_untracked(|shown| with_shown_detail(fresh, shown.as_ref()))
    {
        Some(fresh) => agent.set(Some(fresh)),
        None => load(),
    };
    watch(move || {
        ctx.reload_epoch.track();
        has_history.track();
        notice.set(None);
        load();
    });

    ctx.on_live_event(move |event| {
        let this = id.get_value();
        match event {
            LiveEvent::Agent(fresh)
                if fresh.sekuire_id == this
                    && agent.with_untracked(|shown| {
                        shown.as_ref().is_none_or(|shown| supersedes(fresh, shown))
                    }) =>
            {
                show((**fresh).clone());
                load_history();
            }
            LiveEvent::Heartbeat(beat) if beat.sekuire_id == this => {
                agent.update(|a| {
                    if let Some(a) = a {
                        a.last_heartbeat_at = Some(beat.last_heartbeat_at.clone());
                        a.health = beat.health;
                    }
                });
                // A new installation's first lease says what it is doing.
                let starting = installations.with_untracked(|list| {
                    list.as_ref()
                        .is_some_and(|l| l.installations.iter().any(|i| i.status == "starting"))
                });
                if starting {
                    load_history();
                }
            }
            LiveEvent::Resync => load(),
            _ => {}
        }
    });

    // Every action carries the revision on screen; a 412 shows the new state and asks again.
    let act = move |action: LifecycleAction, reason: Option<String>| {
        let Some(seen) = agent.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match act_on_seen(ctx, &seen, action, reason).await {
                ActionOutcome::Done(now) => {
                    show(now);
                    notice.set(None);
                    dialog.set(None);
                    load_history();
                }
                ActionOutcome::Changed(fresh) => {
                    dialog.set(None);
                    notice.set(Some(changed_sentence(&fresh)));
                    show(fresh);
                    load_history();
                }
                ActionOutcome::Failed => {}
            }
            busy.set(false);
        });
    };
    let close_dialog = Callback::new(move |()| dialog.set(None));
    // The page's parts each follow only what they show.
    let loaded = Memo::new(move |_| agent.with(Option::is_some));
    let name =
        move || agent.with_untracked(|a| a.as_ref().map(|a| a.name.clone()).unwrap_or_default());
    let status = Memo::new(move |_| agent.with(|a| a.as_ref().map(|a| a.runtime_status)));
    let offered = move || {
        let role = ctx.role().unwrap_or(Role::Viewer);
        status
            .get()
            .map(|s| offered_actions(role, s))
            .unwrap_or_default()
    };
    let confirm_pause =
        Callback::new(move |reason: Option<String>| act(LifecycleAction::Pause, reason));
    let confirm_terminate =
        Callback::new(move |reason: String| act(LifecycleAction::Terminate, Some(reason)));

    view! {
        <section class="agent-page">
            <p><a href="/agents" class="back">"← Fleet"</a></p>
            {move || {
                if !loaded.get() {
                    return match error.get() {
                        Some(failure) => view! { <ErrorPanel failure=failure retry=Callback::new(move |()| load())/> }.into_any(),
                        None => view! { <p class="loading" aria-busy="true">"Loading agent…"</p> }.into_any(),
                    };
                }
                view! {
                    {move || agent.get().map(|a| view! { <AgentHeader agent=a/> })}
                    {move || agent.get().filter(|a| a.runtime_status == RuntimeStatus::Terminated).map(|a| view! {
                        <div class="banner danger" role="status" data-testid="terminated-banner">
                            <strong>"Terminated"</strong>
                            {format!(
                                " by {} {}.",
                                a.status_changed_by.clone().unwrap_or_else(|| "unknown".into()),
                                when(a.status_changed_at.as_deref(), ctx.now_ms.get_untracked())
                            )}
                            {a.status_reason.clone().map(|r| view! { " Reason: " <q>{r}</q> })}
                            " This cannot be undone; the agent has no actions."
                        </div>
                    })}
                    {move || notice.get().map(|n| view! { <p class="alert" role="alert" data-testid="stale-notice">{n}</p> })}
                    {move || agent.get().map(|a| view! { <AgentFacts agent=a/> })}
                    {move || {
                        let offered = offered();
                        let pause = offered.contains(&LifecycleAction::Pause);
                        let resume = offered.contains(&LifecycleAction::Resume);
                        (pause || resume).then(|| view! {
                            <div class="actions-row" data-testid="agent-actions">
                                {pause.then(|| view! {
                                    <button type="button" class="primary" data-testid="pause" on:click=handler(move |_| dialog.set(Some(LifecycleAction::Pause)))>"Pause…"</button>
                                })}
                                {resume.then(|| view! {
                                    <button type="button" class="primary" data-testid="resume" disabled=move || busy.get() on:click=handler(move |_| act(LifecycleAction::Resume, None))>"Resume"</button>
                                })}
                            </div>
                        })
                    }}
                    {move || offered().contains(&LifecycleAction::Terminate).then(|| view! {
                        <section class="danger-zone" aria-labelledby="danger-zone-title">
                            <h2 id="danger-zone-title">"Danger zone"</h2>
                            <p>"Terminating stops this agent for good. Running instances are told to shut down; nothing can resume it."</p>
                            <button type="button" class="danger-outline" data-testid="terminate" on:click=handler(move |_| dialog.set(Some(LifecycleAction::Terminate)))>"Terminate agent…"</button>
                        </section>
                    })}
                    // Follows only which dialog is open: live updates never reset what is typed.
                    {move || match dialog.get() {
                        Some(LifecycleAction::Pause) => Some(view! {
                            <PauseDialog agent_name=name() on_confirm=confirm_pause on_cancel=close_dialog busy=busy.into()/>
                        }.into_any()),
                        Some(LifecycleAction::Terminate) => Some(view! {
                            <TerminateDialog agent_name=name() on_confirm=confirm_terminate on_cancel=close_dialog busy=busy.into()/>
                        }.into_any()),
                        _ => None,
                    }}
                }
                .into_any()
            }}
            {move || agent.get().filter(|_| ctx.offers(Feature::Verification)).map(|a| view! { <DraftReview agent=a on_reviewed=Callback::new(move |fresh| { show(fresh); load_history(); })/> })}
            {move || (ctx.role() == Some(Role::Admin) && ctx.offers(Feature::InstallTokens) && status.get().is_some_and(|s| s != RuntimeStatus::Terminated))
                .then(|| view! { <RunPanel sekuire_id=id.get_value()/> })}
            <div role="tablist" class="tabs" aria-label="Agent history">
                <Show when=move || has_history.get()>
                    <button type="button" role="tab" id="tab-history" data-testid="tab-history" aria-controls="panel-history"
                        aria-selected=move || (!show_logs()).to_string() on:click=handler(move |_| logs_tab.set(false))>"Audit and installations"</button>
                </Show>
                <button type="button" role="tab" id="tab-logs" data-testid="tab-logs" aria-controls="panel-logs"
                    aria-selected=move || show_logs().to_string() on:click=handler(move |_| logs_tab.set(true))>"Logs"</button>
            </div>
            {move || if show_logs() {
                view! { <div role="tabpanel" id="panel-logs" aria-labelledby="tab-logs"><LogsPanel sekuire_id=id.get_value()/></div> }.into_any()
            } else {
                view! {
                    <div class="two-col" role="tabpanel" id="panel-history" aria-labelledby="tab-history">
                        <AuditTimeline audit=audit error=audit_error/>
                        <Show when=move || ctx.offers(Feature::Installations)>
                            <InstallationTable installations=installations error=installations_error on_change=Callback::new(move |()| load_history())/>
                        </Show>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn AgentHeader(agent: Agent) -> impl IntoView {
    view! {
        <div class="agent-head">
            <h1 data-testid="agent-title">{agent.name.clone()}<span class="muted version">{format!(" v{}", agent.version)}</span></h1>
            <RuntimeBadge status=agent.runtime_status/>
            <VerificationBadge status=agent.verification_status/>
            <PendingBadge command=agent.pending_command/>
        </div>
        {(!agent.description.is_empty()).then(|| view! { <p class="description">{agent.description.clone()}</p> })}
    }
}

/// The fields of `sekuire agent-status`, plus health and the last change.
#[component]
fn AgentFacts(agent: Agent) -> impl IntoView {
    let ctx = use_app();
    let changed_at = agent.status_changed_at.clone();
    view! {
        <dl class="facts card" data-testid="agent-facts">
            <dt>"Sekuire ID"</dt>
            <dd><ShortId sekuire_id=agent.sekuire_id.clone() full=true/></dd>
            <dt>"Runtime state"</dt>
            <dd><RuntimeBadge status=agent.runtime_status/></dd>
            <dt>"Verification"</dt>
            <dd><VerificationBadge status=agent.verification_status/></dd>
            <dt>"Reputation"</dt>
            <dd><ReputationBar score=agent.reputation_score/></dd>
            <dt>"Health"</dt>
            <dd><HealthCell last_heartbeat_at=agent.last_heartbeat_at.clone() interval_secs=agent.heartbeat_interval_seconds/></dd>
            <dt>"Last heartbeat"</dt>
            <dd>{agent.last_heartbeat_at.as_deref().map(exact_time).unwrap_or_else(|| "never".into())}</dd>
            <dt>"Pending command"</dt>
            <dd>{agent.pending_command.map(|c| c.to_string()).unwrap_or_else(|| "none".into())}</dd>
            {ctx.offers(Feature::Installations).then(|| view! {
                <dt>"Installations"</dt>
                <dd>{agent.installations}</dd>
            })}
            <dt>"Last change"</dt>
            <dd data-testid="last-change">
                {agent.status_changed_by.clone().map(|by| format!("by {by}, ")).unwrap_or_default()}
                {move || when(changed_at.as_deref(), ctx.now_ms.get())}
                {agent.status_reason.clone().map(|r| view! { <br/>"Reason: "<q data-testid="status-reason">{r}</q> })}
            </dd>
            // 0: the registry keeps no revisions.
            {(agent.revision > 0).then(|| view! {
                <dt>"Revision"</dt>
                <dd class="mono">{agent.revision}</dd>
            })}
        </dl>
    }
}

#[component]
fn AuditTimeline(
    audit: RwSignal<Option<AuditPage>>,
    error: RwSignal<Option<ApiFailure>>,
) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Audit timeline"</h2>
            {move || error.get().map(|f| view! { <p class="alert">{f.message}</p> })}
            {move || audit.get().map(|page| {
                if page.entries.is_empty() {
                    view! { <p class="muted">"No changes yet."</p> }.into_any()
                } else {
                    view! {
                        <ol class="timeline" data-testid="agent-audit">
                            {page.entries.into_iter().map(|e| view! {
                                <li>
                                    <time datetime=e.at.clone()>{exact_time(&e.at)}</time>
                                    <span><strong>{e.actor}</strong>" "{e.action.past_tense()}" ("{e.from_status}" → "{e.to_status}")"</span>
                                    {e.reason.map(|r| view! { <q>{r}</q> })}
                                </li>
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }
            })}
        </section>
    }
}
