//! STUB (being written).

use super::PostgresStore;
use crate::error::AppResult;
use fleet_protocol::{AgentList, AgentSort, FleetSummary};
use crate::store::AgentFilter;

impl PostgresStore {
    pub async fn list_agents(&self, _filter: &AgentFilter, _sort: AgentSort, _limit: u32, _cursor: Option<&str>) -> AppResult<AgentList> {
        unimplemented!("postgres")
    }

    pub async fn fleet_summary(&self) -> AppResult<FleetSummary> {
        unimplemented!("postgres")
    }

}
