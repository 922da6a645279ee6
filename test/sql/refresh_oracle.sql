-- The full refresh against an independent SQL reference, on random messy
-- data.  Every per-customer column of hvc.customers that does not need a
-- fitted model is computed again here in plain SQL from the documented
-- definitions (README, "How a refresh works"; reference/rfm.md; the views'
-- COMMENTs), and so are the refresh's counts, snapshot_info's percentiles
-- and the Pareto curve; the two must agree row for row.
--
-- The shop: refunds, zero amounts, amounts with more than 4 decimals
-- (rounded half away from zero), NULL and NaN and infinite amounts, NULL
-- keys and times, infinite times, rows after as_of and exactly at it,
-- order ids shared by several rows, days and refunds, NULL order ids,
-- customers with refunds only, rows near local midnight and around the
-- daylight-saving changes of the configured timezone (Europe/Berlin), an
-- as_of in the middle of a local day, margins on some rows only.
--
-- pg_regress runs it with the fixed seed below; test/fuzz/run.sh runs it
-- again with fresh seeds, text keys, the time unit day, timestamp and date
-- times, no margin and order id, the value bases revenue and margin, and
-- random tier and segment rules (psql -v seed=... -v key_type=text
-- -v time_unit=day -v time_type=date -v mapped=bare -v basis=revenue
-- -v rules=random).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
\if :{?seed}
\else
  \set seed 20261206
\endif
\if :{?key_type}
\else
  \set key_type integer
\endif
\if :{?time_unit}
\else
  \set time_unit week
\endif
\if :{?customers}
\else
  \set customers 80
\endif
\if :{?rows}
\else
  \set rows 900
\endif
-- the source's time column: timestamptz, timestamp (local) or date
\if :{?time_type}
\else
  \set time_type timestamptz
\endif
-- full: margin and order id mapped; bare: neither
\if :{?mapped}
\else
  \set mapped full
\endif
\if :{?basis}
\else
  \set basis historic_clv
\endif
-- default: the default tier rules and segments; random: 1 to 5 random tiers
-- (shares with up to 3 decimals) and 1 to 8 random segment rules
\if :{?rules}
\else
  \set rules default
\endif
SELECT setseed(((:seed % 2000000) - 1000000) / 1000000.0) IS NOT NULL AS seeded \gset
DELETE FROM hvc.config;
INSERT INTO hvc.config (model, value_basis, time_unit, timezone)
VALUES ('none', :'basis', :'time_unit', 'Europe/Berlin');
-- as_of in the middle of a local day (Berlin summer time, UTC+2)
\set as_of '2025-06-30 10:30:00+00'

CREATE TABLE orc_sales (
    customer_id :key_type,
    ordered_at  timestamptz,
    amount      numeric,
    margin      numeric,
    order_no    integer
);
-- A key that sorts the same in every collation: value ranks break ties by
-- customer_id in the key type's order.
SELECT :'key_type' = 'text' AS key_is_text \gset
\if :key_is_text
CREATE FUNCTION orc_key(n integer) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 'c' || lpad(n::text, 5, '0') $$;
\else
CREATE FUNCTION orc_key(n integer) RETURNS integer LANGUAGE sql IMMUTABLE
AS $$ SELECT n $$;
\endif

-- A random time: mostly uniform over two years, some within minutes of
-- local midnight, some in the hours around the DST changes, a few exactly
-- at as_of or after it.
CREATE FUNCTION orc_time() RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    u float8 := random();
    d date := date '2023-07-01' + floor(random() * 730)::integer;
BEGIN
    IF u < 0.55 THEN
        RETURN timestamptz '2023-07-01 00:00+00' + random() * interval '730 days';
    ELSIF u < 0.75 THEN     -- around local midnight
        RETURN (d::timestamp AT TIME ZONE 'Europe/Berlin') + (random() * 20 - 10) * interval '1 minute';
    ELSIF u < 0.85 THEN     -- around the DST changes
        RETURN (CASE floor(random() * 4)::integer
                    WHEN 0 THEN timestamptz '2024-03-31 01:00+00'
                    WHEN 1 THEN timestamptz '2024-10-27 01:00+00'
                    WHEN 2 THEN timestamptz '2023-10-29 01:00+00'
                    ELSE timestamptz '2025-03-30 01:00+00' END)
               + (random() * 6 - 3) * interval '1 hour';
    ELSIF u < 0.90 THEN     -- as_of's day, before, at and after it
        RETURN (ARRAY[timestamptz '2025-06-29 21:59:59.999999+00', '2025-06-29 22:00+00', '2025-06-30 10:30+00',
                      '2025-06-30 10:30:00.000001+00', '2025-06-30 21:00+00'])[1 + floor(random() * 5)::integer];
    ELSE                    -- the last weeks, many customers' last purchase
        RETURN timestamptz '2025-05-01 00:00+00' + random() * interval '60 days';
    END IF;
