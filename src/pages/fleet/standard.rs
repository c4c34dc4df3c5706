//! The fleet page on a registry with Sekuire's standard list only (the hosted one, as its
//! published client shows it): the list has no runtime state, no counts and no paging, and
//! the registry neither filters by state nor sorts. The rows show at once; each one's
//! runtime state is then read from `GET /agents/{id}`, a few requests at a time; then the
//! view's filters and sort apply in the browser and the loaded agents are counted.

use crate::api::shapes::FleetList;
use crate::api::Registry;
use crate::model::fleet_query::FleetQuery;
use crate::model::fleet_rows::{patch_row, summarize};
use crate::state::AppContext;
use fleet_protocol::{AgentList, FleetSummary};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Agent reads in flight at once: a browser opens about six connections to one host, so
/// more would only queue, and a registry that limits rates sees a steady trickle.
const READS_AT_ONCE: usize = 6;

/// What the page shows that a standard list fills in.
#[derive(Clone, Copy)]
pub(super) struct Shown {
    pub list: RwSignal<Option<AgentList>>,
    pub unresolved: RwSignal<Vec<String>>,
    pub summary: RwSignal<Option<FleetSummary>>,
}

/// Shows `found` for `view`. `current` turns false when a newer load started, which
/// stops the reads of this one.
pub(super) fn show(
    ctx: AppContext,
    registry: Registry,
    view: FleetQuery,
    found: FleetList,
    shown: Shown,
    current: impl Fn() -> bool + 'static,
) {
    let FleetList {
        list, unresolved, ..
    } = found;
    shown.unresolved.set(unresolved.clone());
    shown.list.set(Some(list));
    let finish = move || {
        let Some(mut all) = shown.list.get_untracked() else {
            return;
        };
        shown.summary.set(Some(summarize(&all.agents)));
        let now_ms = ctx.now_ms.get_untracked();
        view.arrange(&mut all.agents, |agent| super::agent_health(agent, now_ms));
        shown.list.set(Some(all));
    };
    if unresolved.is_empty() {
        finish();
        return;
    }
    let queue = Rc::new(RefCell::new(VecDeque::from(unresolved)));
    let readers_left = Rc::new(RefCell::new(READS_AT_ONCE));
    let current = Rc::new(current);
    let finish = Rc::new(finish);
    for _ in 0..READS_AT_ONCE {
        let (queue, readers_left, current, finish, registry) = (
            queue.clone(),
            readers_left.clone(),
            current.clone(),
            finish.clone(),
            registry.clone(),
        );
        spawn_local(async move {
            loop {
                let next = queue.borrow_mut().pop_front();
                let Some(sekuire_id) = next else {
                    break;
                };
                let read = registry.agent(&sekuire_id).await;
                if !current() {
                    return;
                }
                match read {
                    Ok(agent) => {
                        shown.list.update(|l| {
                            patch_row(l, &sekuire_id, |row| *row = agent);
                        });
                        shown
                            .unresolved
                            .update(|u| u.retain(|id| *id != sekuire_id));
                    }
                    // The row keeps saying its state is not known; the next refresh asks
                    // again.
                    Err(failure) => ctx.observe_failure(&failure),
                }
            }
            let mut left = readers_left.borrow_mut();
            *left -= 1;
            if *left == 0 && current() {
                finish();
            }
        });
    }
}
