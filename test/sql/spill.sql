-- The streamed per-customer step (issue 10 item 2): hvc._build_snapshot
-- sorts the customers by value and the RFM inputs with tuplesorts that
-- spill to temporary files beyond work_mem.  A refresh at work_mem = 64kB
-- (everything spills) must give the same snapshot, row for row and column
-- for column, as one at 64MB (everything in memory).  6000 customers with
-- text keys, many ties of value (broken by key in C collation), refunds,
-- one-time buyers, BG/NBD + Gamma-Gamma predictions, ranked by predicted CLV.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
CREATE TABLE sp_sales AS
SELECT 'k' || (c * 7919 % 6000) AS customer_id,
       date '2023-01-01' + (c * 37 % 500) + k * (1 + c % 23) AS ordered_at,
       CASE WHEN k = 2 AND c % 50 = 0 THEN -500.00
            ELSE (10 + (c % 9) * 5 + k)::numeric(10,2) END AS amount
  FROM generate_series(1, 6000) c, generate_series(0, 8) k
 WHERE k <= c % 9 AND (c % 4 <> 0 OR k = 0);
SELECT count(*) AS lines, count(DISTINCT customer_id) AS customers FROM sp_sales;
SELECT hvc.register_source('public.sp_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
UPDATE hvc.config SET model = 'bgnbd', value_basis = 'predicted_clv', time_unit = 'week', horizon_months = 12,
       horizon_days = NULL, churn_window_days = 90, validation_days = 0;

-- in memory
SET work_mem = '64MB';
SELECT pg_stat_clear_snapshot();
SELECT temp_files AS temp_before FROM pg_stat_database WHERE datname = current_database() \gset
SELECT hvc.refresh_now('2025-01-01') IS NOT NULL AS refreshed;
SELECT pg_stat_force_next_flush();
CREATE TABLE sp_big AS SELECT * FROM hvc.customer_snapshot;
SELECT pg_stat_clear_snapshot();
SELECT temp_files - :temp_before AS temp_files_in_memory FROM pg_stat_database WHERE datname = current_database();

-- spilled; the previous snapshot is the in-memory one, so every tier stays
-- and previous_tier / tier_since carry over unchanged
SET work_mem = '64kB';
SELECT pg_stat_clear_snapshot();
SELECT temp_files AS temp_before FROM pg_stat_database WHERE datname = current_database() \gset
SELECT hvc.refresh_now('2025-01-01') IS NOT NULL AS refreshed;
SELECT pg_stat_force_next_flush();
CREATE TABLE sp_small AS SELECT * FROM hvc.customer_snapshot;
RESET work_mem;
SELECT pg_stat_clear_snapshot();
SELECT temp_files - :temp_before >= 4 AS spilled FROM pg_stat_database WHERE datname = current_database();

SELECT count(*) AS customers, count(DISTINCT refresh_id) AS refreshes,
       count(p_alive) AS predicted, count(DISTINCT value) BETWEEN 800 AND 900 AS ties_of_value,  -- 835 on glibc 2.36, 834 on sid's libm
       count(*) FILTER (WHERE revenue <= 0) AS net_refunders
  FROM sp_small;
-- the same customers, and every column but refresh_id equal
SELECT count(*) AS only_in_memory
  FROM (SELECT customer_id FROM sp_big EXCEPT SELECT customer_id FROM sp_small) d;
SELECT count(*) AS rows_differing
  FROM sp_big b JOIN sp_small s USING (customer_id)
 WHERE (to_jsonb(b) - 'refresh_id') IS DISTINCT FROM (to_jsonb(s) - 'refresh_id');
SELECT count(*) AS only_spilled
  FROM (SELECT customer_id FROM sp_small EXCEPT SELECT customer_id FROM sp_big) d;
-- ties of value are ranked by key in C collation (k13 before k1315 before k1527)
SELECT customer_id, value, value_rank - min(value_rank) OVER () + 1 AS rank_in_tie
  FROM sp_small
 WHERE value = (SELECT value FROM sp_small WHERE customer_id = 'k10')
 ORDER BY value_rank LIMIT 4;
-- the RFM breaks and the churn percentile as SQL computes them
SELECT count(*) FILTER (WHERE s.churn_percentile IS DISTINCT FROM w.cd) AS churn_percentile_wrong,
       count(*) FILTER (WHERE s.value_rank <> w.rn) AS value_rank_wrong
  FROM sp_small s
  JOIN (SELECT customer_id,
               CASE WHEN churn_risk IS NOT NULL
                    THEN cume_dist() OVER (PARTITION BY churn_risk IS NULL ORDER BY churn_risk) END AS cd,
               row_number() OVER (ORDER BY value DESC, customer_id COLLATE "C") AS rn
          FROM sp_small) w USING (customer_id);
WITH b AS (
    SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY -recency_days) AS rb,
           percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY orders) AS fb,
           percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY revenue) AS mb
      FROM sp_small)
SELECT count(*) FILTER (WHERE s.r_score <> 1 + (-s.recency_days > b.rb[1])::int + (-s.recency_days > b.rb[2])::int
                                              + (-s.recency_days > b.rb[3])::int + (-s.recency_days > b.rb[4])::int) AS r_wrong,
       count(*) FILTER (WHERE s.f_score <> 1 + (s.orders > b.fb[1])::int + (s.orders > b.fb[2])::int
                                              + (s.orders > b.fb[3])::int + (s.orders > b.fb[4])::int) AS f_wrong,
       count(*) FILTER (WHERE s.m_score <> 1 + (s.revenue > b.mb[1])::int + (s.revenue > b.mb[2])::int
                                              + (s.revenue > b.mb[3])::int + (s.revenue > b.mb[4])::int) AS m_wrong
  FROM sp_small s, b;

