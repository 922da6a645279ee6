-- ---------------------------------------------------------------------------
-- CALL hvc.refresh(as_of, full) and SELECT hvc.refresh_now(as_of, full):
-- read the source once, rebuild the snapshot, swap it in atomically.  Both
-- run the same steps (_refresh_start, then _refresh_build under the refresh
-- lock of 59_refresh_lock.sql); the procedure commits the 'running' log row
-- first and records failures, refresh_now runs in the caller's transaction.
--
-- Pipeline (each step a set-based statement over temp tables, so the
-- per-customer state stays in one place and later steps — incremental
-- refresh, Citus partial aggregation, backtests — can reuse the stages):
--   1. stage:    one GROUP BY pass with hvc.customer_state: a serialised,
--                mergeable state per customer                  (_hvc_stage)
--   2. models:   stage totals and model fits, in C             (hvc._fit_models)
--   3. compute:  metrics, scores, segments, predictions, ranks,
--                tiers, in C, streamed in two passes (tuplesorts that spill
--                beyond work_mem), inserted beside the old rows
--                                                              (hvc._build_snapshot)
--   4. history:  tier moves                                    (hvc.tier_history)
--   5. swap:     the old rows are deleted in the same transaction: readers see
--                the old snapshot until commit, the new one after, and are
--                never blocked.
-- ---------------------------------------------------------------------------

-- Open a refresh: check the prerequisites, mark abandoned runs, log this one
-- as running.  Shared by hvc.refresh() (which commits the row at once, so a
-- failure is logged) and hvc.refresh_now() (in the caller's transaction).
CREATE OR REPLACE FUNCTION hvc._refresh_start(as_of timestamptz, "full" boolean) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    IF NOT isfinite(coalesce(as_of, now())) THEN
        RAISE EXCEPTION 'hvc: as_of must be a finite time, not %', as_of
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass a date or time, e.g. as_of => ''2025-07-01'', or leave it out for now().';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM hvc.config) THEN
        RAISE EXCEPTION 'hvc: hvc.config has no row'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'INSERT INTO hvc.config DEFAULT VALUES;';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM hvc.source) THEN
        RAISE EXCEPTION 'hvc: no sales table is registered'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'SELECT hvc.register_source(source => ''public.sales'', customer => ''customer_id'', ordered_at => ''ordered_at'', amount => ''amount'');';
    END IF;
    -- A run whose session is gone was cancelled or crashed.
    UPDATE hvc.refresh_log l
       SET status = 'interrupted', finished_at = coalesce(l.finished_at, now()),
           message = 'the refreshing session ended before the refresh finished (cancelled or crashed); the previous snapshot was kept'
     WHERE l.status = 'running'
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid
                          AND a.backend_start <= l.started_at);
    INSERT INTO hvc.refresh_log (started_at, as_of, status, backend_pid, full_requested)
    VALUES (clock_timestamp(), coalesce(as_of, now()), 'running', pg_backend_pid(), coalesce("full", false))
    RETURNING refresh_id INTO id;
    RETURN id;
END $$;
COMMENT ON FUNCTION hvc._refresh_start(timestamptz, boolean) IS 'Internal: first step of hvc.refresh() and hvc.refresh_now(): checks, logs the refresh as running.';

