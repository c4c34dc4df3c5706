-- Onboarding: agents pushed by Sekuire's CLI keep their manifest and publisher key; keys
-- belong to a workspace; installations can be revoked one by one and refresh their
-- runtime token; the audit trail also records verification decisions and revokes.

ALTER TABLE agents ADD COLUMN manifest TEXT;
ALTER TABLE agents ADD COLUMN publisher_key TEXT;
ALTER TABLE agents ADD COLUMN publisher_org_id TEXT;
-- Drafts (pushed, not yet reviewed) are found by this index, not a scan.
CREATE INDEX agents_by_verification ON agents (verification_status, sekuire_id);

ALTER TABLE api_keys ADD COLUMN workspace_id TEXT NOT NULL DEFAULT 'default';

ALTER TABLE installations ADD COLUMN revoked_at INTEGER;
ALTER TABLE installations ADD COLUMN shutdown_timeout_ms INTEGER;
-- The current runtime token's expiry, and the token it replaced, valid until its own.
ALTER TABLE installations ADD COLUMN token_expires_at INTEGER;
ALTER TABLE installations ADD COLUMN previous_token_hash TEXT;
ALTER TABLE installations ADD COLUMN previous_token_expires_at INTEGER;
UPDATE installations SET token_expires_at = created_at + 30 * 86400000;
-- The sweep that clears commands no live installation is waiting for reads only these.
CREATE INDEX agents_with_pending_command ON agents (sekuire_id) WHERE pending_command IS NOT NULL;

-- The audit trail takes two more actions, and the statuses are free text (runtime,
-- verification or installation statuses). SQLite cannot alter a CHECK, so the table is
-- rebuilt; the append-only triggers come back with it.
DROP TRIGGER audit_entries_no_update;
DROP TRIGGER audit_entries_no_delete;
CREATE TABLE audit_entries_v2 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               INTEGER NOT NULL,
    actor            TEXT NOT NULL,
    action           TEXT NOT NULL CHECK (action IN ('pause', 'resume', 'terminate', 'publish', 'verify', 'revoke')),
    sekuire_id       TEXT NOT NULL,
    agent_name       TEXT NOT NULL,
    from_status      TEXT NOT NULL,
    to_status        TEXT NOT NULL,
    reason           TEXT,
    request_id       TEXT NOT NULL,
    installation_id  TEXT
);
INSERT INTO audit_entries_v2 (id, at, actor, action, sekuire_id, agent_name, from_status,
                              to_status, reason, request_id)
    SELECT id, at, actor, action, sekuire_id, agent_name, from_status, to_status, reason,
           request_id FROM audit_entries;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_v2 RENAME TO audit_entries;
CREATE INDEX audit_by_agent ON audit_entries (sekuire_id, id);
CREATE INDEX audit_by_actor ON audit_entries (actor, id);
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
