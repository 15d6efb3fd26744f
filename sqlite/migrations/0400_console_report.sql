-- +goose Up
-- Console and report bot (issue 6): sign-in state and sessions of the web console, full-text search
-- over incidents, report branding, schedules and stored report runs. Times are INTEGER microseconds
-- since the Unix epoch (UTC). Go side: socbot.ConsoleStore and socbot.ReportStore in sqlstore.

-- Reports select alerts and incidents of one tenant by time.
CREATE INDEX alerts_tenant_received ON alerts(tenant_id, received_at);
CREATE INDEX incidents_tenant_created ON incidents(tenant_id, created_at);

CREATE TABLE console_logins (
    user_id       TEXT PRIMARY KEY REFERENCES users(id),
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    totp_secret   TEXT NOT NULL DEFAULT '',
    updated_at    INTEGER NOT NULL
);

CREATE TABLE console_sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    email       TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    tenant      TEXT NOT NULL DEFAULT '',
    method      TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);

-- Full text over incident titles, categories and assignees (external content: the incidents table).
CREATE VIRTUAL TABLE incidents_fts USING fts5(title, category, assignee, content='incidents', content_rowid='id', tokenize='unicode61');
INSERT INTO incidents_fts(rowid, title, category, assignee) SELECT id, title, category, assignee FROM incidents;
-- +goose StatementBegin
CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents BEGIN
    INSERT INTO incidents_fts(rowid, title, category, assignee) VALUES (new.id, new.title, new.category, new.assignee);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER incidents_fts_update AFTER UPDATE OF title, category, assignee ON incidents BEGIN
    INSERT INTO incidents_fts(incidents_fts, rowid, title, category, assignee) VALUES ('delete', old.id, old.title, old.category, old.assignee);
    INSERT INTO incidents_fts(rowid, title, category, assignee) VALUES (new.id, new.title, new.category, new.assignee);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER incidents_fts_delete AFTER DELETE ON incidents BEGIN
    INSERT INTO incidents_fts(incidents_fts, rowid, title, category, assignee) VALUES ('delete', old.id, old.title, old.category, old.assignee);
END;
-- +goose StatementEnd

CREATE TABLE report_branding (
    tenant_id      TEXT PRIMARY KEY REFERENCES tenants(id),
    display_name   TEXT NOT NULL DEFAULT '',
    logo           TEXT NOT NULL DEFAULT '',
    primary_color  TEXT NOT NULL DEFAULT '',
    accent_color   TEXT NOT NULL DEFAULT '',
    updated_at     INTEGER NOT NULL
);

CREATE TABLE report_schedules (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    cadence      TEXT NOT NULL CHECK (cadence IN ('monthly', 'quarterly')),
    audience     TEXT NOT NULL CHECK (audience IN ('management', 'technical')),
    recipients   TEXT NOT NULL DEFAULT '[]',
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    next_run_at  INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    last_run_at  INTEGER,
    last_status  TEXT NOT NULL DEFAULT '',
    last_error   TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX report_schedules_due ON report_schedules(next_run_at) WHERE enabled;
CREATE INDEX report_schedules_tenant ON report_schedules(tenant_id);

CREATE TABLE report_runs (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    schedule_id   INTEGER,
    period        TEXT NOT NULL,
    period_from   INTEGER NOT NULL,
    period_to     INTEGER NOT NULL,
    audience      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error         TEXT NOT NULL DEFAULT '',
    html          BLOB,
    pdf           BLOB,
    sha256        TEXT NOT NULL DEFAULT '',
    delivery      TEXT NOT NULL DEFAULT '',
    requested_by  TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);
CREATE INDEX report_runs_tenant ON report_runs(tenant_id, id);
CREATE INDEX report_runs_schedule ON report_runs(schedule_id, id);

-- +goose Down
SELECT 1;
