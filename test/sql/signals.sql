-- Signals (issue 12 items 1, 2, 3, 5): NPS, referrals, engagement, service
-- contacts and attributes read by every refresh; hvc.customer_signals,
-- hvc.customer_attributes; profiles from hvc.profile_rules (with the
-- unreachable-rule NOTICE); at-risk reasons in hvc.at_risk, the priority and
-- hvc.alerts; bad registrations; forget_customer.
--
-- A six-customer shop, as of 2025-07-01 00:00 UTC, model none, time unit day:
--   SA: 10 x 300 every 10 days up to 2025-06-25 (first 2025-03-27), product P1  revenue 3000, rank 1
--   SB:  6 x 400 every 10 days up to 2025-05-01 (first 2025-03-22), product P1  revenue 2400, rank 2
--   SC:  5 x 400 every 15 days up to 2025-06-28 (first 2025-04-29), product P1  revenue 2000, rank 3
--   SD: 100 on 2025-06-01 and 2025-06-20, product P2                           revenue  200, rank 4
--   SE: 150 on 2025-06-25, product P2                                          revenue  150, rank 5
--   SF:  50 on 2025-06-15, product P1                                          revenue   50, rank 6
-- Tiers: vip (top half: floor(0.5 x 6) = 3 customers, high-value) and rest,
-- so SA, SB, SC are high-value.  Without a model hvc.at_risk's churn
-- criterion is "overdue": recency >= 30 and > 2 x the usual gap: only SB
-- (61 days since 2025-05-01, usually every 10 days).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET client_min_messages = notice;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET extra_float_digits = 0;
UPDATE hvc.config SET model = 'none', time_unit = 'day', value_basis = 'historic_clv', alert_payload = 'ids';
UPDATE hvc.signal_settings SET open_contact_days = 7, engagement_drop = 0.5;
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules VALUES ('vip', 1, 0.5, true), ('rest', 2, 1.0, false);
SELECT coalesce(max(refresh_id), 0) AS base FROM hvc.refresh_log \gset

CREATE TABLE sg_sales (customer text, ordered_at date, amount numeric(10,2), product text);
INSERT INTO sg_sales
SELECT 'SA', date '2025-06-25' - 10 * k, 300, 'P1' FROM generate_series(0, 9) k
UNION ALL SELECT 'SB', date '2025-05-01' - 10 * k, 400, 'P1' FROM generate_series(0, 5) k
UNION ALL SELECT 'SC', date '2025-06-28' - 15 * k, 400, 'P1' FROM generate_series(0, 4) k
UNION ALL VALUES ('SD', date '2025-06-01', 100, 'P2'), ('SD', date '2025-06-20', 100, 'P2'),
                 ('SE', date '2025-06-25', 150, 'P2'), ('SF', date '2025-06-15', 50, 'P1');
SET client_min_messages = warning;
SELECT hvc.register_source('public.sg_sales', 'customer', 'ordered_at', 'amount', product => 'product') IS NOT NULL AS registered;
SET client_min_messages = notice;

