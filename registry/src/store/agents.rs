//! Agents: the fleet list, one agent, lifecycle changes, the summary, bulk seeding.

use super::{like_escape, Store};
use crate::clock::{format_ms, now_ms};
use crate::error::{AppError, AppResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fleet_protocol::{
    Agent, AgentList, AuditEntry, FleetSummary, Health, LifecycleAction, RuntimeStatus,
    VerificationStatus,
};
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

#[derive(sqlx::FromRow)]
struct AgentRow {
    sekuire_id: String,
    name: String,
    version: String,
    description: String,
    runtime_status: String,
    verification_status: String,
    reputation_score: i64,
    last_heartbeat_at: Option<i64>,
    heartbeat_interval_s: i64,
    pending_command: Option<String>,
    installations: i64,
    status_reason: Option<String>,
    status_changed_at: Option<i64>,
    status_changed_by: Option<String>,
    created_at: i64,
    updated_at: i64,
    revision: i64,
}

/// A value the database's CHECK constraints promise is one of the enum's spellings.
fn stored<T: std::str::FromStr<Err = String>>(value: &str) -> AppResult<T> {
    value
        .parse()
        .map_err(|e: String| AppError::Internal(anyhow::anyhow!("corrupt row: {e}")))
}

impl AgentRow {
    fn into_agent(self, now: i64) -> AppResult<Agent> {
        Ok(Agent {
            health: Health::derive(self.last_heartbeat_at, self.heartbeat_interval_s, now),
            runtime_status: stored(&self.runtime_status)?,
            verification_status: stored(&self.verification_status)?,
            reputation_score: self.reputation_score.clamp(0, 100) as u8,
            last_heartbeat_at: self.last_heartbeat_at.map(format_ms),
            pending_command: self.pending_command.as_deref().map(stored).transpose()?,
            heartbeat_interval_seconds: self.heartbeat_interval_s,
            status_changed_at: self.status_changed_at.map(format_ms),
            created_at: format_ms(self.created_at),
            updated_at: format_ms(self.updated_at),
            sekuire_id: self.sekuire_id,
            name: self.name,
            version: self.version,
            description: self.description,
            status_reason: self.status_reason,
            status_changed_by: self.status_changed_by,
            installations: self.installations,
            revision: self.revision,
        })
    }
}

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

/// A column the fleet list sorts by; ties are broken by `sekuire_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    ReputationScore,
    LastHeartbeatAt,
    RuntimeStatus,
    UpdatedAt,
}

impl SortKey {
    fn wire_name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::ReputationScore => "reputation_score",
            Self::LastHeartbeatAt => "last_heartbeat_at",
            Self::RuntimeStatus => "runtime_status",
            Self::UpdatedAt => "updated_at",
        }
    }

    /// The SQL expression sorted on; each has an index (see the migration). Agents that
    /// never sent a heartbeat sort as time zero: first ascending, last descending.
    fn sql(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::ReputationScore => "reputation_score",
            Self::LastHeartbeatAt => "IFNULL(last_heartbeat_at, 0)",
            Self::RuntimeStatus => "runtime_status",
            Self::UpdatedAt => "updated_at",
        }
    }

    fn is_text(self) -> bool {
        matches!(self, Self::Name | Self::RuntimeStatus)
    }
}

/// Sort order of the fleet list: `name`, `-reputation_score`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentSort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for AgentSort {
    fn default() -> Self {
        AgentSort {
            key: SortKey::Name,
            descending: false,
        }
    }
}

impl std::str::FromStr for AgentSort {
    type Err = AppError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (descending, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let key = [
            SortKey::Name,
            SortKey::ReputationScore,
            SortKey::LastHeartbeatAt,
            SortKey::RuntimeStatus,
            SortKey::UpdatedAt,
        ]
        .into_iter()
        .find(|k| k.wire_name() == name)
        .ok_or_else(|| AppError::InvalidRequest(format!("cannot sort by `{s}`")))?;
        Ok(AgentSort { key, descending })
    }
}

impl AgentSort {
    fn spec(self) -> String {
        format!(
            "{}{}",
            if self.descending { "-" } else { "" },
            self.key.wire_name()
        )
    }
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
            (&cursor.value, sort.key.is_text()),
            (CursorValue::Text(_), true) | (CursorValue::Int(_), false)
        );
        if cursor.sort != sort.spec() || !value_fits {
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
            sort: sort.spec(),
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
    now: i64,
    usage: FilterUse,
) {
    let column = |name: &str| match usage {
        FilterUse::WalkSortIndex(sort) if sort.sql() != name => format!("+{name}"),
        _ => name.to_owned(),
    };
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped = like_escape(q);
        // LIKE is case-insensitive for ASCII; ids are lowercase hex.
        qb.push(" AND (name LIKE ")
            .push_bind(format!("%{escaped}%"))
            .push(" ESCAPE '\\' OR sekuire_id LIKE ")
            .push_bind(format!("{}%", escaped.to_ascii_lowercase()))
            .push(" ESCAPE '\\')");
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

/// What a lifecycle command did.
#[derive(Debug)]
pub struct LifecycleOutcome {
    pub agent: Agent,
    /// The audit entry written; `None` for a no-op.
    pub audit: Option<AuditEntry>,
}

/// A lifecycle command as the store applies it.
#[derive(Debug, Clone, Copy)]
pub struct LifecycleCommand<'a> {
    pub sekuire_id: &'a str,
    pub action: LifecycleAction,
    pub reason: Option<&'a str>,
    /// Key name of the caller: the audit trail's actor.
    pub actor: &'a str,
    /// `If-Match`: refuse unless the agent is still at this revision.
    pub expected_revision: Option<i64>,
    pub request_id: &'a str,
    /// When it happens (Unix ms): now, except for the demo's replayed history.
    pub at: i64,
}

