-- The backtest of a refresh (hvc.model_validation, by frequency) and
-- hvc.backtest_summary / hvc.backtest against a reference in plain SQL and
-- the SQL building blocks, by the documented definitions (README "Can I
-- trust the predictions?", the views' COMMENTs): the customers with a
-- purchase day up to the calibration day (as_of's local day minus
-- validation_days), their BTYD summary there (frequency, recency, age in
-- the time unit), the model fitted on those with age > 0 (hvc.<model>_fit),
-- each customer's predicted purchases in the holdout
-- (hvc.expected_purchases over validation_days) against their purchase days
-- after the calibration day up to as_of; bias, mean absolute error, the
-- AUC (Mann-Whitney, mid-ranks for ties) of churn_risk (hvc.p_no_purchase
-- over the holdout) and of days since the last purchase for "no purchase in
-- the holdout", the share of holdout purchases made by the 20 % of customers
-- with the highest predictions (a tie across the line counts with the
-- fraction of it inside), and the same totals by calibration frequency 0 ..
-- 6, 7+ and all.  For BG/NBD, Pareto/NBD and MBG/NBD in weeks and days,
-- random holdouts.
--
-- pg_regress runs it with the fixed seed below; test/fuzz/run.sh with fresh
-- seeds and text keys (psql -v seed=... -v key_type=text), test/citus/run.sh
-- with the source distributed.  Its output is only checks, so it does not
-- depend on the seed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
\if :{?seed}
\else
  \set seed 20261209
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

CREATE TABLE bo_sales (customer_id :key_type, ordered_at timestamptz, amount numeric);
SELECT :'key_type' = 'text' AS key_is_text \gset
\if :key_is_text
CREATE FUNCTION bo_key(n integer) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 'b' || lpad(n::text, 5, '0') $$;
\else
CREATE FUNCTION bo_key(n integer) RETURNS integer LANGUAGE sql IMMUTABLE
AS $$ SELECT n $$;
\endif

-- customers who buy at their own pace until they stop (as predict_oracle),
-- times at any hour (the days are local: Europe/Berlin), refunds (not
-- purchases), zero amounts (purchases), rows after as_of (not read)
INSERT INTO bo_sales
SELECT bo_key(c.n), t.at, t.amount
  FROM (SELECT n, 730 * random() AS start_day, 2 + 120 * power(random(), 2) AS gap,
               1 + floor(-ln(1 - random()) * 5)::integer AS purchases
          FROM generate_series(1, :customers) n) c
  CROSS JOIN LATERAL (
      SELECT timestamptz :'as_of' - interval '730 days' + d.day * interval '1 day' AS at,
             CASE WHEN random() < 0.05 THEN 0 ELSE round((5 + 200 * random())::numeric, 2) END AS amount
        FROM (SELECT k, c.start_day + sum(CASE WHEN k = 1 THEN 0 ELSE -ln(1 - random()) * c.gap END)
                                          OVER (ORDER BY k) AS day
                FROM generate_series(1, c.purchases) k) d
       WHERE d.day <= 735) t;
INSERT INTO bo_sales
SELECT s.customer_id, s.ordered_at + interval '5 hours', -round(s.amount / 2, 2) FROM bo_sales s WHERE random() < 0.05;

-- on a Citus coordinator (test/citus/run.sh: -v citus=1) the source is
-- distributed by customer
\if :{?citus}
SELECT create_distributed_table('bo_sales', 'customer_id') IS NOT NULL AS distributed;
\endif

CREATE TABLE bo_result (model text, time_unit text, validation_days integer, what text, differ bigint, detail text);

-- the reference's per-customer rows for a holdout
CREATE FUNCTION bo_reference(model text, unit float8, cal_day date, hold_local timestamp)
RETURNS TABLE (customer_id text, frequency bigint, recency float8, age float8, days_since float8,
               actual float8, predicted float8, churn float8)
LANGUAGE plpgsql AS $fn$
DECLARE
    fit text;
    tau float8 := (hold_local::date - cal_day) / unit;
BEGIN
    CREATE TEMP TABLE bo_days ON COMMIT DROP AS
    SELECT DISTINCT s.customer_id::text AS customer_id, (s.ordered_at AT TIME ZONE 'Europe/Berlin')::date AS day
      FROM bo_sales s
     WHERE s.amount >= 0 AND (s.ordered_at AT TIME ZONE 'Europe/Berlin') <= hold_local;
    CREATE TEMP TABLE bo_cal ON COMMIT DROP AS
    SELECT d.customer_id,
           count(*) FILTER (WHERE d.day <= cal_day) - 1 AS frequency,
           (max(d.day) FILTER (WHERE d.day <= cal_day) - min(d.day)) / unit AS recency,
           (cal_day - min(d.day)) / unit AS age,
           (cal_day - max(d.day) FILTER (WHERE d.day <= cal_day))::float8 AS days_since,
           count(*) FILTER (WHERE d.day > cal_day)::float8 AS actual
      FROM bo_days d
     GROUP BY d.customer_id
    HAVING min(d.day) <= cal_day;
    EXECUTE format('SELECT hvc.%s_fit(c.frequency, c.recency, c.age)::text FROM bo_cal c WHERE c.age > 0', model)
       INTO fit;
    RETURN QUERY EXECUTE format(
        'SELECT c.customer_id, c.frequency, c.recency, c.age, c.days_since, c.actual,
                hvc.expected_purchases($1::hvc.%1$s, $2, c.frequency, c.recency, c.age),
                hvc.p_no_purchase($1::hvc.%1$s, $2, c.frequency, c.recency, c.age)
           FROM bo_cal c', model) USING fit, tau;
    DROP TABLE bo_days, bo_cal;
END $fn$;

-- AUC of score for label (Mann-Whitney, mid-ranks for ties)
CREATE FUNCTION bo_auc(scores float8[], labels boolean[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    WITH x AS (SELECT s, l FROM unnest(scores, labels) u(s, l)),
         r AS (SELECT l, rank() OVER (ORDER BY s) + (count(*) OVER (PARTITION BY s) - 1) / 2.0 AS rk FROM x),
         n AS (SELECT count(*) FILTER (WHERE l) AS p, count(*) FILTER (WHERE NOT l) AS q FROM x)
    SELECT CASE WHEN n.p > 0 AND n.q > 0
                THEN ((SELECT sum(r.rk) FROM r WHERE r.l) - n.p * (n.p + 1) / 2.0) / (n.p * n.q) END
      FROM n
$$;
-- holdout purchases of the top 20 % by prediction (a straddling tie counts pro rata)
CREATE FUNCTION bo_top20(preds float8[], acts float8[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
    WITH x AS (SELECT p, a FROM unnest(preds, acts) u(p, a)),
         g AS (SELECT p, count(*)::float8 AS cnt, sum(a) AS a FROM x GROUP BY p),
         c AS (SELECT g.*, coalesce(sum(g.cnt) OVER (ORDER BY g.p DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before,
                      (SELECT count(*) FROM x) / 5.0 AS line
                 FROM g)
    SELECT sum(c.a * greatest(0, least(c.cnt, c.line - c.before)) / c.cnt) FROM c
$$;
CREATE FUNCTION bo_off(a float8, b float8) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT a IS DISTINCT FROM b AND (a IS NULL OR b IS NULL OR abs(a - b) > 1e-9 * greatest(1, abs(a), abs(b)))
$$;

-- One refresh with the backtest on, and the same backtest by the functions.
CREATE FUNCTION bo_case(model text, unit text, run_as_of timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    days integer := 30 + floor(random() * 300)::integer;
    unit_days float8 := CASE unit WHEN 'week' THEN 7 ELSE 1 END;
    hold_local timestamp := run_as_of AT TIME ZONE 'Europe/Berlin';
    cal_day date := hold_local::date - days;
    -- the calibration end: as_of's local time of day, validation_days before
    cal_end timestamptz := (cal_day + (hold_local - hold_local::date)) AT TIME ZONE 'Europe/Berlin';
    v hvc.model_validation;
    s record;
    w record;
    n bigint;
BEGIN
    UPDATE hvc.config SET model = bo_case.model, time_unit = unit, validation_days = days, value_basis = 'historic_clv';
    PERFORM hvc.refresh_now(run_as_of, true);
    CREATE TEMP TABLE bo_ref ON COMMIT DROP AS SELECT * FROM bo_reference(model, unit_days, cal_day, hold_local);
    SELECT count(*) AS customers, sum(r.actual) AS actual, sum(r.predicted) AS predicted,
           100 * (sum(r.predicted) - sum(r.actual)) / nullif(sum(r.actual), 0) AS bias_pct,
           avg(abs(r.predicted - r.actual)) AS mae,
           bo_auc(array_agg(r.churn), array_agg(r.actual = 0)) AS churn_auc,
           bo_auc(array_agg(r.days_since), array_agg(r.actual = 0)) AS recency_auc,
           bo_top20(array_agg(r.predicted), array_agg(r.actual)) / nullif(sum(r.actual), 0) AS top20_share
      INTO w FROM bo_ref r;
    -- the refresh's backtest
    SELECT * INTO v FROM hvc.model_validation;
    INSERT INTO bo_result
    SELECT model, unit, days, x.what, count(*) FILTER (WHERE x.off), string_agg(x.detail, '; ') FILTER (WHERE x.off)
      FROM (VALUES ('calibration_end and holdout_end',
                    (v.calibration_end, v.holdout_end, v.validation_days)
                        IS DISTINCT FROM (cal_end, run_as_of, days),
                    format('%s %s %s', v.calibration_end, v.holdout_end, v.validation_days)),
                   ('customers', v.customers IS DISTINCT FROM w.customers, format('%s, want %s', v.customers, w.customers)),
                   ('actual_purchases', bo_off(v.actual_purchases, w.actual), format('%s, want %s', v.actual_purchases, w.actual)),
                   ('predicted_purchases', bo_off(v.predicted_purchases, w.predicted),
                    format('%s, want %s', v.predicted_purchases, w.predicted)),
                   ('bias_pct', bo_off(v.bias_pct, w.bias_pct), format('%s, want %s', v.bias_pct, w.bias_pct)),
                   ('mae', bo_off(v.mae, w.mae), format('%s, want %s', v.mae, w.mae)),
                   ('churn_auc', bo_off(v.churn_auc, w.churn_auc), format('%s, want %s', v.churn_auc, w.churn_auc)),
                   ('recency_auc', bo_off(v.recency_auc, w.recency_auc), format('%s, want %s', v.recency_auc, w.recency_auc)),
                   ('top20_share', bo_off(v.top20_share, w.top20_share), format('%s, want %s', v.top20_share, w.top20_share))
           ) x(what, off, detail)
     GROUP BY x.what;
    -- by calibration frequency
    SELECT count(*) INTO n
      FROM hvc.model_validation_by_frequency b
      FULL JOIN (SELECT CASE WHEN k < 7 THEN k::text WHEN k = 7 THEN '7+' ELSE 'all' END AS bin,
                        count(r.*) AS customers, coalesce(sum(r.actual), 0) AS actual, coalesce(sum(r.predicted), 0) AS predicted
                   FROM generate_series(0, 8) k
                   LEFT JOIN bo_ref r ON k = 8 OR least(r.frequency, 7) = k
                  GROUP BY k) e ON e.bin = b.frequency_bin
     WHERE b.customers IS DISTINCT FROM e.customers OR bo_off(b.actual_purchases, e.actual)
        OR bo_off(b.predicted_purchases, e.predicted)
        OR bo_off(b.actual_mean, e.actual / nullif(e.customers, 0))
        OR bo_off(b.predicted_mean, e.predicted / nullif(e.customers, 0));
    INSERT INTO bo_result VALUES (model, unit, days, 'by frequency', n, NULL);
    -- hvc.backtest_summary and hvc.backtest at the same split: the same numbers
    SELECT * INTO s FROM hvc.backtest_summary(cal_end, run_as_of);
    INSERT INTO bo_result VALUES (model, unit, days, 'hvc.backtest_summary',
        (s.customers IS DISTINCT FROM w.customers)::integer + bo_off(s.actual_purchases, w.actual)::integer
        + bo_off(s.predicted_purchases, w.predicted)::integer + bo_off(s.mae, w.mae)::integer
        + bo_off(s.churn_auc, w.churn_auc)::integer + bo_off(s.recency_auc, w.recency_auc)::integer
        + bo_off(s.top20_share, w.top20_share)::integer,
        format('%s', s));
    SELECT count(*) INTO n
      FROM hvc.backtest(cal_end, run_as_of) f
      FULL JOIN hvc.model_validation_by_frequency b ON b.frequency_bin = f.frequency_bin
     WHERE f.customers IS DISTINCT FROM b.customers OR bo_off(f.actual_purchases, b.actual_purchases)
        OR bo_off(f.predicted_purchases, b.predicted_purchases);
    INSERT INTO bo_result VALUES (model, unit, days, 'hvc.backtest', n, NULL);
    INSERT INTO bo_result VALUES (model, unit, days, 'predictions made (not vacuous)',
                                  (w.predicted IS NULL OR w.customers < 100 OR w.actual = 0)::integer, NULL);
    DROP TABLE bo_ref;
END $$;

SELECT hvc.register_source('bo_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DELETE FROM hvc.config;
INSERT INTO hvc.config (timezone) VALUES ('Europe/Berlin');
\o /dev/null
SELECT bo_case(m, u, :'as_of') FROM (VALUES ('bgnbd'), ('pareto_nbd'), ('mbgnbd')) a(m), (VALUES ('week'), ('day')) b(u);
\o

-- every measure of every case agrees with the reference
SELECT model, time_unit, what, differ FROM bo_result ORDER BY model, time_unit, what;
-- (what differs: none expected)
\pset format unaligned
SELECT model, time_unit, validation_days, what, differ, detail FROM bo_result WHERE differ > 0 ORDER BY 1, 2, 4;
\pset format aligned
-- the same in one line, for scripts
SELECT format('backtest_oracle: %s checks differ', (SELECT count(*) FROM bo_result WHERE differ > 0)) AS verdict;

SELECT hvc.register_source('bo_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DROP TABLE bo_sales, bo_result;
DROP FUNCTION bo_key(integer), bo_reference(text, float8, date, timestamp), bo_auc(float8[], boolean[]),
              bo_top20(float8[], float8[]), bo_off(float8, float8), bo_case(text, text, timestamptz);
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
