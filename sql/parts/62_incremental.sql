-- ---------------------------------------------------------------------------
-- Step 1 of a refresh, the stage (pg_temp._hvc_stage: customer_id of the
-- source's key type, state = the serialised hvc.customer_state), built either
-- from the whole source (full) or from stored per-customer states merged with
-- what changed (incremental).  hvc._stage() decides which, and why.
--
-- Stored states.  With track_changes 'column' or 'trigger', every refresh
-- leaves the stage in hvc.customer_states (one row per customer key, the
-- NULL key's group included): the exact state hvc.customer_state built from
-- all of the customer's rows, cut at that refresh's as_of (rows after it are
-- counted as skipped, not kept).  hvc.state_info says what they were built
-- from: state format version, registration, timezone, as_of, watermark.
--
-- An incremental refresh recomputes, from all their rows (through the index
-- on the customer column), the states of the customers that
--   * changed: keys the triggers recorded (trigger mode), or keys of rows
--     whose changed_at is at or after the watermark (column mode) unless
--     those rows can be merged (below);
--   * skipped rows at the last refresh, when as_of has moved forward since
--     (rows after the old as_of may now count; NULL/NaN rows are also
--     skipped rows, so those few customers are recomputed each time);
--   * (column mode) lost rows: deletes leave no changed_at, so the refresh
--     counts every customer's rows and recomputes those whose count differs
--     from the rows their state was built from.  A customer nobody touched
--     can only have lost rows (an insert or an update sets changed_at), so
--     an equal count means an unchanged customer.
-- and keeps everyone else's stored state.  In trigger mode, inserted rows
-- are not reread at all: the INSERT trigger logs them (hvc.inserted_rows)
-- and the refresh merges them into the stored states (63_row_log.sql), so
-- only the customers with updated or deleted rows are recomputed.  In
-- column mode a customer whose row count grew by exactly its changed rows
-- only gained new rows: they are merged too (hvc._column_delta,
-- 64_column_delta.sql).  The later steps re-score every customer from the
-- stage, as after a full read.
--
-- A full refresh runs (reason in hvc.refresh_log.kind_reason) when
-- track_changes is 'none', full => true, there are no stored states, the
-- registration, timezone or state format changed, as_of moved back before
-- the stored states' as_of, a TRUNCATE or hvc.forget_customer happened, the
-- change triggers could not record a change, or the changed customers had
-- more than a tenth of the source's rows (and more than 10 000): reading the
-- source once is cheaper then.  (Counted in rows, not customers: a day of a
-- grocery's orders touches many customers, and new ones have no rows yet.
-- A tenth, not a fifth as before: at 50 M lines recomputing a column-mode
-- day's 102 896 customers, 10.8 % of the rows, took 31 s against 20 s for
-- a full refresh, bench/incremental.sh; the recompute reads a heap page per
-- row, a full read each page once, in order.  Since column mode merges new
-- rows, hvc._column_delta, that day recomputes 4 950 customers.)
--
-- TRUNCATE (of the table or one of its partitions), VACUUM FULL, CLUSTER and
-- attaching or detaching a partition give the source new storage files:
-- the next refresh is full (hvc._source_files), in both modes (a reloaded
-- table's rows may carry old changed_at values).
--
-- Column mode watermark: the next refresh reads rows with changed_at >= the
-- start of the oldest transaction open when this refresh began (as far as
-- pg_stat_activity shows it: roles without pg_read_all_stats see only their
-- own sessions), less a safety margin of 5 minutes for clients whose clocks
-- or changed_at values lag.  A row written by a transaction that commits
-- late with an older changed_at is therefore still read, provided changed_at
-- is set at or after the writing transaction began (DEFAULT now(), or
-- now()/clock_timestamp() in an update trigger).  Rows read twice are
-- harmless: a recomputed state is exact.
--
-- Format version: each state begins with its format byte
-- (hvc._state_format_version()); hvc.state_info.format_version records the
-- version the stored states were written with.  A release that changes the
-- format either reads the old version or, as this one does for any version
-- it did not write, rebuilds the states with a full refresh.
-- ---------------------------------------------------------------------------

ALTER TABLE hvc.source
    ADD COLUMN changed_at text,
    ADD COLUMN track_changes text NOT NULL DEFAULT 'none'
        CHECK (track_changes IN ('none', 'column', 'trigger')),
    ADD COLUMN product text;
COMMENT ON COLUMN hvc.source.changed_at IS 'Change-tracking column (timestamptz, e.g. updated_at) read by incremental refreshes in track_changes ''column'' mode; NULL otherwise.';
COMMENT ON COLUMN hvc.source.track_changes IS 'How refreshes find what changed: none (every refresh reads the whole source), column (rows whose changed_at is past the watermark), trigger (keys recorded by hvc''s statement triggers on the table).';
COMMENT ON COLUMN hvc.source.product IS 'Product column of the source (for product signals); only stored.';

ALTER TABLE hvc.refresh_log
    ADD COLUMN kind text CHECK (kind IN ('full', 'incremental')),
    ADD COLUMN kind_reason text;
COMMENT ON COLUMN hvc.refresh_log.kind IS 'full (the whole source was read) or incremental (stored states plus the changed customers); NULL before the stage was built and for refreshes before 0.2.0.';
COMMENT ON COLUMN hvc.refresh_log.kind_reason IS 'Why this kind ran: e.g. track_changes is none, full => true, source registered, TRUNCATE, timezone changed; for an incremental refresh, how many customers were recomputed and why.';

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
COMMENT ON TABLE hvc.state_info IS 'What the stored per-customer states (hvc.customer_states) were built from; one row while they exist.';
COMMENT ON COLUMN hvc.state_info.singleton IS 'Always true.';
COMMENT ON COLUMN hvc.state_info.format_version IS 'Format version of the stored states (the first byte of each); another version than hvc._state_format_version() makes the next refresh full.';
COMMENT ON COLUMN hvc.state_info.registration IS 'The source registration the states belong to (relation, columns, registered_at).';
COMMENT ON COLUMN hvc.state_info.timezone IS 'hvc.config.timezone the purchase days were reckoned in.';
COMMENT ON COLUMN hvc.state_info.as_of_local IS 'The as_of (local time) the states are cut at: rows after it were skipped.';
COMMENT ON COLUMN hvc.state_info.watermark IS 'Column mode: the next refresh reads the rows whose changed_at is at or after this.';
COMMENT ON COLUMN hvc.state_info.refresh_id IS 'The refresh that wrote the states last.';
COMMENT ON COLUMN hvc.state_info.customers IS 'Stored states (customer keys, the NULL key''s group included).';
COMMENT ON COLUMN hvc.state_info.source_files IS 'The storage files (relfilenodes) of the source''s table or partitions: TRUNCATE, VACUUM FULL, CLUSTER, or attaching and detaching partitions change them, and the next refresh is full. NULL for views.';
COMMENT ON COLUMN hvc.state_info.source_rows IS 'Source rows the stored states were built from (their sum of rows): column mode compares it with count(*) to find deletes.';

CREATE TABLE hvc.state_invalidations (
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    reason       text        NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('hvc.state_invalidations', '');
COMMENT ON TABLE hvc.state_invalidations IS 'Events that make the stored states unusable (registration, TRUNCATE, hvc.forget_customer, a change the triggers could not record): the next refresh is full and clears them.';
COMMENT ON COLUMN hvc.state_invalidations.requested_at IS 'When it happened.';
COMMENT ON COLUMN hvc.state_invalidations.reason IS 'What happened (logged as the full refresh''s kind_reason).';

CREATE OR REPLACE FUNCTION hvc._state_format_version() RETURNS integer
AS 'MODULE_PATHNAME', 'hvc_state_format_version' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvc._state_format_version() IS 'Internal: the format version of the per-customer states this build writes.';

CREATE OR REPLACE FUNCTION hvc._state_rows(state bytea) RETURNS bigint
AS 'MODULE_PATHNAME', 'hvc_state_rows' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._state_rows(bytea) IS 'Internal: the source rows a hvc.customer_state state was built from (skipped rows included).';

CREATE OR REPLACE FUNCTION hvc._state_skipped(state bytea) RETURNS bigint
AS 'MODULE_PATHNAME', 'hvc_state_skipped' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._state_skipped(bytea) IS 'Internal: the rows a hvc.customer_state state skipped (NULL or bad values, times after as_of).';

CREATE OR REPLACE FUNCTION hvc._guest_state(rows bigint) RETURNS bytea
AS 'MODULE_PATHNAME', 'hvc_guest_state' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._guest_state(bigint) IS 'Internal: the stored state of the rows without a customer key, from their number: a refresh only counts them (as read and skipped).';

-- ---------------------------------------------------------------------------
-- Registration: validating the new parameters, and setting up tracking.
-- ---------------------------------------------------------------------------

-- Validates changed_at, track_changes and product for a source; raises
-- before anything changes.
CREATE OR REPLACE FUNCTION hvc._check_tracking(rel regclass, changed_at text, track_changes text, product text)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind "char";
    owner oid;
    t regtype;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'hvc: _check_tracking needs a relation' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind, c.relowner INTO kind, owner FROM pg_class c WHERE c.oid = rel;
    IF track_changes IS NULL OR track_changes NOT IN ('none', 'column', 'trigger') THEN
        RAISE EXCEPTION 'hvc: track_changes must be none, column or trigger, not %', coalesce(quote_literal(track_changes), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'none: every refresh reads the whole source; column: pass changed_at => ''updated_at''; trigger: hvc records changed keys with triggers (table owner only).';
    END IF;
    IF changed_at IS NOT NULL THEN
        t := hvc._base_type(hvc._source_column_type(rel, 'changed_at', changed_at));
        IF t <> 'timestamptz'::regtype THEN
            RAISE EXCEPTION 'hvc: changed_at column "%" has type %, not timestamptz', changed_at, t
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Use a timestamptz column set at every insert and update, e.g. updated_at timestamptz NOT NULL DEFAULT now() with an update trigger that sets it to now().';
        END IF;
    END IF;
    IF track_changes = 'column' AND changed_at IS NULL THEN
        RAISE EXCEPTION 'hvc: track_changes => ''column'' needs changed_at'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass changed_at => ''updated_at'' (a timestamptz column set at every insert and update).';
    END IF;
    IF track_changes <> 'column' AND changed_at IS NOT NULL THEN
        RAISE EXCEPTION 'hvc: changed_at is only used with track_changes => ''column'''
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Add track_changes => ''column'', or leave changed_at out.';
    END IF;
    IF track_changes = 'trigger' THEN
        IF kind NOT IN ('r', 'p') THEN
            RAISE EXCEPTION 'hvc: track_changes => ''trigger'' needs a table; % is a %', rel,
                            CASE kind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                      WHEN 'f' THEN 'foreign table' ELSE 'relation' END
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'Views and foreign tables: use track_changes => ''column'' with a changed_at column, or ''none''.';
        END IF;
        IF hvc._citus_table(rel) THEN
            RAISE EXCEPTION 'hvc: track_changes => ''trigger'' is not available for %, a Citus table', rel
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Citus does not run triggers on distributed tables (the writes go to the shards on the workers).',
                      HINT = 'Use track_changes => ''column'' with a changed_at column (indexed), or ''none''.';
        END IF;
        IF NOT pg_has_role(current_user, owner, 'MEMBER') THEN
            RAISE EXCEPTION 'hvc: only the owner of % may register it with track_changes => ''trigger''', rel
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = format('hvc adds statement triggers to the table; it is owned by %s.', owner::regrole),
                      HINT = 'Run hvc.register_source as the table''s owner, or use track_changes => ''column''.';
        END IF;
        IF NOT has_function_privilege('hvc._record_changes()', 'EXECUTE') THEN
            RAISE EXCEPTION 'hvc: role % may not attach hvc''s change triggers', current_user
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'As hvc''s owner: GRANT EXECUTE ON FUNCTION hvc._record_changes() TO the table''s owner.';
        END IF;
    END IF;
    IF product IS NOT NULL THEN
        PERFORM hvc._source_column_type(rel, 'product', product);
    END IF;
END $$;
COMMENT ON FUNCTION hvc._check_tracking(regclass, text, text, text) IS
    'Internal: validates register_source''s changed_at, track_changes and product (types, relation kind, ownership for triggers).';

-- Whether rel has an index (of access method am, any when NULL), not
-- partial, whose first column is col: the index register_source recommends
-- (hvc._recommend_indexes) and column mode counts through in order
-- (hvc._column_delta, btree).
CREATE OR REPLACE FUNCTION hvc._index_led_by(rel regclass, col text, am name DEFAULT NULL) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_index i
                     JOIN pg_class ic ON ic.oid = i.indexrelid
                     JOIN pg_am m ON m.oid = ic.relam
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                    WHERE i.indrelid = rel AND a.attname = col AND i.indpred IS NULL
                      AND (am IS NULL OR m.amname = am))
$$;
COMMENT ON FUNCTION hvc._index_led_by(regclass, text, name) IS
    'Internal: whether a relation has a non-partial index (of the given access method, any when NULL) whose first column is the given column.';

-- A NOTICE per missing index that incremental refresh relies on.  For the
-- customer column it names two forms: the plain index, and the one that
-- also INCLUDEs the other mapped columns of the registration (hvc.source),
-- which the recompute reads alone (an index-only scan of each changed
-- customer's rows instead of a heap page per row: 4x faster at 50 M lines,
-- README "Incremental refresh"), for a larger index.
CREATE OR REPLACE FUNCTION hvc._recommend_indexes(rel regclass, customer text, changed_at text, track_changes text)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    col text;
    covered text;
BEGIN
    IF track_changes = 'none' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = rel) NOT IN ('r', 'p', 'm') THEN
        RETURN;
    END IF;
    SELECT string_agg(quote_ident(m.c), ', ' ORDER BY m.i) INTO covered
      FROM hvc.source s
     CROSS JOIN LATERAL unnest(ARRAY[s.ordered_at, s.amount, s.margin, s.order_id]) WITH ORDINALITY AS m(c, i)
     WHERE to_regclass(s.relation) = rel AND s.customer = _recommend_indexes.customer AND m.c IS NOT NULL;
    FOREACH col IN ARRAY array_remove(ARRAY[customer, changed_at], NULL) LOOP
        IF NOT hvc._index_led_by(rel, col) THEN
            RAISE NOTICE 'hvc: % has no index led by column "%"', rel, col
                USING DETAIL = CASE WHEN col = customer
                                    THEN 'An incremental refresh reads the changed customers'' rows by customer; without an index it reads the whole table each time.'
                                         || CASE WHEN covered IS NOT NULL
                                                 THEN ' An index that also includes the other mapped columns lets it read them from the index alone: faster on large tables, for a larger index.'
                                                 ELSE '' END
                                    ELSE 'An incremental refresh reads the rows changed since the last one by changed_at; without an index it reads the whole table each time.' END,
                      HINT = CASE WHEN col = customer AND covered IS NOT NULL
                                  THEN format('CREATE INDEX ON %s (%I); or, for a large table, CREATE INDEX ON %s (%I) INCLUDE (%s);',
                                              rel, col, rel, col, covered)
                                  ELSE format('CREATE INDEX ON %s (%I);', rel, col) END;
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION hvc._recommend_indexes(regclass, text, text, text) IS
    'Internal: recommends (NOTICE) the indexes on the customer and changed_at columns that incremental refresh reads through (for the customer column also the form that INCLUDEs the other mapped columns of the registration).';

-- (Re)create the key-typed tables of incremental refresh.  Their states
-- belong to the registration, so every registration starts them empty.
CREATE OR REPLACE FUNCTION hvc._create_state_objects(customer_type regtype) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    IF customer_type IS NULL THEN
        RAISE EXCEPTION 'hvc: _create_state_objects needs a key type' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DROP TABLE IF EXISTS hvc.customer_states, hvc.changed_customers;
    DELETE FROM hvc.state_info;
    EXECUTE format($ddl$
    CREATE TABLE hvc.customer_states (
        customer_id  %s,
        state        bytea   NOT NULL,
        rows         bigint  NOT NULL,
        skipped      boolean NOT NULL
    )$ddl$, customer_type);
    COMMENT ON COLUMN hvc.customer_states.customer_id IS 'Customer key (NULL: the group of rows without a key).';
    COMMENT ON COLUMN hvc.customer_states.state IS 'The serialised hvc.customer_state of all the customer''s rows, cut at hvc.state_info.as_of_local.';
    COMMENT ON COLUMN hvc.customer_states.rows IS 'Source rows the state was built from (skipped ones included).';
    COMMENT ON COLUMN hvc.customer_states.skipped IS 'Whether the state skipped rows (after as_of, or NULL/bad values): a customer''s is recomputed when as_of moves forward (not the rows without a key: every refresh skips them).';
    COMMENT ON TABLE hvc.customer_states IS 'Internal: the exact per-customer state (hvc.customer_state, cut at hvc.state_info.as_of_local) of every customer key, kept between refreshes for incremental refresh.';
    -- The keys an incremental refresh looks up (the changed customers, the
    -- merged rows) through a hash index: a btree entry holds at most about
    -- 2.7 kB and the states keep keys of any length.  The one row without a
    -- key through a partial index.  (register_source takes only key types
    -- that can be hashed: hvc._check_source.)
    CREATE INDEX customer_states_customer ON hvc.customer_states USING hash (customer_id);
    CREATE INDEX customer_states_guest ON hvc.customer_states (rows) WHERE customer_id IS NULL;
    -- The base type: the triggers copy keys without running a domain's checks.
    EXECUTE format('CREATE TABLE hvc.changed_customers (customer_id %s)', hvc._base_type(customer_type));
    COMMENT ON COLUMN hvc.changed_customers.customer_id IS 'Key of a changed row (before and after an update; NULL for rows without a key).';
    COMMENT ON TABLE hvc.changed_customers IS 'Internal: customer keys of rows inserted, updated or deleted since the last refresh, recorded by hvc''s triggers (track_changes ''trigger''); the next refresh recomputes and removes them.';
    PERFORM hvc._attach_runtime_objects();
END $fn$;
COMMENT ON FUNCTION hvc._create_state_objects(regtype) IS
    'Internal: (re)creates hvc.customer_states and hvc.changed_customers for a customer key type.';

-- Remove hvc's change triggers from a table (when the registration moves on).
CREATE OR REPLACE FUNCTION hvc._drop_change_triggers(rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tg text;
BEGIN
    FOR tg IN SELECT t.tgname FROM pg_trigger t
               WHERE t.tgrelid = rel AND t.tgfoid = 'hvc._record_changes()'::regprocedure
               ORDER BY t.tgname LOOP
        IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = rel), 'MEMBER') THEN
            RAISE EXCEPTION 'hvc: % carries hvc''s change triggers, which only its owner may remove', rel
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Register again as the table''s owner, or have the owner drop the triggers hvc_track_*.';
        END IF;
        EXECUTE format('DROP TRIGGER %I ON %s', tg, rel);
    END LOOP;
END $$;
COMMENT ON FUNCTION hvc._drop_change_triggers(regclass) IS 'Internal: drops hvc''s change triggers (hvc_track_*) from a table.';

-- After a registration: new state tables, triggers on the new source only,
-- and the next refresh full.
CREATE OR REPLACE FUNCTION hvc._setup_tracking(old_relation text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src hvc.source;
    rel regclass;
    old_rel regclass := to_regclass(old_relation);
    ev text;
BEGIN
    SELECT * INTO src FROM hvc.source;
    IF src.relation IS NULL THEN
        RAISE EXCEPTION 'hvc: no source is registered' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    rel := src.relation::regclass;
    IF old_rel IS NOT NULL THEN
        PERFORM hvc._drop_change_triggers(old_rel);
    END IF;
    PERFORM hvc._drop_change_triggers(rel);
    PERFORM hvc._create_state_objects(src.customer_type::regtype);
    PERFORM hvc._create_row_log(src);
    INSERT INTO hvc.state_invalidations (reason) VALUES ('source registered');
    IF src.track_changes = 'trigger' THEN
        FOREACH ev IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
            EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION hvc._record_changes(%L)',
                           'hvc_track_' || ev, upper(ev), rel,
                           CASE ev WHEN 'insert' THEN 'NEW TABLE AS hvc_new'
                                   WHEN 'update' THEN 'OLD TABLE AS hvc_old NEW TABLE AS hvc_new'
                                   ELSE 'OLD TABLE AS hvc_old' END,
                           src.customer);
        END LOOP;
        EXECUTE format('CREATE TRIGGER hvc_track_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION hvc._record_changes()', rel);
    END IF;
    PERFORM hvc._recommend_indexes(rel, src.customer, src.changed_at, src.track_changes);
END $$;
COMMENT ON FUNCTION hvc._setup_tracking(text) IS
    'Internal: after register_source: recreates the state tables, moves the change triggers to the registered table (trigger mode) and makes the next refresh full.';

-- The change triggers (AFTER INSERT / UPDATE / DELETE / TRUNCATE, FOR EACH
-- STATEMENT, with transition tables).  They must never fail the user's
-- write for a reason of hvc's: they run as hvc's owner (SECURITY DEFINER:
-- the writers need no privilege on schema hvc), copy inserted rows of the
-- registered table into the row log (63_row_log.sql, same type rules), and
-- otherwise copy the key column of the
-- transition table into hvc.changed_customers (the column's base type, so no
-- cast, domain check, operator or function the table owner could define
-- runs; NULL keys are recorded too, they form a group of their own) only
-- when the key column (the trigger's argument) has that type or is a domain
-- directly over it (checked at every statement: one catalog query; whoever may
-- attach the function to a table of theirs can at most add keys to
-- recompute), and turn any error into a row of hvc.state_invalidations
-- (the next refresh is full) -- or, if even that fails, into nothing.
-- No constraint, index or unique key on the tables they write.  TRUNCATE
-- makes the next refresh full.  A query cancel still cancels the write.
-- In C (src/change_trigger.c) so that the logging statements, made by
-- hvc._row_log_insert and hvc._row_log_update, are planned once a session
-- instead of at every statement.
CREATE OR REPLACE FUNCTION hvc._record_changes() RETURNS trigger
AS 'MODULE_PATHNAME', 'hvc_record_changes'
LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION hvc._record_changes() IS
    'Internal: statement trigger function of track_changes ''trigger'': copies inserted rows, and the old and new rows of updated rows whose mapped columns changed, into hvc.inserted_rows, and records the customer keys of deleted rows in hvc.changed_customers (TRUNCATE: the next refresh is full). Never fails the triggering write for a reason of hvc''s.';

-- ---------------------------------------------------------------------------
-- The stage.
-- ---------------------------------------------------------------------------

-- What the stored states must match: the registration (registered_at
-- changes at every register_source).
CREATE OR REPLACE FUNCTION hvc._registration_key(src hvc.source) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT concat_ws('|', src.relation, src.customer, src.ordered_at, src.amount, src.margin, src.order_id,
                     src.customer_type, src.track_changes, src.changed_at, src.registered_at::text)
$$;
COMMENT ON FUNCTION hvc._registration_key(hvc.source) IS 'Internal: identifies a source registration (stored states belong to one).';

-- The hvc.customer_state call over the source's columns (alias s).
CREATE OR REPLACE FUNCTION hvc._state_expr(src hvc.source, as_of_local timestamp, tz text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('hvc.customer_state(s.%I, s.%I, %s, %s, %L::timestamp, %L)',
                  src.ordered_at, src.amount,
                  coalesce('s.' || quote_ident(src.margin), 'NULL::numeric'),
                  coalesce('s.' || quote_ident(src.order_id), 'NULL::integer'),
                  as_of_local, tz)
$$;
COMMENT ON FUNCTION hvc._state_expr(hvc.source, timestamp, text) IS 'Internal: the hvc.customer_state(...) aggregate call over a source''s mapped columns.';

-- Recompute the states of the keys in pg_temp._hvc_touched from all their
-- rows and put them into hvc.customer_states (keys without rows left go).
CREATE OR REPLACE FUNCTION hvc._recompute_states(src hvc.source, as_of_local timestamp, tz text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
    has_null boolean;
    touched_rows bigint;
    all_rows bigint;
    keyed text;     -- the non-NULL keys' states: probes or semi-join (format template)
    probes boolean; -- probes, key by key
    hashagg text;
BEGIN
    SELECT count(*), bool_or(t.customer_id IS NULL) INTO n, has_null FROM pg_temp._hvc_touched t;
    IF n = 0 THEN
        RETURN 0;
    END IF;
    ANALYZE pg_temp._hvc_touched;
    -- the stored row counts: how much of the source the touched keys hold
    -- (through the index), against the source's rows at the last refresh
    SELECT coalesce(sum(c.rows), 0) INTO touched_rows
      FROM hvc.customer_states c
     WHERE c.customer_id IN (SELECT t.customer_id FROM pg_temp._hvc_touched t);
    all_rows := coalesce((SELECT i.source_rows FROM hvc.state_info i), 0);
    DELETE FROM hvc.customer_states c
     WHERE c.customer_id IN (SELECT t.customer_id FROM pg_temp._hvc_touched t);
    IF has_null THEN
        DELETE FROM hvc.customer_states c WHERE c.customer_id IS NULL;
    END IF;
    -- Up to a tenth of the source: index probes, key by key (LATERAL).
    -- The planner cannot be left to choose: its rows-per-key estimate comes
    -- from the source's n_distinct, which a sample underestimates on large
    -- tables (50 M lines, 500 k customers: 610 rows a key estimated, 100 on
    -- average).  For 5 552 keys holding 2.8 M of 51 M rows (5.5 %) it chose
    -- a semi-join over a sequential scan of the 4.3 GB table, 9.5 s; the
    -- probes took 2.7 s (bench/incremental.sh, table in the OS cache).
    -- Beyond a tenth, for views and foreign tables (a probe each would
    -- evaluate the view or ask the server once per key) and for Citus
    -- tables (Citus pushes the semi-join down to the shards, not the
    -- probes): the semi-join over one read of the source.
    -- (= ANY (ARRAY(...)) was planned as a sequential scan testing every
    -- row against the whole array at 100 000 keys: hours.)
    -- The rows without a key are only counted by a refresh: their state is
    -- their number (hvc._guest_state), an index-only count instead of an
    -- aggregate over rows scattered across the table (50 M lines: 250 000
    -- guest rows, 1.8 s against 0.05 s).  Every output of the refresh
    -- (rows_read, rows_skipped, the snapshot) is the full refresh's.
    probes := touched_rows <= all_rows / 10
              AND (SELECT r.relkind FROM pg_class r WHERE r.oid = to_regclass(src.relation)) IN ('r', 'p')
              AND NOT hvc._citus_table(src.relation::regclass);
    keyed := CASE WHEN probes
                  THEN $p$SELECT t.customer_id, k.state
                            FROM (SELECT DISTINCT t.customer_id FROM pg_temp._hvc_touched t
                                   WHERE t.customer_id IS NOT NULL) t
                           CROSS JOIN LATERAL (SELECT %2$s AS state
                                                 FROM %3$s s
                                                WHERE s.%1$I = t.customer_id
                                               HAVING count(*) > 0) k$p$
                  ELSE $p$SELECT s.%1$I AS customer_id, %2$s AS state
                            FROM %3$s s
                           WHERE s.%1$I IN (SELECT t.customer_id FROM pg_temp._hvc_touched t)
                           GROUP BY 1$p$ END;
    -- The probes in key order: the keys' DISTINCT sorted, not hashed (where
    -- the key type sorts; else the planner hashes anyway), so the index is
    -- walked in order.  50 M lines, 5 428 keys: 1.33-1.53 s against
    -- 1.43-1.68 s hashed.
    IF probes THEN
        hashagg := current_setting('enable_hashagg');
        PERFORM set_config('enable_hashagg', 'off', true);
    END IF;
    EXECUTE format($q$
        INSERT INTO hvc.customer_states (customer_id, state, rows, skipped)
        SELECT x.customer_id, x.state, hvc._state_rows(x.state), hvc._state_skipped(x.state) > 0
          FROM ($q$ || keyed || $q$
                UNION ALL
                SELECT NULL, hvc._guest_state(count(*))
                  FROM %3$s s
                 WHERE $1 AND s.%1$I IS NULL
                HAVING count(*) > 0) x$q$,
        src.customer, hvc._state_expr(src, as_of_local, tz), src.relation)
    USING has_null;
    IF probes THEN
        PERFORM set_config('enable_hashagg', hashagg, true);
    END IF;
    RETURN n;
END $$;
COMMENT ON FUNCTION hvc._recompute_states(hvc.source, timestamp, text) IS
    'Internal: recomputes the stored states of the customer keys in pg_temp._hvc_touched from all their source rows.';

-- The storage files of a source's table or leaf partitions (NULL for views).
CREATE OR REPLACE FUNCTION hvc._source_files(rel regclass) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(t.relid::oid::text || ':' || coalesce(pg_relation_filenode(t.relid)::text, '-'), ',' ORDER BY t.relid::oid)
      FROM (SELECT p.relid FROM pg_partition_tree(rel) p WHERE p.isleaf
            UNION
            SELECT c.oid::regclass FROM pg_class c WHERE c.oid = rel AND c.relkind <> 'p') t
$$;
COMMENT ON FUNCTION hvc._source_files(regclass) IS
    'Internal: the relfilenodes of a source''s table or leaf partitions (they change at TRUNCATE, VACUUM FULL, CLUSTER, ATTACH/DETACH PARTITION).';

-- Column mode: the watermark the next refresh reads from (see the header).
CREATE OR REPLACE FUNCTION hvc._next_watermark() RETURNS timestamptz
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT least(clock_timestamp(), statement_timestamp(),
                 (SELECT min(a.xact_start) FROM pg_stat_activity a WHERE a.xact_start IS NOT NULL))
           - interval '5 minutes'
$$;
COMMENT ON FUNCTION hvc._next_watermark() IS
    'Internal: column mode watermark: the start of the oldest open transaction (as pg_stat_activity shows them) or now, less 5 minutes.';

-- Why refresh id must read the whole source (NULL: an incremental refresh
-- can go on), from the registration, the stored states' info si and what
-- invalidated them (invalid).
CREATE OR REPLACE FUNCTION hvc._full_refresh_reason(cfg hvc.config, src hvc.source, as_of_local timestamp,
                                                    full_requested boolean, invalid text, si hvc.state_info)
RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN src.track_changes = 'none' THEN 'track_changes is none'
        WHEN full_requested THEN 'full => true'
        WHEN to_regclass('hvc.customer_states') IS NULL OR to_regclass('hvc.changed_customers') IS NULL
            THEN 'no state tables'
        WHEN invalid IS NOT NULL THEN invalid
        WHEN si.singleton IS NULL THEN 'no stored states'
        WHEN si.format_version <> hvc._state_format_version()
            THEN format('stored states have format %s, this release writes %s', si.format_version, hvc._state_format_version())
        WHEN si.registration <> hvc._registration_key(src) THEN 'source registered'
        WHEN si.timezone <> cfg.timezone THEN format('timezone changed from %s to %s', si.timezone, cfg.timezone)
        WHEN as_of_local < si.as_of_local THEN 'as_of is before the stored states'' as_of'
        WHEN si.source_files IS DISTINCT FROM hvc._source_files(src.relation::regclass)
            THEN 'the source was truncated, rewritten or restored, or its partitions changed'
        END
$$;
COMMENT ON FUNCTION hvc._full_refresh_reason(hvc.config, hvc.source, timestamp, boolean, text, hvc.state_info) IS
    'Internal: why a refresh must read the whole source (NULL when the stored states allow an incremental one).';

-- The stage of an incremental refresh: a temporary view over the stored
-- states, overlong keys left out when there are any (op 'create'), or its
-- DROP (op 'drop').  Citus would propagate the view's CREATE and DROP to
-- the workers (where this session's temporary schema does not exist): its
-- DDL propagation is off for them.
CREATE OR REPLACE FUNCTION hvc._stage_view(op text, skip_big_keys boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    citus_ddl text := current_setting('citus.enable_ddl_propagation', true);
BEGIN
    IF op IS NULL OR op NOT IN ('create', 'drop') OR skip_big_keys IS NULL THEN
        RAISE EXCEPTION 'hvc: _stage_view takes ''create'' or ''drop'' and whether to skip overlong keys, got % and %',
                        coalesce(quote_literal(op), 'NULL'), coalesce(skip_big_keys::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF citus_ddl IS NOT NULL THEN
        PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    END IF;
    IF op = 'create' THEN
        EXECUTE format('CREATE TEMP VIEW _hvc_stage AS SELECT c.customer_id, c.state FROM hvc.customer_states c %s LIMIT ALL',
                       CASE WHEN skip_big_keys THEN 'WHERE pg_column_size(c.customer_id) <= 2000' ELSE '' END);
    ELSE
        DROP VIEW pg_temp._hvc_stage;
    END IF;
    IF citus_ddl IS NOT NULL THEN
        PERFORM set_config('citus.enable_ddl_propagation', citus_ddl, true);
    END IF;
END $fn$;
COMMENT ON FUNCTION hvc._stage_view(text, boolean) IS
    'Internal: creates (op ''create'') pg_temp._hvc_stage as a view over hvc.customer_states (not updatable; without keys over 2000 bytes when skip_big_keys), the stage of an incremental refresh, or drops it (op ''drop''); with Citus'' DDL propagation off.';

-- Drop the stage of this session (a table, or after an incremental build a
-- view), if there is one.
CREATE OR REPLACE FUNCTION hvc._drop_stage() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF to_regclass('pg_temp._hvc_stage') IS NULL THEN
        RETURN;
    END IF;
    IF (SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass('pg_temp._hvc_stage')) = 'v' THEN
        PERFORM hvc._stage_view('drop');
    ELSE
        DROP TABLE pg_temp._hvc_stage;
    END IF;
END $fn$;
COMMENT ON FUNCTION hvc._drop_stage() IS
    'Internal: drops this session''s refresh stage pg_temp._hvc_stage (a table, or the view over hvc.customer_states an incremental refresh reads), if any.';

-- Step 1 of a full refresh: the stage from the whole source (on the Citus
-- workers when the source is distributed by customer), and with change
-- tracking the stored states replaced by it.  Returns the customers whose
-- rows committed during the read are left for the next refresh
-- (hvc._settle_row_log).
CREATE OR REPLACE FUNCTION hvc._stage_full(cfg hvc.config, src hvc.source, as_of_local timestamp,
                                           t1 pg_snapshot) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET enable_partitionwise_aggregate = on AS $fn$
DECLARE
    n_unsettled bigint;
    state_expr text;
BEGIN
    IF cfg IS NULL OR src.relation IS NULL OR as_of_local IS NULL OR t1 IS NULL THEN
        RAISE EXCEPTION 'hvc: _stage_full needs the configuration, the source, as_of and a snapshot'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_regclass('pg_temp._hvc_stage') IS NOT NULL THEN
        RAISE EXCEPTION 'hvc: _stage_full runs inside a refresh, before any stage exists'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'hvc.refresh() calls it through hvc._stage; do not call it directly.';
    END IF;
    state_expr := hvc._state_expr(src, as_of_local, cfg.timezone);
    -- on Citus, a source distributed by customer: on the workers (96_citus_refresh.sql)
    IF NOT hvc._citus_stage(src, state_expr) THEN
        EXECUTE format($q$
            CREATE TEMP TABLE _hvc_stage ON COMMIT DROP AS
            SELECT s.%1$I AS customer_id, %2$s AS state
              FROM %3$s s
             GROUP BY 1$q$,
            src.customer, state_expr, src.relation);
    END IF;
    n_unsettled := hvc._settle_row_log(t1, false);
    IF src.track_changes <> 'none' AND to_regclass('hvc.customer_states') IS NOT NULL THEN
        TRUNCATE hvc.customer_states;
        -- the rows without a key are stored as their number, as an
        -- incremental refresh keeps them (hvc._guest_state)
        INSERT INTO hvc.customer_states (customer_id, state, rows, skipped)
        SELECT g.customer_id, g.state, hvc._state_rows(g.state), hvc._state_skipped(g.state) > 0
          FROM (SELECT s.customer_id,
                       CASE WHEN s.customer_id IS NULL THEN hvc._guest_state(hvc._state_rows(s.state))
                            ELSE s.state END AS state
                  FROM pg_temp._hvc_stage s) g;
        -- statistics now, not at autovacuum's leisure: the next refresh
        -- looks its changed keys up through the index only when the
        -- planner knows the keys are unique
        ANALYZE hvc.customer_states;
    END IF;
    RETURN n_unsettled;
END $fn$;
COMMENT ON FUNCTION hvc._stage_full(hvc.config, hvc.source, timestamp, pg_snapshot) IS
    'Internal: step 1 of a full refresh: pg_temp._hvc_stage from the whole source (on the Citus workers when it is distributed by customer) and, with change tracking, the stored states replaced by it; returns the customers left for the next refresh by hvc._settle_row_log.';

-- Step 1 of an incremental refresh, after the customers to recompute are
-- in pg_temp._hvc_touched (in column mode those whose row count dropped
-- too, n_lost of them): their states recomputed from their rows, the logged
-- rows (trigger mode) or the changed rows (column mode, hvc._column_delta)
-- of everyone else merged.  notes says what was done
-- (hvc.refresh_log.kind_reason); unsettled as in hvc._stage_full.
CREATE OR REPLACE FUNCTION hvc._stage_incremental(src hvc.source, as_of_local timestamp, tz text, t1 pg_snapshot,
                                                  n_changed bigint, n_late bigint, n_lost bigint,
                                                  OUT notes text, OUT unsettled bigint, OUT timings text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    merged record;
    said text[];
    marks timestamptz[] := ARRAY[clock_timestamp()];
BEGIN
    IF src.relation IS NULL OR as_of_local IS NULL OR tz IS NULL OR t1 IS NULL
       OR n_changed IS NULL OR n_late IS NULL OR n_lost IS NULL THEN
        RAISE EXCEPTION 'hvc: _stage_incremental needs the source, as_of, the timezone, a snapshot and the counts'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_regclass('pg_temp._hvc_touched') IS NULL THEN
        RAISE EXCEPTION 'hvc: _stage_incremental runs inside a refresh, after pg_temp._hvc_touched'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'hvc.refresh() calls it through hvc._stage; do not call it directly.';
    END IF;
    SELECT 0::bigint AS merged_rows, 0::bigint AS merged_customers, 0::bigint AS retracted_rows,
           0::bigint AS unfit INTO merged;
    PERFORM hvc._recompute_states(src, as_of_local, tz);
    unsettled := hvc._settle_row_log(t1, true);
    marks := marks || clock_timestamp();
    IF src.track_changes = 'trigger' THEN
        SELECT m.merged_rows, m.merged_customers, m.retracted_rows, m.unfit INTO merged
          FROM hvc._merge_row_log(src, as_of_local, tz) m;
    END IF;
    IF src.track_changes = 'column' THEN
        SELECT m.merged_rows, m.merged_customers, 0::bigint AS retracted_rows, 0::bigint AS unfit INTO merged
          FROM hvc._merge_column_delta() m;
    END IF;
    timings := hvc._refresh_timings(ARRAY['recompute', 'merge'], marks || clock_timestamp());
    said := ARRAY[format('%s changed customer(s) recomputed', n_changed)];
    IF merged.merged_rows > 0 AND merged.retracted_rows > 0 THEN
        said := said || format('%s logged row(s) merged into %s customer(s), %s of them new amounts of updated rows (the old rows taken out)',
                               merged.merged_rows, merged.merged_customers, merged.retracted_rows);
    ELSIF merged.merged_rows > 0 THEN
        said := said || format(CASE WHEN src.track_changes = 'column' THEN '%s new row(s) merged into %s customer(s)'
                                    ELSE '%s inserted row(s) merged into %s customer(s)' END,
                               merged.merged_rows, merged.merged_customers);
    END IF;
    IF merged.unfit > 0 THEN
        said := said || format('%s customer(s) whose logged updates could not be merged (an update committed during the refresh, or rows written around the change triggers) left for the next refresh to recompute',
                               merged.unfit);
    END IF;
    IF n_late > 0 THEN
        said := said || format('%s with rows skipped at the last as_of', n_late);
    END IF;
    IF n_lost > 0 THEN
        said := said || format('%s whose row count dropped (deletes)', n_lost);
    END IF;
    notes := array_to_string(said, ', ');
END $fn$;
COMMENT ON FUNCTION hvc._stage_incremental(hvc.source, timestamp, text, pg_snapshot, bigint, bigint, bigint) IS
    'Internal: step 1 of an incremental refresh: recomputes the states of the customers in pg_temp._hvc_touched (in column mode those whose row count dropped too), merges the logged (trigger mode) or changed (column mode) rows of everyone else; returns what it did (for hvc.refresh_log.kind_reason), the customers left for the next refresh and the seconds of its two parts (for hvc.refresh_log.timings).';

-- What the stored states were computed from, for the next refresh's
-- decision (hvc._full_refresh_reason) and its read of changes.
CREATE OR REPLACE FUNCTION hvc._store_state_info(id bigint, cfg hvc.config, src hvc.source,
                                                 as_of_local timestamp, watermark timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF id IS NULL OR cfg IS NULL OR src.relation IS NULL OR as_of_local IS NULL THEN
        RAISE EXCEPTION 'hvc: _store_state_info needs a refresh id, the configuration, the source and as_of'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM hvc.state_info;
    INSERT INTO hvc.state_info (format_version, registration, timezone, as_of_local, watermark,
                                refresh_id, customers, source_rows, source_files)
    SELECT hvc._state_format_version(), hvc._registration_key(src), cfg.timezone, as_of_local,
           _store_state_info.watermark, id, count(*), coalesce(sum(c.rows), 0),
           hvc._source_files(src.relation::regclass)
      FROM hvc.customer_states c;
END $fn$;
COMMENT ON FUNCTION hvc._store_state_info(bigint, hvc.config, hvc.source, timestamp, timestamptz) IS
    'Internal: records in hvc.state_info what the stored states were computed from (format version, registration, timezone, as_of, watermark of column mode, refresh, customers, rows, source files).';

-- A key too long for a btree index entry (about 2.7 kB) would fail every
-- refresh at the snapshot's index: such customers are left out, counted and
-- named in a NOTICE.  (The stored states keep them: their key index is a
-- hash; an incremental stage leaves them out in its view.)  A key of fixed
-- length (integer, bigint, uuid) is never that long: no scan of the stage
-- for those (0.09 s at 500 k customers).
CREATE OR REPLACE FUNCTION hvc._skip_big_keys(kind text, key_type regtype,
                                              OUT big_keys bigint, OUT big_key_rows bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    IF kind IS NULL OR kind NOT IN ('full', 'incremental') OR key_type IS NULL THEN
        RAISE EXCEPTION 'hvc: _skip_big_keys needs the kind of refresh (full or incremental) and the key type, not % and %',
                        coalesce(kind, 'NULL'), coalesce(key_type::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_regclass(CASE kind WHEN 'full' THEN 'pg_temp._hvc_stage' ELSE 'hvc.customer_states' END) IS NULL THEN
        RAISE EXCEPTION 'hvc: _skip_big_keys runs inside a refresh, after its stage'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'hvc.refresh() calls it through hvc._stage; do not call it directly.';
    END IF;
    big_keys := 0;
    big_key_rows := 0;
    IF (SELECT t.typlen FROM pg_type t WHERE t.oid = key_type) < 0 THEN
        IF kind = 'incremental' THEN
            SELECT count(*), coalesce(sum(c.rows), 0) INTO big_keys, big_key_rows
              FROM hvc.customer_states c
             WHERE pg_column_size(c.customer_id) > 2000;
        ELSE
            SELECT count(*), coalesce(sum(hvc._state_rows(g.state)), 0) INTO big_keys, big_key_rows
              FROM pg_temp._hvc_stage g
             WHERE pg_column_size(g.customer_id) > 2000;
        END IF;
    END IF;
    IF kind = 'full' AND big_keys > 0 THEN
        DELETE FROM pg_temp._hvc_stage g WHERE pg_column_size(g.customer_id) > 2000;
    END IF;
    IF big_keys > 0 THEN
        RAISE NOTICE 'hvc: % customer(s) skipped: their key is longer than 2000 bytes', big_keys
            USING DETAIL = format('Their %s row(s) are counted in hvc.refresh_log.rows_skipped.', big_key_rows),
                  HINT = 'An index entry holds at most about 2.7 kB; register a view whose customer column is shorter, e.g. md5(key).';
    END IF;
END $fn$;
COMMENT ON FUNCTION hvc._skip_big_keys(text, regtype) IS
    'Internal: counts the customers of a refresh whose key is longer than 2000 bytes (too long for a btree index entry), removes them from a full refresh''s stage and names them in a NOTICE; an incremental refresh leaves them out in its stage view.';

-- Build pg_temp._hvc_stage for refresh id.  Returns the kind, the reason,
-- and the customers skipped for an overlong key and their rows.  A full
-- refresh aggregates the source into a temporary table; an incremental one
-- reads the stored states where they are, through a temporary view (no copy
-- of every state; the planner has the stored table's statistics): nothing
-- but the refresh, under the refresh lock, writes hvc.customer_states, and
-- the view is not updatable (LIMIT ALL), so no statement of the refresh
-- writes through it.
-- Partitioned sources: with enable_partitionwise_aggregate the planner
-- aggregates each partition on its own when the customer column is the
-- partition key (hash partitioning by customer: small hash tables, no
-- merge), and otherwise chooses between per-partition partial states merged
-- by the aggregate's combine function and one aggregate over all
-- partitions, by cost.
CREATE OR REPLACE FUNCTION hvc._stage(id bigint, cfg hvc.config, src hvc.source, as_of_local timestamp,
                                      OUT kind text, OUT reason text,
                                      OUT big_keys bigint, OUT big_key_rows bigint, OUT timings text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET enable_partitionwise_aggregate = on AS $fn$
DECLARE
    si hvc.state_info;
    full_requested boolean;
    invalid text;
    wm timestamptz;
    key_type text;
    n_changed bigint := 0;
    n_late bigint := 0;
    n_lost bigint := 0;
    n_reread bigint;
    n_unsettled bigint := 0;
    t1 pg_snapshot;
    began timestamptz := clock_timestamp();
BEGIN
    IF id IS NULL OR cfg IS NULL OR src.relation IS NULL OR as_of_local IS NULL THEN
        RAISE EXCEPTION 'hvc: _stage needs a refresh id, the configuration, the source and as_of'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT l.full_requested INTO full_requested FROM hvc.refresh_log l WHERE l.refresh_id = id;
    PERFORM hvc._drop_stage();   -- refresh_now may run twice in one transaction
    IF to_regclass('pg_temp._hvc_touched') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_touched;
    END IF;
    key_type := hvc._base_type(src.customer_type::regtype)::text;

    -- What invalidates the stored states is consumed now, in this
    -- transaction: it comes back if the refresh fails.
    WITH d AS (DELETE FROM hvc.state_invalidations i RETURNING i.reason AS what)
    SELECT string_agg(DISTINCT d.what, '; ') INTO invalid FROM d;
    SELECT * INTO si FROM hvc.state_info;
    reason := hvc._full_refresh_reason(cfg, src, as_of_local, coalesce(full_requested, false), invalid, si);

    -- Changes are taken before the source is read: a change committed later
    -- stays for the next refresh (reading it twice is harmless).  Logged
    -- rows are settled against a snapshot taken now (63_row_log.sql).
    t1 := pg_current_snapshot();
    EXECUTE format('CREATE TEMP TABLE _hvc_touched (customer_id %s) ON COMMIT DROP', key_type);
    IF src.track_changes = 'trigger' AND to_regclass('hvc.changed_customers') IS NOT NULL THEN
        WITH d AS (DELETE FROM hvc.changed_customers RETURNING customer_id)
        INSERT INTO pg_temp._hvc_touched SELECT DISTINCT d.customer_id FROM d;
    ELSIF src.track_changes = 'column' THEN
        wm := hvc._next_watermark();
        IF reason IS NULL THEN
            -- the changed rows per customer; those that cannot be merged
            -- into the stored states go to _hvc_touched
            n_lost := hvc._column_delta(src, si.watermark, as_of_local, cfg.timezone);
        END IF;
    END IF;
    IF reason IS NULL AND src.track_changes = 'trigger' THEN
        -- logged updates that changed more than amounts or margins: those
        -- customers are recomputed (63_row_log.sql)
        PERFORM hvc._touch_reshaped(src, as_of_local, cfg.timezone);
    END IF;
    IF reason IS NULL THEN
        SELECT count(*) - n_lost INTO n_changed FROM pg_temp._hvc_touched;
        -- customers with rows after the stored as_of (or NULL/NaN rows);
        -- not the rows without a key, which every refresh skips whatever
        -- as_of is (their state is their number, hvc._guest_state)
        IF as_of_local > si.as_of_local THEN
            INSERT INTO pg_temp._hvc_touched
            SELECT c.customer_id FROM hvc.customer_states c
             WHERE c.skipped AND c.customer_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM pg_temp._hvc_touched t WHERE t.customer_id = c.customer_id);
            GET DIAGNOSTICS n_late = ROW_COUNT;
        END IF;
        -- recomputing reads every row of the touched customers through the
        -- index: past a tenth of the source's rows one full read is cheaper
        -- (keys through the index; the keyless row apart: an OR would scan)
        SELECT coalesce(sum(c.rows), 0) INTO n_reread
          FROM hvc.customer_states c
         WHERE c.customer_id IN (SELECT t.customer_id FROM pg_temp._hvc_touched t);
        IF EXISTS (SELECT 1 FROM pg_temp._hvc_touched t WHERE t.customer_id IS NULL) THEN
            n_reread := n_reread + coalesce((SELECT sum(c.rows) FROM hvc.customer_states c
                                              WHERE c.customer_id IS NULL), 0);
        END IF;
        IF n_reread > greatest(10000, si.source_rows / 10) THEN
            reason := format('%s changed customers with %s stored rows: more than a tenth of the %s rows',
                             n_changed + n_late + n_lost, n_reread, si.source_rows);
        END IF;
    END IF;

    IF reason IS NOT NULL THEN
        kind := 'full';
        n_unsettled := hvc._stage_full(cfg, src, as_of_local, t1);
    ELSE
        kind := 'incremental';
        -- (the changes found so far: the triggers' keys, column mode's
        -- changed rows and row counts)
        timings := hvc._refresh_timings(ARRAY['changes'], ARRAY[began, clock_timestamp()]);
        SELECT x.notes, x.unsettled, _stage.timings || ', ' || x.timings INTO reason, n_unsettled, timings
          FROM hvc._stage_incremental(src, as_of_local, cfg.timezone, t1, n_changed, n_late, n_lost) x;
    END IF;
    IF n_unsettled > 0 THEN
        reason := reason || format('; %s customer(s) with rows committed during the read left for the next refresh to recompute', n_unsettled);
    END IF;

    IF src.track_changes <> 'none' AND to_regclass('hvc.customer_states') IS NOT NULL THEN
        PERFORM hvc._store_state_info(id, cfg, src, as_of_local, wm);
    END IF;
    DROP TABLE pg_temp._hvc_touched;

    -- overlong keys out of the stage; an incremental stage reads the stored
    -- states where they are, through a view
    SELECT b.big_keys, b.big_key_rows INTO big_keys, big_key_rows
      FROM hvc._skip_big_keys(kind, key_type::regtype) b;
    IF kind = 'incremental' THEN
        PERFORM hvc._stage_view('create', big_keys > 0);
    END IF;
    UPDATE hvc.refresh_log SET kind = _stage.kind, kind_reason = _stage.reason WHERE refresh_id = id;
END $fn$;
COMMENT ON FUNCTION hvc._stage(bigint, hvc.config, hvc.source, timestamp) IS
    'Internal: step 1 of a refresh: builds pg_temp._hvc_stage from the whole source (full) or from the stored states and the changed customers (incremental), records the kind and why in hvc.refresh_log, and skips overlong keys; an incremental one also returns the seconds it took to find the changes, recompute and merge (hvc.refresh_log.timings).';
