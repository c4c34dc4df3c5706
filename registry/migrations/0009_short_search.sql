-- Searches of one or two characters through the trigram index.
--
-- A trigram is three characters, so the index of migration 0006 cannot match `ab` as a
-- phrase. But every place `ab` occurs in a name starts a trigram `ab?` once the name
-- carries two characters after its end: the index now holds each name followed by two
-- U+0001 (a character names cannot hold, as every control character is refused), and
-- `agents_name_trigram_instances` lists its trigrams, sorted, with the row of each
-- occurrence. A short search reads the trigrams from `ab` up to `ac` there: a range of the
-- index's own term list, whose rows are the candidates, checked by LIKE as before. The
-- padding adds trigrams that only a search holding U+0001 could match, and LIKE refuses
-- those.
--
-- Rebuilding the index reads every name once (about a minute at a million agents).
DROP TRIGGER agents_name_trigrams_insert;
DROP TRIGGER agents_name_trigrams_rename;
DROP TRIGGER agents_name_trigrams_delete;
DROP TABLE agents_name_trigrams;

CREATE VIRTUAL TABLE agents_name_trigrams USING fts5(
    sekuire_id UNINDEXED,
    name,
    tokenize = 'trigram'
);

CREATE VIRTUAL TABLE agents_name_trigram_instances USING fts5vocab(
    agents_name_trigrams, 'instance'
);

INSERT INTO agents_name_trigrams (sekuire_id, name)
SELECT sekuire_id, name || char(1, 1) FROM agents;

CREATE TRIGGER agents_name_trigrams_insert AFTER INSERT ON agents BEGIN
    INSERT INTO agents_name_trigrams (sekuire_id, name) VALUES (new.sekuire_id, new.name || char(1, 1));
END;

CREATE TRIGGER agents_name_trigrams_rename AFTER UPDATE OF name ON agents
WHEN old.name IS NOT new.name BEGIN
    UPDATE agents_name_trigrams SET name = new.name || char(1, 1) WHERE sekuire_id = old.sekuire_id;
END;

CREATE TRIGGER agents_name_trigrams_delete AFTER DELETE ON agents BEGIN
    DELETE FROM agents_name_trigrams WHERE sekuire_id = old.sekuire_id;
END;
