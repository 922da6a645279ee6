-- Incremental refresh and partitioned sources (sql/parts/62_incremental.sql):
-- register_source gains changed_at, track_changes and product (the old
-- signatures are dropped; the definitions create the new ones), hvc.source
-- and hvc.refresh_log new columns, the stored-state bookkeeping tables.
-- The key-typed tables (hvc.customer_states, hvc.changed_customers) are made
-- by the next register_source; until then refreshes are full, as before.
DROP FUNCTION hvc.register_source(regclass, text, text, text, text, text);
DROP FUNCTION hvc.register_source(text, text, text, text, text, text);

ALTER TABLE hvc.source
    ADD COLUMN changed_at text,
    ADD COLUMN track_changes text NOT NULL DEFAULT 'none'
        CHECK (track_changes IN ('none', 'column', 'trigger')),
    ADD COLUMN product text;

ALTER TABLE hvc.refresh_log
    ADD COLUMN kind text CHECK (kind IN ('full', 'incremental')),
    ADD COLUMN kind_reason text;

CREATE TABLE hvc.state_info (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    format_version integer     NOT NULL,
    registration   text        NOT NULL,
    timezone       text        NOT NULL,
    as_of_local    timestamp   NOT NULL,
    watermark      timestamptz,
    refresh_id     bigint      NOT NULL,
    customers      bigint      NOT NULL,
    source_rows    bigint      NOT NULL,
    source_files   text
);
SELECT pg_catalog.pg_extension_config_dump('hvc.state_info', '');

CREATE TABLE hvc.state_invalidations (
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    reason       text        NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('hvc.state_invalidations', '');
