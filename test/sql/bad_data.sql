-- Odd keys, odd values and edited rules (issue 7, items 9 and 10):
--  * a NOT NULL domain as key type refreshes (it failed every refresh, 23502);
--  * a key too long for a btree entry is skipped and counted (it failed
--    every refresh, 54000);
--  * keys that are equal without being identical (citext, nondeterministic
--    collations) are refused with a hint, not merged in one place only;
--  * shares of value never exceed 1 when some customers are net-negative;
--  * renaming tiers is not a move; a move out of a renamed tier keeps its rank.
-- a fresh extension (refresh ids from 1; objects of earlier tests that use
-- hvc types go with the old one)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS hvc CASCADE;
CREATE EXTENSION hvc;
RESET client_min_messages;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set SHOW_CONTEXT never
SET client_min_messages = notice;
UPDATE hvc.config SET model = 'none', time_unit = 'day', value_basis = 'revenue';

-- 1. A NOT NULL domain key.
CREATE DOMAIN bd_key AS integer NOT NULL CHECK (VALUE > 0);
CREATE TABLE bd_domain (customer_id bd_key, ordered_at date, amount numeric);
INSERT INTO bd_domain VALUES (1, '2025-01-10', 10), (2, '2025-02-10', 20), (2, '2025-03-10', 5);
SELECT hvc.register_source('public.bd_domain', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
SET client_min_messages = warning;
CALL hvc.refresh(as_of => '2025-07-01');
SET client_min_messages = notice;
SELECT customer_id, pg_typeof(customer_id) AS key_type, orders, revenue, value_rank
  FROM hvc.customers ORDER BY customer_id;

-- 2. Long keys: a 3000-byte key that does not compress cannot be a btree
-- entry (at most ~2.7 kB): its customer is skipped with a NOTICE and its
-- 2 rows are counted as skipped.  A 5000-byte key that compresses well is
-- stored (compressed) like any other.
CREATE TABLE bd_long (customer_id text, ordered_at date, amount numeric);
INSERT INTO bd_long
SELECT k, d, 10
  FROM (VALUES ((SELECT string_agg(md5(i::text), '') FROM generate_series(1, 94) i)),  -- 3008 bytes
               (repeat('x', 5000)), ('short')) keys(k),
       (VALUES (date '2025-01-10'), (date '2025-02-10')) days(d);
SELECT hvc.register_source('public.bd_long', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT rows_read, rows_skipped, customers, status FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT length(customer_id) AS key_length, revenue FROM hvc.customers ORDER BY 1;

-- 3. Keys equal without being identical: refused at registration (and by
-- a refresh, which checks the mapping again), with the view to register.
CREATE COLLATION bd_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE bd_ci_sales (customer_id text COLLATE bd_ci, ordered_at date, amount numeric);
INSERT INTO bd_ci_sales VALUES ('Ann', '2025-01-10', 10), ('ann', '2025-02-10', 20), ('Bob', '2025-03-10', 7);
SELECT hvc.register_source('public.bd_ci_sales', 'customer_id', 'ordered_at', 'amount');
CREATE EXTENSION citext;
CREATE TABLE bd_citext (customer_id citext, ordered_at date, amount numeric);
SELECT hvc.register_source('public.bd_citext', 'customer_id', 'ordered_at', 'amount');
-- the suggested view: case variants are one customer, everywhere
CREATE VIEW bd_ci_view AS SELECT lower(customer_id::text) COLLATE "default" AS customer_id, ordered_at, amount FROM bd_ci_sales;
SELECT hvc.register_source('public.bd_ci_view', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
SET client_min_messages = warning;
CALL hvc.refresh(as_of => '2025-07-01');
SET client_min_messages = notice;
SELECT customer_id, orders, revenue FROM hvc.customers ORDER BY 1;
SELECT customer_id, tier FROM hvc.priority('ann'::text);
DROP TABLE bd_citext;
DROP EXTENSION citext;

-- 4. Net-negative customers: a refund beyond the purchase leaves customer 3
-- at -30.  Shares are of the total positive value (100 + 50 = 150): 2/3,
-- 1, 1 — never above 1 (they were 100/120, 150/120 = 1.25, 1).
CREATE TABLE bd_neg (customer_id int, ordered_at date, amount numeric);
INSERT INTO bd_neg VALUES (1, '2025-01-10', 100), (2, '2025-02-10', 50),
                          (3, '2025-03-10', 20), (3, '2025-03-20', -50);
SELECT hvc.register_source('public.bd_neg', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
SET client_min_messages = warning;
CALL hvc.refresh(as_of => '2025-07-01');
SET client_min_messages = notice;
SELECT customer_id, revenue, value, value_rank, round(cumulative_value_share::numeric, 6) AS cum_share
  FROM hvc.customers ORDER BY value_rank;
SELECT min(customer_percentile) AS first_pct, max(cumulative_value_share) AS max_share,
       round(min(cumulative_value_share)::numeric, 6) AS min_share
  FROM hvc.pareto_curve;
-- nobody with positive value (customer 3 alone, at -130): no shares at all
DELETE FROM bd_neg WHERE customer_id <> 3;
INSERT INTO bd_neg VALUES (3, '2025-03-25', -100);
SET client_min_messages = warning;
CALL hvc.refresh(as_of => '2025-07-01');
SET client_min_messages = notice;
SELECT customer_id, revenue, cumulative_value_share FROM hvc.customers;

-- 5. Tier renames.  Ten customers with revenue 10, 20, ..., 100: high takes
-- ranks 1-2 (floor(0.2 * 10)), medium 3-5, low 6-10.
CREATE TABLE bd_tiers (customer_id int, ordered_at date, amount numeric);
INSERT INTO bd_tiers SELECT i, '2025-03-01', 10 * i FROM generate_series(1, 10) i;
SELECT hvc.register_source('public.bd_tiers', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
SET client_min_messages = warning;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT refreshed_at AS first_refresh FROM hvc.snapshot_info \gset
-- high -> gold, medium -> silver: same ranks, so nobody moved
UPDATE hvc.tier_rules SET tier = 'gold' WHERE tier = 'high';
UPDATE hvc.tier_rules SET tier = 'silver' WHERE tier = 'medium';
CALL hvc.refresh(as_of => '2025-07-01');
SELECT tier, count(*) AS customers, bool_and(tier_since = :'first_refresh') AS tier_since_kept,
       count(previous_tier) AS with_previous_tier
  FROM hvc.customers GROUP BY tier ORDER BY min(tier_rank);
SELECT count(*) AS moves FROM hvc.tier_changes;
-- gold -> platinum and it shrinks to rank 1: customer 9 leaves "gold" (a
-- name no rule has any more; its rank was 2) for silver (rank 3): down.
UPDATE hvc.tier_rules SET tier = 'platinum', customer_share = 0.1 WHERE tier = 'gold';
CALL hvc.refresh(as_of => '2025-07-01');
SET client_min_messages = notice;
SELECT customer_id, from_tier, from_tier_rank, to_tier, to_tier_rank, direction
  FROM hvc.tier_changes ORDER BY refresh_id, customer_id;
SELECT customer_id, tier, previous_tier, tier_since = :'first_refresh' AS since_first
  FROM hvc.customers WHERE customer_id >= 8 ORDER BY customer_id;

-- Leave a fresh extension for the tests that follow.
SET client_min_messages = warning;
DROP EXTENSION hvc CASCADE;
CREATE EXTENSION hvc;
DROP TABLE bd_domain, bd_long, bd_ci_sales, bd_neg, bd_tiers CASCADE;
DROP COLLATION bd_ci;
DROP DOMAIN bd_key;
