-- Heartbeat intervals are at most 600 s (10 minutes): an agent's health follows its
-- interval, and a longer one let a dead agent look healthy for up to 36 hours.
UPDATE installations SET heartbeat_interval_s = 600 WHERE heartbeat_interval_s > 600;
UPDATE agents SET heartbeat_interval_s = 600 WHERE heartbeat_interval_s > 600;
