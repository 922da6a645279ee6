-- Edges of the parameter space are answers (issue 8 item 1): a shop whose
-- customers never drop out.  BG/NBD goes to a -> 0 and Pareto/NBD to
-- s -> 0; both are then the NBD model (clv-models.md §9.2):
--     P(alive) = 1,  E[Y(t) | x, T] = (r + x) t / (alpha + T).
-- Every refresh converges at that edge, hvc.model_fit names it (a = 0,
-- b NULL: not identified; no SE for a, b), and the predictions are never
-- NULL: they equal the closed form computed here in SQL.  Also: frequency
-- is bigint, so count(*) - 1 goes straight into the fits.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set SHOW_CONTEXT never
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'day', horizon_months = 12;

-- 400 customers; customer c buys every 3 + (37 c mod 60) days from day
-- (13 c mod period) of 2024 until 2025-06-30: nobody ever stops buying.
CREATE TABLE edge_shop (customer_id int, ordered_at date, amount numeric(10,2));
INSERT INTO edge_shop
SELECT c, date '2024-01-01' + d, 20 + (7 * c) % 50 + (d % 5) * 3
  FROM generate_series(1, 400) c,
       LATERAL (SELECT 3 + (37 * c) % 60 AS period) p,
       LATERAL generate_series((13 * c) % p.period, date '2025-06-30' - date '2024-01-01', p.period) d;
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers FROM edge_shop;

