//! The runtime state machine, roles, and derived health.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Runtime state of an agent. **[compat]** spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuntimeStatus {
    Active,
    Paused,
    Terminated,
}

/// Verification state of an agent. **[compat]** spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    Unverified,
    Pending,
    Verified,
    Suspended,
}

/// Health derived from the last heartbeat; never stored. **[ext]**
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Stale,
    Unhealthy,
    Never,
}

/// A lifecycle command: what `sekuire stop`, `resume` and `kill` ask for. Also the
/// spelling of `pending_command` **[compat]**.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LifecycleAction {
    Pause,
    Resume,
    Terminate,
}

/// What an audit entry records: a lifecycle command, a push, an admin's verification
/// decision, or the revoke of one installation. **[ext]**
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Pause,
    Resume,
    Terminate,
    /// `sekuire push`: `from_status`/`to_status` are versions (`new` for the first push).
    Publish,
    /// `from_status`/`to_status` are verification statuses.
    Verify,
    /// `installation_id` names the instance; the agent's state is unchanged.
    Revoke,
}

impl AuditAction {
    pub const ALL: [AuditAction; 6] = [
        Self::Pause,
        Self::Resume,
        Self::Terminate,
        Self::Publish,
        Self::Verify,
        Self::Revoke,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Terminate => "terminate",
            Self::Publish => "publish",
            Self::Verify => "verify",
            Self::Revoke => "revoke",
        }
    }

    /// As a timeline line reads: `alice paused`, `alice changed verification`.
    pub fn past_tense(self) -> &'static str {
        match self {
            Self::Pause => "paused",
            Self::Resume => "resumed",
            Self::Terminate => "terminated",
            Self::Publish => "published",
            Self::Verify => "changed verification",
            Self::Revoke => "revoked an installation",
        }
    }
}

impl From<LifecycleAction> for AuditAction {
    fn from(action: LifecycleAction) -> Self {
        match action {
            LifecycleAction::Pause => Self::Pause,
            LifecycleAction::Resume => Self::Resume,
            LifecycleAction::Terminate => Self::Terminate,
        }
    }
}

/// What a key may do. **[ext]**
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

/// The outcome of applying an action to a state the machine allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: RuntimeStatus,
    pub to: RuntimeStatus,
}

impl Transition {
    /// False for a request of the state the agent is already in: a safe no-op.
    pub fn changes_state(&self) -> bool {
        self.from != self.to
    }
}

/// Refusal to leave `terminated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTransition {
    pub from: RuntimeStatus,
    pub action: LifecycleAction,
}

impl RuntimeStatus {
    pub const ALL: [RuntimeStatus; 3] = [Self::Active, Self::Paused, Self::Terminated];

    /// Applies `action` to this state: the one place the state machine lives.
    ///
    /// Pause and resume of a state the agent is already in, and terminate of a terminated
    /// agent, are no-ops; nothing leaves `terminated`.
    pub fn apply(self, action: LifecycleAction) -> Result<Transition, InvalidTransition> {
        use LifecycleAction as A;
        use RuntimeStatus as S;
        let to = match (self, action) {
            (S::Terminated, A::Terminate) => S::Terminated,
            (S::Terminated, _) => return Err(InvalidTransition { from: self, action }),
            (_, A::Pause) => S::Paused,
            (_, A::Resume) => S::Active,
            (_, A::Terminate) => S::Terminated,
        };
        Ok(Transition { from: self, to })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Terminated => "terminated",
        }
    }
}

impl LifecycleAction {
    pub const ALL: [LifecycleAction; 3] = [Self::Pause, Self::Resume, Self::Terminate];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Terminate => "terminate",
        }
    }

    /// Past tense as Sekuire's CLI prints it: `Agent <ID> paused`.
    pub fn past_tense(self) -> &'static str {
        match self {
            Self::Pause => "paused",
            Self::Resume => "resumed",
            Self::Terminate => "terminated",
        }
    }

    /// The least role that may issue this command.
    pub fn required_role(self) -> Role {
        match self {
            Self::Pause | Self::Resume => Role::Operator,
            Self::Terminate => Role::Admin,
        }
    }
}

impl Role {
    pub const ALL: [Role; 3] = [Self::Viewer, Self::Operator, Self::Admin];

