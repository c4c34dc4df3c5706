//! What the fleet list and summary mean on either engine: the filter, sort keys, keyset
//! cursors, the page and summary built from rows, and the SQL terms both engines share.
//! How each engine plans a page is in `fleet_list.rs` (SQLite) and `postgres/`.

use super::agents::AgentRow;
pub(super) use super::health_clock::{
    health_counts_sql, push_health, HealthClock, HealthRead, HEALTHY_UNTIL,
};
use crate::error::{AppError, AppResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fleet_protocol::{
    AgentList, AgentSort, FleetSummary, Health, RuntimeStatus, SortKey, VerificationStatus,
    TOTAL_COUNT_CAP,
};
use serde::{Deserialize, Serialize};
use sqlx::{Database, Encode, QueryBuilder, Type};
/// Which agents a list or summary covers. Empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    pub q: Option<String>,
    pub runtime_status: Vec<RuntimeStatus>,
    pub verification_status: Vec<VerificationStatus>,
    pub health: Vec<Health>,
    pub min_reputation: Option<u8>,
    pub max_reputation: Option<u8>,
}

impl AgentFilter {
    /// Whether it filters by anything but text: a state, a health, a reputation bound.
    pub(super) fn has_facets(&self) -> bool {
        !self.runtime_status.is_empty()
            || !self.verification_status.is_empty()
            || !self.health.is_empty()
            || self.min_reputation.is_some()
            || self.max_reputation.is_some()
    }

    /// The text search: `q` trimmed, when anything is left of it.
    pub(super) fn search_text(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }
}

/// The SQL expression a key sorts on; each has an index (see the migrations). Agents that
/// never sent a heartbeat sort as time zero: first ascending, last descending.
pub(super) fn sort_sql(key: SortKey) -> &'static str {
    match key {
        SortKey::Name => "name",
        SortKey::ReputationScore => "reputation_score",
        SortKey::LastHeartbeatAt => "IFNULL(last_heartbeat_at, 0)",
        SortKey::RuntimeStatus => "runtime_status",
        SortKey::UpdatedAt => "updated_at",
    }
}

fn sorts_text(key: SortKey) -> bool {
    matches!(key, SortKey::Name | SortKey::RuntimeStatus)
}

/// Position after the last row of a page: the row's sort value and id. Opaque to clients.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Cursor {
    sort: String,
    value: CursorValue,
    id: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum CursorValue {
    Int(i64),
    Text(String),
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub(super) fn decode(raw: &str, sort: AgentSort) -> AppResult<Cursor> {
        let bad = || AppError::InvalidRequest("cursor is not one this registry issued".into());
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let value_fits = matches!(
            (&cursor.value, sorts_text(sort.key)),
            (CursorValue::Text(_), true) | (CursorValue::Int(_), false)
        );
        if cursor.sort != sort.to_string() || !value_fits {
            return Err(AppError::InvalidRequest(
                "cursor belongs to another sort order; start again without it".into(),
            ));
        }
        Ok(cursor)
    }

    /// Pushes ` AND (sort key, id) {cmp} (the cursor's)`, the sort key as `sort_expr`
    /// writes it.
    pub(super) fn push_bound<'a, DB: Database>(
        &self,
        qb: &mut QueryBuilder<'a, DB>,
        sort_expr: &str,
        cmp: &str,
    ) where
        i64: Encode<'a, DB> + Type<DB>,
        String: Encode<'a, DB> + Type<DB>,
    {
        qb.push(format!(" AND ({sort_expr}, sekuire_id) {cmp} ("));
        match &self.value {
            CursorValue::Int(v) => qb.push_bind(*v),
            CursorValue::Text(v) => qb.push_bind(v.clone()),
        };
        qb.push(", ").push_bind(self.id.clone()).push(")");
    }

    /// The cursor at the agent `id`, named `name`, in `sort`, an order by name.
    pub(super) fn at_name(sort: AgentSort, name: String, id: String) -> Cursor {
        Cursor {
            sort: sort.to_string(),
            value: CursorValue::Text(name),
            id,
        }
    }

    fn after(row: &AgentRow, sort: AgentSort) -> Cursor {
        let value = match sort.key {
            SortKey::Name => CursorValue::Text(row.name.clone()),
            SortKey::RuntimeStatus => CursorValue::Text(row.runtime_status.clone()),
            SortKey::ReputationScore => CursorValue::Int(row.reputation_score),
            SortKey::LastHeartbeatAt => CursorValue::Int(row.last_heartbeat_at.unwrap_or(0)),
            SortKey::UpdatedAt => CursorValue::Int(row.updated_at),
        };
        Cursor {
            sort: sort.to_string(),
            value,
            id: row.sekuire_id.clone(),
        }
    }
}

