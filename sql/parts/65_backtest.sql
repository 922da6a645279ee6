-- ---------------------------------------------------------------------------
-- Backtest: can I trust the predictions?
--
-- A backtest splits the history at calibration_end, fits the purchase model
-- on the calibration period only, predicts every calibration customer's
-- purchase days in the holdout (calibration_end, holdout_end], and compares
-- with what they did.  It reads the source once: hvc.customer_state as of
-- holdout_end keeps each customer's set of purchase days, and
-- hvc._backtest_split cuts it at the calibration day (calibration summary
-- and holdout purchase days, the refresh's own definition of a purchase
-- day).  A refresh backtests on its own stage, so it reads nothing more.
--
--   hvc.backtest(calibration_end, holdout_end, model)          by calibration frequency
--   hvc.backtest_summary(calibration_end, holdout_end, model)  one row: bias, MAE, AUCs, top 20 %
--   hvc.model_validation, hvc.model_validation_by_frequency    the last refresh's backtest
--
-- The split is by purchase day in hvc.config.timezone: the calibration
-- period holds the purchase days up to calibration_end's day, the holdout
-- the days after it up to holdout_end (purchases on holdout_end's day after
-- its time of day are left out, as a refresh as of holdout_end leaves them
-- out).  Times are in hvc.config.time_unit, as in the refresh.
-- ---------------------------------------------------------------------------

-- Settings: hvc.config.validation_days and validation_interval_days
-- (82_churn_settings.sql).

CREATE OR REPLACE FUNCTION hvc._backtest_collect_trans(state internal, customer_state bytea,
                                                        calibration_day date, holdout_day date)
RETURNS internal
AS 'MODULE_PATHNAME', 'hvc_backtest_collect_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._backtest_collect_trans(internal, bytea, date, date) IS
    'Internal: transition function of hvc._backtest_collect.';
CREATE OR REPLACE FUNCTION hvc._backtest_collect_final(state internal) RETURNS bytea
AS 'MODULE_PATHNAME', 'hvc_backtest_collect_final'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._backtest_collect_final(internal) IS
    'Internal: final function of hvc._backtest_collect.';
CREATE OR REPLACE FUNCTION hvc._backtest_collect_combine(a internal, b internal) RETURNS internal
AS 'MODULE_PATHNAME', 'hvc_backtest_collect_combine'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._backtest_collect_combine(internal, internal) IS
    'Internal: combine function of hvc._backtest_collect.';
CREATE OR REPLACE FUNCTION hvc._backtest_collect_serialize(state internal) RETURNS bytea
AS 'MODULE_PATHNAME', 'hvc_backtest_collect_serialize'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._backtest_collect_serialize(internal) IS
    'Internal: serialize function of hvc._backtest_collect.';
CREATE OR REPLACE FUNCTION hvc._backtest_collect_deserialize(state bytea, unused internal) RETURNS internal
AS 'MODULE_PATHNAME', 'hvc_backtest_collect_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._backtest_collect_deserialize(bytea, internal) IS
    'Internal: deserialize function of hvc._backtest_collect.';
