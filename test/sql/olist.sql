-- Olist on a view with text customer keys and text order ids: the refresh as
-- of 2018-03-01 (56 630 customers) that crashed the backend (use of memory
-- freed by SPI_finish in hvc._fit_models; issue 7) must succeed with every
-- model, and its numbers must agree with plain SQL over the same rows.
-- The data is read in place from $HVC_OLIST_DIR (default ../shared/data/olist
-- relative to the directory the suite runs in); without it this test says so
-- and skips (expected/olist_1.out).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET extra_float_digits = 0;
\setenv HVC_OLIST_FILE `echo "${HVC_OLIST_DIR:-../shared/data/olist}/olist_sales.csv.gz"`
\set have_olist `test -r "$HVC_OLIST_FILE" && echo true || echo false`
\if :have_olist
CREATE TEMP TABLE olist_saved_config AS SELECT * FROM hvc.config;
CREATE TABLE olist_orders (customer text, order_id text, ordered_at timestamp,
                           amount numeric(12,2), status text);
\copy olist_orders FROM PROGRAM 'gzip -dc "$HVC_OLIST_FILE"' WITH (FORMAT csv, HEADER)
-- the whole file, as its README describes it
SELECT count(*) AS orders, count(DISTINCT customer) AS customers, sum(amount) AS total,
       min(ordered_at), max(ordered_at) FROM olist_orders;
-- the business view: orders that were not canceled or unavailable
CREATE VIEW olist_sales AS
SELECT customer, order_id, ordered_at, amount FROM olist_orders
 WHERE status NOT IN ('canceled', 'unavailable');
SELECT hvc.register_source('public.olist_sales', 'customer', 'ordered_at', 'amount',
                           order_id => 'order_id') IS NOT NULL AS registered;
UPDATE hvc.config SET model = 'none', time_unit = 'week', timezone = 'UTC',
                      horizon_months = 12, monthly_discount_rate = 0.01;
CALL hvc.refresh(as_of => '2018-03-01');
SELECT as_of, rows_read, rows_skipped, customers, status
  FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
-- the same counts in plain SQL: every row of the view is read; rows after the
-- as_of moment (2018-03-01 00:00) or without an amount are skipped
SELECT count(*) AS rows_read,
       count(*) FILTER (WHERE ordered_at > '2018-03-01' OR amount IS NULL) AS rows_skipped,
       count(DISTINCT customer) FILTER (WHERE ordered_at <= '2018-03-01' AND amount IS NOT NULL) AS customers,
       sum(amount) FILTER (WHERE ordered_at <= '2018-03-01') AS revenue
  FROM olist_sales;
CREATE TEMP TABLE olist_expected AS
SELECT customer, count(DISTINCT order_id) AS orders, sum(amount) AS revenue,
       count(DISTINCT ordered_at::date) AS purchase_days,
       min(ordered_at) AS first_at, max(ordered_at) AS last_at
  FROM olist_sales WHERE ordered_at <= '2018-03-01' AND amount IS NOT NULL
 GROUP BY customer;
-- every customer agrees with the GROUP BY
SELECT count(*) AS customers, sum(c.revenue) AS revenue, sum(c.orders) AS orders,
       count(*) FILTER (WHERE c.customer_id IS NULL) AS missing,
       count(*) FILTER (WHERE c.orders <> e.orders) AS orders_mismatches,
       count(*) FILTER (WHERE c.revenue <> e.revenue) AS revenue_mismatches,
       count(*) FILTER (WHERE c.frequency <> e.purchase_days - 1) AS frequency_mismatches,
       count(*) FILTER (WHERE c.first_order_at <> e.first_at OR c.last_order_at <> e.last_at) AS date_mismatches
  FROM olist_expected e LEFT JOIN hvc.customers c ON c.customer_id = e.customer;
SELECT (SELECT count(*) FROM hvc.customers) AS snapshot_rows,
       (SELECT count(*) FROM hvc.customers c WHERE NOT EXISTS
          (SELECT FROM olist_expected e WHERE e.customer = c.customer_id)) AS unexpected;
-- the most valuable customers by historic CLV (= revenue: no margin) ...
SELECT customer_id, orders, revenue, value_rank, tier FROM hvc.customers
 WHERE value_rank <= 3 ORDER BY value_rank;
SELECT customer, orders, revenue FROM olist_expected ORDER BY revenue DESC LIMIT 3;
-- ... and the most frequent ones
SELECT customer_id, orders, revenue, frequency FROM hvc.customers
 ORDER BY orders DESC, customer_id LIMIT 3;
SELECT customer, orders, revenue, purchase_days - 1 AS frequency FROM olist_expected
 ORDER BY orders DESC, customer LIMIT 3;

