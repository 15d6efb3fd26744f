-- +goose Up
-- Intel store (sqlstore/intel.go), compact rows for fast imports: the indicator's STIX id
-- "indicator--<uuid>" is kept as the 16 bytes of its UUID (the key index and the (tenant, modified,
-- id) index are half as wide, and bytes sort as the canonical lower-case text did), and the document
-- is a binary encoding. Rows written before keep their JSON document (as its UTF-8 bytes), which is
-- still read.
ALTER TABLE intel_indicators
    ALTER COLUMN id TYPE BYTEA USING decode(replace(lower(substr(id, 12)), '-', ''), 'hex'),
    ALTER COLUMN doc TYPE BYTEA USING convert_to(doc, 'UTF8');

-- +goose Down
-- Binary documents written since cannot be turned back into JSON here: going down loses them.
DELETE FROM intel_indicators WHERE substr(doc, 1, 1) <> '\x7b'::bytea;
ALTER TABLE intel_indicators
    ALTER COLUMN id TYPE TEXT COLLATE "C" USING 'indicator--' || substr(encode(id, 'hex'), 1, 8) || '-' || substr(encode(id, 'hex'), 9, 4) || '-' ||
        substr(encode(id, 'hex'), 13, 4) || '-' || substr(encode(id, 'hex'), 17, 4) || '-' || substr(encode(id, 'hex'), 21, 12),
    ALTER COLUMN doc TYPE TEXT USING convert_from(doc, 'UTF8');
