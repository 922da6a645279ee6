-- ---------------------------------------------------------------------------
-- CALL hvc.refresh(as_of): read the source once, rebuild the snapshot, swap
-- it in atomically.
--
-- Pipeline (each step a set-based statement over temp tables, so the
-- per-customer state stays in one place and later steps — incremental
-- refresh, Citus partial aggregation, backtests — can reuse the stages):
--   1. stage:    one GROUP BY pass with hvc.customer_summary   (_hvc_stage)
--   2. models:   fits over the stage                           (_refresh_fit_models)
--   3. compute:  scores, segments, predictions, ranks, tiers   (_hvc_new)
--   4. history:  tier moves against the old snapshot           (hvc.tier_history)
--   5. swap:     DELETE + INSERT in the same transaction: readers see the old
--                snapshot until commit, the new one after, and are never blocked.
-- ---------------------------------------------------------------------------

-- Open a refresh: mark abandoned runs, log this one as running.
CREATE FUNCTION hvc._refresh_start(as_of timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
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
    INSERT INTO hvc.refresh_log (started_at, as_of, status, backend_pid)
    VALUES (clock_timestamp(), coalesce(as_of, now()), 'running', pg_backend_pid())
    RETURNING refresh_id INTO id;
    RETURN id;
END $$;
COMMENT ON FUNCTION hvc._refresh_start(timestamptz) IS 'Internal: first step of hvc.refresh().';

CREATE FUNCTION hvc._refresh_fail(id bigint, sqlstate text, msg text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE hvc.refresh_log
       SET status = 'failed', finished_at = clock_timestamp(),
           message = format('%s (SQLSTATE %s); the previous snapshot was kept', msg, sqlstate)
     WHERE refresh_id = id;
$$;
COMMENT ON FUNCTION hvc._refresh_fail(bigint, text, text) IS 'Internal: records a failed refresh.';

-- Tier rules as contiguous value-rank ranges for n customers.
CREATE FUNCTION hvc._tier_ranges(n bigint)
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
CREATE FUNCTION hvc._segment_cells()
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

CREATE FUNCTION hvc._refresh_build(id bigint) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    cfg hvc.config;
    src hvc.source;
    run_as_of timestamptz;
    as_of_local timestamp;
    unit float8;
    n_read bigint;
    n_skipped bigint;
    n_customers bigint;
    basis text;
    models hvc._model_params;
    msg text;
    refreshed timestamptz := now();
BEGIN
    -- A second refresh waits here until the first has committed or failed.
    PERFORM pg_advisory_xact_lock(hashtext('hvc.refresh'));

    SELECT * INTO cfg FROM hvc.config;
    SELECT * INTO src FROM hvc.source;
    SELECT l.as_of INTO run_as_of FROM hvc.refresh_log l WHERE l.refresh_id = id;
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
    unit := CASE cfg.time_unit WHEN 'week' THEN 7 ELSE 1 END;

    -- 1. One pass over the source.
    EXECUTE format($q$
        CREATE TEMP TABLE _hvc_stage ON COMMIT DROP AS
        SELECT customer_id, (s).*
          FROM (SELECT %1$I AS customer_id,
                       hvc.customer_summary(%2$I, %3$I, %4$s, %5$s, %6$L::timestamp, %7$L) AS s
                  FROM %8$s
                 GROUP BY 1
                OFFSET 0) q$q$,
        src.customer, src.ordered_at, src.amount,
        coalesce(quote_ident(src.margin), 'NULL::numeric'),
        coalesce(quote_ident(src.order_id), 'NULL::integer'),
        as_of_local, cfg.timezone, src.relation);

    SELECT coalesce(sum(rows_read), 0),
           coalesce(sum(CASE WHEN customer_id IS NULL THEN rows_read ELSE rows_skipped END), 0),
           count(*) FILTER (WHERE customer_id IS NOT NULL AND purchase_rows > 0)
      INTO n_read, n_skipped, n_customers
      FROM _hvc_stage;
    DELETE FROM _hvc_stage WHERE customer_id IS NULL OR purchase_rows = 0;

    -- 2. Models (fills _hvc_models: one row of parameters per fitted model).
    models := hvc._refresh_fit_models(id, cfg, unit);

    basis := cfg.value_basis;
    IF basis = 'predicted_clv' AND NOT models.usable THEN
        basis := 'historic_clv';
    ELSIF basis = 'margin' AND src.margin IS NULL THEN
        RAISE NOTICE 'hvc: value_basis is margin but no margin column is mapped; ranking by revenue';
        basis := 'revenue';
    END IF;

    -- 3. Everything per customer.
    CREATE TEMP TABLE _hvc_new ON COMMIT DROP AS
    WITH base AS (
        SELECT st.customer_id,
               st.first_order_local, st.last_order_local,
               st.orders, st.purchase_days, st.refund_rows AS refunds,
               st.revenue, st.margin, st.frequency, st.recency_days AS span_days,
               (as_of_local::date - st.first_order_local::date) AS tenure_days,
               (as_of_local::date - st.last_order_local::date) AS recency_days,
               st.monetary_value
          FROM _hvc_stage st
    ), breaks AS (
        SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY -recency_days) AS rb,
               percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY orders) AS fb,
               percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY revenue) AS mb
          FROM base
    ), scored AS (
        SELECT b.*,
               1 + (-b.recency_days > k.rb[1])::int + (-b.recency_days > k.rb[2])::int
                 + (-b.recency_days > k.rb[3])::int + (-b.recency_days > k.rb[4])::int AS r_score,
               1 + (b.orders > k.fb[1])::int + (b.orders > k.fb[2])::int
                 + (b.orders > k.fb[3])::int + (b.orders > k.fb[4])::int AS f_score,
               1 + (b.revenue > k.mb[1])::int + (b.revenue > k.mb[2])::int
                 + (b.revenue > k.mb[3])::int + (b.revenue > k.mb[4])::int AS m_score,
               b.span_days / unit AS recency,
               b.tenure_days / unit AS age,
               CASE WHEN src.margin IS NULL THEN b.revenue ELSE coalesce(b.margin, 0) END AS historic_clv
          FROM base b CROSS JOIN breaks k
    ), predicted AS MATERIALIZED (
        SELECT s.*, hvc._predict(models, s.frequency, s.recency, s.age, s.monetary_value) AS p
          FROM scored s
    ), valued AS (
        SELECT pr.*,
               CASE basis WHEN 'predicted_clv' THEN coalesce((pr.p).predicted_clv, 0)
                          WHEN 'historic_clv'  THEN pr.historic_clv
                          WHEN 'revenue'       THEN pr.revenue
                          ELSE coalesce(pr.margin, pr.revenue) END AS value
          FROM predicted pr
    ), ranked AS (
        SELECT v.*,
               row_number() OVER w AS value_rank,
               sum(v.value) OVER (w ROWS UNBOUNDED PRECEDING) AS cum_value,
               sum(v.value) OVER () AS total_value
          FROM valued v
        WINDOW w AS (ORDER BY v.value DESC, v.customer_id)
    )
    SELECT r.customer_id,
           r.first_order_local AT TIME ZONE cfg.timezone AS first_order_at,
           r.last_order_local AT TIME ZONE cfg.timezone AS last_order_at,
           r.orders, r.purchase_days, r.refunds,
           r.revenue::numeric(20,2) AS revenue,
           r.margin::numeric(20,2) AS margin,
           (r.revenue / r.orders)::numeric(20,2) AS avg_order_value,
           r.tenure_days, r.recency_days,
           CASE WHEN r.frequency > 0 THEN r.span_days::float8 / r.frequency END AS avg_days_between_orders,
           r.frequency, r.recency, r.age, r.monetary_value,
           r.r_score, r.f_score, r.m_score,
           format('%s%s%s', r.r_score, r.f_score, r.m_score) AS rfm_cell,
           c.segment,
           r.historic_clv::numeric(20,2) AS historic_clv,
           (r.p).p_alive, 1 - (r.p).p_alive AS churn_risk, (r.p).predicted_orders,
           (r.p).expected_order_value::numeric(20,2) AS expected_order_value,
           (r.p).predicted_clv::numeric(20,2) AS predicted_clv,
           (as_of_local::date + round((r.p).next_order_in * unit)::integer) AS expected_next_order_at,
           r.value::numeric(20,2) AS value,
           r.value_rank,
           CASE WHEN r.total_value > 0 THEN (r.cum_value / r.total_value)::float8 END AS cumulative_value_share,
           t.tier, t.tier_rank, t.high_value AS is_high_value,
           CASE WHEN o.tier IS NULL THEN NULL
                WHEN o.tier = t.tier THEN o.previous_tier
                ELSE o.tier END AS previous_tier,
           CASE WHEN o.tier = t.tier THEN o.tier_since ELSE refreshed END AS tier_since
      FROM ranked r
      JOIN hvc._segment_cells() c ON c.r = r.r_score AND c.f = r.f_score AND c.m = r.m_score
      JOIN hvc._tier_ranges(n_customers) t ON r.value_rank BETWEEN t.lo AND t.hi
      LEFT JOIN hvc.customer_snapshot o ON o.customer_id = r.customer_id;

    -- 4. Tier history.
    PERFORM hvc._record_tier_changes(id, refreshed);

    -- 5. Swap.
    DELETE FROM hvc.customer_snapshot;
    INSERT INTO hvc.customer_snapshot SELECT * FROM _hvc_new;

    DELETE FROM hvc.pareto_points;
    INSERT INTO hvc.pareto_points (customer_percentile, cumulative_value_share)
    SELECT pct, (SELECT c.cumulative_value_share FROM hvc.customer_snapshot c
                  WHERE c.value_rank = greatest(1, ceil(pct * n_customers / 100.0)::bigint))
      FROM generate_series(1, 100) pct
     WHERE n_customers > 0;

    DELETE FROM hvc.snapshot_info;
    INSERT INTO hvc.snapshot_info (refresh_id, as_of, refreshed_at, customers, model, value_basis)
    VALUES (id, run_as_of, refreshed, n_customers,
            CASE WHEN models.usable THEN cfg.model ELSE 'none' END, basis);

    msg := format('%s customers from %s rows (%s skipped); value basis %s; %s',
                  n_customers, n_read, n_skipped, basis, models.message);
    UPDATE hvc.refresh_log
       SET finished_at = clock_timestamp(), rows_read = n_read, rows_skipped = n_skipped,
           customers = n_customers, status = 'succeeded', message = msg
     WHERE refresh_id = id;

    PERFORM hvc._after_refresh(id);
    RETURN msg;
