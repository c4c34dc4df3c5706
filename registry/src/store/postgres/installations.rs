//! STUB (being written).

use super::PostgresStore;
use crate::error::AppResult;
use fleet_protocol::{BootstrapRequest, BootstrapResponse, Installation};
use crate::store::LeaseOutcome;

impl PostgresStore {
    pub async fn create_install_token(&self, _workspace_id: &str, _sekuire_id: &str, _expiry_minutes: Option<i64>, _created_by: &str) -> AppResult<(String, i64)> {
        unimplemented!("postgres")
    }

    pub async fn bootstrap(&self, _request: &BootstrapRequest) -> AppResult<(BootstrapResponse, String)> {
        unimplemented!("postgres")
    }

    pub async fn lease(&self, _installation_id: &str, _runtime_token: &str, _status: Option<&str>, _requested_interval: Option<i64>) -> AppResult<LeaseOutcome> {
        unimplemented!("postgres")
    }

    pub async fn clear_undeliverable_commands(&self) -> AppResult<Vec<String>> {
        unimplemented!("postgres")
    }

    pub async fn list_installations(&self, _sekuire_id: &str) -> AppResult<Vec<Installation>> {
        unimplemented!("postgres")
    }

}
