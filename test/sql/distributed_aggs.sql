-- The bytea-state fit aggregates (hvc.*_fit_distributed, for Citus) give
-- exactly the internal-state aggregates' results, serially, in parallel
-- plans (partial states passed flat through Gather) and on no rows.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
RESET client_min_messages;
-- 3000 customers simulated from BG/NBD (r = 1, alpha = 5, a = 1, b = 3;
-- weeks) with a deterministic hash as the random source (as in the models
-- test), and a spend per repeat customer.
CREATE FUNCTION pg_temp.d_u(i int, k int, j int) RETURNS float8 IMMUTABLE LANGUAGE sql AS
$$ SELECT (hashint8(i::bigint * 4096 + k * 8 + j)::float8 + 2147483648.5) / 4294967296.0 $$;
CREATE TEMP TABLE s AS
WITH RECURSIVE cust AS (
    SELECT i, (7 + (hashint4(i) & 1023) % 358) / 7.0::float8 AS age,
           -ln(pg_temp.d_u(i, 0, 1)) / 5.0 AS lam,
           1 - (1 - pg_temp.d_u(i, 0, 2)) ^ (1 / 3.0) AS p
      FROM generate_series(1, 3000) i),
purchases AS (
    SELECT i, age, lam, p, 0 AS k, 0.0::float8 AS t FROM cust
    UNION ALL
    SELECT i, age, lam, p, k + 1, t - ln(pg_temp.d_u(i, k + 1, 3)) / lam
      FROM purchases
     WHERE t - ln(pg_temp.d_u(i, k + 1, 3)) / lam <= age
       AND (k = 0 OR pg_temp.d_u(i, k, 4) >= p))
SELECT DISTINCT ON (i) k::bigint AS f, round(t * 7) / 7.0::float8 AS r, age AS a,
       CASE WHEN k = 0 THEN 0 ELSE round((20 + 60 * pg_temp.d_u(i, 0, 5))::numeric, 2)::float8 END AS m
  FROM purchases ORDER BY i, k DESC;
SELECT hvc.bgnbd_fit(f, r, a)::text = hvc.bgnbd_fit_distributed(f, r, a)::text AS same_bgnbd,
       hvc.pareto_nbd_fit(f, r, a)::text = hvc.pareto_nbd_fit_distributed(f, r, a)::text AS same_pareto_nbd,
       hvc.mbgnbd_fit(f, r, a)::text = hvc.mbgnbd_fit_distributed(f, r, a)::text AS same_mbgnbd,
       hvc.gamma_gamma_fit(f, m)::text = hvc.gamma_gamma_fit_distributed(f, m)::text AS same_gamma_gamma
  FROM s;
SELECT (m).customers, (m).converged FROM (SELECT hvc.bgnbd_fit_distributed(f, r, a) AS m FROM s) x;
-- a NULL argument ignores the row, like the internal form
SELECT (hvc.bgnbd_fit_distributed(f, r, a)).customers FROM (SELECT * FROM s UNION ALL SELECT NULL, 1, 2, 3) x;
-- bad input: the internal form's error
\set VERBOSITY sqlstate
SELECT hvc.bgnbd_fit_distributed(-1, 0, 1);
\set VERBOSITY default
-- no rows
SELECT hvc.bgnbd_fit_distributed(f, r, a) FROM s WHERE false;
SELECT hvc.gamma_gamma_fit_distributed(f, m) FROM s WHERE false;
-- a parallel plan: partial aggregates in the workers, states combined flat
ALTER TABLE s SET (parallel_workers = 2);
CREATE TABLE public.ship_par AS TABLE s;
ALTER TABLE public.ship_par SET (parallel_workers = 2);
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT hvc.bgnbd_fit_distributed(f, r, a) FROM public.ship_par;
SELECT hvc.bgnbd_fit_distributed(f, r, a)::text = (SELECT hvc.bgnbd_fit(f, r, a)::text FROM s) AS same_parallel_bgnbd,
       hvc.gamma_gamma_fit_distributed(f, m)::text = (SELECT hvc.gamma_gamma_fit(f, m)::text FROM s) AS same_parallel_gamma_gamma
  FROM public.ship_par;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE public.ship_par;