SELECT hvc.register_source(source => 'public.edge_shop', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount') IS NOT NULL AS registered;

-- The closed form of the NBD limit, from the fit the refresh recorded.
CREATE FUNCTION pg_temp.nbd_check(refresh bigint) RETURNS TABLE (
    model text, edge text, converged boolean, a_zero boolean, b_or_beta_null boolean,
    r_alpha_se boolean, no_dropout_se boolean, customers bigint, null_predictions bigint,
    p_alive_1 boolean, predicted_orders_closed_form boolean, message_names_edge boolean)
LANGUAGE sql AS $$
    SELECT f.model, f.edge, f.converged,
           coalesce(f.a, f.s) = 0, f.b IS NULL AND f.beta IS NULL,
           f.r_se > 0 AND f.alpha_se > 0,
           f.a_se IS NULL AND f.b_se IS NULL AND f.s_se IS NULL AND f.beta_se IS NULL,
           count(c.*),
           count(*) FILTER (WHERE c.p_alive IS NULL OR c.predicted_orders IS NULL
                              OR c.predicted_clv IS NULL OR c.churn_risk IS NULL),
           bool_and(c.p_alive = 1),
           -- E[Y(12 months of 30 days)] = (r + x) 360 / (alpha + T)
           max(abs(c.predicted_orders - (f.r + c.frequency) * 360 / (f.alpha + c.age))) < 1e-9,
           (SELECT l.message LIKE '%at the edge ' || f.edge || ' (nobody drops out: predictions use the NBD limit)%'
              FROM hvc.refresh_log l WHERE l.refresh_id = refresh)
      FROM hvc.model_fit f, hvc.customers c
     WHERE f.refresh_id = refresh AND f.model <> 'gamma_gamma'
     GROUP BY f.fit_id
$$;

CALL hvc.refresh(as_of => '2025-07-01');
SELECT max(refresh_id) AS bgnbd_refresh FROM hvc.refresh_log \gset
SELECT * FROM pg_temp.nbd_check(:bgnbd_refresh);
-- the same data again: the same verdict (one convergence rule)
CALL hvc.refresh(as_of => '2025-07-01', full => true);
SELECT * FROM pg_temp.nbd_check((SELECT max(refresh_id) FROM hvc.refresh_log));

UPDATE hvc.config SET model = 'pareto_nbd';
CALL hvc.refresh(as_of => '2025-07-01');
SELECT max(refresh_id) AS pareto_refresh FROM hvc.refresh_log \gset
SELECT * FROM pg_temp.nbd_check(:pareto_refresh);

-- The NBD limit's parameters agree between the two models (same likelihood).
SELECT round(b.r::numeric, 6) = round(p.r::numeric, 6) AS same_r,
       round(b.alpha::numeric, 4) = round(p.alpha::numeric, 4) AS same_alpha,
       round(b.log_likelihood::numeric, 4) = round(p.log_likelihood::numeric, 4) AS same_ll
  FROM hvc.model_fit b, hvc.model_fit p
 WHERE b.refresh_id = :bgnbd_refresh AND b.model = 'bgnbd'
   AND p.refresh_id = :pareto_refresh AND p.model = 'pareto_nbd';

-- ---------------------------------------------------------------------------
-- The SQL building blocks on the same customers: frequency = count(*) - 1
-- (bigint, no cast), recency and age in weeks.
-- ---------------------------------------------------------------------------
CREATE TABLE edge_rfm AS
SELECT customer_id, count(*) - 1 AS frequency,
       (max(ordered_at) - min(ordered_at)) / 7.0::float8 AS recency,
       (date '2025-07-01' - min(ordered_at)) / 7.0::float8 AS age
  FROM edge_shop GROUP BY customer_id;
SELECT pg_typeof(frequency) AS frequency_type FROM edge_rfm LIMIT 1;
CREATE TABLE edge_fit AS
SELECT hvc.bgnbd_fit(frequency, recency, age) AS bg, hvc.pareto_nbd_fit(frequency, recency, age) AS pn
  FROM edge_rfm;
SELECT (bg).edge AS bg_edge, (bg).a AS a, (bg).b IS NULL AS b_null, (bg).converged AS bg_converged,
       (bg).a_se IS NULL AND (bg).b_se IS NULL AND (bg).r_se > 0 AND (bg).alpha_se > 0 AS bg_se,
       (pn).edge AS pn_edge, (pn).s AS s, (pn).beta IS NULL AS beta_null, (pn).converged AS pn_converged,
       (pn).s_se IS NULL AND (pn).beta_se IS NULL AND (pn).r_se > 0 AND (pn).alpha_se > 0 AS pn_se,
       (bg).message LIKE 'converged at the edge a->0%' AS bg_message
  FROM edge_fit;
-- predictions of the model functions at the edge = the NBD closed forms
SELECT count(*) AS customers,
       bool_and(hvc.p_alive(f.bg, e.frequency, e.recency, e.age) = 1
                AND hvc.p_alive(f.pn, e.frequency, e.recency, e.age) = 1) AS p_alive_1,
       max(abs(hvc.expected_purchases(f.bg, 52, e.frequency, e.recency, e.age)
               - ((f.bg).r + e.frequency) * 52 / ((f.bg).alpha + e.age))) < 1e-9 AS bg_closed_form,
       max(abs(hvc.expected_purchases(f.pn, 52, e.frequency, e.recency, e.age)
               - ((f.pn).r + e.frequency) * 52 / ((f.pn).alpha + e.age))) < 1e-9 AS pn_closed_form,
       abs(hvc.expected_purchases_new(f.bg, 52) - (f.bg).r * 52 / (f.bg).alpha) < 1e-9 AS new_closed_form,
       bool_and(hvc.time_to_next_purchase(f.bg, e.frequency, e.age) > 0) AS next_purchase
  FROM edge_rfm e, edge_fit f GROUP BY f.bg, f.pn;
-- a composite at the edge built by hand: a = 0, b NULL is the NBD model;
-- a = 0 with any b too; a NULL is still "no model"
SELECT hvc.p_alive((0.5, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL, 'a->0', NULL, NULL, NULL, NULL)::hvc.bgnbd, 3, 5, 10) AS p_alive,
       hvc.expected_purchases((0.5, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL, 'a->0', NULL, NULL, NULL, NULL)::hvc.bgnbd, 12, 3, 5, 10)
           = 3.5 * 12 / 12 AS closed_form,
       hvc.expected_purchases((0.5, 2, 0, 7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd, 12, 3, 5, 10)
           = 3.5 * 12 / 12 AS b_ignored,
       hvc.expected_purchases((0.5, 2, 0, NULL, NULL, NULL, NULL, NULL, NULL, 's->0', NULL, NULL, NULL, NULL)::hvc.pareto_nbd, 12, 3, 5, 10)
           = 3.5 * 12 / 12 AS pareto_closed_form,
       hvc.p_alive((0.5, 2, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd, 3, 5, 10) AS no_model;
-- integer and smallint frequencies still work (implicit cast to bigint)
SELECT hvc.p_alive(bg, 3::int, 5, 10) = 1 AS int_arg, hvc.p_alive(bg, 3::smallint, 5, 10) = 1 AS smallint_arg
  FROM edge_fit;
\set VERBOSITY sqlstate
SELECT hvc.p_alive((0.5, 2, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd, 3, 5, 10);
SELECT hvc.bgnbd_fit(f, 1, 2) FROM (VALUES (-1::bigint)) v(f);
\set VERBOSITY default

-- Leave the defaults for the tests that follow.
DROP TABLE edge_rfm, edge_fit;
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week';
