-- hvc 0.1.0 — high-value customers inside PostgreSQL.
-- Assembled from sql/parts/*.sql by the Makefile; edit the parts, not the result.

\echo Use "CREATE EXTENSION hvc" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Settings: plain tables a DBA edits with UPDATE / INSERT.
-- ---------------------------------------------------------------------------

CREATE FUNCTION hvc._is_valid_timezone(zone text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog AS $$
BEGIN
    PERFORM pg_catalog.now() AT TIME ZONE zone;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END $$;
COMMENT ON FUNCTION hvc._is_valid_timezone(text) IS
    'Internal: true when the text names a time zone PostgreSQL knows (CHECK of hvc.config.timezone).';

CREATE TABLE hvc.config (
    singleton             boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    model                 text    NOT NULL DEFAULT 'bgnbd'
                          CHECK (model IN ('bgnbd', 'pareto_nbd', 'none')),
    time_unit             text    NOT NULL DEFAULT 'week'
                          CHECK (time_unit IN ('day', 'week')),
    horizon_months        integer NOT NULL DEFAULT 12
                          CHECK (horizon_months BETWEEN 1 AND 240),
    monthly_discount_rate float8  NOT NULL DEFAULT 0.01
                          CHECK (monthly_discount_rate >= 0 AND monthly_discount_rate < 1),
    value_basis           text    NOT NULL DEFAULT 'predicted_clv'
                          CHECK (value_basis IN ('predicted_clv', 'historic_clv', 'revenue', 'margin')),
    at_risk_threshold     float8  NOT NULL DEFAULT 0.5
                          CHECK (at_risk_threshold >= 0 AND at_risk_threshold <= 1),
    history_refreshes     integer NOT NULL DEFAULT 24
                          CHECK (history_refreshes BETWEEN 1 AND 10000),
    timezone              text    NOT NULL DEFAULT 'UTC'
                          CHECK (hvc._is_valid_timezone(timezone))
);
INSERT INTO hvc.config DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('hvc.config', '');

-- The settings row is a singleton: inserting a row replaces it.  This is also
-- what lets pg_restore put back a dumped configuration over the default row
-- that CREATE EXTENSION inserts.
CREATE FUNCTION hvc._config_replace() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM hvc.config;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION hvc._config_replace() IS
    'Internal: trigger that makes INSERT INTO hvc.config replace the one settings row.';
CREATE TRIGGER config_replace BEFORE INSERT ON hvc.config
    FOR EACH ROW EXECUTE FUNCTION hvc._config_replace();
COMMENT ON TABLE hvc.config IS
    'hvc settings: exactly one row; change it with UPDATE hvc.config SET ...';
COMMENT ON COLUMN hvc.config.singleton IS 'Always true: keeps the table to one row.';
COMMENT ON COLUMN hvc.config.model IS
    'Purchase model for predictions: bgnbd (default), pareto_nbd, or none (metrics, RFM and tiers only).';
COMMENT ON COLUMN hvc.config.time_unit IS
    'Unit of the BTYD summary (frequency, recency, age) and of the model fits: week (default) or day.';
COMMENT ON COLUMN hvc.config.horizon_months IS 'Prediction horizon in months for predicted_orders and predicted_clv (default 12).';
COMMENT ON COLUMN hvc.config.monthly_discount_rate IS 'Monthly discount rate of predicted_clv (default 0.01 = 1 % a month).';
COMMENT ON COLUMN hvc.config.value_basis IS
    'What value_rank and tiers rank by: predicted_clv (default; historic_clv while no model is fitted), historic_clv, revenue or margin.';
COMMENT ON COLUMN hvc.config.at_risk_threshold IS 'churn_risk at or above which a high-value customer is at risk (default 0.5).';
COMMENT ON COLUMN hvc.config.history_refreshes IS 'How many refreshes of tier history to keep (default 24).';
COMMENT ON COLUMN hvc.config.timezone IS
    'Zone in which purchase days, dates and as_of are reckoned (default UTC), so scheduled and manual refreshes agree.';

CREATE TABLE hvc.tier_rules (
    tier           text    PRIMARY KEY CHECK (tier <> ''),
    tier_rank      integer NOT NULL UNIQUE CHECK (tier_rank >= 1),
    customer_share float8  NOT NULL CHECK (customer_share > 0 AND customer_share <= 1),
    high_value     boolean NOT NULL DEFAULT false
);
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES
    ('top',    1, 0.05, true),
    ('high',   2, 0.20, true),
    ('medium', 3, 0.50, false),
    ('low',    4, 1.00, false);
SELECT pg_catalog.pg_extension_config_dump('hvc.tier_rules', '');
COMMENT ON TABLE hvc.tier_rules IS
    'Tiers by value rank: a customer whose value_rank / customers is at most customer_share gets the best-ranked such tier. Shares must grow with tier_rank and the last must be 1.';
COMMENT ON COLUMN hvc.tier_rules.tier IS 'Tier name shown in hvc.customers.tier.';
COMMENT ON COLUMN hvc.tier_rules.tier_rank IS '1 = best tier.';
COMMENT ON COLUMN hvc.tier_rules.customer_share IS 'Cumulative share of customers (by value rank) that this tier reaches, in (0, 1].';
COMMENT ON COLUMN hvc.tier_rules.high_value IS 'Whether customers of this tier count as high-value (is_high_value).';

CREATE TABLE hvc.rfm_segments (
    segment  text     PRIMARY KEY CHECK (segment <> ''),
    priority integer  NOT NULL UNIQUE,
    r_min    smallint NOT NULL CHECK (r_min BETWEEN 1 AND 5),
    r_max    smallint NOT NULL CHECK (r_max BETWEEN 1 AND 5),
    f_min    smallint NOT NULL CHECK (f_min BETWEEN 1 AND 5),
    f_max    smallint NOT NULL CHECK (f_max BETWEEN 1 AND 5),
    m_min    smallint NOT NULL CHECK (m_min BETWEEN 1 AND 5),
    m_max    smallint NOT NULL CHECK (m_max BETWEEN 1 AND 5),
    CHECK (r_min <= r_max AND f_min <= f_max AND m_min <= m_max)
);
INSERT INTO hvc.rfm_segments VALUES
    ('Champions',           1, 4, 5, 4, 5, 4, 5),
    ('Can''t Lose Them',    2, 1, 1, 4, 5, 4, 5),
    ('New Customers',       3, 4, 5, 1, 1, 1, 1),
    ('Promising',           4, 3, 4, 1, 1, 1, 1),
    ('Loyal Customers',     5, 2, 5, 3, 5, 3, 5),
    ('Potential Loyalist',  6, 3, 5, 1, 3, 1, 3),
    ('Need Attention',      7, 2, 3, 2, 3, 2, 3),
    ('About To Sleep',      8, 2, 3, 1, 2, 1, 2),
    ('At Risk',             9, 1, 2, 2, 5, 2, 5),
    ('Lost',               10, 1, 2, 1, 2, 1, 2);
SELECT pg_catalog.pg_extension_config_dump('hvc.rfm_segments', '');
COMMENT ON TABLE hvc.rfm_segments IS
    'RFM segment rules: the first rule by priority whose inclusive score ranges match wins; no match = ''Others''. A refresh warns about rules that can never match.';
COMMENT ON COLUMN hvc.rfm_segments.segment IS 'Segment name shown in hvc.customers.segment.';
COMMENT ON COLUMN hvc.rfm_segments.priority IS 'Lower = tried first.';
COMMENT ON COLUMN hvc.rfm_segments.r_min IS 'Lowest R score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.r_max IS 'Highest R score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.f_min IS 'Lowest F score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.f_max IS 'Highest F score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.m_min IS 'Lowest M score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.m_max IS 'Highest M score (1-5) of the rule.';

CREATE TABLE hvc.source (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    relation      text    NOT NULL,
    customer      text    NOT NULL,
    ordered_at    text    NOT NULL,
    amount        text    NOT NULL,
    margin        text,
    order_id      text,
    customer_type text    NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('hvc.source', '');
COMMENT ON TABLE hvc.source IS
    'The registered sales table (one per database); set it with hvc.register_source(). Columns are re-checked at every refresh.';
COMMENT ON COLUMN hvc.source.singleton IS 'Always true: one source per database.';
COMMENT ON COLUMN hvc.source.relation IS 'Schema-qualified name of the sales table, view or materialized view.';
COMMENT ON COLUMN hvc.source.customer IS 'Column holding the customer key.';
COMMENT ON COLUMN hvc.source.ordered_at IS 'Column holding the order date or time.';
COMMENT ON COLUMN hvc.source.amount IS 'Column holding the line amount (negative = refund).';
COMMENT ON COLUMN hvc.source.margin IS 'Column holding the contribution margin, or NULL.';
COMMENT ON COLUMN hvc.source.order_id IS 'Column holding the order id (rows of one order = one order), or NULL (each row is an order).';
COMMENT ON COLUMN hvc.source.customer_type IS 'Type of the customer column at registration; hvc.customers.customer_id has this type.';
COMMENT ON COLUMN hvc.source.registered_at IS 'When the source was registered.';
-- ---------------------------------------------------------------------------
-- What refreshes did: one row per refresh, one row per model fit.
-- ---------------------------------------------------------------------------

CREATE TABLE hvc.refresh_log (
    refresh_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    as_of        timestamptz NOT NULL,
    rows_read    bigint,
    rows_skipped bigint,
    customers    bigint,
    status       text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    message      text,
    backend_pid  integer
);
SELECT pg_catalog.pg_extension_config_dump('hvc.refresh_log', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('hvc.refresh_log', 'refresh_id'), '');
COMMENT ON TABLE hvc.refresh_log IS 'One row per CALL hvc.refresh(): when, over which cut-off, how many rows and customers, and how it ended.';
COMMENT ON COLUMN hvc.refresh_log.refresh_id IS 'Sequential id of the refresh.';
COMMENT ON COLUMN hvc.refresh_log.started_at IS 'When the refresh started.';
COMMENT ON COLUMN hvc.refresh_log.finished_at IS 'When it finished (NULL while running).';
COMMENT ON COLUMN hvc.refresh_log.as_of IS 'Observation end: rows after it were skipped; recency and age are measured to it.';
COMMENT ON COLUMN hvc.refresh_log.rows_read IS 'Source rows read.';
COMMENT ON COLUMN hvc.refresh_log.rows_skipped IS 'Rows ignored: NULL customer, ordered_at or amount, NaN/Infinity amount, infinite time, or time after as_of.';
COMMENT ON COLUMN hvc.refresh_log.customers IS 'Customers in the new snapshot (customers with at least one purchase).';
COMMENT ON COLUMN hvc.refresh_log.status IS 'running, succeeded, failed, or interrupted (cancelled or crashed; detected by the next refresh).';
COMMENT ON COLUMN hvc.refresh_log.message IS 'Summary on success (model outcome, notices); the error on failure.';
COMMENT ON COLUMN hvc.refresh_log.backend_pid IS 'Process id of the session that ran the refresh.';

CREATE TABLE hvc.model_fit (
    fit_id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refresh_id     bigint,
    fitted_at      timestamptz NOT NULL,
    model          text        NOT NULL,
    r              float8,
    alpha          float8,
    a              float8,
    b              float8,
    s              float8,
    beta           float8,
    p              float8,
    q              float8,
    v              float8,
    log_likelihood float8,
    customers      bigint,
    converged      boolean,
    iterations     integer,
    message        text
);
SELECT pg_catalog.pg_extension_config_dump('hvc.model_fit', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('hvc.model_fit', 'fit_id'), '');
COMMENT ON TABLE hvc.model_fit IS 'One row per model fitted by a refresh: parameters (NULL where not applicable), log-likelihood and convergence.';
COMMENT ON COLUMN hvc.model_fit.fit_id IS 'Sequential id of the fit.';
COMMENT ON COLUMN hvc.model_fit.refresh_id IS 'The refresh (hvc.refresh_log) that fitted it.';
COMMENT ON COLUMN hvc.model_fit.fitted_at IS 'When the model was fitted.';
COMMENT ON COLUMN hvc.model_fit.model IS 'bgnbd, pareto_nbd or gamma_gamma.';
COMMENT ON COLUMN hvc.model_fit.r IS 'BG/NBD and Pareto/NBD: shape of the purchase-rate Gamma.';
COMMENT ON COLUMN hvc.model_fit.alpha IS 'BG/NBD and Pareto/NBD: scale of the purchase-rate Gamma (in hvc.config.time_unit).';
COMMENT ON COLUMN hvc.model_fit.a IS 'BG/NBD: Beta dropout parameter a.';
COMMENT ON COLUMN hvc.model_fit.b IS 'BG/NBD: Beta dropout parameter b.';
COMMENT ON COLUMN hvc.model_fit.s IS 'Pareto/NBD: shape of the dropout-rate Gamma.';
COMMENT ON COLUMN hvc.model_fit.beta IS 'Pareto/NBD: scale of the dropout-rate Gamma.';
COMMENT ON COLUMN hvc.model_fit.p IS 'Gamma-Gamma: shape of spend per transaction.';
COMMENT ON COLUMN hvc.model_fit.q IS 'Gamma-Gamma: shape of the customers'' scale distribution.';
COMMENT ON COLUMN hvc.model_fit.v IS 'Gamma-Gamma: scale of the customers'' scale distribution (gamma in the papers).';
COMMENT ON COLUMN hvc.model_fit.log_likelihood IS 'Log-likelihood at the fitted parameters, on the original time scale.';
COMMENT ON COLUMN hvc.model_fit.customers IS 'Customers the model was fitted on.';
COMMENT ON COLUMN hvc.model_fit.converged IS 'Whether the optimiser converged; predictions are only filled when it did.';
COMMENT ON COLUMN hvc.model_fit.iterations IS 'Optimiser iterations.';
COMMENT ON COLUMN hvc.model_fit.message IS 'Optimiser report, or why the model was not fitted or not used.';

-- History (tier moves, alerts) is kept for the last hvc.config.history_refreshes
-- successful refreshes, the running one included: the first refresh_id kept.
CREATE FUNCTION hvc._first_kept_refresh(current_refresh bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT min(x.refresh_id)
      FROM (SELECT l.refresh_id FROM hvc.refresh_log l
             WHERE l.status = 'succeeded' OR l.refresh_id = current_refresh
             ORDER BY l.refresh_id DESC
             LIMIT (SELECT c.history_refreshes FROM hvc.config c)) x
$$;
COMMENT ON FUNCTION hvc._first_kept_refresh(bigint) IS
    'Internal: the oldest refresh whose history (tier moves, alerts) is kept under hvc.config.history_refreshes.';
-- ---------------------------------------------------------------------------
-- The one-pass per-customer summary aggregate (src/customer_summary.c).
-- ---------------------------------------------------------------------------

CREATE TYPE hvc.customer_summary_result AS (
    rows_read         bigint,
    rows_skipped      bigint,
    orders            bigint,
    purchase_rows     bigint,
    refund_rows       bigint,
    purchase_days     integer,
    frequency         integer,
    recency_days      integer,
    first_order_local timestamp,
    last_order_local  timestamp,
    revenue           numeric,
    margin            numeric,
    monetary_value    float8
);
COMMENT ON TYPE hvc.customer_summary_result IS
    'One customer''s summary from hvc.customer_summary(): row counts, orders (distinct order ids of purchase rows, or purchase rows), distinct purchase days, BTYD frequency (purchase days - 1) and recency in days, first/last purchase as local timestamps, net revenue and margin (exact to 0.0001), and the mean spend of repeat purchase days.';

CREATE FUNCTION hvc._customer_summary_transfn(internal, "any", "any", "any", "any", timestamp, text)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_customer_summary_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_transfn(internal, "any", "any", "any", "any", timestamp, text) IS
    'Internal: transition function of hvc.customer_summary.';

CREATE FUNCTION hvc._customer_summary_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_customer_summary_combinefn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_combinefn(internal, internal) IS
    'Internal: combine function of hvc.customer_summary (merges partial states exactly).';

CREATE FUNCTION hvc._customer_summary_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_customer_summary_serialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_serialfn(internal) IS
    'Internal: serialise function of hvc.customer_summary.';

CREATE FUNCTION hvc._customer_summary_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_customer_summary_deserialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_deserialfn(bytea, internal) IS
    'Internal: deserialise function of hvc.customer_summary; rejects any malformed state with an error.';

CREATE FUNCTION hvc._customer_summary_finalfn(internal)
RETURNS hvc.customer_summary_result AS 'MODULE_PATHNAME', 'hvc_customer_summary_finalfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_finalfn(internal) IS
    'Internal: final function of hvc.customer_summary.';

CREATE AGGREGATE hvc.customer_summary(ordered_at "any", amount "any", margin "any",
                                      order_id "any", as_of timestamp, timezone text) (
    SFUNC = hvc._customer_summary_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._customer_summary_combinefn,
    SERIALFUNC = hvc._customer_summary_serialfn,
    DESERIALFUNC = hvc._customer_summary_deserialfn,
    FINALFUNC = hvc._customer_summary_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.customer_summary("any", "any", "any", "any", timestamp, text) IS
    'Per-customer summary in one pass (use with GROUP BY customer): ordered_at date/timestamp/timestamptz, amount and margin integer/float/numeric (negative = refund; pass NULL::numeric for no margin), order_id any hashable type (NULL::int when unmapped), as_of as a local timestamp, timezone the zone of purchase days. Rows with NULL time or amount, NaN/Infinity amounts or times after as_of are counted in rows_skipped.';

CREATE FUNCTION hvc._customer_state_finalfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_customer_state_finalfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_state_finalfn(internal) IS
    'Internal: final function of hvc.customer_state (the serialised state).';

CREATE AGGREGATE hvc.customer_state(ordered_at "any", amount "any", margin "any",
                                    order_id "any", as_of timestamp, timezone text) (
    SFUNC = hvc._customer_summary_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._customer_summary_combinefn,
    SERIALFUNC = hvc._customer_summary_serialfn,
    DESERIALFUNC = hvc._customer_summary_deserialfn,
    FINALFUNC = hvc._customer_state_finalfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.customer_state("any", "any", "any", "any", timestamp, text) IS
    'Same inputs as hvc.customer_summary, but returns the compact serialised per-customer state (bytea) so it can be stored and summarised later with hvc.customer_state_summary().';

CREATE FUNCTION hvc.customer_state_summary(state bytea)
RETURNS hvc.customer_summary_result AS 'MODULE_PATHNAME', 'hvc_customer_state_summary'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.customer_state_summary(bytea) IS
    'Summarise a state made by hvc.customer_state(); every byte is validated and a malformed state raises data_corrupted.';
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
    message        text
);
COMMENT ON TYPE hvc.bgnbd IS
    'A fitted BG/NBD purchase model (Fader, Hardie & Lee 2005), as returned by hvc.bgnbd_fit(): parameters r, alpha (in the time unit of the data), a, b; the total log-likelihood; the number of customers fitted; whether the optimiser converged, its iterations and a message. Parameters are NULL when nothing could be fitted.';

CREATE TYPE hvc.pareto_nbd AS (
    r              float8,
    alpha          float8,
    s              float8,
    beta           float8,
    log_likelihood float8,
    customers      bigint,
    converged      boolean,
    iterations     integer,
    message        text
);
COMMENT ON TYPE hvc.pareto_nbd IS
    'A fitted Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987), as returned by hvc.pareto_nbd_fit(): parameters r, alpha, s, beta (alpha and beta in the time unit of the data); the total log-likelihood; the number of customers fitted; whether the optimiser converged, its iterations and a message. Parameters are NULL when nothing could be fitted.';

CREATE TYPE hvc.gamma_gamma AS (
    p              float8,
    q              float8,
    v              float8,
    log_likelihood float8,
    customers      bigint,
    converged      boolean,
    iterations     integer,
    message        text
);
COMMENT ON TYPE hvc.gamma_gamma IS
    'A fitted Gamma-Gamma spend model (Fader, Hardie & Lee 2005), as returned by hvc.gamma_gamma_fit(): parameters p, q, v (v is called gamma in the papers); the total log-likelihood; the number of repeat customers with positive spend fitted; whether the optimiser converged, its iterations and a message. Parameters are NULL when nothing could be fitted.';

-- ---------------------------------------------------------------------------
-- BG/NBD and Pareto/NBD fitting aggregates (shared state)
-- ---------------------------------------------------------------------------

CREATE FUNCTION hvc._btyd_transfn(internal, integer, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_btyd_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_transfn(internal, integer, float8, float8) IS
    'Internal: transition function of hvc.bgnbd_fit and hvc.pareto_nbd_fit (collects weighted, compressed customer summaries; rows with a NULL argument are ignored, invalid rows are errors).';

CREATE FUNCTION hvc._btyd_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_btyd_combinefn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_combinefn(internal, internal) IS
    'Internal: combine function of hvc.bgnbd_fit and hvc.pareto_nbd_fit.';

CREATE FUNCTION hvc._btyd_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_btyd_serialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_serialfn(internal) IS
    'Internal: serialise function of hvc.bgnbd_fit and hvc.pareto_nbd_fit.';

CREATE FUNCTION hvc._btyd_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_btyd_deserialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_deserialfn(bytea, internal) IS
    'Internal: deserialise function of hvc.bgnbd_fit and hvc.pareto_nbd_fit; rejects any malformed state with a data_corrupted error.';

CREATE FUNCTION hvc._bgnbd_finalfn(internal)
RETURNS hvc.bgnbd AS 'MODULE_PATHNAME', 'hvc_bgnbd_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._bgnbd_finalfn(internal) IS
    'Internal: final function of hvc.bgnbd_fit (runs the maximum-likelihood fit).';

CREATE FUNCTION hvc._pareto_nbd_finalfn(internal)
RETURNS hvc.pareto_nbd AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._pareto_nbd_finalfn(internal) IS
    'Internal: final function of hvc.pareto_nbd_fit (runs the maximum-likelihood fit).';

CREATE FUNCTION hvc._btyd_state_finalfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_btyd_state_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_state_finalfn(internal) IS
    'Internal: final function of hvc._btyd_state (the serialised state).';

CREATE AGGREGATE hvc.bgnbd_fit(frequency integer, recency float8, age float8) (
    SFUNC = hvc._btyd_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._btyd_combinefn,
    SERIALFUNC = hvc._btyd_serialfn,
    DESERIALFUNC = hvc._btyd_deserialfn,
    FINALFUNC = hvc._bgnbd_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.bgnbd_fit(integer, float8, float8) IS
    'Fit the BG/NBD purchase model by maximum likelihood on one row per customer: frequency = repeat purchases, recency = first to last purchase, age = first purchase to the end of observation (any one time unit, e.g. weeks). Rows with a NULL argument are ignored; negative values, recency > age or recency > 0 with frequency 0 are errors. Returns hvc.bgnbd; when nothing can be fitted (no rows, nobody with a repeat purchase, no convergence) converged is false and message says why.';

CREATE AGGREGATE hvc.pareto_nbd_fit(frequency integer, recency float8, age float8) (
    SFUNC = hvc._btyd_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._btyd_combinefn,
    SERIALFUNC = hvc._btyd_serialfn,
    DESERIALFUNC = hvc._btyd_deserialfn,
    FINALFUNC = hvc._pareto_nbd_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.pareto_nbd_fit(integer, float8, float8) IS
    'Fit the Pareto/NBD purchase model by maximum likelihood on one row per customer (frequency, recency, age as for hvc.bgnbd_fit). Returns hvc.pareto_nbd; when nothing can be fitted converged is false and message says why.';

CREATE AGGREGATE hvc._btyd_state(frequency integer, recency float8, age float8) (
    SFUNC = hvc._btyd_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._btyd_combinefn,
    SERIALFUNC = hvc._btyd_serialfn,
    DESERIALFUNC = hvc._btyd_deserialfn,
    FINALFUNC = hvc._btyd_state_finalfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc._btyd_state(integer, float8, float8) IS
    'Internal: the serialised (bytea) state of hvc.bgnbd_fit / hvc.pareto_nbd_fit over the same rows, for tests of the state format.';

CREATE FUNCTION hvc._btyd_state_check(state bytea)
RETURNS bigint AS 'MODULE_PATHNAME', 'hvc_btyd_state_check'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_state_check(bytea) IS
    'Internal: run the deserialiser of hvc.bgnbd_fit / hvc.pareto_nbd_fit on a bytea state and return the number of customers it holds; any malformed state raises data_corrupted.';

-- ---------------------------------------------------------------------------
-- Gamma-Gamma fitting aggregate
-- ---------------------------------------------------------------------------

CREATE FUNCTION hvc._gamma_gamma_transfn(internal, integer, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_gg_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_transfn(internal, integer, float8) IS
    'Internal: transition function of hvc.gamma_gamma_fit (keeps repeat customers with positive spend, weighted and compressed).';

CREATE FUNCTION hvc._gamma_gamma_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_gg_combinefn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_combinefn(internal, internal) IS
    'Internal: combine function of hvc.gamma_gamma_fit.';

CREATE FUNCTION hvc._gamma_gamma_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_gg_serialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_serialfn(internal) IS
    'Internal: serialise function of hvc.gamma_gamma_fit.';

CREATE FUNCTION hvc._gamma_gamma_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_gg_deserialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_deserialfn(bytea, internal) IS
    'Internal: deserialise function of hvc.gamma_gamma_fit; rejects any malformed state with a data_corrupted error.';

CREATE FUNCTION hvc._gamma_gamma_finalfn(internal)
RETURNS hvc.gamma_gamma AS 'MODULE_PATHNAME', 'hvc_gamma_gamma_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_finalfn(internal) IS
    'Internal: final function of hvc.gamma_gamma_fit (runs the maximum-likelihood fit).';

CREATE FUNCTION hvc._gamma_gamma_state_finalfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_gg_state_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_state_finalfn(internal) IS
    'Internal: final function of hvc._gamma_gamma_state (the serialised state).';

CREATE AGGREGATE hvc.gamma_gamma_fit(frequency integer, monetary float8) (
    SFUNC = hvc._gamma_gamma_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._gamma_gamma_combinefn,
    SERIALFUNC = hvc._gamma_gamma_serialfn,
    DESERIALFUNC = hvc._gamma_gamma_deserialfn,
    FINALFUNC = hvc._gamma_gamma_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.gamma_gamma_fit(integer, float8) IS
    'Fit the Gamma-Gamma spend model by maximum likelihood on one row per customer: frequency = repeat purchases, monetary = mean value of the repeat purchases. Like lifetimes, only rows with frequency > 0 and monetary > 0 are used (and counted in customers); rows with a NULL argument are ignored; a negative frequency or a non-finite monetary value is an error. Returns hvc.gamma_gamma; when nothing can be fitted converged is false and message says why.';

CREATE AGGREGATE hvc._gamma_gamma_state(frequency integer, monetary float8) (
    SFUNC = hvc._gamma_gamma_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._gamma_gamma_combinefn,
    SERIALFUNC = hvc._gamma_gamma_serialfn,
    DESERIALFUNC = hvc._gamma_gamma_deserialfn,
    FINALFUNC = hvc._gamma_gamma_state_finalfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc._gamma_gamma_state(integer, float8) IS
    'Internal: the serialised (bytea) state of hvc.gamma_gamma_fit over the same rows, for tests of the state format.';

CREATE FUNCTION hvc._gamma_gamma_state_check(state bytea)
RETURNS bigint AS 'MODULE_PATHNAME', 'hvc_gg_state_check'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_state_check(bytea) IS
    'Internal: run the deserialiser of hvc.gamma_gamma_fit on a bytea state and return the number of customers it holds; any malformed state raises data_corrupted.';

-- ---------------------------------------------------------------------------
-- Predictions
-- ---------------------------------------------------------------------------

CREATE FUNCTION hvc.p_alive(m hvc.bgnbd, frequency integer, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.p_alive(hvc.bgnbd, integer, float8, float8) IS
    'Probability that a customer with this frequency, recency and age is still alive under a BG/NBD model (1 for frequency 0). NULL if the model has no parameters.';

CREATE FUNCTION hvc.p_alive(m hvc.pareto_nbd, frequency integer, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.p_alive(hvc.pareto_nbd, integer, float8, float8) IS
    'Probability that a customer with this frequency, recency and age is still alive under a Pareto/NBD model. NULL if the model has no parameters.';

CREATE FUNCTION hvc.expected_purchases(m hvc.bgnbd, t float8, frequency integer, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases(hvc.bgnbd, float8, integer, float8, float8) IS
    'Expected number of purchases of a customer in (age, age + t] under a BG/NBD model, given frequency, recency and age (conditional expectation E[Y(t)]). NULL if the model has no parameters.';

CREATE FUNCTION hvc.expected_purchases(m hvc.pareto_nbd, t float8, frequency integer, recency float8, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_expected_purchases'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases(hvc.pareto_nbd, float8, integer, float8, float8) IS
    'Expected number of purchases of a customer in (age, age + t] under a Pareto/NBD model, given frequency, recency and age. NULL if the model has no parameters.';

CREATE FUNCTION hvc.expected_purchases_new(m hvc.bgnbd, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases_new(hvc.bgnbd, float8) IS
    'Expected number of repeat purchases E[X(t)] of a new customer in the first t time units after the first purchase, under a BG/NBD model.';

CREATE FUNCTION hvc.expected_purchases_new(m hvc.pareto_nbd, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_expected_purchases_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_purchases_new(hvc.pareto_nbd, float8) IS
    'Expected number of repeat purchases E[X(t)] of a new customer in the first t time units after the first purchase, under a Pareto/NBD model.';

CREATE FUNCTION hvc.expected_order_value(g hvc.gamma_gamma, frequency integer, monetary float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_gamma_gamma_expected_order_value'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.expected_order_value(hvc.gamma_gamma, integer, float8) IS
    'Expected value of a customer''s future orders under a Gamma-Gamma model, p (v + frequency monetary) / (p frequency + q - 1): the population mean p v / (q - 1) shrunk towards the customer''s own mean repeat value. frequency 0 gives the population mean; NULL when q <= 1 (the mean does not exist) or the model has no parameters.';

CREATE FUNCTION hvc.customer_lifetime_value(m hvc.bgnbd, g hvc.gamma_gamma, frequency integer,
                                            recency float8, age float8, monetary float8,
                                            horizon_months integer DEFAULT 12,
                                            monthly_discount_rate float8 DEFAULT 0.01,
                                            units_per_month float8 DEFAULT 4.345)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.customer_lifetime_value(hvc.bgnbd, hvc.gamma_gamma, integer, float8, float8, float8, integer, float8, float8) IS
    'Discounted customer lifetime value over horizon_months months as in lifetimes: sum over months k of expected_order_value * (E[Y(k units_per_month)] - E[Y((k-1) units_per_month)]) / (1 + monthly_discount_rate)^k, with the BG/NBD model m and the Gamma-Gamma model g. units_per_month is 4.345 for weeks, 30 for days. NULL when a model has no parameters or q <= 1.';

CREATE FUNCTION hvc.customer_lifetime_value(m hvc.pareto_nbd, g hvc.gamma_gamma, frequency integer,
                                            recency float8, age float8, monetary float8,
                                            horizon_months integer DEFAULT 12,
                                            monthly_discount_rate float8 DEFAULT 0.01,
                                            units_per_month float8 DEFAULT 4.345)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.customer_lifetime_value(hvc.pareto_nbd, hvc.gamma_gamma, integer, float8, float8, float8, integer, float8, float8) IS
    'Discounted customer lifetime value over horizon_months months as in lifetimes (see the BG/NBD overload), with the Pareto/NBD model m and the Gamma-Gamma model g. NULL when a model has no parameters or q <= 1.';

CREATE FUNCTION hvc.time_to_next_purchase(m hvc.bgnbd, frequency integer, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_bgnbd_time_to_next_purchase'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.time_to_next_purchase(hvc.bgnbd, integer, float8) IS
    'Median time from the end of observation to the next purchase of a customer who is still alive, (alpha + age) (2^(1/(r + frequency)) - 1), in the time unit of the data, under a BG/NBD model (the purchase rate of a live customer is Gamma(r + frequency, alpha + age); death is ignored). Weight it with hvc.p_alive().';

CREATE FUNCTION hvc.time_to_next_purchase(m hvc.pareto_nbd, frequency integer, age float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_time_to_next_purchase'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.time_to_next_purchase(hvc.pareto_nbd, integer, float8) IS
    'Median time from the end of observation to the next purchase of a customer who is still alive, (alpha + age) (2^(1/(r + frequency)) - 1), under a Pareto/NBD model (death is ignored). Weight it with hvc.p_alive().';
-- ---------------------------------------------------------------------------
-- Registering the sales table, and the snapshot objects whose customer_id
-- takes the type of the source's customer column.
-- ---------------------------------------------------------------------------

CREATE FUNCTION hvc._type_is_groupable(regtype) RETURNS boolean
AS 'MODULE_PATHNAME', 'hvc_type_is_groupable' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._type_is_groupable(regtype) IS
    'Internal: true when the type has hash and btree support (needed for customer keys).';

CREATE FUNCTION hvc._prevent_transaction_block() RETURNS void
AS 'MODULE_PATHNAME', 'hvc_prevent_transaction_block' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._prevent_transaction_block() IS
    'Internal: raises an error when called inside an explicit transaction block.';

CREATE FUNCTION hvc._base_type(t regtype) RETURNS regtype
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog AS $$
    WITH RECURSIVE d(oid, base) AS (
        SELECT oid, typbasetype FROM pg_type WHERE oid = t
        UNION ALL
        SELECT p.oid, p.typbasetype FROM pg_type p JOIN d ON p.oid = d.base WHERE d.base <> 0
    )
    SELECT oid::regtype FROM d WHERE base = 0
$$;
COMMENT ON FUNCTION hvc._base_type(regtype) IS 'Internal: the type itself, or the base type of a domain.';

-- The type of column `col` of `rel`, or an error naming the role and the
-- columns that do exist.
CREATE FUNCTION hvc._source_column_type(rel regclass, role text, col text) RETURNS regtype
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
    t regtype;
BEGIN
    IF col IS NULL OR col = '' THEN
        RAISE EXCEPTION 'hvc: the % column must be named', role
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Pass %s => ''<column of %s>''.', role, rel);
    END IF;
    SELECT a.atttypid::regtype INTO t
      FROM pg_attribute a
     WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF t IS NULL THEN
        RAISE EXCEPTION 'hvc: column "%" (%) does not exist in %', col, role, rel
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('Columns of %s: %s.', rel,
                      (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
                         FROM pg_attribute
                        WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped)),
                  HINT = 'Column names are matched exactly (case-sensitive, without quotes).';
    END IF;
    RETURN t;
END $$;
COMMENT ON FUNCTION hvc._source_column_type(regclass, text, text) IS
    'Internal: type of a mapped source column; raises undefined_column listing the real columns.';

-- Check a whole mapping; returns the customer type.  Used by register_source
-- and again by every refresh (the table may have changed since).
CREATE FUNCTION hvc._check_source(rel regclass, customer text, ordered_at text, amount text,
                                  margin text, order_id text) RETURNS regtype
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
    kind "char";
    t regtype;
    customer_type regtype;
BEGIN
    SELECT relkind INTO kind FROM pg_class WHERE oid = rel;
    IF kind IS NULL THEN
        RAISE EXCEPTION 'hvc: relation with OID % does not exist', rel::oid
            USING ERRCODE = 'undefined_table',
                  HINT = 'Register an existing table or view with hvc.register_source().';
    END IF;
    IF kind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
        RAISE EXCEPTION 'hvc: % is not a table, view or materialized view', rel
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Register a table, view, materialized view, partitioned or foreign table.';
    END IF;

    customer_type := hvc._source_column_type(rel, 'customer', customer);
    IF NOT hvc._type_is_groupable(customer_type) THEN
        RAISE EXCEPTION 'hvc: customer column "%" has type %, which cannot be hashed and sorted', customer, customer_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Use a key type such as integer, bigint, text or uuid, or register a view that casts the column (for example customer::text).';
    END IF;

    t := hvc._base_type(hvc._source_column_type(rel, 'ordered_at', ordered_at));
    IF t NOT IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype) THEN
        RAISE EXCEPTION 'hvc: ordered_at column "%" has type %, not date, timestamp or timestamptz', ordered_at, t
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Register a view that converts the column, for example to_date(col, ''YYYYMMDD'').';
    END IF;

    t := hvc._base_type(hvc._source_column_type(rel, 'amount', amount));
    IF t NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
                 'real'::regtype, 'double precision'::regtype) THEN
        RAISE EXCEPTION 'hvc: amount column "%" has type %, not numeric, integer or float', amount, t
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Register a view that casts the column, for example col::numeric (money: col::numeric).';
    END IF;

    IF margin IS NOT NULL THEN
        t := hvc._base_type(hvc._source_column_type(rel, 'margin', margin));
        IF t NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
                     'real'::regtype, 'double precision'::regtype) THEN
            RAISE EXCEPTION 'hvc: margin column "%" has type %, not numeric, integer or float', margin, t
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Register a view that casts the column to numeric, or leave margin NULL.';
        END IF;
    END IF;

    IF order_id IS NOT NULL THEN
        t := hvc._source_column_type(rel, 'order_id', order_id);
        IF NOT hvc._type_is_groupable(t) THEN
            RAISE EXCEPTION 'hvc: order_id column "%" has type %, which cannot be hashed', order_id, t
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Use a key type such as integer, bigint, text or uuid, or leave order_id NULL.';
        END IF;
    END IF;

    IF NOT has_table_privilege(rel, 'SELECT') THEN
        RAISE EXCEPTION 'hvc: permission denied to read %', rel
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('GRANT SELECT ON %s TO %I;', rel, current_user);
    END IF;
    RETURN customer_type;
END $$;
COMMENT ON FUNCTION hvc._check_source(regclass, text, text, text, text, text) IS
    'Internal: validates a source mapping (relation kind, columns, types, privilege) and returns the customer type.';

CREATE FUNCTION hvc.register_source(source regclass, customer text, ordered_at text, amount text,
                                    margin text DEFAULT NULL, order_id text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    customer_type regtype;
    old_type text;
    old_relation text;
    rel_name text;
BEGIN
    IF source IS NULL THEN
        RAISE EXCEPTION 'hvc: source must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass source => ''schema.table''.';
    END IF;
    customer_type := hvc._check_source(source, customer, ordered_at, amount, margin, order_id);
    SELECT format('%I.%I', n.nspname, c.relname) INTO rel_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source;

    SELECT s.customer_type, s.relation INTO old_type, old_relation FROM hvc.source s;
    DELETE FROM hvc.source;
    INSERT INTO hvc.source (relation, customer, ordered_at, amount, margin, order_id, customer_type)
    VALUES (rel_name, customer, ordered_at, amount, margin, order_id, customer_type::text);

    -- Another table (or key type) starts a new history: the snapshot, tier
    -- history and alert state of the old source are dropped.  Re-registering
    -- the same table (say, to map a margin column) keeps them.
    IF old_type IS DISTINCT FROM customer_type::text
       OR old_relation IS DISTINCT FROM rel_name
       OR to_regclass('hvc.customer_snapshot') IS NULL THEN
        PERFORM hvc._create_snapshot_objects(customer_type);
    END IF;
    RETURN format('hvc: registered %s (customer %I %s, ordered_at %I, amount %I, margin %s, order_id %s); run CALL hvc.refresh()',
                  rel_name, customer, customer_type, ordered_at, amount,
                  coalesce(quote_ident(margin), 'none'), coalesce(quote_ident(order_id), 'none'));
END $$;
COMMENT ON FUNCTION hvc.register_source(regclass, text, text, text, text, text) IS
    'Point hvc at a sales table (table, view or materialized view): customer (hashable type), ordered_at (date/timestamp/timestamptz), amount (numeric/integer/float; negative = refund), optional margin and order_id. Replaces any earlier registration; bad mappings fail before anything changes.';

-- A text overload so a missing table gets hvc's error and hint instead of the
-- bare regclass cast error.  No SET search_path here on purpose: the name is
-- resolved with the caller's search_path, like a regclass literal would be;
-- the body calls only schema-qualified functions.
CREATE FUNCTION hvc.register_source(source text, customer text, ordered_at text, amount text,
                                    margin text DEFAULT NULL, order_id text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    rel pg_catalog.regclass;
BEGIN
    rel := pg_catalog.to_regclass(source);
    IF rel IS NULL THEN
        RAISE EXCEPTION 'hvc: relation "%" does not exist', source
            USING ERRCODE = 'undefined_table',
                  HINT = 'Give the table or view as schema.name (e.g. public.sales), or a name on your search_path; quote mixed-case names: ''public."Sales"''.';
    END IF;
    RETURN hvc.register_source(rel, customer, ordered_at, amount, margin, order_id);
END $$;
COMMENT ON FUNCTION hvc.register_source(text, text, text, text, text, text) IS
    'Same as hvc.register_source(regclass, ...), for a table name given as text (resolved with the caller''s search_path); a missing table gets a clear error and hint.';
-- ---------------------------------------------------------------------------
-- The snapshot: what the last successful refresh computed, and the views BI
-- tools read.  Every view column is a BI-safe scalar (int/bigint,
-- numeric(p<=28,s), float8, text, date, timestamptz, boolean).
-- ---------------------------------------------------------------------------

CREATE TABLE hvc.snapshot_info (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    refresh_id   bigint      NOT NULL,
    as_of        timestamptz NOT NULL,
    refreshed_at timestamptz NOT NULL,
    customers    bigint      NOT NULL,
    model        text        NOT NULL,
    value_basis  text        NOT NULL,
    premium_ticket_from numeric(20,3)
);
COMMENT ON TABLE hvc.snapshot_info IS 'The snapshot currently shown by the hvc views: which refresh built it, its as_of, model and the value basis it ranked by.';
COMMENT ON COLUMN hvc.snapshot_info.singleton IS 'Always true: one current snapshot.';
COMMENT ON COLUMN hvc.snapshot_info.refresh_id IS 'The refresh (hvc.refresh_log) that built the snapshot.';
COMMENT ON COLUMN hvc.snapshot_info.as_of IS 'Observation end of the snapshot.';
COMMENT ON COLUMN hvc.snapshot_info.refreshed_at IS 'When the snapshot was swapped in.';
COMMENT ON COLUMN hvc.snapshot_info.customers IS 'Customers in the snapshot.';
COMMENT ON COLUMN hvc.snapshot_info.model IS 'Purchase model whose predictions the snapshot holds, or none.';
COMMENT ON COLUMN hvc.snapshot_info.value_basis IS 'What value_rank ranked by in this snapshot (predicted_clv falls back to historic_clv without a model).';
COMMENT ON COLUMN hvc.snapshot_info.premium_ticket_from IS '80th percentile (percentile_cont, exact to 3 decimals) of avg_order_value over the snapshot''s customers: tickets at or above it are premium (value_profile).';

CREATE TABLE hvc.pareto_points (
    customer_percentile    integer PRIMARY KEY CHECK (customer_percentile BETWEEN 1 AND 100),
    cumulative_value_share float8
);
COMMENT ON TABLE hvc.pareto_points IS 'Internal store of hvc.pareto_curve, rebuilt by every refresh.';
COMMENT ON COLUMN hvc.pareto_points.customer_percentile IS 'Top p percent of customers by value rank.';
COMMENT ON COLUMN hvc.pareto_points.cumulative_value_share IS 'Share of total value held by them.';

CREATE VIEW hvc.pareto_curve AS
    SELECT customer_percentile, cumulative_value_share
      FROM hvc.pareto_points;
COMMENT ON VIEW hvc.pareto_curve IS 'Pareto (Lorenz) curve: the share of total value held by the top 1..100 percent of customers. NULL shares when total value is not positive.';
COMMENT ON COLUMN hvc.pareto_curve.customer_percentile IS 'Top p percent of customers by value rank (1..100).';
COMMENT ON COLUMN hvc.pareto_curve.cumulative_value_share IS 'Share of total value (hvc.snapshot_info.value_basis) held by those customers.';

-- (Re)create the customer-typed objects.  Called by register_source when the
-- customer type changes; refuses (with PostgreSQL's dependency error) when
-- a user's own view depends on them.
CREATE FUNCTION hvc._create_snapshot_objects(customer_type regtype) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    DROP VIEW IF EXISTS hvc.customers, hvc.tier_summary, hvc.segment_summary,
                        hvc.at_risk, hvc.value_profiles, hvc.value_profile_summary;
    DROP TABLE IF EXISTS hvc.customer_snapshot;
    DELETE FROM hvc.snapshot_info;
    DELETE FROM hvc.pareto_points;

    EXECUTE format($ddl$
    CREATE TABLE hvc.customer_snapshot (
        customer_id             %s NOT NULL,
        first_order_at          timestamptz NOT NULL,
        last_order_at           timestamptz NOT NULL,
        orders                  bigint NOT NULL,
        purchase_days           integer NOT NULL,
        refunds                 bigint NOT NULL,
        revenue                 numeric(20,2) NOT NULL,
        margin                  numeric(20,2),
        avg_order_value         numeric(20,2),
        tenure_days             integer NOT NULL,
        recency_days            integer NOT NULL,
        avg_days_between_orders float8,
        frequency               integer NOT NULL,
        recency                 float8 NOT NULL,
        age                     float8 NOT NULL,
        monetary_value          float8 NOT NULL,
        r_score                 integer NOT NULL,
        f_score                 integer NOT NULL,
        m_score                 integer NOT NULL,
        rfm_cell                text NOT NULL,
        segment                 text NOT NULL,
        historic_clv            numeric(20,2) NOT NULL,
        p_alive                 float8,
        churn_risk              float8,
        predicted_orders        float8,
        expected_order_value    numeric(20,2),
        predicted_clv           numeric(20,2),
        expected_next_order_at  date,
        value                   numeric(20,2),
        value_rank              bigint NOT NULL,
        cumulative_value_share  float8,
        tier                    text NOT NULL,
        tier_rank               integer NOT NULL,
        is_high_value           boolean NOT NULL,
        previous_tier           text,
        tier_since              timestamptz NOT NULL,
        refresh_id              bigint NOT NULL
    )$ddl$, customer_type);
    COMMENT ON TABLE hvc.customer_snapshot IS 'Internal store of hvc.customers; replaced atomically by each refresh. Query hvc.customers instead.';
    -- A plain (not unique) index: keys are unique by construction (GROUP BY),
    -- and a unique index would recheck every new key against its deleted twin
    -- at each refresh, which costs more than the rest of the write.
    CREATE INDEX customer_snapshot_customer ON hvc.customer_snapshot (customer_id);

    CREATE VIEW hvc.customers AS
    SELECT s.customer_id, s.first_order_at, s.last_order_at, s.orders, s.revenue, s.margin,
           s.avg_order_value, s.tenure_days, s.recency_days, s.avg_days_between_orders,
           s.r_score, s.f_score, s.m_score, s.rfm_cell, s.segment, s.historic_clv,
           s.p_alive, s.churn_risk, s.predicted_orders, s.expected_order_value, s.predicted_clv,
           s.expected_next_order_at, s.value_rank, s.cumulative_value_share,
           s.tier, s.tier_rank, s.is_high_value, s.previous_tier, s.tier_since,
           s.purchase_days, s.refunds, s.frequency, s.recency, s.age, s.monetary_value, s.value,
           CASE WHEN s.tenure_days < 90 THEN 'new'
                WHEN s.f_score >= 4 AND s.avg_order_value >= i.premium_ticket_from THEN 'frequent_premium'
                WHEN s.f_score >= 4 THEN 'frequent'
                WHEN s.avg_order_value >= i.premium_ticket_from THEN 'premium'
                ELSE 'occasional' END AS value_profile
      FROM hvc.customer_snapshot s
      LEFT JOIN (SELECT premium_ticket_from FROM hvc.snapshot_info LIMIT 1) i ON true;
    COMMENT ON VIEW hvc.customers IS 'One row per customer with at least one purchase, as of the last successful refresh (hvc.snapshot_info).';
    COMMENT ON COLUMN hvc.customers.customer_id IS 'Customer key, of the source column''s type.';
    COMMENT ON COLUMN hvc.customers.first_order_at IS 'Time of the first purchase (date sources: midnight in hvc.config.timezone).';
    COMMENT ON COLUMN hvc.customers.last_order_at IS 'Time of the last purchase up to as_of.';
    COMMENT ON COLUMN hvc.customers.orders IS 'Orders: distinct order ids of purchase rows when order_id is mapped (a purchase row without an id counts as one order), else purchase rows. Refund rows (amount < 0) are not orders.';
    COMMENT ON COLUMN hvc.customers.revenue IS 'Net revenue: sum of amounts, refunds included (negative).';
    COMMENT ON COLUMN hvc.customers.margin IS 'Net contribution margin (NULL when no margin column is mapped).';
    COMMENT ON COLUMN hvc.customers.avg_order_value IS 'revenue / orders.';
    COMMENT ON COLUMN hvc.customers.tenure_days IS 'Days from the first purchase day to the as_of day.';
    COMMENT ON COLUMN hvc.customers.recency_days IS 'Days from the last purchase day to the as_of day.';
    COMMENT ON COLUMN hvc.customers.avg_days_between_orders IS 'Mean gap in days between distinct purchase days (NULL with a single purchase day).';
    COMMENT ON COLUMN hvc.customers.r_score IS 'Recency score 1-5 (5 = most recent), tie-preserving quintile breaks of the last purchase day.';
    COMMENT ON COLUMN hvc.customers.f_score IS 'Frequency score 1-5, tie-preserving quintile breaks of orders.';
    COMMENT ON COLUMN hvc.customers.m_score IS 'Monetary score 1-5, tie-preserving quintile breaks of revenue.';
    COMMENT ON COLUMN hvc.customers.rfm_cell IS 'The three scores as text, e.g. ''545''.';
    COMMENT ON COLUMN hvc.customers.segment IS 'First matching rule of hvc.rfm_segments by priority, or ''Others''.';
    COMMENT ON COLUMN hvc.customers.historic_clv IS 'Value realised so far: net margin when a margin column is mapped, else net revenue.';
    COMMENT ON COLUMN hvc.customers.p_alive IS 'Probability the customer is still active (purchase model); NULL without a fitted model.';
    COMMENT ON COLUMN hvc.customers.churn_risk IS '1 - p_alive; NULL without a fitted model.';
    COMMENT ON COLUMN hvc.customers.predicted_orders IS 'Expected purchases within hvc.config.horizon_months; NULL without a fitted model.';
    COMMENT ON COLUMN hvc.customers.expected_order_value IS 'Expected value per future purchase (Gamma-Gamma); NULL without a fitted spend model.';
    COMMENT ON COLUMN hvc.customers.predicted_clv IS 'Discounted expected value over the horizon (monthly discounting); NULL without fitted models.';
    COMMENT ON COLUMN hvc.customers.expected_next_order_at IS 'as_of day + median waiting time to the next purchase if still active; NULL without a fitted model.';
    COMMENT ON COLUMN hvc.customers.value_rank IS '1 = most valuable by the snapshot''s value basis (ties broken by customer_id).';
    COMMENT ON COLUMN hvc.customers.cumulative_value_share IS 'Share of total value held by customers ranked at or above this one (NULL when total value is not positive).';
    COMMENT ON COLUMN hvc.customers.tier IS 'Tier from hvc.tier_rules by value_rank.';
    COMMENT ON COLUMN hvc.customers.tier_rank IS 'Rank of the tier (1 = best).';
    COMMENT ON COLUMN hvc.customers.is_high_value IS 'Whether the tier counts as high-value.';
    COMMENT ON COLUMN hvc.customers.previous_tier IS 'Tier held before the current one (NULL if the customer never changed tier).';
    COMMENT ON COLUMN hvc.customers.tier_since IS 'When the customer entered the current tier (the refresh that first put them there).';
    COMMENT ON COLUMN hvc.customers.purchase_days IS 'Distinct purchase days.';
    COMMENT ON COLUMN hvc.customers.refunds IS 'Refund rows (amount < 0).';
    COMMENT ON COLUMN hvc.customers.frequency IS 'BTYD frequency: purchase days - 1 (repeat purchases).';
    COMMENT ON COLUMN hvc.customers.recency IS 'BTYD recency: first to last purchase day, in hvc.config.time_unit.';
    COMMENT ON COLUMN hvc.customers.age IS 'BTYD age (T): first purchase day to as_of day, in hvc.config.time_unit.';
    COMMENT ON COLUMN hvc.customers.monetary_value IS 'Mean net spend of repeat purchase days (revenue less first-day purchases, / frequency); 0 without repeats.';
    COMMENT ON COLUMN hvc.customers.value IS 'The value value_rank ranks by (see hvc.snapshot_info.value_basis).';
    COMMENT ON COLUMN hvc.customers.value_profile IS 'How the customer buys, first matching rule: new (tenure_days < 90), frequent_premium (f_score >= 4 and avg_order_value >= hvc.snapshot_info.premium_ticket_from, the 80th percentile), frequent (f_score >= 4), premium (avg_order_value >= that percentile), occasional (everyone else).';

    CREATE VIEW hvc.tier_summary AS
    WITH t AS (SELECT count(*)::float8 AS n, sum(revenue) AS revenue FROM hvc.customer_snapshot)
    SELECT c.tier,
           c.tier_rank,
           count(*)::bigint                                       AS customers,
           count(*) / max(t.n)                                    AS customer_share,
           sum(c.revenue)::numeric(28,2)                          AS revenue,
           (sum(c.revenue) / nullif(max(t.revenue), 0))::float8   AS revenue_share,
           sum(c.margin)::numeric(28,2)                           AS margin,
           sum(c.predicted_clv)::numeric(28,2)                    AS predicted_clv,
           avg(c.churn_risk)                                      AS avg_churn_risk,
           bool_and(c.is_high_value)                              AS is_high_value
      FROM hvc.customer_snapshot c CROSS JOIN t
     GROUP BY c.tier, c.tier_rank;
    COMMENT ON VIEW hvc.tier_summary IS 'Customers, revenue, margin, predicted CLV and churn risk per tier of the current snapshot.';
    COMMENT ON COLUMN hvc.tier_summary.tier IS 'Tier name.';
    COMMENT ON COLUMN hvc.tier_summary.tier_rank IS 'Tier rank (1 = best).';
    COMMENT ON COLUMN hvc.tier_summary.customers IS 'Customers in the tier.';
    COMMENT ON COLUMN hvc.tier_summary.customer_share IS 'Share of all customers.';
    COMMENT ON COLUMN hvc.tier_summary.revenue IS 'Net revenue of the tier''s customers.';
    COMMENT ON COLUMN hvc.tier_summary.revenue_share IS 'Share of total net revenue (NULL when the total is 0).';
    COMMENT ON COLUMN hvc.tier_summary.margin IS 'Net margin (NULL without a margin column).';
    COMMENT ON COLUMN hvc.tier_summary.predicted_clv IS 'Sum of predicted CLV (NULL without a fitted model).';
    COMMENT ON COLUMN hvc.tier_summary.avg_churn_risk IS 'Mean churn risk (NULL without a fitted model).';
    COMMENT ON COLUMN hvc.tier_summary.is_high_value IS 'Whether the tier counts as high-value.';

    CREATE VIEW hvc.segment_summary AS
    SELECT segment,
           count(*)::bigint                                   AS customers,
           sum(orders)::bigint                                AS orders,
           sum(revenue)::numeric(28,2)                        AS revenue,
           (sum(revenue) / nullif(sum(orders), 0))::numeric(20,2) AS avg_order_value,
           avg(recency_days)::float8                          AS avg_recency_days
      FROM hvc.customer_snapshot
     GROUP BY segment;
    COMMENT ON VIEW hvc.segment_summary IS 'Customers, orders, revenue, average order value and recency per RFM segment of the current snapshot.';
    COMMENT ON COLUMN hvc.segment_summary.segment IS 'RFM segment (hvc.rfm_segments, or Others).';
    COMMENT ON COLUMN hvc.segment_summary.customers IS 'Customers in the segment.';
    COMMENT ON COLUMN hvc.segment_summary.orders IS 'Their orders.';
    COMMENT ON COLUMN hvc.segment_summary.revenue IS 'Their net revenue.';
    COMMENT ON COLUMN hvc.segment_summary.avg_order_value IS 'revenue / orders.';
    COMMENT ON COLUMN hvc.segment_summary.avg_recency_days IS 'Mean days since the last purchase.';

    PERFORM hvc._create_history_objects(customer_type);
    PERFORM hvc._create_operations_objects(customer_type);
END $fn$;
COMMENT ON FUNCTION hvc._create_snapshot_objects(regtype) IS
    'Internal: (re)creates hvc.customer_snapshot and the views over it for a customer key type.';
-- ---------------------------------------------------------------------------
-- Model and per-customer steps of the refresh (src/refresh_fit.c,
-- src/snapshot_builder.c).
-- ---------------------------------------------------------------------------

CREATE TYPE hvc._model_params AS (
    usable                  boolean,  -- purchase model fitted and converged
    spend_usable            boolean,  -- Gamma-Gamma fitted, converged and q > 1
    model                   text,     -- bgnbd | pareto_nbd | none
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
    spend_message           text
);
COMMENT ON TYPE hvc._model_params IS 'Internal: stage totals and the fitted models a refresh predicts with.';

CREATE FUNCTION hvc._fit_models(cfg hvc.config, as_of_day date) RETURNS hvc._model_params
AS 'MODULE_PATHNAME', 'hvc_fit_models' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION hvc._fit_models(hvc.config, date) IS
    'Internal: reads the refresh stage, returns its totals and fits the configured purchase model and Gamma-Gamma.';

CREATE FUNCTION hvc._build_snapshot(customer_proto anyelement, m hvc._model_params, as_of_day date,
                                    timezone text, has_margin boolean, basis text,
                                    segment_of_cell text[], tier_lo bigint[], tier_name text[],
                                    tier_rank integer[], tier_high boolean[], refreshed timestamptz,
                                    refresh_id bigint)
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
    built_by                bigint)
AS 'MODULE_PATHNAME', 'hvc_build_snapshot' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._build_snapshot(anyelement, hvc._model_params, date, text, boolean, text, text[], bigint[], text[], integer[], boolean[], timestamptz, bigint) IS
    'Internal: computes every snapshot column from the refresh stage in memory and returns the rows in customer-key order.';

-- Record the fits of a refresh in hvc.model_fit.
CREATE FUNCTION hvc._record_model_fits(id bigint, m hvc._model_params) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF m.model = 'none' THEN
        RETURN;
    END IF;
    INSERT INTO hvc.model_fit (refresh_id, fitted_at, model, r, alpha, a, b, s, beta,
                               log_likelihood, customers, converged, iterations, message)
    VALUES (id, now(), m.model, m.r, m.alpha, m.a, m.b, m.s, m.beta,
            m.purchase_log_likelihood, m.purchase_customers, coalesce(m.purchase_converged, false),
            m.purchase_iterations, m.purchase_message);
    IF m.spend_customers IS NOT NULL THEN
        INSERT INTO hvc.model_fit (refresh_id, fitted_at, model, p, q, v,
                                   log_likelihood, customers, converged, iterations, message)
        VALUES (id, now(), 'gamma_gamma', m.p, m.q, m.v, m.spend_log_likelihood, m.spend_customers,
                coalesce(m.spend_converged, false), m.spend_iterations, m.spend_message);
    END IF;
END $$;
COMMENT ON FUNCTION hvc._record_model_fits(bigint, hvc._model_params) IS 'Internal: one hvc.model_fit row per model a refresh fitted.';
-- ---------------------------------------------------------------------------
-- CALL hvc.refresh(as_of): read the source once, rebuild the snapshot, swap
-- it in atomically.
--
-- Pipeline (each step a set-based statement over temp tables, so the
-- per-customer state stays in one place and later steps — incremental
-- refresh, Citus partial aggregation, backtests — can reuse the stages):
--   1. stage:    one GROUP BY pass with hvc.customer_state: a serialised,
--                mergeable state per customer                  (_hvc_stage)
--   2. models:   stage totals and model fits, in C             (hvc._fit_models)
--   3. compute:  metrics, scores, segments, predictions, ranks,
--                tiers, in C, in customer-key order, inserted beside the old
--                rows                                          (hvc._build_snapshot)
--   4. history:  tier moves                                    (hvc.tier_history)
--   5. swap:     the old rows are deleted in the same transaction: readers see
--                the old snapshot until commit, the new one after, and are
--                never blocked.
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

-- jit is off: the refresh's statements are dominated by C code (aggregate,
-- fits, builder) that JIT cannot speed up, and compiling costs up to a second.
CREATE FUNCTION hvc._refresh_build(id bigint) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off AS $fn$
DECLARE
    cfg hvc.config;
    src hvc.source;
    run_as_of timestamptz;
    as_of_local timestamp;
    basis text;
    models hvc._model_params;
    msg text;
    segment_of_cell text[];     -- 125 cells: (r-1)*25 + (f-1)*5 + m
    tier_lo bigint[];           -- first value_rank of each tier, by tier_rank
    tier_name text[];
    tier_rank_of integer[];
    tier_high boolean[];
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

    -- 1. One pass over the source: a mergeable state per customer key.
    EXECUTE format($q$
        CREATE TEMP TABLE _hvc_stage ON COMMIT DROP AS
        SELECT %1$I AS customer_id,
               hvc.customer_state(%2$I, %3$I, %4$s, %5$s, %6$L::timestamp, %7$L) AS state
          FROM %8$s
         GROUP BY 1$q$,
        src.customer, src.ordered_at, src.amount,
        coalesce(quote_ident(src.margin), 'NULL::numeric'),
        coalesce(quote_ident(src.order_id), 'NULL::integer'),
        as_of_local, cfg.timezone, src.relation);

    -- 2. Totals and model fits.
    models := hvc._fit_models(cfg, as_of_local::date);
    PERFORM hvc._record_model_fits(id, models);
    IF cfg.model <> 'none' AND NOT (models.usable AND models.spend_usable) THEN
        RAISE NOTICE 'hvc: predictions incomplete: %', models.message
            USING HINT = 'Metrics, RFM and tiers are still refreshed; see hvc.model_fit. Set hvc.config.model = ''none'' to skip the models.';
    END IF;

    basis := cfg.value_basis;
    IF basis = 'predicted_clv' AND NOT (models.usable AND models.spend_usable) THEN
        basis := 'historic_clv';
    ELSIF basis = 'margin' AND src.margin IS NULL THEN
        RAISE NOTICE 'hvc: value_basis is margin but no margin column is mapped; ranking by revenue';
        basis := 'revenue';
    END IF;

    -- 3. Every per-customer column, computed in memory (segments and tiers
    -- from small lookup arrays), in customer-key order.
    SELECT array_agg(c.segment ORDER BY c.r, c.f, c.m) INTO segment_of_cell FROM hvc._segment_cells() c;
    SELECT array_agg(t.lo ORDER BY t.tier_rank), array_agg(t.tier ORDER BY t.tier_rank),
           array_agg(t.tier_rank ORDER BY t.tier_rank), array_agg(t.high_value ORDER BY t.tier_rank)
      INTO tier_lo, tier_name, tier_rank_of, tier_high
      FROM hvc._tier_ranges(models.customers) t;
    -- The new rows go in beside the old ones (the builder has read the old
    -- ones first); refresh_id tells them apart until the old are deleted.
    EXECUTE format($q$
        INSERT INTO hvc.customer_snapshot
        SELECT * FROM hvc._build_snapshot(NULL::%s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)$q$,
        src.customer_type)
    USING models, as_of_local::date, cfg.timezone, src.margin IS NOT NULL, basis,
          segment_of_cell, tier_lo, tier_name, tier_rank_of, tier_high, refreshed, id;

    -- 4. Tier history, from the new rows and the old ones.
    PERFORM hvc._record_tier_changes(id, refreshed);

    -- 5. Swap: readers see the old rows until commit, the new ones after.
    DELETE FROM hvc.customer_snapshot WHERE refresh_id <> id;

    DELETE FROM hvc.pareto_points;
    INSERT INTO hvc.pareto_points (customer_percentile, cumulative_value_share)
    SELECT pct, n.cumulative_value_share
      FROM generate_series(1, 100) pct
      JOIN hvc.customer_snapshot n ON n.value_rank = greatest(1, ceil(pct * models.customers / 100.0)::bigint);

    DELETE FROM hvc.snapshot_info;
    -- percentile_cont interpolates between two 2-decimal tickets with a
    -- fraction of one decimal: the exact value has 3 decimals
    INSERT INTO hvc.snapshot_info (refresh_id, as_of, refreshed_at, customers, model, value_basis,
                                   premium_ticket_from)
    SELECT id, run_as_of, refreshed, models.customers,
           CASE WHEN models.usable THEN cfg.model ELSE 'none' END, basis,
           round((percentile_cont(0.8) WITHIN GROUP (ORDER BY c.avg_order_value))::numeric, 3)
      FROM hvc.customer_snapshot c;

    msg := format('%s customers from %s rows (%s skipped); value basis %s; %s',
                  models.customers, models.rows_read, models.rows_skipped, basis, models.message);
    UPDATE hvc.refresh_log
       SET finished_at = clock_timestamp(), rows_read = models.rows_read,
           rows_skipped = models.rows_skipped, customers = models.customers,
           status = 'succeeded', message = msg
     WHERE refresh_id = id;

    PERFORM hvc._after_refresh(id);
    -- the refresh's duration includes the alerts (the commit follows at once)
    UPDATE hvc.refresh_log SET finished_at = clock_timestamp() WHERE refresh_id = id;
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
    -- a cancel or statement_timeout is recorded too, then re-raised
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                                err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
    END;
    IF err_state IS NULL THEN
        COMMIT;
        RAISE NOTICE 'hvc: refresh succeeded: %', msg;
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
-- ---------------------------------------------------------------------------
-- Tier history: who moved up or down a tier at each refresh.
-- ---------------------------------------------------------------------------

CREATE FUNCTION hvc._create_history_objects(customer_type regtype) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    DROP VIEW IF EXISTS hvc.tier_changes, hvc.tier_migration;
    DROP TABLE IF EXISTS hvc.tier_history;
    EXECUTE format($ddl$
    CREATE TABLE hvc.tier_history (
        customer_id    %s NOT NULL,
        refresh_id     bigint NOT NULL,
        refreshed_at   timestamptz NOT NULL,
        from_tier      text,
        from_tier_rank integer,
        to_tier        text,
        to_tier_rank   integer,
        direction      text NOT NULL CHECK (direction IN ('up', 'down', 'new', 'lapsed'))
    )$ddl$, customer_type);
    COMMENT ON TABLE hvc.tier_history IS 'Internal store of hvc.tier_changes; pruned to the last hvc.config.history_refreshes refreshes.';
    CREATE INDEX tier_history_refresh ON hvc.tier_history (refresh_id);
    CREATE INDEX tier_history_customer ON hvc.tier_history (customer_id, refresh_id);

    CREATE VIEW hvc.tier_changes AS
    SELECT customer_id, refreshed_at, from_tier, to_tier, direction,
           refresh_id, from_tier_rank, to_tier_rank
      FROM hvc.tier_history;
    COMMENT ON VIEW hvc.tier_changes IS 'One row per customer whose tier changed at a refresh (the first refresh sets the baseline and records none); kept for hvc.config.history_refreshes refreshes.';
    COMMENT ON COLUMN hvc.tier_changes.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.tier_changes.refreshed_at IS 'When the refresh that saw the move ran.';
    COMMENT ON COLUMN hvc.tier_changes.from_tier IS 'Tier before (NULL for new customers).';
    COMMENT ON COLUMN hvc.tier_changes.to_tier IS 'Tier after (NULL for lapsed customers).';
    COMMENT ON COLUMN hvc.tier_changes.direction IS 'up (better tier), down (worse tier), new (first seen), lapsed (no longer in the snapshot: no purchase left up to as_of).';
    COMMENT ON COLUMN hvc.tier_changes.refresh_id IS 'The refresh (hvc.refresh_log) that saw the move.';
    COMMENT ON COLUMN hvc.tier_changes.from_tier_rank IS 'Rank of from_tier.';
    COMMENT ON COLUMN hvc.tier_changes.to_tier_rank IS 'Rank of to_tier.';

    CREATE VIEW hvc.tier_migration AS
    SELECT refresh_id, max(refreshed_at) AS refreshed_at,
           coalesce(from_tier, '(none)') AS from_tier, coalesce(to_tier, '(none)') AS to_tier,
           direction, count(*)::bigint AS customers
      FROM hvc.tier_history
     GROUP BY refresh_id, from_tier, to_tier, direction;
    COMMENT ON VIEW hvc.tier_migration IS 'Migration matrix of tier moves per refresh (counts of customers from tier -> to tier), for BI charts.';
    COMMENT ON COLUMN hvc.tier_migration.refresh_id IS 'The refresh that saw the moves.';
    COMMENT ON COLUMN hvc.tier_migration.refreshed_at IS 'When it ran.';
    COMMENT ON COLUMN hvc.tier_migration.from_tier IS 'Tier before, or (none) for new customers.';
    COMMENT ON COLUMN hvc.tier_migration.to_tier IS 'Tier after, or (none) for lapsed customers.';
    COMMENT ON COLUMN hvc.tier_migration.direction IS 'up, down, new or lapsed.';
    COMMENT ON COLUMN hvc.tier_migration.customers IS 'Customers who made that move.';
END $fn$;
COMMENT ON FUNCTION hvc._create_history_objects(regtype) IS
    'Internal: (re)creates the customer-typed tier history table and its views.';

-- Record the tier moves of refresh `id`, whose rows are in the snapshot
-- beside the previous refresh's (refresh_id tells them apart), and prune
-- history beyond hvc.config.history_refreshes.  A new row whose tier_since is
-- this refresh changed tier (previous_tier = the old tier) or is new
-- (previous_tier NULL); old rows without a new twin lapsed.
CREATE FUNCTION hvc._record_tier_changes(id bigint, refreshed timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    moves bigint := 0;
    lapsed bigint := 0;
    old_customers bigint;
    kept bigint;
BEGIN
    SELECT i.customers INTO old_customers FROM hvc.snapshot_info i;
    IF old_customers IS NOT NULL THEN
        -- one scan of the new rows: record the moves, count the rows that
        -- existed before (all but the new customers)
        WITH n AS (
            SELECT c.customer_id, c.tier, c.tier_rank, c.previous_tier,
                   c.tier_since = refreshed AS moved
              FROM hvc.customer_snapshot c
             WHERE c.refresh_id = id
        ), ins AS (
            INSERT INTO hvc.tier_history (customer_id, refresh_id, refreshed_at, from_tier,
                                          from_tier_rank, to_tier, to_tier_rank, direction)
            SELECT n.customer_id, id, refreshed, n.previous_tier, r.tier_rank, n.tier, n.tier_rank,
                   CASE WHEN n.previous_tier IS NULL THEN 'new'
                        WHEN n.tier_rank < r.tier_rank THEN 'up'
                        ELSE 'down' END
              FROM n LEFT JOIN hvc.tier_rules r ON r.tier = n.previous_tier
             WHERE n.moved
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins),
               count(*) FILTER (WHERE NOT (n.moved AND n.previous_tier IS NULL))
          INTO moves, kept
          FROM n;

        IF kept < old_customers THEN
            INSERT INTO hvc.tier_history (customer_id, refresh_id, refreshed_at, from_tier,
                                          from_tier_rank, to_tier, to_tier_rank, direction)
            SELECT o.customer_id, id, refreshed, o.tier, o.tier_rank, NULL, NULL, 'lapsed'
              FROM hvc.customer_snapshot o
             WHERE o.refresh_id <> id
               AND NOT EXISTS (SELECT 1 FROM hvc.customer_snapshot n
                                WHERE n.customer_id = o.customer_id AND n.refresh_id = id);
            GET DIAGNOSTICS lapsed = ROW_COUNT;
        END IF;
    END IF;
    DELETE FROM hvc.tier_history h WHERE h.refresh_id < (SELECT hvc._first_kept_refresh(id));
    RETURN moves + lapsed;
END $$;
COMMENT ON FUNCTION hvc._record_tier_changes(bigint, timestamptz) IS
    'Internal: records tier moves of a refresh in hvc.tier_history and prunes old history.';
-- ---------------------------------------------------------------------------
-- Operations: scheduling with pg_cron, refresh status, the at-risk list,
-- proactive alerts (NOTIFY hvc_alerts + hvc.alerts), the contact-centre
-- priority lookup and customer value profiles.
--
-- hvc does not depend on pg_cron: cron.* is only ever reached through
-- dynamic SQL at call time, after checking that pg_cron is there.
-- ---------------------------------------------------------------------------

-- ===========================================================================
-- 1. pg_cron
-- ===========================================================================

-- What the server says about pg_cron.  SECURITY DEFINER because
-- cron.database_name is a superuser-only setting and the pg_cron launcher is
-- hidden from other roles in pg_stat_activity; it reveals nothing else.
CREATE FUNCTION hvc._cron_server_state(
    OUT package_available boolean,  -- pg_cron's files are installed on the server
    OUT preloaded         boolean,  -- pg_cron is in shared_preload_libraries (its settings exist)
    OUT cron_database     text,     -- cron.database_name: the one database pg_cron works from
    OUT scheduler_running boolean,  -- the pg_cron launcher process is up
    OUT extension_here    boolean)  -- CREATE EXTENSION pg_cron was run in this database
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron'),
           EXISTS (SELECT 1 FROM pg_settings WHERE name = 'cron.database_name'),
           (SELECT setting FROM pg_settings WHERE name = 'cron.database_name'),
           EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'),
           EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')
$$;
COMMENT ON FUNCTION hvc._cron_server_state() IS
    'Internal: whether pg_cron is installed, preloaded, running and created in this database, and its cron.database_name.';

-- Raise the clear error of a server or database without a usable pg_cron.
CREATE FUNCTION hvc._require_cron() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st record;
    db text := current_database();
    recipe text;
BEGIN
    st := hvc._cron_server_state();
    recipe := format('To enable scheduling: apt-get install postgresql-%s-cron; in postgresql.conf set '
                     'shared_preload_libraries = ''pg_cron'' and cron.database_name = ''%s'' (and '
                     'cron.use_background_workers = on, or let pg_cron connect to localhost without a '
                     'password); restart PostgreSQL; then run CREATE EXTENSION pg_cron; in database %s.',
                     current_setting('server_version_num')::integer / 10000, db, quote_ident(db));
    IF NOT st.package_available OR NOT st.preloaded THEN
        RAISE EXCEPTION 'hvc: scheduled refreshes need pg_cron, which is not available in this database'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = CASE WHEN NOT st.package_available
                                THEN 'The pg_cron extension is not installed on this server.'
                                ELSE 'pg_cron is installed but not loaded: it is not in shared_preload_libraries.' END,
                  HINT = recipe;
    END IF;
    IF st.cron_database IS DISTINCT FROM db THEN
        RAISE EXCEPTION 'hvc: pg_cron works from database "%", not from this database "%"', st.cron_database, db
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'pg_cron can only be used from the database named by cron.database_name.',
                  HINT = format('Either set cron.database_name = ''%s'', restart and CREATE EXTENSION pg_cron; here, '
                                'or schedule from database %s: SELECT cron.schedule_in_database(%L, '
                                '''0 3 * * *'', ''CALL hvc.refresh()'', %L);',
                                db, quote_ident(st.cron_database), 'hvc_refresh_' || db, db);
    END IF;
    IF NOT st.extension_here THEN
        RAISE EXCEPTION 'hvc: scheduled refreshes need pg_cron, which is not available in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'pg_cron is loaded but the extension is not created in this database.',
                  HINT = 'Run CREATE EXTENSION pg_cron; (as a superuser) in this database.';
    END IF;
    IF NOT has_schema_privilege('cron', 'USAGE') THEN
        RAISE EXCEPTION 'hvc: permission denied for schema cron'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('As a superuser: GRANT USAGE ON SCHEMA cron TO %I;', current_user);
    END IF;
END $$;
COMMENT ON FUNCTION hvc._require_cron() IS
    'Internal: raises a clear error (feature_not_supported or object_not_in_prerequisite_state, with a HINT on how to enable it) unless pg_cron can be used from this database.';

CREATE FUNCTION hvc.schedule_refresh(schedule text DEFAULT '0 3 * * *') RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    job_name constant text := 'hvc_refresh';
    command  constant text := 'CALL hvc.refresh()';
    db text := current_database();
    old record;
    id bigint;
    err text;
BEGIN
    IF schedule IS NULL OR btrim(schedule) = '' THEN
        RAISE EXCEPTION 'hvc: schedule must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a cron schedule in GMT, e.g. ''0 3 * * *'' (every day at 03:00 GMT).';
    END IF;
    PERFORM hvc._require_cron();
    IF NOT EXISTS (SELECT 1 FROM hvc.source) THEN
        RAISE EXCEPTION 'hvc: no sales table is registered, so a scheduled refresh would fail'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register it first: SELECT hvc.register_source(source => ''public.sales'', customer => ''customer_id'', ordered_at => ''ordered_at'', amount => ''amount'');';
    END IF;

    -- pg_cron replaces a job of the same name and owner, but only its schedule
    -- and command: a paused job or one pointing elsewhere is dropped first.
    EXECUTE 'SELECT j.jobid, j.database, j.active FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user'
       INTO old USING job_name;
    IF old.jobid IS NOT NULL AND (old.database IS DISTINCT FROM db OR NOT old.active) THEN
        EXECUTE 'SELECT cron.unschedule($1::bigint)' USING old.jobid;
    END IF;

    BEGIN
        IF has_function_privilege('cron.schedule_in_database(text,text,text,text,text,boolean)', 'EXECUTE') THEN
            EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)' INTO id
              USING job_name, schedule, command, db;
        ELSE
            -- cron.schedule runs jobs in cron.database_name, which is this database.
            EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO id USING job_name, schedule, command;
        END IF;
    EXCEPTION WHEN invalid_parameter_value THEN
        GET STACKED DIAGNOSTICS err = MESSAGE_TEXT;
        RAISE EXCEPTION 'hvc: pg_cron rejected the schedule "%"', schedule
            USING ERRCODE = 'invalid_parameter_value', DETAIL = err,
                  HINT = 'Use five cron fields in GMT: minute hour day-of-month month day-of-week, e.g. ''0 3 * * *'' (daily 03:00 GMT) or ''30 2 * * 1'' (Mondays 02:30 GMT).';
    END;
    RAISE NOTICE 'hvc: pg_cron job % (id %) runs % in database % as % on schedule "%" (GMT)',
        job_name, id, command, db, current_user, schedule;
    IF NOT (hvc._cron_server_state()).scheduler_running THEN
        RAISE WARNING 'hvc: the pg_cron scheduler is not running, so the job will not run until it is'
            USING HINT = 'Look for pg_cron in the server log; background workers need max_worker_processes headroom.';
    END IF;
    RETURN id;
END $$;
COMMENT ON FUNCTION hvc.schedule_refresh(text) IS
    'Schedule CALL hvc.refresh() in this database with pg_cron as the pg_cron job ''hvc_refresh'' owned by the current role; returns the pg_cron job id. pg_cron 1.4 reads schedules in GMT (''0 3 * * *'' = 03:00 GMT). Scheduling again replaces the job. Without pg_cron: an error whose HINT says how to enable it.';

CREATE FUNCTION hvc.unschedule_refresh() RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    job bigint;
    removed boolean := false;
BEGIN
    PERFORM hvc._require_cron();
    FOR job IN EXECUTE 'SELECT j.jobid FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user'
                 USING 'hvc_refresh'
    LOOP
        EXECUTE 'SELECT cron.unschedule($1::bigint)' USING job;
        removed := true;
    END LOOP;
    IF NOT removed THEN
        RAISE NOTICE 'hvc: no pg_cron job hvc_refresh of role % to remove', current_user;
    END IF;
    RETURN removed;
END $$;
COMMENT ON FUNCTION hvc.unschedule_refresh() IS
    'Remove the pg_cron job ''hvc_refresh'' of the current role; true when a job was removed, false (with a NOTICE) when there was none.';

-- ===========================================================================
-- 2. Refresh status: the job, its runs, the refreshes.
-- ===========================================================================

CREATE FUNCTION hvc.refresh_status(runs integer DEFAULT 10)
RETURNS TABLE (item text, job_name text, schedule text, active boolean, job_database text,
               job_user text, run_id bigint, status text, started_at timestamptz,
               finished_at timestamptz, duration_seconds float8, as_of timestamptz,
               customers bigint, message text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st record;
    j record;
    r record;
    found_job boolean := false;
    job_status text;
    job_message text;
BEGIN
    IF runs IS NULL OR runs < 0 THEN
        RAISE EXCEPTION 'hvc: runs must be 0 or more'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'SELECT * FROM hvc.refresh_status(10);';
    END IF;
    st := hvc._cron_server_state();

    IF st.extension_here AND st.preloaded AND st.cron_database = current_database() THEN
        BEGIN
            FOR j IN EXECUTE
                'SELECT j.jobid, j.jobname::text AS jobname, j.schedule, j.active, j.database,
                        j.username::text AS username, j.command
                   FROM cron.job j
                  WHERE j.jobname = $1 AND j.database = current_database()
                  ORDER BY j.jobid'
                USING 'hvc_refresh'
            LOOP
                found_job := true;
                job_name := j.jobname; schedule := j.schedule; active := j.active;
                job_database := j.database; job_user := j.username;
                item := 'job'; run_id := j.jobid;
                status := CASE WHEN j.active THEN 'scheduled' ELSE 'paused' END;
                started_at := NULL; finished_at := NULL; duration_seconds := NULL;
                as_of := NULL; customers := NULL;
                message := format('runs %s as %s on schedule "%s" (GMT)', j.command, j.username, j.schedule)
                        || CASE WHEN NOT st.scheduler_running
                                THEN '; the pg_cron scheduler is not running, so nothing runs now' ELSE '' END;
                RETURN NEXT;
                FOR r IN EXECUTE
                    'SELECT d.runid, d.status, d.start_time, d.end_time, d.return_message
                       FROM cron.job_run_details d
                      WHERE d.jobid = $1
                      ORDER BY d.runid DESC LIMIT $2'
                    USING j.jobid, runs
                LOOP
                    item := 'cron_run'; run_id := r.runid; status := r.status;
                    started_at := r.start_time; finished_at := r.end_time;
                    duration_seconds := extract(epoch FROM r.end_time - r.start_time)::float8;
                    message := r.return_message;
                    RETURN NEXT;
                END LOOP;
            END LOOP;
            job_status := 'not scheduled';
            job_message := 'no pg_cron job hvc_refresh runs in this database; SELECT hvc.schedule_refresh(''0 3 * * *'');';
        EXCEPTION WHEN undefined_table OR undefined_column OR undefined_function OR insufficient_privilege THEN
            GET STACKED DIAGNOSTICS job_message = MESSAGE_TEXT;
            job_status := 'unknown';
            job_message := format('cannot read pg_cron''s tables: %s', job_message);
        END;
    ELSE
        job_status := 'pg_cron unavailable';
        job_message := CASE
            WHEN NOT st.package_available THEN 'pg_cron is not installed on this server'
            WHEN NOT st.preloaded THEN 'pg_cron is not in shared_preload_libraries'
            WHEN st.cron_database IS DISTINCT FROM current_database()
                THEN format('pg_cron works from database %s (cron.database_name)', st.cron_database)
            ELSE 'CREATE EXTENSION pg_cron has not been run in this database' END
            || '; see SELECT hvc.schedule_refresh() for how to enable it';
    END IF;

    IF NOT found_job THEN
        item := 'job'; job_name := NULL; schedule := NULL; active := NULL;
        job_database := NULL; job_user := NULL; run_id := NULL;
        status := job_status; message := job_message;
        started_at := NULL; finished_at := NULL; duration_seconds := NULL;
        as_of := NULL; customers := NULL;
        RETURN NEXT;
    END IF;

    FOR r IN SELECT l.refresh_id, l.status, l.started_at, l.finished_at, l.as_of, l.customers, l.message
               FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT runs
    LOOP
        item := 'refresh'; run_id := r.refresh_id; status := r.status;
        started_at := r.started_at; finished_at := r.finished_at;
        duration_seconds := extract(epoch FROM r.finished_at - r.started_at)::float8;
        as_of := r.as_of; customers := r.customers; message := r.message;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION hvc.refresh_status(integer) IS
    'Scheduling and refresh status: a ''job'' row for the pg_cron job hvc_refresh of this database (or why there is none), its last runs (''cron_run'', from cron.job_run_details) and the last refreshes (''refresh'', from hvc.refresh_log), at most runs of each. Works without pg_cron (job columns NULL). Runs with its owner''s rights so reporting roles need no access to schema cron.';

CREATE VIEW hvc.refresh_status AS
SELECT s.item, s.job_name, s.schedule, s.active, s.job_database, s.job_user, s.run_id, s.status,
       s.started_at, s.finished_at, s.duration_seconds, s.as_of, s.customers, s.message
  FROM hvc.refresh_status(10) s
 ORDER BY CASE s.item WHEN 'job' THEN 1 WHEN 'cron_run' THEN 2 ELSE 3 END,
          s.started_at DESC NULLS LAST, s.run_id DESC;
COMMENT ON VIEW hvc.refresh_status IS
    'Is the refresh scheduled and does it work: the pg_cron job (item job), its last 10 runs (cron_run) and the last 10 refreshes (refresh). Without pg_cron the job row says why and its job columns are NULL. hvc.refresh_status(n) shows n runs.';
COMMENT ON COLUMN hvc.refresh_status.item IS 'job (the pg_cron job, or why there is none), cron_run (a run of it by pg_cron) or refresh (a row of hvc.refresh_log).';
COMMENT ON COLUMN hvc.refresh_status.job_name IS 'pg_cron job name (hvc_refresh); NULL when not scheduled or without pg_cron.';
COMMENT ON COLUMN hvc.refresh_status.schedule IS 'Cron schedule of the job, in GMT; NULL when not scheduled.';
COMMENT ON COLUMN hvc.refresh_status.active IS 'Whether the job is active; NULL when not scheduled.';
COMMENT ON COLUMN hvc.refresh_status.job_database IS 'Database the job runs in.';
COMMENT ON COLUMN hvc.refresh_status.job_user IS 'Role the job runs as.';
COMMENT ON COLUMN hvc.refresh_status.run_id IS 'job: pg_cron job id; cron_run: cron.job_run_details.runid; refresh: hvc.refresh_log.refresh_id.';
COMMENT ON COLUMN hvc.refresh_status.status IS 'job: scheduled, paused, not scheduled, pg_cron unavailable or unknown; cron_run: pg_cron''s status (starting, running, succeeded, failed, ...); refresh: running, succeeded, failed or interrupted.';
COMMENT ON COLUMN hvc.refresh_status.started_at IS 'When the run or refresh started.';
COMMENT ON COLUMN hvc.refresh_status.finished_at IS 'When it ended (NULL while running).';
COMMENT ON COLUMN hvc.refresh_status.duration_seconds IS 'finished_at - started_at in seconds.';
COMMENT ON COLUMN hvc.refresh_status.as_of IS 'refresh: the observation end it used.';
COMMENT ON COLUMN hvc.refresh_status.customers IS 'refresh: customers in the snapshot it built.';
COMMENT ON COLUMN hvc.refresh_status.message IS 'job: what runs when, or why nothing is scheduled; cron_run: pg_cron''s return message (the error when failed); refresh: the refresh_log message.';

-- ===========================================================================
-- 3. Alerts: what changed for the worse at a refresh.
-- ===========================================================================

CREATE TABLE hvc.alerts (
    alert_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refresh_id bigint      NOT NULL,
    raised_at  timestamptz NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('newly_at_risk', 'tier_drop')),
    customers  bigint      NOT NULL,
    sample_ids text        NOT NULL,
    payload    text        NOT NULL
);
CREATE INDEX alerts_refresh ON hvc.alerts (refresh_id);
SELECT pg_catalog.pg_extension_config_dump('hvc.alerts', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('hvc.alerts', 'alert_id'), '');
COMMENT ON TABLE hvc.alerts IS
    'Alerts raised by refreshes (also sent as NOTIFY hvc_alerts): one row per kind with at least one customer; kept for the last hvc.config.history_refreshes refreshes.';
COMMENT ON COLUMN hvc.alerts.alert_id IS 'Sequential id of the alert.';
COMMENT ON COLUMN hvc.alerts.refresh_id IS 'The refresh (hvc.refresh_log) that raised it.';
COMMENT ON COLUMN hvc.alerts.raised_at IS 'When it was raised.';
COMMENT ON COLUMN hvc.alerts.kind IS 'newly_at_risk: customers in hvc.at_risk now but not at the previous refresh; tier_drop: high-value customers who moved down a tier (hvc.tier_changes, direction down, from a high-value tier).';
COMMENT ON COLUMN hvc.alerts.customers IS 'How many customers.';
COMMENT ON COLUMN hvc.alerts.sample_ids IS 'JSON array of the first 10 customer ids (newly_at_risk: by hvc.at_risk order; tier_drop: by value rank).';
COMMENT ON COLUMN hvc.alerts.payload IS 'The JSON payload of the NOTIFY hvc_alerts sent for the refresh.';

-- Build the alerts of refresh `id` (called after the new snapshot is in
-- place, in the refresh's transaction): NOTIFY, hvc.alerts, and the at-risk
-- set for the next comparison.  Returns the payload.
CREATE FUNCTION hvc._raise_alerts(id bigint) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    run_as_of timestamptz;
    n_at_risk bigint;
    n_new bigint;
    new_ids jsonb[];
    n_drops bigint;
    drop_ids jsonb[];
    samples integer := 10;
    payload text;
    raised timestamptz := clock_timestamp();
BEGIN
    SELECT l.as_of INTO run_as_of FROM hvc.refresh_log l WHERE l.refresh_id = id;

    -- hvc.at_risk is evaluated once: who is on it now, and who is new on it
    CREATE TEMP TABLE _hvc_at_risk ON COMMIT DROP AS
    SELECT a.customer_id, a.at_risk_rank,
           NOT EXISTS (SELECT 1 FROM hvc.at_risk_previous p WHERE p.customer_id = a.customer_id) AS is_new
      FROM hvc.at_risk a;
    SELECT count(*), count(*) FILTER (WHERE r.is_new) INTO n_at_risk, n_new FROM _hvc_at_risk r;
    SELECT coalesce(array_agg(x.j ORDER BY x.rk), '{}') INTO new_ids
      FROM (SELECT to_jsonb(r.customer_id) AS j, r.at_risk_rank AS rk
              FROM _hvc_at_risk r WHERE r.is_new
             ORDER BY r.at_risk_rank LIMIT 10) x;

    SELECT count(*), coalesce((array_agg(to_jsonb(h.customer_id) ORDER BY s.value_rank))[1:10], '{}')
      INTO n_drops, drop_ids
      FROM hvc.tier_history h
      JOIN hvc.customer_snapshot s ON s.customer_id = h.customer_id
     WHERE h.refresh_id = id AND h.direction = 'down'
       AND EXISTS (SELECT 1 FROM hvc.tier_rules t WHERE t.tier = h.from_tier AND t.high_value);

    DELETE FROM hvc.at_risk_previous;
    INSERT INTO hvc.at_risk_previous (customer_id, refresh_id)
    SELECT r.customer_id, id FROM _hvc_at_risk r;
    DROP TABLE _hvc_at_risk;

    -- NOTIFY payloads must stay under 8000 bytes: shorten the id samples
    -- when the keys are very long.
    LOOP
        payload := json_build_object(
            'refresh_id', id,
            'database', current_database(),
            'as_of', to_char(run_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            'at_risk', n_at_risk,
            'newly_at_risk', n_new,
            'newly_at_risk_ids', to_json(new_ids[1:samples]),
            'tier_drops', n_drops,
            'tier_drop_ids', to_json(drop_ids[1:samples]))::text;
        EXIT WHEN octet_length(payload) < 8000 OR samples = 0;
        samples := samples - 1;
    END LOOP;

    IF n_new > 0 THEN
        INSERT INTO hvc.alerts (refresh_id, raised_at, kind, customers, sample_ids, payload)
        VALUES (id, raised, 'newly_at_risk', n_new, to_json(new_ids)::text, payload);
    END IF;
    IF n_drops > 0 THEN
        INSERT INTO hvc.alerts (refresh_id, raised_at, kind, customers, sample_ids, payload)
        VALUES (id, raised, 'tier_drop', n_drops, to_json(drop_ids)::text, payload);
    END IF;

    DELETE FROM hvc.alerts al WHERE al.refresh_id < (SELECT hvc._first_kept_refresh(id));

    PERFORM pg_notify('hvc_alerts', payload);
    RETURN payload;
END $$;
COMMENT ON FUNCTION hvc._raise_alerts(bigint) IS
    'Internal: computes the alerts of a refresh, records them in hvc.alerts (pruned to hvc.config.history_refreshes refreshes), remembers the at-risk set and sends NOTIFY hvc_alerts; returns the payload.';

-- Called by hvc._refresh_build after each successful refresh.  A failure to
-- alert must not throw away a good snapshot: it becomes a WARNING and a note
-- in hvc.refresh_log.
CREATE FUNCTION hvc._after_refresh(id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    err_state text;
    err_msg text;
BEGIN
    PERFORM hvc._raise_alerts(id);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT;
    RAISE WARNING 'hvc: refresh % succeeded but its alerts were not raised: %', id, err_msg
        USING HINT = 'The snapshot is up to date; check hvc.at_risk and hvc.tier_changes by hand.';
    UPDATE hvc.refresh_log
       SET message = message || format('; alerts not raised: %s (SQLSTATE %s)', err_msg, err_state)
     WHERE refresh_id = id;
END $$;
COMMENT ON FUNCTION hvc._after_refresh(bigint) IS
    'Internal: runs after each successful refresh, in its transaction: raises the alerts (NOTIFY hvc_alerts, hvc.alerts).';

-- ===========================================================================
-- 4. Contact-centre priority.
-- ===========================================================================

-- The documented formula, in one place.  Three factors in [0, 1]:
--   value  = value percentile = 1 - (value_rank - 1) / customers  (1 = most valuable)
--   churn  = how close the customer is to the at-risk line of hvc.at_risk
--            (1 = on or past it):
--            with a model   min(churn_risk / at_risk_threshold, 1)
--            without one    min(recency_days / (2 x max(avg_days_between_orders, 15)), 1)
--                           (hvc.at_risk lists customers past twice their usual
--                           gap and at least 30 days); 0 with a single purchase day
--   growth = min(ratio, 2) / 2, ratio = predicted spending rate / past spending
--            rate = (predicted_clv / horizon_months) / (revenue / tenure months,
--            tenure counted as at least one month of 30.4375 days); 0.5 (steady)
--            without a prediction; 1 when past revenue is not positive but
--            predicted_clv is
-- Churn and growth count in proportion to value, so score <= value:
--   value_part  = 0.55 x value
--   churn_part  = 0.35 x churn  x value
--   growth_part = 0.10 x growth x value
--   score       = value_part + churn_part + growth_part   (each rounded to 4 decimals)
--   priority    = 1 if score >= 0.75, 2 if >= 0.6, 3 if >= 0.45, 4 if >= 0.3, else 5
CREATE FUNCTION hvc._priority_score(value_rank bigint, customers bigint, churn_risk float8,
                                    at_risk_threshold float8, recency_days integer,
                                    avg_days_between_orders float8, predicted_clv numeric,
                                    revenue numeric, tenure_days integer, horizon_months integer,
                                    OUT priority integer, OUT score float8, OUT value_part float8,
                                    OUT churn_part float8, OUT growth_part float8)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    value_f float8;
    churn_f float8;
    growth_f float8;
    v numeric;
    c numeric;
    g numeric;
BEGIN
    value_f := greatest(1 - (value_rank - 1)::float8 / greatest(customers, 1), 0);
    churn_f := CASE WHEN churn_risk IS NOT NULL
                    THEN CASE WHEN at_risk_threshold > 0
                              THEN least(greatest(churn_risk / at_risk_threshold, 0), 1)
                              ELSE 1 END
                    WHEN avg_days_between_orders > 0
                    THEN least(greatest(recency_days / (2 * greatest(avg_days_between_orders, 15)), 0), 1)
                    ELSE 0 END;
    growth_f := CASE WHEN predicted_clv IS NULL THEN 0.5
                     WHEN revenue <= 0 THEN CASE WHEN predicted_clv > 0 THEN 1 ELSE 0.5 END
                     ELSE least(greatest((predicted_clv::float8 / greatest(horizon_months, 1))
                                         / (revenue::float8 / (greatest(tenure_days, 30.4375) / 30.4375)), 0), 2) / 2
                END;
    v := round((0.55 * value_f)::numeric, 4);
    c := round((0.35 * churn_f * value_f)::numeric, 4);
    g := round((0.10 * growth_f * value_f)::numeric, 4);
    priority := CASE WHEN v + c + g >= 0.75 THEN 1
                     WHEN v + c + g >= 0.6 THEN 2
                     WHEN v + c + g >= 0.45 THEN 3
                     WHEN v + c + g >= 0.3 THEN 4
                     ELSE 5 END;
    score := (v + c + g)::float8;
    value_part := v::float8;
    churn_part := c::float8;
    growth_part := g::float8;
END $$;
COMMENT ON FUNCTION hvc._priority_score(bigint, bigint, float8, float8, integer, float8, numeric, numeric, integer, integer) IS
    'Internal: the hvc.priority formula (see hvc.priority).';

CREATE FUNCTION hvc._priority_lookup(customer anyelement)
RETURNS TABLE (customer_id anyelement, tier text, tier_rank integer, priority integer, score float8,
               value_part float8, churn_part float8, growth_part float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_type regtype;
BEGIN
    SELECT a.atttypid::regtype INTO key_type
      FROM pg_attribute a
     WHERE a.attrelid = to_regclass('hvc.customer_snapshot') AND a.attname = 'customer_id'
       AND NOT a.attisdropped;
    IF key_type IS NULL THEN
        RAISE EXCEPTION 'hvc: no sales table is registered'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'SELECT hvc.register_source(...); then CALL hvc.refresh();';
    END IF;
    IF customer IS NULL THEN
        RETURN;
    END IF;
    IF pg_typeof(customer) = key_type OR pg_typeof(customer) = hvc._base_type(key_type) THEN
        -- Same type as the key: a cached plan on the customer_id index.
        RETURN QUERY
        SELECT customer, s.tier, s.tier_rank, p.priority, p.score, p.value_part, p.churn_part, p.growth_part
          FROM hvc.customer_snapshot s
         CROSS JOIN (SELECT * FROM hvc.snapshot_info LIMIT 1) i
         CROSS JOIN (SELECT * FROM hvc.config LIMIT 1) c
         CROSS JOIN LATERAL hvc._priority_score(s.value_rank, i.customers, s.churn_risk, c.at_risk_threshold,
                                                s.recency_days, s.avg_days_between_orders, s.predicted_clv,
                                                s.revenue, s.tenure_days, c.horizon_months) p
         WHERE s.customer_id = customer;
    ELSE
        -- Another type (e.g. a text literal for a uuid key): cast it to the key type.
        BEGIN
            RETURN QUERY EXECUTE format($q$
            SELECT $1, s.tier, s.tier_rank, p.priority, p.score, p.value_part, p.churn_part, p.growth_part
              FROM hvc.customer_snapshot s
             CROSS JOIN (SELECT * FROM hvc.snapshot_info LIMIT 1) i
             CROSS JOIN (SELECT * FROM hvc.config LIMIT 1) c
             CROSS JOIN LATERAL hvc._priority_score(s.value_rank, i.customers, s.churn_risk, c.at_risk_threshold,
                                                    s.recency_days, s.avg_days_between_orders, s.predicted_clv,
                                                    s.revenue, s.tenure_days, c.horizon_months) p
             WHERE s.customer_id = $1::%s$q$, key_type)
            USING customer;
        EXCEPTION WHEN data_exception THEN
            -- Not a valid key of that type (e.g. 'abc' for an integer key): unknown customer.
            RETURN;
        WHEN cannot_coerce OR undefined_function THEN
            RAISE EXCEPTION 'hvc: a customer key of type % cannot be compared with the customer keys, which are %',
                            pg_typeof(customer), key_type
                USING ERRCODE = 'datatype_mismatch',
                      HINT = format('Pass the key as %s, e.g. hvc.priority(''...''::%s).', key_type, key_type);
        END;
    END IF;
END $$;
COMMENT ON FUNCTION hvc._priority_lookup(anyelement) IS 'Internal: body of hvc.priority().';

CREATE FUNCTION hvc.priority(customer anyelement)
RETURNS TABLE (customer_id anyelement, tier text, tier_rank integer, priority integer, score float8,
               value_part float8, churn_part float8, growth_part float8)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM hvc._priority_lookup(customer);
END $$;
COMMENT ON FUNCTION hvc.priority(anyelement) IS
    'Contact-centre routing: one row for a customer of the current snapshot (an index lookup), no row for an unknown customer. value = 1 - (value_rank - 1) / customers; churn = min(churn_risk / hvc.config.at_risk_threshold, 1), or without a model min(recency_days / (2 x max(avg_days_between_orders, 15)), 1) (1 = on the at-risk line of hvc.at_risk; 0 with a single purchase day); growth = min(ratio, 2) / 2, ratio = (predicted_clv / horizon_months) / (revenue per tenure month, at least one month), 0.5 without a prediction. value_part = 0.55 x value, churn_part = 0.35 x churn x value, growth_part = 0.10 x growth x value (4 decimals), score = their sum (0..1, never above value). priority = 1 (most urgent) if score >= 0.75, 2 if >= 0.6, 3 if >= 0.45, 4 if >= 0.3, else 5. A key of another type than the customer column is cast to it.';

CREATE FUNCTION hvc.priority(customer text)
RETURNS TABLE (customer_id text, tier text, tier_rank integer, priority integer, score float8,
               value_part float8, churn_part float8, growth_part float8)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM hvc._priority_lookup(customer);
END $$;
COMMENT ON FUNCTION hvc.priority(text) IS
    'hvc.priority() for a key written as a quoted literal or text, e.g. hvc.priority(''C042''); cast to the customer key type when it is not text.';

-- ===========================================================================
-- 5. Customer-typed objects: at-risk list, its memory, value profiles.
-- ===========================================================================

-- Called at the end of hvc._create_snapshot_objects (which drops the views
-- first, together with its own).
CREATE FUNCTION hvc._create_operations_objects(customer_type regtype) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    DROP VIEW IF EXISTS hvc.value_profile_summary, hvc.value_profiles, hvc.at_risk;
    DROP TABLE IF EXISTS hvc.at_risk_previous;

    EXECUTE format($ddl$
    CREATE TABLE hvc.at_risk_previous (
        customer_id %s PRIMARY KEY,
        refresh_id  bigint NOT NULL
    )$ddl$, customer_type);
    COMMENT ON TABLE hvc.at_risk_previous IS
        'Internal: the customers in hvc.at_risk at the last refresh, to tell who is newly at risk (alerts).';
    COMMENT ON COLUMN hvc.at_risk_previous.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.at_risk_previous.refresh_id IS 'The refresh at which the customer was in hvc.at_risk.';

    CREATE VIEW hvc.at_risk AS
    WITH judged AS (
        SELECT s.*, c.at_risk_threshold,
               CASE WHEN s.churn_risk IS NOT NULL THEN 'churn_risk' ELSE 'overdue' END AS risk_basis
          FROM hvc.customer_snapshot s CROSS JOIN (SELECT * FROM hvc.config LIMIT 1) c
         WHERE s.is_high_value
           AND CASE WHEN s.churn_risk IS NOT NULL THEN s.churn_risk >= c.at_risk_threshold
                    ELSE s.avg_days_between_orders IS NOT NULL
                         AND s.recency_days >= 30
                         AND s.recency_days > 2 * s.avg_days_between_orders END
    )
    SELECT row_number() OVER (ORDER BY j.value DESC NULLS LAST, j.value_rank) AS at_risk_rank,
           j.customer_id, j.tier, j.tier_rank, j.value_rank,
           j.value AS value_at_stake, j.predicted_clv, j.historic_clv, j.revenue,
           j.churn_risk, j.at_risk_threshold,
           j.recency_days, j.avg_days_between_orders,
           j.recency_days / j.avg_days_between_orders AS overdue_ratio,
           j.last_order_at, j.orders, j.segment, j.risk_basis,
           CASE j.risk_basis
               WHEN 'churn_risk' THEN
                   format('churn risk %s %% (threshold %s %%), last order %s days ago',
                          round((j.churn_risk * 100)::numeric), trim_scale(round((j.at_risk_threshold * 100)::numeric, 1)),
                          j.recency_days)
               ELSE format('no order for %s days, usually every %s days',
                           j.recency_days, round(j.avg_days_between_orders::numeric))
           END AS reason
      FROM judged j
     ORDER BY 1;
    COMMENT ON VIEW hvc.at_risk IS
        'High-value customers who may be slipping away, most valuable first: churn_risk >= hvc.config.at_risk_threshold when a model is fitted; without one (churn_risk NULL), overdue against their own rhythm: recency_days >= 30 and more than twice avg_days_between_orders (customers with a single purchase day are not judged).';
    COMMENT ON COLUMN hvc.at_risk.at_risk_rank IS '1 = most value at stake.';
    COMMENT ON COLUMN hvc.at_risk.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.at_risk.tier IS 'Current tier (a high-value one).';
    COMMENT ON COLUMN hvc.at_risk.tier_rank IS 'Rank of the tier (1 = best).';
    COMMENT ON COLUMN hvc.at_risk.value_rank IS 'Value rank among all customers (1 = most valuable).';
    COMMENT ON COLUMN hvc.at_risk.value_at_stake IS 'The value the customer is ranked by (hvc.customers.value: predicted_clv by default, historic_clv without a model); the list is ordered by it.';
    COMMENT ON COLUMN hvc.at_risk.predicted_clv IS 'Predicted CLV over the horizon (NULL without fitted models).';
    COMMENT ON COLUMN hvc.at_risk.historic_clv IS 'Value realised so far (margin when mapped, else revenue).';
    COMMENT ON COLUMN hvc.at_risk.revenue IS 'Net revenue so far.';
    COMMENT ON COLUMN hvc.at_risk.churn_risk IS '1 - p_alive (NULL without a fitted model).';
    COMMENT ON COLUMN hvc.at_risk.at_risk_threshold IS 'hvc.config.at_risk_threshold applied to churn_risk.';
    COMMENT ON COLUMN hvc.at_risk.recency_days IS 'Days since the last purchase day.';
    COMMENT ON COLUMN hvc.at_risk.avg_days_between_orders IS 'The customer''s usual gap between purchase days.';
    COMMENT ON COLUMN hvc.at_risk.overdue_ratio IS 'recency_days / avg_days_between_orders (above 2 = overdue).';
    COMMENT ON COLUMN hvc.at_risk.last_order_at IS 'Time of the last purchase.';
    COMMENT ON COLUMN hvc.at_risk.orders IS 'Orders so far.';
    COMMENT ON COLUMN hvc.at_risk.segment IS 'RFM segment.';
    COMMENT ON COLUMN hvc.at_risk.risk_basis IS 'churn_risk (model) or overdue (no model: recency against the usual gap).';
    COMMENT ON COLUMN hvc.at_risk.reason IS 'Why, in plain words, e.g. ''churn risk 72 % (threshold 50 %), last order 40 days ago'' or ''no order for 95 days, usually every 30 days''.';

    CREATE VIEW hvc.value_profiles AS
    SELECT c.customer_id, c.value_profile,
           c.orders, c.f_score, c.avg_order_value, i.premium_ticket_from,
           c.revenue, c.tenure_days, c.recency_days, c.tier, c.tier_rank, c.is_high_value,
           c.value_rank, c.predicted_clv, c.churn_risk
      FROM hvc.customers c
      LEFT JOIN (SELECT premium_ticket_from FROM hvc.snapshot_info LIMIT 1) i ON true;
    COMMENT ON VIEW hvc.value_profiles IS
        'hvc.customers.value_profile with the facts its rule uses. How each customer buys, first matching rule: new (first purchase less than 90 days before as_of: tenure_days < 90), frequent_premium (f_score >= 4 and avg_order_value in the top quintile, i.e. >= its 80th percentile over all customers), frequent (f_score >= 4), premium (top-quintile avg_order_value), occasional (everyone else).';
    COMMENT ON COLUMN hvc.value_profiles.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.value_profiles.value_profile IS 'new, frequent_premium, frequent, premium or occasional (see the view comment).';
    COMMENT ON COLUMN hvc.value_profiles.orders IS 'Orders so far.';
    COMMENT ON COLUMN hvc.value_profiles.f_score IS 'RFM frequency score 1-5 (4 or 5 = frequent).';
    COMMENT ON COLUMN hvc.value_profiles.avg_order_value IS 'revenue / orders (the ticket).';
    COMMENT ON COLUMN hvc.value_profiles.premium_ticket_from IS '80th percentile (percentile_cont, exact to 3 decimals) of avg_order_value over all customers: tickets at or above it are premium.';
    COMMENT ON COLUMN hvc.value_profiles.revenue IS 'Net revenue so far.';
    COMMENT ON COLUMN hvc.value_profiles.tenure_days IS 'Days since the first purchase day (below 90 = new).';
    COMMENT ON COLUMN hvc.value_profiles.recency_days IS 'Days since the last purchase day.';
    COMMENT ON COLUMN hvc.value_profiles.tier IS 'Tier.';
    COMMENT ON COLUMN hvc.value_profiles.tier_rank IS 'Rank of the tier (1 = best).';
    COMMENT ON COLUMN hvc.value_profiles.is_high_value IS 'Whether the tier counts as high-value.';
    COMMENT ON COLUMN hvc.value_profiles.value_rank IS 'Value rank (1 = most valuable).';
    COMMENT ON COLUMN hvc.value_profiles.predicted_clv IS 'Predicted CLV (NULL without fitted models).';
    COMMENT ON COLUMN hvc.value_profiles.churn_risk IS 'Churn risk (NULL without a fitted model).';

    CREATE VIEW hvc.value_profile_summary AS
    WITH profiles (value_profile, profile_order, rule) AS (
        VALUES ('frequent_premium', 1, 'f_score >= 4 and top-quintile avg_order_value'),
               ('frequent',         2, 'f_score >= 4'),
               ('premium',          3, 'top-quintile avg_order_value'),
               ('new',              4, 'first purchase less than 90 days ago'),
               ('occasional',       5, 'everyone else')
    ), agg AS (
        SELECT v.value_profile,
               count(*) AS customers,
               sum(v.revenue) AS revenue,
               sum(v.orders) AS orders,
               count(*) FILTER (WHERE v.is_high_value) AS high_value_customers,
               sum(v.predicted_clv) AS predicted_clv,
               avg(v.churn_risk) AS avg_churn_risk
          FROM hvc.value_profiles v
         GROUP BY v.value_profile
    ), total AS (
        SELECT sum(a.customers) AS customers, sum(a.revenue) AS revenue FROM agg a
    )
    SELECT p.value_profile,
           p.profile_order,
           coalesce(a.customers, 0)::bigint                                   AS customers,
           (coalesce(a.customers, 0) / nullif(t.customers, 0))::float8         AS customer_share,
           coalesce(a.revenue, 0)::numeric(28,2)                              AS revenue,
           (a.revenue / nullif(t.revenue, 0))::float8                         AS revenue_share,
           coalesce(a.orders, 0)::bigint                                      AS orders,
           (a.revenue / nullif(a.orders, 0))::numeric(20,2)                   AS avg_order_value,
           coalesce(a.high_value_customers, 0)::bigint                        AS high_value_customers,
           a.predicted_clv::numeric(28,2)                                     AS predicted_clv,
           a.avg_churn_risk::float8                                           AS avg_churn_risk,
           p.rule
      FROM profiles p
      LEFT JOIN agg a ON a.value_profile = p.value_profile
     CROSS JOIN total t
     ORDER BY p.profile_order;
    COMMENT ON VIEW hvc.value_profile_summary IS 'Customers, revenue and ticket per value profile (hvc.value_profiles); every profile is listed, with 0 customers when empty.';
    COMMENT ON COLUMN hvc.value_profile_summary.value_profile IS 'frequent_premium, frequent, premium, new or occasional.';
    COMMENT ON COLUMN hvc.value_profile_summary.profile_order IS 'Display order (1 = frequent_premium ... 5 = occasional).';
    COMMENT ON COLUMN hvc.value_profile_summary.customers IS 'Customers with the profile.';
    COMMENT ON COLUMN hvc.value_profile_summary.customer_share IS 'Share of all customers (NULL without customers).';
    COMMENT ON COLUMN hvc.value_profile_summary.revenue IS 'Their net revenue.';
    COMMENT ON COLUMN hvc.value_profile_summary.revenue_share IS 'Share of total net revenue (NULL when the total is 0).';
    COMMENT ON COLUMN hvc.value_profile_summary.orders IS 'Their orders.';
    COMMENT ON COLUMN hvc.value_profile_summary.avg_order_value IS 'revenue / orders.';
    COMMENT ON COLUMN hvc.value_profile_summary.high_value_customers IS 'How many of them are high-value.';
    COMMENT ON COLUMN hvc.value_profile_summary.predicted_clv IS 'Sum of predicted CLV (NULL without fitted models).';
    COMMENT ON COLUMN hvc.value_profile_summary.avg_churn_risk IS 'Mean churn risk (NULL without a fitted model).';
    COMMENT ON COLUMN hvc.value_profile_summary.rule IS 'The rule of the profile in words.';
END $fn$;
COMMENT ON FUNCTION hvc._create_operations_objects(regtype) IS
    'Internal: (re)creates the customer-typed operations objects: hvc.at_risk, hvc.at_risk_previous, hvc.value_profiles and hvc.value_profile_summary.';