END $$;

CREATE FUNCTION orc_amount() RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    u float8 := random();
BEGIN
    IF u < 0.70 THEN RETURN round((random() * 300)::numeric, 2);
    ELSIF u < 0.80 THEN RETURN -round((random() * 80)::numeric, 2);     -- refund
    ELSIF u < 0.84 THEN RETURN 0;
    ELSIF u < 0.90 THEN RETURN round((random() * 50 - 10)::numeric, 5); -- rounded at 4 decimals
    ELSIF u < 0.92 THEN RETURN 12.34565;                                  -- half away from zero
    ELSIF u < 0.93 THEN RETURN -0.00005;
    ELSIF u < 0.96 THEN RETURN NULL;
    ELSIF u < 0.98 THEN RETURN 'NaN';
    ELSIF u < 0.99 THEN RETURN 'Infinity';
    ELSE RETURN round((random() * 5000)::numeric, 2);
    END IF;
END $$;

INSERT INTO orc_sales
SELECT CASE WHEN random() < 0.03 THEN NULL
            -- a skewed choice: some customers have many rows
            ELSE orc_key(1 + floor(power(random(), 1.6) * :customers)::integer) END,
       CASE WHEN random() < 0.02 THEN NULL
            WHEN random() < 0.01 THEN 'infinity'
            ELSE orc_time() END,
       orc_amount(),
       CASE WHEN random() < 0.6 THEN round((random() * 40 - 5)::numeric, 2) END,  -- (see below)
       -- order numbers shared by several rows, of one customer or several
       CASE WHEN random() < 0.25 THEN NULL ELSE floor(random() * (:rows / 3))::integer END
  FROM generate_series(1, :rows);
-- a fifth of the customers without any margin
UPDATE orc_sales SET margin = NULL WHERE hashtext(customer_id::text) % 5 = 0;
-- customers with refunds only, and one whose only purchase is after as_of
INSERT INTO orc_sales VALUES
    (orc_key(:customers + 1), '2024-05-01 12:00+00', -20, -2, NULL),
    (orc_key(:customers + 1), '2024-06-01 12:00+00', -5.5, NULL, 7),
    (orc_key(:customers + 2), '2025-06-30 10:30:00.000001+00', 10, 1, NULL),
    (orc_key(:customers + 2), '2025-03-01 12:00+00', -1, NULL, NULL),
    -- an average ticket of exactly half a cent: 702.93 / 6 = 117.155 is
    -- 117.16 (numeric rounds half away from zero; in double 117.15499...)
    (orc_key(:customers + 3), '2024-01-10 12:00+00', 117.15, NULL, NULL),
    (orc_key(:customers + 3), '2024-02-10 12:00+00', 117.15, NULL, NULL),
    (orc_key(:customers + 3), '2024-03-10 12:00+00', 117.15, NULL, NULL),
    (orc_key(:customers + 3), '2024-04-10 12:00+00', 117.15, NULL, NULL),
    (orc_key(:customers + 3), '2024-05-10 12:00+00', 117.15, NULL, NULL),
    (orc_key(:customers + 3), '2024-06-10 12:00+00', 117.18, NULL, NULL),
    -- two purchases in the hour the end of summer time repeats (02:00-03:00
    -- local on 2024-10-27): 02:50 summer time comes first, 02:10 winter
    -- time 20 minutes later, though its local time is earlier (the local
    -- times alone made them 01:10 and 01:50 UTC)
    (orc_key(:customers + 4), '2024-10-27 00:50+00', 40, NULL, NULL),
    (orc_key(:customers + 4), '2024-10-27 01:10+00', 30, NULL, NULL),
    -- an exact copy of a row: both count
    (orc_key(3), '2024-02-02 02:02+00', 33.33, 3, 99999),
    (orc_key(3), '2024-02-02 02:02+00', 33.33, 3, 99999);

