-- Every customer's predictions in the snapshot against the SQL building
-- blocks (hvc.p_alive, hvc.p_no_purchase, hvc.expected_purchases,
-- hvc.expected_order_value, hvc.customer_lifetime_value,
-- hvc.time_to_next_purchase) called with the fitted parameters
-- (hvc.current_model()) and the customer's frequency, recency and age.
-- The refresh computes them its own way: once per (frequency, recency,
-- age) triple in a cache, the hypergeometric part of every CLV month once
-- per (frequency, age) pair, all months in one series pass; the building
-- blocks evaluate one customer at a time.  Checked per customer, by the
-- documented rules (README "Predictions", the columns' COMMENTs):
--   p_alive, churn_risk = P(no purchase in churn_window_days),
--   predicted_orders = E[Y(horizon)], expected_order_value (net repeat
--   spend at or below zero counts as zero), predicted_clv (lifetimes'
--   monthly loop; with horizon_days, months of 30.4375 days and the last
--   partial month discounted like a whole one), expected_next_order_at =
--   as_of day + the median wait, rounded to days, churn_percentile = the
--   share of churn risks at most the customer's, value = predicted_clv and
--   value_rank by it (ties by key).
-- For BG/NBD, Pareto/NBD and MBG/NBD, in weeks and days, with random
-- horizons (months or days), discount rates and churn windows.
--
-- The shop: customers who buy at their own pace and stop at some point,
-- one-time buyers, customers whose first purchase is on the as_of day,
-- refunds (some beyond a customer's repeat spend), zero amounts.
-- pg_regress runs it with the fixed seed below; test/fuzz/run.sh with fresh
-- seeds and text keys (psql -v seed=... -v key_type=text).  Its output is
-- only checks, so it does not depend on the seed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
\if :{?seed}
\else
  \set seed 20261208
\endif
\if :{?key_type}
\else
  \set key_type integer
\endif
\if :{?customers}
\else
  \set customers 400
\endif
SELECT setseed(((:seed % 2000000) - 1000000) / 1000000.0) IS NOT NULL AS seeded \gset
\set as_of '2025-06-30 18:00:00+00'

CREATE TABLE po_sales (customer_id :key_type, ordered_at timestamptz, amount numeric, order_no integer);
SELECT :'key_type' = 'text' AS key_is_text \gset
\if :key_is_text
CREATE FUNCTION po_key(n integer) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 'p' || lpad(n::text, 5, '0') $$;
\else
CREATE FUNCTION po_key(n integer) RETURNS integer LANGUAGE sql IMMUTABLE
AS $$ SELECT n $$;
\endif

-- Customer n starts on a random day of the two years before as_of, buys
-- every gap_i days on average (exponential gaps, 3 to 150 days on average
-- by customer) until they stop (after a random number of purchases) or
-- as_of comes; spend around their own mean.
INSERT INTO po_sales
SELECT po_key(c.n), t.at, t.amount, t.order_no
  FROM (SELECT n, 730 * random() AS start_day, 3 + 147 * power(random(), 2) AS gap,
               1 + floor(-ln(1 - random()) * 4)::integer AS purchases, 10 + 190 * random() AS mean_spend
          FROM generate_series(1, :customers) n) c
  CROSS JOIN LATERAL (
      SELECT timestamptz :'as_of' - interval '730 days' + d.day * interval '1 day' AS at,
             round((c.mean_spend * (0.5 + random()))::numeric, 2) AS amount,
             (c.n * 100 + d.k)::integer AS order_no
        FROM (SELECT k, c.start_day + sum(CASE WHEN k = 1 THEN 0 ELSE -ln(1 - random()) * c.gap END)
                                          OVER (ORDER BY k) AS day
                FROM generate_series(1, c.purchases) k) d
       WHERE d.day <= 730) t;
-- refunds, some beyond a customer's repeat spend; zero amounts; customers
-- who first buy on the as_of day (age 0), once or twice
INSERT INTO po_sales
SELECT s.customer_id, s.ordered_at + interval '2 days', -round(s.amount * (0.3 + 2 * random())::numeric, 2), NULL
  FROM po_sales s WHERE random() < 0.06 AND s.ordered_at + interval '2 days' <= timestamptz :'as_of';
INSERT INTO po_sales
SELECT s.customer_id, s.ordered_at + interval '1 hour', 0, NULL FROM po_sales s WHERE random() < 0.02;
INSERT INTO po_sales
SELECT po_key(:customers + n), timestamptz :'as_of' - interval '3 hours' + (n % 2) * interval '1 hour',
       20 + n, NULL
  FROM generate_series(1, 4) n;

-- on a Citus coordinator (test/citus/run.sh: -v citus=1) the source is
-- distributed by customer: the predictions are computed on the workers
\if :{?citus}
SELECT create_distributed_table('po_sales', 'customer_id') IS NOT NULL AS distributed;
\endif

CREATE TABLE po_result (model text, time_unit text, horizon text, what text, differ bigint, sample text);
CREATE TABLE po_fit (model text, time_unit text, usable boolean);

-- relative or absolute difference beyond float noise
CREATE FUNCTION po_off(a float8, b float8) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT a IS DISTINCT FROM b AND (a IS NULL OR b IS NULL OR abs(a - b) > 1e-9 * greatest(1, abs(a), abs(b)))
$$;
-- a numeric of 2 decimals that is not the float rounded to cents (within float noise)
CREATE FUNCTION po_off_cents(v numeric, x float8) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT v IS DISTINCT FROM x::numeric
           AND (v IS NULL OR x IS NULL OR abs(v::float8 - x) > 0.005 + 1e-9 * greatest(1, abs(x)))
$$;

-- One refresh with a model, time unit and random settings, then the checks.
CREATE FUNCTION po_case(model text, unit text, run_as_of timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    cfg hvc.config;
    fit hvc.model_fit;
    gfit hvc.model_fit;
    unit_days float8 := CASE unit WHEN 'week' THEN 7 ELSE 1 END;
    horizon text;
    m text;
    g text;
    len float8;
    h float8;
    whole integer;
    n bigint;
    s text;
BEGIN
    UPDATE hvc.config
       SET model = po_case.model, time_unit = unit, value_basis = 'predicted_clv', validation_days = 0,
           churn_window_days = 1 + floor(random() * 365)::integer,
           monthly_discount_rate = round((random() * 0.03)::numeric, 4)::float8,
           horizon_months = 1 + floor(random() * 24)::integer,
           horizon_days = CASE WHEN random() < 0.5 THEN 5 + floor(random() * 800)::integer END;
    SELECT * INTO cfg FROM hvc.config;
    horizon := CASE WHEN cfg.horizon_days IS NULL THEN 'months' ELSE 'days' END;
    PERFORM hvc.refresh_now(run_as_of, true);
    SELECT f.* INTO fit FROM hvc.current_model() f WHERE f.model = po_case.model;
    SELECT f.* INTO gfit FROM hvc.current_model() f WHERE f.model = 'gamma_gamma';
    INSERT INTO po_fit VALUES (model, unit, fit.fit_id IS NOT NULL AND gfit.fit_id IS NOT NULL);
    IF fit.fit_id IS NULL OR gfit.fit_id IS NULL THEN
        RETURN;
    END IF;

    -- the fitted models as the building blocks take them (the composites'
    -- text forms: floats print exactly)
    m := CASE WHEN model = 'pareto_nbd'
              THEN ROW(fit.r, fit.alpha, fit.s, fit.beta, fit.log_likelihood, fit.customers, fit.converged,
                       fit.iterations, fit.message, fit.edge, fit.r_se, fit.alpha_se, fit.s_se, fit.beta_se)::text
              ELSE ROW(fit.r, fit.alpha, fit.a, fit.b, fit.log_likelihood, fit.customers, fit.converged,
                       fit.iterations, fit.message, fit.edge, fit.r_se, fit.alpha_se, fit.a_se, fit.b_se)::text END;
    g := ROW(gfit.p, gfit.q, gfit.v, gfit.log_likelihood, gfit.customers, gfit.converged, gfit.iterations,
             gfit.message, gfit.edge, gfit.p_se, gfit.q_se, gfit.v_se)::text;
    -- the horizon H in time units: horizon_days, else horizon_months of 4.345
    -- weeks or 30 days; the CLV's months: lifetimes' loop over horizon_months
    -- months of that length, or with horizon_days the whole months of
    -- 30.4375 days in H and the last partial month discounted like a whole one
    IF cfg.horizon_days IS NULL THEN
        len := CASE WHEN unit = 'week' THEN 4.345 ELSE 30 END;
        h := cfg.horizon_months * len;
        whole := cfg.horizon_months;
    ELSE
        len := 30.4375 / unit_days;
        h := cfg.horizon_days / unit_days;
        whole := floor(h / len + 1e-9)::integer;
    END IF;
    -- (the snapshot copied here first: on Citus it is distributed, and its
    -- shards take no subquery that refers to the outer row)
    CREATE TEMP TABLE po_snap ON COMMIT DROP AS
    SELECT c.customer_id, c.frequency, c.recency, c.age, c.monetary_value, c.p_alive, c.churn_risk,
           c.predicted_orders, c.expected_order_value, c.predicted_clv, c.expected_next_order_at,
           c.churn_percentile, c.value, c.value_rank
      FROM hvc.customer_snapshot c;
    EXECUTE format($q$
    CREATE TEMP TABLE po_want ON COMMIT DROP AS
    SELECT c.customer_id, c.frequency, c.recency, c.age, c.monetary_value,
           c.p_alive, c.churn_risk, c.predicted_orders, c.expected_order_value, c.predicted_clv,
           c.expected_next_order_at, c.churn_percentile, c.value, c.value_rank,
           -- the building blocks
           hvc.p_alive($1::hvc.%1$s, c.frequency, c.recency, c.age) AS want_p_alive,
           hvc.p_no_purchase($1::hvc.%1$s, $3, c.frequency, c.recency, c.age) AS want_churn,
           hvc.expected_purchases($1::hvc.%1$s, $4, c.frequency, c.recency, c.age) AS want_orders,
           hvc.expected_order_value($2::hvc.gamma_gamma, c.frequency, greatest(c.monetary_value, 0)) AS want_eov,
           d.discounted AS want_discounted,
           hvc.time_to_next_purchase($1::hvc.%1$s, c.frequency, c.age) * $5 AS want_next_days,
           (SELECT i.as_of FROM hvc.snapshot_info i) AS as_of
      FROM po_snap c
     CROSS JOIN LATERAL (
         WITH e AS (SELECT k, hvc.expected_purchases($1::hvc.%1$s, k * $6, c.frequency, c.recency, c.age) AS ey
                      FROM generate_series(0, $7) k)
         SELECT coalesce((SELECT sum((e1.ey - e0.ey) / power(1 + $8, e1.k)) FROM e e1 JOIN e e0 ON e0.k = e1.k - 1), 0)
                + CASE WHEN $9 THEN (hvc.expected_purchases($1::hvc.%1$s, $4, c.frequency, c.recency, c.age)
                                     - (SELECT e.ey FROM e WHERE e.k = $7)) / power(1 + $8, $7 + 1)
                       ELSE 0 END AS discounted) d$q$, model)
    USING m, g, cfg.churn_window_days / unit_days, h, unit_days, len, whole, cfg.monthly_discount_rate,
          cfg.horizon_days IS NOT NULL AND h > whole * len;

    -- each column: the customers whose value is not the building blocks' (up to 3 shown)
    INSERT INTO po_result
    SELECT model, unit, horizon, w.what, count(*) FILTER (WHERE w.off),
           string_agg(w.detail, '; ') FILTER (WHERE w.off AND w.k <= 3)
      FROM (SELECT v.what, v.off, v.detail,
                   row_number() OVER (PARTITION BY v.what, v.off ORDER BY p.customer_id::text) AS k
              FROM po_want p
             CROSS JOIN LATERAL (VALUES
                 ('p_alive', po_off(p.p_alive, p.want_p_alive),
                  format('%s: %s, want %s', p.customer_id, p.p_alive, p.want_p_alive)),
                 ('churn_risk', po_off(p.churn_risk, p.want_churn),
                  format('%s: %s, want %s', p.customer_id, p.churn_risk, p.want_churn)),
                 ('predicted_orders', po_off(p.predicted_orders, p.want_orders),
                  format('%s: %s, want %s', p.customer_id, p.predicted_orders, p.want_orders)),
                 ('expected_order_value', po_off_cents(p.expected_order_value, p.want_eov),
                  format('%s: %s, want %s', p.customer_id, p.expected_order_value, p.want_eov)),
                 ('predicted_clv', po_off_cents(p.predicted_clv, p.want_eov * p.want_discounted),
                  format('%s: %s, want %s', p.customer_id, p.predicted_clv, p.want_eov * p.want_discounted)),
                 ('expected_next_order_at',
                  p.expected_next_order_at IS DISTINCT FROM
                  CASE WHEN p.want_next_days < 1e6
                       THEN ((p.as_of AT TIME ZONE cfg.timezone)::date + round(p.want_next_days::numeric)::integer) END,
                  format('%s: %s, want %s days after as_of', p.customer_id, p.expected_next_order_at, p.want_next_days)),
                 ('value is predicted_clv', p.value IS DISTINCT FROM p.predicted_clv,
                  format('%s: %s, clv %s', p.customer_id, p.value, p.predicted_clv))) v(what, off, detail)) w
     GROUP BY w.what;

    -- churn_percentile: the share of churn risks at most the customer's;
    -- value_rank: by value, ties by key
    SELECT count(*), string_agg(format('%s: %s, want %s', x.customer_id, x.churn_percentile, x.cd), '; ')
      INTO n, s
      FROM (SELECT p.customer_id, p.churn_percentile, cume_dist() OVER (ORDER BY p.churn_risk) AS cd
              FROM po_want p WHERE p.churn_risk IS NOT NULL) x
     WHERE po_off(x.churn_percentile, x.cd);
    INSERT INTO po_result VALUES (model, unit, horizon, 'churn_percentile', n, left(s, 300));
    SELECT count(*), string_agg(format('%s: %s, want %s', x.customer_id, x.value_rank, x.rk), '; ')
      INTO n, s
      FROM (SELECT p.customer_id, p.value_rank, row_number() OVER (ORDER BY p.value DESC NULLS LAST, p.customer_id) AS rk
              FROM po_want p) x
     WHERE x.value_rank <> x.rk;
    INSERT INTO po_result VALUES (model, unit, horizon, 'value_rank', n, left(s, 300));
    DROP TABLE po_want, po_snap;
END $$;

SELECT hvc.register_source('po_sales', 'customer_id', 'ordered_at', 'amount', order_id => 'order_no') IS NOT NULL AS registered;
DELETE FROM hvc.config;
INSERT INTO hvc.config (timezone) VALUES ('America/New_York');
\o /dev/null
SELECT po_case(m, u, :'as_of') FROM (VALUES ('bgnbd'), ('pareto_nbd'), ('mbgnbd')) a(m), (VALUES ('week'), ('day')) b(u);
\o

-- every model was fitted (and Gamma-Gamma) in both time units
SELECT model, time_unit, usable FROM po_fit ORDER BY model, time_unit;
-- every column of every customer is what the building blocks say
SELECT model, time_unit, what, differ FROM po_result ORDER BY model, time_unit, what;
-- (up to 3 customers of each column that differs: none expected)
\pset format unaligned
SELECT model, time_unit, horizon, what, differ, sample FROM po_result WHERE differ > 0 ORDER BY 1, 2, 4;
\pset format aligned
-- the same in one line, for scripts (test/citus/run.sh)
SELECT format('predict_oracle: %s of %s models fitted, %s checks differ',
              (SELECT count(*) FROM po_fit WHERE usable), (SELECT count(*) FROM po_fit),
              (SELECT count(*) FROM po_result WHERE differ > 0)) AS verdict;

SELECT hvc.register_source('po_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DROP TABLE po_sales, po_result, po_fit;
DROP FUNCTION po_key(integer), po_off(float8, float8), po_off_cents(numeric, float8), po_case(text, text, timestamptz);
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
