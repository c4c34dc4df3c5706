//! Agents: one agent, lifecycle changes, bulk seeding. The fleet list and the summary
//! (filters, sorts, cursors) are in `fleet_query.rs`, SQLite's plan of a page in
//! `fleet_list.rs`; the audit entry a change writes in `audit.rs`.

use super::audit::AuditDraft;
use super::name_order;
use super::sqlite::SqliteStore;
use crate::clock::{format_ms, now_ms};
use crate::error::{AppError, AppResult};
use fleet_protocol::{
    Agent, AuditEntry, Health, LifecycleAction, RuntimeStatus, VerificationStatus,
};
use serde_json::Value;

/// The columns of an agent that lists, events and lifecycle answers carry: all but the
/// manifest and publisher key, which only `GET /agents/{id}` reads (`SELECT *`).
pub(super) const AGENT_COLUMNS: &str = "sekuire_id, name, version, description, \
    runtime_status, verification_status, reputation_score, last_heartbeat_at, \
    heartbeat_interval_s, pending_command, installations, status_reason, status_changed_at, \
    status_changed_by, created_at, updated_at, revision";
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

#[derive(sqlx::FromRow)]
pub(super) struct AgentRow {
    pub(super) sekuire_id: String,
    pub(super) name: String,
    pub(super) version: String,
    pub(super) description: String,
    pub(super) runtime_status: String,
    pub(super) verification_status: String,
    pub(super) reputation_score: i64,
    pub(super) last_heartbeat_at: Option<i64>,
    pub(super) heartbeat_interval_s: i64,
    pub(super) pending_command: Option<String>,
    pub(super) installations: i64,
    pub(super) status_reason: Option<String>,
    pub(super) status_changed_at: Option<i64>,
    pub(super) status_changed_by: Option<String>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
    pub(super) revision: i64,
    #[sqlx(default)]
    pub(super) manifest: Option<String>,
    #[sqlx(default)]
    pub(super) publisher_key: Option<String>,
}

/// A value the database's CHECK constraints promise is one of the enum's spellings.
pub(super) fn stored<T: std::str::FromStr<Err = String>>(value: &str) -> AppResult<T> {
    value
        .parse()
        .map_err(|e: String| AppError::Internal(anyhow::anyhow!("corrupt row: {e}")))
}

impl AgentRow {
    pub(super) fn into_agent(self, now: i64) -> AppResult<Agent> {
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
            manifest: self
                .manifest
                .map(|m| serde_json::from_str::<Value>(&m).unwrap_or(Value::Null)),
            publisher_key: self.publisher_key,
        })
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
    pub heartbeat_interval_s: i64,
    pub created_at: i64,
}

impl NewAgent {
    /// An active, verified agent at version 1.0.0, reputation 50, the default heartbeat
    /// interval and no heartbeat yet: what tests and scale runs start from, changing what
    /// they need (`NewAgent { reputation_score: 85, ..NewAgent::active(…) }`).
    pub fn active(sekuire_id: impl Into<String>, name: impl Into<String>, created_at: i64) -> Self {
        NewAgent {
            sekuire_id: sekuire_id.into(),
            name: name.into(),
            version: "1.0.0".into(),
            description: String::new(),
            runtime_status: RuntimeStatus::Active,
            verification_status: VerificationStatus::Verified,
            reputation_score: 50,
            last_heartbeat_at: None,
            heartbeat_interval_s: fleet_protocol::DEFAULT_HEARTBEAT_INTERVAL_SECS,
            created_at,
        }
    }
}

impl LifecycleCommand<'_> {
    /// Decides the command against the agent as its write transaction sees it: the state
    /// it reaches, or `None` when it is there already (a no-op). A stale revision or a
    /// change the state machine forbids is refused.
    pub(super) fn decide(&self, row: &AgentRow) -> AppResult<Option<RuntimeStatus>> {
        if let Some(expected) = self.expected_revision.filter(|r| *r != row.revision) {
            return Err(AppError::PreconditionFailed {
                sekuire_id: self.sekuire_id.to_owned(),
                expected,
                current: row.revision,
            });
        }
        let from: RuntimeStatus = stored(&row.runtime_status)?;
        let transition = from.apply(self.action).map_err(|_| {
            AppError::InvalidTransition(format!(
                "agent {} ({}) is {from} and cannot be {}",
                self.sekuire_id,
                row.name,
                self.action.past_tense()
            ))
        })?;
        Ok(transition.changes_state().then_some(transition.to))
    }

    /// The audit entry of the change from `before` to `after`.
    pub(super) fn audit<'a>(&'a self, before: &'a AgentRow, after: &'a AgentRow) -> AuditDraft<'a> {
        AuditDraft {
            at: self.at,
            actor: self.actor,
            action: self.action.into(),
            sekuire_id: self.sekuire_id,
            agent_name: &after.name,
            from: &before.runtime_status,
            to: &after.runtime_status,
            reason: self.reason,
            request_id: self.request_id,
            installation_id: None,
        }
    }
}

impl SqliteStore {
    /// One agent by Sekuire ID, as lists and events show it.
    pub async fn agent(&self, sekuire_id: &str) -> AppResult<Agent> {
        self.agent_with(sekuire_id, AGENT_COLUMNS).await
    }

