-- ---------------------------------------------------------------------------
-- Building blocks for analysts (API.md §5; src/model_aggs.c, src/model_funcs.c):
-- fitting aggregates for BG/NBD, Pareto/NBD and Gamma-Gamma, their model
-- composites, and per-customer predictions (P(alive), expected purchases,
-- expected order value, discounted CLV, time to next purchase).
-- Times are in the caller's unit (e.g. weeks); see reference/clv-models.md.
-- ---------------------------------------------------------------------------

CREATE TYPE hvc.bgnbd AS (
    r              float8,
    alpha          float8,
    a              float8,
    b              float8,
    log_likelihood float8,
    customers      bigint,
    converged      boolean,
    iterations     integer,
    message        text,
    edge           text,
    r_se           float8,
    alpha_se       float8,
    a_se           float8,
    b_se           float8
);
COMMENT ON TYPE hvc.bgnbd IS
    'A fitted BG/NBD purchase model (Fader, Hardie & Lee 2005), as returned by hvc.bgnbd_fit(): parameters r, alpha (in the time unit of the data), a, b; the total log-likelihood; the number of customers fitted; whether the fit converged, its iterations and a message; edge (NULL, or ''a->0'': nobody drops out, a = 0, b NULL as not identified, predictions use the NBD limit); the standard errors r_se, alpha_se, a_se, b_se (inverse Hessian of the log-likelihood; NULL at an edge). Parameters are NULL when nothing could be fitted.';

CREATE TYPE hvc.pareto_nbd AS (
    r              float8,
    alpha          float8,
    s              float8,
    beta           float8,
    log_likelihood float8,
    customers      bigint,
    converged      boolean,
    iterations     integer,
    message        text,
    edge           text,
    r_se           float8,
    alpha_se       float8,
    s_se           float8,
    beta_se        float8
);
COMMENT ON TYPE hvc.pareto_nbd IS
    'A fitted Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987), as returned by hvc.pareto_nbd_fit(): parameters r, alpha, s, beta (alpha and beta in the time unit of the data); the total log-likelihood; the number of customers fitted; whether the fit converged, its iterations and a message; edge (NULL, or ''s->0'': nobody drops out, s = 0, beta NULL as not identified, predictions use the NBD limit); the standard errors r_se, alpha_se, s_se, beta_se (inverse Hessian of the log-likelihood; NULL at an edge). Parameters are NULL when nothing could be fitted.';

CREATE TYPE hvc.gamma_gamma AS (
    p              float8,
    q              float8,
    v              float8,
    log_likelihood float8,
    customers      bigint,
    converged      boolean,
    iterations     integer,
    message        text,
    edge           text,
    p_se           float8,
    q_se           float8,
    v_se           float8
);
COMMENT ON TYPE hvc.gamma_gamma IS
    'A fitted Gamma-Gamma spend model (Fader, Hardie & Lee 2005), as returned by hvc.gamma_gamma_fit(): parameters p, q, v (v is called gamma in the papers); the total log-likelihood; the number of repeat customers with positive spend fitted; whether the fit converged, its iterations and a message; edge (NULL, or which parameter went to which edge, e.g. ''q->inf'': every customer has the same mean spend); the standard errors p_se, q_se, v_se (NULL at an edge). Parameters are NULL when nothing could be fitted.';

