//! STUB (being written).

use super::PostgresStore;
use crate::error::AppResult;
use fleet_protocol::Role;
use crate::store::{ApiKeyRecord, Caller};

impl PostgresStore {
    pub async fn create_key(&self, _name: &str, _role: Role, _workspace_id: &str) -> AppResult<String> {
        unimplemented!("postgres")
    }

    pub async fn rotate_key(&self, _name: &str, _role: Role) -> AppResult<String> {
        unimplemented!("postgres")
    }

    pub async fn list_keys(&self) -> AppResult<Vec<ApiKeyRecord>> {
        unimplemented!("postgres")
    }

    pub async fn key_is_live(&self, _name: &str) -> AppResult<bool> {
        unimplemented!("postgres")
    }

    pub async fn revoke_key(&self, _name: &str) -> AppResult<bool> {
        unimplemented!("postgres")
    }

    pub async fn authenticate(&self, _key: &str) -> AppResult<Option<Caller>> {
        unimplemented!("postgres")
    }

}
