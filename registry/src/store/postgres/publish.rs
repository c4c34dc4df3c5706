//! Onboarding on PostgreSQL: pushes, verification decisions, reputation.

use super::PostgresStore;
use crate::clock::now_ms;
use crate::error::AppResult;
use crate::store::agents::{stored, AgentRow, AGENT_COLUMNS};
use crate::store::audit::AuditDraft;
use crate::store::publish::{
    check_decision, check_known_push, check_not_final, INITIAL_REPUTATION,
};
use crate::store::{CheckedPush, Reviewed};
use fleet_protocol::{
    Agent, AuditAction, AuditEntry, PublishRequest, Reputation, VerificationStatus,
};
use sqlx::PgConnection;

impl PostgresStore {
    /// Registers a checked push or a new version of a known agent, as on SQLite.
    ///
    /// A new agent is inserted with `ON CONFLICT DO NOTHING`: when another process inserts
    /// the same ID at the same time, PostgreSQL waits for it, and this push then takes
    /// the known agent's path (locked, checked, updated) instead of failing on the key.
    pub async fn publish(
        &self,
        push: &PublishRequest,
        checked: CheckedPush,
        actor: &str,
        request_id: &str,
    ) -> AppResult<Reviewed> {
        let checked = &checked;
        super::retry(|| async move {
            let now = now_ms();
            let mut tx = self.pool.begin().await?;
            let (row, from) = match Self::insert_pushed(&mut tx, push, checked, actor, now).await? {
                Some(row) => (row, None),
                None => {
                    let (row, version) = Self::update_pushed(&mut tx, push, checked, now).await?;
                    (row, Some(version))
                }
            };
            let audit = Self::append_audit(
                &mut tx,
                AuditDraft {
                    at: now,
                    actor,
                    action: AuditAction::Publish,
                    sekuire_id: &push.sekuire_id,
                    agent_name: &checked.name,
                    from: from.as_deref().unwrap_or("new"),
                    to: &checked.version,
                    reason: None,
                    request_id,
                    installation_id: None,
                },
            )
            .await?;
            tx.commit().await?;
            Ok(Reviewed {
                agent: row.into_agent(now)?,
                audit,
                created: from.is_none(),
            })
        })
        .await
    }

    /// Inserts a pushed agent unless its ID is taken; `None` when it is.
    async fn insert_pushed(
        tx: &mut PgConnection,
        push: &PublishRequest,
        checked: &CheckedPush,
        actor: &str,
        now: i64,
    ) -> AppResult<Option<AgentRow>> {
        Ok(sqlx::query_as(&format!(
            "INSERT INTO agents (sekuire_id, name, version, description, runtime_status, \
             verification_status, reputation_score, created_at, updated_at, status_changed_at, \
             status_changed_by, manifest, publisher_key, publisher_org_id) \
             VALUES ($1, $2, $3, $4, 'active', 'pending', $5, $6, $6, $6, $7, $8, $9, $10) \
             ON CONFLICT (sekuire_id) DO NOTHING RETURNING {AGENT_COLUMNS}"
        ))
        .bind(&push.sekuire_id)
        .bind(&checked.name)
        .bind(&checked.version)
        .bind(&checked.description)
        .bind(INITIAL_REPUTATION)
        .bind(now)
        .bind(actor)
        .bind(&checked.manifest)
        .bind(push.public_key.to_ascii_lowercase())
        .bind(&push.publisher_org_id)
        .fetch_optional(&mut *tx)
        .await?)
    }