CREATE OR REPLACE AGGREGATE hvc._backtest_collect(customer_state bytea, calibration_day date, holdout_day date) (
    SFUNC = hvc._backtest_collect_trans,
    STYPE = internal,
    FINALFUNC = hvc._backtest_collect_final,
    COMBINEFUNC = hvc._backtest_collect_combine,
    SERIALFUNC = hvc._backtest_collect_serialize,
    DESERIALFUNC = hvc._backtest_collect_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc._backtest_collect(bytea, date, date) IS
    'Internal: cuts every customer''s hvc.customer_state at calibration_day, in one pass: per customer with a purchase day up to it, the BTYD summary of those days (frequency, recency and age in days) and the purchase days after it up to holdout_day, packed (16 bytes a customer) for hvc._backtest_rows and hvc._backtest_eval.';

CREATE OR REPLACE FUNCTION hvc._backtest_rows(rows bytea, unit float8,
    OUT frequency integer, OUT recency float8, OUT age float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'hvc_backtest_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._backtest_rows(bytea, float8) IS
    'Internal: the calibration rows of a backtest (hvc._backtest_collect) with recency and age in time units of unit days, for the calibration fit.';

CREATE OR REPLACE FUNCTION hvc._backtest_eval(rows bytea, fit record, model text, unit float8, tau float8,
    with_churn boolean,
    OUT customers bigint, OUT actual float8, OUT predicted float8, OUT predicted_n bigint,
    OUT mae float8, OUT churn_auc float8, OUT recency_auc float8, OUT top20 float8,
    OUT bin_customers bigint[], OUT bin_actual float8[], OUT bin_predicted float8[],
    OUT bin_predicted_n bigint[])
AS 'MODULE_PATHNAME', 'hvc_backtest_eval'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvc._backtest_eval(bytea, record, text, float8, float8, boolean) IS
    'Internal: the measures of a backtest in one pass over its calibration rows (hvc._backtest_collect): per customer the prediction of the fitted model (NULL fit: none) for the holdout of tau time units and, with with_churn, churn_risk for that window; the totals, MAE, AUCs of churn_risk and of recency, the holdout purchases of the top 20 % by prediction, and the totals by calibration frequency 0 .. 6, 7+, all (arrays indexed 1 .. 9).';

-- Stored backtests of refreshes (what the views show).
CREATE TABLE hvc.model_validation_store (
    refresh_id          bigint      PRIMARY KEY,
    computed_at         timestamptz NOT NULL,
    calibration_end     timestamptz NOT NULL,
    holdout_end         timestamptz NOT NULL,
    validation_days     integer     NOT NULL,
    settings_key        text        NOT NULL,
    model               text        NOT NULL,
    customers           bigint      NOT NULL,
    actual_purchases    float8,
    predicted_purchases float8,
    bias_pct            float8,
    mae                 float8,
    churn_auc           float8,
    recency_auc         float8,
    top20_share         float8,
    fit                 text,
    message             text
);
SELECT pg_catalog.pg_extension_config_dump('hvc.model_validation_store', '');
COMMENT ON TABLE hvc.model_validation_store IS
    'Internal store of hvc.model_validation: the backtest of a refresh (one row per refresh that ran one; kept like the tier history, hvc.config.history_refreshes).';
COMMENT ON COLUMN hvc.model_validation_store.refresh_id IS 'The refresh (hvc.refresh_log) that ran the backtest.';
COMMENT ON COLUMN hvc.model_validation_store.computed_at IS 'When the backtest was computed.';
COMMENT ON COLUMN hvc.model_validation_store.calibration_end IS 'End of the calibration period (the refresh''s as_of minus validation_days).';
COMMENT ON COLUMN hvc.model_validation_store.holdout_end IS 'End of the holdout (the refresh''s as_of).';
COMMENT ON COLUMN hvc.model_validation_store.validation_days IS 'Holdout length in days (hvc.config.validation_days, or the automatic length).';
COMMENT ON COLUMN hvc.model_validation_store.settings_key IS 'Internal: fingerprint of the source registration and settings the backtest was made with (reuse only under the same).';
COMMENT ON COLUMN hvc.model_validation_store.model IS 'The purchase model backtested.';
COMMENT ON COLUMN hvc.model_validation_store.customers IS 'Customers with a purchase in the calibration period.';
COMMENT ON COLUMN hvc.model_validation_store.actual_purchases IS 'Their purchase days in the holdout.';
COMMENT ON COLUMN hvc.model_validation_store.predicted_purchases IS 'Their predicted purchases in the holdout.';
COMMENT ON COLUMN hvc.model_validation_store.bias_pct IS '100 * (predicted - actual) / actual.';
COMMENT ON COLUMN hvc.model_validation_store.mae IS 'Mean absolute error per customer.';
COMMENT ON COLUMN hvc.model_validation_store.churn_auc IS 'AUC of churn_risk (window = the holdout) for no purchase in the holdout.';
COMMENT ON COLUMN hvc.model_validation_store.recency_auc IS 'AUC of recency alone (days since the last purchase) for no purchase in the holdout.';
COMMENT ON COLUMN hvc.model_validation_store.top20_share IS 'Share of holdout purchases made by the top 20 % of customers by prediction.';
COMMENT ON COLUMN hvc.model_validation_store.fit IS 'The calibration fit (the model composite as text).';
COMMENT ON COLUMN hvc.model_validation_store.message IS 'Why predictions are missing, when they are.';

CREATE TABLE hvc.model_validation_by_frequency_store (
    refresh_id          bigint  NOT NULL,
    bin_order           integer NOT NULL,
    model               text    NOT NULL,
    frequency_bin       text    NOT NULL,
    customers           bigint  NOT NULL,
    actual_purchases    float8,
    predicted_purchases float8,
    actual_mean         float8,
    predicted_mean      float8,
    PRIMARY KEY (refresh_id, bin_order)
);
SELECT pg_catalog.pg_extension_config_dump('hvc.model_validation_by_frequency_store', '');
COMMENT ON TABLE hvc.model_validation_by_frequency_store IS
    'Internal store of hvc.model_validation_by_frequency: a refresh''s backtest by calibration frequency.';
COMMENT ON COLUMN hvc.model_validation_by_frequency_store.refresh_id IS 'The refresh (hvc.refresh_log) that ran the backtest.';
COMMENT ON COLUMN hvc.model_validation_by_frequency_store.bin_order IS 'Row order: 0 .. 7 for the frequency bins, 8 for all.';
COMMENT ON COLUMN hvc.model_validation_by_frequency_store.model IS 'The purchase model backtested.';
COMMENT ON COLUMN hvc.model_validation_by_frequency_store.frequency_bin IS 'Calibration frequency (repeat purchase days): 0 .. 6, 7+, or all.';
COMMENT ON COLUMN hvc.model_validation_by_frequency_store.customers IS 'Customers in the bin.';
COMMENT ON COLUMN hvc.model_validation_by_frequency_store.actual_purchases IS 'Their purchase days in the holdout.';
COMMENT ON COLUMN hvc.model_validation_by_frequency_store.predicted_purchases IS 'Their predicted purchases in the holdout.';
COMMENT ON COLUMN hvc.model_validation_by_frequency_store.actual_mean IS 'Mean actual holdout purchases per customer.';
COMMENT ON COLUMN hvc.model_validation_by_frequency_store.predicted_mean IS 'Mean predicted holdout purchases per customer.';

-- The purchase model of a backtest: the argument, else the configured one.
CREATE OR REPLACE FUNCTION hvc._backtest_model(model text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m text := coalesce(model, (SELECT c.model FROM hvc.config c));
BEGIN
    IF m = 'none' THEN
        RAISE EXCEPTION 'hvc: no purchase model to backtest: hvc.config.model is none'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Name one: model => ''bgnbd'' or ''pareto_nbd''.';
    END IF;
    IF m IS NULL OR m NOT IN ('bgnbd', 'pareto_nbd', 'mbgnbd')
       OR to_regprocedure(format('hvc.%s_fit(bigint, float8, float8)', m)) IS NULL
          AND to_regprocedure(format('hvc.%s_fit(integer, float8, float8)', m)) IS NULL THEN
        RAISE EXCEPTION 'hvc: unknown purchase model "%"', m
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Backtest bgnbd or pareto_nbd (model => NULL backtests hvc.config.model).';
    END IF;
    RETURN m;
END $$;
COMMENT ON FUNCTION hvc._backtest_model(text) IS
    'Internal: validates the model of a backtest (NULL = hvc.config.model; none is refused).';

-- The measures of a backtest, pg_temp._hvc_bt (one row: hvc._backtest_eval),
-- from a stage (customer_id, state as of the holdout's end or later): the
-- calibration summary and the holdout purchases in one pass
-- (hvc._backtest_collect), the fit on the calibration period, and the
-- predictions, churn_risk for the holdout window, AUCs and bins in C.
-- Returns NULL, or why there are no predictions.
CREATE OR REPLACE FUNCTION hvc._backtest_fill(stage regclass, calibration_day date, holdout_day date,
                                              model text, unit float8, OUT fit text, OUT message text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tau float8;
    converged boolean;
    packed bytea;
    with_churn boolean;
BEGIN
    IF stage IS NULL OR calibration_day IS NULL OR holdout_day IS NULL OR unit IS NULL OR unit <= 0 THEN
        RAISE EXCEPTION 'hvc: _backtest_fill needs a stage, both days and a positive unit'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT holdout_day > calibration_day THEN
        RAISE EXCEPTION 'hvc: the holdout must end after the calibration day (% is not after %)', holdout_day, calibration_day
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    model := hvc._backtest_model(model);
    tau := (holdout_day - calibration_day) / unit;
    IF to_regclass('pg_temp._hvc_bt') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_bt;
    END IF;
    EXECUTE format('SELECT hvc._backtest_collect(g.state, $1, $2) FROM %s g WHERE g.customer_id IS NOT NULL', stage)
       INTO packed USING calibration_day, holdout_day;
    packed := coalesce(packed, ''::bytea);
    -- fitted on the customers with age > 0, as the refresh fits
    EXECUTE format('SELECT hvc.%s_fit(b.frequency, b.recency, b.age)::text FROM hvc._backtest_rows($1, $2) b WHERE b.age > 0',
                   model) INTO fit USING packed, unit;
    EXECUTE format('SELECT ($1::hvc.%s).converged', model) INTO converged USING fit;
    with_churn := to_regprocedure(format('hvc.p_no_purchase(hvc.%s, float8, bigint, float8, float8)', model)) IS NOT NULL;
    IF NOT coalesce(converged, false) THEN
        message := format('%s did not converge on the calibration period: predictions left NULL', model);
    ELSIF NOT with_churn THEN
        message := format('churn_risk of %s not available: churn_auc left NULL', model);
    END IF;
    -- one pass: the predictions, churn_risk, AUCs and bins
    EXECUTE format($q$CREATE TEMP TABLE _hvc_bt ON COMMIT DROP AS
                      SELECT e.* FROM hvc._backtest_eval($1, CASE WHEN $2 THEN $3::hvc.%1$s END, $4, $5, $6, $7) e$q$,
                   model) USING packed, coalesce(converged, false), fit, model, unit, tau, with_churn;
END $$;
COMMENT ON FUNCTION hvc._backtest_fill(regclass, date, date, text, float8) IS
    'Internal: fills pg_temp._hvc_bt (one row of hvc._backtest_eval: totals, MAE, AUCs, top 20 %, bins) from a stage of customer states, fitting the model on the calibration period.';

CREATE OR REPLACE FUNCTION hvc._backtest_bins(bt_model text)
RETURNS TABLE (model text, frequency_bin text, customers bigint, actual_purchases float8,
               predicted_purchases float8, actual_mean float8, predicted_mean float8, bin_order integer)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    RETURN QUERY EXECUTE $q$
    SELECT $1, CASE WHEN k < 7 THEN k::text WHEN k = 7 THEN '7+' ELSE 'all' END,
           b.bin_customers[k + 1], coalesce(b.bin_actual[k + 1], 0),
           CASE WHEN b.bin_customers[k + 1] = 0 THEN 0
                WHEN b.bin_predicted_n[k + 1] = b.bin_customers[k + 1] THEN b.bin_predicted[k + 1] END,
           b.bin_actual[k + 1] / b.bin_customers[k + 1],
           CASE WHEN b.bin_predicted_n[k + 1] = b.bin_customers[k + 1] THEN b.bin_predicted[k + 1] / b.bin_customers[k + 1] END,
           k
      FROM pg_temp._hvc_bt b, generate_series(0, 8) k
     ORDER BY k$q$ USING bt_model;
END $fn$;
COMMENT ON FUNCTION hvc._backtest_bins(text) IS
    'Internal: actual and predicted holdout purchases of pg_temp._hvc_bt by calibration frequency 0 .. 6, 7+ and all (predicted NULL when the model was not fitted).';

-- top20_share: customers ranked by prediction; a tie that straddles the
-- 20 % line counts with the fraction of it that fits (the expected share
-- under a random order of the tied customers; hvc._backtest_eval).
CREATE OR REPLACE FUNCTION hvc._backtest_summary(bt_model text)
RETURNS TABLE (model text, customers bigint, actual_purchases float8, predicted_purchases float8,
               bias_pct float8, mae float8, churn_auc float8, recency_auc float8, top20_share float8)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    RETURN QUERY EXECUTE $q$
    SELECT $1, t.customers, t.actual, CASE WHEN t.predicted_n = t.customers THEN coalesce(t.predicted, 0) END,
           CASE WHEN t.predicted_n = t.customers AND t.actual > 0 THEN 100 * (t.predicted - t.actual) / t.actual END,
           t.mae, t.churn_auc, t.recency_auc,
           CASE WHEN t.actual > 0 AND t.predicted_n = t.customers THEN t.top20 / t.actual END
      FROM pg_temp._hvc_bt t$q$ USING bt_model;
END $fn$;
COMMENT ON FUNCTION hvc._backtest_summary(text) IS
    'Internal: one summary row of pg_temp._hvc_bt: totals, bias, MAE, AUC of churn_risk and of recency, top-20 % share.';

-- hvc.backtest / hvc.backtest_summary: read the source once as of
-- holdout_end and fill pg_temp._hvc_bt.  Returns the model.
CREATE OR REPLACE FUNCTION hvc._backtest_run(calibration_end timestamptz, holdout_end timestamptz, model text)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off AS $fn$
DECLARE
    cfg record;
    src hvc.source;
    m text;
    cal_day date;
    hold_local timestamp;
    r record;
BEGIN
    IF calibration_end IS NULL OR holdout_end IS NULL
       OR NOT isfinite(calibration_end) OR NOT isfinite(holdout_end) THEN
        RAISE EXCEPTION 'hvc: calibration_end and holdout_end must be finite times'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'e.g. hvc.backtest(''2024-12-31'', ''2025-06-30'').';
    END IF;
    SELECT c.time_unit, c.timezone INTO cfg FROM hvc.config c;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hvc: hvc.config has no row'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'INSERT INTO hvc.config DEFAULT VALUES;';
    END IF;
    SELECT * INTO src FROM hvc.source;
    IF src.relation IS NULL THEN
        RAISE EXCEPTION 'hvc: no sales table is registered'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'SELECT hvc.register_source(source => ''public.sales'', customer => ''customer_id'', ordered_at => ''ordered_at'', amount => ''amount'');';
    END IF;
    IF to_regclass(src.relation) IS NULL THEN
        RAISE EXCEPTION 'hvc: the registered source % no longer exists', src.relation
            USING ERRCODE = 'undefined_table',
                  HINT = 'Register the sales table again with hvc.register_source().';
    END IF;
    m := hvc._backtest_model(model);
    cal_day := (calibration_end AT TIME ZONE cfg.timezone)::date;
    hold_local := holdout_end AT TIME ZONE cfg.timezone;
    IF NOT hold_local::date > cal_day THEN
        RAISE EXCEPTION 'hvc: the holdout must end on a later day than the calibration period'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('calibration_end is on %s and holdout_end on %s (in %s).', cal_day, hold_local::date, cfg.timezone),
                  HINT = 'Pass holdout_end at least one day after calibration_end.';
    END IF;
    IF to_regclass('pg_temp._hvc_bt_stage') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_bt_stage;
    END IF;
    EXECUTE format($q$
        CREATE TEMP TABLE _hvc_bt_stage ON COMMIT DROP AS
        SELECT %1$I AS customer_id,
               hvc.customer_state(%2$I, %3$I, NULL::numeric, NULL::integer, %4$L::timestamp, %5$L) AS state
          FROM %6$s
         WHERE %1$I IS NOT NULL
         GROUP BY 1$q$,
        src.customer, src.ordered_at, src.amount, hold_local, cfg.timezone, src.relation);
    r := hvc._backtest_fill('pg_temp._hvc_bt_stage'::regclass, cal_day, hold_local::date, m,
                            CASE WHEN cfg.time_unit = 'week' THEN 7.0 ELSE 1.0 END);
    DROP TABLE pg_temp._hvc_bt_stage;
    IF r.message IS NOT NULL THEN
        RAISE NOTICE 'hvc: %', r.message;
    END IF;
    RETURN m;
END $fn$;
COMMENT ON FUNCTION hvc._backtest_run(timestamptz, timestamptz, text) IS
    'Internal: the shared first half of hvc.backtest and hvc.backtest_summary: one read of the source as of holdout_end, the split at calibration_end, the calibration fit and the predictions (pg_temp._hvc_bt).';

CREATE OR REPLACE FUNCTION hvc.backtest(calibration_end timestamptz, holdout_end timestamptz, model text DEFAULT NULL)
RETURNS TABLE (model text, frequency_bin text, customers bigint, actual_purchases float8,
               predicted_purchases float8, actual_mean float8, predicted_mean float8)
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT b.model, b.frequency_bin, b.customers, b.actual_purchases, b.predicted_purchases,
           b.actual_mean, b.predicted_mean
      FROM hvc._backtest_bins(hvc._backtest_run($1, $2, $3)) b
     ORDER BY b.bin_order
$$;
COMMENT ON FUNCTION hvc.backtest(timestamptz, timestamptz, text) IS
    'Backtest of a purchase model (default hvc.config.model) on the registered source: fitted on the purchases up to calibration_end''s day, it predicts each of those customers'' purchase days up to holdout_end; actual and predicted holdout purchases (totals and means per customer) by calibration frequency 0 .. 6, 7+ and all. Reads the source once, with the caller''s privileges; days in hvc.config.timezone, model time in hvc.config.time_unit.';

CREATE OR REPLACE FUNCTION hvc.backtest_summary(calibration_end timestamptz, holdout_end timestamptz, model text DEFAULT NULL)
RETURNS TABLE (model text, customers bigint, actual_purchases float8, predicted_purchases float8,
               bias_pct float8, mae float8, churn_auc float8, recency_auc float8, top20_share float8)
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM hvc._backtest_summary(hvc._backtest_run($1, $2, $3))
$$;
COMMENT ON FUNCTION hvc.backtest_summary(timestamptz, timestamptz, text) IS
    'Backtest of a purchase model (default hvc.config.model) in one row: calibration customers, actual and predicted holdout purchases, bias_pct = 100 (predicted - actual) / actual, mae per customer, churn_auc = AUC of churn_risk (window = the holdout) for "no purchase in the holdout", recency_auc = the same AUC of recency alone (the baseline churn_risk should approach and aim to beat), top20_share = share of holdout purchases made by the top 20 % by prediction. Same split as hvc.backtest.';

-- The backtest of a refresh, on the refresh's own stage (pg_temp._hvc_stage,
-- as of the refresh's as_of): holdout = the last validation_days days.
-- Returns the text appended to the refresh's message.  A failed backtest
-- never fails the refresh: it is reported in the message and a NOTICE.
CREATE OR REPLACE FUNCTION hvc._refresh_backtest(id bigint, as_of_day date) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off AS $fn$
DECLARE
    cfg record;
    run record;
    history integer;
    days integer;
    key text;
    prev record;
    f record;
    s record;
BEGIN
    IF id IS NULL OR as_of_day IS NULL THEN
        RAISE EXCEPTION 'hvc: _refresh_backtest needs a refresh id and its as_of day'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT l.as_of, l.full_requested INTO run FROM hvc.refresh_log l WHERE l.refresh_id = id AND l.status = 'running';
    IF NOT FOUND OR to_regclass('pg_temp._hvc_stage') IS NULL THEN
        RAISE EXCEPTION 'hvc: refresh % is not a running refresh with a stage', id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.model, c.time_unit, c.timezone, c.validation_days, c.validation_interval_days INTO cfg FROM hvc.config c;
    -- nothing to validate when the refresh has no predictions (its message
    -- already says why)
    IF cfg.model = 'none' OR NOT EXISTS (SELECT 1 FROM hvc.model_fit mf WHERE mf.refresh_id = id
                                            AND mf.model = cfg.model AND mf.converged) THEN
        RETURN '';
    ELSIF cfg.validation_days = 0 THEN
        RETURN '; no backtest (validation_days = 0)';
    END IF;
    -- the history: from the earliest first purchase day of the snapshot
    -- this refresh has just written (its greatest tenure_days, which the
    -- builder saw pass by: no scan of the new snapshot)
    SELECT st.max_tenure_days INTO history FROM hvc._snapshot_stats(id) st;
    days := coalesce(cfg.validation_days, least(365, history / 4));
    IF history IS NULL OR days < 1 OR days >= history THEN
        RETURN format('; no backtest: a history of %s days is too short for a holdout of %s days',
                      coalesce(history, 0), days);
    END IF;
    key := md5(concat_ws('|', (SELECT so::text FROM hvc.source so), cfg.model, cfg.time_unit, cfg.timezone, days));
    SELECT v.refresh_id, v.holdout_end INTO prev
      FROM hvc.model_validation_store v
     WHERE v.settings_key = key AND v.holdout_end <= run.as_of
       AND v.holdout_end > run.as_of - make_interval(days => cfg.validation_interval_days)
     ORDER BY v.refresh_id DESC LIMIT 1;
    IF FOUND AND NOT run.full_requested THEN
        RETURN format('; backtest of refresh %s reused (holdout ended %s, less than validation_interval_days ago)',
                      prev.refresh_id, prev.holdout_end);
    END IF;
    BEGIN
        f := hvc._backtest_fill('pg_temp._hvc_stage'::regclass, as_of_day - days, as_of_day, cfg.model,
                                CASE WHEN cfg.time_unit = 'week' THEN 7.0 ELSE 1.0 END);
        SELECT * INTO s FROM hvc._backtest_summary(cfg.model);
        DELETE FROM hvc.model_validation_store v WHERE v.refresh_id < hvc._first_kept_refresh(id);
        DELETE FROM hvc.model_validation_by_frequency_store v WHERE v.refresh_id < hvc._first_kept_refresh(id);
        INSERT INTO hvc.model_validation_store
            (refresh_id, computed_at, calibration_end, holdout_end, validation_days, settings_key, model,
             customers, actual_purchases, predicted_purchases, bias_pct, mae, churn_auc, recency_auc,
             top20_share, fit, message)
        VALUES (id, clock_timestamp(), ((run.as_of AT TIME ZONE cfg.timezone) - make_interval(days => days)) AT TIME ZONE cfg.timezone,
                run.as_of, days, key, cfg.model, s.customers, s.actual_purchases, s.predicted_purchases,
                s.bias_pct, s.mae, s.churn_auc, s.recency_auc, s.top20_share, f.fit, f.message);
        INSERT INTO hvc.model_validation_by_frequency_store
            (refresh_id, bin_order, model, frequency_bin, customers, actual_purchases, predicted_purchases,
             actual_mean, predicted_mean)
        SELECT id, b.bin_order, b.model, b.frequency_bin, b.customers, b.actual_purchases,
               b.predicted_purchases, b.actual_mean, b.predicted_mean
          FROM hvc._backtest_bins(cfg.model) b;
        DROP TABLE pg_temp._hvc_bt;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'hvc: the backtest failed: %', SQLERRM
            USING HINT = 'The refresh itself succeeded; hvc.model_validation keeps the previous backtest.';
        RETURN format('; backtest failed: %s', SQLERRM);
    END;
    RETURN format('; backtest over the last %s days: %s customers, %s actual and %s predicted holdout purchases, churn AUC %s, recency AUC %s%s',
                  days, s.customers, s.actual_purchases, round(s.predicted_purchases::numeric, 1),
                  coalesce(round(s.churn_auc::numeric, 3)::text, 'n/a'), coalesce(round(s.recency_auc::numeric, 3)::text, 'n/a'),
                  coalesce(' (' || f.message || ')', ''));
END $fn$;
COMMENT ON FUNCTION hvc._refresh_backtest(bigint, date) IS
    'Internal: the backtest of a refresh on its own stage (holdout = the last hvc.config.validation_days days, or the automatic length), stored for hvc.model_validation; skipped with model none, validation_days = 0 or a too short history, reused within validation_interval_days; never fails the refresh.';

CREATE OR REPLACE VIEW hvc.model_validation AS
    SELECT v.model, v.customers, v.actual_purchases, v.predicted_purchases, v.bias_pct, v.mae,
           v.churn_auc, v.recency_auc, v.top20_share, v.calibration_end, v.holdout_end,
           v.validation_days, v.refresh_id
      FROM hvc.model_validation_store v
     WHERE v.refresh_id = (SELECT max(x.refresh_id) FROM hvc.model_validation_store x);
COMMENT ON VIEW hvc.model_validation IS
    'Can I trust the predictions? The backtest of the last refresh that ran one (hvc.backtest_summary of its split): the model fitted on the history up to calibration_end predicts the last validation_days days up to holdout_end (the refresh''s as_of). Empty until a refresh backtests (hvc.config.validation_days, model not none, history long enough).';
COMMENT ON COLUMN hvc.model_validation.model IS 'The purchase model backtested (hvc.config.model at the refresh).';
COMMENT ON COLUMN hvc.model_validation.customers IS 'Customers with a purchase up to calibration_end.';
COMMENT ON COLUMN hvc.model_validation.actual_purchases IS 'Their purchase days after calibration_end up to holdout_end.';
COMMENT ON COLUMN hvc.model_validation.predicted_purchases IS 'The purchases the model fitted on the calibration period predicted for them.';
COMMENT ON COLUMN hvc.model_validation.bias_pct IS '100 * (predicted - actual) / actual: negative = the model under-predicts.';
COMMENT ON COLUMN hvc.model_validation.mae IS 'Mean absolute error of the predicted purchases per customer.';
COMMENT ON COLUMN hvc.model_validation.churn_auc IS 'AUC of churn_risk (window = the holdout) for "no purchase in the holdout": 0.5 = no better than chance, 1 = perfect.';
COMMENT ON COLUMN hvc.model_validation.recency_auc IS 'The same AUC of recency alone (days since the last purchase): the baseline churn_risk should approach and aim to beat.';
COMMENT ON COLUMN hvc.model_validation.top20_share IS 'Share of the holdout purchases made by the 20 % of customers with the highest predictions.';
COMMENT ON COLUMN hvc.model_validation.calibration_end IS 'End of the calibration period (holdout_end minus validation_days).';
COMMENT ON COLUMN hvc.model_validation.holdout_end IS 'End of the holdout: the as_of of the refresh that ran the backtest.';
COMMENT ON COLUMN hvc.model_validation.validation_days IS 'Holdout length in days.';
COMMENT ON COLUMN hvc.model_validation.refresh_id IS 'The refresh (hvc.refresh_log) that ran the backtest.';

CREATE OR REPLACE VIEW hvc.model_validation_by_frequency AS
    SELECT b.model, b.frequency_bin, b.customers, b.actual_purchases, b.predicted_purchases,
           b.actual_mean, b.predicted_mean, v.calibration_end, v.holdout_end, b.refresh_id
      FROM hvc.model_validation_by_frequency_store b
      JOIN hvc.model_validation_store v ON v.refresh_id = b.refresh_id
     WHERE b.refresh_id = (SELECT max(x.refresh_id) FROM hvc.model_validation_store x)
     ORDER BY b.bin_order;
COMMENT ON VIEW hvc.model_validation_by_frequency IS
    'The last refresh''s backtest (hvc.backtest of its split) by calibration frequency: actual and predicted holdout purchases for customers with 0 .. 6 and 7+ repeat purchase days in the calibration period, and all.';
COMMENT ON COLUMN hvc.model_validation_by_frequency.model IS 'The purchase model backtested.';
COMMENT ON COLUMN hvc.model_validation_by_frequency.frequency_bin IS 'Calibration frequency (repeat purchase days): 0 .. 6, 7+, or all.';
COMMENT ON COLUMN hvc.model_validation_by_frequency.customers IS 'Customers in the bin.';
COMMENT ON COLUMN hvc.model_validation_by_frequency.actual_purchases IS 'Their purchase days in the holdout.';
COMMENT ON COLUMN hvc.model_validation_by_frequency.predicted_purchases IS 'Their predicted holdout purchases.';
COMMENT ON COLUMN hvc.model_validation_by_frequency.actual_mean IS 'Mean actual holdout purchases per customer (NULL for an empty bin).';
COMMENT ON COLUMN hvc.model_validation_by_frequency.predicted_mean IS 'Mean predicted holdout purchases per customer.';
COMMENT ON COLUMN hvc.model_validation_by_frequency.calibration_end IS 'End of the calibration period.';
COMMENT ON COLUMN hvc.model_validation_by_frequency.holdout_end IS 'End of the holdout (the refresh''s as_of).';
COMMENT ON COLUMN hvc.model_validation_by_frequency.refresh_id IS 'The refresh (hvc.refresh_log) that ran the backtest.';
