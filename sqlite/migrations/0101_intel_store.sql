-- +goose Up
-- Intel bot (issue 3), the tables the SQL intel.Store (sqlstore/intel.go) works on. They replace the
-- first draft of 0100, which no code ever wrote. An indicator is one row keyed by tenant and STIX id
-- (deterministic from type and canonical value, so a feed's values are looked up by id), with the
-- columns that filters and the match index read, and the rest as one JSON document: a bulk import
-- costs one random B-tree insert per indicator and few bound parameters.
-- Times are INTEGER microseconds since the Unix epoch (UTC), 0 for "never".
-- tenant_id '' is the MSSP-wide set (no foreign key for that reason).
DROP TABLE IF EXISTS intel_indicator_sources;
DROP TABLE IF EXISTS intel_sightings;
DROP TABLE IF EXISTS intel_feed_status;
DROP TABLE IF EXISTS intel_feeds;
DROP TABLE IF EXISTS intel_indicators;

CREATE TABLE intel_indicators (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,  -- STIX id: a UUIDv5 of type and value, so (tenant, id) is the identity
    type          TEXT NOT NULL,
    value         TEXT NOT NULL,
    modified      INTEGER NOT NULL,
    tlp           INTEGER NOT NULL,  -- 0 clear, 1 green, 2 amber, 3 amber+strict, 4 red
    dead          BOOLEAN NOT NULL, -- revoked or filtered by a warninglist: never matched or published
    base          INTEGER NOT NULL,  -- the match index's view: base score before ageing,
    ref           INTEGER NOT NULL,  -- the time ageing counts from,
    valid_until   INTEGER NOT NULL,  -- and the sources' expiry (0: none)
    source_names  TEXT NOT NULL,  -- X'1f' || sorted source names joined by X'1f' || X'1f', for "has source" filters
    tags          TEXT NOT NULL,  -- JSON array
    doc           TEXT NOT NULL,  -- everything else as JSON (see sqlstore/intel.go): sources, seen times, confidence...
    PRIMARY KEY (tenant_id, id)
);
-- TAXII paging and "changed since" (keyset on modified, id).
CREATE INDEX intel_indicators_modified ON intel_indicators(tenant_id, modified, id);

CREATE TABLE intel_sightings (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL,        -- owner of the indicator ('' MSSP-wide)
    seen_by       TEXT NOT NULL,        -- tenant in whose data it was seen
    indicator_id  TEXT NOT NULL,
    type          TEXT NOT NULL,
    value         TEXT NOT NULL,
    observed      TEXT NOT NULL,
    source        TEXT NOT NULL,
    ref           TEXT NOT NULL,
    kind          INTEGER NOT NULL,     -- 0 sighting, 1 false positive, 2 expiration
    at            INTEGER NOT NULL
);
CREATE UNIQUE INDEX intel_sightings_dedupe ON intel_sightings(tenant_id, indicator_id, seen_by, source, ref, kind) WHERE ref <> '';
CREATE INDEX intel_sightings_indicator ON intel_sightings(tenant_id, indicator_id, at);

CREATE TABLE intel_feeds (
    tenant_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    config       TEXT NOT NULL,         -- intel.Feed as JSON, without secrets
    auth_sealed  BLOB,                  -- the feed's credentials sealed with the tenant's age key
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE intel_feed_status (
    tenant_id      TEXT NOT NULL,
    name           TEXT NOT NULL,
    etag           TEXT NOT NULL,
    last_modified  TEXT NOT NULL,
    cursor         TEXT NOT NULL,
    last_attempt   INTEGER NOT NULL,
    last_success   INTEGER NOT NULL,
    healthy        BOOLEAN NOT NULL,
    failures       INTEGER NOT NULL,
    last_error     TEXT NOT NULL,
    last_status    INTEGER NOT NULL,
    not_modified   BOOLEAN NOT NULL,
    last_stats     TEXT NOT NULL,       -- intel.IngestStats as JSON
    lease_owner    TEXT NOT NULL,       -- the node collecting the feed now, so that one node runs it
    lease_until    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- +goose Down
DROP TABLE intel_feed_status;
DROP TABLE intel_feeds;
DROP TABLE intel_sightings;
DROP TABLE intel_indicators;