    /// True when this role may issue `action` (roles are ordered viewer < operator < admin).
    pub fn may(self, action: LifecycleAction) -> bool {
        self >= action.required_role()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

/// The actions worth offering to someone with `role` on an agent in `status`: allowed by the
/// role and by the state machine, and not a no-op. The dashboard shows exactly these buttons.
pub fn offered_actions(role: Role, status: RuntimeStatus) -> Vec<LifecycleAction> {
    LifecycleAction::ALL
        .into_iter()
        .filter(|action| role.may(*action))
        .filter(|action| status.apply(*action).is_ok_and(|t| t.changes_state()))
        .collect()
}

impl Health {
    pub const ALL: [Health; 4] = [Self::Healthy, Self::Stale, Self::Unhealthy, Self::Never];

    /// Health from the time of the last heartbeat: healthy within 1.5× the interval,
    /// stale within 3×, unhealthy beyond, `never` without one. Times in milliseconds.
    pub fn derive(last_heartbeat_ms: Option<i64>, interval_secs: i64, now_ms: i64) -> Health {
        let Some(last) = last_heartbeat_ms else {
            return Health::Never;
        };
        let age_ms = now_ms.saturating_sub(last);
        let interval_ms = interval_secs.max(1) * 1000;
        if age_ms * 2 <= interval_ms * 3 {
            Health::Healthy
        } else if age_ms <= interval_ms * 3 {
            Health::Stale
        } else {
            Health::Unhealthy
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Stale => "stale",
            Self::Unhealthy => "unhealthy",
            Self::Never => "never",
        }
    }
}

impl VerificationStatus {
    pub const ALL: [VerificationStatus; 4] = [
        Self::Unverified,
        Self::Pending,
        Self::Verified,
        Self::Suspended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Suspended => "suspended",
        }
    }
}

/// `Display` and `FromStr` by the wire name. Parsing walks `ALL` and `as_str` rather than
/// serde, so the browser's wasm needs no serde to read a URL or an answer; a test checks
/// that `as_str` spells every variant the way serde does.
macro_rules! display_as_wire_name {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("unknown value `{s}`"))
            }
        }
    )*};
}
display_as_wire_name!(
    RuntimeStatus,
    VerificationStatus,
    Health,
    LifecycleAction,
    AuditAction,
    Role,
    crate::ErrorCode,
    crate::Severity
);

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleAction as A;
    use RuntimeStatus as S;

    #[test]
    fn pause_and_resume_move_between_active_and_paused() {
        assert_eq!(S::Active.apply(A::Pause).map(|t| t.to), Ok(S::Paused));
        assert_eq!(S::Paused.apply(A::Resume).map(|t| t.to), Ok(S::Active));
    }

    #[test]
    fn same_state_requests_are_no_ops() {
        assert!(!S::Paused.apply(A::Pause).unwrap().changes_state());
        assert!(!S::Active.apply(A::Resume).unwrap().changes_state());
        assert!(!S::Terminated.apply(A::Terminate).unwrap().changes_state());
    }

    #[test]
    fn terminate_is_final() {
        assert_eq!(
            S::Active.apply(A::Terminate).map(|t| t.to),
            Ok(S::Terminated)
        );
        assert_eq!(
            S::Paused.apply(A::Terminate).map(|t| t.to),
            Ok(S::Terminated)
        );
        assert!(S::Terminated.apply(A::Resume).is_err());
        assert!(S::Terminated.apply(A::Pause).is_err());
    }

    #[test]
    fn roles_are_ordered_viewer_operator_admin() {
        assert!(!Role::Viewer.may(A::Pause));
        assert!(Role::Operator.may(A::Pause) && Role::Operator.may(A::Resume));
        assert!(!Role::Operator.may(A::Terminate));
        assert!(Role::Admin.may(A::Terminate));
    }

    #[test]
    fn offered_actions_follow_role_and_state() {
        assert!(offered_actions(Role::Viewer, S::Active).is_empty());
        assert_eq!(offered_actions(Role::Operator, S::Active), vec![A::Pause]);
        assert_eq!(offered_actions(Role::Operator, S::Paused), vec![A::Resume]);
        assert_eq!(
            offered_actions(Role::Admin, S::Active),
            vec![A::Pause, A::Terminate]
        );
        assert_eq!(
            offered_actions(Role::Admin, S::Paused),
            vec![A::Resume, A::Terminate]
        );
        assert!(offered_actions(Role::Admin, S::Terminated).is_empty());
    }

    #[test]
    fn health_thresholds_are_one_and_a_half_and_three_intervals() {
        let now = 1_000_000;
        assert_eq!(Health::derive(None, 60, now), Health::Never);
        assert_eq!(Health::derive(Some(now - 90_000), 60, now), Health::Healthy);
        assert_eq!(Health::derive(Some(now - 90_001), 60, now), Health::Stale);
        assert_eq!(Health::derive(Some(now - 180_000), 60, now), Health::Stale);
        assert_eq!(
            Health::derive(Some(now - 180_001), 60, now),
            Health::Unhealthy
        );
    }

    /// `as_str` must spell each variant as serde does, and `parse` must invert it.
    fn assert_wire_names<T>(all: &[T])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + serde::Serialize + std::str::FromStr,
    {
        for &v in all {
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{v}\""));
            assert!(v.to_string().parse::<T>().ok() == Some(v), "{v}");
        }
    }

    #[test]
    fn wire_names_round_trip_and_agree_with_serde() {
        assert_wire_names(&S::ALL);
        assert_wire_names(&Health::ALL);
        assert_wire_names(&VerificationStatus::ALL);
        assert_wire_names(&A::ALL);
        assert_wire_names(&Role::ALL);
        assert_wire_names(&crate::ErrorCode::ALL);
        assert_wire_names(&crate::Severity::ALL);
        assert!("Paused".parse::<S>().is_err());
        assert!("".parse::<Role>().is_err());
    }
}
