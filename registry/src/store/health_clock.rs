//! What a fleet list judges health by: its time, and the longest heartbeat interval in
//! use, read once per list; and the health thresholds in SQL, on either engine.

use super::fleet_query::AgentFilter;
use super::installations::MAX_HEARTBEAT_INTERVAL_SECS;
use crate::error::AppResult;
use fleet_protocol::Health;
use sqlx::{Database, Encode, QueryBuilder, Type};

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

/// SQL for an agent's health at `now`: the same thresholds as [`Health::derive`].
fn health_sql(now: i64) -> String {
    format!(
        "(CASE WHEN last_heartbeat_at IS NULL THEN 'never' \
         WHEN {HEALTHY_UNTIL} >= {now} THEN 'healthy' \
         WHEN {UNHEALTHY_FROM} >= {now} THEN 'stale' \
         ELSE 'unhealthy' END)"
    )
}

/// When an agent stops being healthy, in ms: 1.5 heartbeat intervals after its last
/// heartbeat, NULL for one that never sent one. `agents_by_health` indexes this expression,
/// so it must stay written exactly so. (The migrations that index it name `push_health`
/// in `fleet_query.rs`, where it was; it is here now.)
pub(super) const HEALTHY_UNTIL: &str = "last_heartbeat_at + heartbeat_interval_s * 1500";

/// When an agent becomes unhealthy, in ms: 3 heartbeat intervals after its last heartbeat.
const UNHEALTHY_FROM: &str = "last_heartbeat_at + heartbeat_interval_s * 3000";

/// How a list reads its health terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HealthRead {
    /// As a range of `agents_by_health`, which indexes the healthy deadline as it is
    /// written here: a health that holds few agents reads a short stretch of the index
    /// instead of every agent.
    Indexed,
    /// Tested on each row a plan reads: the deadline is written so that the index does
    /// not match it. For a page of a health that holds many agents, on PostgreSQL: its
    /// planner estimates a health's range from statistics of the last `ANALYZE`, and a
    /// range past them, where every agent that has heartbeat since sits, as nearly empty.
    /// At 1M agents, 258,000 of them healthy since, `healthy` by newest heartbeat read and
    /// sorted all of them (113–141 ms), where the heartbeat index's first 51 were healthy.
    /// Never is written as always, so that the index of never-seen agents (migration 0011
    /// on PostgreSQL), whose predicate it is, still serves it: whether an agent was ever
    /// seen does not move with the clock.
    Tested,
}

/// ` AND (…)` for `healths`: the thresholds of [`Health::derive`] written as ranges of
/// when an agent stops being healthy (`last_heartbeat_at + heartbeat_interval_s * 1500`,
/// NULL for one that never sent a heartbeat). Healthy is from it onwards; stale and
/// unhealthy are before it, split at three intervals; never is NULL. Read as `read` says.
///
/// Several healths without unhealthy or never, whose ranges are all bounded below, get
/// the lowest of those bounds as a range of their own: PostgreSQL reads the index from
/// there instead of from its start (`healthy` or `stale`, counted in the index's order at
/// 1M agents, passed every unhealthy agent: 110 ms).
pub(super) fn push_health<'a, DB: Database>(
    qb: &mut QueryBuilder<'a, DB>,
    healths: &[Health],
    clock: HealthClock,
    read: HealthRead,
) where
    i64: Encode<'a, DB> + Type<DB>,
{
    let tested;
    let until = match read {
        HealthRead::Indexed => HEALTHY_UNTIL,
        HealthRead::Tested => {
            tested = format!("({HEALTHY_UNTIL}) + 0");
            tested.as_str()
        }
    };
    if healths.is_empty() {
        return;
    }
    let now = clock.now;
    let lowest = healths
        .iter()
        .map(|health| match health {
            Health::Healthy => Some(now),
            Health::Stale => Some(clock.back(1500)),
            Health::Unhealthy | Health::Never => None,
        })
        .collect::<Option<Vec<i64>>>()
        .and_then(|bounds| bounds.into_iter().min());
    if let Some(lowest) = lowest.filter(|_| healths.len() > 1) {
        qb.push(format!(" AND {until} >= ")).push_bind(lowest);
    }
    qb.push(" AND (");
    for (i, health) in healths.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        match health {
            Health::Healthy => qb.push(format!("{until} >= ")).push_bind(now),
            // A stale agent's deadline passed at most 1.5 of its interval ago, so at most
            // 1.5 of the longest interval in use: a short range even when most agents
            // stopped minutes ago (migration 0013 on SQLite, 0009 on PostgreSQL).
            Health::Stale => qb
                .push(format!("({until} >= "))
                .push_bind(clock.back(1500))
                .push(format!(" AND {until} < "))
                .push_bind(now)
                .push(format!(" AND {UNHEALTHY_FROM} >= "))
                .push_bind(now)
                .push(")"),
            Health::Unhealthy => qb
                .push(format!("({until} < "))
                .push_bind(now)
                .push(format!(" AND {UNHEALTHY_FROM} < "))
                .push_bind(now)
                .push(")"),
            Health::Never => qb.push(format!("{HEALTHY_UNTIL} IS NULL")),
        };
    }
    qb.push(")");
}

/// The query that counts agents by health at `now` (health depends on the time, so it is
/// counted, not kept), each condition counted as `count` writes it, in [`Health::ALL`]'s
/// order.
pub(super) fn health_counts_sql(now: i64, count: impl Fn(&str) -> String) -> String {
    let health = health_sql(now);
    let columns: Vec<String> = Health::ALL
        .iter()
        .map(|h| count(&format!("{health} = '{h}'")))
        .collect();
    format!("SELECT {} FROM agents", columns.join(", "))
}
