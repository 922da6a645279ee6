-- ---------------------------------------------------------------------------
-- Model step of the refresh: fit the configured purchase model and the
-- Gamma-Gamma spend model over the staged customers, record the fits, and
-- predict per customer.
-- ---------------------------------------------------------------------------

CREATE TYPE hvc._model_params AS (
    usable                boolean,  -- purchase model fitted and converged
    model                 text,     -- bgnbd | pareto_nbd | none
    message               text,     -- what happened, for refresh_log and NOTICEs
    r                     float8,
    alpha                 float8,
    a                     float8,
    b                     float8,
    s                     float8,
    beta                  float8,
    spend_usable          boolean,  -- Gamma-Gamma fitted, converged and q > 1
    p                     float8,
    q                     float8,
    v                     float8,
    horizon_months        integer,
    monthly_discount_rate float8,
    units_per_month       float8    -- time units per month: 4.345 weeks or 30 days
);
COMMENT ON TYPE hvc._model_params IS 'Internal: the fitted models a refresh predicts with.';

CREATE TYPE hvc._prediction AS (
    p_alive              float8,
    predicted_orders     float8,
    expected_order_value float8,
    predicted_clv        float8,
    next_order_in        float8     -- median time to the next purchase if alive, in time units
);
COMMENT ON TYPE hvc._prediction IS 'Internal: one customer''s predictions.';
