//! Onboarding: `sekuire push` registers an agent as a draft (`verification_status:
//! pending`); an admin verifies or suspends it; `sekuire metrics` reads its reputation.
//!
//! A push proves two things the registry can check: the Sekuire ID is the hash of the
//! manifest's identity (`model`, `system_prompt_hash`, `tools_hash`), and whoever holds the
//! publisher key signed that ID. The first push pins the publisher key: a later push of the
//! same ID (a new version) must be signed by the same key.

use super::agents::{stored, AgentRow, AGENT_COLUMNS};
use super::audit::AuditDraft;
use super::name_order;
use super::sqlite::SqliteStore;
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use ed25519_dalek::{Signature, VerifyingKey};
use fleet_protocol::{
    is_disguising_char, Agent, AuditAction, AuditEntry, PublishRequest, Reputation, RuntimeStatus,
    VerificationStatus, MAX_REASON_CHARS,
};
use serde_json::Value;

/// Reputation of a newly pushed agent: neutral until its work says otherwise.
pub(super) const INITIAL_REPUTATION: i64 = 50;

/// What a push registers, once its checks passed.
#[derive(Debug, PartialEq)]
pub struct CheckedPush {
    pub name: String,
    pub version: String,
    pub description: String,
    pub manifest: String,
}

/// What a push or a verification did: the agent and its audit entry.
#[derive(Debug)]
pub struct Reviewed {
    pub agent: Agent,
    pub audit: AuditEntry,
    /// For a push: whether the agent is new.
    pub created: bool,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::InvalidRequest(message.into())
}

