-- bench/bench.sql — run by bench/bench.sh in a throwaway cluster:
--   psql -X -v customers=500000 -v lines=5000000 -f bench/bench.sql
-- Generates the synthetic shop, warms the cache, then times (median of 3
-- runs each, interleaved, after one untimed warm-up run of each):
--   (a) PostgreSQL's own GROUP BY customer_id (count, sum, min, max)
--   (b) a hand-written RFM query (GROUP BY + three NTILE(5) windows)
--   (c) CALL hvc.refresh() with model = 'none'
--   (d) CALL hvc.refresh() with model = 'bgnbd' (the full refresh, no backtest)
--   (e) CALL hvc.refresh() with model = 'pareto_nbd' (no backtest)
--   (f) CALL hvc.refresh(full => true) with model = 'bgnbd' and the backtest
--       on (validation_days NULL: automatic; full so it is not reused)
-- Before each timed refresh the snapshot table is vacuumed (untimed), as
-- autovacuum does between nightly refreshes.  (c) and (d) both rank by
-- historic CLV: alternating them with the default basis would move most
-- customers' tiers at every run (predicted vs historic value), which a
-- nightly refresh does not do; (d) still fits and predicts everything.
\set ON_ERROR_STOP on
\pset footer off
\pset null '-'
\if :{?customers}
\else
  \set customers 500000
\endif
\if :{?lines}
\else
  \set lines 5000000
\endif
\set end_date 2025-06-30
\set as_of 2025-06-30

\echo '=== hvc bench:' :customers 'customers,' :lines 'lines ==='
SELECT version();
SELECT name, setting, unit FROM pg_settings
 WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'max_parallel_workers',
                'max_wal_size', 'jit', 'effective_cache_size')
 ORDER BY name;

CREATE EXTENSION hvc;

\echo
\echo '--- generating public.sales (bench/generate_sales.sql)'
SELECT clock_timestamp() AS gen_t0 \gset
\ir generate_sales.sql
SELECT round(extract(epoch FROM clock_timestamp() - :'gen_t0'::timestamptz)::numeric, 1) AS gen_s \gset
\echo 'generated in' :gen_s 's'
VACUUM ANALYZE public.sales;
CHECKPOINT;

\echo
\echo '--- warming the cache (one full scan; pg_prewarm too when available)'
SELECT count(*) > 0 AS has_prewarm FROM pg_available_extensions WHERE name = 'pg_prewarm' \gset
\if :has_prewarm
CREATE EXTENSION pg_prewarm;
SELECT pg_prewarm('public.sales') AS prewarmed_blocks;
\endif
SELECT count(*) AS lines,
       count(DISTINCT customer_id) AS customers,
       count(*) FILTER (WHERE customer_id IS NULL) AS guest_lines,
       pg_size_pretty(pg_table_size('public.sales')) AS table_size
  FROM public.sales;

SELECT hvc.register_source(source => 'public.sales', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount',
                           margin => 'margin', order_id => 'order_id') AS registered;

