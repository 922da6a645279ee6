-- The default profile rules (issue 12 item 3): a fresh install ships
-- ambassador (latest NPS >= 9, a promoter, or at least 1 converted
-- referral; priority 1) and early_adopter (a product bought within 30 days
-- of its first sale to anyone; priority 3); corporate is the DBA's.  They
-- are untouched defaults (origin extension, not dumped) until the DBA
-- changes the set.  The unreachable-rule NOTICE leaves out a default rule
-- none of whose inputs exists, and names every other rule that cannot match.
--
-- A six-customer shop with a product column, as of 2025-07-01:
--   customer  purchases (product)                nps (latest)     referrals
--   D1        P1 2025-03-01                      10               -
--   D2        P1 2025-04-01                      8                D5 (bought: converted)
--   D3        P1 2025-01-05 (P1's first sale)    6                -
--   D4        P1 2025-05-01                      -                X7 (never bought)
--   D5        P1 2025-06-01                      9 on 07-15 (after as_of: none)
--   D6        P1 2025-02-05 (31 days after 01-05) -               -
-- ambassador: D1 (promoter); D2 (1 converted referral); D4 has a referral
-- that did not buy, D5's answer comes after as_of: no.
-- early_adopter: P1 first sold 2025-01-05: D3 (day 0); D6 on day 31 is
-- past the 30 days (30 x 24 hours); the others later still.
-- So: D1 ambassador, D2 ambassador, D3 early_adopter, D4-D6 none.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS hvc CASCADE;
CREATE EXTENSION hvc;
SET client_min_messages = notice;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
UPDATE hvc.config SET model = 'none', time_unit = 'day', value_basis = 'historic_clv';

-- 1. Fresh: the two defaults, untouched (not dumped).
SELECT * FROM hvc.profile_rules ORDER BY priority;
SELECT * FROM hvc.rule_sets WHERE rule_table = 'profile_rules';
SELECT x.condition
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) x(tab, condition)
 WHERE e.extname = 'hvc' AND x.tab = 'hvc.profile_rules'::regclass;

-- 2. A shop without signals and without a product column: no NOTICE about
-- the defaults (their inputs are absent), nothing stored.
CREATE TABLE pd_plain (customer text, ordered_at date, amount numeric(10,2));
INSERT INTO pd_plain VALUES ('A', '2025-06-01', 10), ('B', '2025-06-02', 20);
SET client_min_messages = warning;
SELECT hvc.register_source('public.pd_plain', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
SET client_min_messages = notice;
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT count(*) AS signal_rows FROM hvc.customer_signals;

-- 3. The six-customer shop, with the product column and no signal yet:
-- early_adopter can match (D3), ambassador has no input: no NOTICE.
CREATE TABLE pd_sales (customer text, ordered_at date, amount numeric(10,2), product text);
INSERT INTO pd_sales VALUES
    ('D1', '2025-03-01', 100, 'P1'), ('D2', '2025-04-01', 100, 'P1'), ('D3', '2025-01-05', 100, 'P1'),
    ('D4', '2025-05-01', 100, 'P1'), ('D5', '2025-06-01', 100, 'P1'), ('D6', '2025-02-05', 100, 'P1');
CREATE TABLE pd_nps (customer text, answered_at date, score integer);
INSERT INTO pd_nps VALUES ('D1', '2025-06-01', 10), ('D2', '2025-06-01', 8), ('D3', '2025-06-01', 6),
                          ('D5', '2025-07-15', 9);
CREATE TABLE pd_referrals (referrer text, referred_on date, referred text);
INSERT INTO pd_referrals VALUES ('D2', '2025-05-01', 'D5'), ('D4', '2025-05-01', 'X7');
SET client_min_messages = warning;
SELECT hvc.register_source('public.pd_sales', 'customer', 'ordered_at', 'amount', product => 'product') IS NOT NULL AS registered;
SET client_min_messages = notice;
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT customer_id, profiles FROM hvc.customer_signals ORDER BY customer_id;

-- 4. A referral signal without the referred customer's key and no NPS: the
-- shop uses referrals, the default ambassador rule cannot match: named.
SET client_min_messages = warning;
SELECT hvc.register_signal('refs_nokey', 'public.pd_referrals', 'referrer', 'referred_on', NULL, 'referral') IS NOT NULL AS registered;
SET client_min_messages = notice;
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT hvc.unregister_signal('refs_nokey');

-- 5. NPS and referrals with the key: the worked example, no NOTICE.
SET client_min_messages = warning;
SELECT hvc.register_signal('nps', 'public.pd_nps', 'customer', 'answered_at', 'score', 'nps') IS NOT NULL AS registered;
SELECT hvc.register_signal('refs', 'public.pd_referrals', 'referrer', 'referred_on', 'referred', 'referral') IS NOT NULL AS registered;
SET client_min_messages = notice;
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT customer_id, nps_category, converted_referrals, profiles FROM hvc.customer_signals ORDER BY customer_id;
SELECT profile, count(*) FROM hvc.customer_profiles GROUP BY 1 ORDER BY 1;
-- still untouched
SELECT * FROM hvc.rule_sets WHERE rule_table = 'profile_rules';

-- 6. Rules the DBA adds or edits are named when they cannot match, even
-- without signals; an untouched default is not.  Back to the shop without
-- a product column and without signals: a corporate rule on a missing
-- attribute and an edited early_adopter rule (60 days) are named, the
-- untouched default ambassador rule is not.
SELECT hvc.unregister_signal(name) FROM hvc.signal ORDER BY name;
INSERT INTO hvc.profile_rules (profile, kind, priority, attribute, attribute_min)
VALUES ('corporate', 'corporate', 2, 'seats', 50);
UPDATE hvc.profile_rules SET within_days = 60 WHERE profile = 'early_adopter';
SELECT profile, origin FROM hvc.profile_rules ORDER BY priority;
SELECT * FROM hvc.rule_sets WHERE rule_table = 'profile_rules';
SET client_min_messages = warning;
SELECT hvc.register_source('public.pd_plain', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
SET client_min_messages = notice;
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT count(*) AS signal_rows FROM hvc.customer_signals;
-- an edited ambassador rule (min_nps 10) is named too
UPDATE hvc.profile_rules SET min_nps = 10 WHERE profile = 'ambassador';
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;

-- back to a fresh install for the tests that follow
SET client_min_messages = warning;
DROP EXTENSION hvc CASCADE;
CREATE EXTENSION hvc;
DROP TABLE pd_plain, pd_sales, pd_nps, pd_referrals;