CREATE OR REPLACE FUNCTION hvc._refresh_fail(id bigint, sqlstate text, msg text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE hvc.refresh_log
       SET status = 'failed', finished_at = clock_timestamp(),
           message = format('%s (SQLSTATE %s); the previous snapshot was kept', msg, sqlstate)
     WHERE refresh_id = id;
$$;
COMMENT ON FUNCTION hvc._refresh_fail(bigint, text, text) IS 'Internal: records a failed refresh.';

-- The steps of a refresh and their seconds, for hvc.refresh_log.timings:
-- marks[i] is when step i began, marks[i + 1] when it ended; details[i],
-- when given and not NULL, follows step i in parentheses (the parts of an
-- incremental stage).
CREATE OR REPLACE FUNCTION hvc._refresh_timings(steps text[], marks timestamptz[], details text[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF steps IS NULL OR marks IS NULL OR cardinality(steps) = 0
       OR cardinality(marks) <> cardinality(steps) + 1
       OR array_position(steps, NULL) IS NOT NULL OR array_position(marks, NULL) IS NOT NULL
       OR cardinality(details) <> cardinality(steps) THEN
        RAISE EXCEPTION 'hvc: _refresh_timings takes n step names, their n + 1 time marks (none NULL) and optionally n details'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN (SELECT string_agg(format('%s %s s', steps[i],
                                     to_char(extract(epoch FROM marks[i + 1] - marks[i]), 'FM9999999990.000'))
                              || coalesce(' (' || details[i] || ')', ''),
                              ', ' ORDER BY i)
              FROM generate_series(1, cardinality(steps)) i);
END $$;
COMMENT ON FUNCTION hvc._refresh_timings(text[], timestamptz[], text[]) IS
    'Internal: formats hvc.refresh_log.timings from the step names, the times the steps began (and the last ended) and optional details per step.';

-- Tier rules as contiguous value-rank ranges for n customers.
CREATE OR REPLACE FUNCTION hvc._tier_ranges(n bigint)
RETURNS TABLE (tier text, tier_rank integer, high_value boolean, lo bigint, hi bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM hvc.tier_rules) THEN
        RAISE EXCEPTION 'hvc: hvc.tier_rules is empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Add at least one tier with customer_share = 1, e.g. INSERT INTO hvc.tier_rules VALUES (''all'', 1, 1.0, false);';
    END IF;
    SELECT string_agg(format('%s (rank %s, share %s)', r.tier, r.tier_rank, r.customer_share), ', ')
      INTO bad
      FROM (SELECT t.*, lag(t.customer_share) OVER (ORDER BY t.tier_rank) AS prev
              FROM hvc.tier_rules t) r
     WHERE r.customer_share <= r.prev;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'hvc: tier_rules shares must grow with tier_rank'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Not above the tier before: %s.', bad),
                  HINT = 'customer_share is cumulative: e.g. top 0.05, high 0.20, medium 0.50, low 1.00.';
    END IF;
    IF (SELECT t.customer_share FROM hvc.tier_rules t ORDER BY t.tier_rank DESC LIMIT 1) < 1 THEN
        RAISE EXCEPTION 'hvc: the last tier must reach customer_share 1'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'UPDATE hvc.tier_rules SET customer_share = 1 WHERE tier_rank = (SELECT max(tier_rank) FROM hvc.tier_rules);';
    END IF;
    RETURN QUERY
    SELECT r.tier, r.tier_rank, r.high_value,
           coalesce(lag(r.upto) OVER w, 0) + 1, r.upto
      FROM (SELECT t.*, CASE WHEN t.customer_share >= 1 THEN n
                             ELSE floor(t.customer_share * n + 1e-9)::bigint END AS upto
              FROM hvc.tier_rules t) r
    WINDOW w AS (ORDER BY r.tier_rank);
END $$;
COMMENT ON FUNCTION hvc._tier_ranges(bigint) IS
    'Internal: validates hvc.tier_rules and turns cumulative customer shares into value-rank ranges (a tier reaches floor(share * customers)).';

-- The segment of every RFM cell, and a NOTICE for rules no cell reaches.
CREATE OR REPLACE FUNCTION hvc._segment_cells()
RETURNS TABLE (r integer, f integer, m integer, segment text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dead text;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS _hvc_cells (r integer, f integer, m integer, segment text) ON COMMIT DROP;
    TRUNCATE _hvc_cells;
    INSERT INTO _hvc_cells
    SELECT cr, cf, cm,
           coalesce((SELECT s.segment FROM hvc.rfm_segments s
                      WHERE cr BETWEEN s.r_min AND s.r_max
                        AND cf BETWEEN s.f_min AND s.f_max
                        AND cm BETWEEN s.m_min AND s.m_max
                      ORDER BY s.priority LIMIT 1), 'Others')
      FROM generate_series(1, 5) cr, generate_series(1, 5) cf, generate_series(1, 5) cm;
    SELECT string_agg(format('"%s" (priority %s)', s.segment, s.priority), ', ' ORDER BY s.priority)
      INTO dead
      FROM hvc.rfm_segments s
     WHERE NOT EXISTS (SELECT 1 FROM _hvc_cells c WHERE c.segment = s.segment);
    IF dead IS NOT NULL THEN
        RAISE NOTICE 'hvc: RFM segment rule(s) % can never match', dead
            USING DETAIL = 'Every score cell they cover is taken by a rule with a lower priority number.',
                  HINT = 'Give them a lower priority than the rules that swallow them (UPDATE hvc.rfm_segments SET priority = ...).';
    END IF;
    RETURN QUERY SELECT c.r, c.f, c.m, c.segment FROM _hvc_cells c;
END $$;
COMMENT ON FUNCTION hvc._segment_cells() IS
    'Internal: maps each of the 125 RFM cells to its segment and warns (NOTICE) about unreachable rules.';

-- The fits a refresh predicts with and the basis it ranks by.  A refresh
-- never switches the value basis or the model on its own: when the
-- configured model cannot be fitted it predicts with the last good fit of
-- the same model, source and time unit (or, when there is none, with the
-- fit the previous snapshot predicted with); without any fit it keeps the
-- previous snapshot's basis.  The spend model likewise.  reason says what
-- the tier moves of this refresh come from: basis_change, model_change,
-- fallback (this or the previous snapshot predicted with an older fit) or
-- activity.  Raises the NOTICE of a fallback.
CREATE OR REPLACE FUNCTION hvc._choose_fits(id bigint, m hvc._model_params, configured_model text,
                                            unit text, source_relation text, configured_basis text,
                                            has_margin boolean, run_as_of timestamptz,
                                            OUT models hvc._model_params, OUT basis text,
                                            OUT purchase_fit_id bigint, OUT spend_fit_id bigint,
                                            OUT fit_fallback text, OUT fallback text, OUT reason text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    prev hvc.snapshot_info;
    f hvc.model_fit;
    notes text[] := '{}';
    fit_as_of timestamptz;
    prev_fell_back boolean;
BEGIN
    IF id IS NULL OR m IS NULL OR configured_model IS NULL OR configured_basis IS NULL THEN
        RAISE EXCEPTION 'hvc: _choose_fits needs a refresh id, the fitted models and the configuration'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    models := m;
    SELECT * INTO prev FROM hvc.snapshot_info LIMIT 1;
    IF m.usable THEN
        SELECT x.fit_id INTO purchase_fit_id FROM hvc.model_fit x
         WHERE x.refresh_id = id AND x.model = m.model ORDER BY x.fit_id DESC LIMIT 1;
    END IF;
    IF m.spend_usable THEN
        SELECT x.fit_id INTO spend_fit_id FROM hvc.model_fit x
         WHERE x.refresh_id = id AND x.model = 'gamma_gamma' ORDER BY x.fit_id DESC LIMIT 1;
    END IF;

    IF configured_model <> 'none' AND NOT m.usable THEN
        SELECT x.* INTO f FROM hvc.model_fit x
         WHERE x.model = configured_model AND x.converged AND x.refresh_id <> id
           AND x.time_unit = unit AND x.source = source_relation AND x.r > 0 AND x.alpha > 0
         ORDER BY x.fit_id DESC LIMIT 1;
        IF f.fit_id IS NULL AND prev.purchase_fit_id IS NOT NULL THEN
            SELECT x.* INTO f FROM hvc.model_fit x
             WHERE x.fit_id = prev.purchase_fit_id AND x.converged
               AND x.time_unit = unit AND x.source = source_relation AND x.r > 0 AND x.alpha > 0;
        END IF;
        IF f.fit_id IS NOT NULL THEN
            models.model := f.model;
            models.r := f.r; models.alpha := f.alpha; models.a := f.a; models.b := f.b;
            models.s := f.s; models.beta := f.beta;
            models.usable := true;
            purchase_fit_id := f.fit_id;
            SELECT l.as_of INTO fit_as_of FROM hvc.refresh_log l WHERE l.refresh_id = f.refresh_id;
            notes := notes || format('%s could not be fitted (%s): predicted with the last good %s fit (fit %s of refresh %s, on data as of %s, %s days before this as_of)',
                                     configured_model, coalesce(m.purchase_message, m.message), f.model,
                                     f.fit_id, f.refresh_id, coalesce(to_char(fit_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), 'unknown'),
                                     coalesce(round((extract(epoch FROM run_as_of - fit_as_of) / 86400)::numeric, 1)::text, 'unknown'));
        END IF;
    END IF;
    IF models.usable AND NOT m.spend_usable THEN
        f := NULL;
        SELECT x.* INTO f FROM hvc.model_fit x
         WHERE x.model = 'gamma_gamma' AND x.converged AND x.refresh_id <> id AND x.q > 1
           AND x.p > 0 AND x.v > 0 AND x.time_unit = unit AND x.source = source_relation
         ORDER BY x.fit_id DESC LIMIT 1;
        IF f.fit_id IS NOT NULL THEN
            models.p := f.p; models.q := f.q; models.v := f.v;
            models.spend_usable := true;
            spend_fit_id := f.fit_id;
            SELECT l.as_of INTO fit_as_of FROM hvc.refresh_log l WHERE l.refresh_id = f.refresh_id;
            notes := notes || format('gamma_gamma could not be fitted (%s): predicted with the last good gamma_gamma fit (fit %s of refresh %s, on data as of %s, %s days before this as_of)',
                                     coalesce(m.spend_message, 'no fit'), f.fit_id, f.refresh_id,
                                     coalesce(to_char(fit_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), 'unknown'),
                                     coalesce(round((extract(epoch FROM run_as_of - fit_as_of) / 86400)::numeric, 1)::text, 'unknown'));
        END IF;
    END IF;

    -- a fit fallback is announced (NOTICE, refresh_log); the basis kept is
    -- recorded in hvc.snapshot_info.fallback
    fit_fallback := nullif(array_to_string(notes, '; '), '');
    fallback := fit_fallback;
    IF fit_fallback IS NOT NULL THEN
        RAISE NOTICE 'hvc: %', fit_fallback
            USING HINT = 'The value basis and the model stay as configured; see hvc.snapshot_info.fallback and hvc.model_fit.';
    END IF;
    basis := configured_basis;
    IF basis = 'predicted_clv' AND NOT (models.usable AND models.spend_usable) THEN
        basis := CASE WHEN prev.value_basis IN ('historic_clv', 'revenue')
                           OR (prev.value_basis = 'margin' AND has_margin) THEN prev.value_basis
                      ELSE 'historic_clv' END;
        fallback := concat_ws('; ', fallback,
                              format('value basis predicted_clv without predictions: ranked by %s (%s)', basis,
                                     CASE WHEN prev.value_basis = basis THEN 'the basis of the previous snapshot'
                                          WHEN prev.value_basis IS NULL THEN 'no previous snapshot'
                                          ELSE 'no usable fit of this source and time unit' END));
    ELSIF basis = 'margin' AND NOT has_margin THEN
        RAISE NOTICE 'hvc: value_basis is margin but no margin column is mapped; ranking by revenue';
        basis := 'revenue';
    END IF;

    SELECT EXISTS (SELECT 1 FROM hvc.model_fit x
                    WHERE x.fit_id IN (prev.purchase_fit_id, prev.spend_fit_id)
                      AND x.refresh_id IS DISTINCT FROM prev.refresh_id)
      INTO prev_fell_back;
    reason := CASE
        WHEN prev.refresh_id IS NULL THEN 'activity'
        WHEN prev.value_basis IS DISTINCT FROM basis THEN 'basis_change'
        WHEN basis <> 'predicted_clv' THEN 'activity'
        WHEN prev.model IS DISTINCT FROM CASE WHEN models.usable THEN models.model ELSE 'none' END
            THEN 'model_change'
        WHEN prev_fell_back
             OR EXISTS (SELECT 1 FROM hvc.model_fit x
                         WHERE x.fit_id IN (purchase_fit_id, spend_fit_id) AND x.refresh_id <> id)
            THEN 'fallback'
        ELSE 'activity' END;
END $$;
COMMENT ON FUNCTION hvc._choose_fits(bigint, hvc._model_params, text, text, text, text, boolean, timestamptz) IS
    'Internal: the fits a refresh predicts with (its own, or the last good fit of the same model, source and time unit when the fit fails), the value basis it ranks by (never switched on its own), what it fell back to, and the reason of its tier moves.';

-- Step 3 of a refresh: every per-customer column of refresh id, streamed,
-- written into hvc.customer_snapshot beside the previous refresh's rows.
CREATE OR REPLACE FUNCTION hvc._write_rows(id bigint, cfg hvc.config, src hvc.source, models hvc._model_params,
                                           as_of_local timestamp, basis text, refreshed timestamptz,
                                           move_reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    segment_of_cell text[];     -- 125 cells: (r-1)*25 + (f-1)*5 + m
    tier_lo bigint[];           -- first value_rank of each tier, by tier_rank
    tier_name text[];
    tier_rank_of integer[];
    tier_high boolean[];
    sharded boolean;
BEGIN
    IF id IS NULL OR cfg IS NULL OR src.relation IS NULL OR models IS NULL OR as_of_local IS NULL
       OR basis IS NULL OR refreshed IS NULL OR move_reason IS NULL THEN
        RAISE EXCEPTION 'hvc: _write_rows needs the refresh id, configuration, source, fits, as_of, basis, refresh time and the reason of its tier moves'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the first snapshot records no moves (hvc._retire_old_rows)
    IF (SELECT i.customers FROM hvc.snapshot_info i) IS NULL THEN
        move_reason := NULL;
    END IF;
    -- Every per-customer column, streamed (src/snapshot.h: one read of
    -- the stage joined to the current snapshot, then the rows in value
    -- order; segments and tiers from small lookup arrays).
    SELECT array_agg(c.segment ORDER BY c.r, c.f, c.m) INTO segment_of_cell FROM hvc._segment_cells() c;
    SELECT array_agg(t.lo ORDER BY t.tier_rank), array_agg(t.tier ORDER BY t.tier_rank),
           array_agg(t.tier_rank ORDER BY t.tier_rank), array_agg(t.high_value ORDER BY t.tier_rank)
      INTO tier_lo, tier_name, tier_rank_of, tier_high
      FROM hvc._tier_ranges(models.customers) t;
    -- on Citus with the snapshot's rows on the workers (97_citus_snapshot.sql):
    -- built there after a full refresh of a source distributed by customer;
    -- else here, as on one server, and inserted into those rows
    sharded := hvc._citus_sharded();
    IF sharded AND hvc._citus_write_rows(id, src, models, as_of_local::date, cfg.timezone, basis,
                                         segment_of_cell, tier_lo, tier_name, tier_rank_of, tier_high,
                                         refreshed, move_reason) THEN
        RETURN;
    END IF;
    -- on Citus, the predictions are computed on the workers (96_citus_refresh.sql)
    PERFORM hvc._citus_predictions(models, as_of_local::date);
    -- The new rows go in beside the old ones (the builder has read the old
    -- ones first); refresh_id tells them apart until the old are deleted.
    -- Straight into the table when it is as register_source made it
    -- (58_write_snapshot.sql: then a customer already in the snapshot has
    -- the old row updated in place, tier moves too; new customers are inserted).
    -- The builder writes the tier moves into hvc.tier_history as it forms
    -- the rows (src/history_write.c; the lapsed come after, in
    -- hvc._record_tier_changes).
    EXECUTE format(CASE WHEN NOT sharded AND hvc._snapshot_writable() THEN $q$
        SELECT hvc._write_snapshot(NULL::%2$s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)$q$
        ELSE $q$
        INSERT INTO %1$s
        SELECT * FROM hvc._build_snapshot(NULL::%2$s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)$q$ END,
        CASE WHEN sharded THEN 'hvc.customer_snapshot_rows' ELSE 'hvc.customer_snapshot' END,
        hvc._base_type(src.customer_type::regtype))
    USING models, as_of_local::date, cfg.timezone, src.margin IS NOT NULL, basis,
          segment_of_cell, tier_lo, tier_name, tier_rank_of, tier_high, refreshed, id, move_reason;
    IF sharded THEN
        PERFORM hvc._citus_pending_begin(id);
    END IF;
END $fn$;
COMMENT ON FUNCTION hvc._write_rows(bigint, hvc.config, hvc.source, hvc._model_params, timestamp, text, timestamptz, text) IS
    'Internal: step 3 of a refresh: builds every per-customer column and writes the rows into hvc.customer_snapshot beside the previous refresh''s rows, and the tier moves (new customers, up and down, with move_reason; none for the first snapshot) into hvc.tier_history.';

-- Steps 4 and 5 of a refresh, once the new rows are written: the tier
-- history (nothing to scan for when no tier moved and no customer lapsed),
-- then the swap: readers see the old rows until commit, the new ones after.
-- Nothing to delete when the writer updated every old row in place (no
-- customer lapsed or left a renamed tier: a table scan saved).  What the
-- builder counted comes from hvc._snapshot_stats.
CREATE OR REPLACE FUNCTION hvc._retire_old_rows(id bigint, refreshed timestamptz, reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    stats record;
    old_customers bigint;
BEGIN
    IF id IS NULL OR refreshed IS NULL OR reason IS NULL THEN
        RAISE EXCEPTION 'hvc: _retire_old_rows needs the refresh id, its time and the reason of its tier moves'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF hvc._citus_sharded() THEN
        PERFORM hvc._citus_retire(id, refreshed);     -- 97_citus_snapshot.sql
        RETURN;
    END IF;
    SELECT * INTO stats FROM hvc._snapshot_stats(id);
    SELECT i.customers INTO old_customers FROM hvc.snapshot_info i;
    IF old_customers IS NULL THEN
        -- the first snapshot: no moves to record, and rows of an earlier
        -- one only when the table had a page before the writer wrote (not
        -- after register_source made it: no scan of the new rows, 0.23 s
        -- at 1 M customers, 0.47 s at 2 M)
        IF NOT stats.table_was_empty THEN
            DELETE FROM hvc.customer_snapshot WHERE refresh_id <> id;
        END IF;
        PERFORM hvc._prune_tier_history(id);
        RETURN;
    END IF;
    -- The old rows the writer did not update in place (lapsed customers,
    -- moves out of a tier renamed since; every one when the refresh
    -- inserted): found in one scan, read by the history, deleted by ctid.
    -- Usually none or a few: no scan at all when every old row was replaced
    -- (the first condition has no column: a one-time filter, the table is
    -- not read).
    CREATE TEMP TABLE _hvc_old_rows ON COMMIT DROP AS
    SELECT o.ctid AS row_tid, o.customer_id, o.tier, o.tier_rank
      FROM hvc.customer_snapshot o
     WHERE stats.replaced < old_customers AND o.refresh_id <> id;
    IF stats.replaced < old_customers THEN
        ANALYZE pg_temp._hvc_old_rows;
    END IF;
    IF stats.moved = 0 AND stats.kept >= old_customers THEN
        PERFORM hvc._prune_tier_history(id);
    ELSE
        PERFORM hvc._record_tier_changes(id, refreshed, reason);
    END IF;
    IF stats.replaced < old_customers THEN
        -- (nothing else writes the snapshot under the refresh lock: the
        -- ctids still point at those rows; refresh_id double-checks)
        DELETE FROM hvc.customer_snapshot o
         WHERE o.ctid = ANY (ARRAY(SELECT g.row_tid FROM pg_temp._hvc_old_rows g))
           AND o.refresh_id <> id;
    END IF;
    DROP TABLE pg_temp._hvc_old_rows;
END $fn$;
COMMENT ON FUNCTION hvc._retire_old_rows(bigint, timestamptz, text) IS
    'Internal: steps 4 and 5 of a refresh: records the tier moves (hvc._record_tier_changes) and deletes the previous refresh''s rows of hvc.customer_snapshot that the writer did not update in place (found in one scan, none when every one was).';

-- jit is off: the refresh's statements are dominated by C code (aggregate,
-- fits, builder) that JIT cannot speed up, and compiling costs up to a second.
-- The refresh's own time (refreshed: refreshed_at, and the tier_since of
-- the customers it moves) is clock_timestamp(), not now(), which every
-- refresh_now() of one transaction would share (a backfill, SELECT
-- hvc.refresh_now(d) FROM ...): the customers the first moved looked moved
-- again by each refresh after it (snapshot_write).
CREATE OR REPLACE FUNCTION hvc._refresh_build(id bigint) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off AS $fn$
DECLARE
    cfg hvc.config;
    src hvc.source;
    run_as_of timestamptz;
    as_of_local timestamp;
    basis text;
    models hvc._model_params;
    chosen record;
    unit_days float8;
    msg text;
    refreshed timestamptz := clock_timestamp();   -- not now(): see above
    big_keys bigint;
    big_key_rows bigint;
    staged record;
    stats record;
    -- when each step began (hvc.refresh_log.timings), the last mark its end
    marks timestamptz[];
BEGIN
    -- A second refresh (or a register_source) waits here until the first has
    -- committed or failed; the source and settings are read after the lock,
    -- so a refresh never builds from a registration that has since changed.
    PERFORM hvc._take_refresh_lock('refresh');

    SELECT * INTO cfg FROM hvc.config;
    SELECT * INTO src FROM hvc.source;
    SELECT l.as_of INTO run_as_of FROM hvc.refresh_log l WHERE l.refresh_id = id AND l.status = 'running';
    IF run_as_of IS NULL THEN
        RAISE EXCEPTION 'hvc: refresh % is not a running refresh of hvc.refresh_log', id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cfg IS NULL OR src.relation IS NULL THEN
        RAISE EXCEPTION 'hvc: no sales table is registered, or hvc.config has no row'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'SELECT hvc.register_source(...); INSERT INTO hvc.config DEFAULT VALUES;';
    END IF;
    IF to_regclass(src.relation) IS NULL THEN
        RAISE EXCEPTION 'hvc: the registered source % no longer exists', src.relation
            USING ERRCODE = 'undefined_table',
                  HINT = 'Register the sales table again with hvc.register_source().';
    END IF;
    IF hvc._check_source(src.relation::regclass, src.customer, src.ordered_at, src.amount,
                         src.margin, src.order_id)::text <> src.customer_type THEN
        RAISE EXCEPTION 'hvc: the customer column of % changed type since registration', src.relation
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Register the source again: SELECT hvc.register_source(...).';
    END IF;
    as_of_local := run_as_of AT TIME ZONE cfg.timezone;
    marks := ARRAY[clock_timestamp()];

    -- 1. The stage: a mergeable state per customer key, from the whole
    -- source or from the stored states and what changed; the kind and why go
    -- to hvc.refresh_log (62_incremental.sql).
    staged := hvc._stage(id, cfg, src, as_of_local);
    big_keys := staged.big_keys;
    big_key_rows := staged.big_key_rows;
    marks := marks || clock_timestamp();

    -- 2. Totals and model fits.
    models := hvc._fit_models(cfg, as_of_local::date);
    IF big_keys > 0 THEN
        models.rows_read := models.rows_read + big_key_rows;
        models.rows_skipped := models.rows_skipped + big_key_rows;
    END IF;
    PERFORM hvc._record_model_fits(id, models);
    unit_days := CASE cfg.time_unit WHEN 'week' THEN 7.0 ELSE 1.0 END;
    models.churn_window := cfg.churn_window_days / unit_days;
    models.horizon_units := cfg.horizon_days / unit_days;
    chosen := hvc._choose_fits(id, models, cfg.model, cfg.time_unit, src.relation, cfg.value_basis,
                               src.margin IS NOT NULL, run_as_of);
    models := chosen.models;
    basis := chosen.basis;
    IF cfg.model <> 'none' AND NOT (models.usable AND models.spend_usable) THEN
        RAISE NOTICE 'hvc: predictions incomplete: %', models.message
            USING HINT = 'Metrics, RFM and tiers are still refreshed; see hvc.model_fit. Set hvc.config.model = ''none'' to skip the models.';
    END IF;
    marks := marks || clock_timestamp();

    PERFORM hvc._read_signals(run_as_of);   -- every signal, once (72_signals.sql); the score (74_score.sql)
    IF basis = 'score' THEN
        PERFORM hvc._score_prepare(id, models, as_of_local::date, src.margin IS NOT NULL, run_as_of);
    END IF;
    marks := marks || clock_timestamp();

    -- 3. Every per-customer column, streamed, into the snapshot beside the
    -- old rows (hvc._write_rows).
    PERFORM hvc._write_rows(id, cfg, src, models, as_of_local, basis, refreshed, chosen.reason);
    -- what the builder saw pass by: moves, percentiles, the Pareto curve
    SELECT * INTO stats FROM hvc._snapshot_stats(id);

    -- Signals (72_signals.sql): what _read_signals read, stored beside the new rows.
    PERFORM hvc._refresh_signals(id, run_as_of);
    marks := marks || clock_timestamp();

    -- 4. Tier history and 5. the swap (hvc._retire_old_rows).
    PERFORM hvc._retire_old_rows(id, refreshed, chosen.reason);

    -- the cumulative value share at the value rank of the top pct percent
    -- (greatest(1, ceil(pct * customers / 100))), from the builder
    DELETE FROM hvc.pareto_points;
    INSERT INTO hvc.pareto_points (customer_percentile, cumulative_value_share)
    SELECT pct, stats.pareto[pct]
      FROM generate_series(1, 100) pct
     WHERE stats.pareto IS NOT NULL;

    DELETE FROM hvc.snapshot_info;
    -- percentile_cont(0.8) of avg_order_value and (0.5) of
    -- avg_days_between_orders over the new rows, from the builder;
    -- percentile_cont interpolates between two 2-decimal tickets with a
    -- fraction of one decimal: the exact value has 3 decimals
    INSERT INTO hvc.snapshot_info (refresh_id, as_of, refreshed_at, customers, model, value_basis,
                                   premium_ticket_from, purchase_fit_id, spend_fit_id, fallback,
                                   median_repeat_gap_days, high_value_customers)
    VALUES (id, run_as_of, refreshed, models.customers,
            CASE WHEN models.usable THEN models.model ELSE 'none' END, basis,
            round(stats.premium_ticket_from::numeric, 3),
            CASE WHEN models.usable THEN chosen.purchase_fit_id END,
            CASE WHEN models.usable AND models.spend_usable THEN chosen.spend_fit_id END,
            chosen.fallback,
            stats.median_repeat_gap_days, stats.high_value_customers);

    msg := format('%s customers from %s rows (%s skipped); value basis %s; %s',
                  models.customers, models.rows_read, models.rows_skipped, basis, models.message)
           || coalesce('; ' || chosen.fit_fallback, '');
    marks := marks || clock_timestamp();
    msg := msg || hvc._refresh_backtest(id, as_of_local::date);   -- 65_backtest.sql
    marks := marks || clock_timestamp();
    PERFORM hvc._refresh_retention(id, as_of_local::date);        -- 75_retention.sql
    marks := marks || clock_timestamp();
    UPDATE hvc.refresh_log
       SET finished_at = clock_timestamp(), rows_read = models.rows_read,
           rows_skipped = models.rows_skipped, customers = models.customers,
           status = 'succeeded', message = msg
     WHERE refresh_id = id;

    PERFORM hvc._after_refresh(id);
    PERFORM hvc._citus_pending_end();      -- 97_citus_snapshot.sql
    -- the refresh's temp tables go now, so hvc.refresh_now() can run again
    -- in the same transaction
    PERFORM hvc._drop_stage();
    IF to_regclass('pg_temp._hvc_score') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_score;
    END IF;
    IF to_regclass('pg_temp._hvc_at_risk') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_at_risk;
    END IF;
    -- the refresh's duration includes the alerts (the commit follows at once)
    marks := marks || clock_timestamp();
    UPDATE hvc.refresh_log
       SET finished_at = marks[cardinality(marks)],
           timings = hvc._refresh_timings(ARRAY['stage', 'fits', 'signals', 'build', 'history',
                                                'backtest', 'retention', 'alerts'], marks,
                                          ARRAY[staged.timings, NULL, NULL, NULL, NULL, NULL, NULL, NULL])
     WHERE refresh_id = id;
    RETURN msg;
END $fn$;
COMMENT ON FUNCTION hvc._refresh_build(bigint) IS 'Internal: builds and swaps in a new snapshot (the body of hvc.refresh()).';

-- The failure-recording half of the procedure: builds the snapshot, and on
-- any error (a cancel or statement_timeout included) records it in
-- hvc.refresh_log and returns it instead of raising, so the procedure can
-- commit the record before re-raising it (hvc._refresh_report).
CREATE OR REPLACE FUNCTION hvc._refresh_attempt(id bigint) RETURNS hvc._refresh_outcome
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o hvc._refresh_outcome;
    err_state text;
    err_msg text;
    err_detail text;
    err_hint text;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'hvc: refresh id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    o.refresh_id := id;
    BEGIN
        o.message := hvc._refresh_build(id);
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                                err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
        PERFORM hvc._refresh_fail(id, err_state, err_msg);
        o.sqlstate := err_state;
        o.message := err_msg;
        o.detail := nullif(err_detail, '');
        o.hint := nullif(err_hint, '');
        IF err_state = '55P03' AND o.hint IS NULL THEN
            o.hint := format('lock_timeout (%s) ended a lock wait, e.g. for another refresh or hvc.register_source(); see hvc.refresh_log and pg_locks.',
                             current_setting('lock_timeout'));
        END IF;
    END;
    RETURN o;
END $$;
COMMENT ON FUNCTION hvc._refresh_attempt(bigint) IS
    'Internal: builds the snapshot of a logged refresh; on error records it as failed and returns the error instead of raising it.';

-- Success: the NOTICE and the refresh id.  Failure: the error again, with
-- its SQLSTATE, detail and hint.
CREATE OR REPLACE FUNCTION hvc._refresh_report(o hvc._refresh_outcome) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF o.refresh_id IS NULL THEN
        RAISE EXCEPTION 'hvc: refresh outcome without a refresh id' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF o.sqlstate IS NULL THEN
        RAISE NOTICE 'hvc: refresh succeeded: %', o.message;
        RETURN o.refresh_id;
    END IF;
    IF o.detail IS NULL AND o.hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = o.sqlstate, MESSAGE = o.message;
    ELSIF o.hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = o.sqlstate, MESSAGE = o.message, DETAIL = o.detail;
    ELSIF o.detail IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = o.sqlstate, MESSAGE = o.message, HINT = o.hint;
    ELSE
        RAISE EXCEPTION USING ERRCODE = o.sqlstate, MESSAGE = o.message, DETAIL = o.detail, HINT = o.hint;
    END IF;
END $$;
COMMENT ON FUNCTION hvc._refresh_report(hvc._refresh_outcome) IS
    'Internal: reports a refresh outcome: NOTICE and refresh id on success, the recorded error re-raised on failure.';

-- The procedure only does transaction control.  It has no SET search_path (a
-- procedure with SET cannot COMMIT), so it declares no variable of a type,
-- and uses no operator or cast, that the caller's search_path could resolve
-- to something else (a "public.text" domain, a "public.=" operator): only
-- schema-qualified calls with exactly typed arguments.  The work happens in
-- functions that pin their search_path, shared with hvc.refresh_now().
CREATE OR REPLACE PROCEDURE hvc.refresh(as_of timestamptz DEFAULT now(), "full" boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    id pg_catalog.int8;
    outcome hvc._refresh_outcome;
BEGIN
    PERFORM hvc._prevent_transaction_block();
    id := hvc._refresh_start(as_of, "full");
    COMMIT;                                    -- the 'running' row is visible, and stays if we fail
    outcome := hvc._refresh_attempt(id);
    COMMIT;                                    -- the new snapshot, or the failure record
    -- on Citus with the rows on the workers: the new rows, committed on
    -- every worker now, become the ones readers see (97_citus_snapshot.sql)
    PERFORM hvc._citus_publish();
    COMMIT;
    PERFORM hvc._refresh_report(outcome);
END $$;
COMMENT ON PROCEDURE hvc.refresh(timestamptz, boolean) IS
    'Rebuild every hvc view from the registered sales table as of a cut-off (default now()): one read of the source, atomic swap, one row in hvc.refresh_log (committed first, so failures are logged too). Run it on its own, with autocommit (not inside BEGIN ... COMMIT or a multi-statement string); inside a transaction use SELECT hvc.refresh_now(). A concurrent refresh waits (a NOTICE names it; lock_timeout is honoured). full => true reads the whole source; otherwise a source registered with track_changes column or trigger is refreshed incrementally when the stored states allow it (hvc.refresh_log.kind, kind_reason).';

-- The same refresh as a function, in the caller's transaction: nothing is
-- committed by it.  A rolled-back refresh_now leaves no trace, not even its
-- hvc.refresh_log row; the refresh lock is held until the caller's
-- transaction ends.
CREATE OR REPLACE FUNCTION hvc.refresh_now(as_of timestamptz DEFAULT now(), "full" boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o hvc._refresh_outcome;
BEGIN
    o.refresh_id := hvc._refresh_start(as_of, "full");
    o.message := hvc._refresh_build(o.refresh_id);
    PERFORM hvc._citus_publish();          -- in the caller's transaction (97_citus_snapshot.sql)
    RETURN hvc._refresh_report(o);
END $$;
COMMENT ON FUNCTION hvc.refresh_now(timestamptz, boolean) IS
    'The refresh of CALL hvc.refresh() as a function, for clients that always run in a transaction (psycopg2''s default mode, JDBC without autocommit, multi-statement strings, job runners): runs in the caller''s transaction and returns the refresh_id. Its effects, its hvc.refresh_log row included, commit or roll back with that transaction; it holds the refresh lock until then, and waits (NOTICE, lock_timeout honoured) for a running refresh. An error aborts the caller''s transaction and leaves no failed row.';
