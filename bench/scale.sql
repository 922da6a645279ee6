-- bench/scale.sql — one size of the scaling benchmark, run by bench/scale.sh:
--   psql -X -v customers=1000000 -v lines=3000000 -f bench/scale.sql
-- Generates the synthetic shop (bench/generate_sales.sql), registers it,
-- warms it, times the bare GROUP BY once, then (in a new session, so the
-- backend's memory is the refresh's alone) CALL hvc.refresh() with the
-- default model (BG/NBD + Gamma-Gamma, no backtest) at the default
-- work_mem; bench/scale.sh samples that backend's /proc/<pid>/status.
\set ON_ERROR_STOP on
\set end_date 2025-06-30
\set as_of 2025-06-30
DROP EXTENSION IF EXISTS hvc CASCADE;
DROP TABLE IF EXISTS public.sales;
CREATE EXTENSION hvc;
\o /dev/null
\ir generate_sales.sql
\o
VACUUM ANALYZE public.sales;
CHECKPOINT;
SELECT count(*) AS lines, count(DISTINCT customer_id) AS customers,
       pg_size_pretty(pg_table_size('public.sales')) AS table_size
  FROM public.sales;
SELECT hvc.register_source(source => 'public.sales', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount',
                           margin => 'margin', order_id => 'order_id') IS NOT NULL AS registered;
UPDATE hvc.config SET model = 'bgnbd', value_basis = 'historic_clv', validation_days = 0;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*), sum(n), sum(s), max(mn), max(mx)
  FROM (SELECT customer_id, count(*) AS n, sum(amount) AS s, min(ordered_at) AS mn, max(ordered_at) AS mx
          FROM public.sales GROUP BY customer_id) q \gset
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2) AS group_by_s \gset
\echo GROUP_BY_S :group_by_s
