-- `agents_facets` loses its heartbeat columns. Since 0008 a filter with a health reads
-- `agents_by_health`, which holds them, and `agents_facets` serves only filters without one
-- (`facet_index` in `fleet_list.rs`). Heartbeat columns in it moved an entry of it on every
-- lease, to a random page: without them a lease dirties two pages fewer, and
-- `fleet-bench leases` (100k agents and installations, 512 clients) went from about 4,300
-- to 6,600 leases/s.
DROP INDEX agents_facets;
CREATE INDEX agents_facets ON agents (runtime_status, verification_status, reputation_score);