fn push_in_list<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    column: &str,
    values: impl Iterator<Item = &'static str>,
) where
    &'a str: Encode<'a, DB> + Type<DB>,
{
    // Each value once: an engine turns `IN` of one value into `=`, and seeks it.
    let mut values: Vec<&'static str> = values.collect();
    values.sort_unstable();
    values.dedup();
    if values.is_empty() {
        return;
    }
    qb.push(format!(" AND {column} IN ("));
    let mut separated = qb.separated(", ");
    for value in values {
        let value: &'a str = value;
        separated.push_bind(value);
    }
    qb.push(")");
}

/// The filter's states, health and reputation bounds as ` AND …` terms (on either
/// engine).
pub(super) fn push_facets<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    filter: &AgentFilter,
    clock: HealthClock,
) where
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let statuses = filter.runtime_status.iter().map(|s| s.as_str());
    push_in_list(qb, "runtime_status", statuses);
    let verifications = filter.verification_status.iter().map(|s| s.as_str());
    push_in_list(qb, "verification_status", verifications);
    push_health(qb, &filter.health, clock, HealthRead::Indexed);
    if let Some(min) = filter.min_reputation {
        qb.push(" AND reputation_score >= ")
            .push_bind(i64::from(min));
    }
    if let Some(max) = filter.max_reputation {
        qb.push(" AND reputation_score <= ")
            .push_bind(i64::from(max));
    }
}

/// The range of Sekuire IDs that start with `q`, when `q` could begin one. IDs are
/// lowercase hex, so every ID that starts with `q` sorts from `q` (lowercased) up to `q`
/// with its last character raised by one.
pub(super) fn id_prefix_range(q: &str) -> Option<(String, String)> {
    let id = q.to_ascii_lowercase();
    let last = id
        .bytes()
        .last()
        .filter(|_| id.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let end = format!("{}{}", &id[..id.len() - 1], char::from(last + 1));
    Some((id, end))
}

/// How a row that comes after another in `sort` compares with it.
pub(super) fn following(sort: AgentSort) -> &'static str {
    if sort.descending {
        "<"
    } else {
        ">"
    }
}

/// Continues a page query: after `cursor`, ordered by `sort_expr` (the sort key as the
/// engine's index has it) and the id, `limit` rows and one more that tells whether
/// another page follows.
pub(super) fn push_page_order<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    sort_expr: &str,
    sort: AgentSort,
    cursor: Option<&Cursor>,
    limit: u32,
) where
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    if let Some(cursor) = cursor {
        cursor.push_bound(qb, sort_expr, following(sort));
    }
    qb.push(order_by(sort_expr, sort))
        .push(" LIMIT ")
        .push_bind(i64::from(limit) + 1);
}

/// ` ORDER BY` the sort key as `sort_expr` writes it, then the id, in `sort`'s direction.
pub(super) fn order_by(sort_expr: &str, sort: AgentSort) -> String {
    let dir = if sort.descending { "DESC" } else { "ASC" };
    format!(" ORDER BY {sort_expr} {dir}, sekuire_id {dir}")
}

/// How many agents match a list's filter: counted up to [`Total::cap`] and one more
/// (a broad filter over a million agents would otherwise count for longer than the page
/// takes), or exact from the kept counts when the filter is one of theirs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Total {
    pub(super) count: i64,
    pub(super) exact: bool,
}

