-- Text search by substring through an index: every three-character sequence of every agent
-- name (FTS5's trigram tokenizer). A search of three characters or more finds its
-- candidates here instead of reading every name; the LIKE it is paired with keeps the
-- exact meaning (ASCII-only case folding, `%` and `_` literal), since the trigram match
-- folds case more widely.
--
-- The agents table has no rowid, so the index keeps the Sekuire ID beside the name.
-- Keeping it in step on a rename looks the ID up by scanning; names change only when a
-- push renames an agent.
CREATE VIRTUAL TABLE agents_name_trigrams USING fts5(
    sekuire_id UNINDEXED,
    name,
    tokenize = 'trigram'
);

INSERT INTO agents_name_trigrams (sekuire_id, name) SELECT sekuire_id, name FROM agents;

CREATE TRIGGER agents_name_trigrams_insert AFTER INSERT ON agents BEGIN
    INSERT INTO agents_name_trigrams (sekuire_id, name) VALUES (new.sekuire_id, new.name);
END;

CREATE TRIGGER agents_name_trigrams_rename AFTER UPDATE OF name ON agents
WHEN old.name IS NOT new.name BEGIN
    UPDATE agents_name_trigrams SET name = new.name WHERE sekuire_id = old.sekuire_id;
END;

CREATE TRIGGER agents_name_trigrams_delete AFTER DELETE ON agents BEGIN
    DELETE FROM agents_name_trigrams WHERE sekuire_id = old.sekuire_id;
END;
