-- Backtest: hvc.backtest, hvc.backtest_summary, the backtest every refresh
-- runs (hvc.model_validation, hvc.model_validation_by_frequency), and the
-- CDNOW holdout reference (reference/clv-models.md §9.3).  The CDNOW part
-- reads $HVC_CDNOW_DIR (../shared/data/cdnow); without it that part says so
-- and skips (expected/backtest_1.out).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS hvc CASCADE;
CREATE EXTENSION hvc;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set VERBOSITY sqlstate

-- Nothing registered yet: a clear error.
SELECT * FROM hvc.backtest_summary('2024-01-31', '2024-03-01');

-- A hand-made history, in days, split at 2024-01-31 (calibration) with a
-- holdout to 2024-03-01 (30 days; 2024 is a leap year).
--   customer  calibration days              x  t_x  T   gap  holdout purchase days       actual
--   A         01-01, 01-31                  1  30   30   0   02-10 (twice), 02-20         2
--   B         01-01, 01-21                  1  20   30  10   none (a refund on 02-05)     0
--   C         01-11                         0   0   20  20   02-29 (03-01 12:00 is after  1
--                                                             holdout_end: left out)
--   D         01-21                         0   0   10  10   02-15                        1
--   E         01-01, 01-11, 01-21           2  20   30  10   none                         0
--   F         none (first purchase 02-05)   -   -    -   -   not a calibration customer
--   G         01-31                         0   0    0   0   none                         0
-- By calibration frequency: 0 = C, D, G (3 customers, 2 purchases),
-- 1 = A, B (2, 2), 2 = E (1, 0); all 6 customers, 4 purchases.
-- AUC of recency (gap = T - t_x) for "no purchase in the holdout":
-- positives B (10), E (10), G (0); negatives A (0), C (20), D (10).
-- Mid-ranks by gap: 0 -> A, G rank 1.5; 10 -> B, D, E rank 4; 20 -> C rank 6.
-- Sum of the positives' ranks 1.5 + 4 + 4 = 9.5, so
-- AUC = (9.5 - 3*4/2) / (3*3) = 3.5 / 9 = 0.388889.
CREATE TABLE bt_sales (customer_id text, ordered_at timestamptz, amount numeric);
INSERT INTO bt_sales VALUES
    ('A', '2024-01-01', 10), ('A', '2024-01-31', 10), ('A', '2024-02-10 09:00', 5),
    ('A', '2024-02-10 17:00', 5), ('A', '2024-02-20', 10),
    ('B', '2024-01-01', 10), ('B', '2024-01-21', 10), ('B', '2024-02-05', -5),
    ('C', '2024-01-11', 10), ('C', '2024-02-29', 10), ('C', '2024-03-01 12:00', 10),
    ('D', '2024-01-21', 10), ('D', '2024-02-15', 10),
    ('E', '2024-01-01', 10), ('E', '2024-01-11', 10), ('E', '2024-01-21', 10),
    ('F', '2024-02-05', 10),
    ('G', '2024-01-31', 10),
    (NULL, '2024-01-05', 10), (NULL, '2024-02-05', 10);
