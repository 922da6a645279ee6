-- What a refresh reads from registered signals (hvc.customer_signals,
-- hvc.customer_attributes, hvc.signal's counts) against a reference in
-- plain SQL, by the documented rules (README "Signals", the views'
-- COMMENTs), on random signal tables with bad rows:
--   nps_score / nps_at: the latest whole score 0-10 up to as_of; referrals:
--   rows up to as_of, converted: the referred key is a customer of the
--   snapshot; engagement over two signals (one with a weight column, one
--   without: 1 per event) in the
--   30 and 90 days (of 24 hours) up to as_of and the 90 before; service
--   contacts opened up to as_of, open ones (not resolved at as_of), whole
--   days the oldest has been open, mean hours to resolution and the share
--   resolved at the first contact among the resolved with a flag; profiles
--   (ambassador: latest NPS 9-10 or a converted referral; corporate: the
--   latest seats >= 100) in priority order; at-risk reasons
--   (engagement_falling: 90 days below half the 90 before, detractor,
--   open_contact_over_7_days); the latest attribute value; rows read and
--   skipped (a NULL key or time, a score that is not a whole 0-10, a NULL,
--   negative or infinite weight, a contact resolved before it opened, a
--   NULL attribute value; rows after as_of are read, not used).  Then the
--   value score over every criterion with random weights.
--
-- pg_regress runs it with the fixed seed below; test/fuzz/run.sh with fresh
-- seeds and text keys (psql -v seed=... -v key_type=text).  Its output is
-- only checks, so it does not depend on the seed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
\if :{?seed}
\else
  \set seed 20261210
\endif
\if :{?key_type}
\else
  \set key_type integer
\endif
SELECT setseed(((:seed % 2000000) - 1000000) / 1000000.0) IS NOT NULL AS seeded \gset
\set as_of '2025-06-30 18:00:00+00'
\set customers 300

SELECT :'key_type' = 'text' AS key_is_text \gset
\if :key_is_text
CREATE FUNCTION so_key(n integer) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 's' || lpad(n::text, 5, '0') $$;
\else
CREATE FUNCTION so_key(n integer) RETURNS integer LANGUAGE sql IMMUTABLE
AS $$ SELECT n $$;
\endif
-- a random customer key: of the shop (1..customers), sometimes another
-- one, sometimes NULL
CREATE FUNCTION so_who(customers integer) RETURNS :key_type LANGUAGE sql AS $$
    SELECT CASE WHEN u < 0.03 THEN NULL ELSE so_key(1 + floor(power(random(), 1.3) * customers * 1.15)::integer) END
      FROM (SELECT random() AS u) x
$$;
-- a random time: mostly the last 250 days up to as_of, some after it, some NULL
CREATE FUNCTION so_when(as_of timestamptz) RETURNS timestamptz LANGUAGE sql AS $$
    SELECT CASE WHEN u < 0.03 THEN NULL
                WHEN u < 0.08 THEN as_of + random() * interval '20 days'
                ELSE as_of - random() * interval '250 days' END
      FROM (SELECT random() AS u) x
$$;

CREATE TABLE so_sales (customer_id :key_type, ordered_at timestamptz, amount numeric);
INSERT INTO so_sales
SELECT so_key(n), timestamptz :'as_of' - random() * interval '600 days', round((10 + random() * 300)::numeric, 2)
  FROM generate_series(1, :customers) n, generate_series(1, 1 + floor(random() * 3)::integer) k;
CREATE TABLE so_nps (customer_id :key_type, answered_at timestamptz, score numeric);
INSERT INTO so_nps
SELECT so_who(:customers), so_when(:'as_of'),
       CASE WHEN random() < 0.06 THEN (ARRAY[NULL, -1, 11, 7.5, 10.5])[1 + floor(random() * 5)::integer]
            ELSE floor(random() * 11) END
  FROM generate_series(1, 500);
CREATE TABLE so_ref (customer_id :key_type, referred_on timestamptz, referred_id :key_type);
INSERT INTO so_ref
SELECT so_who(:customers), so_when(:'as_of'),
       CASE WHEN random() < 0.15 THEN NULL ELSE so_key(1 + floor(random() * :customers * 1.5)::integer) END
  FROM generate_series(1, 200);
CREATE TABLE so_app (customer_id :key_type, happened_at timestamptz, weight numeric);
INSERT INTO so_app
SELECT so_who(:customers), so_when(:'as_of'),
       CASE WHEN u < 0.3 THEN NULL WHEN u < 0.33 THEN -1 WHEN u < 0.35 THEN 'Infinity'
            ELSE round((random() * 5)::numeric, 2) END
  FROM (SELECT random() AS u FROM generate_series(1, 3000)) g;
CREATE TABLE so_web (customer_id :key_type, seen_at timestamptz);
INSERT INTO so_web SELECT so_who(:customers), so_when(:'as_of') FROM generate_series(1, 2000);
CREATE TABLE so_contacts (customer_id :key_type, opened_at timestamptz, resolved_at timestamptz, fcr boolean);
INSERT INTO so_contacts
SELECT c, o, CASE WHEN u < 0.25 THEN NULL                                  -- open
                  WHEN u < 0.28 THEN o - interval '1 hour'                 -- resolved before opened: skipped
                  ELSE o + random() * interval '20 days' END,             -- resolved (maybe after as_of)
       CASE WHEN random() < 0.2 THEN NULL ELSE random() < 0.6 END
  FROM (SELECT so_who(:customers) AS c, so_when(:'as_of') AS o, random() AS u FROM generate_series(1, 600)) g;
CREATE TABLE so_accounts (customer_id :key_type, as_of timestamptz, seats numeric);
INSERT INTO so_accounts
SELECT so_who(:customers), so_when(:'as_of'), CASE WHEN random() < 0.05 THEN NULL ELSE floor(random() * 200) END
  FROM generate_series(1, 400);

-- a fixed case: a customer whose engagement fell to none (web visits 100
-- to 170 days before as_of, none since) is engagement_falling (until stop
-- 37 hvc missed it: no event in the last 90 days compared as NULL)
INSERT INTO so_sales VALUES (so_key(800), timestamptz :'as_of' - interval '200 days', 50);
INSERT INTO so_web SELECT so_key(800), timestamptz :'as_of' - d * interval '1 day' FROM generate_series(100, 170, 10) d;
-- and two customers with the same engagement, 0.1 + 0.2 and 0.3 (until
-- stop 37 summed in float8: 0.30000000000000004 and 0.3, so the value
-- score's percentile told them apart)
INSERT INTO so_sales VALUES (so_key(801), timestamptz :'as_of' - interval '200 days', 50),
                            (so_key(802), timestamptz :'as_of' - interval '200 days', 50);
INSERT INTO so_app VALUES (so_key(801), timestamptz :'as_of' - interval '3 days', 0.1),
                          (so_key(801), timestamptz :'as_of' - interval '2 days', 0.2),
                          (so_key(802), timestamptz :'as_of' - interval '1 day', 0.3);

SELECT hvc.register_source('so_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
SELECT hvc.register_signal('nps', 'so_nps', 'customer_id', 'answered_at', 'score', 'nps') IS NOT NULL AS nps;
SELECT hvc.register_signal('refs', 'so_ref', 'customer_id', 'referred_on', 'referred_id', 'referral') IS NOT NULL AS refs;
SELECT hvc.register_signal('app', 'so_app', 'customer_id', 'happened_at', 'weight', 'engagement') IS NOT NULL AS app;
SELECT hvc.register_signal('web', 'so_web', 'customer_id', 'seen_at', NULL, 'engagement') IS NOT NULL AS web;
SELECT hvc.register_signal('contacts', 'so_contacts', 'customer_id', 'opened_at', NULL, 'service',
                           resolved_at => 'resolved_at', first_contact_resolved => 'fcr') IS NOT NULL AS contacts;
SELECT hvc.register_signal('seats', 'so_accounts', 'customer_id', 'as_of', 'seats', 'attribute') IS NOT NULL AS seats;
DELETE FROM hvc.profile_rules WHERE profile = 'corporate';
INSERT INTO hvc.profile_rules (profile, kind, priority, attribute, attribute_min) VALUES ('corporate', 'corporate', 2, 'seats', 100);
DELETE FROM hvc.config;
INSERT INTO hvc.config (model, timezone) VALUES ('none', 'Europe/Berlin');
CALL hvc.refresh(as_of => :'as_of');

-- ---------------------------------------------------------------------------
-- The reference.
-- ---------------------------------------------------------------------------
CREATE TABLE so_want AS
WITH p AS (SELECT :'as_of'::timestamptz AS as_of),
     cust AS (SELECT DISTINCT s.customer_id FROM so_sales s, p WHERE s.ordered_at <= p.as_of AND s.amount >= 0),
     nps AS (SELECT DISTINCT ON (n.customer_id) n.customer_id, n.score::integer AS score, n.answered_at
               FROM so_nps n, p
              WHERE n.customer_id IS NOT NULL AND n.answered_at IS NOT NULL AND n.answered_at <= p.as_of
                AND n.score = floor(n.score) AND n.score BETWEEN 0 AND 10
              ORDER BY n.customer_id, n.answered_at DESC),
     refs AS (SELECT r.customer_id, count(*) AS referrals,
                     count(*) FILTER (WHERE r.referred_id IN (SELECT c.customer_id FROM cust c)) AS converted
                FROM so_ref r, p
               WHERE r.customer_id IS NOT NULL AND r.referred_on IS NOT NULL AND r.referred_on <= p.as_of
               GROUP BY r.customer_id),
     ev AS (SELECT a.customer_id, a.happened_at AS at, a.weight AS w FROM so_app a
             WHERE a.customer_id IS NOT NULL AND a.happened_at IS NOT NULL
               AND a.weight >= 0 AND a.weight <> 'Infinity'
            UNION ALL
            SELECT b.customer_id, b.seen_at, 1 FROM so_web b WHERE b.customer_id IS NOT NULL AND b.seen_at IS NOT NULL),
     eng AS (SELECT e.customer_id,
                    sum(e.w) FILTER (WHERE e.at > p.as_of - interval '720 hours' AND e.at <= p.as_of) AS e30,
                    sum(e.w) FILTER (WHERE e.at > p.as_of - interval '2160 hours' AND e.at <= p.as_of) AS e90,
                    sum(e.w) FILTER (WHERE e.at > p.as_of - interval '4320 hours' AND e.at <= p.as_of - interval '2160 hours') AS eprev
               FROM ev e, p GROUP BY e.customer_id),
     con AS (SELECT c.customer_id, count(*) AS contacts,
                    count(*) FILTER (WHERE c.resolved_at IS NULL OR c.resolved_at > p.as_of) AS open,
                    min(c.opened_at) FILTER (WHERE c.resolved_at IS NULL OR c.resolved_at > p.as_of) AS oldest_open,
                    avg(extract(epoch FROM c.resolved_at - c.opened_at) / 3600) FILTER (WHERE c.resolved_at <= p.as_of) AS res_hours,
                    (count(*) FILTER (WHERE c.resolved_at <= p.as_of AND c.fcr))::float8
                      / nullif(count(*) FILTER (WHERE c.resolved_at <= p.as_of AND c.fcr IS NOT NULL), 0) AS fcr_rate
               FROM so_contacts c, p
              WHERE c.customer_id IS NOT NULL AND c.opened_at IS NOT NULL AND c.opened_at <= p.as_of
                AND (c.resolved_at IS NULL OR c.resolved_at >= c.opened_at)
              GROUP BY c.customer_id),
     seats AS (SELECT DISTINCT ON (a.customer_id) a.customer_id, a.seats, a.as_of AS observed_at
                 FROM so_accounts a, p
                WHERE a.customer_id IS NOT NULL AND a.as_of IS NOT NULL AND a.seats IS NOT NULL AND a.as_of <= p.as_of
                ORDER BY a.customer_id, a.as_of DESC)
SELECT c.customer_id::text AS customer_id, n.score AS nps_score,
       CASE WHEN n.score >= 9 THEN 'promoter' WHEN n.score >= 7 THEN 'passive' WHEN n.score >= 0 THEN 'detractor' END AS nps_category,
       n.answered_at AS nps_at, coalesce(r.referrals, 0) AS referrals, coalesce(r.converted, 0) AS converted_referrals,
       round(coalesce(e.e30, 0)::numeric, 6) AS engagement_30d, round(coalesce(e.e90, 0)::numeric, 6) AS engagement_90d,
       round(coalesce(e.eprev, 0)::numeric, 6) AS engagement_prev_90d,
       round((coalesce(e.e90, 0) / nullif(e.eprev, 0))::numeric, 9) AS engagement_trend,
       coalesce(k.contacts, 0) AS service_contacts, coalesce(k.open, 0) AS open_contacts,
       floor(extract(epoch FROM p.as_of - k.oldest_open) / 86400)::integer AS oldest_open_contact_days,
       round(k.res_hours::numeric, 6) AS mean_resolution_hours, round(k.fcr_rate::numeric, 9) AS first_contact_resolution_rate,
       nullif(concat_ws(',', CASE WHEN n.score >= 9 OR r.converted > 0 THEN 'ambassador' END,
                             CASE WHEN st.seats >= 100 THEN 'corporate' END), '') AS profiles,
       nullif(concat_ws(',', CASE WHEN e.eprev > 0 AND coalesce(e.e90, 0) < 0.5 * e.eprev THEN 'engagement_falling' END,
                             CASE WHEN n.score <= 6 THEN 'detractor' END,
                             CASE WHEN k.oldest_open < p.as_of - interval '168 hours' THEN 'open_contact_over_7_days' END), '') AS at_risk_reasons
  FROM cust c CROSS JOIN p
  LEFT JOIN nps n ON n.customer_id = c.customer_id
  LEFT JOIN refs r ON r.customer_id = c.customer_id
  LEFT JOIN eng e ON e.customer_id = c.customer_id
  LEFT JOIN con k ON k.customer_id = c.customer_id
  LEFT JOIN seats st ON st.customer_id = c.customer_id;

CREATE TABLE so_got AS
SELECT g.customer_id::text AS customer_id, g.nps_score, g.nps_category, g.nps_at, g.referrals, g.converted_referrals,
       round(g.engagement_30d::numeric, 6) AS engagement_30d, round(g.engagement_90d::numeric, 6) AS engagement_90d,
       round(g.engagement_prev_90d::numeric, 6) AS engagement_prev_90d, round(g.engagement_trend::numeric, 9) AS engagement_trend,
       g.service_contacts, g.open_contacts, g.oldest_open_contact_days,
       round(g.mean_resolution_hours::numeric, 6) AS mean_resolution_hours,
       round(g.first_contact_resolution_rate::numeric, 9) AS first_contact_resolution_rate,
       g.profiles, g.at_risk_reasons
  FROM hvc.customer_signals g;

SELECT engagement_90d, engagement_prev_90d, engagement_trend, at_risk_reasons
  FROM hvc.customer_signals WHERE customer_id = so_key(800);
SELECT customer_id = so_key(801) AS first, engagement_30d, engagement_90d
  FROM hvc.customer_signals WHERE customer_id IN (so_key(801), so_key(802)) ORDER BY 1 DESC;

-- every column of every customer (up to 6 lines that one side lacks; none expected)
SELECT count(*) AS customer_signals_differ FROM (
    (SELECT * FROM so_got EXCEPT ALL SELECT * FROM so_want)
    UNION ALL
    (SELECT * FROM so_want EXCEPT ALL SELECT * FROM so_got)) d;
\pset format unaligned
SELECT side, row_text FROM (
    (SELECT 'hvc' AS side, x::text AS row_text FROM (SELECT * FROM so_got EXCEPT ALL SELECT * FROM so_want) x)
    UNION ALL
    (SELECT 'reference', x::text FROM (SELECT * FROM so_want EXCEPT ALL SELECT * FROM so_got) x)) d
 ORDER BY row_text, side LIMIT 6;
\pset format aligned
-- not vacuous: customers with each kind of value
SELECT count(*) FILTER (WHERE nps_score IS NOT NULL) > 50 AS nps, count(*) FILTER (WHERE converted_referrals > 0) > 5 AS converted,
       count(*) FILTER (WHERE engagement_prev_90d > 0) > 50 AS engagement,
       count(*) FILTER (WHERE open_contacts > 0) > 20 AS open_contacts,
       count(*) FILTER (WHERE first_contact_resolution_rate IS NOT NULL) > 20 AS fcr,
       count(*) FILTER (WHERE profiles LIKE '%corporate%') > 5 AS corporate,
       count(*) FILTER (WHERE at_risk_reasons LIKE '%engagement_falling%') > 3 AS falling,
       count(*) FILTER (WHERE at_risk_reasons LIKE '%open_contact%') > 5 AS open_reason
  FROM so_want;

-- the latest attribute value of each customer of the snapshot
CREATE TABLE so_attr_want AS
SELECT DISTINCT ON (s.customer_id) s.customer_id::text AS customer_id, 'seats'::text AS name, s.seats, s.as_of
  FROM so_accounts s
 WHERE s.customer_id IS NOT NULL AND s.as_of IS NOT NULL AND s.seats IS NOT NULL AND s.as_of <= :'as_of'
   AND s.customer_id IN (SELECT c.customer_id FROM so_sales c)
 ORDER BY s.customer_id, s.as_of DESC;
SELECT count(*) AS customer_attributes_differ FROM (
    (SELECT a.customer_id::text, a.name, a.value_numeric, a.observed_at FROM hvc.customer_attributes a
     EXCEPT ALL
     SELECT * FROM so_attr_want)
    UNION ALL
    (SELECT * FROM so_attr_want
     EXCEPT ALL
     SELECT a.customer_id::text, a.name, a.value_numeric, a.observed_at FROM hvc.customer_attributes a)) d;

-- rows read and skipped per signal
SELECT count(*) AS signal_counts_differ
  FROM hvc.signal s
  JOIN (VALUES ('nps', (SELECT count(*) FROM so_nps),
                (SELECT count(*) FROM so_nps WHERE customer_id IS NULL OR answered_at IS NULL OR score IS NULL
                                              OR score <> floor(score) OR score NOT BETWEEN 0 AND 10)),
               ('refs', (SELECT count(*) FROM so_ref), (SELECT count(*) FROM so_ref WHERE customer_id IS NULL OR referred_on IS NULL)),
               ('app', (SELECT count(*) FROM so_app),
                (SELECT count(*) FROM so_app WHERE customer_id IS NULL OR happened_at IS NULL OR weight IS NULL
                                                OR weight < 0 OR weight = 'Infinity')),
               ('web', (SELECT count(*) FROM so_web), (SELECT count(*) FROM so_web WHERE customer_id IS NULL OR seen_at IS NULL)),
               ('contacts', (SELECT count(*) FROM so_contacts),
                (SELECT count(*) FROM so_contacts WHERE customer_id IS NULL OR opened_at IS NULL OR resolved_at < opened_at)),
               ('seats', (SELECT count(*) FROM so_accounts),
                (SELECT count(*) FROM so_accounts WHERE customer_id IS NULL OR as_of IS NULL OR seats IS NULL))) w(name, n_read, n_skipped)
    ON w.name = s.name
 WHERE (s.rows_read, s.rows_skipped) IS DISTINCT FROM (w.n_read, w.n_skipped);

-- ---------------------------------------------------------------------------
-- The value score (value_basis score) over every criterion with random
-- weights (some 0): each criterion counts by the customer's cume_dist among
-- the customers with a value for it, a missing value as 0.5 (no NPS answer,
-- no seats, no fit with model none, no margin column); referrals and
-- engagement are 0 without rows of their registered signals;
-- score = 100 x sum(weight x percentile) / sum(weight) is the value (in
-- cents), ranked with ties by key.
-- ---------------------------------------------------------------------------
INSERT INTO hvc.score_weights
SELECT c, CASE WHEN random() < 0.2 THEN 0 ELSE round((random() * 3)::numeric, 2)::float8 END
  FROM unnest(ARRAY['predicted_clv', 'historic_clv', 'frequency', 'avg_order_value', 'margin', 'nps',
                    'referrals', 'engagement', 'attribute:seats']) c;
UPDATE hvc.score_weights SET weight = 1 WHERE criterion = 'nps';   -- (at least one positive weight)
UPDATE hvc.config SET value_basis = 'score';
CALL hvc.refresh(as_of => :'as_of');
CREATE TABLE so_score AS
WITH w AS (SELECT criterion, weight FROM hvc.score_weights),
     v AS (SELECT c.customer_id::text AS customer_id, x.criterion, x.value
             FROM hvc.customers c
             JOIN so_want g ON g.customer_id = c.customer_id::text
             LEFT JOIN so_attr_want a ON a.customer_id = c.customer_id::text
            CROSS JOIN LATERAL (VALUES ('predicted_clv', c.predicted_clv::float8), ('historic_clv', c.historic_clv::float8),
                                       ('frequency', c.orders::float8), ('avg_order_value', c.avg_order_value::float8),
                                       ('margin', c.margin::float8), ('nps', g.nps_score::float8),
                                       ('referrals', g.referrals::float8), ('engagement', g.engagement_90d::float8),
                                       ('attribute:seats', a.seats::float8)) x(criterion, value)),
     pct AS (SELECT v.customer_id, v.criterion,
                    CASE WHEN v.value IS NULL THEN 0.5
                         ELSE cume_dist() OVER (PARTITION BY v.criterion, v.value IS NULL ORDER BY v.value) END AS p
               FROM v)
SELECT p.customer_id, 100 * sum(w.weight * p.p) / sum(w.weight) AS score
  FROM pct p JOIN w ON w.criterion = p.criterion
 GROUP BY p.customer_id;
SELECT count(*) AS score_differ,
       (SELECT count(DISTINCT round(x.score::numeric, 2)) FROM so_score x) > 100 AS many_scores
  FROM hvc.customers c
  JOIN so_score s ON s.customer_id = c.customer_id::text
 WHERE c.value IS DISTINCT FROM round(s.score::numeric, 2)
   AND abs(c.value - s.score::numeric) > 0.005 + 1e-9;
SELECT count(*) AS score_rank_differ
  FROM (SELECT c.value_rank, row_number() OVER (ORDER BY c.value DESC, c.customer_id) AS rk FROM hvc.customers c) x
 WHERE x.value_rank <> x.rk;
DELETE FROM hvc.score_weights;

SELECT hvc.unregister_signal(n) IS NOT NULL AS unregistered FROM unnest(ARRAY['nps', 'refs', 'app', 'web', 'contacts', 'seats']) n;
DELETE FROM hvc.profile_rules WHERE profile = 'corporate';
SELECT hvc.register_source('so_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DROP TABLE so_score, so_attr_want, so_want, so_got, so_sales, so_nps, so_ref, so_app, so_web, so_contacts, so_accounts;
DROP FUNCTION so_key(integer), so_who(integer), so_when(timestamptz);
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