/// An agent to register, as the seeder and the demo create them.
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub sekuire_id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub runtime_status: RuntimeStatus,
    pub verification_status: VerificationStatus,
    pub reputation_score: u8,
    pub last_heartbeat_at: Option<i64>,
    pub created_at: i64,
}

impl Store {
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
        let text_search = filter.q.as_deref().is_some_and(|q| !q.trim().is_empty());
        let mut count = QueryBuilder::<Sqlite>::new(if text_search {
            "SELECT COUNT(*) FROM agents WHERE 1 = 1"
        } else {
            "SELECT COUNT(*) FROM agents INDEXED BY agents_facets WHERE 1 = 1"
        });
        push_filter(&mut count, filter, now, FilterUse::AsIs);
        let total: i64 = count.build_query_scalar().fetch_one(&self.read).await?;

        let mut page = QueryBuilder::<Sqlite>::new("SELECT * FROM agents WHERE 1 = 1");
        if total >= FEW_MATCHES {
            push_filter(&mut page, filter, now, FilterUse::WalkSortIndex(sort.key));
        } else if text_search {
            push_filter(&mut page, filter, now, FilterUse::AsIs);
        } else {
            // Few matches: find them in the narrow facet index, then read and sort only them.
            page.push(" AND sekuire_id IN (SELECT sekuire_id FROM agents INDEXED BY agents_facets WHERE 1 = 1");
            push_filter(&mut page, filter, now, FilterUse::AsIs);
            page.push(")");
        }
        let (cmp, dir) = if sort.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(cursor) = &cursor {
            page.push(format!(" AND ({}, sekuire_id) {cmp} (", sort.key.sql()));
            match &cursor.value {
                CursorValue::Int(v) => page.push_bind(*v),
                CursorValue::Text(v) => page.push_bind(v.clone()),
            };
            page.push(", ").push_bind(cursor.id.clone()).push(")");
        }
        page.push(format!(
            " ORDER BY {} {dir}, sekuire_id {dir} LIMIT ",
            sort.key.sql()
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

    /// One agent by Sekuire ID.
    pub async fn agent(&self, sekuire_id: &str) -> AppResult<Agent> {
        let row: Option<AgentRow> = sqlx::query_as("SELECT * FROM agents WHERE sekuire_id = ?")
            .bind(sekuire_id)
            .fetch_optional(&self.read)
            .await?;
        row.ok_or_else(|| AppError::unknown_agent(sekuire_id))?
            .into_agent(now_ms())
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

    /// Applies a lifecycle command: checks the revision and the state machine, then writes
    /// the new state, the audit entry, the lifecycle log line and the installations'
    /// pending command in one transaction. A same-state request changes nothing.
    pub async fn apply_lifecycle(
        &self,
        command: &LifecycleCommand<'_>,
    ) -> AppResult<LifecycleOutcome> {
        let LifecycleCommand {
            sekuire_id,
            action,
            reason,
            actor,
            expected_revision,
            request_id,
            at: now,
        } = *command;
        let _urgent = self.priority.urgent();
        let mut tx = super::begin_write(&self.write).await?;
        let row: AgentRow = sqlx::query_as("SELECT * FROM agents WHERE sekuire_id = ?")
            .bind(sekuire_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AppError::unknown_agent(sekuire_id))?;
        if let Some(expected) = expected_revision.filter(|r| *r != row.revision) {
            return Err(AppError::PreconditionFailed {
                sekuire_id: sekuire_id.to_owned(),
                expected,
                current: row.revision,
            });
        }
        let from: RuntimeStatus = stored(&row.runtime_status)?;
        let transition = from.apply(action).map_err(|_| {
            AppError::InvalidTransition(format!(
                "agent {sekuire_id} ({}) is {from} and cannot be {}",
                row.name,
                action.past_tense()
            ))
        })?;
        if !transition.changes_state() {
            drop(tx);
            return Ok(LifecycleOutcome {
                agent: row.into_agent(now_ms())?,
                audit: None,
            });
        }

        sqlx::query(
            "UPDATE installations SET last_command = ?, command_delivered_at = NULL \
             WHERE sekuire_id = ?",
        )
        .bind(action.as_str())
        .bind(sekuire_id)
        .execute(&mut *tx)
        .await?;
        let updated: AgentRow = sqlx::query_as(
            "UPDATE agents SET runtime_status = ?, status_reason = ?, status_changed_at = ?, \
             status_changed_by = ?, updated_at = ?, revision = revision + 1, \
             pending_command = CASE WHEN installations > 0 THEN ? END \
             WHERE sekuire_id = ? RETURNING *",
        )
        .bind(transition.to.as_str())
        .bind(reason)
        .bind(now)
        .bind(actor)
        .bind(now)
        .bind(action.as_str())
        .bind(sekuire_id)
        .fetch_one(&mut *tx)
        .await?;
        let audit = Self::append_audit(
            &mut tx,
            AuditDraft {
                at: now,
                actor,
                action,
                sekuire_id,
                agent_name: &updated.name,
                from,
                to: transition.to,
                reason,
                request_id,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(LifecycleOutcome {
            agent: updated.into_agent(now_ms())?,
            audit: Some(audit),
        })
    }

    /// Inserts agents in large batches: 100,000 take seconds.
    pub async fn insert_agents(&self, agents: &[NewAgent]) -> AppResult<()> {
        // 14 binds a row; SQLite allows 32,766 binds a statement.
        const ROWS_PER_STATEMENT: usize = 2_000;
        let mut tx = super::begin_write(&self.write).await?;
        for chunk in agents.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO agents (sekuire_id, name, version, description, runtime_status, \
                 verification_status, reputation_score, last_heartbeat_at, status_changed_at, \
                 status_changed_by, created_at, updated_at, revision, heartbeat_interval_s) ",
            );
            qb.push_values(chunk, |mut row, a| {
                row.push_bind(&a.sekuire_id)
                    .push_bind(&a.name)
                    .push_bind(&a.version)
                    .push_bind(&a.description)
                    .push_bind(a.runtime_status.as_str())
                    .push_bind(a.verification_status.as_str())
                    .push_bind(i64::from(a.reputation_score))
                    .push_bind(a.last_heartbeat_at)
                    .push_bind(a.created_at)
                    .push_bind("registry")
                    .push_bind(a.created_at)
                    .push_bind(a.created_at)
                    .push_bind(1_i64)
                    .push_bind(fleet_protocol::DEFAULT_HEARTBEAT_INTERVAL_SECS);
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Number of agents registered.
    pub async fn agent_count(&self) -> AppResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM agents")
            .fetch_one(&self.read)
            .await?)
    }

    /// Ids of every agent, for the demo's simulated installations.
    pub async fn agent_ids(&self) -> AppResult<Vec<(String, RuntimeStatus)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT sekuire_id, runtime_status FROM agents ORDER BY sekuire_id")
                .fetch_all(&self.read)
                .await?;
        rows.into_iter()
            .map(|(id, status)| Ok((id, stored(&status)?)))
            .collect()
    }
}

/// The fields of an audit entry before it has an id.
pub(super) struct AuditDraft<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: LifecycleAction,
    pub sekuire_id: &'a str,
    pub agent_name: &'a str,
    pub from: RuntimeStatus,
    pub to: RuntimeStatus,
    pub reason: Option<&'a str>,
    pub request_id: &'a str,
}

impl Store {
    /// Writes an audit entry and its `lifecycle` event-log line inside `tx`.
    pub(super) async fn append_audit(
        tx: &mut SqliteConnection,
        draft: AuditDraft<'_>,
    ) -> AppResult<AuditEntry> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit_entries (at, actor, action, sekuire_id, agent_name, from_status, \
             to_status, reason, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(draft.at)
        .bind(draft.actor)
        .bind(draft.action.as_str())
        .bind(draft.sekuire_id)
        .bind(draft.agent_name)
        .bind(draft.from.as_str())
        .bind(draft.to.as_str())
        .bind(draft.reason)
        .bind(draft.request_id)
        .fetch_one(&mut *tx)
        .await?;
        let event_data = serde_json::json!({
            "action": draft.action,
            "reason": draft.reason,
            "actor": draft.actor,
            "from_status": draft.from,
            "to_status": draft.to,
        });
        sqlx::query(
            "INSERT INTO event_logs (sekuire_id, event_type, severity, event_timestamp, \
             received_at, event_data, metadata) VALUES (?, 'lifecycle', 'info', ?, ?, ?, ?)",
        )
        .bind(draft.sekuire_id)
        .bind(draft.at)
        .bind(draft.at)
        .bind(event_data.to_string())
        .bind(serde_json::json!({ "audit_id": id, "request_id": draft.request_id }).to_string())
        .execute(&mut *tx)
        .await?;
        Ok(AuditEntry {
            id,
            at: format_ms(draft.at),
            actor: draft.actor.to_owned(),
            action: draft.action,
            sekuire_id: draft.sekuire_id.to_owned(),
            agent_name: draft.agent_name.to_owned(),
            from_status: draft.from,
            to_status: draft.to,
            reason: draft.reason.map(str::to_owned),
            request_id: draft.request_id.to_owned(),
        })
    }
}