    /// One agent with its manifest and publisher key, for its own page.
    pub async fn agent_detail(&self, sekuire_id: &str) -> AppResult<Agent> {
        self.agent_with(sekuire_id, "*").await
    }

    async fn agent_with(&self, sekuire_id: &str, columns: &str) -> AppResult<Agent> {
        let row: Option<AgentRow> = sqlx::query_as(&format!(
            "SELECT {columns} FROM agents WHERE sekuire_id = ?"
        ))
        .bind(sekuire_id)
        .fetch_optional(&self.read)
        .await?;
        row.ok_or_else(|| AppError::unknown_agent(sekuire_id))?
            .into_agent(now_ms())
    }

    /// The agent as a write transaction sees it, which holds the write lock.
    pub(super) async fn agent_in(
        tx: &mut SqliteConnection,
        sekuire_id: &str,
    ) -> AppResult<AgentRow> {
        sqlx::query_as(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE sekuire_id = ?"
        ))
        .bind(sekuire_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::unknown_agent(sekuire_id))
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
            at: now,
            ..
        } = *command;
        let _urgent = self.priority.urgent();
        let mut tx = super::sqlite::begin_write(&self.write).await?;
        let row = Self::agent_in(&mut tx, sekuire_id).await?;
        let Some(to) = command.decide(&row)? else {
            return Ok(LifecycleOutcome {
                agent: row.into_agent(now_ms())?,
                audit: None,
            });
        };

        // A revoked installation keeps its `terminate`. Every other one gets the command,
        // but the agent shows it pending only while a live installation has yet to get it.
        sqlx::query(
            "UPDATE installations SET last_command = ?, command_delivered_at = NULL \
             WHERE sekuire_id = ? AND revoked_at IS NULL",
        )
        .bind(action.as_str())
        .bind(sekuire_id)
        .execute(&mut *tx)
        .await?;
        let updated: AgentRow = sqlx::query_as(&format!(
            "UPDATE agents SET runtime_status = ?, status_reason = ?, status_changed_at = ?, \
             status_changed_by = ?, updated_at = ?, revision = revision + 1, \
             pending_command = CASE WHEN EXISTS (SELECT 1 FROM installations i \
                 WHERE i.sekuire_id = agents.sekuire_id AND {}) THEN ? END \
             WHERE sekuire_id = ? RETURNING {AGENT_COLUMNS}",
            super::installations::live_installation("i", now)
        ))
        .bind(to.as_str())
        .bind(reason)
        .bind(now)
        .bind(actor)
        .bind(now)
        .bind(action.as_str())
        .bind(sekuire_id)
        .fetch_one(&mut *tx)
        .await?;
        let audit = Self::append_audit(&mut tx, command.audit(&row, &updated)).await?;
        tx.commit().await?;
        Ok(LifecycleOutcome {
            agent: updated.into_agent(now_ms())?,
            audit: Some(audit),
        })
    }

    /// Inserts agents in large batches: 100,000 take seconds. One read places them all in
    /// name order (`name_order.rs`), however many fall between the same two names.
    /// They are written in name order, so ranks mostly rise from one row to the next, and
    /// FTS5 writes its index in long runs: each step back flushes what it holds.
    pub async fn insert_agents(&self, agents: &[NewAgent]) -> AppResult<()> {
        // 15 binds a row; SQLite allows 32,766 binds a statement.
        const ROWS_PER_STATEMENT: usize = 2_000;
        let mut sorted: Vec<&NewAgent> = agents.iter().collect();
        sorted.sort_unstable_by(|a, b| (&a.name, &a.sekuire_id).cmp(&(&b.name, &b.sekuire_id)));
        let names: Vec<(&str, &str)> = sorted
            .iter()
            .map(|a| (a.name.as_str(), a.sekuire_id.as_str()))
            .collect();
        let mut tx = super::sqlite::begin_write(&self.write).await?;
        let ranks = name_order::place_sorted(&mut tx, &names).await?;
        let (mut placed, mut crowded) = (Vec::new(), Vec::new());
        for (a, rank) in sorted.into_iter().zip(ranks) {
            match rank {
                Some(rank) => placed.push((a, rank)),
                None => crowded.push(a),
            }
        }
        for chunk in placed.chunks(ROWS_PER_STATEMENT) {
            insert_rows(&mut tx, chunk).await?;
        }
        for a in crowded {
            let rank = name_order::place(&mut tx, &a.name, &a.sekuire_id).await?;
            insert_rows(&mut tx, &[(a, rank)]).await?;
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

/// Writes new agents, each with its rank in name order, in one statement.
async fn insert_rows(conn: &mut SqliteConnection, agents: &[(&NewAgent, i64)]) -> AppResult<()> {
    if agents.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(
        "INSERT INTO agents (sekuire_id, name, version, description, runtime_status, \
         verification_status, reputation_score, last_heartbeat_at, status_changed_at, \
         status_changed_by, created_at, updated_at, revision, heartbeat_interval_s, name_rank) ",
    );
    qb.push_values(agents, |mut row, (a, name_rank)| {
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
            .push_bind(a.heartbeat_interval_s)
            .push_bind(*name_rank);
    });
    qb.build().execute(conn).await?;
    Ok(())
}
