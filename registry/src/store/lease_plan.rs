//! The lease planner, shared by both backends: decides a batch of leases against their
//! installations' rows in Rust; each backend writes the plan with its own SQL.

use super::installations::{
    parse_command, LeaseOutcome, LeaseRow, MAX_HEARTBEAT_INTERVAL_SECS, REFRESH_WINDOW_MS,
    RUNTIME_TOKEN_TTL_MS,
};
use super::leases::LeaseJob;
use super::{new_secret, secret_hash};
use crate::clock::format_ms;
use crate::error::{AppError, AppResult};
use fleet_protocol::{Health, HeartbeatEvent, LifecycleAction};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The writes a batch of leases adds up to; a later lease of the same installation or
/// agent in the batch wins, as it would have one after the other. Deciding is the same on
/// both backends; each writes the plan with its own SQL.
#[derive(Default)]
pub(super) struct LeasePlan {
    /// installation id → what its row gets.
    pub(super) installations: BTreeMap<String, LeaseWrite>,
    /// sekuire id → heartbeat interval.
    pub(super) agents: BTreeMap<String, i64>,
    /// Agents whose pending command was handed to an installation.
    pub(super) delivered_to: BTreeSet<String>,
    /// installation id → the new runtime token it gets.
    pub(super) tokens: BTreeMap<String, NewToken>,
}

/// One installation's row after a batch's leases.
pub(super) struct LeaseWrite {
    /// What the instance last reported; `None` keeps the stored status.
    pub(super) status: Option<String>,
    pub(super) interval: i64,
    pub(super) lease_expires_at: i64,
    pub(super) token_used: bool,
}

/// A new runtime token: its hash, its expiry, and whether the presented token was the
/// current one (which then becomes the previous one).
pub(super) struct NewToken {
    pub(super) hash: String,
    pub(super) expires_at: i64,
    pub(super) rotate: bool,
}

impl LeasePlan {
    /// Decides a batch against its installations' rows (`found`, read under the write
    /// lock): the plan to write and each lease's answer, in batch order.
    pub(super) fn decide(
        batch: &[LeaseJob],
        found: Vec<LeaseRow>,
        now: i64,
    ) -> (LeasePlan, Vec<AppResult<LeaseOutcome>>) {
        let mut rows: HashMap<String, LeaseRow> = found
            .into_iter()
            .map(|row| (row.installation_id.clone(), row))
            .collect();
        let mut plan = LeasePlan::default();
        let outcomes = batch
            .iter()
            .map(|job| plan.lease(rows.get_mut(&job.installation_id), job, now))
            .collect();
        (plan, outcomes)
    }

