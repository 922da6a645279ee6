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
                                              OUT globals bytea, OUT customers bigint, OUT pareto float8[],
                                              OUT premium_ticket_from float8, OUT median_repeat_gap_days float8,
                                              OUT max_tenure_days integer)
RETURNS record AS 'MODULE_PATHNAME', 'hvc_citus_globals'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._citus_globals(anyelement, date, bigint) IS
    'Internal: on the Citus coordinator, reads hvc.citus_scored once and computes what is global to a snapshot built on the workers: per customer the value rank, cumulative share, RFM scores and churn percentile (as the globals bytea the workers read), the Pareto curve and the percentiles of hvc.snapshot_info.';

CREATE OR REPLACE FUNCTION hvc._citus_snapshot_row(customer_proto anyelement, m hvc._model_params, as_of_day date,
                                                   timezone text, has_margin boolean, basis text,
                                                   segment_of_cell text[], tier_lo bigint[], tier_name text[],
                                                   tier_rank integer[], tier_high boolean[], refreshed timestamptz,
                                                   refresh_id bigint, move_reason text,
                                                   customer anyelement, state bytea, value_cents bigint,
                                                   prediction float8[], old_tier text, old_tier_rank integer,
                                                   old_previous_tier text, old_tier_since timestamptz,
                                                   globals bytea)
RETURNS record AS 'MODULE_PATHNAME', 'hvc_citus_snapshot_row'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvc._citus_snapshot_row(anyelement, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, bigint, text, anyelement, bytea, bigint, float8[], text, integer, text, timestamptz, bytea) IS
    'Internal: on a Citus worker, one customer''s row of hvc.customer_snapshot (the builder''s own code) from its state, its hvc._citus_score, its old row''s tier columns and the globals of hvc._citus_globals; called with a column definition list.';

CREATE OR REPLACE FUNCTION hvc._stage_cohorts(as_of_day date) RETURNS bytea
AS 'MODULE_PATHNAME', 'hvc_stage_cohorts' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._stage_cohorts(date) IS
    'Internal: the cohort counts of the refresh''s stage (pg_temp._hvc_stage), as the snapshot builder counts them for hvc._snapshot_stats.';

CREATE OR REPLACE FUNCTION hvc._set_snapshot_stats(refresh_id bigint, customers bigint, moved bigint, kept bigint,
                                                   premium_ticket_from float8, median_repeat_gap_days float8,
                                                   pareto float8[], cohorts bytea, max_tenure_days integer,
                                                   drops bigint, drop_ids jsonb[])
RETURNS void AS 'MODULE_PATHNAME', 'hvc_set_snapshot_stats' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._set_snapshot_stats(bigint, bigint, bigint, bigint, float8, float8, float8[], bytea, integer, bigint, jsonb[]) IS
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

