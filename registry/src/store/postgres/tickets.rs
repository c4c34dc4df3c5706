//! STUB (being written).

use super::PostgresStore;
use crate::error::AppResult;


impl PostgresStore {
    pub async fn issue_ticket(&self, _key_name: &str) -> AppResult<(String, i64)> {
        unimplemented!("postgres")
    }

    pub async fn redeem_ticket(&self, _ticket: &str) -> AppResult<Option<String>> {
        unimplemented!("postgres")
    }

}