/// Where counting stops for a text search, instead of [`TOTAL_COUNT_CAP`].
///
/// Decision: counting a search's matches reads every row it passes, and a common word
/// matches a large share of a fleet: at 1M agents on PostgreSQL, counting 10,001 of the
/// 62,573 names holding `triage` or `ag` read 160,000 rows, 48–73 ms against the 50 ms goal
/// for a list, where the page itself took 5 ms. "1000+ match" tells the operator as much
/// as "10000+": refine the search. Filters without a search keep the higher cap; their
/// counts read narrow indexes.
const SEARCH_COUNT_CAP: i64 = 1_000;

impl Total {
    /// Where counting `filter`'s matches stops.
    pub(super) fn cap(filter: &AgentFilter) -> i64 {
        match filter.search_text() {
            Some(_) => SEARCH_COUNT_CAP,
            None => TOTAL_COUNT_CAP as i64,
        }
    }

    /// The `LIMIT` of `filter`'s count: one over its cap tells that more match.
    pub(super) fn count_limit(filter: &AgentFilter) -> i64 {
        Total::cap(filter) + 1
    }

    /// From a count of `filter`'s matches that stopped at [`Total::count_limit`].
    pub(super) fn capped(filter: &AgentFilter, counted: i64) -> Total {
        let cap = Total::cap(filter);
        Total {
            count: counted.min(cap),
            exact: counted <= cap,
        }
    }

    pub(super) fn kept(count: i64) -> Total {
        Total { count, exact: true }
    }
}

/// The kept counts (`fleet_counts`) whose sum is the number of agents `filter` matches,
/// when it is one they keep: no filter, or only runtime states, or only verification
/// statuses.
pub(super) fn kept_facets(filter: &AgentFilter) -> Option<Vec<String>> {
    let plain = filter.search_text().is_none()
        && filter.health.is_empty()
        && filter.min_reputation.is_none()
        && filter.max_reputation.is_none();
    let mut facets = match (&filter.runtime_status[..], &filter.verification_status[..]) {
        _ if !plain => None,
        ([], []) => Some(vec!["total".to_owned()]),
        (states, []) => Some(states.iter().map(|s| format!("runtime:{s}")).collect()),
        ([], statuses) => Some(
            statuses
                .iter()
                .map(|v| format!("verification:{v}"))
                .collect::<Vec<_>>(),
        ),
        _ => None,
    }?;
    // `active,active` names one facet: counted once, as the list's `IN` matches it once.
    facets.sort_unstable();
    facets.dedup();
    Some(facets)
}

/// The page from the `limit + 1` rows a page query read, with a cursor after its last
/// row when there are more.
pub(super) fn agent_page(
    mut rows: Vec<AgentRow>,
    total: Total,
    limit: u32,
    sort: AgentSort,
    now: i64,
) -> AppResult<AgentList> {
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|row| Cursor::after(row, sort).encode())
    } else {
        None
    };
    let agents = rows
        .into_iter()
        .map(|row| row.into_agent(now))
        .collect::<AppResult<_>>()?;
    Ok(AgentList {
        agents,
        total: total.count.max(0) as u64,
        total_exact: total.exact,
        next_cursor,
    })
}

/// The summary from the kept counts (`fleet_counts`: migrations 0007 on SQLite, 0002 on
/// PostgreSQL) and the health counts, in [`Health::ALL`]'s order.
pub(super) fn summary_from(counts: &[(String, i64)], health: &[u64]) -> FleetSummary {
    let count = |facet: &str| {
        counts
            .iter()
            .find(|(f, _)| f == facet)
            .map_or(0, |(_, n)| (*n).max(0) as u64)
    };
    FleetSummary {
        total: count("total"),
        runtime_status: RuntimeStatus::ALL
            .into_iter()
            .map(|s| (s, count(&format!("runtime:{s}"))))
            .collect(),
        health: Health::ALL
            .into_iter()
            .zip(health.iter().copied().chain(std::iter::repeat(0)))
            .collect(),
        verification_status: VerificationStatus::ALL
            .into_iter()
            .map(|v| (v, count(&format!("verification:{v}"))))
            .collect(),
        reputation_histogram: (0..10).map(|b| count(&format!("reputation:{b}"))).collect(),
    }
}
