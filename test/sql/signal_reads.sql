-- Each registered signal is read exactly once per refresh (issue 12: "each
-- read in one pass per refresh"), also when the value score
-- (value_basis = 'score') weighs criteria from signals: the score and the
-- signal step after the build use the one read (hvc._read_signals).
--
-- Every signal is a view over its table that calls nextval() of its own
-- counting sequence in its WHERE clause: each row read costs one nextval,
-- so after a refresh the sequence holds (rows of the table) x (passes).
-- nextval is volatile and parallel unsafe: evaluated once per row read,
-- never in a parallel worker.
--
-- A three-customer shop as of 2025-07-01, model none:
--   R1 2 orders 300 (historic_clv 300), R2 1 order 100, R3 1 order 200
--   nps:        R1 9, R2 6, R3 10            (3 rows)
--   referrals:  R1 referred R2 and X9        (2 rows; R2 is a customer)
--   engagement: R1 2 events, R3 1 event      (3 rows, in the last 90 days)
--   attribute seats: R1 5, R2 50, R3 20     (3 rows)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET client_min_messages = notice;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET extra_float_digits = 0;
UPDATE hvc.config SET model = 'none', time_unit = 'day', value_basis = 'historic_clv';
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules VALUES ('top', 1, 0.34, true), ('rest', 2, 1.0, false);
DELETE FROM hvc.score_weights;

CREATE TABLE sr_sales (customer text, ordered_at date, amount numeric(10,2));
INSERT INTO sr_sales VALUES ('R1', '2025-05-01', 100), ('R1', '2025-06-01', 200),
                            ('R2', '2025-06-01', 100), ('R3', '2025-06-10', 200);
CREATE TABLE sr_nps_t (customer text, answered_at date, score integer);
INSERT INTO sr_nps_t VALUES ('R1', '2025-06-02', 9), ('R2', '2025-06-02', 6), ('R3', '2025-06-11', 10);
CREATE TABLE sr_refs_t (referrer text, referred_on date, referred text);
INSERT INTO sr_refs_t VALUES ('R1', '2025-05-15', 'R2'), ('R1', '2025-06-15', 'X9');
CREATE TABLE sr_events_t (customer text, at date);
INSERT INTO sr_events_t VALUES ('R1', '2025-06-20'), ('R1', '2025-06-21'), ('R3', '2025-06-22');
CREATE TABLE sr_seats_t (customer text, on_day date, seats integer);
INSERT INTO sr_seats_t VALUES ('R1', '2025-06-01', 5), ('R2', '2025-06-01', 50), ('R3', '2025-06-01', 20);
CREATE SEQUENCE sr_nps_reads;
CREATE SEQUENCE sr_refs_reads;
CREATE SEQUENCE sr_events_reads;
CREATE SEQUENCE sr_seats_reads;
CREATE VIEW sr_nps AS SELECT * FROM sr_nps_t WHERE nextval('sr_nps_reads') > 0;
CREATE VIEW sr_refs AS SELECT * FROM sr_refs_t WHERE nextval('sr_refs_reads') > 0;
CREATE VIEW sr_events AS SELECT * FROM sr_events_t WHERE nextval('sr_events_reads') > 0;
CREATE VIEW sr_seats AS SELECT * FROM sr_seats_t WHERE nextval('sr_seats_reads') > 0;
-- rows read so far: a sequence that was never called reads 0
CREATE FUNCTION pg_temp.sr_reads() RETURNS TABLE (signal text, reads bigint) LANGUAGE sql AS $$
    SELECT 'nps', CASE WHEN is_called THEN last_value ELSE 0 END FROM sr_nps_reads
    UNION ALL SELECT 'refs', CASE WHEN is_called THEN last_value ELSE 0 END FROM sr_refs_reads
    UNION ALL SELECT 'events', CASE WHEN is_called THEN last_value ELSE 0 END FROM sr_events_reads
    UNION ALL SELECT 'seats', CASE WHEN is_called THEN last_value ELSE 0 END FROM sr_seats_reads
$$;

SET client_min_messages = warning;
SELECT hvc.register_source('public.sr_sales', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
SELECT hvc.register_signal('nps', 'public.sr_nps', 'customer', 'answered_at', 'score', 'nps') IS NOT NULL AS registered;
SELECT hvc.register_signal('refs', 'public.sr_refs', 'referrer', 'referred_on', 'referred', 'referral') IS NOT NULL AS registered;
SELECT hvc.register_signal('events', 'public.sr_events', 'customer', 'at', NULL, 'engagement') IS NOT NULL AS registered;
SELECT hvc.register_signal('seats', 'public.sr_seats', 'customer', 'on_day', 'seats', 'attribute') IS NOT NULL AS registered;
SET client_min_messages = notice;
-- registering reads no row
SELECT * FROM pg_temp.sr_reads();

-- 1. value_basis score with a weight on every signal criterion: one refresh
-- reads nps 3, refs 2, events 3, seats 3 rows: each signal once.
-- Percentiles (cume_dist): nps 6, 9, 10 -> R2 1/3, R1 2/3, R3 1;
-- referrals (all of them; converted: 1, R2) R1 2, R2 0, R3 0 ->
-- R2, R3 2/3, R1 1; engagement R1 2, R3 1, R2 0 -> R2 1/3, R3 2/3, R1 1;
-- seats 5, 20, 50 -> R1 1/3, R3 2/3, R2 1.  Weights 1 each (sum 4):
--   R1 25 x (2/3 + 1 + 1 + 1/3)   = 75.00
--   R2 25 x (1/3 + 2/3 + 1/3 + 1) = 58.33
--   R3 25 x (1 + 2/3 + 2/3 + 2/3) = 75.00
-- value_rank R1, R3 (tie, by customer_id), R2.
UPDATE hvc.config SET value_basis = 'score';
INSERT INTO hvc.score_weights VALUES ('nps', 1), ('referrals', 1), ('engagement', 1), ('attribute:seats', 1);
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT * FROM pg_temp.sr_reads();
SELECT name, rows_read, rows_skipped FROM hvc.signal ORDER BY name;
SELECT customer_id, value, value_rank, tier FROM hvc.customers ORDER BY value_rank;
SELECT customer_id, nps_score, referrals, converted_referrals, engagement_90d
  FROM hvc.customer_signals ORDER BY customer_id;
SELECT customer_id, name, value_numeric FROM hvc.customer_attributes ORDER BY customer_id;

-- 2. Ranked by historic_clv (no score): again one read each (totals 6, 4,
-- 6, 6).
UPDATE hvc.config SET value_basis = 'historic_clv';
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT * FROM pg_temp.sr_reads();

-- 3. Two refreshes in one transaction: one read each per refresh (totals
-- 9, 6, 9, 9 after the first, 12, 8, 12, 12 after the second).
UPDATE hvc.config SET value_basis = 'score';
SET client_min_messages = warning;
BEGIN;
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT * FROM pg_temp.sr_reads();
SELECT hvc.refresh_now('2025-07-01 00:00+00') IS NOT NULL AS refreshed;
SELECT * FROM pg_temp.sr_reads();
COMMIT;
SET client_min_messages = notice;
SELECT customer_id, value, value_rank FROM hvc.customers ORDER BY value_rank;

-- clean up
SET client_min_messages = warning;
SELECT hvc.unregister_signal(name) FROM hvc.signal ORDER BY name;
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week', value_basis = 'predicted_clv';
DELETE FROM hvc.score_weights;
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES
    ('top', 1, 0.05, true), ('high', 2, 0.20, true), ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
DROP VIEW sr_nps, sr_refs, sr_events, sr_seats;
DROP TABLE sr_sales, sr_nps_t, sr_refs_t, sr_events_t, sr_seats_t;
DROP SEQUENCE sr_nps_reads, sr_refs_reads, sr_events_reads, sr_seats_reads;