/// A string field of a manifest section: present, 1 to `max` characters, no control or
/// bidirectional formatting characters (a name must read as what it is).
fn text_field(section: &Value, path: &str, max: usize) -> AppResult<String> {
    let field = path.rsplit('.').next().unwrap_or(path);
    let value = match section.get(field) {
        Some(Value::String(s)) => s.trim().to_owned(),
        // YAML's `version: 1.0` arrives as a number; Sekuire's CLI accepts it too.
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(invalid(format!("manifest.{path} must be a string"))),
        None => return Err(invalid(format!("manifest.{path} is missing"))),
    };
    if value.is_empty() || value.chars().count() > max {
        return Err(invalid(format!(
            "manifest.{path} must be 1 to {max} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() || is_disguising_char(c))
    {
        return Err(invalid(format!(
            "manifest.{path} holds control or text-direction characters"
        )));
    }
    Ok(value)
}

fn section<'a>(manifest: &'a Value, name: &str) -> AppResult<&'a Value> {
    match manifest.get(name) {
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(invalid(format!("manifest.{name} must be an object"))),
        None => Err(invalid(format!("manifest.{name} is missing"))),
    }
}

fn hex_bytes<const N: usize>(value: &str, what: &str) -> AppResult<[u8; N]> {
    hex::decode(value)
        .ok()
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or_else(|| invalid(format!("{what} must be {} hex characters", 2 * N)))
}

/// The Sekuire ID of an identity, as `sekuire hash` computes it: hex BLAKE3 of
/// `model:{model}|prompt:{prompt hash}|tools:{tools hash}`.
pub fn sekuire_id_of(model: &str, prompt_hash: &str, tools_hash: &str) -> String {
    blake3::hash(format!("model:{model}|prompt:{prompt_hash}|tools:{tools_hash}").as_bytes())
        .to_hex()
        .to_string()
}

/// Checks a push in the order a publisher would fix it: the manifest's shape, then that
/// the ID is the manifest's, then the signature. Each refusal names the failed check.
pub fn check_push(push: &PublishRequest) -> AppResult<CheckedPush> {
    if !push.manifest.is_object() {
        return Err(invalid("manifest must be an object"));
    }
    let project = section(&push.manifest, "project")?;
    let name = text_field(project, "project.name", 100)?;
    let version = text_field(project, "project.version", 50)?;
    let description = match project.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.trim().is_empty() => String::new(),
        Some(Value::String(s)) if s.chars().count() <= MAX_REASON_CHARS => {
            if s.chars().any(is_disguising_char) {
                return Err(invalid(
                    "manifest.project.description holds control or text-direction characters",
                ));
            }
            s.trim().to_owned()
        }
        Some(_) => {
            return Err(invalid(format!(
                "manifest.project.description must be text of at most {MAX_REASON_CHARS} characters"
            )))
        }
    };
    let identity = section(&push.manifest, "identity")?;
    let model = text_field(identity, "identity.model", 200)?;
    let hash_field = |field: &str| -> AppResult<String> {
        let path = format!("identity.{field}");
        let hash = text_field(identity, &path, 64)?;
        hex_bytes::<32>(&hash, &format!("manifest.{path}"))?;
        Ok(hash)
    };
    let prompt_hash = hash_field("system_prompt_hash")?;
    let tools_hash = hash_field("tools_hash")?;
    let expected = sekuire_id_of(&model, &prompt_hash, &tools_hash);
    if push.sekuire_id != expected {
        return Err(invalid(format!(
            "sekuire_id does not match the manifest: its model, system_prompt_hash and \
             tools_hash hash to {expected}"
        )));
    }
    let key = VerifyingKey::from_bytes(&hex_bytes::<32>(&push.public_key, "public_key")?)
        .map_err(|_| invalid("public_key is not an Ed25519 public key"))?;
    let signature = Signature::from_bytes(&hex_bytes::<64>(&push.signature, "signature")?);
    key.verify_strict(push.sekuire_id.as_bytes(), &signature)
        .map_err(|_| {
            invalid(
                "signature does not verify: it must be the public_key's Ed25519 signature of \
                 the sekuire_id's characters",
            )
        })?;
    Ok(CheckedPush {
        name,
        version,
        description,
        manifest: push.manifest.to_string(),
    })
}

/// Refuses a push of a known agent (in `runtime_status`, pinned to `pinned_key`): a
/// terminated agent is final, and only the key that first pushed it may push it again.
pub(super) fn check_known_push(
    push: &PublishRequest,
    runtime_status: &str,
    pinned_key: Option<&str>,
) -> AppResult<()> {
    if runtime_status == RuntimeStatus::Terminated.as_str() {
        return Err(AppError::InvalidTransition(format!(
            "agent {} is terminated, which is final; a changed agent has a new ID",
            push.sekuire_id
        )));
    }
    if pinned_key.is_some_and(|k| !k.eq_ignore_ascii_case(&push.public_key)) {
        return Err(AppError::Forbidden(format!(
            "agent {} was published with another key; only that key may push it",
            push.sekuire_id
        )));
    }
    Ok(())
}

/// Refuses `pending` as an admin's decision: it is where a push starts.
pub(super) fn check_decision(status: VerificationStatus) -> AppResult<()> {
    if status == VerificationStatus::Pending {
        return Err(invalid(
            "status must be verified, suspended or unverified; pending is where a push starts",
        ));
    }
    Ok(())
}

/// Refuses a verification change of a terminated agent: its record is final.
pub(super) fn check_not_final(row: &AgentRow) -> AppResult<()> {
    if row.runtime_status == RuntimeStatus::Terminated.as_str() {
        return Err(AppError::InvalidTransition(format!(
            "agent {} ({}) is terminated; its record, verification included, is final",
            row.sekuire_id, row.name
        )));
    }
    Ok(())
}

/// What a push to a known Sekuire ID is checked against and changes.
#[derive(sqlx::FromRow)]
struct KnownAgent {
    runtime_status: String,
    publisher_key: Option<String>,
    version: String,
    name: String,
    /// Its place in name order, kept unless the push renames it (`name_order.rs`).
    name_rank: i64,
}

impl SqliteStore {
    /// Registers a checked push, or updates the agent's name, version, description and
    /// manifest when its ID is known; runtime state, verification and audit stay.
    pub async fn publish(
        &self,
        push: &PublishRequest,
        checked: CheckedPush,
        actor: &str,
        request_id: &str,
    ) -> AppResult<Reviewed> {
        let now = now_ms();
        let mut tx = super::sqlite::begin_write(&self.write).await?;
        let known: Option<KnownAgent> = sqlx::query_as(
            "SELECT runtime_status, publisher_key, version, name, name_rank FROM agents \
             WHERE sekuire_id = ?",
        )
        .bind(&push.sekuire_id)
        .fetch_optional(&mut *tx)
        .await?;
        let name_rank = match &known {
            Some(known) => {
                check_known_push(push, &known.runtime_status, known.publisher_key.as_deref())?;
                if known.name == checked.name {
                    known.name_rank
                } else {
                    name_order::park(&mut tx, &push.sekuire_id).await?;
                    name_order::place(&mut tx, &checked.name, &push.sekuire_id).await?
                }
            }
            None => name_order::place(&mut tx, &checked.name, &push.sekuire_id).await?,
        };
        let row: AgentRow = sqlx::query_as(&format!(
            "INSERT INTO agents (sekuire_id, name, version, description, runtime_status, \
             verification_status, reputation_score, created_at, updated_at, status_changed_at, \
             status_changed_by, manifest, publisher_key, publisher_org_id, name_rank) \
             VALUES (?1, ?2, ?3, ?4, 'active', 'pending', ?5, ?6, ?6, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (sekuire_id) DO UPDATE SET name = excluded.name, \
             name_rank = excluded.name_rank, \
             version = excluded.version, description = excluded.description, \
             manifest = excluded.manifest, publisher_key = excluded.publisher_key, \
             publisher_org_id = excluded.publisher_org_id, updated_at = excluded.updated_at, \
             revision = agents.revision + 1 RETURNING {AGENT_COLUMNS}"
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
        .bind(name_rank)
        .fetch_one(&mut *tx)
        .await?;
        let from = known.as_ref().map_or("new", |known| known.version.as_str());
        let audit = Self::append_audit(
            &mut tx,
            AuditDraft {
                at: now,
                actor,
                action: AuditAction::Publish,
                sekuire_id: &push.sekuire_id,
                agent_name: &checked.name,
                from,
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
            created: known.is_none(),
        })
    }

    /// An admin's verification decision, audited. A terminated agent's record is final, so
    /// its verification cannot change either; setting the status it has changes nothing
    /// and writes no entry (`None`).
    pub async fn set_verification(
        &self,
        sekuire_id: &str,
        status: VerificationStatus,
        reason: Option<&str>,
        actor: &str,
        request_id: &str,
    ) -> AppResult<(Agent, Option<AuditEntry>)> {
        check_decision(status)?;
        let now = now_ms();
        let _urgent = self.priority.urgent();
        let mut tx = super::sqlite::begin_write(&self.write).await?;
        let row = Self::agent_in(&mut tx, sekuire_id).await?;
        check_not_final(&row)?;
        let from: VerificationStatus = stored(&row.verification_status)?;
        if from == status {
            return Ok((row.into_agent(now)?, None));
        }
        let updated: AgentRow = sqlx::query_as(&format!(
            "UPDATE agents SET verification_status = ?, updated_at = ?, revision = revision + 1 \
             WHERE sekuire_id = ? RETURNING {AGENT_COLUMNS}"
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
    }

    /// The reputation `sekuire metrics` prints. This registry takes no ratings, so the
    /// history is empty; tasks are the SDK events whose type starts with `task`.
    pub async fn reputation(&self, sekuire_id: &str) -> AppResult<Reputation> {
        let agent = self.agent(sekuire_id).await?;
        let tasks: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM event_logs WHERE sekuire_id = ? AND event_type LIKE 'task%'",
        )
        .bind(sekuire_id)
        .fetch_one(&self.read)
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
