//! The Sekuire fleet dashboard: a client-side rendered Leptos app that talks to a Sekuire
//! registry from the browser. `main.rs` only mounts [`app::App`]; everything lives here so
//! browser tests can mount pieces of it.

pub mod api;
pub mod app;
pub mod components;
pub mod model;
pub mod pages;
pub mod router;
pub mod state;