    /// Decides one lease against its installation's row, which it updates so that a
    /// second lease of the same installation in the batch sees the first.
    ///
    /// Delivery is at-least-once: an installation's current command goes out on every
    /// lease until another replaces it, so a response lost to a crash, a dropped
    /// connection or a timeout loses nothing (SIGSTOP and SIGCONT are harmless to repeat).
    /// `command_delivered_at` records the first lease that carried it.
    pub(super) fn lease(
        &mut self,
        row: Option<&mut LeaseRow>,
        job: &LeaseJob,
        now: i64,
    ) -> AppResult<LeaseOutcome> {
        let refused =
            || AppError::Unauthorized("runtime token does not belong to this installation");
        let row = row.ok_or_else(refused)?;
        let presented_current = row.runtime_token_hash == job.token_hash;
        let token_expires_at = if presented_current {
            row.token_expires_at
        } else if row.previous_token_hash.as_deref() == Some(job.token_hash.as_str()) {
            row.previous_token_expires_at.unwrap_or(0)
        } else {
            return Err(refused());
        };
        if now > token_expires_at {
            return Err(AppError::Unauthorized("runtime token has expired"));
        }
        // Rows from before the cap may hold a longer interval; a lease brings them within it.
        let interval = job
            .requested_interval
            .unwrap_or(row.heartbeat_interval_s)
            .min(MAX_HEARTBEAT_INTERVAL_SECS);
        let command = parse_command(row.last_command.as_deref());
        let first_delivery = command.is_some() && row.command_delivered_at.is_none();
        let lease_expires_at = now + interval * 3_000;
        row.heartbeat_interval_s = interval;
        if command.is_some() {
            row.command_delivered_at.get_or_insert(now);
        }
        // A client that presents the previous token while the current one is in use is a
        // late request: it gets no new token, so neither of the two in use is dropped.
        let stale = !presented_current && row.token_used;
        if presented_current {
            row.token_used = true;
        }
        let refreshed_token = (row.revoked_at.is_none()
            && !stale
            && token_expires_at - now <= REFRESH_WINDOW_MS
            && !self.tokens.contains_key(&job.installation_id))
        .then(|| self.refresh(row, &job.installation_id, now));
        let status = job.status.clone().or_else(|| {
            self.installations
                .get(&job.installation_id)
                .and_then(|earlier| earlier.status.clone())
        });
        self.installations.insert(
            job.installation_id.clone(),
            LeaseWrite {
                status,
                interval,
                lease_expires_at,
                token_used: row.token_used,
            },
        );
        // A revoked instance that keeps leasing hears `terminate`; it no longer vouches
        // for its agent's health.
        if row.revoked_at.is_none() {
            self.agents.insert(row.sekuire_id.clone(), interval);
        }
        if first_delivery {
            self.delivered_to.insert(row.sekuire_id.clone());
        }
        Ok(LeaseOutcome {
            lease_expires_at: format_ms(lease_expires_at),
            pending_command: command,
            shutdown_timeout_ms: row
                .shutdown_timeout_ms
                .filter(|_| command == Some(LifecycleAction::Terminate))
                .and_then(|ms| u32::try_from(ms).ok()),
            refreshed_token,
            first_delivery,
            heartbeat: HeartbeatEvent {
                sekuire_id: row.sekuire_id.clone(),
                last_heartbeat_at: format_ms(now),
                health: Health::derive(Some(now), interval, now),
            },
        })
    }

