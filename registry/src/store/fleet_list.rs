//! The fleet list and the fleet summary: filters, sort keys, keyset cursors, and the plan
//! that decides how a page is read (walk a sort index, or collect few matches and sort).

use super::agents::{AgentRow, AGENT_COLUMNS};
use super::like_escape;
use super::sqlite::SqliteStore;
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fleet_protocol::{
    AgentList, AgentSort, FleetSummary, Health, RuntimeStatus, SortKey, VerificationStatus,
};
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row, Sqlite};

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

/// The SQL expression a key sorts on; each has an index (see the migrations). Agents that
/// never sent a heartbeat sort as time zero: first ascending, last descending.
fn sort_sql(key: SortKey) -> &'static str {
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
#[derive(Serialize, Deserialize)]
struct Cursor {
    sort: String,
    value: CursorValue,
    id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CursorValue {
    Int(i64),
    Text(String),
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(raw: &str, sort: AgentSort) -> AppResult<Cursor> {
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

/// SQL for an agent's health at `now`: the same thresholds as [`Health::derive`].
fn health_sql(now: i64) -> String {
    format!(
        "(CASE WHEN last_heartbeat_at IS NULL THEN 'never' \
         WHEN ({now} - last_heartbeat_at) * 2 <= heartbeat_interval_s * 3000 THEN 'healthy' \
         WHEN ({now} - last_heartbeat_at) <= heartbeat_interval_s * 3000 THEN 'stale' \
         ELSE 'unhealthy' END)"
    )
}

fn push_in_list<'a>(qb: &mut QueryBuilder<'a, Sqlite>, column: &str, values: &[&'static str]) {
    if values.is_empty() {
        return;
    }
    qb.push(format!(" AND {column} IN ("));
    let mut separated = qb.separated(", ");
    for value in values {
        separated.push_bind(*value);
    }
    qb.push(")");
}

/// How a filter's columns are written into a query.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FilterUse {
    /// As they are, for the planner to use any index it likes.
    AsIs,
    /// Filter columns other than the sort key get SQLite's unary `+`, so the planner walks
    /// the index of the sort key and stops after one page, instead of collecting every
    /// match through a filter index and sorting them all (50 ms → 7 ms for `active` by
    /// reputation at 100,000 agents). Filtering on the sort key itself keeps its index:
    /// there the index both filters and orders.
    WalkSortIndex(SortKey),
}

/// Below this many matches a page is read by collecting the matches and sorting them;
/// walking the sort index would pass mostly non-matches.
const FEW_MATCHES: i64 = 5_000;

fn push_filter(
    qb: &mut QueryBuilder<'_, Sqlite>,
    filter: &AgentFilter,
    search: Option<Search<'_>>,
    now: i64,
    usage: FilterUse,
) {
    let column = |name: &str| match usage {
        FilterUse::WalkSortIndex(sort) if sort_sql(sort) != name => format!("+{name}"),
        _ => name.to_owned(),
    };
    if let Some(search) = search {
        push_search(qb, search, usage);
    }
    let statuses: Vec<_> = filter.runtime_status.iter().map(|s| s.as_str()).collect();
    push_in_list(qb, &column("runtime_status"), &statuses);
    let verifications: Vec<_> = filter
        .verification_status
        .iter()
        .map(|s| s.as_str())
        .collect();
    push_in_list(qb, &column("verification_status"), &verifications);
    let healths: Vec<_> = filter.health.iter().map(|s| s.as_str()).collect();
    push_in_list(qb, &health_sql(now), &healths);
    if let Some(min) = filter.min_reputation {
        qb.push(format!(" AND {} >= ", column("reputation_score")))
            .push_bind(i64::from(min));
    }
    if let Some(max) = filter.max_reputation {
        qb.push(format!(" AND {} <= ", column("reputation_score")))
            .push_bind(i64::from(max));
    }
}

/// Searches of this many characters or more can find their candidates in the trigram
/// index (`agents_name_trigrams`, migration 0006): a trigram is three characters.
const TRIGRAM: usize = 3;

/// A text search, and whether it is read through the trigram index.
#[derive(Clone, Copy)]
struct Search<'a> {
    text: &'a str,
    /// Few candidates: collecting them beats reading every name. A search with many
    /// candidates matches densely, and walking a sort index with LIKE finds a page
    /// sooner than collecting (and counting through) tens of thousands of candidates.
    indexed: bool,
}

/// `text` as a substring of the name, or as a prefix of the Sekuire ID. The name test is
/// LIKE, case-insensitive for ASCII only, `%` and `_` literal; for a sparse search the
/// trigram index names the candidates first, so a search that matches nothing no longer
/// reads every name (figures in BENCHMARKS.md). IDs are lowercase hex, so an ID prefix is
/// a range of the primary key. While walking a sort index, the ID terms are kept off the
/// primary key (`+sekuire_id`) so the planner walks and stops after a page.
fn push_search(qb: &mut QueryBuilder<'_, Sqlite>, search: Search<'_>, usage: FilterUse) {
    let q = search.text;
    let id_column = match usage {
        FilterUse::WalkSortIndex(_) => "+sekuire_id",
        FilterUse::AsIs => "sekuire_id",
    };
    qb.push(" AND ((");
    if search.indexed {
        qb.push(format!(
            "{id_column} IN (SELECT sekuire_id FROM agents_name_trigrams \
             WHERE agents_name_trigrams MATCH "
        ))
        .push_bind(trigram_phrase(q))
        .push(") AND ");
    }
    qb.push("name LIKE ")
        .push_bind(format!("%{}%", like_escape(q)))
        .push(" ESCAPE '\\')");
    let id = q.to_ascii_lowercase();
    if let Some(last) = id
        .bytes()
        .last()
        .filter(|_| id.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        // Every ID that starts with `id` sorts from `id` up to `id` with its last
        // character raised by one.
        let end = format!("{}{}", &id[..id.len() - 1], char::from(last + 1));
        qb.push(format!(" OR ({id_column} >= "))
            .push_bind(id)
            .push(format!(" AND {id_column} < "))
            .push_bind(end)
            .push(")");
    }
    qb.push(")");
}

/// `q` as an FTS5 phrase: the trigram tokenizer matches it as a substring.
fn trigram_phrase(q: &str) -> String {
    format!("\"{}\"", q.replace('"', "\"\""))
}

impl SqliteStore {
    /// `filter`'s text search, read through the trigram index when it has few candidates
    /// (counting them stops at [`FEW_MATCHES`]: one small index read).
    async fn search<'a>(&self, filter: &'a AgentFilter) -> AppResult<Option<Search<'a>>> {
        let Some(text) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) else {
            return Ok(None);
        };
        let indexed = if text.chars().count() >= TRIGRAM {
            let candidates: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT 1 FROM agents_name_trigrams \
                 WHERE agents_name_trigrams MATCH ? LIMIT ?)",
            )
            .bind(trigram_phrase(text))
            .bind(FEW_MATCHES)
            .fetch_one(&self.read)
            .await?;
            candidates < FEW_MATCHES
        } else {
            false
        };
        Ok(Some(Search { text, indexed }))
    }

    /// One page of the fleet, and the number of agents matching the filter.
    pub async fn list_agents(
        &self,
        filter: &AgentFilter,
        sort: AgentSort,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<AgentList> {
        let now = now_ms();
        let cursor = cursor.map(|c| Cursor::decode(c, sort)).transpose()?;

        // Without a text search every filter column is in the narrow facet index, so the
        // count scans that instead of the wide rows (87 ms → see BENCHMARKS.md).
        let search = self.search(filter).await?;
        let text_search = search.is_some();
        let mut count = QueryBuilder::<Sqlite>::new(if text_search {
            "SELECT COUNT(*) FROM agents WHERE 1 = 1"
        } else {
            "SELECT COUNT(*) FROM agents INDEXED BY agents_facets WHERE 1 = 1"
        });
        push_filter(&mut count, filter, search, now, FilterUse::AsIs);
        let total: i64 = count.build_query_scalar().fetch_one(&self.read).await?;

        let mut page =
            QueryBuilder::<Sqlite>::new(format!("SELECT {AGENT_COLUMNS} FROM agents WHERE 1 = 1"));
        if total >= FEW_MATCHES {
            push_filter(
                &mut page,
                filter,
                search,
                now,
                FilterUse::WalkSortIndex(sort.key),
            );
        } else if text_search {
            push_filter(&mut page, filter, search, now, FilterUse::AsIs);
        } else {
            // Few matches: find them in the narrow facet index, then read and sort only them.
            page.push(" AND sekuire_id IN (SELECT sekuire_id FROM agents INDEXED BY agents_facets WHERE 1 = 1");
            push_filter(&mut page, filter, search, now, FilterUse::AsIs);
            page.push(")");
        }
        let (cmp, dir) = if sort.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(cursor) = &cursor {
            page.push(format!(" AND ({}, sekuire_id) {cmp} (", sort_sql(sort.key)));
            match &cursor.value {
                CursorValue::Int(v) => page.push_bind(*v),
                CursorValue::Text(v) => page.push_bind(v.clone()),
            };
            page.push(", ").push_bind(cursor.id.clone()).push(")");
        }
        page.push(format!(
            " ORDER BY {} {dir}, sekuire_id {dir} LIMIT ",
            sort_sql(sort.key)
        ))
        .push_bind(i64::from(limit) + 1);
        let mut rows: Vec<AgentRow> = page.build_query_as().fetch_all(&self.read).await?;

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
            total: total as u64,
            next_cursor,
        })
    }

    /// Counts by runtime state, health and verification, and a reputation histogram, in one
    /// pass over the narrow facet index (no grouping sort).
    pub async fn fleet_summary(&self) -> AppResult<FleetSummary> {
        let health = health_sql(now_ms());
        let mut sums = vec!["COUNT(*)".to_owned()];
        sums.extend(
            RuntimeStatus::ALL
                .iter()
                .map(|s| format!("SUM(runtime_status = '{s}')")),
        );
        sums.extend(Health::ALL.iter().map(|h| format!("SUM({health} = '{h}')")));
        sums.extend(
            VerificationStatus::ALL
                .iter()
                .map(|v| format!("SUM(verification_status = '{v}')")),
        );
        sums.extend((0..10).map(|b| {
            let (low, high) = (b * 10, if b == 9 { 100 } else { b * 10 + 9 });
            format!("SUM(reputation_score BETWEEN {low} AND {high})")
        }));
        let sql = format!("SELECT {} FROM agents", sums.join(", "));
        let row = sqlx::query(&sql).fetch_one(&self.read).await?;
        let mut values = (0..sums.len()).map(|i| {
            // SUM over no rows is NULL.
            row.try_get::<Option<i64>, _>(i)
                .map(|v| v.unwrap_or(0).max(0) as u64)
        });
        let mut next = || values.next().unwrap_or(Ok(0));
        let mut summary = FleetSummary {
            total: next()?,
            ..FleetSummary::default()
        };
        for status in RuntimeStatus::ALL {
            summary.runtime_status.insert(status, next()?);
        }
        for health in Health::ALL {
            summary.health.insert(health, next()?);
        }
        for verification in VerificationStatus::ALL {
            summary.verification_status.insert(verification, next()?);
        }
        summary.reputation_histogram = (0..10).map(|_| next()).collect::<Result<_, _>>()?;
        Ok(summary)
    }
}
