//! App-wide state provided at the root: the session, connectivity, the ticking clock,
//! toasts, theme, and the live event feed.

pub mod live;
pub mod storage;

use crate::api::{ApiFailure, Registry};
use crate::model::capabilities::{Capabilities, Feature};
use fleet_protocol::{Me, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;
use live::{LiveBus, LiveEvent, LiveState};
use std::time::Duration;

/// A signed-in registry and who the key belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub registry: Registry,
    /// `None` while a saved key is being checked. Decision: pages start loading with the
    /// saved key at once instead of waiting for `/me` (the first fleet render is one round
    /// trip sooner); what depends on the role (action buttons, who is signed in, live
    /// updates) waits for it. A rejected key signs out as it would mid-session.
    pub me: Option<Me>,
    /// What the registry offers beyond Sekuire's standard API: saved from the last visit,
    /// else `None` until the probe at sign-in answers.
    pub caps: Option<Capabilities>,
}

/// How a toast looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    Success,
    Info,
    Error,
}

/// A short message saying what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub id: u64,
    pub kind: ToastKind,
    pub text: String,
}

/// Light, dark, or whatever the system prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    System,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(s: &str) -> Theme {
        Theme::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .unwrap_or(Theme::System)
    }
}

/// Everything pages share. `Copy`: every field is a signal handle.
#[derive(Clone, Copy)]
pub struct AppContext {
    pub session: RwSignal<Option<Session>>,
    /// True while a saved or linked key is being checked at start.
    pub restoring: RwSignal<bool>,
    /// Why the user was sent back to sign in, shown on the connect page.
    pub rejected: RwSignal<Option<String>>,
    pub connection_lost: RwSignal<bool>,
    /// Bumps when the connection comes back: pages reload what they show.
    pub reload_epoch: RwSignal<u64>,
    /// Now, in Unix ms, ticking every second so "42 s ago" stays true.
    pub now_ms: RwSignal<i64>,
    pub toasts: RwSignal<Vec<Toast>>,
    pub live_enabled: RwSignal<bool>,
    pub live_state: RwSignal<LiveState>,
    pub theme: RwSignal<Theme>,
    pub help_open: RwSignal<bool>,
    live_bus: StoredValue<LiveBus, LocalStorage>,
    next_toast: StoredValue<u64>,
}

impl AppContext {
    pub fn new() -> AppContext {
        AppContext {
            session: RwSignal::new(None),
            restoring: RwSignal::new(true),
            rejected: RwSignal::new(None),
            connection_lost: RwSignal::new(false),
            reload_epoch: RwSignal::new(0),
            now_ms: RwSignal::new(js_sys::Date::now() as i64),
            toasts: RwSignal::new(Vec::new()),
            live_enabled: RwSignal::new(storage::live_updates_enabled()),
            live_state: RwSignal::new(LiveState::Off),
            theme: RwSignal::new(Theme::parse(&storage::theme())),
            help_open: RwSignal::new(false),
            live_bus: StoredValue::new_local(LiveBus::default()),
            next_toast: StoredValue::new(0),
        }
    }

    /// The signed-in registry, without subscribing to changes.
    pub fn registry(&self) -> Option<Registry> {
        self.session
            .with_untracked(|s| s.as_ref().map(|s| s.registry.clone()))
    }

    /// What the signed-in registry offers (reactive); `None` until known.
    pub fn caps(&self) -> Option<Capabilities> {
        self.session.with(|s| s.as_ref().and_then(|s| s.caps))
    }

    /// True when the signed-in registry is known to offer `feature` (reactive).
    pub fn offers(&self, feature: Feature) -> bool {
        self.caps().is_some_and(|caps| caps.has(feature))
    }

    /// The signed-in role (reactive); `None` when signed out.
    pub fn role(&self) -> Option<Role> {
        self.session
            .with(|s| s.as_ref().and_then(|s| s.me.as_ref()).map(|me| me.role))
    }

    /// The signed-in key's workspace, where install tokens are issued; Sekuire's `default`
    /// when the registry names none.
    pub fn workspace(&self) -> String {
        self.session.with_untracked(|s| {
            s.as_ref()
                .and_then(|s| s.me.as_ref())
                .and_then(|me| me.workspaces.first())
                .map(|w| w.id.clone())
                .unwrap_or_else(|| "default".to_owned())
        })
    }

    /// Shows a toast for a few seconds (errors stay longer).
    pub fn toast(&self, kind: ToastKind, text: impl Into<String>) {
        let id = self.next_toast.get_value() + 1;
        self.next_toast.set_value(id);
        let toasts = self.toasts;
        toasts.update(|t| {
            t.push(Toast {
                id,
                kind,
                text: text.into(),
            })
        });
        let linger = if kind == ToastKind::Error { 10 } else { 5 };
        set_timeout(
            move || toasts.update(|t| t.retain(|toast| toast.id != id)),
            Duration::from_secs(linger),
        );
    }

