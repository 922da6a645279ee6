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
COMMENT ON COLUMN hvc.model_fit.converged IS 'Whether the optimiser converged; predictions are only filled when it did.';
COMMENT ON COLUMN hvc.model_fit.iterations IS 'Optimiser iterations.';
COMMENT ON COLUMN hvc.model_fit.message IS 'Optimiser report, or why the model was not fitted or not used.';

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
