//! What the dashboard keeps in the browser: the registries the user saved, a key for each
//! (in `localStorage` only when the user asked to be remembered, otherwise in
//! `sessionStorage` for this tab), which registry is in use, what each offers, theme and
//! the live toggle. Registry URLs and features are not secret and stay on the device; keys
//! follow the user's choice, per registry.

use crate::model::capabilities::Capabilities;
use web_sys::Storage;

/// The saved registries' URLs, one per line.
const REGISTRIES: &str = "sekuire.registries";
/// The registry in use: in this tab first, else the last one used on this device.
const CURRENT: &str = "sekuire.registry";
const THEME: &str = "sekuire.theme";
const LIVE: &str = "sekuire.live";

fn key_item(registry: &str) -> String {
    format!("sekuire.key {registry}")
}

fn features_item(registry: &str) -> String {
    format!("sekuire.features {registry}")
}

fn local() -> Option<Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn session() -> Option<Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn read(store: Option<Storage>, name: &str) -> Option<String> {
    store?.get_item(name).ok()?.filter(|v| !v.is_empty())
}

fn write(store: Option<Storage>, name: &str, value: &str) {
    if let Some(store) = store {
        // A full or disabled storage only means the choice is not remembered.
        let _ = store.set_item(name, value);
    }
}

fn remove(store: Option<Storage>, name: &str) {
    if let Some(store) = store {
        let _ = store.remove_item(name);
    }
}

/// The registries the user saved, in the order they were added.
pub fn saved_registries() -> Vec<String> {
    read(local(), REGISTRIES)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The registry this tab uses, else the one last used on this device.
pub fn current_registry() -> Option<String> {
    read(session(), CURRENT).or_else(|| read(local(), CURRENT))
}

/// Makes `registry` the one in use, and adds it to the saved ones.
pub fn choose_registry(registry: &str) {
    let mut saved = saved_registries();
    if !saved.iter().any(|r| r == registry) {
        saved.push(registry.to_owned());
        write(local(), REGISTRIES, &saved.join("\n"));
    }
    write(session(), CURRENT, registry);
    write(local(), CURRENT, registry);
}

/// The key saved for `registry`, and whether it is remembered on this device.
pub fn saved_key(registry: &str) -> Option<(String, bool)> {
    let item = key_item(registry);
    read(session(), &item)
        .map(|key| (key, false))
        .or_else(|| read(local(), &item).map(|key| (key, true)))
}

/// Keeps `key` for `registry` where the user chose, and makes it the registry in use.
pub fn save_credentials(registry: &str, key: &str, remember: bool) {
    forget_key(registry);
    let store = if remember { local() } else { session() };
    write(store, &key_item(registry), key);
    choose_registry(registry);
}

/// Forgets the key of one registry (it was rejected).
pub fn forget_key(registry: &str) {
    for store in [local(), session()] {
        remove(store, &key_item(registry));
    }
}

/// Signing out forgets every registry's key; the saved registries stay, without keys.
pub fn forget_keys() {
    for registry in saved_registries() {
        forget_key(&registry);
    }
}

/// What `registry` offered when last probed.
pub fn saved_capabilities(registry: &str) -> Option<Capabilities> {
    read(local(), &features_item(registry))
        .map(|flags| Capabilities::from_flags(flags.trim_start_matches('+')))
}

pub fn save_capabilities(registry: &str, caps: Capabilities) {
    // A leading `+` so that "offers nothing" is not an empty, unsaved value.
    write(
        local(),
        &features_item(registry),
        &format!("+{}", caps.to_flags()),
    );
}

pub fn theme() -> String {
    read(local(), THEME).unwrap_or_default()
}

pub fn save_theme(theme: &str) {
    write(local(), THEME, theme);
}

pub fn live_updates_enabled() -> bool {
    read(local(), LIVE).as_deref() != Some("off")
}

pub fn save_live_updates(enabled: bool) {
    write(local(), LIVE, if enabled { "on" } else { "off" });
}