-- Step 3 of a refresh when the rows are on the workers.
CREATE OR REPLACE FUNCTION hvc._citus_write_rows(id bigint, src hvc.source, models hvc._model_params,
                                                 as_of_day date, timezone text, basis text,
                                                 segment_of_cell text[], tier_lo bigint[], tier_name text[],
                                                 tier_rank_of integer[], tier_high boolean[],
                                                 refreshed timestamptz, move_reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET extra_float_digits = 3 AS $fn$
DECLARE
    marker bigint;
    key text;
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
    key := hvc._base_type(src.customer_type::regtype)::text;
    IF to_regclass('pg_temp._hvc_citus_staged') IS NOT NULL AND basis <> 'score' THEN
        PERFORM hvc._citus_build_rows(id, key, marker, models, as_of_day, timezone, src.margin IS NOT NULL,
                                      basis, segment_of_cell, tier_lo, tier_name, tier_rank_of, tier_high,
                                      refreshed, move_reason);
    ELSE
        -- on the coordinator (an incremental refresh, the basis score):
        -- the builder reads the current rows through the view and its rows
        -- are sent to the workers
        PERFORM hvc._citus_predictions(models, as_of_day);
        EXECUTE format($q$
            INSERT INTO hvc.customer_snapshot_rows
            SELECT * FROM hvc._build_snapshot(NULL::%s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)$q$, key)
        USING models, as_of_day, timezone, src.margin IS NOT NULL, basis,
              segment_of_cell, tier_lo, tier_name, tier_rank_of, tier_high, refreshed, id, move_reason;
    END IF;
    -- from here on this refresh's statements read the new rows
    DELETE FROM hvc.citus_pending WHERE pid = pg_backend_pid();
    INSERT INTO hvc.citus_pending (pid, refresh_id) VALUES (pg_backend_pid(), id);
END $fn$;
COMMENT ON FUNCTION hvc._citus_write_rows(bigint, hvc.source, hvc._model_params, date, text, text, text[], bigint[], text[], integer[], boolean[], timestamptz, text) IS
    'Internal: step 3 of a refresh whose snapshot rows are on the Citus workers: deletes the rows no reader sees any more, writes the new ones (built on the workers after a full refresh of a source distributed by customer, else on the coordinator) and the tier moves.';

-- The rows built on the workers (see the top of this file).
CREATE OR REPLACE FUNCTION hvc._citus_build_rows(id bigint, key text, marker bigint, models hvc._model_params,
                                                 as_of_day date, timezone text, has_margin boolean, basis text,
                                                 segment_of_cell text[], tier_lo bigint[], tier_name text[],
                                                 tier_rank_of integer[], tier_high boolean[],
                                                 refreshed timestamptz, move_reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET extra_float_digits = 3 AS $fn$
DECLARE
    g record;
    cols text;
    old_rows text := format('o.refresh_id = %s', coalesce(marker, -1));   -- (a constant false breaks Citus's colocated join)
    moved bigint;
    kept bigint;
    drops bigint := 0;
    drop_ids jsonb[] := '{}';
BEGIN
    IF id IS NULL OR key IS NULL OR to_regtype(key) IS NULL OR models IS NULL OR as_of_day IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_build_rows needs the refresh id, key type, fits and as_of day'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- 1. per customer on the workers: the predictions and what the ranks need
    TRUNCATE hvc.citus_scored;
    EXECUTE format($q$
        INSERT INTO hvc.citus_scored (customer_id, value_cents, first_day, last_day, orders, frequency,
                                      revenue, churn_risk, prediction)
        SELECT s.customer_id, x.value_cents, x.first_day, x.last_day, x.orders, x.frequency,
               x.revenue, x.churn_risk, x.prediction
          FROM hvc.citus_stage s
         CROSS JOIN LATERAL hvc._citus_score(s.state, %L::hvc._model_params, %L::date, %L, %L) x
         WHERE x.value_cents IS NOT NULL$q$, models, as_of_day, basis, has_margin);
    -- 2. what is global, on the coordinator, to the workers
    EXECUTE format('SELECT * FROM hvc._citus_globals(NULL::%s, $1, $2)', key) INTO g USING as_of_day, id;
    DELETE FROM hvc.citus_globals;
    INSERT INTO hvc.citus_globals (refresh_id, globals) VALUES (id, g.globals);
    -- 3. every row on its worker
    SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
      INTO cols
      FROM pg_attribute a
     WHERE a.attrelid = 'hvc.customer_snapshot_rows'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format($q$
        INSERT INTO hvc.customer_snapshot_rows
        SELECT r.*
          FROM hvc.citus_stage s
          JOIN hvc.citus_scored p ON p.customer_id = s.customer_id
          LEFT JOIN hvc.customer_snapshot_rows o ON o.customer_id = s.customer_id AND %s
         CROSS JOIN LATERAL hvc._citus_snapshot_row(NULL::%s, %L::hvc._model_params, %L::date, %L, %L, %L,
                    %L::text[], %L::bigint[], %L::text[], %L::integer[], %L::boolean[], %L::timestamptz, %s,
                    NULL::text, s.customer_id, s.state, p.value_cents, p.prediction,
                    o.tier, o.tier_rank, o.previous_tier, o.tier_since,
                    (SELECT gl.globals FROM hvc.citus_globals gl WHERE gl.refresh_id = %s)) AS r(%s)$q$,
        old_rows, key, models, as_of_day, timezone, has_margin, basis, segment_of_cell, tier_lo, tier_name,
        tier_rank_of, tier_high, refreshed, id, id, cols);
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
           count(*) FILTER (WHERE NOT (n.tier_since = refreshed AND n.previous_tier IS NULL))
      INTO moved, kept
      FROM hvc.customer_snapshot_rows n WHERE n.refresh_id = id;
    PERFORM hvc._set_snapshot_stats(id, g.customers, moved, kept, g.premium_ticket_from,
                                    g.median_repeat_gap_days, g.pareto, hvc._stage_cohorts(as_of_day),
                                    g.max_tenure_days, drops, drop_ids);
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
REVOKE ALL ON FUNCTION hvc._citus_globals(anyelement, date, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_snapshot_row(anyelement, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, bigint, text, anyelement, bytea, bigint, float8[], text, integer, text, timestamptz, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._stage_cohorts(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._set_snapshot_stats(bigint, bigint, bigint, bigint, float8, float8, float8[], bytea, integer, bigint, jsonb[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_shards_snapshot() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_sharded() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_drop_sharded_snapshot() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_distribute(regclass, regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_create_sharded_snapshot() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_publish() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_pending_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_write_rows(bigint, hvc.source, hvc._model_params, date, text, text, text[], bigint[], text[], integer[], boolean[], timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_build_rows(bigint, text, bigint, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_retire(bigint, timestamptz) FROM PUBLIC;