SELECT :'rules' = 'random' AS random_rules \gset
\if :random_rules
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value)
WITH c AS (SELECT 1 + floor(random() * 5)::integer AS n),
     s AS (SELECT DISTINCT round((0.001 + random() * 0.998)::numeric, 3)::float8 AS share
             FROM c, generate_series(1, c.n - 1))
SELECT 't' || k, k, share, random() < 0.5
  FROM (SELECT row_number() OVER (ORDER BY share)::integer AS k, share
          FROM (SELECT share FROM s UNION ALL SELECT 1.0) u) w;
DELETE FROM hvc.rfm_segments;
INSERT INTO hvc.rfm_segments (segment, priority, r_min, r_max, f_min, f_max, m_min, m_max)
SELECT 's' || g, (random() * 1000)::integer * 10 + g,
       least(r1, r2), greatest(r1, r2), least(f1, f2), greatest(f1, f2), least(m1, m2), greatest(m1, m2)
  FROM generate_series(1, 1 + floor(random() * 8)::integer) g,
       LATERAL (SELECT 1 + floor(random() * 5) AS r1, 1 + floor(random() * 5) AS r2,
                       1 + floor(random() * 5) AS f1, 1 + floor(random() * 5) AS f2,
                       1 + floor(random() * 5) AS m1, 1 + floor(random() * 5) AS m2, g AS gg) v;
\endif

-- the source: the times as the time type gives them (timestamp and date:
-- local times in the zone)
ALTER TABLE orc_sales RENAME TO orc_raw;
SELECT :'time_type' = 'date' AS time_is_date, :'time_type' = 'timestamp' AS time_is_local \gset
\if :time_is_date
\set time_expr '(r.ordered_at AT TIME ZONE ''Europe/Berlin'')::date'
\elif :time_is_local
\set time_expr '(r.ordered_at AT TIME ZONE ''Europe/Berlin'')'
\else
\set time_expr 'r.ordered_at'
\endif
CREATE TABLE orc_sales AS
SELECT r.customer_id, :time_expr AS ordered_at, r.amount, r.margin, r.order_no FROM orc_raw r;
SELECT hvc.register_source(source => 'orc_sales', customer => 'customer_id', ordered_at => 'ordered_at',
                           amount => 'amount',
                           margin => CASE :'mapped' WHEN 'full' THEN 'margin' END,
                           order_id => CASE :'mapped' WHEN 'full' THEN 'order_no' END) IS NOT NULL AS registered;
CALL hvc.refresh(as_of => :'as_of');

-- ---------------------------------------------------------------------------
-- The reference.
-- ---------------------------------------------------------------------------
CREATE TABLE orc_param AS
SELECT :'as_of'::timestamptz AS as_of,
       :'as_of'::timestamptz AT TIME ZONE 'Europe/Berlin' AS as_of_local,
       (:'as_of'::timestamptz AT TIME ZONE 'Europe/Berlin')::date AS as_of_day,
       CASE WHEN :'time_unit' = 'week' THEN 7.0 ELSE 1.0 END::float8 AS unit,
       :'time_type' = 'timestamptz' AS instants,
       :'mapped' = 'full' AS mapped,
       :'basis'::text AS basis;

