-- ---------------------------------------------------------------------------
-- The snapshot on the Citus workers (README, Scaling out).  When the source
-- is distributed by the customer column at register_source, the snapshot's
-- rows live on the workers, colocated with the source:
--
--   hvc.customer_snapshot_rows   the rows of the current refresh and of the
--                                one being written (or the one before),
--                                told apart by refresh_id;
--   hvc.citus_current            (local) the refresh readers see;
--   hvc.citus_pending            (local) the refresh a refreshing session
--                                sees (its own row, never committed);
--   hvc.customer_snapshot        a view of the rows of that refresh, which
--                                every other view and function reads.
--
-- A full refresh builds the rows on the workers, next to the shards
-- (src/citus_rows.c): hvc._citus_score per customer (predictions and what
-- the ranks need) into hvc.citus_scored; the coordinator reads that narrow
-- table once for what is global (src/citus_globals.c: RFM breaks, value
-- ranks and shares, churn percentiles, the Pareto curve) and sends it to
-- the workers as one row of the reference table hvc.citus_globals; then
-- hvc._citus_snapshot_row writes each customer's row on its worker (one
-- pushed-down INSERT ... SELECT per shard).
--
-- Readers never see a mix of two refreshes: Citus commits the workers'
-- transactions one after the other (two-phase commit), so the new rows are
-- written in the refresh's transaction and become current only in the next
-- one (CALL hvc.refresh() commits, then hvc._citus_publish marks them
-- current in hvc.citus_current and commits again); a reader's statement
-- reads the marker once on the coordinator and then only rows of that
-- refresh, all committed on every worker.  The rows of the refresh before
-- stay until the next refresh starts, for statements still reading them.
-- ---------------------------------------------------------------------------

-- What the workers need of the whole snapshot (hvc._citus_globals), one row
-- per node: the coordinator writes it on each worker in a statement of its
-- own (run_command_on_workers) and deletes it after the rows are written;
-- hvc._citus_snapshot_row reads it on the node it runs on.  A plain table of
-- every node, not a Citus table: read inside a pushed-down statement, it
-- adds no step Citus would plan on the coordinator.
CREATE TABLE hvc.citus_globals (refresh_id bigint NOT NULL, hash_min integer NOT NULL,
                                hash_max integer NOT NULL, globals bytea NOT NULL);
ALTER TABLE hvc.citus_globals ALTER COLUMN globals SET STORAGE EXTERNAL;   -- read whole: not compressed
COMMENT ON TABLE hvc.citus_globals IS
    'Internal: on each node of a Citus cluster, what the workers need of the whole snapshot to write their rows (hvc._citus_globals), one row per shard of the node (its range of shard hash values), during a refresh only.';
COMMENT ON COLUMN hvc.citus_globals.refresh_id IS 'The refresh the globals are of.';
COMMENT ON COLUMN hvc.citus_globals.hash_min IS 'The first shard hash value of the shard (Citus''s hash range) whose customers the row holds.';
COMMENT ON COLUMN hvc.citus_globals.hash_max IS 'The last shard hash value of that shard.';
COMMENT ON COLUMN hvc.citus_globals.globals IS 'Per customer of the shard: value rank, cumulative value share, RFM scores, churn percentile (src/citus_globals.h).';

CREATE TYPE hvc._citus_score AS (
    value_cents bigint,
    first_day   integer,
    last_day    integer,
    orders      bigint,
    frequency   integer,
    revenue     bigint,
    churn_risk  float8,
    prediction  float8[]
);
COMMENT ON TYPE hvc._citus_score IS
    'Internal: what hvc._citus_score computes for one customer on a Citus worker: the value ranked by (cents), first and last purchase day (days since 2000-01-01), orders, frequency, revenue (ten-thousandths), churn risk and the predictions (hvc._citus_predict''s order).';

CREATE OR REPLACE FUNCTION hvc._citus_score(state bytea, m hvc._model_params, as_of_day date,
                                            basis text, has_margin boolean)
RETURNS hvc._citus_score AS 'MODULE_PATHNAME', 'hvc_citus_score'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvc._citus_score(bytea, hvc._model_params, date, text, boolean) IS
    'Internal: on a Citus worker, one customer''s value in cents, purchase days, orders, revenue, churn risk and predictions, from its serialised state and the fitted models (the snapshot builder''s own code); NULL for a state without a purchase row.';

CREATE OR REPLACE FUNCTION hvc._citus_globals(customer_proto anyelement, as_of_day date, refresh_id bigint,
                                              shard_min integer[], packed boolean DEFAULT false,
                                              OUT globals bytea[], OUT customers bigint, OUT pareto float8[],
                                              OUT premium_ticket_from float8, OUT median_repeat_gap_days float8,
                                              OUT max_tenure_days integer)
