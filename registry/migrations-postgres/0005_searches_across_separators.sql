-- Searches across a separator through the index of name pieces.
--
-- `pg_trgm` splits a name into words at every character other than a letter or a digit, so
-- none of its trigrams holds a `-`. A typo such as `%triage-7%` asked the trigram index for
-- the names holding `triage` and a word starting with `7`; at a million agents it then read
-- the 7,053 that did, to find none (68 ms). The index of name pieces now also holds each
-- three-character piece with a character other than `a`-`z` or `0`-`9` in it, after ASCII
-- lowercasing (`ge-`, `e-7`). A search that holds a piece few names have finds its few
-- candidates there (0.2 ms for `triage-7`; `postgres/fleet_estimates.rs` decides when).
--
-- The pieces are no longer made distinct, and the name is lowercased once: GIN keeps a
-- key once per row anyway. With the three-character pieces added, the function costs what
-- it did before (about 40 µs a name), which matters because every heartbeat rewrites the
-- agent's index entries.
DROP INDEX agents_name_pieces;

CREATE OR REPLACE FUNCTION agent_name_pieces(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(
    SELECT substr(folded, start, width)
    FROM lower(name COLLATE "C") AS folded,
        -- `a` where the name has an ASCII letter or digit.
        translate(folded, 'bcdefghijklmnopqrstuvwxyz0123456789', repeat('a', 35)) AS shape,
        generate_series(1, length(name)) AS start,
        (VALUES (1), (2), (3)) AS widths (width)
    WHERE start + width - 1 <= length(name)
        AND (width < 3 OR substr(shape, start, 3) <> 'aaa')
);

CREATE INDEX agents_name_pieces ON agents USING gin (agent_name_pieces(name));
ANALYZE agents;
