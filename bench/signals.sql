-- bench/signals.sql — run by bench/signals.sh in a throwaway cluster:
--   psql -X -v customers=500000 -v lines=5000000 -v signal_events=5000000 -f bench/signals.sql
-- Generates the synthetic shop (bench/generate_sales.sql) and its signals
-- (bench/generate_signals.sql: NPS answers, referrals, engagement events,
-- service contacts; :signal_events rows in all), then times CALL
-- hvc.refresh() (model bgnbd, ranked by historic CLV, no backtest; and model
-- none) without any signal and with the four signals registered: one
-- untimed warm-up, then the median of 3 timed runs of each, the snapshot
-- and signal stores vacuumed (untimed) before each, as autovacuum does
-- between nightly refreshes.  The runs without signals come first (their
-- signal store is empty, as in a database that never registered one).
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
\if :{?signal_events}
\else
  \set signal_events 5000000
\endif
\set end_date 2025-06-30
\set as_of 2025-06-30

\echo '=== hvc signals bench:' :customers 'customers,' :lines 'lines,' :signal_events 'signal rows ==='
SELECT version();
SELECT name, setting, unit FROM pg_settings
 WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'jit')
 ORDER BY name;
CREATE EXTENSION IF NOT EXISTS hvc;

SELECT to_regclass('public.sales') IS NOT NULL AND to_regclass('public.app_events') IS NOT NULL AS have_data \gset
\if :{?reuse}
\else
  \set have_data false
\endif
\if :have_data
\echo '(reusing public.sales and the signal tables)'
\else
\ir generate_sales.sql
\ir generate_signals.sql
\endif
VACUUM ANALYZE public.sales, public.nps_answers, public.referrals, public.app_events, public.contacts;
SELECT count(*) AS lines FROM public.sales;
SELECT (SELECT count(*) FROM public.nps_answers) AS nps, (SELECT count(*) FROM public.referrals) AS referrals,
       (SELECT count(*) FROM public.app_events) AS events, (SELECT count(*) FROM public.contacts) AS contacts;

SELECT hvc.register_source(source => 'public.sales', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount',
                           margin => 'margin', order_id => 'order_id') AS registered;
SELECT hvc.unregister_signal(name) FROM hvc.signal;
-- the default profile rules (ambassador: NPS >= 9 or a converted referral;
-- early_adopter, which cannot match: the sales have no product column)

CREATE TEMP TABLE bench_times (k text, run integer, seconds float8);
CREATE FUNCTION pg_temp.register_signals() RETURNS void LANGUAGE sql AS $$
    SELECT hvc.register_signal('nps', 'public.nps_answers', 'customer_id', 'answered_at', 'score', 'nps');
    SELECT hvc.register_signal('referrals', 'public.referrals', 'customer_id', 'referred_on', 'referred_id', 'referral');
    SELECT hvc.register_signal('app', 'public.app_events', 'customer_id', 'happened_at', 'weight', 'engagement');
    SELECT hvc.register_signal('contacts', 'public.contacts', 'customer_id', 'opened_at', NULL, 'service',
                               'resolved_at', 'first_contact_resolved');
$$;
CREATE FUNCTION pg_temp.unregister_signals() RETURNS void LANGUAGE sql AS $$
    SELECT hvc.unregister_signal(name) FROM hvc.signal;
$$;

\if :{?only_bgnbd}
\else
  \set only_bgnbd 0
\endif
SET client_min_messages = warning;
\o /dev/null
SELECT stmt
  FROM (SELECT b.o, r.run, s.step,
               CASE s.step
                 WHEN 1 THEN CASE WHEN r.run = 0 THEN b.setup END
                 WHEN 2 THEN 'VACUUM hvc.customer_snapshot, hvc.customer_signal_store, hvc.customer_attribute_store'
                 WHEN 3 THEN $$SELECT set_config('bench.t0', clock_timestamp()::text, false)$$
                 WHEN 4 THEN format('CALL hvc.refresh(as_of => %L)', :'as_of')
                 ELSE CASE WHEN r.run > 0 THEN format($$INSERT INTO bench_times
                               SELECT %L, %s, extract(epoch FROM clock_timestamp()
                                                    - current_setting('bench.t0')::timestamptz)$$, b.k, r.run) END
               END AS stmt
          FROM (VALUES (1, 'none_without', $$SELECT pg_temp.unregister_signals(); UPDATE hvc.config SET model = 'none', value_basis = 'historic_clv', validation_days = 0$$),
                       (2, 'bgnbd_without', $$SELECT pg_temp.unregister_signals(); UPDATE hvc.config SET model = 'bgnbd', value_basis = 'historic_clv', validation_days = 0$$),
                       (3, 'none_with', $$SELECT pg_temp.register_signals(); UPDATE hvc.config SET model = 'none', value_basis = 'historic_clv', validation_days = 0$$),
                       (4, 'bgnbd_with', $$SELECT pg_temp.register_signals(); UPDATE hvc.config SET model = 'bgnbd', value_basis = 'historic_clv', validation_days = 0$$)) b(o, k, setup),
               generate_series(0, 3) r(run), generate_series(1, 5) s(step)) x
 WHERE stmt IS NOT NULL AND (:only_bgnbd = 0 OR o IN (2, 4))
 ORDER BY o, run, step
\gexec
\o
RESET client_min_messages;

\echo
\echo '--- results (seconds; median of 3 runs)'
CREATE TEMP TABLE bench_result AS
SELECT k, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median,
       min(seconds) AS fastest, max(seconds) AS slowest
  FROM bench_times GROUP BY k;
SELECT k AS refresh, round(median::numeric, 3) AS median_s, round(fastest::numeric, 3) AS min_s,
       round(slowest::numeric, 3) AS max_s
  FROM bench_result ORDER BY k;
SELECT x.ratio, round((n.median / nullif(d.median, 0))::numeric, 2) AS value
  FROM (VALUES (1, 'bgnbd refresh with the 4 signals / without (target <= 2)', 'bgnbd_with', 'bgnbd_without'),
               (2, 'model none refresh with the 4 signals / without', 'none_with', 'none_without')) x(o, ratio, num, den)
  JOIN bench_result n ON n.k = x.num JOIN bench_result d ON d.k = x.den
 ORDER BY x.o;
SELECT name, kind, rows_read, rows_skipped FROM hvc.signal ORDER BY name;
SELECT count(*) AS customers, count(*) FILTER (WHERE profiles LIKE '%ambassador%') AS ambassadors,
       count(*) FILTER (WHERE at_risk_reasons IS NOT NULL) AS with_at_risk_reasons
  FROM hvc.customer_signals;
SELECT count(*) AS at_risk, count(*) FILTER (WHERE reasons ~ 'engagement_falling|detractor|open_contact') AS with_signal_reasons
  FROM hvc.at_risk;
