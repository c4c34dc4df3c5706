-- Every agent's name again in `agent_facets`, beside its facets, with a trigram index and
-- in the facet index, so that a search with facets is counted, and its few matches
-- found, in this narrow table that heartbeats never touch.
--
-- Counted on `agents`, a search with a runtime state read rows of `agents` until it had
-- 1,001 matches: `security` + `terminated` at 1M agents read 200,000 rows in a sequential
-- scan (91 ms), `security` + `paused` 136,000 (40-60 ms). Here the facet index holds the
-- name, so the count walks the state's entries and tests each name in the index (4-7 ms);
-- a rare search asks the trigram index instead, whichever the planner expects to be
-- cheaper (`postgres/fleet_list.rs`).
--
-- The table is written again, which leaves no dead rows behind as updating each row would,
-- in the order of `agents`. Not in name order, as `agent_names` is: a count that stops at
-- its cap may scan the table, and in name order the matches of a team's name, which
-- starts its agents' names, sit together late in it (`security` + `active`: 900,000 rows
-- before the first match, 211 ms). It is copied under a lock that holds writes to `agents` (a process of the
-- previous version, during a rolling upgrade) until the migration commits, so no change
-- falls between the copy and the triggers that follow changes.
LOCK TABLE agents IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE agent_facets_named (
    sekuire_id           TEXT COLLATE "C" NOT NULL,
    runtime_status       TEXT COLLATE "C" NOT NULL,
    verification_status  TEXT COLLATE "C" NOT NULL,
    reputation_score     BIGINT NOT NULL,
    name                 TEXT COLLATE "C" NOT NULL
);

INSERT INTO agent_facets_named
    (sekuire_id, runtime_status, verification_status, reputation_score, name)
    SELECT sekuire_id, runtime_status, verification_status, reputation_score, name
    FROM agents;

DROP TABLE agent_facets;
ALTER TABLE agent_facets_named RENAME TO agent_facets;
ALTER TABLE agent_facets ADD CONSTRAINT agent_facets_pkey PRIMARY KEY (sekuire_id);
ALTER TABLE agent_facets ADD CONSTRAINT agent_facets_sekuire_id_fkey
    FOREIGN KEY (sekuire_id) REFERENCES agents ON DELETE CASCADE;

CREATE INDEX agent_facets_by_facet ON agent_facets
    (runtime_status, verification_status, reputation_score) INCLUDE (name);
CREATE INDEX agent_facets_name_trigrams ON agent_facets USING gin (name gin_trgm_ops);

CREATE OR REPLACE FUNCTION agent_facets_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agent_facets (sekuire_id, runtime_status, verification_status,
                              reputation_score, name)
        SELECT sekuire_id, runtime_status, verification_status, reputation_score, name
        FROM inserted;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION agent_names_rename() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_names SET name = NEW.name WHERE sekuire_id = NEW.sekuire_id;
    UPDATE agent_facets SET name = NEW.name WHERE sekuire_id = NEW.sekuire_id;
    RETURN NULL;
END
$$;

-- A search's matches are estimated from a sample of names: with the default hundred
-- entries of statistics a name search was estimated at 30,303 matches one time and
-- 60,605 another (62,573 at 1M agents), and the list chooses its plan by that estimate
-- (`few_matches`). A thousand entries (ANALYZE reads 300,000 rows: a second at 1M
-- agents) estimated 61,081-64,078. Heartbeats never change this table, so it is analyzed
-- only after many changes of agents' facets or names.
ALTER TABLE agent_facets ALTER COLUMN name SET STATISTICS 1000;
ANALYZE agent_facets;
