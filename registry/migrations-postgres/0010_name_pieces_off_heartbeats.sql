-- The index of name pieces (migrations 0004 and 0005) moves from `agents` to
-- `agent_names`, which heartbeats never touch.
--
-- A heartbeat changes an indexed column of `agents`, so it is never a HOT update: every
-- index of `agents` takes a new entry, and this one computed the name's pieces again
-- (`agent_name_pieces`, about 40 µs a name) though the name had not changed. In `psql`,
-- one statement updating 20,000 random agents' heartbeats at 1M agents took 1.8-2.3 s
-- with it and 1.0-1.1 s without it. A search that asks for pieces now takes its
-- candidates' IDs from `agent_names` (`push_search` in `postgres/fleet_list.rs`).
CREATE INDEX agent_names_pieces ON agent_names USING gin (agent_name_pieces(name));
DROP INDEX agents_name_pieces;
ANALYZE agent_names;
