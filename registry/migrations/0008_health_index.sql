-- A health filter reads a range of this index instead of every agent's heartbeat.
--
-- An agent is healthy until `last_heartbeat_at + heartbeat_interval_s * 1500` (1.5
-- intervals, in ms), stale or unhealthy after it, and the expression is NULL when it never
-- sent a heartbeat: every health is a range of it (`push_health` in `fleet_query.rs`, which
-- must write the expression exactly so for SQLite to match it). The other facet columns
-- follow, so a health filter combined with states, verification or reputation is counted
-- from this index alone, as `agents_facets` does for filters without a health.
CREATE INDEX agents_by_health ON agents (
    last_heartbeat_at + heartbeat_interval_s * 1500,
    runtime_status, verification_status, reputation_score, last_heartbeat_at, heartbeat_interval_s
);
