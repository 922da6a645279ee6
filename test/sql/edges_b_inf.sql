-- The BG/NBD and MBG/NBD "nobody drops out" limit reached with b -> infinity
-- (issue 8 item 1; clv-models.md §9.2).  The mean dropout probability
-- a/(a+b) of the Beta(a, b) mixing distribution vanishes either with a -> 0
-- (edges.sql) or with b -> infinity; both limits are the NBD model:
--     P(alive) = 1,  E[Y(t) | x, T] = (r + x) t / (alpha + T),
--     P0(tau | x, T) = ((alpha + T) / (alpha + T + tau))^(r + x).
-- When the full fit goes b -> inf, hvc.model_fit says edge 'b->inf', a and b
-- are NULL (a is not identified, b is infinite), only r and alpha have
-- standard errors, and the predictions equal those closed forms.  A fit
-- whose a and b both run off with a/(a+b) fixed (everyone has the same
-- dropout probability) is another edge: 'a->inf,b->inf', a and b kept,
-- no standard error for a.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set SHOW_CONTEXT never
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'day', horizon_months = 12, horizon_days = NULL;

-- Ten customers; customer c buys every 3 + (37 c mod 60) days from day
-- (13 c mod period) of 2024 until 2025-06-30, except customer 7, who stops
-- after day 321 (one dropout among ten: not enough for a dropout process).
CREATE TABLE binf_shop (customer_id int, ordered_at date, amount numeric(10,2));
INSERT INTO binf_shop
SELECT c, date '2024-01-01' + d, 20 + (7 * c) % 50 + (d % 5) * 3
  FROM generate_series(1, 10) c,
       LATERAL (SELECT 3 + (37 * c) % 60 AS period) p,
       LATERAL generate_series((13 * c) % p.period,
                               CASE WHEN c = 7 THEN 321 ELSE date '2025-06-30' - date '2024-01-01' END,
                               p.period) d;
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers FROM binf_shop;
SELECT hvc.register_source(source => 'public.binf_shop', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount') IS NOT NULL AS registered;

-- The refresh's fit and predictions against the NBD closed forms (12 months
-- of 30 days = 360 days; the churn window hvc.config.churn_window_days).
CREATE FUNCTION pg_temp.b_inf_check(refresh bigint) RETURNS TABLE (
    model text, edge text, converged boolean, a_null boolean, b_null boolean,
    r_alpha_se boolean, no_a_b_se boolean, customers bigint, null_predictions bigint,
    p_alive_1 boolean, predicted_orders_closed_form boolean, churn_risk_closed_form boolean,
    message_names_edge boolean)
LANGUAGE sql AS $$
    SELECT f.model, f.edge, f.converged, f.a IS NULL, f.b IS NULL,
           f.r_se > 0 AND f.alpha_se > 0, f.a_se IS NULL AND f.b_se IS NULL,
           count(c.*),
           count(*) FILTER (WHERE c.p_alive IS NULL OR c.predicted_orders IS NULL
                              OR c.predicted_clv IS NULL OR c.churn_risk IS NULL),
           bool_and(c.p_alive = 1),
           max(abs(c.predicted_orders - (f.r + c.frequency) * 360 / (f.alpha + c.age))) < 1e-9,
           max(abs(c.churn_risk - ((f.alpha + c.age) / (f.alpha + c.age + cfg.churn_window_days))
                                  ^ (f.r + c.frequency))) < 1e-9,
           (SELECT l.message LIKE '%at the edge b->inf (nobody drops out: predictions use the NBD limit)%'
              FROM hvc.refresh_log l WHERE l.refresh_id = refresh)
      FROM hvc.model_fit f, hvc.customers c, hvc.config cfg
     WHERE f.refresh_id = refresh AND f.model <> 'gamma_gamma'
     GROUP BY f.fit_id, cfg.churn_window_days
$$;

CALL hvc.refresh(as_of => '2025-07-01');
SELECT * FROM pg_temp.b_inf_check((SELECT max(refresh_id) FROM hvc.refresh_log));
UPDATE hvc.config SET model = 'mbgnbd';
CALL hvc.refresh(as_of => '2025-07-01');
SELECT * FROM pg_temp.b_inf_check((SELECT max(refresh_id) FROM hvc.refresh_log));
-- the two limits are the same NBD fit
SELECT count(DISTINCT round(f.r::numeric, 8)) = 1 AS same_r, count(DISTINCT round(f.alpha::numeric, 6)) = 1 AS same_alpha,
       count(DISTINCT round(f.log_likelihood::numeric, 6)) = 1 AS same_ll
  FROM hvc.model_fit f WHERE f.model IN ('bgnbd', 'mbgnbd')
   AND f.refresh_id >= (SELECT max(refresh_id) - 1 FROM hvc.refresh_log);   -- (these two refreshes': not an earlier test's)

-- ---------------------------------------------------------------------------
-- The SQL building blocks: the fits, and the model functions on the fitted
-- composites and on composites built by hand.
-- ---------------------------------------------------------------------------
CREATE TABLE binf_rfm AS
SELECT customer_id, count(*) - 1 AS frequency,
       (max(ordered_at) - min(ordered_at)) / 7.0::float8 AS recency,
       (date '2025-07-01' - min(ordered_at)) / 7.0::float8 AS age
  FROM binf_shop GROUP BY customer_id;
