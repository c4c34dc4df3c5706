//! What the dashboard keeps in the browser: the key (in `localStorage` only when the user
//! asked to be remembered, otherwise in `sessionStorage` for this tab), theme, live toggle.

use web_sys::Storage;

const REGISTRY: &str = "sekuire.registry";
const KEY: &str = "sekuire.key";
const THEME: &str = "sekuire.theme";
const LIVE: &str = "sekuire.live";

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

/// The saved registry URL and key, from this tab or this device, and whether it was
/// remembered on the device.
pub fn saved_credentials() -> Option<(String, String, bool)> {
    [(session(), false), (local(), true)]
        .into_iter()
        .find_map(|(store, remembered)| {
            let key = read(store.clone(), KEY)?;
            Some((read(store, REGISTRY).unwrap_or_default(), key, remembered))
        })
}

pub fn save_credentials(registry: &str, key: &str, remember: bool) {
    forget_credentials();
    let store = if remember { local() } else { session() };
    write(store.clone(), REGISTRY, registry);
    write(store, KEY, key);
}

pub fn forget_credentials() {
    for store in [local(), session()] {
        remove(store.clone(), KEY);
        remove(store, REGISTRY);
    }
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
