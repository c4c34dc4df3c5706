-- Times are Unix milliseconds (UTC); the API formats them as RFC 3339.

CREATE TABLE agents (
    sekuire_id            TEXT PRIMARY KEY NOT NULL,
    name                  TEXT NOT NULL,
    version               TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    runtime_status        TEXT NOT NULL CHECK (runtime_status IN ('active', 'paused', 'terminated')),
    verification_status   TEXT NOT NULL CHECK (verification_status IN ('unverified', 'pending', 'verified', 'suspended')),
    reputation_score      INTEGER NOT NULL CHECK (reputation_score BETWEEN 0 AND 100),
    last_heartbeat_at     INTEGER,
    heartbeat_interval_s  INTEGER NOT NULL DEFAULT 60,
    -- Denormalized from installations so the fleet list needs no join.
    pending_command       TEXT CHECK (pending_command IN ('pause', 'resume', 'terminate')),
    installations         INTEGER NOT NULL DEFAULT 0,
    status_reason         TEXT,
    status_changed_at     INTEGER,
    status_changed_by     TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    revision              INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;

-- One index per sort key, each ending in the tie-breaker, so a keyset page is an index range.
CREATE INDEX agents_by_name ON agents (name, sekuire_id);
CREATE INDEX agents_by_reputation ON agents (reputation_score, sekuire_id);
CREATE INDEX agents_by_heartbeat ON agents (IFNULL(last_heartbeat_at, 0), sekuire_id);
CREATE INDEX agents_by_status ON agents (runtime_status, sekuire_id);
CREATE INDEX agents_by_updated ON agents (updated_at, sekuire_id);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    -- SHA-256 of the key; the key itself is never stored.
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE audit_entries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('pause', 'resume', 'terminate')),
    sekuire_id   TEXT NOT NULL,
    agent_name   TEXT NOT NULL,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    reason       TEXT,
    request_id   TEXT NOT NULL
);
CREATE INDEX audit_by_agent ON audit_entries (sekuire_id, id);
CREATE INDEX audit_by_actor ON audit_entries (actor, id);

-- The audit trail is append-only, whatever code runs against the database.
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;

CREATE TABLE event_logs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    sekuire_id       TEXT NOT NULL,
    session_id       TEXT,
    event_type       TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('debug', 'info', 'warn', 'error')),
    event_timestamp  INTEGER NOT NULL,
    received_at      INTEGER NOT NULL,
    event_data       TEXT NOT NULL DEFAULT '{}',
    metadata         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX event_logs_by_agent ON event_logs (sekuire_id, event_timestamp, id);

CREATE TABLE install_tokens (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL,
    sekuire_id    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
);

CREATE TABLE installations (
    installation_id       TEXT PRIMARY KEY NOT NULL,
    sekuire_id            TEXT NOT NULL,
    workspace_id          TEXT NOT NULL,
    runtime_token_hash    TEXT NOT NULL UNIQUE,
    refresh_token_hash    TEXT NOT NULL UNIQUE,
    upstream_url          TEXT,
    capabilities          TEXT NOT NULL DEFAULT '[]',
    status                TEXT NOT NULL DEFAULT 'starting',
    heartbeat_interval_s  INTEGER NOT NULL DEFAULT 60,
    created_at            INTEGER NOT NULL,
    last_lease_at         INTEGER,
    lease_expires_at      INTEGER,
    last_command          TEXT CHECK (last_command IN ('pause', 'resume', 'terminate')),
    command_delivered_at  INTEGER
);
CREATE INDEX installations_by_agent ON installations (sekuire_id);

CREATE TABLE event_tickets (
    ticket_hash  TEXT PRIMARY KEY NOT NULL,
    key_name     TEXT NOT NULL,
    expires_at   INTEGER NOT NULL
);
