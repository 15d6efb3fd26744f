-- +goose Up
-- Console (issue 6): listings filtered by status and age seek straight to the range.
CREATE INDEX incidents_tenant_status_created ON incidents(tenant_id, status, created_at);

-- +goose Down
SELECT 1;
