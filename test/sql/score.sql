-- The value score (issue 12 item 4): value_basis = 'score' ranks by
--   score = 100 * sum_i w_i * pct_i / sum_i w_i   (hvc.score_weights)
-- pct_i = cume_dist of criterion i among the customers with a value for it
-- (share of them with a value <= the customer's), a missing value = 0.5.
--
-- A six-customer shop, as of 2025-07-01, model none (no predicted_clv),
-- no margin column (historic_clv = revenue), tiers top (floor(0.5 x 6) = 3)
-- and rest:
--   customer  orders  historic_clv  nps (latest)
--   K1        1       600           9
--   K2        3       300           10 (5 on 01-10, 10 on 05-01)
--   K3        2       400           -  (missing)
--   K4        5       100           6
--   K5        1        50           -  (missing; an answer after as_of)
--   K6        2       200           9
-- Percentiles (cume_dist):
--   historic_clv 50 < 100 < 200 < 300 < 400 < 600:
--     K5 1/6, K4 2/6, K6 3/6, K2 4/6, K3 5/6, K1 6/6
--   frequency (orders) 1,1,2,2,3,5: K1, K5 2/6; K3, K6 4/6; K2 5/6; K4 6/6
--   nps among the 4 answers 6, 9, 9, 10: K4 1/4; K1, K6 3/4; K2 4/4;
--     K3, K5 missing: 0.5
-- Weights historic_clv 2, frequency 1, nps 1 (sum 4):
--   K1 25 x (2 x 6/6 + 2/6 + 3/4) = 77.08
--   K2 25 x (2 x 4/6 + 5/6 + 1)   = 79.17
--   K3 25 x (2 x 5/6 + 4/6 + 0.5) = 70.83
--   K4 25 x (2 x 2/6 + 1 + 1/4)   = 47.92
--   K5 25 x (2 x 1/6 + 2/6 + 0.5) = 29.17
--   K6 25 x (2 x 3/6 + 4/6 + 3/4) = 60.42
-- value_rank: K2, K1, K3 (top), K6, K4, K5 (rest) -- by historic_clv K1
-- would be first.  Cumulative share of 36459 hundredths: 7917 / 36459 =
-- 0.2171, 15625 -> 0.4286, 22708 -> 0.6228, 28750 -> 0.7886, 33542 -> 0.9200, 1.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET client_min_messages = notice;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET extra_float_digits = 0;
UPDATE hvc.config SET model = 'none', time_unit = 'day', value_basis = 'historic_clv';
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules VALUES ('top', 1, 0.5, true), ('rest', 2, 1.0, false);
SELECT coalesce(max(refresh_id), 0) AS base FROM hvc.refresh_log \gset

CREATE TABLE vs_sales (customer text, ordered_at date, amount numeric(10,2));
INSERT INTO vs_sales VALUES
    ('K1', '2025-06-01', 600),
    ('K2', '2025-04-01', 100), ('K2', '2025-05-01', 100), ('K2', '2025-06-01', 100),
    ('K3', '2025-05-01', 200), ('K3', '2025-06-01', 200),
    ('K4', '2025-02-01', 20), ('K4', '2025-03-01', 20), ('K4', '2025-04-01', 20),
    ('K4', '2025-05-01', 20), ('K4', '2025-06-01', 20),
    ('K5', '2025-06-10', 50),
    ('K6', '2025-05-10', 100), ('K6', '2025-06-10', 100);
CREATE TABLE vs_nps (customer text, answered_at timestamptz, score integer);
INSERT INTO vs_nps VALUES
    ('K1', '2025-06-02', 9), ('K2', '2025-01-10', 5), ('K2', '2025-05-01', 10),
    ('K4', '2025-06-02', 6), ('K6', '2025-06-11', 9), ('K5', '2025-08-01', 10);
SET client_min_messages = warning;
SELECT hvc.register_source('public.vs_sales', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
SELECT hvc.register_signal('nps', 'public.vs_nps', 'customer', 'answered_at', 'score', 'nps') IS NOT NULL AS registered;
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SET client_min_messages = notice;

-- ---------------------------------------------------------------------------
-- 1. Bad weights: CHECK constraints (23514); the table starts empty.
-- ---------------------------------------------------------------------------
SELECT count(*) AS default_weights FROM hvc.score_weights;
\set VERBOSITY sqlstate
INSERT INTO hvc.score_weights VALUES ('frequency', -1);
INSERT INTO hvc.score_weights VALUES ('frequency', 'Infinity');
INSERT INTO hvc.score_weights VALUES ('frequency', 'NaN');
INSERT INTO hvc.score_weights VALUES ('revenue', 1);
INSERT INTO hvc.score_weights VALUES ('attribute:', 1);
INSERT INTO hvc.score_weights VALUES ('attribute:1seats', 1);
INSERT INTO hvc.score_weights VALUES ('frequency', NULL);
UPDATE hvc.config SET value_basis = 'scores';

-- ---------------------------------------------------------------------------
-- 2. value_basis score without a positive weight: the refresh fails
-- (22023, with a hint) and keeps the previous snapshot.
-- ---------------------------------------------------------------------------
UPDATE hvc.config SET value_basis = 'score';
SELECT hvc.refresh_now('2025-07-01 00:00+00');
INSERT INTO hvc.score_weights VALUES ('historic_clv', 0), ('nps', 0);
SELECT hvc.refresh_now('2025-07-01 00:00+00');
\set VERBOSITY default
SELECT hvc.refresh_now('2025-07-01 00:00+00');
SELECT value_basis FROM hvc.snapshot_info;

-- ---------------------------------------------------------------------------
-- 3. The worked example: historic_clv 2, frequency 1, nps 1.
-- ---------------------------------------------------------------------------
UPDATE hvc.score_weights SET weight = 2 WHERE criterion = 'historic_clv';
UPDATE hvc.score_weights SET weight = 1 WHERE criterion = 'nps';
INSERT INTO hvc.score_weights VALUES ('frequency', 1);
SET client_min_messages = warning;
SELECT hvc.refresh_now('2025-07-01 00:00+00') - :base AS refresh;
SET client_min_messages = notice;
SELECT value_basis, customers FROM hvc.snapshot_info;
SELECT customer_id, orders, historic_clv, value, value_rank,
       round(cumulative_value_share::numeric, 4) AS share, tier, is_high_value
  FROM hvc.customers ORDER BY value_rank;
-- The top three are those of historic_clv (K1, K3, K2) in another order:
-- no tier moved.  The Pareto curve follows the score: the top 17 percent
-- is value rank ceil(0.17 x 6) = 2, the top half rank 3.
SELECT count(*) AS moves FROM hvc.tier_changes
 WHERE refresh_id = (SELECT refresh_id FROM hvc.snapshot_info);
SELECT customer_percentile, round(cumulative_value_share::numeric, 4) AS share
  FROM hvc.pareto_curve WHERE customer_percentile IN (17, 50, 100) ORDER BY 1;

-- ---------------------------------------------------------------------------
-- 4. A weighted criterion without any value (predicted_clv under model
-- none): a NOTICE, and 0.5 for everyone.  Sum of weights 5:
--   K1 20 x (3.0833 + 0.5) = 71.67, K2 73.33, K3 66.67, K4 48.33,
--   K5 33.33, K6 58.33 (same order).
-- ---------------------------------------------------------------------------
INSERT INTO hvc.score_weights VALUES ('predicted_clv', 1);
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT customer_id, value, value_rank, tier FROM hvc.customers ORDER BY value_rank;

-- ---------------------------------------------------------------------------
-- 5. Signal criteria: referrals 1, attribute:seats 1 (others 0).
-- Referrals (rows up to as_of): K3 2, K5 1, everyone else 0 (K1's only
-- referral is after as_of): 0,0,0,0,1,2 -> K1, K2, K4, K6 4/6; K5 5/6; K3 1.
-- seats (latest numeric value): K1 10; K2 50 (5 before); others missing ->
-- K1 1/2, K2 2/2, others 0.5.  The text attribute plan is not a numeric
-- criterion: NOTICE, 0.5 for everyone, weight 1 (sum 3):
--   K1 100 x (4/6 + 0.5 + 0.5) / 3 = 55.56   K2 (4/6 + 1 + 0.5) / 3 = 72.22
--   K3 (1 + 0.5 + 0.5) / 3 = 66.67           K4 = K6 = K1 = 55.56
--   K5 (5/6 + 0.5 + 0.5) / 3 = 61.11
-- value_rank: K2, K3, K5, then the ties by customer_id: K1, K4, K6.
-- ---------------------------------------------------------------------------
CREATE TABLE vs_referrals (referrer text, referred_on date);
INSERT INTO vs_referrals VALUES ('K3', '2025-03-01'), ('K3', '2025-04-01'), ('K5', '2025-06-20'),
                                ('K1', '2025-08-01');
CREATE TABLE vs_accounts (customer text, on_day date, seats integer, plan text);
INSERT INTO vs_accounts VALUES ('K1', '2025-05-01', 10, 'basic'), ('K2', '2025-01-01', 5, 'pro'),
                               ('K2', '2025-06-01', 50, 'pro');
SET client_min_messages = warning;
SELECT hvc.register_signal('refs', 'public.vs_referrals', 'referrer', 'referred_on', NULL, 'referral') IS NOT NULL AS registered;
SELECT hvc.register_signal('seats', 'public.vs_accounts', 'customer', 'on_day', 'seats', 'attribute') IS NOT NULL AS registered;
SELECT hvc.register_signal('plan', 'public.vs_accounts', 'customer', 'on_day', 'plan', 'attribute') IS NOT NULL AS registered;
SET client_min_messages = notice;
UPDATE hvc.score_weights SET weight = 0;
INSERT INTO hvc.score_weights VALUES ('referrals', 1), ('attribute:seats', 1), ('attribute:plan', 1);
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT c.customer_id, c.value, c.value_rank, c.tier, g.referrals
  FROM hvc.customers c JOIN hvc.customer_signals g USING (customer_id) ORDER BY c.value_rank;

-- Engagement (the 90 days up to as_of, weights summed) alone: K1 3 events
-- in the window, K4 2, K2 one 100 days before as_of (outside: 0), the
-- others none: 0,0,0,0,2,3 -> K2, K3, K5, K6 4/6 = 66.67; K4 5/6 = 83.33;
-- K1 100.  value_rank: K1, K4, K2 (top: K1 and K4 enter, K3 and K5
-- leave), then the ties by customer_id K3, K5, K6.
CREATE TABLE vs_events (customer text, at timestamptz);
INSERT INTO vs_events VALUES ('K1', '2025-06-01'), ('K1', '2025-06-02'), ('K1', '2025-04-10'),
                             ('K4', '2025-05-01'), ('K4', '2025-06-30'), ('K2', '2025-03-23');
SET client_min_messages = warning;
SELECT hvc.register_signal('visits', 'public.vs_events', 'customer', 'at', NULL, 'engagement') IS NOT NULL AS registered;
SET client_min_messages = notice;
UPDATE hvc.score_weights SET weight = 0;
INSERT INTO hvc.score_weights VALUES ('engagement', 1);
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT c.customer_id, c.value, c.value_rank, c.tier, g.engagement_90d
  FROM hvc.customers c JOIN hvc.customer_signals g USING (customer_id) ORDER BY c.value_rank;

-- Internal steps called out of place: clear errors.
\set VERBOSITY sqlstate
SELECT hvc._score_prepare(1, NULL, '2025-07-01', false, '2025-07-01');
-- (outside a refresh there is no stage)
SELECT hvc._score_prepare(1, jsonb_populate_record(NULL::hvc._model_params, '{"usable": false}'),
                          '2025-07-01', false, '2025-07-01');
\set VERBOSITY default

-- ---------------------------------------------------------------------------
-- 6. Back to one basis: the score's weights stay, unused.  By historic_clv
-- the top is K1, K3, K2: K3 returns and K4 leaves, for the basis change
-- (the moves between score refreshes were activity: the same basis).
-- ---------------------------------------------------------------------------
UPDATE hvc.config SET value_basis = 'historic_clv';
SET client_min_messages = warning;
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SET client_min_messages = notice;
SELECT customer_id, value, value_rank FROM hvc.customers ORDER BY value_rank;
SELECT value_basis FROM hvc.snapshot_info;
SELECT t.refresh_id - :base AS refresh, t.customer_id, t.from_tier, t.to_tier, t.reason
  FROM hvc.tier_changes t WHERE t.refresh_id > :base ORDER BY 1, 2;

-- leave the shared settings as the schedule's next tests expect them
SET client_min_messages = warning;
SELECT hvc.unregister_signal(name) FROM hvc.signal ORDER BY name;
DELETE FROM hvc.score_weights;
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules VALUES ('top', 1, 0.05, true), ('high', 2, 0.20, true),
                                  ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week', value_basis = 'predicted_clv';
DROP TABLE vs_sales, vs_nps, vs_referrals, vs_accounts, vs_events;
