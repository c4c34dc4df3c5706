-- The fleet summary's counts, kept as agents change instead of counted on every request
-- (as SQLite's migration 0007). One row per facet: 'total', 'runtime:<state>',
-- 'verification:<status>', 'reputation:<bucket>'. Health depends on the time and is not
-- kept here.
--
-- Inserts and deletes count through statement-level triggers over transition tables: a
-- bulk insert adds its counts in one upsert, not one per row. Updates count per row, and
-- only rows whose state, verification or reputation bucket changed (PostgreSQL allows no
-- column list on a trigger with transition tables): heartbeats never fire it. The upsert
-- takes the facet rows in key order, so concurrent changes wait for each other instead of
-- deadlocking.
CREATE TABLE fleet_counts (
    facet   TEXT COLLATE "C" PRIMARY KEY,
    agents  BIGINT NOT NULL
);

-- The facets an agent counts in, besides 'total'.
CREATE FUNCTION fleet_facets(runtime TEXT, verification TEXT, reputation BIGINT)
RETURNS TEXT[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['runtime:' || runtime, 'verification:' || verification,
                 'reputation:' || LEAST(reputation / 10, 9)]
$$;

INSERT INTO fleet_counts (facet, agents)
    SELECT 'total', COUNT(*) FROM agents
    UNION ALL
    SELECT facet, COUNT(*) FROM agents,
        unnest(fleet_facets(runtime_status, verification_status, reputation_score)) AS facet
    GROUP BY facet;

CREATE FUNCTION fleet_counts_apply(changes TEXT[], deltas BIGINT[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO fleet_counts (facet, agents)
    SELECT facet, SUM(delta) FROM unnest(changes, deltas) AS c(facet, delta)
    GROUP BY facet HAVING SUM(delta) <> 0 ORDER BY facet
    ON CONFLICT (facet) DO UPDATE SET agents = fleet_counts.agents + EXCLUDED.agents
$$;

CREATE FUNCTION fleet_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fleet_counts_apply(array_agg(facet), array_agg(1::BIGINT))
    FROM (SELECT 'total' AS facet FROM inserted
          UNION ALL
          SELECT unnest(fleet_facets(runtime_status, verification_status, reputation_score))
          FROM inserted) AS f;
    RETURN NULL;
END
$$;

CREATE FUNCTION fleet_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fleet_counts_apply(array_agg(facet), array_agg(-1::BIGINT))
    FROM (SELECT 'total' AS facet FROM removed
          UNION ALL
          SELECT unnest(fleet_facets(runtime_status, verification_status, reputation_score))
          FROM removed) AS f;
    RETURN NULL;
END
$$;

CREATE FUNCTION fleet_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fleet_counts_apply(
        fleet_facets(OLD.runtime_status, OLD.verification_status, OLD.reputation_score)
            || fleet_facets(NEW.runtime_status, NEW.verification_status, NEW.reputation_score),
        ARRAY[-1, -1, -1, 1, 1, 1]::BIGINT[]);
    RETURN NULL;
END
$$;

CREATE TRIGGER fleet_counts_insert AFTER INSERT ON agents
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION fleet_counts_insert();
CREATE TRIGGER fleet_counts_delete AFTER DELETE ON agents
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION fleet_counts_delete();
CREATE TRIGGER fleet_counts_update
    AFTER UPDATE OF runtime_status, verification_status, reputation_score ON agents
    FOR EACH ROW
    WHEN (OLD.runtime_status IS DISTINCT FROM NEW.runtime_status
       OR OLD.verification_status IS DISTINCT FROM NEW.verification_status
       OR LEAST(OLD.reputation_score / 10, 9) IS DISTINCT FROM LEAST(NEW.reputation_score / 10, 9))
    EXECUTE FUNCTION fleet_counts_update();
