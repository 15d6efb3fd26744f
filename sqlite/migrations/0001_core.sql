-- +goose Up
-- Times are INTEGER microseconds since the Unix epoch (UTC) in every table and both engines.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    time_zone   TEXT NOT NULL DEFAULT 'UTC',
    settings    TEXT NOT NULL DEFAULT '{}',
    config_version INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE tenant_counters (
    tenant_id      TEXT PRIMARY KEY REFERENCES tenants(id),
    next_incident  INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL DEFAULT '',
    role           TEXT NOT NULL,
    tenant_id      TEXT REFERENCES tenants(id),
    password_hash  TEXT NOT NULL DEFAULT '',
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     INTEGER NOT NULL
);

CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    tenant_id     TEXT REFERENCES tenants(id),
    user_id       TEXT REFERENCES users(id),
    hash          TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    created_by    TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX tokens_tenant ON tokens(tenant_id);

CREATE TABLE assets (
    id               INTEGER PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    hostname         TEXT NOT NULL,
    ips              TEXT NOT NULL DEFAULT '[]',
    owner            TEXT NOT NULL DEFAULT '',
    criticality      TEXT NOT NULL DEFAULT '',
    internet_facing  BOOLEAN NOT NULL DEFAULT FALSE,
    crown_jewel      BOOLEAN NOT NULL DEFAULT FALSE,
    tags             TEXT NOT NULL DEFAULT '[]',
    os               TEXT NOT NULL DEFAULT '',
    updated_at       INTEGER NOT NULL,
    UNIQUE (tenant_id, hostname)
);

CREATE TABLE list_indicators (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    type         TEXT NOT NULL,
    value        TEXT NOT NULL,
    list         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    UNIQUE (tenant_id, type, value)
);

CREATE TABLE suppression_rules (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    name         TEXT NOT NULL,
    expression   TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    author       TEXT NOT NULL DEFAULT '',
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    hits         INTEGER NOT NULL DEFAULT 0,
    last_hit_at  INTEGER
);
CREATE INDEX suppression_rules_tenant ON suppression_rules(tenant_id);

CREATE TABLE queues (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL DEFAULT '',
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE routing_rules (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL DEFAULT '',
    position    INTEGER NOT NULL DEFAULT 0,
    name        TEXT NOT NULL DEFAULT '',
    expression  TEXT NOT NULL,
    queue       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX routing_rules_tenant ON routing_rules(tenant_id, position);

CREATE TABLE incidents (
    id                INTEGER PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    number            INTEGER NOT NULL,
    title             TEXT NOT NULL,
    priority          INTEGER NOT NULL,
    status            TEXT NOT NULL,
    queue             TEXT NOT NULL,
    assignee          TEXT NOT NULL DEFAULT '',
    category          TEXT NOT NULL DEFAULT '',
    confidence        INTEGER NOT NULL DEFAULT 0,
    reasons           TEXT NOT NULL DEFAULT '[]',
    alert_count       INTEGER NOT NULL DEFAULT 0,
    tactics           TEXT NOT NULL DEFAULT '[]',
    techniques        TEXT NOT NULL DEFAULT '[]',
    first_seen        INTEGER NOT NULL,
    last_seen         INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    ack_due           INTEGER,
    resolve_due       INTEGER,
    acknowledged_at   INTEGER,
    contained_at      INTEGER,
    resolved_at       INTEGER,
    escalation_level  INTEGER NOT NULL DEFAULT 0,
    merged_into       INTEGER,
    UNIQUE (tenant_id, number)
);
CREATE INDEX incidents_tenant_status ON incidents(tenant_id, status);
CREATE INDEX incidents_open_due ON incidents(status, ack_due, resolve_due);

CREATE TABLE incident_entities (
    tenant_id    TEXT NOT NULL,
    incident_id  INTEGER NOT NULL REFERENCES incidents(id),
    entity       TEXT NOT NULL,
    last_seen    INTEGER NOT NULL,
    PRIMARY KEY (incident_id, entity)
);
CREATE INDEX incident_entities_lookup ON incident_entities(tenant_id, entity);

CREATE TABLE alert_groups (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    incident_id  INTEGER,
    count        INTEGER NOT NULL DEFAULT 1,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    open         BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE UNIQUE INDEX alert_groups_open ON alert_groups(tenant_id, fingerprint) WHERE open;
CREATE INDEX alert_groups_incident ON alert_groups(incident_id);

CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY,
    uid            TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    format         TEXT NOT NULL,
    vendor         TEXT NOT NULL DEFAULT '',
    product        TEXT NOT NULL DEFAULT '',
    source_id      TEXT NOT NULL DEFAULT '',
    rule_id        TEXT NOT NULL DEFAULT '',
    rule_name      TEXT NOT NULL DEFAULT '',
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    category       TEXT NOT NULL DEFAULT '',
    severity       INTEGER NOT NULL,
    severity_score INTEGER NOT NULL,
    severity_raw   TEXT NOT NULL DEFAULT '',
    tactics        TEXT NOT NULL DEFAULT '[]',
    techniques     TEXT NOT NULL DEFAULT '[]',
    observables    TEXT NOT NULL DEFAULT '[]',
    detected_at    INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    flags          TEXT NOT NULL DEFAULT '[]',
    raw            BLOB,
    fingerprint    TEXT NOT NULL DEFAULT '',
    group_id       INTEGER,
    incident_id    INTEGER,
    priority       INTEGER NOT NULL DEFAULT 0,
    confidence     INTEGER NOT NULL DEFAULT 0,
    reasons        TEXT NOT NULL DEFAULT '[]',
    status         TEXT NOT NULL,
    suppressed_by  TEXT NOT NULL DEFAULT '',
    enrichment     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX alerts_tenant ON alerts(tenant_id, id);
CREATE INDEX alerts_incident ON alerts(incident_id);

CREATE TABLE timeline (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    incident_id  INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    text         TEXT NOT NULL,
    data         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX timeline_incident ON timeline(incident_id, id);

CREATE TABLE channels (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    target        TEXT NOT NULL,
    secret        TEXT NOT NULL DEFAULT '',
    events        TEXT NOT NULL DEFAULT '[]',
    min_priority  INTEGER NOT NULL DEFAULT 4,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    INTEGER NOT NULL
);
CREATE INDEX channels_tenant ON channels(tenant_id);

CREATE TABLE notifications (
    id               INTEGER PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    channel_id       INTEGER NOT NULL,
    event            TEXT NOT NULL,
    incident_id      INTEGER,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    next_attempt_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
CREATE INDEX notifications_tenant ON notifications(tenant_id, id);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    tenant_id  TEXT NOT NULL DEFAULT '',
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '',
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, seq);

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- audit_head holds the newest entry's sequence and hash, updated with every append, so that removing
-- entries from the end of the log is detected too.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY,
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE processed_messages (
    stream        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    processed_at  INTEGER NOT NULL,
    PRIMARY KEY (stream, seq)
);

CREATE TABLE dead_letters (
    id        INTEGER PRIMARY KEY,
    subject   TEXT NOT NULL,
    data      BLOB,
    error     TEXT NOT NULL,
    at        INTEGER NOT NULL
);

-- +goose Down
SELECT 1;
