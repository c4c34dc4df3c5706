-- A page of one runtime state in order of change walks this index from the state's first
-- entry (the SQLite migration 0012 has the reasoning: at 1M agents,
-- `runtime_status=paused&sort=updated_at` walked past every active agent, 1.0 s). A lease
-- does not set `updated_at`, but a heartbeat is never a HOT update here (its column is
-- indexed), so like every index of `agents` this one takes an entry on each heartbeat.
CREATE INDEX agents_by_status_updated ON agents (runtime_status, updated_at, sekuire_id);
