-- Hand-computed five-customer shop: metrics, BTYD summary, RFM scores,
-- segments, value ranks and tiers are all worked out by hand in the comments.
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never
SET client_min_messages = notice;
SET timezone = 'UTC';
UPDATE hvc.config SET model = 'none', time_unit = 'day';

CREATE TABLE shop (line_id serial, customer_id int, ordered_at date, amount numeric(10,2),
                   margin numeric(10,2), order_id int);
INSERT INTO shop (customer_id, ordered_at, amount, margin, order_id) VALUES
    -- c1: 3 orders on 3 days (first order has 2 lines); revenue 350, margin 140
    (1, '2025-01-10', 100, 40, 1), (1, '2025-01-10', 50, 20, 1),
    (1, '2025-03-10', 80, 30, 2), (1, '2025-06-20', 120, 50, 3),
    -- c2: one recent order
    (2, '2025-06-25', 30, 10, 4),
    -- c3: one order and a refund of 50 two weeks later: revenue 150, margin 45
    (3, '2025-02-01', 200, 60, 5), (3, '2025-02-15', -50, -15, 6),
    -- c4: five orders, two weeks apart
    (4, '2025-04-01', 40, 10, 7), (4, '2025-04-15', 40, 10, 8), (4, '2025-05-01', 40, 10, 9),
    (4, '2025-05-15', 40, 10, 10), (4, '2025-06-01', 40, 10, 11),
    -- c5: one big order a year ago
    (5, '2024-07-01', 500, 100, 12),
    -- four rows to skip: guest, future, NULL amount, NULL date
    (NULL, '2025-03-01', 25, 5, 13), (2, '2025-08-01', 30, 10, 14),
    (4, '2025-06-02', NULL, 1, 15), (1, NULL, 10, 1, 16);

SELECT hvc.register_source(source => 'public.shop', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount',
                           margin => 'margin', order_id => 'order_id');
CALL hvc.refresh(as_of => '2025-07-01');

SELECT rows_read, rows_skipped, customers, status FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;

-- Where the refresh spent its time (hvc.refresh_log.timings): the eight
-- steps in order, each in seconds to the millisecond, together no longer
-- than the refresh (started_at .. finished_at also holds the lock wait and
-- the checks before the stage; eight roundings of at most 0.0005 s each).
SELECT timings ~ '^stage \d+\.\d{3} s, fits \d+\.\d{3} s, signals \d+\.\d{3} s, build \d+\.\d{3} s, history \d+\.\d{3} s, backtest \d+\.\d{3} s, retention \d+\.\d{3} s, alerts \d+\.\d{3} s$' AS timings_shape,
       (SELECT sum(m[1]::numeric) FROM regexp_matches(timings, '(\d+\.\d{3}) s', 'g') m)
         <= extract(epoch FROM finished_at - started_at) + 0.004 AS within_refresh
  FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
-- by hand: 1.5 s, then 0.2504 s (to the millisecond: 0.250)
SELECT hvc._refresh_timings(ARRAY['read', 'write'],
                            ARRAY['2025-01-01 00:00:00+00', '2025-01-01 00:00:01.5+00',
                                  '2025-01-01 00:00:01.7504+00']::timestamptz[]);
-- a detail in parentheses after its step (the parts of an incremental stage)
SELECT hvc._refresh_timings(ARRAY['read', 'write'],
                            ARRAY['2025-01-01 00:00:00+00', '2025-01-01 00:00:01.5+00',
                                  '2025-01-01 00:00:01.7504+00']::timestamptz[],
                            ARRAY['part 1.000 s', NULL]);
\set VERBOSITY sqlstate
SELECT hvc._refresh_timings(ARRAY['read', 'write'], ARRAY['2025-01-01 00:00:00+00']::timestamptz[]);
SELECT hvc._refresh_timings(ARRAY['read'], ARRAY['2025-01-01', '2025-01-02']::timestamptz[], ARRAY['a', 'b']);
SELECT hvc._refresh_timings(ARRAY['read', NULL], ARRAY['2025-01-01', '2025-01-02', '2025-01-03']::timestamptz[]);
SELECT hvc._refresh_timings(NULL, ARRAY['2025-01-01']::timestamptz[]);
\set VERBOSITY default

-- c1: tenure Jan10->Jul1 = 172 d, recency Jun20->Jul1 = 11 d, gaps 161/2 = 80.5 d,
--     frequency 2, monetary (350-150)/2 = 100.
-- c3: refund is not an order; revenue 150.  c4: span 61 d / 4 gaps = 15.25.
SELECT customer_id, orders, purchase_days, refunds, revenue, margin, avg_order_value,
       tenure_days, recency_days, avg_days_between_orders,
       frequency, recency, age, monetary_value, first_order_at, last_order_at
  FROM hvc.customers ORDER BY customer_id;

