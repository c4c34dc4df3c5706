-- The fleet summary's counts, kept as agents change instead of counted on every request:
-- the summary at a million agents took a second to count. One row per facet:
-- 'total', 'runtime:<state>', 'verification:<status>', 'reputation:<bucket>' (bucket b holds
-- scores 10b to 10b + 9, and bucket 9 also 100). Health depends on the time, so it is not
-- kept here (see the store's summary).
CREATE TABLE fleet_counts (
    facet   TEXT PRIMARY KEY NOT NULL,
    agents  INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO fleet_counts (facet, agents)
    SELECT 'total', COUNT(*) FROM agents;
INSERT INTO fleet_counts (facet, agents)
    SELECT 'runtime:' || runtime_status, COUNT(*) FROM agents GROUP BY runtime_status;
INSERT INTO fleet_counts (facet, agents)
    SELECT 'verification:' || verification_status, COUNT(*) FROM agents GROUP BY verification_status;
INSERT INTO fleet_counts (facet, agents)
    SELECT 'reputation:' || MIN(reputation_score / 10, 9), COUNT(*) FROM agents
    GROUP BY MIN(reputation_score / 10, 9);

CREATE TRIGGER fleet_counts_insert AFTER INSERT ON agents BEGIN
    INSERT INTO fleet_counts (facet, agents) VALUES
        ('total', 1),
        ('runtime:' || new.runtime_status, 1),
        ('verification:' || new.verification_status, 1),
        ('reputation:' || MIN(new.reputation_score / 10, 9), 1)
    ON CONFLICT (facet) DO UPDATE SET agents = agents + 1;
END;

CREATE TRIGGER fleet_counts_delete AFTER DELETE ON agents BEGIN
    UPDATE fleet_counts SET agents = agents - 1 WHERE facet IN (
        'total',
        'runtime:' || old.runtime_status,
        'verification:' || old.verification_status,
        'reputation:' || MIN(old.reputation_score / 10, 9));
END;

CREATE TRIGGER fleet_counts_update
AFTER UPDATE OF runtime_status, verification_status, reputation_score ON agents
WHEN old.runtime_status IS NOT new.runtime_status
  OR old.verification_status IS NOT new.verification_status
  OR MIN(old.reputation_score / 10, 9) IS NOT MIN(new.reputation_score / 10, 9)
BEGIN
    UPDATE fleet_counts SET agents = agents - 1 WHERE facet IN (
        'runtime:' || old.runtime_status,
        'verification:' || old.verification_status,
        'reputation:' || MIN(old.reputation_score / 10, 9));
    INSERT INTO fleet_counts (facet, agents) VALUES
        ('runtime:' || new.runtime_status, 1),
        ('verification:' || new.verification_status, 1),
        ('reputation:' || MIN(new.reputation_score / 10, 9), 1)
    ON CONFLICT (facet) DO UPDATE SET agents = agents + 1;
END;
