-- Backtest on a real marketplace where 97 % of customers bought once (Olist,
-- ../shared/data/olist): refreshes at four month-ends all predict every
-- customer, and each one's backtest (the automatic holdout, a quarter of the
-- history) reports the AUC of churn_risk beside that of recency alone.
-- The data is read in place from $HVC_OLIST_DIR (default ../shared/data/olist
-- relative to the directory the suite runs in); without it this test says so
-- and skips (expected/olist_backtest_1.out).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS hvc CASCADE;
CREATE EXTENSION hvc;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\setenv HVC_OLIST_FILE `echo "${HVC_OLIST_DIR:-../shared/data/olist}/olist_sales.csv.gz"`
\set have_olist `test -r "$HVC_OLIST_FILE" && echo true || echo false`
\if :have_olist
CREATE TABLE olbt_orders (customer text, order_id text, ordered_at timestamp,
                          amount numeric(12,2), status text);
\copy olbt_orders FROM PROGRAM 'gzip -dc "$HVC_OLIST_FILE"' WITH (FORMAT csv, HEADER)
SELECT count(*) AS orders, count(DISTINCT customer) AS customers FROM olbt_orders;
-- the business view: orders that were not canceled or unavailable
CREATE VIEW olbt_sales AS
SELECT customer, order_id, ordered_at, amount FROM olbt_orders
 WHERE status NOT IN ('canceled', 'unavailable');
SELECT hvc.register_source('public.olbt_sales', 'customer', 'ordered_at', 'amount',
                           order_id => 'order_id') IS NOT NULL AS registered;
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week', timezone = 'UTC', validation_days = NULL;
CREATE TABLE olbt_predicted (as_of date, customers bigint, predicted bigint);
CALL hvc.refresh(as_of => '2017-12-31');
INSERT INTO olbt_predicted SELECT '2017-12-31', count(*), count(predicted_orders) FROM hvc.customers;
CALL hvc.refresh(as_of => '2018-03-31');
INSERT INTO olbt_predicted SELECT '2018-03-31', count(*), count(predicted_orders) FROM hvc.customers;
CALL hvc.refresh(as_of => '2018-06-30');
INSERT INTO olbt_predicted SELECT '2018-06-30', count(*), count(predicted_orders) FROM hvc.customers;
CALL hvc.refresh(as_of => '2018-08-31');
INSERT INTO olbt_predicted SELECT '2018-08-31', count(*), count(predicted_orders) FROM hvc.customers;
-- every customer predicted at every month-end
SELECT as_of, customers, predicted FROM olbt_predicted ORDER BY as_of;
-- one backtest per refresh: holdout = a quarter of the history since the
-- first order (2016-09-04); churn_risk ranks the customers who will not buy
-- in the holdout better than chance and better than recency alone
SELECT v.holdout_end::date, v.validation_days, v.calibration_end::date, v.customers, v.actual_purchases,
       round(v.predicted_purchases::numeric, 1) AS predicted, round(v.churn_auc::numeric, 3) AS churn_auc,
       round(v.recency_auc::numeric, 3) AS recency_auc, v.churn_auc > 0.5 AS better_than_chance,
       v.churn_auc > v.recency_auc AS churn_beats_recency
  FROM hvc.model_validation_store v ORDER BY v.refresh_id;
-- the views show the last one, and it is hvc.backtest_summary of its split
SELECT v.holdout_end::date, v.customers = s.customers AND v.actual_purchases = s.actual_purchases
           AND abs(v.predicted_purchases - s.predicted_purchases) < 1e-6
           AND abs(v.churn_auc - s.churn_auc) < 1e-9 AND abs(v.recency_auc - s.recency_auc) < 1e-9 AS same_backtest
  FROM hvc.model_validation v, hvc.backtest_summary(timestamptz '2018-08-31' - interval '181 days', '2018-08-31') s;
SELECT frequency_bin, customers, actual_purchases FROM hvc.model_validation_by_frequency;
DROP VIEW olbt_sales;
DROP TABLE olbt_orders, olbt_predicted;
\else
\echo Olist data not found in $HVC_OLIST_DIR: the Olist backtest is skipped
\endif
-- leave a clean slate for the next test
DROP EXTENSION hvc CASCADE;
CREATE EXTENSION hvc;
