-- +goose Up
-- Containment bot (issue 4): playbook runs whose node stopped in the middle of them are found by
-- updated_at (sqlstore.DueRuns), without scanning every run.
CREATE INDEX playbook_runs_running ON playbook_runs(updated_at) WHERE state = 'running';

-- +goose Down
DROP INDEX playbook_runs_running;
