-- Every agent's name by the words in it (its runs of ASCII letters and digits, lowercased),
-- in name order for each word, and the vocabulary of those words: a search of letters and
-- digits is a substring of the name exactly when it is a substring of one of its words,
-- so its matches in name order are the first names of each word that holds it, merged
-- (`name_words.rs`).
--
-- A search whose matches sit late in name order walked 50,000 names and then gathered
-- every match to sort it: at 1M agents `se` gathered 150,000 names (a sequential scan of
-- `agent_names`, as the trigram index cannot serve two characters), 98 ms after a 10 ms
-- walk, and with facets 120-260 ms. A trigram index gives no order either: `security`
-- took 35 ms, sorting its 50,000 matches.
--
-- A word the fleet no longer uses stays in the vocabulary: it finds no names. A new word
-- waits for another transaction that is adding it to commit; words are added in order,
-- so two transactions that add the same new words wait in turn, not for each other.
--
-- The vocabulary has the name's two indexes, so the words that hold a search are found
-- without reading every word, as a fleet whose names end in serial numbers has about as
-- many words as agents: the trigram index for three characters or more, the index of
-- pieces (migration 0005) for one or two.
-- Copied under a lock that holds writes to `agents` (a process of the previous version,
-- during a rolling upgrade) until the migration commits, so no name falls between the
-- copy and the triggers that follow changes.
LOCK TABLE agents IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION agent_name_words(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(
    SELECT DISTINCT word
    FROM regexp_split_to_table(lower(name COLLATE "C"), '[^a-z0-9]+') AS word
    WHERE word <> ''
);

CREATE TABLE name_words (
    word        TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    sekuire_id  TEXT COLLATE "C" NOT NULL
);

INSERT INTO name_words (word, name, sekuire_id)
    SELECT word, name, sekuire_id FROM agent_names, unnest(agent_name_words(name)) AS word
    ORDER BY word, name, sekuire_id;

ALTER TABLE name_words ADD PRIMARY KEY (word, name, sekuire_id);

CREATE TABLE name_vocabulary (
    word  TEXT COLLATE "C" PRIMARY KEY
);

INSERT INTO name_vocabulary (word) SELECT DISTINCT word FROM name_words;
CREATE INDEX name_vocabulary_trigrams ON name_vocabulary USING gin (word gin_trgm_ops);
CREATE INDEX name_vocabulary_pieces ON name_vocabulary USING gin (agent_name_pieces(word));

-- `agent_names` follows every insert, rename and delete of `agents` (migration 0006 and
-- the foreign key's cascade), so the words follow `agent_names`.
CREATE FUNCTION name_words_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO name_words (word, name, sekuire_id)
        SELECT word, name, sekuire_id FROM inserted, unnest(agent_name_words(name)) AS word;
    INSERT INTO name_vocabulary (word)
        SELECT DISTINCT word FROM inserted, unnest(agent_name_words(name)) AS word
        ORDER BY word
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION name_words_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM name_words USING removed, unnest(agent_name_words(removed.name)) AS word
        WHERE name_words.word = word.word AND name_words.name = removed.name
            AND name_words.sekuire_id = removed.sekuire_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION name_words_rename() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM name_words
        WHERE word = ANY(agent_name_words(OLD.name)) AND name = OLD.name
            AND sekuire_id = OLD.sekuire_id;
    INSERT INTO name_words (word, name, sekuire_id)
        SELECT word, NEW.name, NEW.sekuire_id FROM unnest(agent_name_words(NEW.name)) AS word;
    INSERT INTO name_vocabulary (word)
        SELECT word FROM unnest(agent_name_words(NEW.name)) AS word
        ORDER BY word
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER name_words_insert AFTER INSERT ON agent_names
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION name_words_insert();
CREATE TRIGGER name_words_delete AFTER DELETE ON agent_names
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION name_words_delete();
CREATE TRIGGER name_words_rename AFTER UPDATE OF name ON agent_names
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION name_words_rename();

ANALYZE name_words;
ANALYZE name_vocabulary;
