-- The bytea-state fit aggregates (hvc.*_fit_distributed, for Citus) give
-- exactly the internal-state aggregates' results, serially, in parallel
-- plans (partial states passed flat through Gather) and on no rows.
CREATE EXTENSION IF NOT EXISTS hvc;
CREATE TEMP TABLE s AS
SELECT (i % 7)::bigint AS f,
       CASE WHEN i % 7 = 0 THEN 0 ELSE least(i % 30, 40 + i % 13)::float8 END AS r,
       (40 + i % 13)::float8 AS a,
       (10 + i % 17)::float8 AS m
  FROM generate_series(1, 20000) i;
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