SELECT hvc.register_source('public.bt_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'day', timezone = 'UTC';

SELECT frequency_bin, customers, actual_purchases, round(actual_mean::numeric, 4) AS actual_mean
  FROM hvc.backtest('2024-01-31', '2024-03-01');
SELECT customers, actual_purchases, round(recency_auc::numeric, 6) AS recency_auc
  FROM hvc.backtest_summary('2024-01-31', '2024-03-01');

-- A larger made-up history (300 customers, 2024-01-01 .. 2024-05-05, some
-- buying twice a day, refunds) checked against an independent computation:
-- the BTYD summary by plain SQL, the fit and the expected purchases with the
-- building blocks (churn_risk = hvc.p_no_purchase over the 30-day holdout),
-- the AUCs over all (no purchase, purchase) pairs, the top
-- 20 % customer by customer.  Calibration to 2024-03-31 (the whole day),
-- holdout 30 days to 2024-04-30 00:00.
CREATE TABLE bt_syn AS
SELECT 'c' || i AS customer_id,
       timestamptz '2024-01-01' + d * interval '1 day' + (i % 3) * interval '7 hours' AS ordered_at,
       CASE WHEN (i + d) % 29 = 0 THEN -5 ELSE 10 + i % 7 END AS amount
  FROM generate_series(1, 300) i, generate_series(0, 125) d
 WHERE d >= i % 80 AND d <= i % 80 + 10 + (i * 37) % 110
   AND ((d * 7 + i * 13) % (2 + i % 19) = 0 OR d = i % 80);
INSERT INTO bt_syn SELECT customer_id, ordered_at + interval '2 hours', amount FROM bt_syn WHERE amount > 10;
CREATE TABLE bt_syn_sum AS
SELECT customer_id,
       (count(DISTINCT day) FILTER (WHERE day <= '2024-03-31') - 1)::int AS x,
       (max(day) FILTER (WHERE day <= '2024-03-31') - min(day))::float8 AS t_x,
       ('2024-03-31' - min(day))::float8 AS t,
       (count(DISTINCT day) FILTER (WHERE day > '2024-03-31' AND day <= '2024-04-30'))::float8 AS actual
  FROM (SELECT customer_id, (ordered_at AT TIME ZONE 'UTC')::date AS day FROM bt_syn
         WHERE amount >= 0 AND ordered_at <= '2024-04-30') s   -- up to holdout_end (00:00), not its whole day
 GROUP BY customer_id
HAVING min(day) <= '2024-03-31';
CREATE TABLE bt_syn_pred AS
SELECT h.*, hvc.expected_purchases(m.m, 30, h.x, h.t_x, h.t) AS predicted, t - t_x AS gap,
       hvc.p_no_purchase(m.m, 30, h.x, h.t_x, h.t) AS churn
  FROM bt_syn_sum h, (SELECT hvc.bgnbd_fit(x, t_x, t) AS m FROM bt_syn_sum WHERE t > 0) m;
SELECT count(*) AS customers, sum(actual) AS actual, count(*) FILTER (WHERE actual = 0) AS no_purchase,
       count(DISTINCT x) AS frequencies, count(*) FILTER (WHERE t = 0) AS age_zero,
       count(*) FILTER (WHERE predicted IS NULL) AS unpredicted
  FROM bt_syn_pred;
SELECT (hvc.bgnbd_fit(x, t_x, t)).converged FROM bt_syn_sum WHERE t > 0;
SELECT hvc.register_source('public.bt_syn', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
SELECT b.frequency_bin, b.customers = h.customers AS same_customers, b.actual_purchases = h.actual AS same_actual,
       abs(b.predicted_purchases - h.predicted) < 1e-9 AS same_prediction,
       abs(b.predicted_mean - h.predicted / h.customers) < 1e-12 AS same_mean
  FROM hvc.backtest('2024-03-31', '2024-04-30') b
  LEFT JOIN (SELECT CASE WHEN x >= 7 THEN '7+' ELSE x::text END AS frequency_bin, count(*) AS customers,
                    sum(actual) AS actual, sum(predicted) AS predicted
               FROM bt_syn_pred GROUP BY 1
             UNION ALL
             SELECT 'all', count(*), sum(actual), sum(predicted) FROM bt_syn_pred) h USING (frequency_bin);
CREATE TABLE bt_syn_top AS
SELECT sum(p.actual * greatest(0, least(1, (0.2 * (SELECT count(*) FROM bt_syn_pred)
                                             - (SELECT count(*) FROM bt_syn_pred q WHERE q.predicted > p.predicted))
                                            / (SELECT count(*) FROM bt_syn_pred q WHERE q.predicted = p.predicted))))
       / sum(p.actual) AS top20
  FROM bt_syn_pred p;
SELECT abs(s.predicted_purchases - h.predicted) < 1e-9 AS same_total,
       abs(s.bias_pct - 100 * (h.predicted - h.actual) / h.actual) < 1e-9 AS same_bias,
       abs(s.mae - h.mae) < 1e-12 AS same_mae,
       abs(s.recency_auc - h.recency_auc) < 1e-12 AS same_recency_auc,
       abs(s.churn_auc - h.churn_auc) < 1e-12 AS same_churn_auc,
       abs(s.top20_share - (SELECT top20 FROM bt_syn_top)) < 1e-12 AS same_top20,
       round(s.churn_auc::numeric, 4) AS churn_auc, round(s.recency_auc::numeric, 4) AS recency_auc,
       round(s.top20_share::numeric, 4) AS top20_share
  FROM hvc.backtest_summary('2024-03-31', '2024-04-30') s,
       (SELECT sum(predicted) AS predicted, sum(actual) AS actual, avg(abs(actual - predicted)) AS mae,
               (SELECT (count(*) FILTER (WHERE p.gap > n.gap) + 0.5 * count(*) FILTER (WHERE p.gap = n.gap))::float8 / count(*)
                  FROM bt_syn_pred p, bt_syn_pred n WHERE p.actual = 0 AND n.actual > 0) AS recency_auc,
               (SELECT (count(*) FILTER (WHERE p.churn > n.churn) + 0.5 * count(*) FILTER (WHERE p.churn = n.churn))::float8 / count(*)
                  FROM bt_syn_pred p, bt_syn_pred n WHERE p.actual = 0 AND n.actual > 0) AS churn_auc
          FROM bt_syn_pred) h;

-- Bad arguments: clear errors.
SELECT * FROM hvc.backtest('2024-03-01', '2024-01-31');
SELECT * FROM hvc.backtest('2024-01-31 08:00', '2024-01-31 20:00');
SELECT * FROM hvc.backtest(NULL, '2024-01-31');
SELECT * FROM hvc.backtest('2024-01-31', 'infinity');
SELECT * FROM hvc.backtest('2024-01-31', '2024-03-01', 'arima');
UPDATE hvc.config SET model = 'none';
SELECT * FROM hvc.backtest_summary('2024-01-31', '2024-03-01');
SELECT model, customers FROM hvc.backtest_summary('2024-01-31', '2024-03-01', 'pareto_nbd');

-- Every refresh backtests: here (as of 2024-04-30) on its last 30 days,
-- the same split.  With model none there is nothing to backtest (and
-- nothing said).
UPDATE hvc.config SET validation_days = 30;
CALL hvc.refresh(as_of => '2024-04-30');
SELECT count(*) AS stored FROM hvc.model_validation;
SELECT message NOT LIKE '%backtest%' AS nothing_said FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
UPDATE hvc.config SET model = 'bgnbd';
CALL hvc.refresh(as_of => '2024-04-30');
SELECT v.model, v.customers, v.actual_purchases, v.calibration_end, v.holdout_end, v.validation_days,
       v.refresh_id = (SELECT max(refresh_id) FROM hvc.refresh_log) AS this_refresh,
       abs(v.predicted_purchases - s.predicted_purchases) < 1e-9 AS same_prediction,
       v.mae = s.mae AND v.bias_pct = s.bias_pct AND v.top20_share = s.top20_share
           AND v.recency_auc = s.recency_auc AND v.churn_auc = s.churn_auc AS same_figures
  FROM hvc.model_validation v, hvc.backtest_summary('2024-03-31', '2024-04-30') s;
SELECT v.frequency_bin, v.customers, v.actual_purchases, v.predicted_purchases = b.predicted_purchases AS same_prediction
  FROM hvc.model_validation_by_frequency v
  JOIN hvc.backtest('2024-03-31', '2024-04-30') b USING (frequency_bin);
-- the refresh's message says what it found
SELECT substring(message FROM '; (backtest over [^,]*, [^,]*,)') AS said
  FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;

-- A second refresh within validation_interval_days reuses it; a full one
-- backtests again; validation_days = 0 and a history too short for the
-- holdout skip it and say so (the views keep the last backtest).
CALL hvc.refresh(as_of => '2024-04-30');
SELECT message LIKE '%backtest of refresh % reused%' AS reused FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT refresh_id = (SELECT max(refresh_id) - 1 FROM hvc.refresh_log) AS shows_previous FROM hvc.model_validation;
CALL hvc.refresh(as_of => '2024-04-30', "full" => true);
SELECT refresh_id = (SELECT max(refresh_id) FROM hvc.refresh_log) AS shows_new FROM hvc.model_validation;
UPDATE hvc.config SET validation_days = 0;
CALL hvc.refresh(as_of => '2024-04-30');
SELECT message LIKE '%no backtest (validation_days = 0)' AS said_so FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
UPDATE hvc.config SET validation_days = 125;
CALL hvc.refresh(as_of => '2024-04-30');
SELECT message LIKE '%no backtest: a history of 120 days is too short for a holdout of 125 days' AS said_so
  FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
-- automatic: a quarter of the 120-day history (the first purchase is on
-- 2024-01-01): 30 days, the same split again (full: not reused)
UPDATE hvc.config SET validation_days = NULL;
CALL hvc.refresh(as_of => '2024-04-30', "full" => true);
SELECT validation_days, calibration_end, holdout_end, customers, actual_purchases FROM hvc.model_validation;
SELECT count(*) AS stored_refreshes FROM hvc.model_validation_store;
-- settings: nonsense is refused
UPDATE hvc.config SET validation_days = -1;
UPDATE hvc.config SET validation_interval_days = NULL;
SELECT validation_days, validation_interval_days FROM hvc.config;

-- CDNOW: 39-week calibration ending 1997-09-30, 39-week holdout to
-- 1998-06-30, purchases = distinct purchase days, in weeks.
\set have_cdnow `test -r "$HVC_CDNOW_DIR/CDNOW_sample.txt" && echo true || echo false`
\if :have_cdnow
CREATE TABLE bt_cdnow_raw (line text);
\copy bt_cdnow_raw FROM PROGRAM 'tr -d "\r" < "$HVC_CDNOW_DIR/CDNOW_sample.txt"'
CREATE VIEW bt_cdnow_sales AS
SELECT f[2]::int AS customer_id, to_date(f[3], 'YYYYMMDD') AS ordered_at, f[5]::numeric(10,2) AS amount
  FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM bt_cdnow_raw) r;
SELECT hvc.register_source('public.bt_cdnow_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week', timezone = 'UTC', validation_days = 273;
-- reference (clv-models.md §9.3): bin, customers, actual mean, BG/NBD mean, Pareto/NBD mean
CREATE TABLE bt_cdnow_ref (frequency_bin text, customers bigint, actual_mean float8, bgnbd_mean float8, pnbd_mean float8);
INSERT INTO bt_cdnow_ref VALUES
    ('0', 1411, 0.2367, 0.2251, 0.1384), ('1', 439, 0.6970, 0.5231, 0.5995),
    ('2', 214, 1.3925, 1.0441, 1.1958), ('3', 100, 1.5600, 1.5203, 1.7138),
    ('4', 62, 2.5323, 2.1639, 2.3983), ('5', 38, 2.9474, 2.6538, 2.9072),
    ('6', 29, 3.8621, 3.5040, 3.8186), ('7+', 64, 6.3594, 6.1572, 6.4031);
CREATE TABLE bt_cdnow_bt AS
SELECT * FROM hvc.backtest('1997-09-30', '1998-06-30', 'bgnbd')
UNION ALL
SELECT * FROM hvc.backtest('1997-09-30', '1998-06-30', 'pareto_nbd');
SELECT b.model, b.frequency_bin, b.customers, round(b.actual_mean::numeric, 4) AS actual_mean,
       round(b.predicted_mean::numeric, 4) AS predicted_mean,
       b.customers = r.customers AND abs(b.actual_mean - r.actual_mean) <= 0.0005
           AND abs(b.predicted_mean - CASE b.model WHEN 'bgnbd' THEN r.bgnbd_mean ELSE r.pnbd_mean END) <= 0.0005 AS matches
  FROM bt_cdnow_bt b JOIN bt_cdnow_ref r USING (frequency_bin)
 ORDER BY b.model, b.frequency_bin;
SELECT model, customers, actual_purchases, round(predicted_purchases::numeric, 1) AS predicted_purchases
  FROM bt_cdnow_bt WHERE frequency_bin = 'all' ORDER BY model;
-- MAE 0.786 / 0.755, top 20 % about 63 %, recency AUC 0.771; churn_risk's
-- AUC (P(no purchase in 39 weeks)) at least 0.75 for BG/NBD
SELECT model, round(bias_pct::numeric, 2) AS bias_pct, round(mae::numeric, 3) AS mae,
       round(churn_auc::numeric, 3) AS churn_auc, round(recency_auc::numeric, 4) AS recency_auc,
       round(top20_share::numeric, 3) AS top20_share,
       churn_auc >= 0.75 AS churn_auc_at_least_075
  FROM (SELECT * FROM hvc.backtest_summary('1997-09-30', '1998-06-30', 'bgnbd')
        UNION ALL
        SELECT * FROM hvc.backtest_summary('1997-09-30', '1998-06-30', 'pareto_nbd')) s
 ORDER BY model;
-- the refresh as of 1998-06-30 with a 273-day holdout is the same backtest
CALL hvc.refresh(as_of => '1998-06-30');
SELECT v.model, v.customers, v.actual_purchases, round(v.predicted_purchases::numeric, 1) AS predicted_purchases,
       v.calibration_end, v.holdout_end, round(v.churn_auc::numeric, 3) AS churn_auc
  FROM hvc.model_validation v;
SELECT count(*) FILTER (WHERE abs(v.predicted_mean - b.predicted_mean) < 1e-9) AS bins_matching
  FROM hvc.model_validation_by_frequency v JOIN bt_cdnow_bt b USING (model, frequency_bin);
DROP VIEW bt_cdnow_sales;
DROP TABLE bt_cdnow_raw, bt_cdnow_ref, bt_cdnow_bt;
\else
\echo CDNOW data not found in $HVC_CDNOW_DIR: the CDNOW backtest is skipped
\endif
-- leave a clean slate for the next test
DROP TABLE bt_sales, bt_syn, bt_syn_sum, bt_syn_pred, bt_syn_top;
DROP EXTENSION hvc CASCADE;
CREATE EXTENSION hvc;
