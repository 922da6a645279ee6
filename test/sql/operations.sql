-- Operations: tier history across refreshes, the at-risk list, alerts
-- (NOTIFY hvc_alerts + hvc.alerts), hvc.priority, value profiles, refresh
-- status, and the clear error of scheduling without pg_cron.
-- A hand-built shop of 20 customers; every expected value is worked out in
-- the comments.  Refresh ids are shown relative to the last one before this
-- test (:base), so the test can run after others.
SET client_min_messages = warning;  -- also quiets "extension already exists" after other tests
CREATE EXTENSION IF NOT EXISTS hvc;
SET timezone = 'UTC';
-- NOTIFY payloads with customer ids (alert_payload = 'ids', hvc 0.1.0's
-- payload) until refresh 3; the other payloads are shown from there on.
UPDATE hvc.config SET model = 'none', time_unit = 'day', value_basis = 'predicted_clv',
                      at_risk_threshold = 0.5, history_refreshes = 24, alert_payload = 'ids';
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules VALUES ('top', 1, 0.05, true), ('high', 2, 0.20, true),
                                  ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
SELECT coalesce(max(refresh_id), 0) AS base FROM hvc.refresh_log \gset

CREATE TABLE ops_sales (customer_id int, ordered_at date, amount numeric(10,2));
INSERT INTO ops_sales VALUES
    -- c1: every 30 days, last 2025-03-28 (95 days before 2025-07-01): 5 x 400 = 2000
    (1, '2024-11-28', 400), (1, '2024-12-28', 400), (1, '2025-01-27', 400),
    (1, '2025-02-26', 400), (1, '2025-03-28', 400),
    -- c2: every 10 days, last 2025-06-06 (25 days): 4 x 300 = 1200, first order 55 days ago
    (2, '2025-05-07', 300), (2, '2025-05-17', 300), (2, '2025-05-27', 300), (2, '2025-06-06', 300),
    -- c3: one big purchase (a one-time buyer: judged against the median gap of the repeat customers)
    (3, '2024-09-01', 1500),
    -- c4: every 20 days, last 2025-05-17 (45 days): 4 x 250 = 1000
    (4, '2025-03-18', 250), (4, '2025-04-07', 250), (4, '2025-04-27', 250), (4, '2025-05-17', 250),
    -- c5: new (first order 61 days ago): 3 x 300 = 900
    (5, '2025-05-01', 300), (5, '2025-05-31', 300), (5, '2025-06-20', 300),
    -- c6: monthly, 6 x 100
    (6, '2025-01-05', 100), (6, '2025-02-05', 100), (6, '2025-03-05', 100),
    (6, '2025-04-05', 100), (6, '2025-05-05', 100), (6, '2025-06-05', 100),
    (7, '2025-02-10', 800),
    (8, '2025-03-01', 350), (8, '2025-06-01', 350),
    (9, '2025-01-10', 100), (9, '2025-02-10', 100), (9, '2025-03-10', 100), (9, '2025-04-10', 100), (9, '2025-05-10', 100),
    (10, '2024-12-01', 200), (10, '2025-04-01', 200),
    -- c11: weekly from 2025-04-01 (tenure 91 days: not new), 8 x 45
    (11, '2025-04-01', 45), (11, '2025-04-08', 45), (11, '2025-04-15', 45), (11, '2025-04-22', 45),
    (11, '2025-04-29', 45), (11, '2025-05-06', 45), (11, '2025-05-13', 45), (11, '2025-05-20', 45),
    (12, '2025-01-15', 300),
    (13, '2025-02-01', 80), (13, '2025-03-01', 80), (13, '2025-04-01', 80),
    (14, '2025-06-15', 200),
    (15, '2025-01-20', 45), (15, '2025-02-20', 45), (15, '2025-03-20', 45), (15, '2025-04-20', 45),
    (16, '2024-10-10', 150),
    (17, '2025-02-14', 60), (17, '2025-05-14', 60),
    (18, '2025-03-03', 100),
    -- c19: first order 88 days ago: new
    (19, '2025-04-04', 40), (19, '2025-06-04', 40),
    (20, '2024-08-08', 50);