CREATE TABLE binf_fit AS
SELECT hvc.bgnbd_fit(frequency, recency, age) AS bg, hvc.mbgnbd_fit(frequency, recency, age) AS mbg
  FROM binf_rfm;
SELECT (bg).edge AS bg_edge, (bg).a IS NULL AND (bg).b IS NULL AS bg_a_b_null, (bg).converged AS bg_converged,
       (bg).a_se IS NULL AND (bg).b_se IS NULL AND (bg).r_se > 0 AND (bg).alpha_se > 0 AS bg_se,
       (bg).message LIKE 'converged at the edge b->inf (no dropout: NBD limit)%' AS bg_message,
       (mbg).edge AS mbg_edge, (mbg).a IS NULL AND (mbg).b IS NULL AS mbg_a_b_null, (mbg).converged AS mbg_converged
  FROM binf_fit;
SELECT count(*) AS customers,
       bool_and(hvc.p_alive(f.bg, e.frequency, e.recency, e.age) = 1
                AND hvc.p_alive(f.mbg, e.frequency, e.recency, e.age) = 1) AS p_alive_1,
       max(abs(hvc.expected_purchases(f.bg, 52, e.frequency, e.recency, e.age)
               - ((f.bg).r + e.frequency) * 52 / ((f.bg).alpha + e.age))) < 1e-9 AS bg_closed_form,
       max(abs(hvc.expected_purchases(f.mbg, 52, e.frequency, e.recency, e.age)
               - ((f.mbg).r + e.frequency) * 52 / ((f.mbg).alpha + e.age))) < 1e-9 AS mbg_closed_form,
       max(abs(hvc.p_no_purchase(f.bg, 13, e.frequency, e.recency, e.age)
               - (((f.bg).alpha + e.age) / ((f.bg).alpha + e.age + 13)) ^ ((f.bg).r + e.frequency))) < 1e-12 AS p0_closed_form,
       abs(hvc.expected_purchases_new(f.bg, 52) - (f.bg).r * 52 / (f.bg).alpha) < 1e-9 AS new_closed_form,
       bool_and(hvc.time_to_next_purchase(f.bg, e.frequency, e.age) > 0) AS next_purchase
  FROM binf_rfm e, binf_fit f GROUP BY f.bg, f.mbg;
-- by hand: r = 0.5, alpha = 2, a and b NULL with edge 'b->inf' is the NBD
-- model: E[Y(12) | x = 3, T = 10] = (0.5 + 3) * 12 / (2 + 10) = 3.5;
-- without the edge marker a NULL is still "no model"
SELECT hvc.p_alive((0.5, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'b->inf', NULL, NULL, NULL, NULL)::hvc.bgnbd, 3, 5, 10) AS p_alive,
       hvc.expected_purchases((0.5, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'b->inf', NULL, NULL, NULL, NULL)::hvc.bgnbd, 12, 3, 5, 10) AS bg_expected,
       hvc.expected_purchases((0.5, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'b->inf', NULL, NULL, NULL, NULL)::hvc.mbgnbd, 12, 3, 5, 10) AS mbg_expected,
       hvc.p_alive((0.5, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd, 3, 5, 10) AS no_model,
       hvc.p_alive((0.5, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'a->0', NULL, NULL, NULL, NULL)::hvc.bgnbd, 3, 5, 10) AS a_null_is_not_a_0,
       hvc.expected_purchases((0.5, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 's->inf', NULL, NULL, NULL, NULL)::hvc.pareto_nbd, 12, 3, 5, 10) AS pareto_no_model;

-- ---------------------------------------------------------------------------
-- The other edge: customers 2, 5 and 8 stop (after day 300 + 3 c), the rest
-- never do.  The fit's a and b both run off with a/(a+b) about 0.014: the
-- same dropout probability for everyone.  Named 'a->inf,b->inf', a and b
-- kept (the model is continuous there), no SE for a or b.
-- ---------------------------------------------------------------------------
CREATE TABLE same_dropout_rfm AS
SELECT c AS customer_id, count(*) - 1 AS frequency,
       (max(d) - min(d)) / 7.0::float8 AS recency, (date '2025-06-30' - date '2024-01-01' + 1 - min(d)) / 7.0::float8 AS age
  FROM generate_series(1, 10) c,
       LATERAL (SELECT 3 + (37 * c) % 60 AS period) p,
       LATERAL generate_series((13 * c) % p.period,
                               CASE WHEN c % 3 = 2 THEN 300 + 3 * c ELSE date '2025-06-30' - date '2024-01-01' END,
                               p.period) d
 GROUP BY c;
SELECT (f).edge, (f).converged, (f).a > 1e5 AND (f).b > 1e7 AS a_b_large,
       round(((f).a / ((f).a + (f).b))::numeric, 3) AS dropout_probability,
       (f).a_se IS NULL AND (f).b_se IS NULL AND (f).r_se > 0 AS only_r_alpha_se,
       (f).message LIKE 'converged at the edge a->inf,b->inf (the same dropout probability for everyone)%' AS message,
       (SELECT bool_and(hvc.p_alive(f, s.frequency, s.recency, s.age) < 1) FROM same_dropout_rfm s) AS dropout_predicted
  FROM (SELECT hvc.bgnbd_fit(frequency, recency, age) AS f FROM same_dropout_rfm) q;

-- Leave the defaults for the tests that follow.
DROP TABLE binf_rfm, binf_fit, same_dropout_rfm;
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week';
