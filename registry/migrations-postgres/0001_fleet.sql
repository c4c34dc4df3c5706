-- The registry's schema on PostgreSQL: the same tables and meanings as the SQLite
-- migrations 0001–0006 reach, written for this engine (see src/store/postgres/mod.rs).
-- Times are Unix milliseconds (UTC); the API formats them as RFC 3339.
--
-- Text that is sorted, compared by range or searched, and every Sekuire ID, is
-- COLLATE "C": byte order, as on SQLite, so keyset cursors mean the same on both, an ID
-- prefix is a range of the primary key, ILIKE folds ASCII case only, as SQLite's LIKE
-- does, and joins on Sekuire IDs compare in one collation, through their indexes.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE agents (
    sekuire_id            TEXT COLLATE "C" PRIMARY KEY,
    name                  TEXT COLLATE "C" NOT NULL,
    version               TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    runtime_status        TEXT COLLATE "C" NOT NULL CHECK (runtime_status IN ('active', 'paused', 'terminated')),
    verification_status   TEXT COLLATE "C" NOT NULL CHECK (verification_status IN ('unverified', 'pending', 'verified', 'suspended')),
    reputation_score      BIGINT NOT NULL CHECK (reputation_score BETWEEN 0 AND 100),
    last_heartbeat_at     BIGINT,
    heartbeat_interval_s  BIGINT NOT NULL DEFAULT 60,
    -- Denormalized from installations so the fleet list needs no join.
    pending_command       TEXT CHECK (pending_command IN ('pause', 'resume', 'terminate')),
    installations         BIGINT NOT NULL DEFAULT 0,
    status_reason         TEXT,
    status_changed_at     BIGINT,
    status_changed_by     TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    revision              BIGINT NOT NULL DEFAULT 1,
    manifest              TEXT,
    publisher_key         TEXT,
    publisher_org_id      TEXT
);

-- One index per sort key, each ending in the tie-breaker, so a keyset page is an index range.
CREATE INDEX agents_by_name ON agents (name, sekuire_id);
CREATE INDEX agents_by_reputation ON agents (reputation_score, sekuire_id);
CREATE INDEX agents_by_heartbeat ON agents ((COALESCE(last_heartbeat_at, 0)), sekuire_id);
CREATE INDEX agents_by_status ON agents (runtime_status, sekuire_id);
CREATE INDEX agents_by_updated ON agents (updated_at, sekuire_id);
CREATE INDEX agents_by_verification ON agents (verification_status, sekuire_id);
CREATE INDEX agents_with_pending_command ON agents (sekuire_id) WHERE pending_command IS NOT NULL;
-- Substring search of names (ILIKE '%…%') through trigrams.
CREATE INDEX agents_name_trigrams ON agents USING gin (name gin_trgm_ops);

CREATE TABLE api_keys (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    -- SHA-256 of the key; the key itself is never stored.
    key_hash      TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    workspace_id  TEXT NOT NULL DEFAULT 'default'
);

CREATE TABLE audit_entries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               BIGINT NOT NULL,
    actor            TEXT NOT NULL,
    action           TEXT NOT NULL CHECK (action IN ('pause', 'resume', 'terminate', 'publish', 'verify', 'revoke')),
    sekuire_id       TEXT COLLATE "C" NOT NULL,
    agent_name       TEXT NOT NULL,
    from_status      TEXT NOT NULL,
    to_status        TEXT NOT NULL,
    reason           TEXT,
    request_id       TEXT NOT NULL,
    installation_id  TEXT
);
CREATE INDEX audit_by_agent ON audit_entries (sekuire_id, id);
CREATE INDEX audit_by_actor ON audit_entries (actor, id);

-- The audit trail is append-only, whatever code runs against the database.
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END
$$;
CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();

CREATE TABLE event_logs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sekuire_id       TEXT COLLATE "C" NOT NULL,
    session_id       TEXT,
    event_type       TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('debug', 'info', 'warn', 'error')),
    event_timestamp  BIGINT NOT NULL,
    received_at      BIGINT NOT NULL,
    event_data       TEXT NOT NULL DEFAULT '{}',
    metadata         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX event_logs_by_agent ON event_logs (sekuire_id, event_timestamp, id);

CREATE TABLE install_tokens (
    token_hash    TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    sekuire_id    TEXT COLLATE "C" NOT NULL,
    created_by    TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);

CREATE TABLE installations (
    installation_id            TEXT PRIMARY KEY,
    sekuire_id                 TEXT COLLATE "C" NOT NULL,
    workspace_id               TEXT NOT NULL,
    runtime_token_hash         TEXT NOT NULL UNIQUE,
    refresh_token_hash         TEXT NOT NULL UNIQUE,
    upstream_url               TEXT,
    capabilities               TEXT NOT NULL DEFAULT '[]',
    status                     TEXT NOT NULL DEFAULT 'starting',
    heartbeat_interval_s       BIGINT NOT NULL DEFAULT 60,
    created_at                 BIGINT NOT NULL,
    last_lease_at              BIGINT,
    lease_expires_at           BIGINT,
    last_command               TEXT CHECK (last_command IN ('pause', 'resume', 'terminate')),
    command_delivered_at       BIGINT,
    revoked_at                 BIGINT,
    shutdown_timeout_ms        BIGINT,
    -- The current runtime token's expiry, and the token it replaced, valid until its own.
    token_expires_at           BIGINT NOT NULL,
    previous_token_hash        TEXT,
    previous_token_expires_at  BIGINT,
    -- Whether the client is known to hold the current runtime token.
    token_used                 BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX installations_by_agent ON installations (sekuire_id);

CREATE TABLE event_tickets (
    ticket_hash  TEXT PRIMARY KEY,
    key_name     TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);