-- Start from an empty snapshot whatever ran before: registering a source with
-- another key type rebuilds the customer-typed objects (text, then integer).
CREATE VIEW ops_sales_text AS SELECT 'C' || customer_id AS customer, ordered_at, amount FROM ops_sales;
SELECT hvc.register_source('public.ops_sales_text', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
SELECT hvc.register_source(source => 'public.ops_sales', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount');
SELECT count(*) AS customers_before_refresh FROM hvc.customers;

-- ---------------------------------------------------------------------------
-- Refresh 1 (as of 2025-07-01): the baseline.
-- Revenue ranks (value = historic_clv = revenue without a model):
--   c1 2000, c3 1500, c2 1200, c4 1000, c5 900, c7 800, c8 700, c6 600, c9 500,
--   c10 400, c11 360, c12 300, c13 240, c14 200, c15 180, c16 150, c17 120,
--   c18 100, c19 80, c20 50.
-- 20 customers: top = rank 1 (floor(.05 x 20)), high = 2-4, medium = 5-10, low = 11-20.
-- ---------------------------------------------------------------------------
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, value_rank, tier, is_high_value FROM hvc.customers WHERE value_rank <= 5 ORDER BY value_rank;

-- At risk without a model: high-value (c1, c3, c2, c4) and overdue:
--   c1 95 days > 2 x 30 -> at risk;  c4 45 days > 2 x 20 -> at risk;
--   c2 25 days > 2 x 10 but under 30 days -> not yet;  c3 one-time buyer, 303 days >
--   2 x 30 (the median gap of the repeat customers) -> at risk.
-- Ordered by value at stake: c1 (2000), c3 (1500), c4 (1000).
SELECT at_risk_rank, customer_id, tier, value_at_stake, recency_days, avg_days_between_orders,
       round(overdue_ratio::numeric, 3) AS overdue_ratio, risk_basis, reason
  FROM hvc.at_risk;
-- The list leaves the window that numbers it in its own order: no sort of
-- the finished rows by at_risk_rank (a second sort of every listed row).
CREATE FUNCTION pg_temp.top_node(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    j json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || q INTO j;
    RETURN j -> 0 -> 'Plan' ->> 'Node Type';
END $$;
SELECT pg_temp.top_node('SELECT * FROM hvc.at_risk') AS at_risk_top_node;

-- The first refresh records no tier moves; everyone on the list is new to it.
SELECT count(*) AS tier_moves FROM hvc.tier_changes WHERE refresh_id > :base;
SELECT refresh_id - :base AS refresh, kind, customers, sample_ids
  FROM hvc.alerts WHERE refresh_id > :base ORDER BY alert_id;

-- ---------------------------------------------------------------------------
-- Value profiles (first rule wins):
--   new: tenure < 90 days: c2 (55), c5 (61), c14 (16), c19 (88); c11 has 91 -> not new.
--   f_score (breaks of orders 1, 2, 3, 4.2): orders >= 4 -> f_score >= 4:
--     c1 5, c2 4, c4 4, c6 6, c9 5, c11 8, c15 4.
--   Top-quintile ticket: avg_order_value >= percentile_cont(0.8) = 300 + 0.2 x (350 - 300) = 310:
--     c1 400, c3 1500, c7 800, c8 350.
--   -> frequent_premium c1; frequent c4 c6 c9 c11 c15; premium c3 c7 c8;
--      occasional c10 c12 c13 c16 c17 c18 c20.
-- ---------------------------------------------------------------------------
SELECT value_profile, string_agg(customer_id::text, ' ' ORDER BY customer_id) AS customers,
       min(premium_ticket_from) AS premium_ticket_from
  FROM hvc.value_profiles GROUP BY value_profile ORDER BY value_profile;
SELECT value_profile, customers, round(customer_share::numeric, 4) AS customer_share, revenue,
       round(revenue_share::numeric, 4) AS revenue_share, orders, avg_order_value,
       high_value_customers, predicted_clv, avg_churn_risk
  FROM hvc.value_profile_summary;
-- One aggregate over hvc.customers, not over hvc.value_profiles (whose
-- premium_ticket_from is a second read of snapshot_info) into a CTE read
-- twice.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/include/plan_count.sql
SELECT pg_temp.plan_count('SELECT * FROM hvc.value_profile_summary', '"Node Type": "CTE Scan"') AS cte_scans,
       pg_temp.plan_count('SELECT * FROM hvc.value_profile_summary', '"Relation Name": "snapshot_info"') AS snapshot_info_reads,
       pg_temp.plan_count('SELECT * FROM hvc.value_profile_summary', '"Relation Name": "customer_snapshot"') AS snapshot_reads;

-- ---------------------------------------------------------------------------
-- hvc.priority, no model (churn = min(recency / (2 x max(usual gap, 15)), 1)):
--   c1: value 1, churn min(95 / 60, 1) = 1, growth 0.5 (no prediction)
--       -> 0.55 + 0.35 + 0.05 = 0.95 -> priority 1
--   c2: value 1 - 2/20 = 0.9, churn 25 / (2 x 15) = 0.8333
--       -> 0.495 + 0.35 x 0.8333 x 0.9 (0.2625) + 0.10 x 0.5 x 0.9 (0.045) = 0.8025 -> 1
--   c3: value 0.95, one-time buyer: churn min(303 / (2 x 30), 1) = 1 (30 = the median gap of
--       the repeat customers) -> 0.5225 + 0.3325 + 0.0475 = 0.9025 -> 1
--   c20: value 0.05, one-time buyer 327 days ago: churn 1 -> 0.0275 + 0.0175 + 0.0025 = 0.0475 -> 5
--   (c4: value 0.85, churn min(45 / 40, 1) = 1 -> 0.4675 + 0.2975 + 0.0425 = 0.8075 -> 1)
-- ---------------------------------------------------------------------------
SELECT p.* FROM unnest(ARRAY[1, 2, 3, 20]) c, hvc.priority(c) p;
-- Unknown, NULL and unparsable keys: no row.
SELECT count(*) AS rows FROM hvc.priority(999);
SELECT count(*) AS rows FROM hvc.priority(NULL::int);
SELECT count(*) AS rows FROM hvc.priority('no such customer');
-- Keys of another type are cast to the key type: bigint and a quoted literal.
SELECT customer_id, tier, priority, score FROM hvc.priority(4::bigint);
SELECT customer_id, tier, priority, score FROM hvc.priority('4');
-- A type that cannot be cast: a clear error.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT * FROM hvc.priority(date '2025-01-01');
-- A single-row primary-key lookup.
EXPLAIN (COSTS OFF)
SELECT s.tier FROM hvc.customer_snapshot s WHERE s.customer_id = 4;

-- ---------------------------------------------------------------------------
-- Refresh 2 (as of 2025-08-01), after: c1 buys again (2400, no longer overdue),
-- c5 buys big (1900), new customer c21 (70), c20's only sale is deleted.
-- Ranks: c1 2400, c5 1900, c3 1500, c2 1200 | c4 1000 ... -> c5 medium -> high (up),
-- c4 high -> medium (down, a high-value drop), c21 new, c20 lapsed.
-- At risk: c2, 56 days since the last order (usually every 10) -> newly at risk;
-- c3 (one-time buyer) still; c4 is no longer high-value, c1 is back.
-- The refresh runs in a second session that LISTENs: psql prints the
-- notification (its PID, the absolute refresh id and the database name are masked).
-- ---------------------------------------------------------------------------
INSERT INTO ops_sales VALUES (1, '2025-07-15', 400), (5, '2025-07-20', 1000), (21, '2025-07-25', 70);
DELETE FROM ops_sales WHERE customer_id = 20;
\setenv PGDATABASE :DBNAME
\! psql -X -q -c 'SET client_min_messages = warning' -c 'LISTEN hvc_alerts' -c "CALL hvc.refresh(as_of => '2025-08-01 00:00 UTC')" 2>&1 | sed -e 's/PID [0-9]*/PID N/' -e 's/"refresh_id" : [0-9]*/"refresh_id" : N/' -e 's/"database" : "[^"]*"/"database" : "(db)"/'
SELECT max(refresh_id) - :base AS last_refresh, count(*) FILTER (WHERE status = 'succeeded') AS succeeded
  FROM hvc.refresh_log WHERE refresh_id > :base;

SELECT refresh_id - :base AS refresh, customer_id, from_tier, to_tier, direction
  FROM hvc.tier_changes WHERE refresh_id > :base ORDER BY refresh_id, customer_id;
SELECT refresh_id - :base AS refresh, from_tier, to_tier, direction, customers
  FROM hvc.tier_migration WHERE refresh_id > :base ORDER BY refresh_id, from_tier, to_tier;
SELECT customer_id, tier, previous_tier FROM hvc.customers WHERE customer_id IN (4, 5) ORDER BY 1;
SELECT at_risk_rank, customer_id, tier, reason FROM hvc.at_risk;
-- hvc.alerts holds the same facts, and the payload that was sent.
SELECT refresh_id - :base AS refresh, kind, customers, sample_ids,
       (payload::json ->> 'refresh_id')::bigint = refresh_id AS payload_of_this_refresh,
       payload::json ->> 'newly_at_risk_ids' AS payload_new_ids,
       payload::json ->> 'tier_drop_ids' AS payload_drop_ids
  FROM hvc.alerts WHERE refresh_id > :base ORDER BY alert_id;

-- ---------------------------------------------------------------------------
-- Refresh 3 (as of 2025-08-15) keeping one refresh of history: c4 buys for 1200
-- (2200, rank 2: medium -> high, up) and pushes c2 (1200, rank 5) down to medium.
-- History and alerts of refreshes 1 and 2 are pruned.  Only c3 (one-time buyer,
-- 348 days) is at risk: c1 31 days (usual gap now 229/5 = 45.8), c4 5, c5 26;
-- c2 is not high-value any more.
-- The payload carries counts only (alert_payload = 'counts', the default).
-- ---------------------------------------------------------------------------
UPDATE hvc.config SET history_refreshes = 1, alert_payload = 'counts';
INSERT INTO ops_sales VALUES (4, '2025-08-10', 1200);
\! psql -X -q -c 'SET client_min_messages = warning' -c 'LISTEN hvc_alerts' -c "CALL hvc.refresh(as_of => '2025-08-15 00:00 UTC')" 2>&1 | sed -e 's/PID [0-9]*/PID N/' -e 's/"refresh_id" : [0-9]*/"refresh_id" : N/' -e 's/"database" : "[^"]*"/"database" : "(db)"/'
SELECT max(refresh_id) - :base AS last_refresh FROM hvc.refresh_log WHERE status = 'succeeded';
SELECT refresh_id - :base AS refresh, customer_id, from_tier, to_tier, direction
  FROM hvc.tier_changes WHERE refresh_id > :base ORDER BY refresh_id, customer_id;
SELECT refresh_id - :base AS refresh, kind, customers, sample_ids,
       payload::json ->> 'at_risk' AS payload_at_risk
  FROM hvc.alerts WHERE refresh_id > :base ORDER BY alert_id;
SELECT count(*) AS at_risk FROM hvc.at_risk;
-- The at-risk memory: c3 has been at risk since refresh 1 (its row is not
-- rewritten while it stays); c1 and c4 (left at refresh 2) and c2 (at risk
-- at refresh 2 only) are gone from it.
SELECT customer_id, refresh_id - :base AS at_risk_since FROM hvc.at_risk_previous ORDER BY 1;

-- With a churn model the rule is churn_risk >= at_risk_threshold and among
-- the riskiest at_risk_share of the high-value customers.  No model is
-- fitted here, so set churn risks (and their percentiles) by hand in the
-- snapshot: c3 72 % (at risk), c1 30 % (not), c12 90 % (not high-value).
-- 4 customers are high-value: the default share 0.2 lists floor(0.8) = 0.
UPDATE hvc.customer_snapshot SET churn_risk = CASE customer_id WHEN 3 THEN 0.72 WHEN 1 THEN 0.3 ELSE 0.9 END,
                                 churn_percentile = CASE customer_id WHEN 3 THEN 0.9 WHEN 1 THEN 0.5 ELSE 1 END
 WHERE customer_id IN (1, 3, 12);
SELECT count(*) FILTER (WHERE is_high_value) AS high_value FROM hvc.customer_snapshot;
SELECT count(*) AS at_risk_share_02 FROM hvc.at_risk;
UPDATE hvc.config SET at_risk_share = 1;
SELECT at_risk_rank, customer_id, tier, churn_risk, at_risk_threshold, risk_basis, reason FROM hvc.at_risk;
UPDATE hvc.config SET at_risk_threshold = 0.25;
SELECT at_risk_rank, customer_id, tier, churn_risk, reason FROM hvc.at_risk;
-- share 0.25 of 4: only the riskiest (c3) of the two above the threshold
UPDATE hvc.config SET at_risk_share = 0.25;
SELECT at_risk_rank, customer_id, tier, churn_risk, reason FROM hvc.at_risk;
-- priority's churn part is the churn_risk percentile, whatever the threshold
-- (value 1 - 3/20 = 0.85):
--   c3 percentile 0.9 -> 0.4675 + 0.35 x 0.9 x 0.85 = 0.2678 + 0.0425 = 0.7778 -> 1
--   c1 percentile 0.5, value 1 -> 0.55 + 0.175 + 0.05 = 0.775 -> 1
SELECT p.customer_id, p.priority, p.score, p.value_part, p.churn_part, p.growth_part
  FROM unnest(ARRAY[3, 1]) c, hvc.priority(c) p;
UPDATE hvc.config SET at_risk_threshold = 0.5, at_risk_share = 0.2;
SELECT customer_id, priority, score, churn_part FROM hvc.priority(1);

-- ---------------------------------------------------------------------------
-- Text keys: registering a source with another key type rebuilds the
-- customer-typed objects; the first refresh after that reports everyone at
-- risk as new.  As of 2025-09-15: c4 (now high, every (2025-08-10 - 2025-03-18)/4
-- = 36 days, 36 days ago) is not overdue; c5 (every 26.7 days, 57 days ago) is,
-- and so is c3 (one-time buyer, 379 days against the median repeat gap).
-- The payload carries the refresh id only (alert_payload = 'refresh_id'); the
-- ids stay in hvc.alerts.
-- ---------------------------------------------------------------------------
UPDATE hvc.config SET history_refreshes = 24, alert_payload = 'refresh_id';
SELECT hvc.register_source('public.ops_sales_text', 'customer', 'ordered_at', 'amount');
\! psql -X -q -c 'SET client_min_messages = warning' -c 'LISTEN hvc_alerts' -c "CALL hvc.refresh(as_of => '2025-09-15 00:00 UTC')" 2>&1 | sed -e 's/PID [0-9]*/PID N/' -e 's/"refresh_id" : [0-9]*/"refresh_id" : N/' -e 's/"database" : "[^"]*"/"database" : "(db)"/'
\set VERBOSITY terse
UPDATE hvc.config SET alert_payload = 'names';
\set VERBOSITY default
SELECT pg_typeof(customer_id) AS key_type, at_risk_rank, customer_id, tier, reason FROM hvc.at_risk;
SELECT kind, customers, sample_ids, payload::json -> 'newly_at_risk_ids' AS payload_ids
  FROM hvc.alerts WHERE refresh_id = (SELECT max(refresh_id) FROM hvc.refresh_log);
SELECT customer_id, tier, priority FROM hvc.priority('C5');
SELECT customer_id, tier, priority FROM hvc.priority('C5'::varchar);
SELECT count(*) AS rows FROM hvc.priority('C99');
SELECT value_profile, count(*) AS customers FROM hvc.value_profiles GROUP BY 1 ORDER BY 1;

-- ---------------------------------------------------------------------------
-- Without pg_cron: a clear error whose HINT says how to enable it (the DETAIL
-- says which step is missing, and depends on the server, so it is not shown).
-- ---------------------------------------------------------------------------
DO $$
DECLARE st text; msg text; hint text;
BEGIN
    PERFORM hvc.schedule_refresh('0 3 * * *');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RAISE WARNING E'SQLSTATE %\nmessage: %\nhint: %', st, msg, regexp_replace(replace(hint, current_database(), '(db)'), 'postgresql-[0-9]+-cron', 'postgresql-(version)-cron');
END $$;
DO $$
DECLARE st text; msg text;
BEGIN
    PERFORM hvc.unschedule_refresh();
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RAISE WARNING 'SQLSTATE %: %', st, msg;
END $$;
SELECT hvc.schedule_refresh('');
-- The status works without pg_cron: a job row saying so, with NULL job columns.
SELECT item, job_name, schedule, active, job_database, run_id, status FROM hvc.refresh_status WHERE item = 'job';
SELECT item, run_id - :base AS refresh, status, as_of, customers
  FROM hvc.refresh_status(3) WHERE item = 'refresh';

-- ---------------------------------------------------------------------------
-- Many tier drops (over 1000: the ten samples come from one join to the
-- snapshot, not a probe per drop): 6000 customers with revenue 1..6000 (no
-- model: value = revenue), then reversed.  The 1200 high-value customers
-- (customers 4801..6000, top 20 %) all fall to low; the samples are the
-- dropped customers of highest value now: 4801..4810.
-- ---------------------------------------------------------------------------
SELECT value_basis AS saved_basis FROM hvc.config \gset
UPDATE hvc.config SET model = 'none', value_basis = 'historic_clv', history_refreshes = 24;
CREATE TABLE ops_many (customer_id integer, ordered_at date, amount numeric);
INSERT INTO ops_many SELECT i, '2025-05-01', i FROM generate_series(1, 6000) i;
SELECT hvc.register_source('public.ops_many', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
UPDATE ops_many SET amount = 6001 - customer_id;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT kind, customers, sample_ids FROM hvc.alerts
 WHERE refresh_id = (SELECT max(refresh_id) FROM hvc.refresh_log) ORDER BY kind;
SELECT direction, from_tier, to_tier, count(*) FROM hvc.tier_changes
 WHERE refresh_id = (SELECT max(refresh_id) FROM hvc.refresh_log)
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
UPDATE hvc.config SET value_basis = :'saved_basis';

-- ---------------------------------------------------------------------------
-- BI safety: view columns are plain scalars and every column has a comment.
-- ---------------------------------------------------------------------------
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'hvc'::regnamespace
   AND c.relname IN ('at_risk', 'value_profiles', 'value_profile_summary', 'refresh_status', 'alerts')
   AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'customer_id'
   AND NOT (a.atttypid IN ('int4'::regtype, 'int8'::regtype, 'float8'::regtype, 'text'::regtype,
                           'date'::regtype, 'timestamptz'::regtype, 'bool'::regtype)
            OR (a.atttypid = 'numeric'::regtype AND a.atttypmod >= 4 AND ((a.atttypmod - 4) >> 16) <= 28));
SELECT c.relname, a.attname AS uncommented
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'hvc'::regnamespace
   AND c.relname IN ('at_risk', 'value_profiles', 'value_profile_summary', 'refresh_status', 'alerts')
   AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL;

-- Leave the defaults for the tests that follow.
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week', at_risk_threshold = 0.5, history_refreshes = 24,
                      alert_payload = 'counts';
