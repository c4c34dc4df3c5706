//! Mounts the dashboard; nothing else.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(fleet_dashboard::app::App);
}