-- BG/NBD + Gamma-Gamma on 56 630 customers, 96.7 % of whom bought once.
UPDATE hvc.config SET model = 'bgnbd';
CALL hvc.refresh(as_of => '2018-03-01');
SELECT rows_read, rows_skipped, customers, status FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT model, customers, converged FROM hvc.model_fit
 WHERE refresh_id = (SELECT max(refresh_id) FROM hvc.model_fit) ORDER BY fit_id;
-- repeat customers (more than one purchase day) are Gamma-Gamma's input
SELECT count(*) AS repeat_customers FROM olist_expected WHERE purchase_days > 1 AND revenue > 0;
-- The log-likelihood the fit reports, recomputed in SQL from FHL (2005)
-- eq. 6 at the fitted parameters (ratios of gamma functions as finite
-- products: x <= 8 here), and no larger one at any of 8 nearby points: the
-- fit is a maximum of the right function.
CREATE TEMP TABLE olist_bg AS
SELECT r, alpha, a, b, log_likelihood FROM hvc.model_fit
 WHERE model = 'bgnbd' AND refresh_id = (SELECT max(refresh_id) FROM hvc.model_fit);
CREATE FUNCTION pg_temp.bgnbd_ll(r float8, alpha float8, a float8, b float8) RETURNS float8
LANGUAGE sql STABLE AS $$
  SELECT sum(ln(
           g.rx * g.bb * alpha ^ r / (alpha + c.age) ^ (r + c.frequency)
           + CASE WHEN c.frequency > 0
                  THEN g.rx * g.bb * a / (b + c.frequency - 1) * alpha ^ r
                       / (alpha + c.recency) ^ (r + c.frequency)
                  ELSE 0 END))
    FROM hvc.customers c,
         LATERAL (SELECT coalesce(exp(sum(ln(r + i))), 1) AS rx,
                         coalesce(exp(sum(ln((b + i) / (a + b + i)))), 1) AS bb
                    FROM generate_series(0, c.frequency - 1) i) g
$$;
SELECT abs(pg_temp.bgnbd_ll(r, alpha, a, b) - log_likelihood) < 1e-6 * abs(log_likelihood) AS ll_matches,
       round(log_likelihood::numeric, 2) AS ll
  FROM olist_bg;
SELECT count(*) AS nearby_points,
       count(*) FILTER (WHERE pg_temp.bgnbd_ll(r * d[1], alpha * d[2], a * d[3], b * d[4])
                              <= log_likelihood) AS not_better
  FROM olist_bg,
       (VALUES (ARRAY[1.01, 1, 1, 1]), (ARRAY[0.99, 1, 1, 1]), (ARRAY[1, 1.01, 1, 1]),
               (ARRAY[1, 0.99, 1, 1]), (ARRAY[1, 1, 1.01, 1]), (ARRAY[1, 1, 0.99, 1]),
               (ARRAY[1, 1, 1, 1.01]), (ARRAY[1, 1, 1, 0.99])) p(d);
-- P(alive) of every customer from FHL eq. 11 at the fitted parameters
SELECT count(*) AS customers,
       count(*) FILTER (WHERE abs(c.p_alive - CASE WHEN c.frequency = 0 THEN 1
                  ELSE 1 / (1 + m.a / (m.b + c.frequency - 1)
                                * ((m.alpha + c.age) / (m.alpha + c.recency)) ^ (m.r + c.frequency))
                  END) > 1e-9) AS p_alive_mismatches,
       count(*) FILTER (WHERE c.predicted_clv IS NULL) AS missing_clv,
       count(*) FILTER (WHERE c.frequency = 0) AS one_time_buyers,
       count(*) FILTER (WHERE c.expected_next_order_at IS NULL) AS no_next_order_date
  FROM hvc.customers c, olist_bg m;
-- the most valuable customers by predicted CLV are repeat buyers
SELECT count(*) FILTER (WHERE frequency > 0) AS repeat_buyers_in_top_10 FROM hvc.customers WHERE value_rank <= 10;

-- Pareto/NBD on the same customers
UPDATE hvc.config SET model = 'pareto_nbd';
CALL hvc.refresh(as_of => '2018-03-01');
SELECT rows_read, rows_skipped, customers, status FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT model, customers, converged FROM hvc.model_fit
 WHERE refresh_id = (SELECT max(refresh_id) FROM hvc.model_fit) ORDER BY fit_id;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE p_alive IS NULL OR predicted_clv IS NULL) AS missing_predictions,
       count(*) FILTER (WHERE p_alive < 0 OR p_alive > 1 OR predicted_clv < 0) AS out_of_range
  FROM hvc.customers;

-- leave the configuration as it was
UPDATE hvc.config c SET model = s.model, time_unit = s.time_unit, timezone = s.timezone,
       horizon_months = s.horizon_months, monthly_discount_rate = s.monthly_discount_rate
  FROM olist_saved_config s;
\else
\echo Olist data not found in $HVC_OLIST_DIR (default ../shared/data/olist): the Olist refresh test is skipped
\endif
