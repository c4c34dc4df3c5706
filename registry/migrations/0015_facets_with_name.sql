-- `agents_facets` holds the name too, after the facets, so that a search with facets is
-- counted in the index alone.
--
-- A search's count stops at 1,001 matches. With a runtime state and a verification status
-- it walked that pair's entries of this index and read each agent's row to test its name:
-- `security` with `paused` and `verified` at 1M agents read 20,000 wide rows (about
-- 60 ms). With the name here, LIKE tests the index entry. Heartbeats change no column of
-- it, so leases never write it.
DROP INDEX agents_facets;
CREATE INDEX agents_facets ON agents (runtime_status, verification_status, reputation_score, name);
