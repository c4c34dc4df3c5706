//! Mounts the dashboard; nothing else. The browser calls `start` once the module loads
//! (no Rust `main`: std's runtime set-up and clean-up have nothing to do in a page).
#![no_main]

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(fleet_dashboard::app::App);
}
