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
    message        text,
    edge           text,
    r_se           float8,
    alpha_se       float8,
    a_se           float8,
    b_se           float8,
    s_se           float8,
    beta_se        float8,
    p_se           float8,
    q_se           float8,
    v_se           float8,
    time_unit      text,
    source         text
);
SELECT pg_catalog.pg_extension_config_dump('hvc.model_fit', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('hvc.model_fit', 'fit_id'), '');
COMMENT ON TABLE hvc.model_fit IS 'One row per model fitted by a refresh: parameters (NULL where not applicable), log-likelihood and convergence.';
COMMENT ON COLUMN hvc.model_fit.fit_id IS 'Sequential id of the fit.';
COMMENT ON COLUMN hvc.model_fit.refresh_id IS 'The refresh (hvc.refresh_log) that fitted it.';
COMMENT ON COLUMN hvc.model_fit.fitted_at IS 'When the model was fitted.';
COMMENT ON COLUMN hvc.model_fit.model IS 'bgnbd, pareto_nbd, mbgnbd or gamma_gamma.';
COMMENT ON COLUMN hvc.model_fit.r IS 'BG/NBD, MBG/NBD and Pareto/NBD: shape of the purchase-rate Gamma.';
COMMENT ON COLUMN hvc.model_fit.alpha IS 'BG/NBD, MBG/NBD and Pareto/NBD: scale of the purchase-rate Gamma (in hvc.config.time_unit).';
COMMENT ON COLUMN hvc.model_fit.a IS 'BG/NBD and MBG/NBD: Beta dropout parameter a.';
COMMENT ON COLUMN hvc.model_fit.b IS 'BG/NBD and MBG/NBD: Beta dropout parameter b.';
COMMENT ON COLUMN hvc.model_fit.s IS 'Pareto/NBD: shape of the dropout-rate Gamma.';
COMMENT ON COLUMN hvc.model_fit.beta IS 'Pareto/NBD: scale of the dropout-rate Gamma.';
COMMENT ON COLUMN hvc.model_fit.p IS 'Gamma-Gamma: shape of spend per transaction.';
COMMENT ON COLUMN hvc.model_fit.q IS 'Gamma-Gamma: shape of the customers'' scale distribution.';
COMMENT ON COLUMN hvc.model_fit.v IS 'Gamma-Gamma: scale of the customers'' scale distribution (gamma in the papers).';
COMMENT ON COLUMN hvc.model_fit.log_likelihood IS 'Log-likelihood at the fitted parameters, on the original time scale.';
COMMENT ON COLUMN hvc.model_fit.customers IS 'Customers the model was fitted on.';
COMMENT ON COLUMN hvc.model_fit.converged IS 'Whether the fit converged: the relative gradient at the point found is below the tolerance, whatever stopped the optimiser (also at an edge, see edge); predictions are only filled when it did.';
COMMENT ON COLUMN hvc.model_fit.iterations IS 'Optimiser iterations.';
COMMENT ON COLUMN hvc.model_fit.message IS 'Optimiser report, or why the model was not fitted or not used.';
COMMENT ON COLUMN hvc.model_fit.edge IS 'NULL for an optimum inside the parameter space; else which parameter went to which edge, e.g. ''a->0'' (BG/NBD) or ''s->0'' (Pareto/NBD): nobody drops out, the parameter is stored as 0, the one it makes unidentifiable (b, beta) as NULL, and predictions use the limiting NBD model.';
COMMENT ON COLUMN hvc.model_fit.r_se IS 'Standard error of r (inverse Hessian of the log-likelihood at the optimum); NULL when not available.';
COMMENT ON COLUMN hvc.model_fit.alpha_se IS 'Standard error of alpha, in hvc.config.time_unit.';
COMMENT ON COLUMN hvc.model_fit.a_se IS 'Standard error of a; NULL at an edge.';
COMMENT ON COLUMN hvc.model_fit.b_se IS 'Standard error of b; NULL at an edge.';
COMMENT ON COLUMN hvc.model_fit.s_se IS 'Standard error of s; NULL at an edge.';
COMMENT ON COLUMN hvc.model_fit.beta_se IS 'Standard error of beta; NULL at an edge.';
COMMENT ON COLUMN hvc.model_fit.p_se IS 'Standard error of p (Gamma-Gamma).';
COMMENT ON COLUMN hvc.model_fit.q_se IS 'Standard error of q (Gamma-Gamma); NULL at an edge.';
COMMENT ON COLUMN hvc.model_fit.v_se IS 'Standard error of v (Gamma-Gamma); NULL at an edge.';
COMMENT ON COLUMN hvc.model_fit.time_unit IS 'hvc.config.time_unit of the data the model was fitted on (NULL for fits of hvc 0.1.0).';
COMMENT ON COLUMN hvc.model_fit.source IS 'hvc.source.relation the model was fitted on (NULL for fits of hvc 0.1.0); a refresh whose fit fails predicts with the last good fit of the same source and time unit.';

-- History (tier moves, alerts) is kept for the last hvc.config.history_refreshes
-- successful refreshes, the running one included: the first refresh_id kept.
CREATE OR REPLACE FUNCTION hvc._first_kept_refresh(current_refresh bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT min(x.refresh_id)
      FROM (SELECT l.refresh_id FROM hvc.refresh_log l
             WHERE l.status = 'succeeded' OR l.refresh_id = current_refresh
             ORDER BY l.refresh_id DESC
             LIMIT (SELECT c.history_refreshes FROM hvc.config c)) x
$$;
COMMENT ON FUNCTION hvc._first_kept_refresh(bigint) IS
    'Internal: the oldest refresh whose history (tier moves, alerts) is kept under hvc.config.history_refreshes.';
