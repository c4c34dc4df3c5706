-- A health filter reads a range of this index instead of every agent's heartbeat (the
-- SQLite migration 0008 has the reasoning). The expression must match `push_health` in
-- `fleet_query.rs` exactly for the planner to use it. The heartbeat and interval are
-- included, so the stale/unhealthy split is tested in the index alone (an index-only scan)
-- when a range holds many agents, as after a mass outage.
CREATE INDEX agents_by_health ON agents ((last_heartbeat_at + heartbeat_interval_s * 1500))
    INCLUDE (last_heartbeat_at, heartbeat_interval_s);
-- The planner needs the expression's statistics to tell a short range from a long one.
ANALYZE agents;
