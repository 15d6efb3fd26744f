-- +goose Up
-- Intel store (sqlstore/intel.go), compact rows for fast imports: the indicator's STIX id
-- "indicator--<uuid>" is kept as the 16 bytes of its UUID (the key index and the (tenant, modified,
-- id) index are half as wide, and bytes sort as the canonical lower-case text did), and the document
-- is a binary encoding. Rows written before keep their JSON document, which is still read.
CREATE TABLE intel_indicators_0102 (
    tenant_id     TEXT NOT NULL,
    id            BLOB NOT NULL,    -- the UUID of the STIX id, 16 bytes: (tenant, id) is the identity
    type          TEXT NOT NULL,
    value         TEXT NOT NULL,
    modified      INTEGER NOT NULL,
    tlp           INTEGER NOT NULL,  -- 0 clear, 1 green, 2 amber, 3 amber+strict, 4 red
    dead          BOOLEAN NOT NULL,  -- revoked or filtered by a warninglist: never matched or published
    base          INTEGER NOT NULL,  -- the match index's view: base score before ageing,
    ref           INTEGER NOT NULL,  -- the time ageing counts from,
    valid_until   INTEGER NOT NULL,  -- and the sources' expiry (0: none)
    source_names  TEXT NOT NULL,     -- X'1f' || sorted source names joined by X'1f' || X'1f', for "has source" filters
    tags          TEXT NOT NULL,     -- JSON array
    doc           BLOB NOT NULL,     -- everything else, binary (see sqlstore/intel_doc.go); JSON in rows of 0101
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO intel_indicators_0102 (tenant_id, id, type, value, modified, tlp, dead, base, ref, valid_until, source_names, tags, doc)
    SELECT tenant_id, unhex(replace(lower(substr(id, 12)), '-', '')), type, value, modified, tlp, dead, base, ref, valid_until,
           source_names, tags, doc
    FROM intel_indicators ORDER BY tenant_id, id;
DROP TABLE intel_indicators;
ALTER TABLE intel_indicators_0102 RENAME TO intel_indicators;
-- TAXII paging and "changed since" (keyset on modified, id).
CREATE INDEX intel_indicators_modified ON intel_indicators(tenant_id, modified, id);

-- +goose Down
-- Binary documents written since cannot be turned back into JSON here: going down loses them.
CREATE TABLE intel_indicators_0101 (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
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
    doc           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO intel_indicators_0101 (tenant_id, id, type, value, modified, tlp, dead, base, ref, valid_until, source_names, tags, doc)
    SELECT tenant_id, 'indicator--' || lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' || substr(hex(id), 13, 4) || '-' ||
           substr(hex(id), 17, 4) || '-' || substr(hex(id), 21, 12)), type, value, modified, tlp, dead, base, ref, valid_until,
           source_names, tags, CAST(doc AS TEXT)
    FROM intel_indicators WHERE hex(substr(doc, 1, 1)) = '7B';
DROP TABLE intel_indicators;
ALTER TABLE intel_indicators_0101 RENAME TO intel_indicators;
CREATE INDEX intel_indicators_modified ON intel_indicators(tenant_id, modified, id);