-- the rows a refresh uses: a key, a finite time up to as_of (compared as
-- local times), a finite amount (rounded to 0.0001, half away from zero:
-- numeric's round); the margin and order id when mapped.  A row's instant:
-- its own (timestamptz) or its local time read in the zone.
CREATE TABLE orc_rows AS
SELECT s.customer_id, x.local, CASE WHEN p.instants THEN s.ordered_at::timestamptz
                                    ELSE x.local AT TIME ZONE 'Europe/Berlin' END AS instant,
       round(s.amount, 4) AS amount, CASE WHEN p.mapped THEN round(s.margin, 4) END AS margin,
       CASE WHEN p.mapped THEN s.order_no END AS order_no, x.local::date AS day,
       s.amount >= 0 AS purchase
  FROM orc_sales s
 CROSS JOIN orc_param p
 CROSS JOIN LATERAL (SELECT CASE WHEN p.instants THEN s.ordered_at::timestamptz AT TIME ZONE 'Europe/Berlin'
                                 ELSE s.ordered_at::timestamp END AS local) x
 WHERE s.customer_id IS NOT NULL AND s.ordered_at IS NOT NULL AND isfinite(x.local)
   AND x.local <= p.as_of_local
   AND s.amount IS NOT NULL AND s.amount NOT IN ('NaN', 'Infinity', '-Infinity');

CREATE TABLE orc_base AS
SELECT r.customer_id,
       -- the earliest and latest instants; of local times, the earliest
       -- and latest read in the zone
       CASE WHEN (SELECT instants FROM orc_param) THEN min(r.instant) FILTER (WHERE r.purchase)
            ELSE min(r.local) FILTER (WHERE r.purchase) AT TIME ZONE 'Europe/Berlin' END AS first_order_at,
       CASE WHEN (SELECT instants FROM orc_param) THEN max(r.instant) FILTER (WHERE r.purchase)
            ELSE max(r.local) FILTER (WHERE r.purchase) AT TIME ZONE 'Europe/Berlin' END AS last_order_at,
       count(DISTINCT r.order_no) FILTER (WHERE r.purchase)
         + count(*) FILTER (WHERE r.purchase AND r.order_no IS NULL) AS orders,
       count(DISTINCT r.day) FILTER (WHERE r.purchase)::integer AS purchase_days,
       count(*) FILTER (WHERE NOT r.purchase) AS refunds,
       sum(r.amount) AS revenue_exact,
       sum(r.margin) AS margin_exact,
       min(r.day) FILTER (WHERE r.purchase) AS first_day,
       max(r.day) FILTER (WHERE r.purchase) AS last_day
  FROM orc_rows r
 GROUP BY r.customer_id
HAVING bool_or(r.purchase);

CREATE TABLE orc_customers AS
SELECT b.*,
       round(b.revenue_exact, 2) AS revenue,
       round(b.margin_exact, 2) AS margin,
       round(b.revenue_exact / b.orders, 2) AS avg_order_value,
       p.as_of_day - b.first_day AS tenure_days,
       p.as_of_day - b.last_day AS recency_days,
       CASE WHEN b.purchase_days > 1
            THEN (b.last_day - b.first_day)::float8 / (b.purchase_days - 1) END AS avg_days_between_orders,
       b.purchase_days - 1 AS frequency,
       (b.last_day - b.first_day) / p.unit AS recency,
       (p.as_of_day - b.first_day) / p.unit AS age,
       CASE WHEN b.purchase_days > 1
            THEN ((b.revenue_exact
                   - (SELECT sum(r.amount) FROM orc_rows r
                       WHERE r.customer_id = b.customer_id AND r.purchase AND r.day = b.first_day))
                  / (b.purchase_days - 1))::float8
            ELSE 0 END AS monetary_value,
       h.historic_clv,
       -- the value ranked by (snapshot_info.value_basis)
       CASE p.basis WHEN 'historic_clv' THEN h.historic_clv
                    WHEN 'revenue' THEN m.revenue_cents
                    WHEN 'margin' THEN m.margin_cents END AS value
  FROM orc_base b
 CROSS JOIN orc_param p
 CROSS JOIN LATERAL (SELECT round(b.revenue_exact, 2) AS revenue_cents,
                            round(coalesce(b.margin_exact, 0), 2) AS margin_cents) m
       -- the margin when mapped (0 for a customer without one), else revenue
 CROSS JOIN LATERAL (SELECT CASE WHEN p.mapped THEN m.margin_cents ELSE m.revenue_cents END AS historic_clv) h;

-- RFM: b_i = percentile_cont(i/5), score = 1 + #{i : value > b_i}
CREATE TABLE orc_breaks AS
SELECT percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY c.last_day - date '2000-01-01') AS rb,
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY c.orders) AS fb,
       percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY c.revenue_exact) AS mb
  FROM orc_customers c;
CREATE FUNCTION orc_score(v float8, b float8[]) RETURNS integer LANGUAGE sql IMMUTABLE
AS $$ SELECT 1 + (SELECT count(*)::integer FROM unnest(b) x WHERE v > x) $$;

CREATE TABLE orc_ranked AS
SELECT c.*,
       orc_score((c.last_day - date '2000-01-01')::float8, k.rb) AS r_score,
       orc_score(c.orders::float8, k.fb) AS f_score,
       orc_score(c.revenue_exact::float8, k.mb) AS m_score,
       row_number() OVER (ORDER BY c.value DESC, c.customer_id) AS value_rank,
       sum(greatest(c.value, 0)) OVER (ORDER BY c.value DESC, c.customer_id)
         / nullif(sum(greatest(c.value, 0)) OVER (), 0) AS cum_share,
       count(*) OVER () AS n
  FROM orc_customers c, orc_breaks k;

