-- The agents that never sent a heartbeat, by state and Sekuire ID, with their verification
-- and reputation: `health=never` with a state, or in order of state, reads only them.
--
-- Through `agents_by_health`, `runtime_status=paused&health=never` at 1M agents read the
-- never-seen range (99,840 agents) and each agent's row to test its state, until 10,001
-- passed (the count): 45-60 ms a list. And `health=never` by state walked the index by
-- state past the active agents, nearly all of them seen (38-47 ms). Both are 2.6-9 ms
-- with this index.
--
-- The predicate is the one `push_health` writes for never (`fleet_query.rs`), so the
-- planner proves it from the filter. A heartbeat's new row falls outside it, so heartbeats
-- never write this index.
CREATE INDEX agents_never_seen ON agents (runtime_status, sekuire_id)
    INCLUDE (verification_status, reputation_score)
    WHERE (last_heartbeat_at + heartbeat_interval_s * 1500) IS NULL;
ANALYZE agents;
