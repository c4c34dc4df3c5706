//! STUB (being written).

use super::PostgresStore;
use crate::error::AppResult;
use fleet_protocol::{Agent, AuditEntry, PublishRequest, Reputation, VerificationStatus};
use crate::store::{CheckedPush, Reviewed};

impl PostgresStore {
    pub async fn publish(&self, _push: &PublishRequest, _checked: CheckedPush, _actor: &str, _request_id: &str) -> AppResult<Reviewed> {
        unimplemented!("postgres")
    }

    pub async fn set_verification(&self, _sekuire_id: &str, _status: VerificationStatus, _reason: Option<&str>, _actor: &str, _request_id: &str) -> AppResult<(Agent, Option<AuditEntry>)> {
        unimplemented!("postgres")
    }

    pub async fn reputation(&self, _sekuire_id: &str) -> AppResult<Reputation> {
        unimplemented!("postgres")
    }

}