-- RFM (rfm.md breaks: percentile_cont at .2/.4/.6/.8, score = 1 + #breaks below):
--  R on -recency_days {-11,-6,-150,-30,-365}: breaks -193, -78, -22.4, -10 -> 4,5,2,3,1
--  F on orders {3,1,1,5,1}: breaks 1, 1, 1.8, 3.4                          -> 4,1,1,5,1
--  M on revenue {350,30,150,200,500}: breaks 126, 180, 260, 380             -> 4,1,2,3,5
--  cells 444 Champions, 511 New Customers, 212 About To Sleep, 353 Loyal Customers, 115 Others
-- Value = historic_clv = margin {140,10,45,50,100}: ranks 1,5,4,3,2; total 345.
-- Tiers for 5 customers: top floor(.25)=0, high floor(1)=1 -> rank 1, medium floor(2.5)=2
-- -> rank 2, low ranks 3-5.
SELECT customer_id, r_score, f_score, m_score, rfm_cell, segment, historic_clv,
       value_rank, round(cumulative_value_share::numeric, 6) AS cum_share,
       tier, tier_rank, is_high_value, previous_tier,
       p_alive, churn_risk, predicted_orders, expected_order_value, predicted_clv,
       expected_next_order_at
  FROM hvc.customers ORDER BY value_rank;

SELECT tier, tier_rank, customers, customer_share, revenue, round(revenue_share::numeric, 6) AS revenue_share,
       margin, predicted_clv, avg_churn_risk, is_high_value
  FROM hvc.tier_summary ORDER BY tier_rank;
-- one read of the snapshot: the totals the shares divide by are sums over
-- the tiers (a second read for them doubled the view's cost)
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/include/plan_count.sql
SELECT pg_temp.plan_count('SELECT * FROM hvc.tier_summary', '"Relation Name": "customer_snapshot"') AS tier_summary_snapshot_scans;
SELECT * FROM hvc.segment_summary ORDER BY segment;
SELECT customer_percentile, round(cumulative_value_share::numeric, 6) AS share
  FROM hvc.pareto_curve WHERE customer_percentile IN (1, 20, 21, 40, 41, 60, 80, 100)
 ORDER BY 1;
SELECT model, value_basis, customers FROM hvc.snapshot_info;
-- Value profiles: tickets {116.67, 30, 150, 40, 500}: 80th percentile
-- 150 + 0.2 x 350 = 220.000.  c2 is new (6 days), c1 and c4 frequent
-- (f_score >= 4, ordinary ticket), c5 premium (500 >= 220), c3 occasional.
SELECT premium_ticket_from FROM hvc.snapshot_info;
SELECT customer_id, value_profile FROM hvc.customers ORDER BY customer_id;

-- Degenerate data for the models: five customers are too few to fit. The
-- refresh still succeeds with metrics, RFM and tiers, says why (NOTICE,
-- refresh_log, model_fit) and leaves the prediction columns NULL.
UPDATE hvc.config SET model = 'bgnbd';
CALL hvc.refresh(as_of => '2025-07-01');
SELECT model, converged, customers, message FROM hvc.model_fit ORDER BY fit_id;
SELECT count(*) AS customers, count(p_alive) AS with_p_alive, count(predicted_clv) AS with_clv,
       count(tier) AS with_tier FROM hvc.customers;
SELECT model, value_basis FROM hvc.snapshot_info;
UPDATE hvc.config SET model = 'none';

-- Weeks: recency and age in weeks (c1: 161/7 = 23, 172/7 = 24.571...).
UPDATE hvc.config SET time_unit = 'week';
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, frequency, recency, round(age::numeric, 6) AS age FROM hvc.customers ORDER BY 1;

-- Editable rules: a top tier of 40 % takes ranks 1-2; a new segment rule.
UPDATE hvc.tier_rules SET customer_share = 0.4 WHERE tier = 'top';
UPDATE hvc.tier_rules SET customer_share = 0.6 WHERE tier = 'high';
UPDATE hvc.tier_rules SET customer_share = 0.8 WHERE tier = 'medium';
INSERT INTO hvc.rfm_segments VALUES ('Big Sleepers', 0, 1, 1, 1, 1, 5, 5);
-- A rule that can never match (all its cells are Champions) gets a NOTICE.
INSERT INTO hvc.rfm_segments VALUES ('Shadowed', 50, 5, 5, 5, 5, 5, 5);
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, segment, tier, previous_tier, value_rank FROM hvc.customers ORDER BY value_rank;
SELECT customer_id, from_tier, to_tier, direction FROM hvc.tier_changes ORDER BY refresh_id, customer_id;
DELETE FROM hvc.rfm_segments WHERE segment IN ('Big Sleepers', 'Shadowed');

-- Value basis revenue: c5 (500) ranks first.
UPDATE hvc.config SET value_basis = 'revenue';
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, value, value_rank, tier FROM hvc.customers ORDER BY value_rank;
UPDATE hvc.config SET value_basis = 'predicted_clv';
UPDATE hvc.tier_rules SET customer_share = 0.05 WHERE tier = 'top';
UPDATE hvc.tier_rules SET customer_share = 0.20 WHERE tier = 'high';
UPDATE hvc.tier_rules SET customer_share = 0.50 WHERE tier = 'medium';

-- Time zones: a timestamptz source reckoned in Europe/Berlin vs UTC.
CREATE TABLE tz_shop (customer_id text, ordered_at timestamptz, amount float8);
INSERT INTO tz_shop VALUES ('a', '2025-06-30 23:30:00+00', 10),   -- Jul 1 01:30 in Berlin
                           ('a', '2025-06-29 12:00:00+00', 20),
                           ('b', '2025-06-30 21:00:00+00', 5);    -- Jun 30 23:00 in Berlin
SELECT hvc.register_source('public.tz_shop', 'customer_id', 'ordered_at', 'amount');
UPDATE hvc.config SET time_unit = 'day', timezone = 'Europe/Berlin';
CALL hvc.refresh(as_of => '2025-07-01 12:00:00+02');
SELECT customer_id, orders, purchase_days, revenue, first_order_at, last_order_at, recency_days, tenure_days
  FROM hvc.customers ORDER BY 1;
UPDATE hvc.config SET timezone = 'UTC';
CALL hvc.refresh(as_of => '2025-07-01 12:00:00+02');
SELECT customer_id, orders, purchase_days, recency_days, tenure_days FROM hvc.customers ORDER BY 1;
UPDATE hvc.config SET timezone = 'Mars/Olympus';
