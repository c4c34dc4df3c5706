//! What a fleet list judges health by: its time, and the longest heartbeat interval in
//! use, read once per list.

use super::fleet_query::AgentFilter;
use super::installations::MAX_HEARTBEAT_INTERVAL_SECS;
use crate::error::AppResult;
use sqlx::{Database, Type};

/// What a list judges health by: its time, and the longest heartbeat interval any agent
/// has, which bounds how long ago a stale agent's deadline passed.
#[derive(Debug, Clone, Copy)]
pub(super) struct HealthClock {
    pub now: i64,
    pub longest_interval_s: i64,
}

impl HealthClock {
    /// What `filter`'s health is judged by, now, on either engine: the longest interval in
    /// use, from the kept counts (`interval:60`; migration 0013 on SQLite, 0009 on
    /// PostgreSQL), is read only for a filter that names a health, else the longest
    /// allowed stands. A value rather than a subquery in the filter, so PostgreSQL's
    /// planner estimates the stale range from its statistics: given a subquery, it
    /// expected the range to hold many agents and walked the sort index past all of them.
    pub(super) async fn read<'e, DB>(
        executor: impl sqlx::Executor<'e, Database = DB>,
        filter: &AgentFilter,
    ) -> AppResult<HealthClock>
    where
        DB: Database,
        i64: Type<DB> + for<'r> sqlx::Decode<'r, DB>,
        usize: sqlx::ColumnIndex<DB::Row>,
        for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    {
        let longest: Option<i64> = if filter.health.is_empty() {
            None
        } else {
            sqlx::query_scalar(
                "SELECT MAX(CAST(substr(facet, 10) AS BIGINT)) FROM fleet_counts \
                 WHERE facet >= 'interval:' AND facet < 'interval;' AND agents > 0",
            )
            .fetch_one(executor)
            .await?
        };
        Ok(HealthClock {
            now: crate::clock::now_ms(),
            longest_interval_s: longest.unwrap_or(MAX_HEARTBEAT_INTERVAL_SECS),
        })
    }

    /// `now` less `ms_per_interval_s` ms for each second of the longest interval in use:
    /// `back(1500)` is 1.5 of the longest interval ago.
    pub(super) fn back(&self, ms_per_interval_s: i64) -> i64 {
        self.now - self.longest_interval_s * ms_per_interval_s
    }
}