DROP TABLE sp_big, sp_small;

-- What the builder hands the statements after it (hvc._snapshot_stats)
-- equals what SQL computes from the snapshot: the Pareto curve and the two
-- percentiles of hvc.snapshot_info; the refresh moved no tier, so the
-- tier-history scan was skipped and recorded nothing.
SELECT i.premium_ticket_from = round((percentile_cont(0.8) WITHIN GROUP (ORDER BY c.avg_order_value))::numeric, 3) AS premium_ok,
       i.median_repeat_gap_days = percentile_cont(0.5) WITHIN GROUP (ORDER BY c.avg_days_between_orders) AS median_gap_ok,
       i.customers
  FROM hvc.customer_snapshot c, hvc.snapshot_info i
 GROUP BY i.premium_ticket_from, i.median_repeat_gap_days, i.customers;
SELECT count(*) AS points,
       count(*) FILTER (WHERE p.cumulative_value_share IS DISTINCT FROM n.cumulative_value_share) AS points_wrong
  FROM generate_series(1, 100) pct
  JOIN hvc.customer_snapshot n ON n.value_rank = greatest(1, ceil(pct * 6000 / 100.0)::bigint)
  JOIN hvc.pareto_points p ON p.customer_percentile = pct;
SELECT count(*) AS moves_recorded
  FROM hvc.tier_history h JOIN hvc.snapshot_info i USING (refresh_id);
-- the greatest tenure (the backtest's history, instead of a scan of the new
-- snapshot): days from the earliest first purchase day to as_of
SELECT st.max_tenure_days,
       st.max_tenure_days = (SELECT max(c.tenure_days) FROM hvc.customer_snapshot c) AS max_ok,
       st.max_tenure_days = (SELECT (i.as_of AT TIME ZONE 'UTC')::date - min((c.first_order_at AT TIME ZONE 'UTC')::date)
                               FROM hvc.customer_snapshot c, hvc.snapshot_info i GROUP BY i.as_of) AS first_day_ok
  FROM hvc.snapshot_info i, hvc._snapshot_stats(i.refresh_id) st;
-- only for the refresh this session just built
\set VERBOSITY sqlstate
SELECT hvc._snapshot_stats(0);
\set VERBOSITY default

-- Break sorts past 4096 distinct values (src/snapshot_rank.c): every value
-- counted per radix bucket, then only the buckets that hold the positions a
-- percentile reads are sorted.  9000 customers: 7200 distinct revenues in
-- two buckets (1000.01 .. 1089.98, a bucket spans 52.43), ties at 50, net
-- refunders; tickets as many; at work_mem 64kB the sorts of those buckets
-- spill.  The scores and the two percentiles as SQL computes them.
CREATE TABLE rb_sales AS
SELECT c AS customer_id, timestamptz '2024-01-01 12:00+00' + (c % 300) * interval '1 day' AS ordered_at,
       CASE WHEN c % 10 = 0 THEN 1 WHEN c % 10 = 9 THEN 50 ELSE 1000 + c::numeric / 100 END AS amount
  FROM generate_series(1, 9000) c
UNION ALL   -- refunds beyond the purchase: net refunders
SELECT c, timestamptz '2024-01-01 13:00+00' + (c % 300) * interval '1 day', -(2 + c::numeric / 100)
  FROM generate_series(10, 9000, 10) c
UNION ALL   -- a second purchase day: repeat gaps, and tickets of half the revenue
SELECT c, timestamptz '2024-01-01 12:00+00' + (c % 300 + 1 + c % 41) * interval '1 day', 0
  FROM generate_series(3, 9000, 3) c;
SELECT hvc.register_source('public.rb_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
UPDATE hvc.config SET model = 'none', value_basis = 'historic_clv';
SET work_mem = '64kB';
SELECT hvc.refresh_now('2025-01-01') IS NOT NULL AS refreshed;
RESET work_mem;
SELECT count(*) AS customers, count(DISTINCT revenue) AS revenues, count(*) FILTER (WHERE revenue < 0) AS net_refunders,
       count(DISTINCT avg_order_value) AS tickets
  FROM hvc.customer_snapshot;
WITH b AS (
    SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY revenue) AS mb
      FROM hvc.customer_snapshot)
SELECT (SELECT array_agg(round(x::numeric, 4)) FROM unnest(b.mb) x) AS revenue_breaks,
       count(*) FILTER (WHERE s.m_score <> 1 + (s.revenue > b.mb[1])::int + (s.revenue > b.mb[2])::int
                                              + (s.revenue > b.mb[3])::int + (s.revenue > b.mb[4])::int) AS m_wrong
  FROM hvc.customer_snapshot s, b
 GROUP BY b.mb;
SELECT i.premium_ticket_from,
       i.premium_ticket_from = round((percentile_cont(0.8) WITHIN GROUP (ORDER BY c.avg_order_value))::numeric, 3) AS premium_ok,
       i.median_repeat_gap_days = percentile_cont(0.5) WITHIN GROUP (ORDER BY c.avg_days_between_orders) AS median_gap_ok
  FROM hvc.customer_snapshot c, hvc.snapshot_info i
 GROUP BY i.premium_ticket_from, i.median_repeat_gap_days;
DROP TABLE rb_sales CASCADE;