    /// A new runtime token for an installation near its token's expiry. The token in use
    /// keeps working: a used current token becomes the previous one; an unused one (a
    /// refresh whose answer was lost) is replaced and the previous one stays.
    fn refresh(&mut self, row: &mut LeaseRow, installation_id: &str, now: i64) -> String {
        let rotate = row.token_used;
        let token = new_secret("rt_");
        let hash = secret_hash(&token);
        let expires = now + RUNTIME_TOKEN_TTL_MS;
        if rotate {
            row.previous_token_hash =
                Some(std::mem::replace(&mut row.runtime_token_hash, hash.clone()));
            row.previous_token_expires_at = Some(row.token_expires_at);
        } else {
            row.runtime_token_hash = hash.clone();
        }
        row.token_expires_at = expires;
        row.token_used = false;
        self.tokens.insert(
            installation_id.to_owned(),
            NewToken {
                hash,
                expires_at: expires,
                rotate,
            },
        );
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    fn job(installation_id: &str, token_hash: &str, status: Option<&str>) -> LeaseJob {
        LeaseJob {
            installation_id: installation_id.to_owned(),
            token_hash: token_hash.to_owned(),
            status: status.map(str::to_owned),
            requested_interval: None,
            reply: oneshot::channel().0,
        }
    }

    /// A paused installation whose token (`good`) expires far in the future.
    fn paused_row() -> LeaseRow {
        LeaseRow {
            installation_id: "inst".into(),
            runtime_token_hash: "good".into(),
            sekuire_id: "agent".into(),
            heartbeat_interval_s: 30,
            last_command: Some("pause".into()),
            command_delivered_at: None,
            token_expires_at: RUNTIME_TOKEN_TTL_MS,
            token_used: true,
            previous_token_hash: None,
            previous_token_expires_at: None,
            revoked_at: None,
            shutdown_timeout_ms: None,
        }
    }

    #[test]
    fn a_pause_goes_out_on_every_lease_until_replaced_and_counts_as_delivered_once() {
        let mut plan = LeasePlan::default();
        let mut row = paused_row();
        let first = plan.lease(Some(&mut row), &job("inst", "good", Some("busy")), 1_000);
        let second = plan.lease(Some(&mut row), &job("inst", "good", None), 1_000);
        let (first, second) = (first.expect("accepted"), second.expect("accepted"));
        assert_eq!(first.pending_command, Some(LifecycleAction::Pause));
        assert_eq!(
            second.pending_command,
            Some(LifecycleAction::Pause),
            "a lost answer to the first lease must not lose the pause"
        );
        assert!(first.first_delivery && !second.first_delivery);
        assert_eq!(row.command_delivered_at, Some(1_000));
        assert_eq!(plan.installations.len(), 1, "one write per installation");
        assert_eq!(
            plan.installations["inst"].status.as_deref(),
            Some("busy"),
            "the last known status"
        );
        assert!(plan.delivered_to.contains("agent"));
    }

    #[test]
    fn terminate_is_handed_to_every_lease_and_bad_tokens_write_nothing() {
        let mut plan = LeasePlan::default();
        let mut row = LeaseRow {
            last_command: Some("terminate".into()),
            shutdown_timeout_ms: Some(5_000),
            ..paused_row()
        };
        for _ in 0..2 {
            let outcome = plan
                .lease(Some(&mut row), &job("inst", "good", None), 1_000)
                .expect("accepted");
            assert_eq!(outcome.pending_command, Some(LifecycleAction::Terminate));
            assert_eq!(outcome.shutdown_timeout_ms, Some(5_000));
        }
        let mut empty = LeasePlan::default();
        let refused = empty.lease(Some(&mut paused_row()), &job("inst", "bad", None), 1_000);
        assert!(matches!(refused, Err(AppError::Unauthorized(_))));
        assert!(empty
            .lease(None, &job("gone", "good", None), 1_000)
            .is_err());
        let expired = empty.lease(
            Some(&mut paused_row()),
            &job("inst", "good", None),
            RUNTIME_TOKEN_TTL_MS + 1,
        );
        assert!(matches!(expired, Err(AppError::Unauthorized(_))));
        assert!(empty.installations.is_empty() && empty.agents.is_empty());
    }

    #[test]
    fn near_expiry_a_lease_refreshes_the_token_and_the_old_one_keeps_working() {
        let near = RUNTIME_TOKEN_TTL_MS - REFRESH_WINDOW_MS + 1;
        let mut row = paused_row();
        let mut plan = LeasePlan::default();
        let far = plan.lease(Some(&mut row), &job("inst", "good", None), 1_000);
        assert_eq!(far.expect("accepted").refreshed_token, None);
        let new_token = plan
            .lease(Some(&mut row), &job("inst", "good", None), near)
            .expect("accepted")
            .refreshed_token
            .expect("a new token within 7 days of expiry");
        assert_eq!(row.runtime_token_hash, secret_hash(&new_token));
        assert_eq!(row.previous_token_hash.as_deref(), Some("good"));
        // The answer with the new token was lost: the old one still works and gets
        // another, and the token it replaces was never used.
        let mut next = LeasePlan::default();
        let again = next
            .lease(Some(&mut row), &job("inst", "good", None), near + 1)
            .expect("the previous token still works")
            .refreshed_token
            .expect("another new token");
        assert_eq!(row.runtime_token_hash, secret_hash(&again));
        assert_eq!(row.previous_token_hash.as_deref(), Some("good"));
        // The client moves to the new token; a late request with the old one gets no new
        // token, and drops neither.
        let mut later = LeasePlan::default();
        let in_use = secret_hash(&again);
        let current = later.lease(Some(&mut row), &job("inst", &in_use, None), near + 2);
        assert_eq!(
            current.expect("accepted").refreshed_token,
            None,
            "a fresh token"
        );
        let late = later.lease(Some(&mut row), &job("inst", "good", None), near + 3);
        assert_eq!(
            late.expect("the old token still works").refreshed_token,
            None
        );
        assert_eq!(row.runtime_token_hash, in_use);
        assert_eq!(row.previous_token_hash.as_deref(), Some("good"));
        let mut revoked = LeaseRow {
            revoked_at: Some(1),
            ..paused_row()
        };
        let outcome =
            LeasePlan::default().lease(Some(&mut revoked), &job("inst", "good", None), near);
        assert_eq!(
            outcome.expect("accepted").refreshed_token,
            None,
            "a revoked installation is not renewed"
        );
    }
}
