-- ---------------------------------------------------------------------------
-- Model and per-customer steps of the refresh (src/refresh_fit.c,
-- src/snapshot_builder.c).
-- ---------------------------------------------------------------------------

CREATE TYPE hvc._model_params AS (
    usable                  boolean,  -- purchase model fitted and converged
    spend_usable            boolean,  -- Gamma-Gamma fitted, converged and q > 1
    model                   text,     -- bgnbd | pareto_nbd | mbgnbd | none
    message                 text,     -- what happened, for refresh_log and NOTICEs
    r                       float8,
    alpha                   float8,
    a                       float8,
    b                       float8,
    s                       float8,
    beta                    float8,
    p                       float8,
    q                       float8,
    v                       float8,
    horizon_months          integer,
    monthly_discount_rate   float8,
    units_per_month         float8,   -- time units per month: 4.345 weeks or 30 days
    rows_read               bigint,
    rows_skipped            bigint,
    customers               bigint,
    purchase_log_likelihood float8,
    purchase_customers      bigint,
    purchase_converged      boolean,
    purchase_iterations     integer,
    purchase_message        text,
    spend_log_likelihood    float8,
    spend_customers         bigint,
    spend_converged         boolean,
    spend_iterations        integer,
    spend_message           text,
    purchase_edge           text,     -- NULL, or which parameter went to which edge ('a->0')
    r_se                    float8,   -- standard errors (NULL: at an edge / not available)
    alpha_se                float8,
    a_se                    float8,
    b_se                    float8,
    s_se                    float8,
    beta_se                 float8,
    spend_edge              text,
    p_se                    float8,
    q_se                    float8,
    v_se                    float8,
    churn_window            float8,   -- hvc.config.churn_window_days in time units (NULL: no churn_risk)
    horizon_units           float8    -- hvc.config.horizon_days in time units (NULL: horizon_months)
);
COMMENT ON TYPE hvc._model_params IS 'Internal: stage totals and the fitted models a refresh predicts with.';

CREATE OR REPLACE FUNCTION hvc._fit_models(cfg hvc.config, as_of_day date) RETURNS hvc._model_params
AS 'MODULE_PATHNAME', 'hvc_fit_models' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION hvc._fit_models(hvc.config, date) IS
    'Internal: reads the refresh stage, returns its totals and fits the configured purchase model and Gamma-Gamma.';

CREATE OR REPLACE FUNCTION hvc._build_snapshot(customer_proto anyelement, m hvc._model_params, as_of_day date,
                                    timezone text, has_margin boolean, basis text,
                                    segment_of_cell text[], tier_lo bigint[], tier_name text[],
                                    tier_rank integer[], tier_high boolean[], refreshed timestamptz,
                                    refresh_id bigint, move_reason text DEFAULT NULL)
RETURNS TABLE (
    customer_id             anyelement,
    first_order_at          timestamptz,
    last_order_at           timestamptz,
    orders                  bigint,
    purchase_days           integer,
    refunds                 bigint,
    revenue                 numeric,
    margin                  numeric,
    avg_order_value         numeric,
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
    historic_clv            numeric,
    p_alive                 float8,
    churn_risk              float8,
    predicted_orders        float8,
    expected_order_value    numeric,
    predicted_clv           numeric,
    expected_next_order_at  date,
    value                   numeric,
    value_rank              bigint,
    cumulative_value_share  float8,
    tier                    text,
    tier_rank               integer,
    is_high_value           boolean,
    previous_tier           text,
    tier_since              timestamptz,
    built_by                bigint,
    churn_percentile        float8)
AS 'MODULE_PATHNAME', 'hvc_build_snapshot' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._build_snapshot(anyelement, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, bigint, text) IS
    'Internal: computes every snapshot column from the refresh stage, streamed in two passes (sorts spill beyond work_mem), and returns the rows in value-rank order; with move_reason (the reason of the refresh''s up and down moves; NULL: none recorded), writes the tier moves (new customers, up, down) into hvc.tier_history as it forms the rows; hvc._snapshot_stats returns what it computed besides.';

-- Record the fits of a refresh in hvc.model_fit.
CREATE OR REPLACE FUNCTION hvc._record_model_fits(id bigint, m hvc._model_params) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF m.model = 'none' THEN
        RETURN;
    END IF;
    -- the time unit and source they were fitted on: a later refresh whose
    -- fit fails predicts with the last good fit of the same ones
    INSERT INTO hvc.model_fit (refresh_id, fitted_at, model, r, alpha, a, b, s, beta,
                               log_likelihood, customers, converged, iterations, message,
                               edge, r_se, alpha_se, a_se, b_se, s_se, beta_se, time_unit, source)
    SELECT id, now(), m.model, m.r, m.alpha, m.a, m.b, m.s, m.beta,
           m.purchase_log_likelihood, m.purchase_customers, coalesce(m.purchase_converged, false),
           m.purchase_iterations, m.purchase_message,
           m.purchase_edge, m.r_se, m.alpha_se, m.a_se, m.b_se, m.s_se, m.beta_se,
           (SELECT c.time_unit FROM hvc.config c LIMIT 1), (SELECT s.relation FROM hvc.source s LIMIT 1);
    IF m.spend_customers IS NOT NULL THEN
        INSERT INTO hvc.model_fit (refresh_id, fitted_at, model, p, q, v,
                                   log_likelihood, customers, converged, iterations, message,
                                   edge, p_se, q_se, v_se, time_unit, source)
        SELECT id, now(), 'gamma_gamma', m.p, m.q, m.v, m.spend_log_likelihood, m.spend_customers,
               coalesce(m.spend_converged, false), m.spend_iterations, m.spend_message,
               m.spend_edge, m.p_se, m.q_se, m.v_se,
               (SELECT c.time_unit FROM hvc.config c LIMIT 1), (SELECT s.relation FROM hvc.source s LIMIT 1);
    END IF;
END $$;
COMMENT ON FUNCTION hvc._record_model_fits(bigint, hvc._model_params) IS 'Internal: one hvc.model_fit row per model a refresh fitted.';
