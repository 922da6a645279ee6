-- ---------------------------------------------------------------------------
-- Writing a refresh's snapshot rows (src/snapshot_write.c); after
-- 58_refresh_models.sql, which defines hvc._model_params and hvc._build_snapshot.
-- ---------------------------------------------------------------------------

-- The refresh's rows straight into hvc.customer_snapshot (src/snapshot_write.c):
-- the same rows as hvc._build_snapshot; a customer already in the snapshot
-- has the old row updated in place (HOT: the table keeps half of each page
-- free), tier moves too; new customers (and moves out of a tier renamed or
-- dropped since) are inserted in batches (heap pages and their WAL at once,
-- as COPY does), and old rows not updated are left to the swap's DELETE.
-- Only for the table as register_source creates it: hvc._snapshot_writable()
-- is false when it has triggers, rules, row-level security, CHECK
-- constraints, a publication of updates, a domain key or other columns, and
-- the refresh inserts then.
CREATE OR REPLACE FUNCTION hvc._snapshot_writable() RETURNS boolean
AS 'MODULE_PATHNAME', 'hvc_snapshot_writable' LANGUAGE C STABLE;
COMMENT ON FUNCTION hvc._snapshot_writable() IS
    'Internal: whether hvc._write_snapshot may write hvc.customer_snapshot directly: a plain table with the columns register_source makes, no triggers, rules, row-level security, CHECK constraints, publication of updates or domain key; else the refresh inserts hvc._build_snapshot''s rows.';

CREATE OR REPLACE FUNCTION hvc._write_snapshot(customer_proto anyelement, m hvc._model_params, as_of_day date,
                                    timezone text, has_margin boolean, basis text,
                                    segment_of_cell text[], tier_lo bigint[], tier_name text[],
                                    tier_rank integer[], tier_high boolean[], refreshed timestamptz,
                                    refresh_id bigint, move_reason text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'hvc_write_snapshot' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._write_snapshot(anyelement, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, bigint, text) IS
    'Internal: builds the rows hvc._build_snapshot returns and writes them into hvc.customer_snapshot: the old row of a customer already there is updated in place (tier moves included, unless out of a tier renamed or dropped since), other rows are inserted in batches (WAL-logged, in the caller''s transaction); with move_reason, the tier moves go into hvc.tier_history as the rows are formed (as hvc._build_snapshot); the rows written. Requires hvc._snapshot_writable().';