-- a tier reaches floor(customer_share * customers) (all of them at share 1)
CREATE TABLE orc_tiers AS
SELECT t.tier, t.tier_rank, t.high_value,
       CASE WHEN t.customer_share >= 1 THEN (SELECT count(*) FROM orc_customers)
            ELSE floor(t.customer_share * (SELECT count(*) FROM orc_customers) + 1e-9)::bigint END AS upto
  FROM hvc.tier_rules t;

CREATE VIEW orc_expected AS
SELECT r.customer_id, r.first_order_at, r.last_order_at, r.orders, r.revenue, r.margin,
       r.avg_order_value, r.tenure_days, r.recency_days, r.avg_days_between_orders,
       r.r_score, r.f_score, r.m_score, r.r_score::text || r.f_score || r.m_score AS rfm_cell,
       coalesce((SELECT s.segment FROM hvc.rfm_segments s
                  WHERE r.r_score BETWEEN s.r_min AND s.r_max AND r.f_score BETWEEN s.f_min AND s.f_max
                    AND r.m_score BETWEEN s.m_min AND s.m_max
                  ORDER BY s.priority LIMIT 1), 'Others') AS segment,
       r.historic_clv, r.value_rank, r.cum_share AS cumulative_value_share,
       t.tier, t.tier_rank, t.high_value AS is_high_value,
       r.purchase_days, r.refunds, r.frequency, r.recency, r.age, r.monetary_value,
       r.value
  FROM orc_ranked r
  CROSS JOIN LATERAL (SELECT t.* FROM orc_tiers t WHERE t.upto >= r.value_rank
                       ORDER BY t.tier_rank LIMIT 1) t;

-- floats compared to 12 significant digits (hvc computes them in C)
CREATE FUNCTION orc_f(x float8) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN x IS NULL THEN 'NULL' WHEN x = 0 THEN '0'
                  ELSE to_char(x / power(10, floor(log(abs(x)))), 'FM0.00000000000') || 'e' || floor(log(abs(x))) END $$;
CREATE VIEW orc_got AS
SELECT c.customer_id, c.first_order_at, c.last_order_at, c.orders, c.revenue, c.margin,
       c.avg_order_value, c.tenure_days, c.recency_days, orc_f(c.avg_days_between_orders) AS avg_days_between_orders,
       c.r_score, c.f_score, c.m_score, c.rfm_cell, c.segment, c.historic_clv, c.value_rank,
       orc_f(c.cumulative_value_share) AS cumulative_value_share, c.tier, c.tier_rank, c.is_high_value,
       c.purchase_days, c.refunds, c.frequency, orc_f(c.recency) AS recency, orc_f(c.age) AS age,
       orc_f(c.monetary_value) AS monetary_value, c.value
  FROM hvc.customers c;
CREATE VIEW orc_want AS
SELECT e.customer_id, e.first_order_at, e.last_order_at, e.orders, e.revenue, e.margin,
       e.avg_order_value, e.tenure_days, e.recency_days, orc_f(e.avg_days_between_orders) AS avg_days_between_orders,
       e.r_score, e.f_score, e.m_score, e.rfm_cell, e.segment, e.historic_clv, e.value_rank,
       orc_f(e.cumulative_value_share::float8) AS cumulative_value_share, e.tier, e.tier_rank, e.is_high_value,
       e.purchase_days, e.refunds, e.frequency, orc_f(e.recency) AS recency, orc_f(e.age) AS age,
       orc_f(e.monetary_value) AS monetary_value, e.value
  FROM orc_expected e;

-- ---------------------------------------------------------------------------
-- The comparison.
-- ---------------------------------------------------------------------------
-- the shop has what it should (so the comparison is not of nothing)
SELECT count(*) >= :customers / 2 AS many_customers,
       count(*) FILTER (WHERE purchase_days > 1) > 10 AS repeat_buyers,
       count(*) FILTER (WHERE refunds > 0) > 5 AS with_refunds,
       count(*) FILTER (WHERE margin_exact IS NULL) > 0 AS without_margin
  FROM orc_customers;
