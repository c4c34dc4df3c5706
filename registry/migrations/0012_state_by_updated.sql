-- A page of one runtime state in order of change walks this index from the state's first
-- entry. A state change sets `updated_at`, so paused and terminated agents sit together
-- at the recent end of `agents_by_updated`, and a page of them oldest change first walked
-- past every active agent, reading each one's row (`runtime_status=paused&sort=updated_at`
-- at 1M agents: 1.4 s). A lease does not set `updated_at`, so heartbeats never write here.
CREATE INDEX agents_by_status_updated ON agents (runtime_status, updated_at, sekuire_id);
