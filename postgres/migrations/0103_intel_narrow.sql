-- +goose Up
-- Intel store (sqlstore/intel.go): the match index's base score, reference time and expiry move
-- from columns into the head of the binary document (every import binds three values fewer per
-- row). They are derived from the document, so rows written before keep all they had: the store
-- computes them for documents without the head.
ALTER TABLE intel_indicators DROP COLUMN base, DROP COLUMN ref, DROP COLUMN valid_until;

-- +goose Down
-- The columns come back as 0: the store of 0102 would read a base score of 0 until each indicator
-- is written again.
ALTER TABLE intel_indicators ADD COLUMN base BIGINT NOT NULL DEFAULT 0, ADD COLUMN ref BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN valid_until BIGINT NOT NULL DEFAULT 0;