    /// Signs in: remembers the key where the user chose, and starts the session.
    pub fn sign_in(&self, registry: Registry, me: Me, caps: Capabilities, remember: bool) {
        storage::save_credentials(&registry.base_url, &registry.key, remember);
        storage::save_capabilities(&registry.base_url, caps);
        self.rejected.set(None);
        self.session.set(Some(Session {
            registry,
            me: Some(me),
            caps: Some(caps),
        }));
    }

    /// Starts a session with a saved key before the registry has confirmed it, and checks
    /// the key (and what the registry offers) meanwhile.
    pub fn resume(&self, registry: Registry, remember: bool) {
        storage::choose_registry(&registry.base_url);
        self.session.set(Some(Session {
            caps: storage::saved_capabilities(&registry.base_url),
            registry: registry.clone(),
            me: None,
        }));
        let ctx = *self;
        spawn_local(async move {
            match confirm(&registry).await {
                Ok((me, caps)) => ctx.sign_in(registry, me, caps, remember),
                Err(failure) if failure.is_unauthorized() => ctx.observe_failure(&failure),
                Err(failure) => {
                    ctx.session.set(None);
                    ctx.rejected.set(Some(failure.message));
                }
            }
            ctx.restoring.set(false);
        });
    }

    /// Uses another saved registry: with its saved key at once (pages reload what they
    /// show from it), else by signing in to it.
    pub fn switch_registry(&self, base_url: &str) {
        match storage::saved_key(base_url) {
            Some((key, remember)) => {
                self.resume(Registry::new(base_url, &key), remember);
                self.reload_epoch.update(|e| *e += 1);
            }
            None => {
                storage::choose_registry(base_url);
                self.rejected.set(None);
                self.session.set(None);
            }
        }
    }

    /// True once the registry has said who the key belongs to (reactive).
    pub fn verified(&self) -> bool {
        self.session
            .with(|s| s.as_ref().is_some_and(|s| s.me.is_some()))
    }

    /// Forgets every registry's key; the registry in use stays chosen for the next
    /// sign-in. `why` is shown on the connect page.
    pub fn sign_out(&self, why: Option<String>) {
        storage::forget_keys();
        self.rejected.set(why);
        self.session.set(None);
    }

    /// What every page does with a failure besides showing it: a rejected key is
    /// forgotten and the user signs in again to the same registry; an unreachable registry
    /// raises the banner and retries with backoff.
    pub fn observe_failure(&self, failure: &ApiFailure) {
        if failure.is_unauthorized() {
            if let Some(registry) = self.registry() {
                storage::forget_key(&registry.base_url);
            }
            self.rejected.set(Some(
                "Your key was rejected by the registry. Sign in again to continue.".into(),
            ));
            self.session.set(None);
        } else if failure.is_unreachable() && !self.connection_lost.get_untracked() {
            self.connection_lost.set(true);
            let ctx = *self;
            spawn_local(async move { ctx.reconnect().await });
        }
    }

    async fn reconnect(self) {
        let mut delay_ms = 1_000;
        loop {
            gloo_timers::future::TimeoutFuture::new(delay_ms).await;
            let Some(registry) = self.registry() else {
                self.connection_lost.set(false);
                return;
            };
            match registry.me().await {
                Ok(_) => {
                    self.connection_lost.set(false);
                    self.reload_epoch.update(|e| *e += 1);
                    self.toast(ToastKind::Info, "Connection to the registry is back.");
                    return;
                }
                Err(failure) if failure.is_unauthorized() => {
                    self.connection_lost.set(false);
                    self.observe_failure(&failure);
                    return;
                }
                Err(_) => delay_ms = (delay_ms * 2).min(15_000),
            }
        }
    }

    /// Calls `handler` with every live event until the current owner is cleaned up.
    pub fn on_live_event(&self, handler: impl Fn(&LiveEvent) + 'static) {
        let bus = self.live_bus;
        let id = bus
            .try_update_value(|b| b.subscribe(handler))
            .unwrap_or_default();
        on_cleanup(move || {
            bus.try_update_value(|b| b.unsubscribe(id));
        });
    }

    pub(crate) fn dispatch_live(&self, event: &LiveEvent) {
        let handlers = self
            .live_bus
            .try_with_value(LiveBus::handlers)
            .unwrap_or_default();
        for handler in handlers {
            handler(event);
        }
    }
}

impl Default for AppContext {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks a key: who it belongs to, then what the registry offers.
pub async fn confirm(registry: &Registry) -> Result<(Me, Capabilities), ApiFailure> {
    let me = registry.me().await?;
    Ok((me, registry.capabilities().await))
}

/// `Effect::new` for an effect that keeps no value: runs `effect` once the current task
/// yields and again whenever a signal it read changes, until its owner is disposed. Every
/// `watch` shares one compiled copy of the effect machinery.
pub fn watch(effect: impl Fn() + 'static) {
    watch_boxed(Box::new(effect));
}

fn watch_boxed(effect: Box<dyn Fn()>) {
    Effect::new(move |_| effect());
}

/// The app context provided at the root.
pub fn use_app() -> AppContext {
    expect_context::<AppContext>()
}
