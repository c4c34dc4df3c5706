//! The parts of a fleet list's plan both engines share, beyond its filter: what a walk of
//! an index is told so that it starts and stops near its matches (a range of the sort key,
//! a state apart from the others, every value of a facet named), and the range of IDs a
//! search starts. Each selects exactly the agents the filter does.

use super::fleet_query::{push_page_order, AgentFilter, Cursor, HealthClock};
use fleet_protocol::{AgentSort, Health, RuntimeStatus, SortKey, VerificationStatus};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// The runtime states `filter` names, each once.
pub(super) fn distinct_states(filter: &AgentFilter) -> Vec<RuntimeStatus> {
    each_once(&filter.runtime_status, RuntimeStatus::as_str)
}

/// The verification statuses `filter` names, each once.
pub(super) fn distinct_statuses(filter: &AgentFilter) -> Vec<VerificationStatus> {
    each_once(&filter.verification_status, VerificationStatus::as_str)
}

/// `values` each once, in the order of their wire names.
fn each_once<T: Copy>(values: &[T], name: fn(T) -> &'static str) -> Vec<T> {
    let mut once = values.to_vec();
    once.sort_unstable_by_key(|v| name(*v));
    once.dedup_by_key(|v| name(*v));
    once
}

/// `filter` for a read of a narrow index that starts with the runtime state, then the
/// verification status (SQLite's `agents_facets`, PostgreSQL's `agent_facets_by_facet`).
/// Without a health or a runtime state, it names every runtime state (the CHECK
/// constraint allows only those), so the engine seeks each state's range of the index and
/// reads only the verification and reputation asked for within it, instead of scanning
/// the whole index (`verified`, reputation ≥ 50 at 1M agents on SQLite: 68 ms → 2 ms).
/// Without a verification status either, it names every one too, so a reputation bound is
/// a range within each state and status (`max_reputation=5`: 41–55 ms, every entry of the
/// index read).
pub(super) fn seekable(filter: &AgentFilter) -> AgentFilter {
    let mut seekable = filter.clone();
    if filter.health.is_empty() && filter.runtime_status.is_empty() {
        seekable.runtime_status = RuntimeStatus::ALL.to_vec();
    }
    if filter.health.is_empty() && filter.verification_status.is_empty() {
        seekable.verification_status = VerificationStatus::ALL.to_vec();
    }
    seekable
}

/// `filter` once for each runtime state it names, when a page in order of change names
/// more than one: each state's page walks its own stretch of the index by state and change
/// (migration 0012), and the pages are merged ([`push_state_pages`]). A state change sets
/// `updated_at`, so one walk of the index by change for `paused,terminated`, oldest first,
/// passed every active agent (1.3 s at 1M agents on SQLite, 0.9 s on PostgreSQL).
pub(super) fn apart_by_state(filter: &AgentFilter, sort: SortKey) -> Option<Vec<AgentFilter>> {
    let states = distinct_states(filter);
    (sort == SortKey::UpdatedAt && states.len() > 1).then(|| {
        let apart = |state: RuntimeStatus| AgentFilter {
            runtime_status: vec![state],
            ..filter.clone()
        };
        states.into_iter().map(apart).collect()
    })
}

/// Pushes `(… UNION ALL …) AS states WHERE 1 = 1`: each of `apart`'s page after `cursor`
/// in `sort` (`push_matches` pushes `SELECT sekuire_id, {sort_expr} … WHERE …` for a
/// filter), to be merged by the page order that follows.
pub(super) fn push_state_pages<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    apart: &[AgentFilter],
    sort_expr: &str,
    sort: AgentSort,
    cursor: Option<&Cursor>,
    limit: u32,
    mut push_matches: impl FnMut(&mut QueryBuilder<'a, DB>, &AgentFilter),
) where
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    qb.push("(");
    for (i, filter) in apart.iter().enumerate() {
        if i > 0 {
            qb.push(" UNION ALL ");
        }
        qb.push("SELECT * FROM (");
        push_matches(qb, filter);
        push_page_order(qb, sort_expr, sort, cursor, limit);
        qb.push(format!(") AS state_{i}"));
    }
    qb.push(") AS states WHERE 1 = 1");
}

/// ` AND …`: for a page in heartbeat order whose filter names healths, the range of the
/// sort key (`sort_expr`, the heartbeat as its index has it, 0 for never) that holds
/// every agent of those healths. It selects no fewer agents: it tells a walk of the
/// heartbeat index where to start and stop. Agents that never sent a heartbeat sit at one
/// end of that index, and the healthy at the other, so a walk from the wrong end passed
/// every other agent, reading each one's row to test its health (`health=never`, newest
/// heartbeat first, at 1M agents: 1.8 s on SQLite, 1.1 s on PostgreSQL).
///
/// A healthy agent's heartbeat is at most 1.5 of the longest interval in use ago
/// ([`HealthClock`]), and a stale or unhealthy one's is in the past, at most 3
/// of the longest ago for a stale one. A heartbeat is a time after 1970, so an unhealthy
/// agent's is past the never-seen agents' 0 (`health=unhealthy`, oldest heartbeat first,
/// passed the 99,840 never-seen agents at 1M: 111 ms on SQLite).
pub(super) fn push_heartbeat_range<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    filter: &AgentFilter,
    sort: SortKey,
    sort_expr: &str,
    clock: HealthClock,
) where
    i64: Encode<'a, DB> + Type<DB>,
{
    if sort != SortKey::LastHeartbeatAt || filter.health.is_empty() {
        return;
    }
    let named = |health| filter.health.contains(&health);
    // The union's lower bound: the lowest of the healths named.
    if named(Health::Never) {
        qb.push(format!(" AND {sort_expr} >= 0"));
    } else if named(Health::Unhealthy) {
        qb.push(format!(" AND {sort_expr} >= 1"));
    } else {
        let intervals_back = if named(Health::Stale) { 3000 } else { 1500 };
        qb.push(format!(" AND {sort_expr} >= "))
            .push_bind(clock.back(intervals_back));
    }
    // Its upper bound: open when healthy is named, else the highest named.
    if named(Health::Healthy) {
        return;
    }
    if named(Health::Stale) || named(Health::Unhealthy) {
        qb.push(format!(" AND {sort_expr} <= "))
            .push_bind(clock.now);
    } else {
        qb.push(format!(" AND {sort_expr} <= 0"));
    }
}

/// `(sekuire_id >= … AND sekuire_id < …)`, for a range from
/// [`super::fleet_query::id_prefix_range`].
pub(super) fn push_id_range<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    (start, end): &(String, String),
) where
    String: Encode<'a, DB> + Type<DB>,
{
    qb.push("(sekuire_id >= ")
        .push_bind(start.clone())
        .push(" AND sekuire_id < ")
        .push_bind(end.clone())
        .push(")");
}