SELECT count(*) FILTER (WHERE s.customer_id IS NULL) > 0 AS null_keys,
       count(*) FILTER (WHERE s.amount = 'NaN') > 0 AS nan_amounts,
       count(*) FILTER (WHERE s.ordered_at > :'as_of') > 0 AS after_as_of,
       count(*) FILTER (WHERE s.ordered_at = :'as_of') > 0 AS at_as_of
  FROM orc_raw s;

-- the half-cent ticket
SELECT c.revenue, c.orders, c.avg_order_value FROM hvc.customers c WHERE c.customer_id = orc_key(:customers + 3);
-- the repeated hour's purchases, in UTC
SELECT c.first_order_at AT TIME ZONE 'UTC' AS first_utc, c.last_order_at AT TIME ZONE 'UTC' AS last_utc,
       c.purchase_days, c.tenure_days
  FROM hvc.customers c WHERE c.customer_id = orc_key(:customers + 4);

-- rows that differ (each listed both ways, at most 10)
SELECT 'hvc' AS side, * FROM (SELECT * FROM orc_got EXCEPT SELECT * FROM orc_want) d
UNION ALL
SELECT 'reference', * FROM (SELECT * FROM orc_want EXCEPT SELECT * FROM orc_got) d
ORDER BY 2, 1 LIMIT 10;
SELECT (SELECT count(*) FROM hvc.customers) = (SELECT count(*) FROM orc_customers) AS same_customers,
       (SELECT count(*) FROM (SELECT * FROM orc_got EXCEPT SELECT * FROM orc_want) d) AS rows_differ;

-- the refresh's counts: every row read; skipped the rows without a key,
-- time or finite amount and those after as_of (not those of refund-only
-- customers)
SELECT l.rows_read = (SELECT count(*) FROM orc_sales) AS rows_read,
       l.rows_skipped = (SELECT count(*) FROM orc_sales) - (SELECT count(*) FROM orc_rows) AS rows_skipped,
       l.customers = (SELECT count(*) FROM orc_customers) AS customers
  FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT 1;

-- snapshot_info: the 80th percentile of the tickets (3 decimals), the
-- median repeat gap, the high-value customers
SELECT i.premium_ticket_from = round((SELECT percentile_cont(0.8) WITHIN GROUP (ORDER BY avg_order_value)
                                        FROM orc_customers)::numeric, 3) AS premium_ticket_from,
       orc_f(i.median_repeat_gap_days::float8) = orc_f((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY avg_days_between_orders)
                                                  FROM orc_customers)) AS median_repeat_gap_days,
       i.high_value_customers = (SELECT count(*) FROM orc_expected WHERE is_high_value) AS high_value_customers
  FROM hvc.snapshot_info i;

-- the Pareto curve: the share of the top pct % (rank greatest(1, ceil(pct * n / 100)))
SELECT count(*) AS pareto_points_differ
  FROM hvc.pareto_curve c
  FULL JOIN (SELECT pct, e.cumulative_value_share
               FROM generate_series(1, 100) pct
               JOIN orc_expected e ON e.value_rank = greatest(1, ceil(pct * (SELECT count(*) FROM orc_customers) / 100.0))) w
    ON w.pct = c.customer_percentile
 WHERE orc_f(c.cumulative_value_share) IS DISTINCT FROM orc_f(w.cumulative_value_share::float8);

-- the value profiles (hvc.customers.value_profile), first matching rule
SELECT count(*) AS value_profiles_differ
  FROM hvc.customers c
  JOIN orc_expected e USING (customer_id)
 WHERE c.value_profile IS DISTINCT FROM
       CASE WHEN e.tenure_days < 90 THEN 'new'
            WHEN e.f_score >= 4 AND e.avg_order_value >= (SELECT premium_ticket_from FROM hvc.snapshot_info) THEN 'frequent_premium'
            WHEN e.f_score >= 4 THEN 'frequent'
            WHEN e.avg_order_value >= (SELECT premium_ticket_from FROM hvc.snapshot_info) THEN 'premium'
            ELSE 'occasional' END;

-- the summaries: per segment and per tier, from the reference rows
SELECT count(*) AS segment_summary_differ
  FROM hvc.segment_summary s
  FULL JOIN (SELECT segment, count(*) AS customers, sum(orders) AS orders, sum(revenue) AS revenue
               FROM orc_expected GROUP BY segment) e USING (segment)
 WHERE (s.customers, s.orders, s.revenue) IS DISTINCT FROM (e.customers, e.orders, e.revenue);