-- The timed statements.
CREATE TEMP TABLE bench_case (k text PRIMARY KEY, label text, setup text, stmt text);
INSERT INTO bench_case VALUES
 ('a', 'PostgreSQL GROUP BY customer_id (count, sum, min, max)', NULL,
  $q$SELECT count(*), sum(n), sum(s), max(mn), max(mx)
       FROM (SELECT customer_id, count(*) AS n, sum(amount) AS s,
                    min(ordered_at) AS mn, max(ordered_at) AS mx
               FROM public.sales GROUP BY customer_id) q$q$),
 ('b', 'hand-written RFM (GROUP BY + 3 x NTILE(5))', NULL,
  format($q$SELECT count(*), sum(r), sum(f), sum(m), sum(orders), sum(revenue), max(last_at)
       FROM (SELECT customer_id,
                    max(ordered_at) AS last_at,
                    count(DISTINCT order_id) FILTER (WHERE amount > 0) AS orders,
                    sum(amount) AS revenue,
                    ntile(5) OVER (ORDER BY max(ordered_at)) AS r,
                    ntile(5) OVER (ORDER BY count(DISTINCT order_id) FILTER (WHERE amount > 0)) AS f,
                    ntile(5) OVER (ORDER BY sum(amount)) AS m
               FROM public.sales
              WHERE customer_id IS NOT NULL AND ordered_at <= %L::timestamptz
              GROUP BY customer_id) q$q$, :'as_of')),
 ('c', 'CALL hvc.refresh(), model = none', $q$UPDATE hvc.config SET model = 'none', value_basis = 'historic_clv', validation_days = 0$q$,
  format('CALL hvc.refresh(as_of => %L)', :'as_of')),
 ('d', 'CALL hvc.refresh(), model = bgnbd (full)', $q$UPDATE hvc.config SET model = 'bgnbd', value_basis = 'historic_clv', validation_days = 0$q$,
  format('CALL hvc.refresh(as_of => %L)', :'as_of')),
 ('e', 'CALL hvc.refresh(), model = pareto_nbd', $q$UPDATE hvc.config SET model = 'pareto_nbd', value_basis = 'historic_clv', validation_days = 0$q$,
  format('CALL hvc.refresh(as_of => %L)', :'as_of')),
 ('f', 'CALL hvc.refresh(full => true), bgnbd + backtest', $q$UPDATE hvc.config SET model = 'bgnbd', value_basis = 'historic_clv', validation_days = NULL$q$,
  format('CALL hvc.refresh(as_of => %L, full => true)', :'as_of'));
CREATE TEMP TABLE bench_times (k text, run integer, seconds float8, cpu_seconds float8);
-- CPU time (user + system) of this backend so far, from /proc (Linux; NULL
-- elsewhere): less sensitive than wall time to other load on the machine.
-- Only the leader's: parallel workers (the GROUP BY of (a), the stage of a
-- refresh) are not counted.
CREATE FUNCTION pg_temp.backend_cpu() RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    f text[];
BEGIN
    f := regexp_split_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ');
    RETURN (f[12]::bigint + f[13]::bigint) / 100.0;   -- utime + stime, in 1/100 s (USER_HZ)
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END $$;

\echo
\echo '--- timing: one untimed warm-up run of each, then 3 timed rounds of (a) ... (f)'
SET client_min_messages = warning;   -- the refresh NOTICEs; the log is printed below
\o /dev/null
SELECT stmt
  FROM (SELECT 0 AS run, k, 1 AS step, setup AS stmt FROM bench_case
        UNION ALL
        SELECT 0, k, 3, stmt FROM bench_case
        UNION ALL
        SELECT run, k, step,
               CASE step
                 WHEN 1 THEN setup
                 -- steady state of a nightly refresh: autovacuum has cleaned
                 -- the previous refresh's dead rows (not timed)
                 WHEN 2 THEN CASE WHEN k IN ('c', 'd', 'e', 'f') THEN 'VACUUM hvc.customer_snapshot' END
                 WHEN 3 THEN $$SELECT set_config('bench.t0', clock_timestamp()::text, false),
                                      set_config('bench.c0', coalesce(pg_temp.backend_cpu()::text, ''), false)$$
                 WHEN 4 THEN stmt
                 ELSE format($$INSERT INTO bench_times
                               SELECT %L, %s, extract(epoch FROM clock_timestamp()
                                                    - current_setting('bench.t0')::timestamptz),
                                      pg_temp.backend_cpu() - nullif(current_setting('bench.c0'), '')::float8$$, k, run)
               END
          FROM bench_case, generate_series(1, 3) run, generate_series(1, 5) step) s
 WHERE stmt IS NOT NULL
 ORDER BY run, k, step
\gexec
\o
RESET client_min_messages;

\echo
\echo '--- results (seconds; median of 3 runs; leader_cpu_s: CPU time of this backend, parallel workers not counted)'
CREATE TEMP TABLE bench_result AS
SELECT c.k, c.label,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.seconds) AS median,
       min(t.seconds) AS fastest, max(t.seconds) AS slowest,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.cpu_seconds) AS median_cpu
  FROM bench_case c JOIN bench_times t USING (k)
 GROUP BY c.k, c.label;
SELECT '(' || k || ')' AS " ", label AS statement,
       round(median::numeric, 3) AS median_s,
       round(fastest::numeric, 3) AS min_s, round(slowest::numeric, 3) AS max_s,
       round(median_cpu::numeric, 2) AS leader_cpu_s
  FROM bench_result ORDER BY k;

