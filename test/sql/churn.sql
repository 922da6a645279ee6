-- churn_risk is the probability of no purchase in the next
-- hvc.config.churn_window_days (issue 8 item 3); hvc.p_no_purchase; the
-- recalibrated hvc.at_risk (threshold and at_risk_share); the priority's
-- churn part by percentile; horizon_days; hvc.current_model().
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
SET extra_float_digits = 0;

-- ---------------------------------------------------------------------------
-- 1. hvc.p_no_purchase, hand values (Python, clv-models.md §9.1).
-- BG/NBD (0.243, 4.414, 0.793, 2.426), x = 2, t_x = 30.43, T = 38.86, tau = 39:
--   P(alive) = 0.726578570, P0 = 1 - 0.726578570 (1 - (43.274/82.274)^2.243) = 0.4453728621
-- x = 0, T = 38.86: P0 = (43.274/82.274)^0.243 = 0.8554494592 (P(alive) = 1)
-- x = 0, T = 10:    P0 = (14.414/53.414)^0.243 = 0.7273851794 (smaller: bought later)
-- ---------------------------------------------------------------------------
SELECT round(hvc.p_no_purchase(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd,
                               39, 2, 30.43, 38.86)::numeric, 10) AS bgnbd_x2,
       round(hvc.p_no_purchase(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd,
                               39, 0, 0, 38.86)::numeric, 10) AS bgnbd_x0_t38,
       round(hvc.p_no_purchase(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd,
                               39, 0, 0, 10)::numeric, 10) AS bgnbd_x0_t10,
       hvc.p_alive(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd, 0, 0, 38.86) AS p_alive_x0;