-- ---------------------------------------------------------------------------
-- 1. Signal tables.
-- NPS (12 rows, 4 skipped: SE's 11, 7.5 and NULL, and the NULL customer):
--   SA: 6 on 01-10, then 10 and 9 both on 05-01 (a tie: the larger, 10) -> 10 promoter
--   SB: 8 -> passive; SC: 9 on 03-01, 3 on 06-15 -> 3 detractor;
--   SD: 9 on 06-01 (0 on 08-01 is after as_of: read, not used) -> 9 promoter
-- ---------------------------------------------------------------------------
CREATE TABLE sg_nps (customer text, answered_at timestamptz, score numeric);
INSERT INTO sg_nps VALUES
    ('SA', '2025-01-10', 6), ('SA', '2025-05-01', 10), ('SA', '2025-05-01', 9),
    ('SB', '2025-06-01', 8),
    ('SC', '2025-03-01', 9), ('SC', '2025-06-15', 3),
    ('SD', '2025-06-01', 9), ('SD', '2025-08-01', 0),
    ('SE', '2025-06-01', 11), ('SE', '2025-06-02', 7.5), ('SE', '2025-06-03', NULL),
    (NULL, '2025-06-01', 9);
-- Referrals (7 rows, 1 skipped: no referrer).  SA referred SD (a buyer) and
-- X1 (not): 2, 1 converted.  SD referred SE and SF: 2, 2 converted.  SB: one
-- without the referred key: 1, 0.  SC's referral of SA is after as_of.
CREATE TABLE sg_referrals (referrer text, referred_on date, referred text);
INSERT INTO sg_referrals VALUES
    ('SA', '2025-02-01', 'SD'), ('SA', '2025-03-01', 'X1'),
    ('SD', '2025-04-01', 'SE'), ('SD', '2025-04-02', 'SF'),
    ('SB', '2025-05-01', NULL), (NULL, '2025-05-01', 'SA'), ('SC', '2025-08-01', 'SA');
-- Engagement with weights (12 rows, 2 skipped: SD's NULL and negative weight).
-- Windows up to 2025-07-01 00:00: last 30 days after 06-01 00:00, last 90
-- after 04-02 00:00, the 90 before after 2025-01-02 00:00.
--   SA: 5 (06-15), 3 (05-01), 4 (02-01)          -> 30d 5, 90d 8, before 4, trend 2
--   SB: 10 (02-10), 10 (03-10), 2 (05-10)        -> 30d 0, 90d 2, before 20, trend 0.1 < 0.5: engagement_falling
--   SC: 4 (06-20), 6 (03-01), + 2 logins below   -> 30d 6, 90d 6, before 6, trend 1
--   SE: 1 (06-10), 100 (2024-12-01: too old)     -> 30d 1, 90d 1, before 0, trend NULL
CREATE TABLE sg_events (customer text, at timestamp, weight numeric);
INSERT INTO sg_events VALUES
    ('SA', '2025-06-15', 5), ('SA', '2025-05-01', 3), ('SA', '2025-02-01', 4),
    ('SB', '2025-02-10', 10), ('SB', '2025-03-10', 10), ('SB', '2025-05-10', 2),
    ('SC', '2025-06-20', 4), ('SC', '2025-03-01', 6),
    ('SD', '2025-06-30', NULL), ('SD', '2025-06-30', -1),
    ('SE', '2025-06-10', 1), ('SE', '2024-12-01', 100);
-- A second engagement signal, one per event (no weight): SC logs in twice.
CREATE TABLE sg_logins (customer text, on_day date);
INSERT INTO sg_logins VALUES ('SC', '2025-06-25'), ('SC', '2025-06-26');
-- Service contacts (7 rows, 1 skipped: SD's resolved before opened).
--   SA: 2 h (first contact) and 48 h (not): 2 contacts, 0 open, mean 25 h, FCR 0.5
--   SB: opened 06-29, open: 1 open, 2 days (not over 7)
--   SC: opened 06-20 open (11 days: open_contact_over_7_days) and 06-28
--       resolved 07-02 (after as_of: still open then): 2 open, oldest 11 days
--   SE: opened after as_of: not used
CREATE TABLE sg_contacts (customer text, opened timestamptz, resolved timestamptz, fcr boolean);
INSERT INTO sg_contacts VALUES
    ('SA', '2025-06-01 10:00', '2025-06-01 12:00', true), ('SA', '2025-06-10', '2025-06-12', false),
    ('SB', '2025-06-29', NULL, NULL),
    ('SC', '2025-06-20', NULL, NULL), ('SC', '2025-06-28', '2025-07-02', true),
    ('SD', '2025-06-05', '2025-06-04', true),
    ('SE', '2025-07-05', NULL, NULL);
-- Attributes: seats (numeric; 5 rows, 1 skipped: SE's NULL; SF's is after
-- as_of): SA 120 (the later of 50 and 120), SB 10.  segment (text): SC
-- enterprise (after smb), SD enterprise.
CREATE TABLE sg_seats (customer text, on_day date, seats integer);
INSERT INTO sg_seats VALUES ('SA', '2025-01-01', 50), ('SA', '2025-06-01', 120), ('SB', '2025-03-01', 10),
                            ('SE', '2025-06-01', NULL), ('SF', '2025-08-01', 500);
CREATE TABLE sg_segment (customer text, on_day date, segment text);
INSERT INTO sg_segment VALUES ('SD', '2025-05-01', 'enterprise'), ('SC', '2025-02-01', 'smb'),
                              ('SC', '2025-06-01', 'enterprise');

SELECT hvc.register_signal('nps', 'public.sg_nps', 'customer', 'answered_at', 'score', 'nps');
SELECT hvc.register_signal('referrals', 'public.sg_referrals', 'referrer', 'referred_on', 'referred', 'referral');
SELECT hvc.register_signal('events', 'public.sg_events', 'customer', 'at', 'weight', 'engagement');
SELECT hvc.register_signal('logins', 'public.sg_logins', 'customer', 'on_day', NULL, 'engagement');
SELECT hvc.register_signal(name => 'contacts', source => 'public.sg_contacts', customer => 'customer',
                           observed_at => 'opened', value => NULL, kind => 'service',
                           resolved_at => 'resolved', first_contact_resolved => 'fcr');
SELECT hvc.register_signal('seats', 'public.sg_seats', 'customer', 'on_day', 'seats', 'attribute');
SELECT hvc.register_signal('segment', 'public.sg_segment', 'customer', 'on_day', 'segment', 'attribute');
SELECT name, kind, value_type FROM hvc.signal ORDER BY name;

-- ---------------------------------------------------------------------------
-- 3. Profile rules.  ambassador: SA (NPS 10, 1 converted), SD (NPS 9, 2
-- converted); SB (8, 0) and SC (3, 0) not.  corporate (seats >= 100): SA.
-- enterprise (segment = enterprise): SC, SD.  early_adopter (within 30 days
-- of the product's first sale): P1 first sold 03-22 (SB): SB, SA (03-27);
-- SC (04-29, 38 days) and SF not; P2 first sold 06-01 (SD): SD, SE (06-25).
-- Two rules can never match: big_balance (no attribute signal "balance") and
-- seg_min (attribute_min on the text attribute segment): one NOTICE.
-- ---------------------------------------------------------------------------
-- (the default rules, ambassador and early_adopter, give way to these;
-- test/sql/profile_defaults.sql tests the defaults)
DELETE FROM hvc.profile_rules;
INSERT INTO hvc.profile_rules (profile, kind, priority, min_nps, min_converted_referrals) VALUES ('ambassador', 'ambassador', 1, 9, 1);
INSERT INTO hvc.profile_rules (profile, kind, priority, attribute, attribute_min) VALUES ('corporate', 'corporate', 2, 'seats', 100);
INSERT INTO hvc.profile_rules (profile, kind, priority, attribute, attribute_equals) VALUES ('enterprise', 'corporate', 3, 'segment', 'enterprise');
INSERT INTO hvc.profile_rules (profile, kind, priority, within_days) VALUES ('early_adopter', 'early_adopter', 4, 30);
INSERT INTO hvc.profile_rules (profile, kind, priority, attribute, attribute_min) VALUES ('big_balance', 'corporate', 5, 'balance', 1000);
INSERT INTO hvc.profile_rules (profile, kind, priority, attribute, attribute_min) VALUES ('seg_min', 'corporate', 6, 'segment', 5);
\set VERBOSITY sqlstate
-- a rule of one kind with another kind's settings: check_violation
INSERT INTO hvc.profile_rules (profile, kind, priority, min_nps) VALUES ('bad', 'corporate', 7, 9);
INSERT INTO hvc.profile_rules (profile, kind, priority) VALUES ('bad', 'ambassador', 7);
\set VERBOSITY default

CALL hvc.refresh(as_of => '2025-07-01');
SELECT name, rows_read, rows_skipped, last_refresh_id - :base AS refresh FROM hvc.signal ORDER BY name;

-- ---------------------------------------------------------------------------
-- 2. hvc.customer_signals: one row per customer (values in the comments above).
-- ---------------------------------------------------------------------------
SELECT customer_id, nps_score, nps_category, nps_at, referrals, converted_referrals
  FROM hvc.customer_signals ORDER BY customer_id;
SELECT customer_id, engagement_30d, engagement_90d, engagement_prev_90d, engagement_trend
  FROM hvc.customer_signals ORDER BY customer_id;
SELECT customer_id, service_contacts, open_contacts, oldest_open_contact_days,
       mean_resolution_hours, first_contact_resolution_rate
  FROM hvc.customer_signals ORDER BY customer_id;
SELECT customer_id, profiles, at_risk_reasons FROM hvc.customer_signals ORDER BY customer_id;
SELECT * FROM hvc.customer_attributes ORDER BY customer_id, name;
SELECT * FROM hvc.customer_profiles WHERE profile = 'ambassador' ORDER BY customer_id;

-- ---------------------------------------------------------------------------
-- 5. hvc.at_risk: SB (overdue + engagement_falling) and SC (detractor + an
-- open contact over 7 days), by value; SA has no reason; SD is a promoter but
-- not high-value.
-- ---------------------------------------------------------------------------
SELECT at_risk_rank, customer_id, risk_basis, reasons, reason FROM hvc.at_risk ORDER BY at_risk_rank;
-- The alert of this refresh: both are newly at risk, with their reasons counted.
SELECT kind, customers, sample_ids, reasons FROM hvc.alerts WHERE refresh_id > :base ORDER BY alert_id;
-- Priority, churn part.  Without a model churn = min(recency / (2 x max(gap, 15)), 1):
--   SC: 3 / 30 = 0.1; two signal reasons: 1 - 0.9 x 0.5^2 = 0.775;
--       value = 1 - 2/6 = 0.6667: churn_part = 0.35 x 0.775 x 0.6667 = 0.1808
--       (0.0233 without the reasons)
--   SB: 61 / 30 -> 1, stays 1: 0.35 x 1 x (1 - 1/6) = 0.2917
--   SA: 6 / 30 = 0.2, no reason: 0.35 x 0.2 x 1 = 0.07
SELECT customer_id, churn_part FROM hvc.priority('SA'::text) UNION ALL
SELECT customer_id, churn_part FROM hvc.priority('SB'::text) UNION ALL
SELECT customer_id, churn_part FROM hvc.priority('SC'::text);
SELECT churn_part FROM hvc._priority_score(3, 6, NULL, 3, 15, NULL, 2000, 60, 12, 0) AS without_reasons;

-- ---------------------------------------------------------------------------
-- Settings: open contacts over 12 days (none now), engagement below 0.05
-- (SB's 0.1 is not): only SB's overdue is left.  Bad settings: check_violation.
-- ---------------------------------------------------------------------------
UPDATE hvc.signal_settings SET open_contact_days = 12, engagement_drop = 0.05;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT at_risk_rank, customer_id, reasons FROM hvc.at_risk ORDER BY at_risk_rank;
UPDATE hvc.signal_settings SET open_contact_days = 7, engagement_drop = 0.5;
\set VERBOSITY sqlstate
UPDATE hvc.signal_settings SET open_contact_days = 0;
UPDATE hvc.signal_settings SET engagement_drop = 1.5;
-- one row: an INSERT replaces it (as a restore does)
INSERT INTO hvc.signal_settings (open_contact_days) VALUES (9);
SELECT * FROM hvc.signal_settings;
UPDATE hvc.signal_settings SET open_contact_days = 7;

-- ---------------------------------------------------------------------------
-- Bad registrations: a clear SQLSTATE, nothing changed (7 signals stay).
-- ---------------------------------------------------------------------------
CREATE TABLE sg_bad (customer text, at date, score text, n integer, ok integer, cid integer, point point);
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'at', 'n', 'likes');          -- unknown kind
SELECT hvc.register_signal('nps2', 'public.sg_nps', 'customer', 'answered_at', 'score', 'nps'); -- second nps
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'nope', 'n', 'engagement');    -- missing column
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'at', 'score', 'nps');         -- text score
SELECT hvc.register_signal('x', 'public.sg_bad', 'cid', 'at', 'n', 'engagement');           -- integer keys, text customers
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'n', 'n', 'engagement');       -- integer time
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'at', 'point', 'attribute');   -- point attribute
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'at', 'cid', 'referral');      -- integer referred key
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'at', NULL, 'service');        -- no resolved_at
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'at', 'n', 'service', 'at');   -- value on service
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'at', NULL, 'service', 'at', 'ok'); -- integer flag
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'at', 'n', 'engagement', 'at'); -- resolved_at elsewhere
SELECT hvc.register_signal('x', 'public.sg_bad', 'customer', 'at', NULL, 'attribute');      -- attribute without value
SELECT hvc.register_signal('1x', 'public.sg_bad', 'customer', 'at', 'n', 'engagement');     -- not an identifier
SELECT hvc.register_signal('x', 'public.sg_nothere', 'customer', 'at', 'n', 'engagement');  -- no such table
SELECT hvc.register_signal('x', NULL::regclass, 'customer', 'at', 'n', 'engagement');      -- NULL source
SELECT hvc.unregister_signal('nothere');
SELECT count(*) AS signals FROM hvc.signal;

