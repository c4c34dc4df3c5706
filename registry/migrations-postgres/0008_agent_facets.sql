-- Every agent's runtime state, verification status and reputation again, in a narrow
-- table of their own, for counting a list's matches by an index alone.
--
-- A filter the kept counts do not answer (a verification and a reputation floor, say) is
-- counted to 10,001 matches. Counted on `agents`, each match is a row read from the table:
-- a heartbeat is never a HOT update there, so it clears its page's all-visible bit, and an
-- index-only count would visit the table anyway (`verification_status=suspended&
-- min_reputation=90` at 1M agents: a sequential scan, 97 ms). Heartbeats never touch this
-- table, so its pages stay all-visible between changes and its index answers the count
-- (`postgres/fleet_list.rs`).
--
-- It changes when an agent is added or one of the three columns changes, through the
-- triggers below, whatever code writes the agent.
CREATE TABLE agent_facets (
    sekuire_id           TEXT COLLATE "C" PRIMARY KEY REFERENCES agents ON DELETE CASCADE,
    runtime_status       TEXT COLLATE "C" NOT NULL,
    verification_status  TEXT COLLATE "C" NOT NULL,
    reputation_score     BIGINT NOT NULL
);

INSERT INTO agent_facets (sekuire_id, runtime_status, verification_status, reputation_score)
    SELECT sekuire_id, runtime_status, verification_status, reputation_score FROM agents;

CREATE INDEX agent_facets_by_facet ON agent_facets
    (runtime_status, verification_status, reputation_score);

-- A bulk insert adds its agents' facets in one statement.
CREATE FUNCTION agent_facets_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_facets (sekuire_id, runtime_status, verification_status, reputation_score)
        SELECT sekuire_id, runtime_status, verification_status, reputation_score FROM inserted;
    RETURN NULL;
END
$$;

CREATE FUNCTION agent_facets_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_facets SET runtime_status = NEW.runtime_status,
        verification_status = NEW.verification_status, reputation_score = NEW.reputation_score
        WHERE sekuire_id = NEW.sekuire_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER agent_facets_insert AFTER INSERT ON agents
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION agent_facets_insert();
CREATE TRIGGER agent_facets_change
    AFTER UPDATE OF runtime_status, verification_status, reputation_score ON agents
    FOR EACH ROW WHEN (OLD.runtime_status IS DISTINCT FROM NEW.runtime_status
        OR OLD.verification_status IS DISTINCT FROM NEW.verification_status
        OR OLD.reputation_score IS DISTINCT FROM NEW.reputation_score)
    EXECUTE FUNCTION agent_facets_change();

ANALYZE agent_facets;
