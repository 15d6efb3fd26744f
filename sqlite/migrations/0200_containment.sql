-- +goose Up
-- Containment bot (issue 4): the action ledger, its approvals and vendor attempts, each tenant's
-- connector instances (credentials sealed with age, never stored in clear), versioned playbooks and
-- playbook runs. Times are INTEGER microseconds since the Unix epoch (UTC); durations are milliseconds.
-- Go side: containment.Store, containment.ConnectorInstance, playbook.RunStore, playbook.Library.

CREATE TABLE containment_actions (
    id                  INTEGER PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    kind                TEXT NOT NULL,
    value               TEXT NOT NULL,
    connector_id        TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('requested','awaiting_approval','approved','applying','applied','expiring','removed','failed','denied')),
    requested_by        TEXT NOT NULL,
    reason              TEXT NOT NULL DEFAULT '',
    incident_id         INTEGER,
    playbook_step       TEXT NOT NULL DEFAULT '',
    confidence          INTEGER NOT NULL DEFAULT 0,
    crown_jewel         BOOLEAN NOT NULL DEFAULT FALSE,
    ttl_ms              INTEGER NOT NULL DEFAULT 0,
    required_approvals  INTEGER NOT NULL DEFAULT 0,
    approval_deadline   INTEGER,
    escalations         INTEGER NOT NULL DEFAULT 0,
    policy_rule         TEXT NOT NULL DEFAULT '',
    next_attempt_at     INTEGER NOT NULL DEFAULT 0,
    lease_owner         TEXT NOT NULL DEFAULT '',
    lease_until         INTEGER NOT NULL DEFAULT 0,
    vendor_ref          TEXT NOT NULL DEFAULT '',
    applied_at          INTEGER,
    expires_at          INTEGER,
    native_expiry       BOOLEAN NOT NULL DEFAULT FALSE,
    removed_at          INTEGER,
    rollback_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    in_doubt            BOOLEAN NOT NULL DEFAULT FALSE,
    detail              TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1
);
-- The idempotency key: one live action per (tenant, kind, value, connector).
CREATE UNIQUE INDEX containment_actions_live ON containment_actions(tenant_id, kind, value, connector_id)
    WHERE state NOT IN ('removed','failed','denied');
-- Claim: work due at the vendor (approved, applying with a lapsed lease, expiring).
CREATE INDEX containment_actions_due ON containment_actions(next_attempt_at)
    WHERE state IN ('approved','applying','expiring');
CREATE INDEX containment_actions_incident ON containment_actions(tenant_id, incident_id);
CREATE INDEX containment_actions_created ON containment_actions(tenant_id, created_at);
CREATE INDEX containment_actions_deadline ON containment_actions(approval_deadline) WHERE state = 'awaiting_approval';
CREATE INDEX containment_actions_expiry ON containment_actions(expires_at) WHERE state = 'applied';

CREATE TABLE containment_approvals (
    id          INTEGER PRIMARY KEY,
    action_id   INTEGER NOT NULL REFERENCES containment_actions(id),
    tenant_id   TEXT NOT NULL,
    principal   TEXT NOT NULL,
    approved    BOOLEAN NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    at          INTEGER NOT NULL
);
-- Distinct approvers: a person approves an action once.
CREATE UNIQUE INDEX containment_approvals_once ON containment_approvals(action_id, principal) WHERE approved;

CREATE TABLE containment_attempts (
    id              INTEGER PRIMARY KEY,
    action_id       INTEGER NOT NULL REFERENCES containment_actions(id),
    tenant_id       TEXT NOT NULL,
    n               INTEGER NOT NULL,
    op              TEXT NOT NULL CHECK (op IN ('apply','remove','check')),
    at              INTEGER NOT NULL,
    took_ms         INTEGER NOT NULL DEFAULT 0,
    outcome         TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    status          INTEGER NOT NULL DEFAULT 0,
    code            TEXT NOT NULL DEFAULT '',
    retryable       BOOLEAN NOT NULL DEFAULT FALSE,
    retry_after_ms  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (action_id, n)
);

CREATE TABLE connector_instances (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    id                  TEXT NOT NULL,
    type                TEXT NOT NULL,
    base_url            TEXT NOT NULL DEFAULT '',
    options             TEXT NOT NULL DEFAULT '{}',
    timeout_ms          INTEGER NOT NULL DEFAULT 0,
    sealed_credentials  BLOB,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Playbooks: every version kept; tenant_id '' holds the MSSP-wide library.
CREATE TABLE playbooks (
    tenant_id   TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    source      TEXT NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name, version)
);

CREATE TABLE playbook_runs (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    playbook       TEXT NOT NULL,
    version        INTEGER NOT NULL,
    incident_id    INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('running','waiting','done','failed')),
    next_step      INTEGER NOT NULL DEFAULT 0,
    resume_at      INTEGER NOT NULL DEFAULT 0,
    min_approvals  INTEGER NOT NULL DEFAULT 0,
    outcomes       TEXT NOT NULL DEFAULT '[]',
    enrichment     TEXT NOT NULL DEFAULT '[]',
    incident       TEXT NOT NULL DEFAULT '{}',
    alerts         TEXT NOT NULL DEFAULT '[]',
    started_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, playbook, version, incident_id)
);
CREATE INDEX playbook_runs_due ON playbook_runs(resume_at) WHERE state = 'waiting';

-- +goose Down
DROP TABLE playbook_runs;
DROP TABLE playbooks;
DROP TABLE connector_instances;
DROP TABLE containment_attempts;
DROP TABLE containment_approvals;
DROP TABLE containment_actions;
