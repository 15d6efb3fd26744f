-- +goose Up
-- Containment bot, phase 2 (issue 4): what the SQL implementation of the ledger needs beyond 0200.
-- Approvals are numbered per action (the store appends only new ones); never-block lists per tenant
-- and MSSP-wide (tenant_id ''); the persisted cursor of the incident feed; and an index on
-- incidents(updated_at, id), the feed's query. Times are INTEGER microseconds since the Unix epoch.

ALTER TABLE containment_approvals ADD COLUMN n INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX containment_approvals_n ON containment_approvals(action_id, n);

CREATE TABLE containment_never_block (
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL DEFAULT '',
    value       TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, value)
);

-- Where a feed (e.g. the containment bot's incident poll) has read up to, so that a restart resumes.
CREATE TABLE containment_cursors (
    name        TEXT PRIMARY KEY,
    at          INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE INDEX incidents_updated ON incidents(updated_at, id);

-- +goose Down
DROP INDEX incidents_updated;
DROP TABLE containment_cursors;
DROP TABLE containment_never_block;
DROP INDEX containment_approvals_n;
ALTER TABLE containment_approvals DROP COLUMN n;
