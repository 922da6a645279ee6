-- ---------------------------------------------------------------------------
-- MBG/NBD (Batislam, Denizel & Filiztekin 2007; lifetimes'
-- ModifiedBetaGeoFitter): BG/NBD in which a customer may also drop out right
-- after the first purchase.  The fitting aggregate shares the BG/NBD state
-- functions (40_models.sql, src/model_aggs.c); predictions are src/model_funcs.c with the
-- core in src/core/mbgnbd.c.  Frequencies are bigint.
-- ---------------------------------------------------------------------------

CREATE TYPE hvc.mbgnbd AS (
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
COMMENT ON TYPE hvc.mbgnbd IS
    'A fitted MBG/NBD purchase model (Batislam, Denizel & Filiztekin 2007), as returned by hvc.mbgnbd_fit(): parameters r, alpha (in the time unit of the data), a, b; the total log-likelihood; the number of customers fitted; whether the optimiser converged, its iterations and a message; edge (NULL, or which parameter went to which edge: a->0 is the no-dropout NBD limit, where b is NULL) and the standard errors r_se .. b_se (inverse Hessian; NULL where not available). Parameters are NULL when nothing could be fitted.';

CREATE OR REPLACE FUNCTION hvc._mbgnbd_finalfn(internal)
RETURNS hvc.mbgnbd AS 'MODULE_PATHNAME', 'hvc_mbgnbd_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._mbgnbd_finalfn(internal) IS
    'Internal: final function of hvc.mbgnbd_fit (runs the maximum-likelihood fit).';

CREATE OR REPLACE AGGREGATE hvc.mbgnbd_fit(frequency bigint, recency float8, age float8) (
    SFUNC = hvc._btyd_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._btyd_combinefn,
    SERIALFUNC = hvc._btyd_serialfn,
    DESERIALFUNC = hvc._btyd_deserialfn,
    FINALFUNC = hvc._mbgnbd_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.mbgnbd_fit(bigint, float8, float8) IS
    'Fit the MBG/NBD purchase model (Batislam, Denizel & Filiztekin 2007) by maximum likelihood on one row per customer (frequency, recency, age as for hvc.bgnbd_fit). Unlike BG/NBD, a customer may drop out right after the first purchase, so one-time buyers can be dead too. Returns hvc.mbgnbd; when nothing can be fitted converged is false and message says why.';

CREATE OR REPLACE FUNCTION hvc.p_alive(m hvc.mbgnbd, frequency bigint, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_mbgnbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.p_alive(hvc.mbgnbd, bigint, float8, float8) IS
    'Probability that a customer with this frequency, recency and age is still alive under an MBG/NBD model, 1 / (1 + a/(b + frequency) ((alpha + age)/(alpha + recency))^(r + frequency)); below 1 for frequency 0 too. NULL if the model has no parameters.';

CREATE OR REPLACE FUNCTION hvc.expected_purchases(m hvc.mbgnbd, t float8, frequency bigint, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_mbgnbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases(hvc.mbgnbd, float8, bigint, float8, float8) IS
    'Expected number of purchases of a customer in (age, age + t] under an MBG/NBD model, given frequency, recency and age (conditional expectation E[Y(t)]). NULL if the model has no parameters.';

CREATE OR REPLACE FUNCTION hvc.expected_purchases_new(m hvc.mbgnbd, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_mbgnbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases_new(hvc.mbgnbd, float8) IS
    'Expected number of repeat purchases E[X(t)] of a new customer in the first t time units after the first purchase, under an MBG/NBD model.';

CREATE OR REPLACE FUNCTION hvc.customer_lifetime_value(m hvc.mbgnbd, g hvc.gamma_gamma, frequency bigint,
                                            recency float8, age float8, monetary float8,
                                            horizon_months integer DEFAULT 12,
                                            monthly_discount_rate float8 DEFAULT 0.01,
                                            units_per_month float8 DEFAULT 4.345)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_mbgnbd_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.customer_lifetime_value(hvc.mbgnbd, hvc.gamma_gamma, bigint, float8, float8, float8, integer, float8, float8) IS
    'Discounted customer lifetime value over horizon_months months as in lifetimes (see the BG/NBD overload), with the MBG/NBD model m and the Gamma-Gamma model g. NULL when a model has no parameters or q <= 1.';

CREATE OR REPLACE FUNCTION hvc.time_to_next_purchase(m hvc.mbgnbd, frequency bigint, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_mbgnbd_time_to_next_purchase'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.time_to_next_purchase(hvc.mbgnbd, bigint, float8) IS
    'Median time from the end of observation to the next purchase of a customer who is still alive, (alpha + age) (2^(1/(r + frequency)) - 1), under an MBG/NBD model (death is ignored). Weight it with hvc.p_alive().';

CREATE OR REPLACE FUNCTION hvc.p_no_purchase(m hvc.mbgnbd, tau float8, frequency bigint, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_mbgnbd_p_no_purchase'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.p_no_purchase(hvc.mbgnbd, float8, bigint, float8, float8) IS
    'Probability that a customer with this frequency, recency and age makes no purchase in (age, age + tau] under an MBG/NBD model: (1 - P(alive)) + P(alive) ((alpha + age)/(alpha + age + tau))^(r + frequency) -- a churn risk that also ranks one-time buyers. NULL if the model has no parameters.';