-- Pareto/NBD: (1 - P0) / P(alive) = int_0^tau A/B (B/(B+u))^(A+1) (C/(C+u))^s du.
-- CDNOW fit (0.553, 10.580, 0.606, 11.656), x = 0, T = 31, tau = 39: 0.2564491798
-- (Simpson, 2e5 panels).  alpha = beta = 8, r 0.7, s 1.3, x = 3, T = 20, tau = 15:
-- exactly A/(A+s) (1 - (B/(B+tau))^(A+s)) = 3.7/5 (1 - (28/43)^5) = 0.6533677491.
WITH m AS (SELECT ROW(0.553, 10.580, 0.606, 11.656, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.pareto_nbd AS cdnow,
                  ROW(0.7, 8, 1.3, 8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.pareto_nbd AS eq)
SELECT round(((1 - hvc.p_no_purchase(cdnow, 39, 0, 0, 31)) / hvc.p_alive(cdnow, 0, 0, 31))::numeric, 10) AS integral_cdnow,
       round(((1 - hvc.p_no_purchase(eq, 15, 3, 12, 20)) / hvc.p_alive(eq, 3, 12, 20))::numeric, 10) AS integral_alpha_eq_beta,
       round((3.7 / 5 * (1 - (28 / 43.0) ^ 5))::numeric, 10) AS closed_form,
       hvc.p_no_purchase(eq, 0, 3, 12, 20) AS tau_0
  FROM m;
-- no parameters: NULL; bad arguments: invalid_parameter_value
SELECT hvc.p_no_purchase(ROW(NULL, NULL, NULL, NULL, NULL, 0, false, 0, 'none', NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd, 4, 1, 1, 2) AS no_params;
\set VERBOSITY sqlstate
SELECT hvc.p_no_purchase(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd, -1, 1, 1, 2);
SELECT hvc.p_no_purchase(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd, 'infinity', 1, 1, 2);
SELECT hvc.p_no_purchase(ROW(0.553, 10.58, 0.606, 11.656, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.pareto_nbd, 4, -1, 0, 2);
SELECT hvc.p_no_purchase(ROW(0.553, 10.58, 0.606, 11.656, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.pareto_nbd, 4, 2, 3, 2);
SELECT hvc.p_no_purchase(ROW(-1, 10.58, 0.606, 11.656, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.pareto_nbd, 4, 2, 1, 2);
-- the new settings are checked
UPDATE hvc.config SET churn_window_days = 0;
UPDATE hvc.config SET at_risk_share = 0;
UPDATE hvc.config SET at_risk_share = 1.5;
UPDATE hvc.config SET horizon_days = 0;
UPDATE hvc.config SET validation_days = -1;   -- 0 is allowed: no backtest
UPDATE hvc.config SET validation_interval_days = 0;
\set VERBOSITY default
SELECT churn_window_days, at_risk_share, at_risk_threshold, horizon_days, validation_days, validation_interval_days
  FROM hvc.config;

-- ---------------------------------------------------------------------------
-- 2. A shop generated from the BG/NBD story (deterministic: md5-based
-- uniforms): 400 customers, exponential gaps with Gamma rates, a dropout
-- chance after each purchase.  Refreshed as of 2025-01-01 in weeks.
-- ---------------------------------------------------------------------------
CREATE FUNCTION ch_u(i int, j int) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT (('x' || substr(md5(i || ':' || j), 1, 8))::bit(32)::bigint + 0.5) / 4294967296.0 $$;
CREATE TABLE ch_sales AS
WITH steps AS (
    SELECT c, k,
           date '2024-01-01' + floor(300 * ch_u(c, 0))::int AS first_day,
           -ln(ch_u(c, 10 + k)) / (-ln(ch_u(c, 1)) * 0.05) AS gap,
           ch_u(c, 200 + k) < 0.05 + 0.25 * ch_u(c, 2) AS dies_after
      FROM generate_series(1, 400) c, generate_series(0, 40) k
), walk AS (
    SELECT c, k, first_day,
           coalesce(sum(gap) OVER w - gap, 0) AS t,
           coalesce(bool_or(dies_after) OVER (PARTITION BY c ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS dead
      FROM steps
    WINDOW w AS (PARTITION BY c ORDER BY k)
)
SELECT c AS customer_id, first_day + floor(CASE WHEN k = 0 THEN 0 ELSE t END)::int AS ordered_at,
       round((15 + 60 * ch_u(c, 3) * (0.7 + 0.6 * ch_u(c, 300 + k)))::numeric, 2) AS amount
  FROM walk
 WHERE NOT dead AND first_day + floor(CASE WHEN k = 0 THEN 0 ELSE t END)::int < date '2025-03-01';
SELECT count(*) AS rows, count(DISTINCT customer_id) AS customers FROM ch_sales WHERE ordered_at < '2025-01-01';
SELECT hvc.register_source('public.ch_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
SET client_min_messages = warning;
CALL hvc.refresh(as_of => '2025-01-01');
SELECT refresh_id AS first_refresh FROM hvc.snapshot_info \gset
SELECT model, value_basis, fallback, purchase_fit_id IS NOT NULL AS has_fit FROM hvc.snapshot_info;

-- hvc.current_model(): the fits the snapshot's predictions were made with
SELECT f.model, f.converged, f.time_unit, f.source,
       f.fit_id IN (i.purchase_fit_id, i.spend_fit_id) AS used
  FROM hvc.current_model() f, hvc.snapshot_info i;
CREATE TEMP VIEW m AS
SELECT (SELECT ROW(f.r, f.alpha, f.a, f.b, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd
          FROM hvc.current_model() f WHERE f.model = 'bgnbd') AS bg,
       (SELECT ROW(f.p, f.q, f.v, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.gamma_gamma
          FROM hvc.current_model() f WHERE f.model = 'gamma_gamma') AS gg;

-- churn_risk = P(no purchase in 90 days = 90/7 weeks), for every customer
SELECT count(*) AS customers,
       count(*) FILTER (WHERE abs(c.churn_risk - hvc.p_no_purchase(m.bg, 90 / 7.0, c.frequency, c.recency, c.age)) > 1e-12) AS mismatches,
       count(*) FILTER (WHERE c.churn_risk > 1 - c.p_alive) AS above_1_minus_p_alive
  FROM hvc.customers c, m;
-- One-time buyers: P(alive) = 1 under BG/NBD, yet churn_risk is strictly
-- between 0 and 1 and grows with the time since their purchase.
SELECT count(*) AS one_time_buyers, min(p_alive) AS min_p_alive, max(p_alive) AS max_p_alive,
       min(churn_risk) > 0 AS risk_above_0, max(churn_risk) < 1 AS risk_below_1,
       bool_and(churn_risk > prev_risk OR age = prev_age) AS grows_with_age,
       count(DISTINCT round(churn_risk::numeric, 9)) > 20 AS distinct_risks
  FROM (SELECT p_alive, churn_risk, age, lag(churn_risk, 1, -1.0) OVER w AS prev_risk, lag(age) OVER w AS prev_age
          FROM hvc.customers WHERE frequency = 0 WINDOW w AS (ORDER BY age, churn_risk)) x;
-- another window, another risk
UPDATE hvc.config SET churn_window_days = 30;
CALL hvc.refresh(as_of => '2025-01-01');
SELECT count(*) FILTER (WHERE abs(c.churn_risk - hvc.p_no_purchase(m.bg, 30 / 7.0, c.frequency, c.recency, c.age)) > 1e-12) AS mismatches_30_days
  FROM hvc.customers c, m;
UPDATE hvc.config SET churn_window_days = 90;
CALL hvc.refresh(as_of => '2025-01-01');

-- churn_percentile is the cume_dist of churn_risk over all customers
SELECT count(*) FILTER (WHERE s.churn_percentile <> x.cd) AS mismatches, max(s.churn_percentile) AS max_pct
  FROM hvc.customer_snapshot s
  JOIN (SELECT customer_id, cume_dist() OVER (ORDER BY churn_risk) AS cd FROM hvc.customer_snapshot) x USING (customer_id);

-- ---------------------------------------------------------------------------
-- 3. hvc.at_risk: churn_risk >= at_risk_threshold and among the riskiest
-- at_risk_share of the high-value customers (by churn_risk, ties by value rank).
-- ---------------------------------------------------------------------------
CREATE TEMP VIEW expected_at_risk AS
SELECT h.customer_id
  FROM (SELECT s.customer_id, s.churn_risk,
               row_number() OVER (ORDER BY s.churn_risk DESC, s.value_rank) AS k, count(*) OVER () AS n
          FROM hvc.customer_snapshot s WHERE s.is_high_value) h,
       hvc.config c
 WHERE h.churn_risk >= c.at_risk_threshold AND h.k <= floor(c.at_risk_share * h.n);
SELECT (SELECT count(*) FROM hvc.customer_snapshot WHERE is_high_value) AS high_value,
       (SELECT count(*) FROM hvc.customer_snapshot WHERE is_high_value AND churn_risk >= 0.5) AS high_value_risk_over_half,
       (SELECT count(*) FROM hvc.at_risk) AS at_risk,
       (SELECT count(*) FROM (SELECT customer_id FROM hvc.at_risk EXCEPT SELECT customer_id FROM expected_at_risk
                              UNION ALL
                              SELECT customer_id FROM expected_at_risk EXCEPT SELECT customer_id FROM hvc.at_risk) d) AS differences,
       (SELECT bool_and(risk_basis = 'churn_risk' AND churn_risk >= at_risk_threshold) FROM hvc.at_risk) AS all_over_threshold;
-- the share caps the list; the threshold cuts it
UPDATE hvc.config SET at_risk_share = 0.1, at_risk_threshold = 0;
SELECT count(*) AS at_risk_share_01 FROM hvc.at_risk;
UPDATE hvc.config SET at_risk_share = 1, at_risk_threshold = 0.5;
SELECT count(*) AS at_risk_share_1 FROM hvc.at_risk;
UPDATE hvc.config SET at_risk_share = 0.2, at_risk_threshold = 0.5;
-- The share is of the high-value customers the refresh counted
-- (snapshot_info.high_value_customers): the view reads only those it may
-- list (16 of 80 here).
SELECT i.high_value_customers,
       i.high_value_customers = (SELECT count(*) FROM hvc.customer_snapshot WHERE is_high_value) AS counted_right
  FROM hvc.snapshot_info i;
UPDATE hvc.snapshot_info SET high_value_customers = 40;    -- half: floor(0.2 * 40) = 8
SELECT count(*) AS at_risk_of_40,
       count(*) FILTER (WHERE customer_id IN (SELECT customer_id FROM expected_at_risk)) AS the_riskiest
  FROM hvc.at_risk;
-- The view reads the snapshot once, for the customers it may list: the
-- count is the refresh's (a fallback count of its own was never run, but
-- was priced three times over, and at 500 000 customers the estimate made
-- every read by a BI tool JIT-compile).
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/include/plan_count.sql
SELECT pg_temp.plan_count('SELECT * FROM hvc.at_risk', '"Relation Name": "customer_snapshot"') AS at_risk_snapshot_scans;
UPDATE hvc.snapshot_info SET high_value_customers = 80;
-- alerts follow hvc.at_risk: at the first refresh of this source everyone on it was new
SELECT a.customers = (SELECT count(*) FROM hvc.at_risk) AS newly_at_risk_is_the_list
  FROM hvc.alerts a
 WHERE a.kind = 'newly_at_risk'
   AND a.refresh_id = :first_refresh;

-- ---------------------------------------------------------------------------
-- 4. hvc.priority: churn = the churn_risk percentile (cannot saturate).
-- ---------------------------------------------------------------------------
SELECT count(*) AS customers,
       count(*) FILTER (WHERE p.churn_part <> round((0.35 * s.churn_percentile
                                                     * (1 - (s.value_rank - 1)::float8 / 400))::numeric, 4)::float8) AS mismatches,
       count(*) FILTER (WHERE s.churn_percentile = 1) AS customers_at_full_churn,
       count(*) FILTER (WHERE s.churn_risk >= 0.5) AS customers_risk_over_half
  FROM hvc.customer_snapshot s, hvc.priority(s.customer_id) p;

-- ---------------------------------------------------------------------------
-- 5. horizon_days.  NULL: 12 months of 4.345 weeks.  365: E[Y(365/7 weeks)],
-- and CLV = E[M] (sum over 11 whole months of f = 30.4375/7 weeks of
-- (E[Y(k f)] - E[Y((k-1) f)]) / 1.01^k + (E[Y(365/7)] - E[Y(11 f)]) / 1.01^12).
-- ---------------------------------------------------------------------------
SELECT count(*) FILTER (WHERE abs(c.predicted_orders - hvc.expected_purchases(m.bg, 12 * 4.345, c.frequency, c.recency, c.age)) > 1e-9) AS months_mismatches
  FROM hvc.customers c, m;
UPDATE hvc.config SET horizon_days = 365;
CALL hvc.refresh(as_of => '2025-01-01');
CREATE TEMP TABLE week_365 AS SELECT customer_id, predicted_orders, predicted_clv FROM hvc.customers;
SELECT count(*) FILTER (WHERE abs(c.predicted_orders - hvc.expected_purchases(m.bg, 365 / 7.0, c.frequency, c.recency, c.age)) > 1e-9) AS orders_mismatches,
       count(*) FILTER (WHERE abs(c.predicted_clv - round((hvc.expected_order_value(m.gg, c.frequency, c.monetary_value) * d.disc)::numeric, 2)) > 0.01) AS clv_mismatches,
       count(*) FILTER (WHERE c.predicted_clv IS NULL) AS clv_null
  FROM hvc.customers c, m,
       LATERAL (SELECT sum((hvc.expected_purchases(m.bg, k * 30.4375 / 7, c.frequency, c.recency, c.age)
                            - hvc.expected_purchases(m.bg, (k - 1) * 30.4375 / 7, c.frequency, c.recency, c.age)) / 1.01 ^ k)
                       + (hvc.expected_purchases(m.bg, 365 / 7.0, c.frequency, c.recency, c.age)
                          - hvc.expected_purchases(m.bg, 11 * 30.4375 / 7, c.frequency, c.recency, c.age)) / 1.01 ^ 12 AS disc
                  FROM generate_series(1, 11) k) d;
-- the same horizon in days: the daily model gives the same predictions
-- (its fit is the weekly one, alpha x 7); 12 months of 30 days do not.
UPDATE hvc.config SET time_unit = 'day';
CALL hvc.refresh(as_of => '2025-01-01');
SELECT max(abs(c.predicted_orders - w.predicted_orders) / w.predicted_orders) < 1e-6 AS same_orders,
       max(abs(c.predicted_clv - w.predicted_clv)) <= 0.01 AS same_clv
  FROM hvc.customers c JOIN week_365 w USING (customer_id);
UPDATE hvc.config SET horizon_days = NULL;
CALL hvc.refresh(as_of => '2025-01-01');
SELECT max(abs(c.predicted_orders - w.predicted_orders) / w.predicted_orders) > 0.01 AS months_differ
  FROM hvc.customers c JOIN week_365 w USING (customer_id);

-- no model: no fits, current_model() is empty
UPDATE hvc.config SET model = 'none', time_unit = 'week';
CALL hvc.refresh(as_of => '2025-01-01');
SELECT count(*) AS current_fits FROM hvc.current_model();
SELECT model, value_basis, purchase_fit_id, spend_fit_id FROM hvc.snapshot_info;
RESET client_min_messages;
UPDATE hvc.config SET model = 'bgnbd';
