-- +goose Up
-- Intel bot (issue 3): indicators with their sources, sightings, feeds and feed status.
-- Times are INTEGER microseconds since the Unix epoch (UTC). tenant_id '' is the MSSP-wide set (no
-- foreign key for that reason). Go side: intel.Store (intel/store.go); the in-memory MemStore is the
-- reference implementation of every query below.

CREATE TABLE intel_indicators (
    tenant_id       TEXT NOT NULL DEFAULT '',
    type            TEXT NOT NULL,
    value           TEXT NOT NULL,
    id              TEXT NOT NULL,              -- STIX id, deterministic from type and value
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    confidence      INTEGER NOT NULL DEFAULT 0, -- combined over sources, 0-100
    tlp             INTEGER NOT NULL DEFAULT 0, -- 0 clear, 1 green, 2 amber, 3 amber+strict, 4 red
    tags            TEXT NOT NULL DEFAULT '[]', -- JSON array
    kill_chain      TEXT NOT NULL DEFAULT '[]', -- JSON array of {kill_chain_name, phase_name}
    description     TEXT NOT NULL DEFAULT '',
    pattern         TEXT NOT NULL DEFAULT '',
    sightings       INTEGER NOT NULL DEFAULT 0,
    last_sighting   INTEGER,
    false_positives INTEGER NOT NULL DEFAULT 0,
    revoked         BOOLEAN NOT NULL DEFAULT FALSE,
    filtered_by     TEXT NOT NULL DEFAULT '',   -- warninglist name
    created         INTEGER NOT NULL,
    modified        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, type, value)
);
CREATE INDEX intel_indicators_modified ON intel_indicators(tenant_id, modified);
CREATE INDEX intel_indicators_id ON intel_indicators(tenant_id, id);
CREATE INDEX intel_indicators_value ON intel_indicators(value);

CREATE TABLE intel_indicator_sources (
    tenant_id    TEXT NOT NULL DEFAULT '',
    type         TEXT NOT NULL,
    value        TEXT NOT NULL,
    source       TEXT NOT NULL,
    reliability  INTEGER NOT NULL DEFAULT 0,
    confidence   INTEGER NOT NULL DEFAULT 0,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    ref          TEXT NOT NULL DEFAULT '',
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    valid_until  INTEGER,
    PRIMARY KEY (tenant_id, type, value, source),
    FOREIGN KEY (tenant_id, type, value) REFERENCES intel_indicators(tenant_id, type, value) ON DELETE CASCADE
);
CREATE INDEX intel_indicator_sources_source ON intel_indicator_sources(tenant_id, source);

CREATE TABLE intel_sightings (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL DEFAULT '',     -- owner of the indicator
    seen_by       TEXT NOT NULL DEFAULT '',     -- tenant in whose data it was seen
    indicator_id  TEXT NOT NULL,
    type          TEXT NOT NULL,
    value         TEXT NOT NULL,
    observed      TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL,
    ref           TEXT NOT NULL DEFAULT '',
    kind          INTEGER NOT NULL DEFAULT 0,   -- 0 sighting, 1 false positive, 2 expiration
    at            INTEGER NOT NULL
);
CREATE UNIQUE INDEX intel_sightings_dedupe ON intel_sightings(tenant_id, indicator_id, source, ref, kind) WHERE ref <> '';
CREATE INDEX intel_sightings_indicator ON intel_sightings(tenant_id, indicator_id, at);

CREATE TABLE intel_feeds (
    tenant_id    TEXT NOT NULL DEFAULT '',
    name         TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    config       TEXT NOT NULL,                 -- intel.Feed as JSON (secrets are not in it)
    auth_sealed  BLOB,                          -- intel.FeedAuth sealed with the tenant's age key
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE intel_feed_status (
    tenant_id      TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL,
    etag           TEXT NOT NULL DEFAULT '',
    last_modified  TEXT NOT NULL DEFAULT '',
    cursor         TEXT NOT NULL DEFAULT '',
    last_attempt   INTEGER,
    last_success   INTEGER,
    healthy        BOOLEAN NOT NULL DEFAULT FALSE,
    failures       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT NOT NULL DEFAULT '',
    last_status    INTEGER NOT NULL DEFAULT 0,
    not_modified   BOOLEAN NOT NULL DEFAULT FALSE,
    last_stats     TEXT NOT NULL DEFAULT '{}',  -- intel.IngestStats as JSON
    PRIMARY KEY (tenant_id, name)
);

-- +goose Down
DROP TABLE intel_feed_status;
DROP TABLE intel_feeds;
DROP TABLE intel_sightings;
DROP TABLE intel_indicator_sources;
DROP TABLE intel_indicators;