-- Privileges: registering needs INSERT, DELETE on hvc.signal; and even a
-- role with those (and hvc's routines) cannot register a table it may not
-- read, so it cannot have the refresh read it.
CREATE ROLE sg_user;
CREATE TABLE sg_secret (customer text, at date, salary numeric);
GRANT USAGE ON SCHEMA hvc TO sg_user;
SET ROLE sg_user;
SELECT hvc.register_signal('salary', 'public.sg_secret', 'customer', 'at', 'salary', 'attribute');
RESET ROLE;
GRANT INSERT, DELETE ON hvc.signal TO sg_user;
GRANT SELECT ON hvc.source TO sg_user;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA hvc TO sg_user;
SET ROLE sg_user;
SELECT hvc.register_signal('salary', 'public.sg_secret', 'customer', 'at', 'salary', 'attribute');
RESET ROLE;
\set VERBOSITY default
SELECT count(*) AS signals FROM hvc.signal WHERE name = 'salary';
REVOKE ALL ON hvc.signal, hvc.source FROM sg_user;
REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA hvc FROM sg_user;
REVOKE USAGE ON SCHEMA hvc FROM sg_user;
DROP ROLE sg_user;

-- A signal's table gone: the refresh fails (undefined_table) and keeps the
-- previous snapshot and signals.
ALTER TABLE sg_logins RENAME TO sg_logins_away;
\set VERBOSITY sqlstate
CALL hvc.refresh(as_of => '2025-07-02');
\set VERBOSITY default
ALTER TABLE sg_logins_away RENAME TO sg_logins;
SELECT count(*) AS signal_rows, min(refresh_id) - :base AS refresh FROM hvc.customer_signals;

-- forget_customer erases SC's stored signal and attribute rows too: snapshot
-- 1 + signal store 1 + attribute store 1 + at_risk_previous 1 + the
-- newly_at_risk alert whose sample_ids held SC 1 = 5 (besides tier history).
SELECT (SELECT count(*) FROM hvc.tier_history WHERE customer_id = 'SC') AS history_rows \gset
SELECT hvc.forget_customer('SC'::text) - :history_rows AS erased_besides_history;
SELECT (SELECT count(*) FROM hvc.customer_signals WHERE customer_id = 'SC') AS signals,
       (SELECT count(*) FROM hvc.customer_attributes WHERE customer_id = 'SC') AS attributes;

-- unregister: the next refresh reads the rest; without any signal or
-- profile rule the stores are emptied.
SELECT hvc.unregister_signal('logins');
SELECT count(*) AS signals FROM hvc.signal;

-- hvc._signal_latest: the latest (time, value) of a group, ties to the
-- larger value, NULL rows ignored; the same result from a parallel plan
-- (partial states combined) as from a serial one.  Rows i = 0 .. 19 999 in
-- group i % 100 at day i / 100 with value i % 7: group g's latest row is
-- i = 19 900 + g, on 2025-01-01 + 199 days = 2025-07-19, value (19 900 + g) % 7:
-- g 0: 6, g 6: 5 (its row without a time is ignored), g 99: 0; g 5: 4, but a
-- second row at the same time with 100 wins the tie, and its row without a
-- value (in 2030) is ignored.
CREATE TABLE sg_latest AS
SELECT i % 100 AS g, (i % 7)::float8 AS v, timestamptz '2025-01-01' + (i / 100) * interval '1 day' AS t
  FROM generate_series(0, 19999) i;
INSERT INTO sg_latest VALUES (5, 100, timestamptz '2025-01-01' + 199 * interval '1 day'), (5, NULL, '2030-01-01'),
                             (6, 1, NULL);
ANALYZE sg_latest;
CREATE TEMP TABLE sg_serial AS SELECT g, hvc._signal_latest(v, t) AS l FROM sg_latest GROUP BY g;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT g, hvc._signal_latest(v, t) AS l FROM sg_latest GROUP BY g;
SELECT count(*) AS groups, count(*) FILTER (WHERE s.l = p.l) AS same_in_parallel
  FROM sg_serial s JOIN (SELECT g, hvc._signal_latest(v, t) AS l FROM sg_latest GROUP BY g) p USING (g);
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;
SELECT g, timestamptz '2000-01-01 00:00:00+00' + l[1] * interval '1 microsecond' AS latest_at, l[2] AS value
  FROM sg_serial WHERE g IN (0, 5, 6, 99) ORDER BY g;
SELECT hvc._signal_latest(v, t) IS NULL AS empty_is_null FROM sg_latest WHERE false;
-- malformed states: invalid_parameter_value
\set VERBOSITY sqlstate
SELECT hvc._signal_latest_final('{1,2}'::float8[]);
SELECT hvc._signal_latest_trans('{1,NULL,3}'::float8[], 1, now());
SELECT hvc._signal_latest_combine('{0,0,0}'::float8[], '{{1,2,3}}'::float8[]);
SELECT hvc._signal_latest_trans(NULL, 1, now());
\set VERBOSITY default
DROP TABLE sg_latest;

-- Clean up.
SELECT hvc.unregister_signal(name) FROM hvc.signal ORDER BY name;
DELETE FROM hvc.profile_rules;
SET client_min_messages = warning;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT count(*) AS signal_rows FROM hvc.customer_signals;
DROP TABLE sg_sales, sg_nps, sg_referrals, sg_events, sg_logins, sg_contacts, sg_seats, sg_segment, sg_bad, sg_secret;
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules VALUES ('top', 1, 0.05, true), ('high', 2, 0.20, true),
                                  ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week', value_basis = 'predicted_clv', alert_payload = 'counts';
-- the default profile rules back (as a DBA's rows: origin user)
INSERT INTO hvc.profile_rules SELECT * FROM hvc._default_profile_rules();
