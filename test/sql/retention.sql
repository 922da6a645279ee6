-- Retention (issue 12 item 6): hvc.retention by period and tier at the
-- period's start, hvc.cohort_retention by first-purchase month.  A six-
-- customer shop refreshed at four month-starts of 2024, numbers by hand.
--
-- Tiers: gold = the best half by historic value (3 of the 6 customers),
-- silver = the rest.  Purchases (all on the 10th of the month):
--   Jan: A 100, B 90, C 80, D 30, E 20, F 10     (everyone's first purchase)
--   Feb: A 10, D 100
--   Mar: B 5, E 200, F 5
--   Apr: A 10, E 10, F 10                       (C never comes back)
-- Refreshes (as_of = 00:00 on the 1st) and the tiers they give:
--   R1 Feb 1: A 100, B 90, C 80 | D 30, E 20, F 10   gold A B C, silver D E F (baseline)
--   R2 Mar 1: D 130, A 110, B 90 | C 80, E 20, F 10  gold D A B: D moves up, C down
--   R3 Apr 1: E 220, D 130, A 110 | B 95, C 80, F 15 gold E D A: E moves up, B down
--   R4 May 1: E 230, D 130, A 120 | B 95, C 80, F 25 no move
-- history_refreshes = 2 before R4: R4 keeps the moves of R3 and R4 only, so
-- tiers can be rebuilt back to R2 (R3's moves start from it), not to R1.
-- Periods (months) and the refresh each starts with:
--   Jan (none: before the first refresh)  -> not covered
--   Feb (R1: its moves to R2 are pruned)  -> not covered
--   Mar (R2): gold D A B, bought in March: B        -> 1 of 3
--             silver C E F, bought in March: E F    -> 2 of 3
--   Apr (R3): gold E D A, bought in April: A E      -> 2 of 3
--             silver B C F, bought in April: F      -> 1 of 3
--   May (R4): same tiers, nothing bought yet (period not complete) -> 0 of 3
-- Cohort Jan 2024 (6 customers): bought in month 0 (Jan) 6, 1 (Feb) A D = 2,
-- 2 (Mar) B E F = 3, 3 (Apr) A E F = 3, 4 (May, not complete) 0.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set SHOW_CONTEXT never
UPDATE hvc.config SET model = 'none', value_basis = 'historic_clv', retention_period = 'month',
                      history_refreshes = 24, timezone = 'UTC';
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES
    ('gold', 1, 0.5, true), ('silver', 2, 1.0, false);

CREATE TABLE ret_sales (customer_id text, ordered_at date, amount numeric(10,2));
INSERT INTO ret_sales VALUES
    ('A', '2024-01-10', 100), ('B', '2024-01-10', 90), ('C', '2024-01-10', 80),
    ('D', '2024-01-10', 30), ('E', '2024-01-10', 20), ('F', '2024-01-10', 10),
    ('A', '2024-02-10', 10), ('D', '2024-02-10', 100),
    ('B', '2024-03-10', 5), ('E', '2024-03-10', 200), ('F', '2024-03-10', 5),
    ('A', '2024-04-10', 10), ('E', '2024-04-10', 10), ('F', '2024-04-10', 10);
SELECT hvc.register_source(source => 'public.ret_sales', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount') IS NOT NULL AS registered;

CALL hvc.refresh(as_of => '2024-02-01');
SELECT string_agg(customer_id || ' ' || tier, ', ' ORDER BY customer_id) AS r1_tiers FROM hvc.customers;
CALL hvc.refresh(as_of => '2024-03-01');
CALL hvc.refresh(as_of => '2024-04-01');
SELECT customer_id, from_tier, to_tier, direction FROM hvc.tier_changes ORDER BY refresh_id, customer_id;
UPDATE hvc.config SET history_refreshes = 2;
CALL hvc.refresh(as_of => '2024-05-01');
SELECT string_agg(customer_id || ' ' || tier, ', ' ORDER BY customer_id) AS r4_tiers FROM hvc.customers;

SELECT period_start, period_end, tier, tier_rank, customers_at_start, bought_again,
       round(retention_rate::numeric, 4) AS retention_rate, period_complete, history_covers
  FROM hvc.retention;
SELECT message NOT LIKE '%retention%' AS message_unchanged FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT cohort_month, months_after, cohort_customers, bought, round(rate::numeric, 4) AS rate, month_complete
  FROM hvc.cohort_retention;

-- More history later does not bring back what was pruned: February stays
-- uncovered.  By quarter: Q1 (no refresh before Jan 1) is not covered; Q2
-- starts with R3's tiers (gold E D A: A and E bought in April -> 2 of 3;
-- silver B C F: F -> 1 of 3), not complete.
UPDATE hvc.config SET history_refreshes = 24;
CALL hvc.refresh(as_of => '2024-05-01');
SELECT period_start, tier, customers_at_start, bought_again, history_covers
  FROM hvc.retention WHERE period_start = '2024-02-01';
UPDATE hvc.config SET retention_period = 'quarter';
CALL hvc.refresh(as_of => '2024-05-01');
SELECT period_start, period_end, tier, customers_at_start, bought_again,
       round(retention_rate::numeric, 4) AS retention_rate, period_complete, history_covers
  FROM hvc.retention;

-- A bad period is refused.
\set VERBOSITY sqlstate
UPDATE hvc.config SET retention_period = 'week';
-- The builder hands the cohort counts to hvc._cohort_rows (16-byte entries:
-- key = month index << 32 | months after, customers); entries outside the
-- timestamp range's months, with a negative offset or count, or a length
-- not a multiple of 16 are refused.
SELECT * FROM hvc._cohort_rows('\x01000000e85e0000'::bytea || '\x0500000000000000'::bytea);
SELECT * FROM hvc._cohort_rows('\x00000000ffffff7f'::bytea || '\x0500000000000000'::bytea);
SELECT * FROM hvc._cohort_rows('\x01000000ac8efeff'::bytea || '\x0500000000000000'::bytea);
SELECT * FROM hvc._cohort_rows('\xffffffffe85e0000'::bytea || '\x0500000000000000'::bytea);
SELECT * FROM hvc._cohort_rows('\x01000000e85e0000'::bytea || '\xffffffffffffffff'::bytea);
SELECT * FROM hvc._cohort_rows('\x01000000e85e0000'::bytea);
-- The months of a state's purchase days (hvc._cohort_keys: (first month
-- << 32) | months after it, one key per month with a purchase), worked out
-- once per month: checked against the calendar months SQL gives, for
-- customers buying every few days across month ends, year ends, a leap day
-- and the years before Christ (astronomical years: 1 BC is year 0).
CREATE TEMP TABLE cohort_days AS
SELECT c, timestamp '2023-11-27 12:00' + (c * 7 + k * (c % 5 + 1) * 3) * interval '1 day' AS at
  FROM generate_series(1, 40) c, generate_series(0, 60) k