SELECT x.ratio, round((n.median / nullif(d.median, 0))::numeric, 2) AS value
  FROM (VALUES (1, '(c)/(a)  refresh, no model / GROUP BY', 'c', 'a'),
               (2, '(c)/(b)  refresh, no model / hand-written RFM', 'c', 'b'),
               (3, '(d)/(a)  full refresh / GROUP BY', 'd', 'a'),
               (4, '(d)/(b)  full refresh / hand-written RFM', 'd', 'b'),
               (5, '(d)/(c)  full refresh / refresh without model', 'd', 'c'),
               (6, '(e)/(a)  Pareto/NBD refresh / GROUP BY', 'e', 'a'),
               (7, '(f)/(a)  refresh with backtest / GROUP BY', 'f', 'a'),
               (8, '(f)/(d)  refresh with backtest / without (target <= 1.4)', 'f', 'd')) x(o, ratio, num, den)
  JOIN bench_result n ON n.k = x.num
  JOIN bench_result d ON d.k = x.den
 ORDER BY x.o;

\echo
\echo '--- last refresh of each model (hvc.refresh_log)'
SELECT DISTINCT ON (i.model) i.model, l.refresh_id, l.status, l.rows_read, l.customers,
       round(extract(epoch FROM l.finished_at - l.started_at)::numeric, 3) AS seconds,
       l.timings, l.message
  FROM hvc.refresh_log l
  CROSS JOIN LATERAL (SELECT CASE WHEN l.message LIKE '%model none%' THEN 'none'
                                 WHEN l.message LIKE '%pareto_nbd%' THEN 'pareto_nbd'
                                 WHEN l.message LIKE '%backtest%' AND l.message NOT LIKE '%no backtest%' THEN 'bgnbd + backtest'
                                 ELSE 'bgnbd' END AS model) i
 WHERE l.status = 'succeeded'
 ORDER BY i.model, l.refresh_id DESC;

\echo
\echo '--- model fits of the last refresh (hvc.model_fit)'
SELECT count(*) > 0 AS has_fits FROM hvc.model_fit \gset
\if :has_fits
SELECT f.refresh_id, f.model, f.customers, f.converged, f.iterations,
       round(f.log_likelihood::numeric, 1) AS log_likelihood,
       concat_ws(' ', 'r=' || round(f.r::numeric, 4), 'alpha=' || round(f.alpha::numeric, 4),
                 'a=' || round(f.a::numeric, 4), 'b=' || round(f.b::numeric, 4),
                 's=' || round(f.s::numeric, 4), 'beta=' || round(f.beta::numeric, 4),
                 'p=' || round(f.p::numeric, 4), 'q=' || round(f.q::numeric, 4),
                 'v=' || round(f.v::numeric, 4)) AS parameters,
       f.message
  FROM hvc.model_fit f
 WHERE f.refresh_id = (SELECT max(refresh_id) FROM hvc.model_fit)
 ORDER BY f.fit_id;
\else
\echo '(hvc.model_fit is empty: the model step did not fit anything)'
\endif

\echo
\echo '--- hvc.priority(): 10 000 lookups of random customers, each timed (an index lookup each)'
CREATE TEMP TABLE bench_keys AS
SELECT customer_id FROM hvc.customers ORDER BY hashint8(customer_id) LIMIT 10000;
CREATE TEMP TABLE bench_prio (us float8);
DO $$
DECLARE
    k bigint;
    r record;
    t0 timestamptz;
    us float8[] := '{}';
BEGIN
    FOR k IN SELECT customer_id FROM bench_keys LOOP
        t0 := clock_timestamp();
        SELECT * INTO r FROM hvc.priority(k);
        us := us || extract(epoch FROM clock_timestamp() - t0) * 1e6;
    END LOOP;
    INSERT INTO bench_prio SELECT unnest(us);
END $$;
SELECT count(*) AS calls,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 1) AS p50_us,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY us)::numeric, 1) AS p99_us,
       round(avg(us)::numeric, 1) AS mean_us
  FROM bench_prio;
