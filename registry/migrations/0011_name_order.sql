-- Searches read the trigram index in name order.
--
-- A team's name starts its agents' names, so a search for it matches tens of thousands of
-- names that sit together, late in name order. Walking the name index to them passed every
-- name before them: 330 ms for `security` by name at a million agents, and as long again
-- for its count. The trigram index lists each trigram's rows in rowid order, and FTS5 reads
-- a search's matches in that order and stops at a LIMIT. So the rowid is now each agent's
-- place in name order, `name_rank`: the first page of matches by name is the first rows
-- the index gives, and a count stops after the rows it needs.
--
-- Ranks are sparse, so a new name takes a rank between its neighbours' without moving
-- them; when two neighbours' ranks are adjacent, the registry spreads the ranks around
-- them again (`store/name_order.rs`). Here they start 2^32 apart, in the order of
-- `agents_by_name`: name, then Sekuire ID, bytewise.
--
-- Keying the index by rank also lets a rename or a delete find its row by rowid, where it
-- scanned for the Sekuire ID.
--
-- At a million agents this took 32 s: ranking every agent, then rebuilding the index, which
-- reads every name once.
ALTER TABLE agents ADD COLUMN name_rank INTEGER NOT NULL DEFAULT 0;

UPDATE agents SET name_rank = ranked.name_rank
FROM (
    SELECT sekuire_id, row_number() OVER (ORDER BY name, sekuire_id) * 4294967296 AS name_rank
    FROM agents
) AS ranked
WHERE agents.sekuire_id = ranked.sekuire_id;

DROP TRIGGER agents_name_trigrams_insert;
DROP TRIGGER agents_name_trigrams_rename;
DROP TRIGGER agents_name_trigrams_delete;
DROP TABLE agents_name_trigram_instances;
DROP TABLE agents_name_trigrams;

-- As in migration 0009: each name padded with two U+0001, so a short search finds its
-- trigrams in the term list.
CREATE VIRTUAL TABLE agents_name_trigrams USING fts5(
    sekuire_id UNINDEXED,
    name,
    tokenize = 'trigram'
);

CREATE VIRTUAL TABLE agents_name_trigram_instances USING fts5vocab(
    agents_name_trigrams, 'instance'
);

-- In rank order: FTS5 writes rows in ascending rowid order without flushing between them.
INSERT INTO agents_name_trigrams (rowid, sekuire_id, name)
SELECT name_rank, sekuire_id, name || char(1, 1) FROM agents ORDER BY name_rank;

CREATE TRIGGER agents_name_trigrams_insert AFTER INSERT ON agents BEGIN
    INSERT INTO agents_name_trigrams (rowid, sekuire_id, name)
    VALUES (new.name_rank, new.sekuire_id, new.name || char(1, 1));
END;

CREATE TRIGGER agents_name_trigrams_reorder AFTER UPDATE OF name, name_rank ON agents
WHEN old.name IS NOT new.name OR old.name_rank IS NOT new.name_rank BEGIN
    DELETE FROM agents_name_trigrams WHERE rowid = old.name_rank;
    INSERT INTO agents_name_trigrams (rowid, sekuire_id, name)
    VALUES (new.name_rank, new.sekuire_id, new.name || char(1, 1));
END;

CREATE TRIGGER agents_name_trigrams_delete AFTER DELETE ON agents BEGIN
    DELETE FROM agents_name_trigrams WHERE rowid = old.name_rank;
END;

-- Every name has its rank: a row written without one (at 0), or renamed without a new one,
-- would sit out of order in every search by name, and could take a rank still held.
CREATE TRIGGER agents_name_rank_required BEFORE INSERT ON agents
WHEN new.name_rank <= 0 BEGIN
    SELECT RAISE(ABORT, 'an agent needs a rank in name order (store/name_order.rs)');
END;

CREATE TRIGGER agents_name_rank_follows_renames BEFORE UPDATE OF name ON agents
WHEN old.name IS NOT new.name AND old.name_rank IS new.name_rank BEGIN
    SELECT RAISE(ABORT, 'a renamed agent needs a new rank in name order (store/name_order.rs)');
END;