END $fn$;
COMMENT ON FUNCTION hvc._refresh_build(bigint) IS 'Internal: builds and swaps in a new snapshot (the body of hvc.refresh()).';

CREATE PROCEDURE hvc.refresh(as_of timestamptz DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    id bigint;
    msg text;
    err_state text;
    err_msg text;
    err_detail text;
    err_hint text;
BEGIN
    -- No SET search_path here: a procedure with SET cannot COMMIT.  Every
    -- name is schema-qualified and the work happens in functions that fix
    -- their search_path.
    PERFORM hvc._prevent_transaction_block();
    id := hvc._refresh_start(as_of);
    COMMIT;
    BEGIN
        msg := hvc._refresh_build(id);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                                err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
    END;
    IF err_state IS NULL THEN
        COMMIT;
        RAISE NOTICE 'hvc: refresh % succeeded: %', id, msg;
        RETURN;
    END IF;
    PERFORM hvc._refresh_fail(id, err_state, err_msg);
    COMMIT;
    err_detail := nullif(err_detail, '');
    err_hint := nullif(err_hint, '');
    IF err_detail IS NULL AND err_hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_msg;
    ELSIF err_hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_msg, DETAIL = err_detail;
    ELSIF err_detail IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_msg, HINT = err_hint;
    ELSE
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_msg, DETAIL = err_detail, HINT = err_hint;
    END IF;
END $$;
COMMENT ON PROCEDURE hvc.refresh(timestamptz) IS
    'Rebuild every hvc view from the registered sales table as of a cut-off (default now()): one read of the source, atomic swap, one row in hvc.refresh_log. Run outside a transaction block; a concurrent refresh waits.';
