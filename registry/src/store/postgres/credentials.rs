//! STUB (being written).

use super::PostgresStore;
use crate::error::AppResult;
use fleet_protocol::{AuditEntry, Installation, RefreshResponse};
use crate::store::Revoke;

impl PostgresStore {
    pub async fn revoke_installation(&self, _revoke: &Revoke<'_>) -> AppResult<(Installation, Option<AuditEntry>)> {
        unimplemented!("postgres")
    }

    pub async fn refresh_runtime_token(&self, _installation_id: &str, _refresh_token: &str) -> AppResult<RefreshResponse> {
        unimplemented!("postgres")
    }

}
