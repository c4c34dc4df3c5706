-- Two-character searches through an index.
--
-- `pg_trgm` finds no trigram in `%ab%`, so ILIKE on two characters read every name (180 ms
-- at a million agents when few match). This index holds, for each name, every one- and
-- two-character piece of it with ASCII letters lowercased, the case folding ILIKE has on
-- these `COLLATE "C"` columns. A two-character ASCII search that few names hold asks for
-- the names holding its lowercased text as a piece (`@>`), then ILIKE decides as before
-- (`postgres/fleet_list.rs`, which must write the expression exactly so for the planner to
-- use the index).
CREATE FUNCTION agent_name_pieces(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(
    SELECT DISTINCT lower(substr(name, start, width) COLLATE "C")
    FROM generate_series(1, length(name)) AS start, (VALUES (1), (2)) AS widths (width)
    WHERE start + width - 1 <= length(name)
);

CREATE INDEX agents_name_pieces ON agents USING gin (agent_name_pieces(name));
ANALYZE agents;