-- ---------------------------------------------------------------------------
-- BG/NBD and Pareto/NBD fitting aggregates (shared state)
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc._btyd_transfn(internal, bigint, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_btyd_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_transfn(internal, bigint, float8, float8) IS
    'Internal: transition function of hvc.bgnbd_fit, hvc.pareto_nbd_fit and hvc.mbgnbd_fit (collects weighted, compressed customer summaries; rows with a NULL argument are ignored, invalid rows are errors).';

CREATE OR REPLACE FUNCTION hvc._btyd_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_btyd_combinefn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_combinefn(internal, internal) IS
    'Internal: combine function of hvc.bgnbd_fit and hvc.pareto_nbd_fit.';

CREATE OR REPLACE FUNCTION hvc._btyd_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_btyd_serialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_serialfn(internal) IS
    'Internal: serialise function of hvc.bgnbd_fit and hvc.pareto_nbd_fit.';

CREATE OR REPLACE FUNCTION hvc._btyd_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_btyd_deserialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_deserialfn(bytea, internal) IS
    'Internal: deserialise function of hvc.bgnbd_fit and hvc.pareto_nbd_fit; rejects any malformed state with a data_corrupted error.';

CREATE OR REPLACE FUNCTION hvc._bgnbd_finalfn(internal)
RETURNS hvc.bgnbd AS 'MODULE_PATHNAME', 'hvc_bgnbd_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._bgnbd_finalfn(internal) IS
    'Internal: final function of hvc.bgnbd_fit (runs the maximum-likelihood fit).';

CREATE OR REPLACE FUNCTION hvc._pareto_nbd_finalfn(internal)
RETURNS hvc.pareto_nbd AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._pareto_nbd_finalfn(internal) IS
    'Internal: final function of hvc.pareto_nbd_fit (runs the maximum-likelihood fit).';

CREATE OR REPLACE FUNCTION hvc._btyd_state_finalfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_btyd_state_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_state_finalfn(internal) IS
    'Internal: final function of hvc._btyd_state (the serialised state).';

CREATE OR REPLACE AGGREGATE hvc.bgnbd_fit(frequency bigint, recency float8, age float8) (
    SFUNC = hvc._btyd_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._btyd_combinefn,
    SERIALFUNC = hvc._btyd_serialfn,
    DESERIALFUNC = hvc._btyd_deserialfn,
    FINALFUNC = hvc._bgnbd_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.bgnbd_fit(bigint, float8, float8) IS
    'Fit the BG/NBD purchase model by maximum likelihood on one row per customer: frequency = repeat purchases, recency = first to last purchase, age = first purchase to the end of observation (any one time unit, e.g. weeks). Rows with a NULL argument are ignored; negative values, recency > age or recency > 0 with frequency 0 are errors. Returns hvc.bgnbd; when nothing can be fitted (no rows, nobody with a repeat purchase, no convergence) converged is false and message says why.';

CREATE OR REPLACE AGGREGATE hvc.pareto_nbd_fit(frequency bigint, recency float8, age float8) (
    SFUNC = hvc._btyd_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._btyd_combinefn,
    SERIALFUNC = hvc._btyd_serialfn,
    DESERIALFUNC = hvc._btyd_deserialfn,
    FINALFUNC = hvc._pareto_nbd_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.pareto_nbd_fit(bigint, float8, float8) IS
    'Fit the Pareto/NBD purchase model by maximum likelihood on one row per customer (frequency, recency, age as for hvc.bgnbd_fit). Returns hvc.pareto_nbd; when nothing can be fitted converged is false and message says why.';

CREATE OR REPLACE AGGREGATE hvc._btyd_state(frequency bigint, recency float8, age float8) (
    SFUNC = hvc._btyd_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._btyd_combinefn,
    SERIALFUNC = hvc._btyd_serialfn,
    DESERIALFUNC = hvc._btyd_deserialfn,
    FINALFUNC = hvc._btyd_state_finalfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc._btyd_state(bigint, float8, float8) IS
    'Internal: the serialised (bytea) state of hvc.bgnbd_fit / hvc.pareto_nbd_fit over the same rows, for tests of the state format.';

CREATE OR REPLACE FUNCTION hvc._btyd_state_check(state bytea)
RETURNS bigint AS 'MODULE_PATHNAME', 'hvc_btyd_state_check'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_state_check(bytea) IS
    'Internal: run the deserialiser of hvc.bgnbd_fit / hvc.pareto_nbd_fit on a bytea state and return the number of customers it holds; any malformed state raises data_corrupted.';

-- ---------------------------------------------------------------------------
-- Gamma-Gamma fitting aggregate
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc._gamma_gamma_transfn(internal, bigint, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_gg_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_transfn(internal, bigint, float8) IS
    'Internal: transition function of hvc.gamma_gamma_fit (keeps repeat customers with positive spend, weighted and compressed).';

CREATE OR REPLACE FUNCTION hvc._gamma_gamma_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_gg_combinefn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_combinefn(internal, internal) IS
    'Internal: combine function of hvc.gamma_gamma_fit.';

CREATE OR REPLACE FUNCTION hvc._gamma_gamma_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_gg_serialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_serialfn(internal) IS
    'Internal: serialise function of hvc.gamma_gamma_fit.';

CREATE OR REPLACE FUNCTION hvc._gamma_gamma_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_gg_deserialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_deserialfn(bytea, internal) IS
    'Internal: deserialise function of hvc.gamma_gamma_fit; rejects any malformed state with a data_corrupted error.';

CREATE OR REPLACE FUNCTION hvc._gamma_gamma_finalfn(internal)
RETURNS hvc.gamma_gamma AS 'MODULE_PATHNAME', 'hvc_gamma_gamma_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_finalfn(internal) IS
    'Internal: final function of hvc.gamma_gamma_fit (runs the maximum-likelihood fit).';

CREATE OR REPLACE FUNCTION hvc._gamma_gamma_state_finalfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_gg_state_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_state_finalfn(internal) IS
    'Internal: final function of hvc._gamma_gamma_state (the serialised state).';

CREATE OR REPLACE AGGREGATE hvc.gamma_gamma_fit(frequency bigint, monetary float8) (
    SFUNC = hvc._gamma_gamma_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._gamma_gamma_combinefn,
    SERIALFUNC = hvc._gamma_gamma_serialfn,
    DESERIALFUNC = hvc._gamma_gamma_deserialfn,
    FINALFUNC = hvc._gamma_gamma_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.gamma_gamma_fit(bigint, float8) IS
    'Fit the Gamma-Gamma spend model by maximum likelihood on one row per customer: frequency = repeat purchases, monetary = mean value of the repeat purchases. Like lifetimes, only rows with frequency > 0 and monetary > 0 are used (and counted in customers); rows with a NULL argument are ignored; a negative frequency or a non-finite monetary value is an error. Returns hvc.gamma_gamma; when nothing can be fitted converged is false and message says why.';

CREATE OR REPLACE AGGREGATE hvc._gamma_gamma_state(frequency bigint, monetary float8) (
    SFUNC = hvc._gamma_gamma_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._gamma_gamma_combinefn,
    SERIALFUNC = hvc._gamma_gamma_serialfn,
    DESERIALFUNC = hvc._gamma_gamma_deserialfn,
    FINALFUNC = hvc._gamma_gamma_state_finalfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc._gamma_gamma_state(bigint, float8) IS
    'Internal: the serialised (bytea) state of hvc.gamma_gamma_fit over the same rows, for tests of the state format.';

CREATE OR REPLACE FUNCTION hvc._gamma_gamma_state_check(state bytea)
RETURNS bigint AS 'MODULE_PATHNAME', 'hvc_gg_state_check'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_state_check(bytea) IS
    'Internal: run the deserialiser of hvc.gamma_gamma_fit on a bytea state and return the number of customers it holds; any malformed state raises data_corrupted.';

-- ---------------------------------------------------------------------------
-- Predictions
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc.p_alive(m hvc.bgnbd, frequency bigint, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.p_alive(hvc.bgnbd, bigint, float8, float8) IS
    'Probability that a customer with this frequency, recency and age is still alive under a BG/NBD model (1 for frequency 0). NULL if the model has no parameters.';

CREATE OR REPLACE FUNCTION hvc.p_alive(m hvc.pareto_nbd, frequency bigint, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.p_alive(hvc.pareto_nbd, bigint, float8, float8) IS
    'Probability that a customer with this frequency, recency and age is still alive under a Pareto/NBD model. NULL if the model has no parameters.';

CREATE OR REPLACE FUNCTION hvc.expected_purchases(m hvc.bgnbd, t float8, frequency bigint, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases(hvc.bgnbd, float8, bigint, float8, float8) IS
    'Expected number of purchases of a customer in (age, age + t] under a BG/NBD model, given frequency, recency and age (conditional expectation E[Y(t)]). NULL if the model has no parameters.';

CREATE OR REPLACE FUNCTION hvc.expected_purchases(m hvc.pareto_nbd, t float8, frequency bigint, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases(hvc.pareto_nbd, float8, bigint, float8, float8) IS
    'Expected number of purchases of a customer in (age, age + t] under a Pareto/NBD model, given frequency, recency and age. NULL if the model has no parameters.';

CREATE OR REPLACE FUNCTION hvc.expected_purchases_new(m hvc.bgnbd, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases_new(hvc.bgnbd, float8) IS
    'Expected number of repeat purchases E[X(t)] of a new customer in the first t time units after the first purchase, under a BG/NBD model.';

CREATE OR REPLACE FUNCTION hvc.expected_purchases_new(m hvc.pareto_nbd, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases_new(hvc.pareto_nbd, float8) IS
    'Expected number of repeat purchases E[X(t)] of a new customer in the first t time units after the first purchase, under a Pareto/NBD model.';

CREATE OR REPLACE FUNCTION hvc.expected_order_value(g hvc.gamma_gamma, frequency bigint, monetary float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_gamma_gamma_expected_order_value'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_order_value(hvc.gamma_gamma, bigint, float8) IS
    'Expected value of a customer''s future orders under a Gamma-Gamma model, p (v + frequency monetary) / (p frequency + q - 1): the population mean p v / (q - 1) shrunk towards the customer''s own mean repeat value. frequency 0 gives the population mean; NULL when q <= 1 (the mean does not exist) or the model has no parameters.';

CREATE OR REPLACE FUNCTION hvc.customer_lifetime_value(m hvc.bgnbd, g hvc.gamma_gamma, frequency bigint,
                                            recency float8, age float8, monetary float8,
                                            horizon_months integer DEFAULT 12,
                                            monthly_discount_rate float8 DEFAULT 0.01,
                                            units_per_month float8 DEFAULT 4.345)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.customer_lifetime_value(hvc.bgnbd, hvc.gamma_gamma, bigint, float8, float8, float8, integer, float8, float8) IS
    'Discounted customer lifetime value over horizon_months months as in lifetimes: sum over months k of expected_order_value * (E[Y(k units_per_month)] - E[Y((k-1) units_per_month)]) / (1 + monthly_discount_rate)^k, with the BG/NBD model m and the Gamma-Gamma model g. units_per_month is 4.345 for weeks, 30 for days. NULL when a model has no parameters or q <= 1.';

CREATE OR REPLACE FUNCTION hvc.customer_lifetime_value(m hvc.pareto_nbd, g hvc.gamma_gamma, frequency bigint,
                                            recency float8, age float8, monetary float8,
                                            horizon_months integer DEFAULT 12,
                                            monthly_discount_rate float8 DEFAULT 0.01,
                                            units_per_month float8 DEFAULT 4.345)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.customer_lifetime_value(hvc.pareto_nbd, hvc.gamma_gamma, bigint, float8, float8, float8, integer, float8, float8) IS
    'Discounted customer lifetime value over horizon_months months as in lifetimes (see the BG/NBD overload), with the Pareto/NBD model m and the Gamma-Gamma model g. NULL when a model has no parameters or q <= 1.';

CREATE OR REPLACE FUNCTION hvc.time_to_next_purchase(m hvc.bgnbd, frequency bigint, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_time_to_next_purchase'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.time_to_next_purchase(hvc.bgnbd, bigint, float8) IS
    'Median time from the end of observation to the next purchase of a customer who is still alive, (alpha + age) (2^(1/(r + frequency)) - 1), in the time unit of the data, under a BG/NBD model (the purchase rate of a live customer is Gamma(r + frequency, alpha + age); death is ignored). Weight it with hvc.p_alive().';

CREATE OR REPLACE FUNCTION hvc.time_to_next_purchase(m hvc.pareto_nbd, frequency bigint, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_time_to_next_purchase'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.time_to_next_purchase(hvc.pareto_nbd, bigint, float8) IS
    'Median time from the end of observation to the next purchase of a customer who is still alive, (alpha + age) (2^(1/(r + frequency)) - 1), under a Pareto/NBD model (death is ignored). Weight it with hvc.p_alive().';

-- Churn risk (clv-models.md §9.1, README "Churn risk").
CREATE OR REPLACE FUNCTION hvc.p_no_purchase(m hvc.bgnbd, tau float8, frequency bigint, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_p_no_purchase'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.p_no_purchase(hvc.bgnbd, float8, bigint, float8, float8) IS
    'Probability that a customer with this frequency, recency and age makes no purchase in the next tau time units under a BG/NBD model: (1 - p_alive) + p_alive ((alpha + age) / (alpha + age + tau))^(r + frequency). Strictly between 0 and 1 for tau > 0, also for one-time buyers (growing with age). hvc.customers.churn_risk is this with tau = hvc.config.churn_window_days. NULL if the model has no parameters.';

CREATE OR REPLACE FUNCTION hvc.p_no_purchase(m hvc.pareto_nbd, tau float8, frequency bigint, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_p_no_purchase'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.p_no_purchase(hvc.pareto_nbd, float8, bigint, float8, float8) IS
    'Probability that a customer with this frequency, recency and age makes no purchase in the next tau time units under a Pareto/NBD model: 1 - p_alive x integral over (0, tau) of E[lambda e^(-lambda u)] E[e^(-mu u)] du, lambda ~ Gamma(r + frequency, alpha + age), mu ~ Gamma(s, beta + age) (exact, by adaptive quadrature). NULL if the model has no parameters.';
