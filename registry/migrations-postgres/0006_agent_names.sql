-- Every agent's name again, in a narrow table of its own with a trigram index, for a
-- search by name whose matches sit together late in name order.
--
-- A search by name walks the name index and tests each name, which finds a page quickly
-- when matches are spread through the names. A team's name starts its agents' names, so
-- `security` at a million agents passed 900,000 names before its 50,000 matches (490 ms).
-- The walk now stops after a bounded number of names, and the rest of the page is the
-- first matches after the walk's end, gathered through this table's trigram index and
-- sorted (`postgres/name_walk.rs`). Gathered from `agents`, whose rows are five times as
-- wide, the same 50,000 matches took 270 ms; from here, 90 ms.
--
-- Heartbeats never touch this table: it changes when an agent is added or renamed, through
-- the triggers below, whatever code writes the agent.
CREATE TABLE agent_names (
    sekuire_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES agents ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL
);

INSERT INTO agent_names (sekuire_id, name)
    SELECT sekuire_id, name FROM agents ORDER BY name, sekuire_id;

CREATE INDEX agent_names_trigrams ON agent_names USING gin (name gin_trgm_ops);

-- A bulk insert adds its names in one statement.
CREATE FUNCTION agent_names_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_names (sekuire_id, name)
        SELECT sekuire_id, name FROM inserted ORDER BY name, sekuire_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION agent_names_rename() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_names SET name = NEW.name WHERE sekuire_id = NEW.sekuire_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER agent_names_insert AFTER INSERT ON agents
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION agent_names_insert();
CREATE TRIGGER agent_names_rename AFTER UPDATE OF name ON agents
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION agent_names_rename();

ANALYZE agent_names;
