//! Agents on PostgreSQL: one agent, lifecycle changes, bulk seeding.

use super::PostgresStore;
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::agents::{
    stored, AgentRow, LifecycleCommand, LifecycleOutcome, NewAgent, AGENT_COLUMNS,
};
use crate::store::installations::live_installation;
use fleet_protocol::{Agent, RuntimeStatus};
use sqlx::{PgConnection, Postgres, QueryBuilder};

/// One field of every agent in `chunk`: an array `unnest` turns back into a column.
fn column<T>(chunk: &[NewAgent], field: impl Fn(&NewAgent) -> T) -> Vec<T> {
    chunk.iter().map(field).collect()
}

impl PostgresStore {
    pub async fn agent(&self, sekuire_id: &str) -> AppResult<Agent> {
        self.agent_with(sekuire_id, AGENT_COLUMNS).await
    }

    pub async fn agent_detail(&self, sekuire_id: &str) -> AppResult<Agent> {
        self.agent_with(sekuire_id, "*").await
    }

    async fn agent_with(&self, sekuire_id: &str, columns: &str) -> AppResult<Agent> {
        let row: Option<AgentRow> = sqlx::query_as(&format!(
            "SELECT {columns} FROM agents WHERE sekuire_id = $1"
        ))
        .bind(sekuire_id)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| AppError::unknown_agent(sekuire_id))?
            .into_agent(now_ms())
    }

    /// The agent, locked for the rest of the transaction: another process's change to it
    /// waits until this one commits, then sees this one's result.
    pub(super) async fn agent_in(tx: &mut PgConnection, sekuire_id: &str) -> AppResult<AgentRow> {
        sqlx::query_as(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE sekuire_id = $1 FOR UPDATE"
        ))
        .bind(sekuire_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::unknown_agent(sekuire_id))
    }

    pub async fn apply_lifecycle(
        &self,
        command: &LifecycleCommand<'_>,
    ) -> AppResult<LifecycleOutcome> {
        super::retry(|| self.try_lifecycle(command)).await
    }

    async fn try_lifecycle(&self, command: &LifecycleCommand<'_>) -> AppResult<LifecycleOutcome> {
        let LifecycleCommand {
            sekuire_id,
            action,
            reason,
            actor,
            at: now,
            ..
        } = *command;
        let mut tx = self.pool.begin().await?;
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
            "UPDATE installations SET last_command = $1, command_delivered_at = NULL \
             WHERE sekuire_id = $2 AND revoked_at IS NULL",
        )
        .bind(action.as_str())
        .bind(sekuire_id)
        .execute(&mut *tx)
        .await?;
        let updated: AgentRow = sqlx::query_as(&format!(
            "UPDATE agents SET runtime_status = $1, status_reason = $2, status_changed_at = $3, \
             status_changed_by = $4, updated_at = $3, revision = revision + 1, \
             pending_command = CASE WHEN EXISTS (SELECT 1 FROM installations i \
                 WHERE i.sekuire_id = agents.sekuire_id AND {}) THEN $5 END \
             WHERE sekuire_id = $6 RETURNING {AGENT_COLUMNS}",
            live_installation("i", now)
        ))
        .bind(to.as_str())
        .bind(reason)
        .bind(now)
        .bind(actor)
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

    /// Inserts agents in large batches, each a single statement over arrays.
    pub async fn insert_agents(&self, agents: &[NewAgent]) -> AppResult<()> {
        const ROWS_PER_STATEMENT: usize = 10_000;
        let mut tx = self.pool.begin().await?;
        for chunk in agents.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<Postgres>::new(
                "INSERT INTO agents (sekuire_id, name, version, description, runtime_status, \
                 verification_status, reputation_score, last_heartbeat_at, status_changed_at, \
                 status_changed_by, created_at, updated_at, revision, heartbeat_interval_s) \
                 SELECT id, name, version, description, status, verification, reputation, \
                        heartbeat, created, 'registry', created, created, 1, interval \
                 FROM unnest(",
            );
            qb.push_bind(column(chunk, |a| a.sekuire_id.clone()))
                .push(", ")
                .push_bind(column(chunk, |a| a.name.clone()))
                .push(", ")
                .push_bind(column(chunk, |a| a.version.clone()))
                .push(", ")
                .push_bind(column(chunk, |a| a.description.clone()))
                .push(", ")
                .push_bind(column(chunk, |a| a.runtime_status.as_str().to_owned()))
                .push(", ")
                .push_bind(column(chunk, |a| a.verification_status.as_str().to_owned()))
                .push(", ")
                .push_bind(column(chunk, |a| i64::from(a.reputation_score)))
                .push(", ")
                .push_bind(column(chunk, |a| a.last_heartbeat_at))
                .push(", ")
                .push_bind(column(chunk, |a| a.created_at))
                .push(", ")
                .push_bind(column(chunk, |a| a.heartbeat_interval_s))
                .push(
                    ") AS a (id, name, version, description, status, verification, reputation, \
                     heartbeat, created, interval)",
                );
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn agent_count(&self) -> AppResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM agents")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn agent_ids(&self) -> AppResult<Vec<(String, RuntimeStatus)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT sekuire_id, runtime_status FROM agents ORDER BY sekuire_id")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(id, status)| Ok((id, stored(&status)?)))
            .collect()
    }
}