RETURNS record AS 'MODULE_PATHNAME', 'hvc_citus_globals'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._citus_globals(anyelement, date, bigint, integer[], boolean) IS
    'Internal: on the Citus coordinator, reads hvc.citus_scored once (packed: its rows packed one bytea per shard on the workers, hvc._citus_pack_scored) and computes what is global to a snapshot built on the workers: per customer the value rank, cumulative share, RFM scores and churn percentile (the globals the workers read, one bytea per shard: shard_min are the shards'' first hash values, ascending), the Pareto curve and the percentiles of hvc.snapshot_info.';

-- The rows of hvc.citus_scored packed into one bytea per shard on the
-- workers (src/citus_pack.c): a bytea state with a combine function, so
-- that Citus aggregates next to the shards inside the refresh's
-- transaction; hvc._citus_globals(..., packed => true) reads them.
CREATE OR REPLACE FUNCTION hvc._citus_key_bytes(key anyelement) RETURNS bytea
AS 'MODULE_PATHNAME', 'hvc_citus_key_bytes' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._citus_key_bytes(anyelement) IS
    'Internal: the bytes a customer key is looked up by in the globals of a snapshot built on the Citus workers.';
CREATE OR REPLACE FUNCTION hvc._citus_pack_trans(state bytea, key bytea, value_cents bigint, first_day integer,
                                                 last_day integer, orders bigint, frequency integer, revenue bigint,
                                                 churn_risk float8, shard_hash integer)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_citus_pack_trans' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION hvc._citus_pack_trans(bytea, bytea, bigint, integer, integer, bigint, integer, bigint, float8, integer) IS
    'Internal: transition function of hvc._citus_pack_scored.';
CREATE OR REPLACE FUNCTION hvc._citus_pack_combine(a bytea, b bytea) RETURNS bytea
AS 'MODULE_PATHNAME', 'hvc_citus_pack_combine' LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION hvc._citus_pack_combine(bytea, bytea) IS
    'Internal: combine function of hvc._citus_pack_scored (the rows of b after those of a; both checked).';