UNION ALL
SELECT 41, timestamp '0002-11-20 12:00 BC' + k * 4 * interval '1 day' FROM generate_series(0, 200) k
UNION ALL
SELECT 42, timestamp '2024-02-28 23:00' + k * interval '1 hour' FROM generate_series(0, 30) k;
WITH months AS (
    SELECT c, ((CASE WHEN extract(year FROM at) < 0 THEN extract(year FROM at) + 1 ELSE extract(year FROM at) END) * 12
               + extract(month FROM at) - 1)::bigint AS m
      FROM cohort_days),
expected AS (
    SELECT c, array_agg(((f << 32) | (m - f)) ORDER BY m) AS keys
      FROM (SELECT DISTINCT c, m, min(m) OVER (PARTITION BY c) AS f FROM months) z GROUP BY c),
got AS (
    SELECT c, hvc._cohort_keys(hvc.customer_state(at, 1::numeric, NULL::numeric, NULL::int, '2100-01-01', 'UTC')) AS keys
      FROM cohort_days GROUP BY c)
SELECT count(*) AS customers, count(*) FILTER (WHERE g.keys = e.keys) AS same_months,
       sum(cardinality(g.keys)) AS keys
  FROM got g JOIN expected e USING (c);
DROP TABLE cohort_days;
-- and hvc._snapshot_stats (the counts' source) only for this session's last build
SELECT cohorts IS NOT NULL FROM hvc._snapshot_stats(0);
\set VERBOSITY default

-- Leave the defaults for the tests that follow.
UPDATE hvc.config SET model = 'bgnbd', value_basis = 'predicted_clv', retention_period = 'quarter',
                      history_refreshes = 24;
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES
    ('top', 1, 0.05, true), ('high', 2, 0.20, true), ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
