-- The snapshot on the Citus workers (sql/parts/97_citus_snapshot.sql): the
-- row type of what each worker computes per customer.
CREATE TYPE hvc._citus_score AS (
    value_cents bigint,
    first_day   integer,
    last_day    integer,
    orders      bigint,
    frequency   integer,
    revenue     bigint,
    churn_risk  float8,
    prediction  float8[]
);