SELECT count(*) AS tier_summary_differ
  FROM hvc.tier_summary s
  FULL JOIN (SELECT e.tier, count(*) AS customers, sum(e.revenue) AS revenue, sum(e.margin) AS margin
               FROM orc_expected e GROUP BY e.tier) e USING (tier)
 WHERE (s.customers, s.revenue, s.margin) IS DISTINCT FROM (e.customers, e.revenue, e.margin);

-- cohort retention: the customers by the month of their first purchase day
-- (local), and of them those with a purchase day in each month from that
-- one to as_of's; hvc.retention: the periods (quarters) from the first
-- purchase's to as_of's, none covered by a tier history before this first
-- refresh of the source (no refresh's as_of is on or before their start)
CREATE TABLE orc_cohorts AS
WITH c AS (SELECT e.customer_id, date_trunc('month', e.first_day)::date AS cohort_month FROM orc_customers e),
     n AS (SELECT c.cohort_month, count(*) AS customers FROM c GROUP BY c.cohort_month),
     b AS (SELECT c.cohort_month,
                  ((extract(year FROM r.day) - extract(year FROM c.cohort_month)) * 12
                   + extract(month FROM r.day) - extract(month FROM c.cohort_month))::integer AS months_after,
                  count(DISTINCT c.customer_id) AS bought
             FROM c JOIN orc_rows r ON r.customer_id = c.customer_id AND r.purchase
            GROUP BY 1, 2)
SELECT n.cohort_month, k AS months_after, n.customers AS cohort_customers, coalesce(b.bought, 0) AS bought,
       (n.cohort_month + make_interval(months => k + 1))::date <= p.as_of_day AS month_complete
  FROM n CROSS JOIN orc_param p
 CROSS JOIN LATERAL generate_series(0, ((extract(year FROM p.as_of_day) - extract(year FROM n.cohort_month)) * 12
                                        + extract(month FROM p.as_of_day) - extract(month FROM n.cohort_month))::integer) k
  LEFT JOIN b ON b.cohort_month = n.cohort_month AND b.months_after = k;
SELECT count(*) AS cohort_retention_differ,
       (SELECT count(*) FROM orc_cohorts) > 50 AS many_cohort_months
  FROM ((SELECT cohort_month, months_after, cohort_customers, bought, month_complete FROM hvc.cohort_retention
         EXCEPT ALL SELECT * FROM orc_cohorts)
        UNION ALL
        (SELECT * FROM orc_cohorts
         EXCEPT ALL SELECT cohort_month, months_after, cohort_customers, bought, month_complete FROM hvc.cohort_retention)) d;
SELECT count(*) AS retention_differ
  FROM ((SELECT period_start, period_end, tier, customers_at_start, bought_again, period_complete, history_covers
           FROM hvc.retention
         EXCEPT ALL
         SELECT q::date, (q + interval '3 months')::date - 1, NULL, NULL, NULL,
                (q + interval '3 months')::date <= p.as_of_day, false
           FROM orc_param p,
                generate_series(date_trunc('quarter', (SELECT min(first_day) FROM orc_customers)::timestamp),
                                date_trunc('quarter', p.as_of_day::timestamp), interval '3 months') q)
        UNION ALL
        (SELECT q::date, (q + interval '3 months')::date - 1, NULL, NULL, NULL,
                (q + interval '3 months')::date <= p.as_of_day, false
           FROM orc_param p,
                generate_series(date_trunc('quarter', (SELECT min(first_day) FROM orc_customers)::timestamp),
                                date_trunc('quarter', p.as_of_day::timestamp), interval '3 months') q
         EXCEPT ALL
         SELECT period_start, period_end, tier, customers_at_start, bought_again, period_complete, history_covers
           FROM hvc.retention)) d;

DROP VIEW orc_got, orc_want, orc_expected;
DROP TABLE orc_cohorts, orc_sales, orc_raw, orc_param, orc_rows, orc_base, orc_customers, orc_breaks, orc_ranked, orc_tiers;
DROP FUNCTION orc_key(integer), orc_time(), orc_amount(), orc_score(float8, float8[]), orc_f(float8);
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
