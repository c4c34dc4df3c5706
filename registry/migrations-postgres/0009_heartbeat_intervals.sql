-- How many agents have each heartbeat interval, kept beside the other counts
-- (`interval:60`), so a list knows the longest interval any agent has.
--
-- A stale agent's healthy deadline passed at most 1.5 of its interval ago, so
-- `health=stale` reads that stretch of `agents_by_health` (`push_health` in
-- `fleet_query.rs`). Bounded by the longest interval allowed (600 s), the stretch was the
-- last 15 minutes: minutes after most of a fleet stopped, it held every agent that
-- stopped, all of them unhealthy already, and each was read to find none stale (0.26-1.2 s
-- a list at 1M agents). Bounded by the longest interval in use, it holds only agents that
-- are stale, or stale for another interval in use: a fleet with one agent on 600 s reads
-- back 15 minutes again.
--
-- Nothing recounts them later, so no agent may be written between the count and the
-- triggers (a process of the previous version, during a rolling upgrade): the lock holds
-- writes to `agents` until the migration commits, and lets reads through.
LOCK TABLE agents IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO fleet_counts (facet, agents)
    SELECT 'interval:' || heartbeat_interval_s, COUNT(*) FROM agents
    GROUP BY heartbeat_interval_s;

-- A bulk insert or delete counts its agents in one statement.
CREATE FUNCTION fleet_intervals_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fleet_counts_apply(array_agg('interval:' || heartbeat_interval_s),
                               array_agg(1::BIGINT))
    FROM inserted;
    RETURN NULL;
END
$$;

CREATE FUNCTION fleet_intervals_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fleet_counts_apply(array_agg('interval:' || heartbeat_interval_s),
                               array_agg(-1::BIGINT))
    FROM removed;
    RETURN NULL;
END
$$;

CREATE FUNCTION fleet_intervals_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fleet_counts_apply(
        ARRAY['interval:' || OLD.heartbeat_interval_s, 'interval:' || NEW.heartbeat_interval_s],
        ARRAY[-1, 1]::BIGINT[]);
    RETURN NULL;
END
$$;

CREATE TRIGGER fleet_intervals_insert AFTER INSERT ON agents
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION fleet_intervals_insert();
CREATE TRIGGER fleet_intervals_delete AFTER DELETE ON agents
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION fleet_intervals_delete();
-- Heartbeats set the interval they were sent with, nearly always the one the agent had:
-- the trigger runs only when it changes. A lease batch that changes several agents'
-- intervals takes their rows' locks in its own order; a deadlock with another batch is
-- retried whole, as any (`postgres::retry`).
CREATE TRIGGER fleet_intervals_update AFTER UPDATE OF heartbeat_interval_s ON agents
    FOR EACH ROW WHEN (OLD.heartbeat_interval_s IS DISTINCT FROM NEW.heartbeat_interval_s)
    EXECUTE FUNCTION fleet_intervals_update();
