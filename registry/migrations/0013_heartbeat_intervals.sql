-- How many agents have each heartbeat interval, kept beside the other counts
-- (`interval:60`), so a list knows the longest interval any agent has.
--
-- A stale agent's healthy deadline passed at most 1.5 of its interval ago, so
-- `health=stale` reads that stretch of `agents_by_health` (`push_health` in
-- `fleet_query.rs`). Bounded by the longest interval allowed (600 s), the stretch was the
-- last 15 minutes: minutes after most of a fleet stopped, it held every agent that
-- stopped, all of them unhealthy already, and each was read to find none stale. Bounded by
-- the longest interval in use, it holds only agents that are stale, or stale for another
-- interval in use: a fleet with one agent on 600 s reads back 15 minutes again.
--
-- The lease writer sets the interval in a statement of its own (`store/leases.rs`): a
-- statement that sets a column the update trigger watches takes a statement journal.
INSERT INTO fleet_counts (facet, agents)
    SELECT 'interval:' || heartbeat_interval_s, COUNT(*) FROM agents
    GROUP BY heartbeat_interval_s;

CREATE TRIGGER fleet_intervals_insert AFTER INSERT ON agents BEGIN
    INSERT INTO fleet_counts (facet, agents) VALUES ('interval:' || new.heartbeat_interval_s, 1)
    ON CONFLICT (facet) DO UPDATE SET agents = agents + 1;
END;

CREATE TRIGGER fleet_intervals_delete AFTER DELETE ON agents BEGIN
    UPDATE fleet_counts SET agents = agents - 1
    WHERE facet = 'interval:' || old.heartbeat_interval_s;
END;

CREATE TRIGGER fleet_intervals_update AFTER UPDATE OF heartbeat_interval_s ON agents
WHEN old.heartbeat_interval_s IS NOT new.heartbeat_interval_s
BEGIN
    UPDATE fleet_counts SET agents = agents - 1
    WHERE facet = 'interval:' || old.heartbeat_interval_s;
    INSERT INTO fleet_counts (facet, agents) VALUES ('interval:' || new.heartbeat_interval_s, 1)
    ON CONFLICT (facet) DO UPDATE SET agents = agents + 1;
END;