    /// A new version of a known agent, locked while the push is checked against it;
    /// answers the updated agent and the version it replaced.
    async fn update_pushed(
        tx: &mut PgConnection,
        push: &PublishRequest,
        checked: &CheckedPush,
        now: i64,
    ) -> AppResult<(AgentRow, String)> {
        let (status, key, version): (String, Option<String>, String) = sqlx::query_as(
            "SELECT runtime_status, publisher_key, version FROM agents \
             WHERE sekuire_id = $1 FOR UPDATE",
        )
        .bind(&push.sekuire_id)
        .fetch_one(&mut *tx)
        .await?;
        check_known_push(push, &status, key.as_deref())?;
        let row = sqlx::query_as(&format!(
            "UPDATE agents SET name = $2, version = $3, description = $4, manifest = $5, \
             publisher_key = $6, publisher_org_id = $7, updated_at = $8, \
             revision = revision + 1 WHERE sekuire_id = $1 RETURNING {AGENT_COLUMNS}"
        ))
        .bind(&push.sekuire_id)
        .bind(&checked.name)
        .bind(&checked.version)
        .bind(&checked.description)
        .bind(&checked.manifest)
        .bind(push.public_key.to_ascii_lowercase())
        .bind(&push.publisher_org_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        Ok((row, version))
    }

    /// An admin's verification decision, audited, as on SQLite; the agent is locked while
    /// it is decided.
    pub async fn set_verification(
        &self,
        sekuire_id: &str,
        status: VerificationStatus,
        reason: Option<&str>,
        actor: &str,
        request_id: &str,
    ) -> AppResult<(Agent, Option<AuditEntry>)> {
        check_decision(status)?;
        super::retry(|| async move {
            let now = now_ms();
            let mut tx = self.pool.begin().await?;
            let row = Self::agent_in(&mut tx, sekuire_id).await?;
            check_not_final(&row)?;
            let from: VerificationStatus = stored(&row.verification_status)?;
            if from == status {
                return Ok((row.into_agent(now)?, None));
            }
            let updated: AgentRow = sqlx::query_as(&format!(
                "UPDATE agents SET verification_status = $1, updated_at = $2, \
                 revision = revision + 1 WHERE sekuire_id = $3 RETURNING {AGENT_COLUMNS}"
            ))
            .bind(status.as_str())
            .bind(now)
            .bind(sekuire_id)
            .fetch_one(&mut *tx)
            .await?;
            let audit = Self::append_audit(
                &mut tx,
                AuditDraft {
                    at: now,
                    actor,
                    action: AuditAction::Verify,
                    sekuire_id,
                    agent_name: &updated.name,
                    from: from.as_str(),
                    to: status.as_str(),
                    reason,
                    request_id,
                    installation_id: None,
                },
            )
            .await?;
            tx.commit().await?;
            Ok((updated.into_agent(now)?, Some(audit)))
        })
        .await
    }

    /// The reputation `sekuire metrics` prints, as on SQLite: tasks are the SDK events
    /// whose type starts with `task`, in ASCII case as SQLite's `LIKE` folds it.
    pub async fn reputation(&self, sekuire_id: &str) -> AppResult<Reputation> {
        let agent = self.agent(sekuire_id).await?;
        let tasks: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM event_logs \
             WHERE sekuire_id = $1 AND event_type COLLATE \"C\" ILIKE 'task%'",
        )
        .bind(sekuire_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(Reputation {
            score: i32::from(agent.reputation_score),
            task_count: i32::try_from(tasks).unwrap_or(i32::MAX),
            verification_badge: (agent.verification_status == VerificationStatus::Verified)
                .then(|| "verified".to_owned()),
            recent_logs: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::leases::tests::{agent_with_installations, bootstrap_request, TestDatabase};
    use crate::clock::now_ms;
    use crate::error::AppError;
    use crate::store::{CheckedPush, LifecycleCommand};
    use fleet_protocol::{LifecycleAction, PublishRequest};

    fn push(sekuire_id: &str, public_key: &str) -> PublishRequest {
        PublishRequest {
            manifest: serde_json::json!({}),
            sekuire_id: sekuire_id.into(),
            signature: String::new(),
            public_key: public_key.into(),
            publisher_org_id: None,
            visibility: None,
            status: None,
        }
    }

    fn checked(version: &str) -> CheckedPush {
        CheckedPush {
            name: "pushed".into(),
            version: version.into(),
            description: String::new(),
            manifest: "{}".into(),
        }
    }

    /// Two processes racing: pushes of one new agent make it once (one 201, the rest
    /// 200, no 500); an install token is redeemed once. Then the key and the terminated
    /// state refuse pushes as on SQLite (403, 409).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_pushes_and_bootstraps_keep_their_single_outcomes() {
        let Some(database) = TestDatabase::create().await else {
            return;
        };
        let stores = [database.open().await, database.open().await];
        let pushes = (0..8).map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let version = format!("1.{i}");
                let pushed = push("agent-new", "AB12");
                store.publish(&pushed, checked(&version), "ci", "req").await
            })
        });
        let mut created = 0;
        for pushed in futures_util::future::join_all(pushes).await {
            created += usize::from(pushed.unwrap().expect("no push fails").created);
        }
        assert_eq!(created, 1, "the agent is created once");
        let agent = stores[1].agent_detail("agent-new").await.unwrap();
        assert_eq!(agent.revision, 8, "each push counted once");
        assert_eq!(agent.publisher_key.as_deref(), Some("ab12"));

        let other = stores[0]
            .publish(&push("agent-new", "cd34"), checked("2"), "ci", "req")
            .await;
        assert!(matches!(other, Err(AppError::Forbidden(_))), "{other:?}");

        agent_with_installations(&stores[0], "agent-boot", 0).await;
        let request = bootstrap_request(&stores[0], "agent-boot").await;
        let (a, b) = tokio::join!(stores[0].bootstrap(&request), stores[1].bootstrap(&request));
        assert_eq!(
            u8::from(a.is_ok()) + u8::from(b.is_ok()),
            1,
            "{a:?} / {b:?}"
        );
        assert!(matches!(
            a.err().or(b.err()),
            Some(AppError::Unauthorized(_))
        ));

        let terminate = LifecycleCommand {
            sekuire_id: "agent-new",
            action: LifecycleAction::Terminate,
            reason: None,
            actor: "test",
            expected_revision: None,
            request_id: "req",
            at: now_ms(),
        };
        stores[1].apply_lifecycle(&terminate).await.unwrap();
        let after = stores[0]
            .publish(&push("agent-new", "ab12"), checked("3"), "ci", "req")
            .await;
        assert!(
            matches!(after, Err(AppError::InvalidTransition(_))),
            "{after:?}"
        );
        database.drop().await;
    }
}
