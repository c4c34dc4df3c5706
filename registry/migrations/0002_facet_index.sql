-- A narrow index of the columns the fleet filters and the summary read: counting matches
-- scans this instead of the wide table rows (a covering index scan).
CREATE INDEX agents_facets ON agents (
    runtime_status, verification_status, reputation_score, last_heartbeat_at, heartbeat_interval_s
);