CREATE OR REPLACE AGGREGATE hvc._citus_pack_scored(bytea, bigint, integer, integer, bigint, integer, bigint, float8, integer) (
    SFUNC = hvc._citus_pack_trans,
    STYPE = bytea,
    COMBINEFUNC = hvc._citus_pack_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc._citus_pack_scored(bytea, bigint, integer, integer, bigint, integer, bigint, float8, integer) IS
    'Internal: rows of hvc.citus_scored (key bytes, value_cents, first_day, last_day, orders, frequency, revenue, churn_risk, shard_hash) packed into one bytea, as hvc._citus_globals reads them when packed.';

-- A snapshot row without its key: what hvc._citus_snapshot_row returns (the
-- key comes from the stage; a named type, so that Citus pushes the
-- statement down to the shards; hvc.customer_snapshot's columns after
-- customer_id, checked by the citus_predict test).
CREATE TYPE hvc._citus_snapshot_cols AS (
        first_order_at          timestamptz,
        last_order_at           timestamptz,
        orders                  bigint,
        purchase_days           integer,
        refunds                 bigint,
        revenue                 numeric(20,2),
        margin                  numeric(20,2),
        avg_order_value         numeric(20,2),
        tenure_days             integer,
        recency_days            integer,
        avg_days_between_orders float8,
        frequency               integer,
        recency                 float8,
        age                     float8,
        monetary_value          float8,
        r_score                 integer,
        f_score                 integer,
        m_score                 integer,
        rfm_cell                text,
        segment                 text,
        historic_clv            numeric(20,2),
        p_alive                 float8,
        churn_risk              float8,
        predicted_orders        float8,
        expected_order_value    numeric(20,2),
        predicted_clv           numeric(20,2),
        expected_next_order_at  date,
        value                   numeric(20,2),
        value_rank              bigint,
        cumulative_value_share  float8,
        tier                    text,
        tier_rank               integer,
        is_high_value           boolean,
        previous_tier           text,
        tier_since              timestamptz,
        refresh_id              bigint,
        churn_percentile        float8
);
COMMENT ON TYPE hvc._citus_snapshot_cols IS
    'Internal: the columns of hvc.customer_snapshot after customer_id, as hvc._citus_snapshot_row returns them on a Citus worker.';

CREATE OR REPLACE FUNCTION hvc._citus_snapshot_row(customer_proto anyelement, m hvc._model_params, as_of_day date,
                                                   timezone text, has_margin boolean, basis text,
                                                   segment_of_cell text[], tier_lo bigint[], tier_name text[],
                                                   tier_rank integer[], tier_high boolean[], refreshed timestamptz,
                                                   refresh_id bigint, move_reason text,
                                                   customer anyelement, state bytea, value_cents bigint,
                                                   prediction float8[], old_tier text, old_tier_rank integer,
                                                   old_previous_tier text, old_tier_since timestamptz,
                                                   shard_hash integer)
RETURNS hvc._citus_snapshot_cols AS 'MODULE_PATHNAME', 'hvc_citus_snapshot_row'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
-- (IMMUTABLE though it reads hvc.citus_globals: Citus pushes an INSERT ...
-- SELECT down to the shards only when its functions are immutable, and
-- repartitions every row between the workers otherwise; a refresh's globals
-- do not change while its statement runs.)
COMMENT ON FUNCTION hvc._citus_snapshot_row(anyelement, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, bigint, text, anyelement, bytea, bigint, float8[], text, integer, text, timestamptz, integer) IS
    'Internal: on a Citus worker, one customer''s row of hvc.customer_snapshot (the builder''s own code) from its state, its hvc._citus_score, its old row''s tier columns and the globals of the refresh for its shard in this node''s hvc.citus_globals (shard_hash: Citus''s hash of the customer); every column but customer_id.';

CREATE OR REPLACE FUNCTION hvc._hash_function(t regtype) RETURNS regprocedure
AS 'MODULE_PATHNAME', 'hvc_hash_function' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION hvc._hash_function(regtype) IS
    'Internal: the standard hash function of a type, by which Citus places a distribution column''s values into shards (its worker_hash); NULL without one.';

-- The cohort counts of hvc._snapshot_stats, counted per key on the workers
-- (hvc._citus_build_rows) and packed on the coordinator.
CREATE OR REPLACE FUNCTION hvc._cohort_keys(state bytea) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'hvc_cohort_keys' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._cohort_keys(bytea) IS
    'Internal: the cohort count keys a customer''s hvc.customer_state adds one to, as the snapshot builder counts them: (first purchase month << 32) | months after it, one per month with a purchase day.';
CREATE OR REPLACE FUNCTION hvc._cohort_counts_from(keys bigint[], customers bigint[]) RETURNS bytea
AS 'MODULE_PATHNAME', 'hvc_cohort_counts_from' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvc._cohort_counts_from(bigint[], bigint[]) IS
    'Internal: the cohort counts of hvc._snapshot_stats (read by hvc._cohort_rows) from the customers counted per key of hvc._cohort_keys.';

CREATE OR REPLACE FUNCTION hvc._set_snapshot_stats(refresh_id bigint, customers bigint, moved bigint, kept bigint,
                                                   premium_ticket_from float8, median_repeat_gap_days float8,
                                                   pareto float8[], cohorts bytea, max_tenure_days integer,
                                                   drops bigint, drop_ids jsonb[], high_value_customers bigint)
RETURNS void AS 'MODULE_PATHNAME', 'hvc_set_snapshot_stats' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._set_snapshot_stats(bigint, bigint, bigint, bigint, float8, float8, float8[], bytea, integer, bigint, jsonb[], bigint) IS
    'Internal: what hvc._snapshot_stats returns for a snapshot built on the Citus workers (the builder sets it itself).';

-- Whether the registered source is one whose snapshot goes on the workers.
CREATE OR REPLACE FUNCTION hvc._citus_shards_snapshot() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src hvc.source;
BEGIN
    SELECT * INTO src FROM hvc.source;
    RETURN src.relation IS NOT NULL AND to_regclass(src.relation) IS NOT NULL
       AND hvc._citus_distributed_by(src.relation::regclass, src.customer);
END $$;
COMMENT ON FUNCTION hvc._citus_shards_snapshot() IS
    'Internal: whether the registered source is a Citus table distributed by its customer column, so that register_source puts the snapshot''s rows on the workers.';

-- Whether the snapshot's rows are on the workers (hvc.customer_snapshot a view).
CREATE OR REPLACE FUNCTION hvc._citus_sharded() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT to_regclass('hvc.customer_snapshot_rows') IS NOT NULL
$$;
COMMENT ON FUNCTION hvc._citus_sharded() IS
    'Internal: whether the snapshot''s rows are on the Citus workers (hvc.customer_snapshot_rows, hvc.customer_snapshot a view of the current refresh''s).';

-- Drops what _citus_create_sharded_snapshot made (with DDL propagation: the
-- distributed table's shards go too).
CREATE OR REPLACE FUNCTION hvc._citus_drop_sharded_snapshot() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET citus.enable_ddl_propagation = on AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('hvc.customer_snapshot') AND relkind = 'v') THEN
        DROP VIEW hvc.customer_snapshot;
    END IF;
    DROP TABLE IF EXISTS hvc.customer_snapshot_rows, hvc.citus_current, hvc.citus_pending;
END $$;
COMMENT ON FUNCTION hvc._citus_drop_sharded_snapshot() IS
    'Internal: drops the snapshot rows on the Citus workers, their markers and the view over them (hvc._create_snapshot_objects).';

-- The table distributed colocated with the source (DDL propagation on: the
-- caller's is off).
CREATE OR REPLACE FUNCTION hvc._citus_distribute(rel regclass, colocate_with regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET citus.enable_ddl_propagation = on AS $$
BEGIN
    IF rel IS NULL OR colocate_with IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_distribute needs two tables' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pg_catalog.create_distributed_table(rel, 'customer_id', colocate_with => colocate_with::text);
END $$;
COMMENT ON FUNCTION hvc._citus_distribute(regclass, regclass) IS
    'Internal: distributes one of hvc''s tables by customer_id, colocated with the source.';

-- Called by hvc._create_snapshot_objects once it made hvc.customer_snapshot_rows.
CREATE OR REPLACE FUNCTION hvc._citus_create_sharded_snapshot() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    src hvc.source;
    cols text;
BEGIN
    SELECT * INTO src FROM hvc.source;
    IF to_regclass('hvc.customer_snapshot_rows') IS NULL OR src.relation IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_create_sharded_snapshot runs in hvc._create_snapshot_objects'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    COMMENT ON TABLE hvc.customer_snapshot_rows IS
        'Internal store of hvc.customer_snapshot on Citus: the rows of the current refresh and of the next (or previous) one, distributed by customer_id and colocated with the source. Query hvc.customers instead.';
    CREATE INDEX customer_snapshot_rows_customer ON hvc.customer_snapshot_rows (customer_id, refresh_id);
    PERFORM hvc._citus_distribute('hvc.customer_snapshot_rows', src.relation::regclass);
    -- the refresh's stage and scores on the workers, now rather than at the first refresh
    PERFORM hvc._citus_stage_tables(src.relation::regclass,
                                    format_type(a.atttypid, a.atttypmod))
       FROM pg_attribute a
      WHERE a.attrelid = src.relation::regclass AND a.attname = src.customer AND NOT a.attisdropped;

    CREATE TABLE hvc.citus_current (refresh_id bigint);
    COMMENT ON TABLE hvc.citus_current IS
        'Internal: the refresh whose rows of hvc.customer_snapshot_rows readers see (one row; NULL before the first refresh).';
    INSERT INTO hvc.citus_current VALUES (NULL);
    CREATE TABLE hvc.citus_pending (pid integer NOT NULL, refresh_id bigint NOT NULL);
    COMMENT ON TABLE hvc.citus_pending IS
        'Internal: the refresh a refreshing session reads its own new rows of (inserted and deleted within the refresh''s transaction: never committed).';

    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
      FROM pg_attribute a
     WHERE a.attrelid = 'hvc.customer_snapshot_rows'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format($v$
    CREATE VIEW hvc.customer_snapshot AS
    SELECT %s
      FROM hvc.customer_snapshot_rows r
     WHERE r.refresh_id = (SELECT coalesce((SELECT p.refresh_id FROM hvc.citus_pending p
                                             WHERE p.pid = pg_catalog.pg_backend_pid()),
                                            (SELECT c.refresh_id FROM hvc.citus_current c)))$v$, cols);
    COMMENT ON VIEW hvc.customer_snapshot IS
        'Internal store of hvc.customers on Citus: the rows of the current refresh (hvc.citus_current). Query hvc.customers instead.';
END $fn$;
COMMENT ON FUNCTION hvc._citus_create_sharded_snapshot() IS
    'Internal: on Citus, distributes hvc.customer_snapshot_rows colocated with the source and makes the markers and the view hvc.customer_snapshot over the current refresh''s rows.';

-- Marks the refresh of hvc.snapshot_info current for readers; nothing when
-- it is (or without rows on the workers).  CALL hvc.refresh() runs it in a
-- transaction of its own after the refresh committed; hvc.refresh_now() in
-- the caller's; every sharded write first (a refresh whose publication was
-- lost in a crash is published then).
CREATE OR REPLACE FUNCTION hvc._citus_publish() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF hvc._citus_sharded() THEN
        UPDATE hvc.citus_current c SET refresh_id = i.refresh_id
          FROM hvc.snapshot_info i
         WHERE c.refresh_id IS DISTINCT FROM i.refresh_id;
    END IF;
END $$;
COMMENT ON FUNCTION hvc._citus_publish() IS
    'Internal: on Citus with the snapshot on the workers, marks the refresh of hvc.snapshot_info current (hvc.citus_current), so readers see its rows.';

-- The end of a sharded write's transaction: the session stops reading its
-- own new rows (the pending row is never committed).
CREATE OR REPLACE FUNCTION hvc._citus_pending_end() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF hvc._citus_sharded() THEN
        DELETE FROM hvc.citus_pending WHERE pid = pg_backend_pid();
    END IF;
END $$;
COMMENT ON FUNCTION hvc._citus_pending_end() IS
    'Internal: ends a refreshing session''s view of its own new snapshot rows on Citus (hvc.citus_pending).';

-- Step 3 of a refresh when the rows are on the workers: deletes the rows
-- no reader can see any more; after a full refresh of a source distributed
-- by customer (not ranked by the score) builds the new rows on the workers
-- and returns true.  False: hvc._write_rows builds them on the coordinator,
-- as on one server, into hvc.customer_snapshot_rows (it reads the current
-- rows through the view), and then calls hvc._citus_pending_begin.
CREATE OR REPLACE FUNCTION hvc._citus_write_rows(id bigint, src hvc.source, models hvc._model_params,
                                                 as_of_day date, timezone text, basis text,
                                                 segment_of_cell text[], tier_lo bigint[], tier_name text[],
                                                 tier_rank_of integer[], tier_high boolean[],
                                                 refreshed timestamptz, move_reason text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET extra_float_digits = 3 AS $fn$
DECLARE
    marker bigint;
BEGIN
    IF id IS NULL OR src.relation IS NULL OR models IS NULL OR as_of_day IS NULL OR basis IS NULL
       OR refreshed IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_write_rows needs the refresh id, source, fits, as_of day, basis and refresh time'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM hvc._citus_publish();
    SELECT c.refresh_id INTO marker FROM hvc.citus_current c;
    -- what no reader can see any more: the rows before the current refresh's
    DELETE FROM hvc.customer_snapshot_rows WHERE refresh_id IS DISTINCT FROM marker;
    IF to_regclass('pg_temp._hvc_citus_staged') IS NULL OR basis = 'score' THEN
        RETURN false;
    END IF;
    PERFORM hvc._citus_build_rows(id, hvc._base_type(src.customer_type::regtype)::text, marker, models,
                                  as_of_day, timezone, src.margin IS NOT NULL, basis, segment_of_cell,
                                  tier_lo, tier_name, tier_rank_of, tier_high, refreshed, move_reason);
    PERFORM hvc._citus_pending_begin(id);
    RETURN true;
END $fn$;
COMMENT ON FUNCTION hvc._citus_write_rows(bigint, hvc.source, hvc._model_params, date, text, text, text[], bigint[], text[], integer[], boolean[], timestamptz, text) IS
    'Internal: step 3 of a refresh whose snapshot rows are on the Citus workers: deletes the rows no reader sees any more and, after a full refresh of a source distributed by customer, builds the new ones and the tier moves on the workers (true); false when hvc._write_rows is to build them on the coordinator.';

-- From here on the refreshing session reads its new rows (the pending row
-- is deleted by hvc._citus_pending_end in the same transaction).
CREATE OR REPLACE FUNCTION hvc._citus_pending_begin(id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_pending_begin needs the refresh id' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM hvc.citus_pending WHERE pid = pg_backend_pid();
    INSERT INTO hvc.citus_pending (pid, refresh_id) VALUES (pg_backend_pid(), id);
END $$;
COMMENT ON FUNCTION hvc._citus_pending_begin(bigint) IS
    'Internal: makes a refreshing session read its own new snapshot rows on Citus (hvc.citus_pending) until hvc._citus_pending_end.';

-- The globals, one segment per shard of hvc.citus_stage (shard_min: the
-- shards' first hash values, ascending, as hvc._citus_globals had them),
-- into hvc.citus_globals of the node that holds the shard: on the workers
-- in one statement each, of their own (committed at once: the shards' tasks
-- read them in the refresh's transaction), on the coordinator in the
-- refresh's transaction.  NULL globals: deleted everywhere.
CREATE OR REPLACE FUNCTION hvc._citus_send_globals(id bigint, globals bytea[], shard_min integer[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    bad text;
    nodes record;
BEGIN
    IF id IS NULL OR (globals IS NOT NULL AND (shard_min IS NULL
                                               OR cardinality(globals) <> cardinality(shard_min))) THEN
        RAISE EXCEPTION 'hvc: _citus_send_globals needs the refresh id and one segment per shard'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM hvc.citus_globals;
    IF globals IS NULL THEN
        EXECUTE $q$SELECT string_agg(format('%s:%s: %s', nodename, nodeport, left(result, 200)), ', ')
                     FROM pg_catalog.run_command_on_workers('DELETE FROM hvc.citus_globals') WHERE NOT success$q$
          INTO bad;
    ELSE
        -- per node, its shards' segments ((base64: a third shorter than hex)
        EXECUTE $q$
            WITH seg AS (
                SELECT x.i, x.hmin, s.shardmaxvalue::integer AS hmax, n.groupid, n.nodename, n.nodeport
                  FROM unnest($1) WITH ORDINALITY AS x(hmin, i)
                  JOIN pg_catalog.pg_dist_shard s
                    ON s.logicalrelid = 'hvc.citus_stage'::regclass AND s.shardminvalue::integer = x.hmin
                  JOIN pg_catalog.pg_dist_placement p ON p.shardid = s.shardid
                  JOIN pg_catalog.pg_dist_node n ON n.groupid = p.groupid AND n.isactive AND n.noderole = 'primary')
            SELECT array_agg(nodename ORDER BY nodename, nodeport) FILTER (WHERE groupid <> 0) AS names,
                   array_agg(nodeport ORDER BY nodename, nodeport) FILTER (WHERE groupid <> 0) AS ports,
                   array_agg(cmd ORDER BY nodename, nodeport) FILTER (WHERE groupid <> 0) AS cmds,
                   bool_or(groupid = 0) AS local,
                   sum(segments) AS segments
              FROM (SELECT groupid, nodename, nodeport, count(*) AS segments,
                           'DELETE FROM hvc.citus_globals; INSERT INTO hvc.citus_globals (refresh_id, hash_min, hash_max, globals) VALUES '
                           || string_agg(format('(%s, %s, %s, decode(%L, ''base64''))', $2, hmin, hmax,
                                                encode(($3)[i], 'base64')), ', ') AS cmd
                      FROM seg GROUP BY groupid, nodename, nodeport) per_node $q$
          INTO nodes USING shard_min, id, globals;
        IF coalesce(nodes.segments, 0) <> cardinality(shard_min) THEN
            RAISE EXCEPTION 'hvc: the shards of hvc.citus_stage changed during the refresh'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Run the refresh again (a shard was moved or split meanwhile).';
        END IF;
        IF nodes.local THEN        -- shards on the coordinator
            EXECUTE $q$
                INSERT INTO hvc.citus_globals (refresh_id, hash_min, hash_max, globals)
                SELECT $2, x.hmin, s.shardmaxvalue::integer, ($3)[x.i]
                  FROM unnest($1) WITH ORDINALITY AS x(hmin, i)
                  JOIN pg_catalog.pg_dist_shard s
                    ON s.logicalrelid = 'hvc.citus_stage'::regclass AND s.shardminvalue::integer = x.hmin
                 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement p
                                WHERE p.shardid = s.shardid AND p.groupid = 0)$q$
            USING shard_min, id, globals;
        END IF;
        IF nodes.names IS NOT NULL THEN
            EXECUTE $q$SELECT string_agg(format('%s:%s: %s', node_name, node_port, left(result, 200)), ', ')
                         FROM pg_catalog.master_run_on_worker($1, $2, $3, true) WHERE NOT success$q$
              INTO bad USING nodes.names, nodes.ports, nodes.cmds;
        END IF;
    END IF;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'hvc: could not send the refresh''s globals to every Citus worker: %', bad
            USING ERRCODE = 'connection_failure';
    END IF;
END $fn$;
COMMENT ON FUNCTION hvc._citus_send_globals(bigint, bytea[], integer[]) IS
    'Internal: writes a refresh''s globals, one segment per shard, into hvc.citus_globals of the node holding the shard (coordinator or Citus worker); NULL: deletes them everywhere.';

-- The rows built on the workers (see the top of this file).
CREATE OR REPLACE FUNCTION hvc._citus_build_rows(id bigint, key text, marker bigint, models hvc._model_params,
                                                 as_of_day date, timezone text, has_margin boolean, basis text,
                                                 segment_of_cell text[], tier_lo bigint[], tier_name text[],
                                                 tier_rank_of integer[], tier_high boolean[],
                                                 refreshed timestamptz, move_reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET extra_float_digits = 3 AS $fn$
DECLARE
    g record;
    rest text;
    shard_min integer[];
    hash_fn text;
    hash_immutable boolean;
    old_rows text := format('o.refresh_id = %s', coalesce(marker, -1));   -- (a constant false breaks Citus's colocated join)
    moved bigint;
    kept bigint;
    high_value bigint;
    cohorts bytea;
    drops bigint := 0;
    drop_ids jsonb[] := '{}';
BEGIN
    IF id IS NULL OR key IS NULL OR to_regtype(key) IS NULL OR models IS NULL OR as_of_day IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_build_rows needs the refresh id, key type, fits and as_of day'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- 1. per customer on the workers: the predictions, what the ranks need,
    -- and the customer's shard hash (Citus's worker_hash, by the key type's
    -- hash function called directly: immutable, so Citus pushes the
    -- statement down instead of repartitioning its rows)
    SELECT format('%I.%I', n.nspname, p.proname), p.provolatile = 'i' INTO hash_fn, hash_immutable
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.oid = hvc._hash_function(key::regtype);
    IF hash_fn IS NULL OR NOT hash_immutable THEN
        RAISE EXCEPTION 'hvc: the customer key type % has no immutable hash function', key
            USING ERRCODE = 'feature_not_supported';
    END IF;
    TRUNCATE hvc.citus_scored;
    EXECUTE format($q$
        INSERT INTO hvc.citus_scored (customer_id, value_cents, first_day, last_day, orders, frequency,
                                      revenue, churn_risk, prediction, shard_hash)
        SELECT s.customer_id, x.value_cents, x.first_day, x.last_day, x.orders, x.frequency,
               x.revenue, x.churn_risk, x.prediction, %s(s.customer_id)
          FROM hvc.citus_stage s
         CROSS JOIN LATERAL hvc._citus_score(s.state, %L::hvc._model_params, %L::date, %L, %L) x
         WHERE x.value_cents IS NOT NULL$q$, hash_fn, models, as_of_day, basis, has_margin);
    -- 2. what is global, on the coordinator, to the workers
    EXECUTE $q$SELECT array_agg(s.shardminvalue::integer ORDER BY s.shardminvalue::integer)
                 FROM pg_catalog.pg_dist_shard s WHERE s.logicalrelid = 'hvc.citus_stage'::regclass$q$
      INTO shard_min;
    -- (the scores packed one bytea per shard on the workers: the coordinator
    -- receives one value per shard, not a row per customer)
    EXECUTE format('SELECT * FROM hvc._citus_globals(NULL::%s, $1, $2, $3, true)', key) INTO g USING as_of_day, id, shard_min;
    PERFORM hvc._citus_send_globals(id, g.globals, shard_min);
    -- 3. every row on its worker
    SELECT string_agg(format('r.%I', a.attname), ', ' ORDER BY a.attnum) FILTER (WHERE a.attname <> 'customer_id')
      INTO rest
      FROM pg_attribute a
     WHERE a.attrelid = 'hvc.customer_snapshot_rows'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
    -- (the key from the stage and the rest a named type: Citus then sees
    -- that each row goes to the shard it was read from, and pushes the
    -- statement down instead of repartitioning every row between workers)
    EXECUTE format($q$
        INSERT INTO hvc.customer_snapshot_rows
        SELECT s.customer_id, %s
          FROM hvc.citus_stage s
          JOIN hvc.citus_scored p ON p.customer_id = s.customer_id
          LEFT JOIN hvc.customer_snapshot_rows o ON o.customer_id = s.customer_id AND %s
         CROSS JOIN LATERAL hvc._citus_snapshot_row(NULL::%s, %L::hvc._model_params, %L::date, %L, %L, %L,
                    %L::text[], %L::bigint[], %L::text[], %L::integer[], %L::boolean[], %L::timestamptz, %s,
                    NULL::text, s.customer_id, s.state, p.value_cents, p.prediction,
                    o.tier, o.tier_rank, o.previous_tier, o.tier_since, p.shard_hash) r$q$,
        rest, old_rows, key, models, as_of_day, timezone, has_margin, basis, segment_of_cell, tier_lo, tier_name,
        tier_rank_of, tier_high, refreshed, id);
    PERFORM hvc._citus_send_globals(id, NULL, NULL);     -- (they name customers)
    -- 4. the tier moves (none for the first snapshot), as the builder writes them
    IF move_reason IS NOT NULL THEN
        EXECUTE format($q$
            INSERT INTO hvc.tier_history (customer_id, refresh_id, refreshed_at, from_tier, from_tier_rank,
                                          to_tier, to_tier_rank, direction, reason)
            SELECT m.customer_id, %1$s, %2$L::timestamptz, m.previous_tier, m.from_rank, m.tier, m.tier_rank,
                   CASE WHEN m.previous_tier IS NULL THEN 'new' WHEN m.tier_rank < m.from_rank THEN 'up' ELSE 'down' END,
                   CASE WHEN m.previous_tier IS NULL THEN 'activity' ELSE %3$L END
              FROM (SELECT n.customer_id, n.previous_tier, n.tier, n.tier_rank,
                           coalesce((%4$L::integer[])[array_position(%5$L::text[], o.tier)], o.tier_rank) AS from_rank
                      FROM hvc.customer_snapshot_rows n
                      LEFT JOIN hvc.customer_snapshot_rows o ON o.customer_id = n.customer_id AND %6$s
                     WHERE n.refresh_id = %1$s AND n.tier_since = %2$L::timestamptz) m$q$,
            id, refreshed, move_reason, tier_rank_of, tier_name, old_rows);
        IF move_reason = 'activity' THEN
            -- the drops the tier-drop alert counts: down, out of a tier that
            -- is high-value under the current rules; the ten most valuable named
            EXECUTE format($q$
                SELECT count(*), (array_agg(to_jsonb(d.customer_id) ORDER BY d.value_rank))[1:10]
                  FROM (SELECT n.customer_id, n.value_rank
                          FROM hvc.customer_snapshot_rows n
                          JOIN hvc.customer_snapshot_rows o ON o.customer_id = n.customer_id AND %1$s
                         WHERE n.refresh_id = %2$s AND n.tier_since = %3$L::timestamptz
                           AND n.previous_tier IS NOT NULL
                           AND coalesce((%4$L::boolean[])[array_position(%5$L::text[], o.tier)], false)
                           AND n.tier_rank >= coalesce((%6$L::integer[])[array_position(%5$L::text[], o.tier)], o.tier_rank)) d$q$,
                old_rows, id, refreshed, tier_high, tier_name, tier_rank_of)
            INTO drops, drop_ids;
            drop_ids := coalesce(drop_ids, '{}');
        END IF;
    END IF;
    SELECT count(*) FILTER (WHERE n.tier_since = refreshed),
           count(*) FILTER (WHERE NOT (n.tier_since = refreshed AND n.previous_tier IS NULL)),
           count(*) FILTER (WHERE n.is_high_value)
      INTO moved, kept, high_value
      FROM hvc.customer_snapshot_rows n WHERE n.refresh_id = id;
    -- the cohort counts, per key on the workers
    SELECT hvc._cohort_counts_from(coalesce(array_agg(c.key), '{}'), coalesce(array_agg(c.customers), '{}'))
      INTO cohorts
      FROM (SELECT k.key, count(*) AS customers
              FROM hvc.citus_stage s CROSS JOIN LATERAL unnest(hvc._cohort_keys(s.state)) AS k(key)
             GROUP BY k.key) c;
    PERFORM hvc._set_snapshot_stats(id, g.customers, moved, kept, g.premium_ticket_from,
                                    g.median_repeat_gap_days, g.pareto, cohorts,
                                    g.max_tenure_days, drops, drop_ids, high_value);
    -- nothing per customer stays on the workers but the snapshot
    TRUNCATE hvc.citus_stage, hvc.citus_scored;
    DROP TABLE pg_temp._hvc_citus_staged;
END $fn$;
COMMENT ON FUNCTION hvc._citus_build_rows(bigint, text, bigint, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, text) IS
    'Internal: builds a full refresh''s snapshot rows on the Citus workers (hvc._citus_score, hvc._citus_globals, hvc._citus_snapshot_row), writes the tier moves and sets what hvc._snapshot_stats returns.';

-- Steps 4 and 5 when the rows are on the workers: the lapsed customers into
-- the history; the old rows stay for readers until the next refresh.
CREATE OR REPLACE FUNCTION hvc._citus_retire(id bigint, refreshed timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    stats record;
    old_customers bigint;
    marker bigint;
BEGIN
    IF id IS NULL OR refreshed IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_retire needs the refresh id and its time'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO stats FROM hvc._snapshot_stats(id);
    SELECT i.customers INTO old_customers FROM hvc.snapshot_info i;
    SELECT c.refresh_id INTO marker FROM hvc.citus_current c;
    IF old_customers IS NOT NULL AND marker IS NOT NULL AND stats.kept < old_customers THEN
        INSERT INTO hvc.tier_history (customer_id, refresh_id, refreshed_at, from_tier,
                                      from_tier_rank, to_tier, to_tier_rank, direction)
        SELECT o.customer_id, id, refreshed, o.tier, o.tier_rank, NULL, NULL, 'lapsed'
          FROM hvc.customer_snapshot_rows o
         WHERE o.refresh_id = marker
           AND NOT EXISTS (SELECT 1 FROM hvc.customer_snapshot_rows n
                            WHERE n.customer_id = o.customer_id AND n.refresh_id = id);
    END IF;
    PERFORM hvc._prune_tier_history(id);
END $fn$;
COMMENT ON FUNCTION hvc._citus_retire(bigint, timestamptz) IS
    'Internal: steps 4 and 5 of a refresh whose snapshot rows are on the Citus workers: records the lapsed customers in hvc.tier_history and prunes it; the previous refresh''s rows stay until the next refresh (readers still on them).';

-- (after 90_privileges.sql: internal, like every hvc._* routine)
REVOKE ALL ON FUNCTION hvc._citus_score(bytea, hvc._model_params, date, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_globals(anyelement, date, bigint, integer[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_key_bytes(anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_pack_trans(bytea, bytea, bigint, integer, integer, bigint, integer, bigint, float8, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_pack_combine(bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_pack_scored(bytea, bigint, integer, integer, bigint, integer, bigint, float8, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_snapshot_row(anyelement, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, bigint, text, anyelement, bytea, bigint, float8[], text, integer, text, timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._cohort_keys(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._cohort_counts_from(bigint[], bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._hash_function(regtype) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._set_snapshot_stats(bigint, bigint, bigint, bigint, float8, float8, float8[], bytea, integer, bigint, jsonb[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_shards_snapshot() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_sharded() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_drop_sharded_snapshot() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_distribute(regclass, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_create_sharded_snapshot() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_publish() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_pending_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_pending_begin(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_write_rows(bigint, hvc.source, hvc._model_params, date, text, text, text[], bigint[], text[], integer[], boolean[], timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_build_rows(bigint, text, bigint, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_retire(bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_send_globals(bigint, bytea[], integer[]) FROM PUBLIC;
REVOKE ALL ON hvc.citus_globals FROM PUBLIC;
