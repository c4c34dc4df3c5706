//! The dashboard's router, on the History API.
//!
//! Decision: a router of our own rather than `leptos_router`. The dashboard needs the path,
//! the query, push and replace navigation, Back/Forward, and in-app handling of its own
//! links; `leptos_router`'s generic route matching cost about a tenth of the wasm bundle
//! (see BENCHMARKS.md). Parsing lives in [`crate::model::route`] and is tested natively.

use crate::model::route::{is_dashboard_href, Query, Route};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// How a navigation treats the browser's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// A new entry: Back returns to where the user was.
    Push,
    /// The current entry changes: a filter being typed, a redirect.
    Replace,
}

/// Navigates to a dashboard URL, pushing a history entry. `Copy`, for use in handlers.
pub fn use_go() -> impl Fn(&str) + Copy + 'static {
    let location = use_location();
    move |url: &str| location.navigate(url, History::Push)
}

/// Like [`use_go`] but replacing the current history entry.
pub fn use_replace() -> impl Fn(&str) + Copy + 'static {
    let location = use_location();
    move |url: &str| location.navigate(url, History::Replace)
}

/// Where the dashboard is, following the address bar.
#[derive(Clone, Copy)]
pub struct Location {
    path: RwSignal<String>,
    search: RwSignal<String>,
    /// The page to show; changes only when the path does.
    pub route: Memo<Route>,
    /// The query string, parsed; changes only when the query does.
    pub query: Memo<Query>,
}

impl Location {
    /// The current path and query, e.g. `/agents?q=x`, without tracking.
    pub fn here(&self) -> String {
        format!(
            "{}{}",
            self.path.get_untracked(),
            self.search.get_untracked()
        )
    }

    /// Goes to a dashboard URL (`/agents?…`), adding a history entry or replacing the
    /// current one. A new page starts at the top.
    pub fn navigate(&self, url: &str, how: History) {
        let Ok(history) = window().history() else {
            return;
        };
        let pushed = match how {
            History::Replace => {
                history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url))
            }
            History::Push => {
                history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url))
            }
        };
        if pushed.is_ok() {
            let old_path = self.path.get_untracked();
            self.follow_address_bar();
            if how == History::Push && old_path != self.path.get_untracked() {
                window().scroll_to_with_x_and_y(0.0, 0.0);
            }
        }
    }

    fn follow_address_bar(&self) {
        let location = window().location();
        let path = location.pathname().unwrap_or_default();
        let search = location.search().unwrap_or_default();
        if self.path.get_untracked() != path {
            self.path.set(path);
        }
        if self.search.get_untracked() != search {
            self.search.set(search);
        }
    }
}

/// Starts following the address bar: Back/Forward, and clicks on the dashboard's own
/// links, which navigate in the app instead of reloading it.
pub fn provide_location() -> Location {
    let path = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let location = Location {
        path,
        search,
        route: Memo::new(move |_| path.with(|p| Route::from_path(p))),
        query: Memo::new(move |_| search.with(|s| Query::parse(s))),
    };
    location.follow_address_bar();
    provide_context(location);

    let popstate = window_event_listener(leptos::ev::popstate, move |_| {
        location.follow_address_bar();
    });
    let clicks = window_event_listener(leptos::ev::click, move |ev| {
        if let Some(href) = in_app_link(&ev) {
            ev.prevent_default();
            location.navigate(&href, History::Push);
        }
    });
    on_cleanup(move || {
        popstate.remove();
        clicks.remove();
    });
    location
}

/// The href of a plain left click on a link to a dashboard page with no target and no
/// download; anything else (other sites, the API, new tabs) is left to the browser.
fn in_app_link(ev: &web_sys::MouseEvent) -> Option<String> {
    if ev.default_prevented()
        || ev.button() != 0
        || ev.ctrl_key()
        || ev.meta_key()
        || ev.shift_key()
        || ev.alt_key()
    {
        return None;
    }
    let link = ev
        .target()?
        .dyn_into::<web_sys::Element>()
        .ok()?
        .closest("a[href]")
        .ok()??;
    if link.has_attribute("download") || link.get_attribute("target").is_some_and(|t| t != "_self")
    {
        return None;
    }
    let href = link.get_attribute("href")?;
    is_dashboard_href(&href).then_some(href)
}

/// The location provided by [`provide_location`].
pub fn use_location() -> Location {
    expect_context::<Location>()
}
