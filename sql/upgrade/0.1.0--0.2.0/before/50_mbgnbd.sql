-- MBG/NBD (sql/parts/41_mbgnbd.sql): its model composite, and 'mbgnbd' as a
-- value of hvc.config.model.
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

ALTER TABLE hvc.config DROP CONSTRAINT config_model_check;
ALTER TABLE hvc.config ADD CONSTRAINT config_model_check
    CHECK (model IN ('bgnbd', 'pareto_nbd', 'mbgnbd', 'none'));
