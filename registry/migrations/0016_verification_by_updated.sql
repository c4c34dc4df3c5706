-- A page of one verification status in order of change, with no runtime state, walks
-- this index from the status's first entry, as a page of one state walks
-- `agents_by_status_updated`. It holds the name, so a search is tested on the entry.
--
-- Through `agents_by_updated`, `q=security&verification_status=suspended&sort=-updated_at`
-- at 1M agents read about 4,000 wide rows to find 51 matches: 42-52 ms. A lease sets
-- neither column, so heartbeats never write here.
CREATE INDEX agents_by_verification_updated
    ON agents (verification_status, updated_at, sekuire_id, name);
