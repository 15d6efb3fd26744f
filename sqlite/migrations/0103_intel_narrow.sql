-- +goose Up
-- Intel store (sqlstore/intel.go): the match index's base score, reference time and expiry move
-- from columns into the head of the binary document (every import binds three values fewer per
-- row). They are derived from the document, so rows written before keep all they had: the store
-- computes them for documents without the head.
CREATE TABLE intel_indicators_0103 (
    tenant_id     TEXT NOT NULL,
    id            BLOB NOT NULL,     -- the UUID of the STIX id, 16 bytes: (tenant, id) is the identity
    type          TEXT NOT NULL,
    value         TEXT NOT NULL,
    modified      INTEGER NOT NULL,
    tlp           INTEGER NOT NULL,  -- 0 clear, 1 green, 2 amber, 3 amber+strict, 4 red
    dead          BOOLEAN NOT NULL,  -- revoked or filtered by a warninglist: never matched or published
    source_names  TEXT NOT NULL,     -- X'1f' || sorted source names joined by X'1f' || X'1f', for "has source" filters
    tags          TEXT NOT NULL,     -- JSON array
    doc           BLOB NOT NULL,     -- everything else, binary (sqlstore/intel_doc.go); JSON in rows of 0101
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO intel_indicators_0103 (tenant_id, id, type, value, modified, tlp, dead, source_names, tags, doc)
    SELECT tenant_id, id, type, value, modified, tlp, dead, source_names, tags, doc FROM intel_indicators ORDER BY tenant_id, id;
DROP TABLE intel_indicators;
ALTER TABLE intel_indicators_0103 RENAME TO intel_indicators;
-- TAXII paging and "changed since" (keyset on modified, id).
CREATE INDEX intel_indicators_modified ON intel_indicators(tenant_id, modified, id);

-- +goose Down
-- The columns come back as 0: the store of 0102 would read a base score of 0 until each indicator
-- is written again.
CREATE TABLE intel_indicators_0102 (
    tenant_id     TEXT NOT NULL,
    id            BLOB NOT NULL,
    type          TEXT NOT NULL,
    value         TEXT NOT NULL,
    modified      INTEGER NOT NULL,
    tlp           INTEGER NOT NULL,
    dead          BOOLEAN NOT NULL,
    base          INTEGER NOT NULL,
    ref           INTEGER NOT NULL,
    valid_until   INTEGER NOT NULL,
    source_names  TEXT NOT NULL,
    tags          TEXT NOT NULL,
    doc           BLOB NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO intel_indicators_0102 (tenant_id, id, type, value, modified, tlp, dead, base, ref, valid_until, source_names, tags, doc)
    SELECT tenant_id, id, type, value, modified, tlp, dead, 0, 0, 0, source_names, tags, doc FROM intel_indicators;
DROP TABLE intel_indicators;
ALTER TABLE intel_indicators_0102 RENAME TO intel_indicators;
CREATE INDEX intel_indicators_modified ON intel_indicators(tenant_id, modified, id);
