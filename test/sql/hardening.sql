-- Issue 7, C side: hostile arguments of the internal functions, dates beyond
-- the timestamp range, totals next to the int64 limit, a timezone per row,
-- impossible serialised states and the timezone CHECK.  Every case is a
-- clean SQLSTATE or a counted skip; nothing computed before is lost.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
RESET client_min_messages;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set SHOW_CONTEXT never
CREATE TEMP TABLE saved_config AS SELECT * FROM hvc.config;
UPDATE hvc.config SET model = 'none', time_unit = 'day', timezone = 'UTC',
                      value_basis = 'revenue', horizon_months = 12, monthly_discount_rate = 0.01;

-- the SQLSTATE (and message) of a statement, or 'ok'
CREATE FUNCTION pg_temp.outcome(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- ---------------------------------------------------------------------------
-- 1. The timezone CHECK accepts exactly the zones the refresh can use.
-- ---------------------------------------------------------------------------
SELECT z, hvc._is_valid_timezone(z) AS valid
  FROM unnest(ARRAY['UTC', 'utc', 'GMT', 'Europe/Paris', 'America/Sao_Paulo', 'EST5EDT',
                    'PDT', 'CEST', 'Mars/Olympus', '']) z;
SELECT pg_temp.outcome($$UPDATE hvc.config SET timezone = 'PDT'$$);
SELECT pg_temp.outcome($$UPDATE hvc.config SET timezone = 'Europe/Paris'$$);
SELECT timezone FROM hvc.config;
UPDATE hvc.config SET timezone = 'UTC';
-- a zone the CHECK accepts is one hvc.customer_state accepts
SELECT z, pg_temp.outcome(format($$SELECT hvc.customer_state(now(), 1, NULL::numeric, NULL::int, 'infinity', %L)$$, z))
  FROM unnest(ARRAY['Europe/Paris', 'EST5EDT', 'PDT']) z;

-- ---------------------------------------------------------------------------
-- 2. Dates beyond the timestamp range are counted skips (not a 2023 order,
-- not a data_corrupted error that fails every refresh).
-- ---------------------------------------------------------------------------
SELECT (s).rows_read, (s).rows_skipped, (s).orders, (s).purchase_days,
       (s).first_order_local, (s).last_order_local, (s).revenue
  FROM (SELECT hvc.customer_summary(d, 1::numeric, NULL::numeric, NULL::int, '2025-07-01', 'UTC') AS s
          FROM (VALUES ('2023-05-01'::date), ('586577-03-19'), ('1000000-01-01'),
                       ('294276-12-31'), ('5874897-12-31'), ('4713-11-24 BC')) v(d)) x;
CREATE TABLE far_dates (customer_id int, ordered_at date, amount numeric);
INSERT INTO far_dates VALUES (1, '2023-05-01', 10), (1, '586577-03-19', 20), (1, '1000000-01-01', 30),
                             (2, '2024-01-01', 5), (2, '2024-02-01', 6);
SELECT hvc.register_source('public.far_dates', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT status, rows_read, rows_skipped, customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT customer_id, orders, revenue, first_order_at, last_order_at FROM hvc.customers ORDER BY 1;
-- timestamptz sources: local times pushed past the range by the zone are skipped too
SELECT (s).rows_read, (s).rows_skipped, (s).orders
  FROM (SELECT hvc.customer_summary(t, 1::numeric, NULL::numeric, NULL::int, 'infinity', 'Asia/Tokyo') AS s
          FROM (VALUES ('2023-05-01 00:00+00'::timestamptz), ('294276-12-31 23:00+00')) v(t)) x;

-- ---------------------------------------------------------------------------
-- 3. A timezone per row: each row is reckoned in its own zone.
-- ---------------------------------------------------------------------------
SELECT (s).purchase_days, (s).first_order_local, (s).last_order_local
  FROM (SELECT hvc.customer_summary(t, 1::numeric, NULL::numeric, NULL::int, '2030-01-01', z) AS s
          FROM (VALUES ('2025-01-01 23:30+00'::timestamptz, 'UTC'),
                       ('2025-01-01 23:30+00', 'Asia/Tokyo'),
                       ('2025-01-01 23:30+00', 'America/New_York')) v(t, z)) x;
SELECT pg_temp.outcome($$
    SELECT hvc.customer_summary(t, 1::numeric, NULL::numeric, NULL::int, '2030-01-01', z)
      FROM (VALUES ('2025-01-01 23:30+00'::timestamptz, 'UTC'), ('2025-01-02', NULL)) v(t, z)$$);
SELECT pg_temp.outcome($$
    SELECT hvc.customer_summary(t, 1::numeric, NULL::numeric, NULL::int, '2030-01-01', z)
      FROM (VALUES ('2025-01-01 23:30+00'::timestamptz, 'UTC'), ('2025-01-02', 'PDT')) v(t, z)$$);

-- ---------------------------------------------------------------------------
-- 4. Totals next to the int64 limit of ten-thousandths round to cents
-- exactly; 101 customers that large share out exactly (no overflow).
-- 92 x 9 999 999 999 999.9999 + 2 337 203 685 477.5860
--   = 922 337 203 685 477.5768 (the limit is 922 337 203 685 477.5807)
-- ---------------------------------------------------------------------------
CREATE TABLE big (customer_id int, ordered_at date, amount numeric);
INSERT INTO big SELECT c, '2025-01-01'::date + (i % 90), 9999999999999.9999
  FROM generate_series(1, 101) c, generate_series(1, 92) i;
INSERT INTO big SELECT c, '2025-05-01', 2337203685477.5860 FROM generate_series(1, 101) c;
SELECT hvc.register_source('public.big', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, orders, revenue, historic_clv, value, avg_order_value
  FROM hvc.customers WHERE customer_id IN (1, 101) ORDER BY 1;
SELECT count(*) AS customers, min(value_rank) AS first_rank, max(value_rank) AS last_rank,
       round(min(cumulative_value_share)::numeric, 9) AS first_share,
       max(cumulative_value_share) AS last_share
  FROM hvc.customers;
-- one row more and the customer's total is a clear error; the snapshot stays
INSERT INTO big VALUES (7, '2025-06-01', 0.0040);
\set ON_ERROR_STOP 0
CALL hvc.refresh(as_of => '2025-07-01');
\set ON_ERROR_STOP 1
SELECT status, message FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT count(*) AS customers, min(revenue) AS revenue FROM hvc.customers;
DELETE FROM big WHERE amount = 0.0040;

-- ---------------------------------------------------------------------------
-- 5. Impossible serialised states are data_corrupted.  Layout: version byte,
-- then int64 rows(2) skipped(10) purchase_rows(18) refund_rows(26)
-- unkeyed_orders(34) revenue(42) margin(50) margin_rows(58) first_at(66)
-- last_at(74) first_day_spend(82), int32 first_day(90) ndays(94) norders(98),
-- days, order keys (positions 1-based).
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.le8(v bigint) RETURNS bytea LANGUAGE sql AS $$
    SELECT string_agg(substr(int8send(v), 9 - i, 1), ''::bytea ORDER BY i) FROM generate_series(1, 8) i $$;
CREATE FUNCTION pg_temp.put8(s bytea, pos int, v bigint) RETURNS bytea LANGUAGE sql AS $$
    SELECT overlay(s placing pg_temp.le8(v) from pos for 8) $$;
CREATE TEMP TABLE one_row AS      -- one purchase row without order id, margin 3
SELECT hvc.customer_state('2025-01-01'::date, 10::numeric, 3::numeric, NULL::int, '2030-01-01', 'UTC') AS s;
CREATE TEMP TABLE refund_row AS   -- one refund row
SELECT hvc.customer_state('2025-01-01'::date, -10::numeric, NULL::numeric, NULL::int, '2030-01-01', 'UTC') AS s;
SELECT (hvc.customer_state_summary(s)).* FROM one_row;
SELECT what, pg_temp.outcome(format('SELECT hvc.customer_state_summary(%L::bytea)', b)) AS outcome
  FROM (SELECT 'orders 0 with a purchase day', pg_temp.put8(s, 34, 0) FROM one_row
        UNION ALL SELECT 'margin beyond one row', pg_temp.put8(s, 50, 100000000000000000) FROM one_row
        UNION ALL SELECT 'margin without margin rows', pg_temp.put8(pg_temp.put8(s, 58, 0), 50, 30000) FROM one_row
        UNION ALL SELECT 'revenue beyond one row', pg_temp.put8(pg_temp.put8(s, 42, 100000000000000000), 82, 100000000000000000) FROM one_row
        UNION ALL SELECT 'first-day spend beyond revenue', pg_temp.put8(s, 82, 200000) FROM one_row
        UNION ALL SELECT 'one row, two times', pg_temp.put8(s, 74, 788922000000000) FROM one_row
        UNION ALL SELECT 'negative refund revenue', pg_temp.put8(s, 42, 100000) FROM refund_row
        UNION ALL SELECT 'refund state with a purchase time', pg_temp.put8(s, 66, 1) FROM refund_row
        UNION ALL SELECT 'counts overflow', pg_temp.put8(pg_temp.put8(s, 2, -9223372036854775807), 10, 9223372036854775807) FROM one_row
       ) c(what, b);

-- ---------------------------------------------------------------------------
-- 6. The internal functions validate the stage and every argument.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE m AS SELECT 1 AS k;  -- keep a session-temp schema
SELECT pg_temp.outcome($$SELECT hvc._fit_models(c, '2025-07-01') FROM hvc.config c$$) AS no_stage;
CREATE TEMP TABLE _hvc_stage AS
SELECT customer_id, hvc.customer_state(ordered_at, amount, NULL::numeric, NULL::int, '2025-07-01', 'UTC') AS state
  FROM far_dates GROUP BY 1;
CREATE TEMP TABLE params AS SELECT hvc._fit_models(c, '2025-07-01') AS p FROM hvc.config c;
SELECT (p).rows_read, (p).rows_skipped, (p).customers, (p).horizon_months FROM params;
-- the arguments of a good call
CREATE TEMP TABLE args AS
SELECT (SELECT array_agg(segment ORDER BY r, f, m) FROM hvc._segment_cells()) AS seg,
       ARRAY[1, 2]::bigint[] AS lo, ARRAY['a', 'b'] AS name, ARRAY[1, 2] AS rank, ARRAY[true, false] AS high;
CREATE FUNCTION pg_temp.build(proto anyelement, p hvc._model_params, as_of date, seg text[], lo bigint[],
                              name text[], rank int[], high boolean[], basis text DEFAULT 'revenue')
RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM hvc._build_snapshot(proto, p, as_of, 'UTC', false, basis, seg, lo, name, rank, high, now(), 0) $$;
SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg, lo, name, rank, high) AS rows FROM params, args;
SELECT what, pg_temp.outcome(q) AS outcome FROM (VALUES
    ('text proto for an int stage', $$SELECT pg_temp.build(NULL::text, p, '2025-07-01', seg, lo, name, rank, high) FROM params, args$$),
    ('NULL tier name', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg, lo, ARRAY['a', NULL], rank, high) FROM params, args$$),
    ('NULL tier_lo', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg, ARRAY[1, NULL]::bigint[], name, rank, high) FROM params, args$$),
    ('NULL segment', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg[1:124] || NULL::text, lo, name, rank, high) FROM params, args$$),
    ('124 segments', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg[1:124], lo, name, rank, high) FROM params, args$$),
    ('short tier_high', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg, lo, name, rank, ARRAY[true]) FROM params, args$$),
    ('tier_lo from 0', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg, ARRAY[0, 2]::bigint[], name, rank, high) FROM params, args$$),
    ('tier ranks down', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg, lo, name, ARRAY[2, 1], high) FROM params, args$$),
    ('2-D tiers', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg, ARRAY[[1, 2]]::bigint[], name, rank, high) FROM params, args$$),
    ('no tiers', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg, '{}', '{}', '{}', '{}') FROM params, args$$),
    ('basis unknown', $$SELECT pg_temp.build(NULL::int, p, '2025-07-01', seg, lo, name, rank, high, 'magic') FROM params, args$$),
    ('NULL as_of', $$SELECT pg_temp.build(NULL::int, p, NULL, seg, lo, name, rank, high) FROM params, args$$),
    ('infinite as_of', $$SELECT pg_temp.build(NULL::int, p, 'infinity', seg, lo, name, rank, high) FROM params, args$$),
    ('as_of before the stage', $$SELECT pg_temp.build(NULL::int, p, '2024-01-15', seg, lo, name, rank, high) FROM params, args$$),
    ('move_reason unknown', $$SELECT count(*) FROM params, args, hvc._build_snapshot(NULL::int, p, '2025-07-01', 'UTC', false, 'revenue', seg, lo, name, rank, high, now(), 0, 'sideways')$$)
  ) v(what, q);
-- hand-made model parameters
CREATE FUNCTION pg_temp.with_params(p hvc._model_params, model text, usable boolean, r float8, horizon int,
                                    upm float8) RETURNS hvc._model_params LANGUAGE plpgsql AS $$
BEGIN
    p.model := model; p.usable := usable; p.r := r; p.alpha := 1; p.a := 1; p.b := 1;
    p.horizon_months := horizon; p.units_per_month := upm;
    RETURN p;
END $$;
SELECT what, pg_temp.outcome(format($$SELECT pg_temp.build(NULL::int, pg_temp.with_params(p, %L, %L, %s, %s, %s), '2025-07-01', seg, lo, name, rank, high) FROM params, args$$,
                                    model, usable, r, horizon, upm)) AS outcome
  FROM (VALUES ('horizon 2^31-1', 'bgnbd', true, '1', '2147483647', '30'),
               ('horizon 0', 'none', false, '1', '0', '30'),
               ('unknown model', 'magic', false, '1', '12', '30'),
               ('usable with r NaN', 'bgnbd', true, '''NaN''', '12', '30'),
               ('usable with r -1', 'bgnbd', true, '-1', '12', '30'),
               ('usable with r NULL', 'bgnbd', true, 'NULL', '12', '30'),
               ('units per month 1', 'bgnbd', true, '1', '12', '1'),
               ('a good hand-made model', 'bgnbd', true, '0.5', '12', '30')) v(what, model, usable, r, horizon, upm);
-- hand-made configurations for _fit_models (the CHECKs do not apply to a value)
CREATE FUNCTION pg_temp.cfg(model text, unit text, horizon int, rate float8) RETURNS hvc.config
LANGUAGE plpgsql AS $$
DECLARE c hvc.config;
BEGIN
    SELECT * INTO c FROM hvc.config;
    c.model := model; c.time_unit := unit; c.horizon_months := horizon; c.monthly_discount_rate := rate;
    RETURN c;
END $$;
SELECT what, pg_temp.outcome(format($$SELECT hvc._fit_models(pg_temp.cfg(%s, %s, %s, %s), '2025-07-01')$$,
                                    model, unit, horizon, rate)) AS outcome
  FROM (VALUES ('unknown model', '''magic''', '''day''', '12', '0.01'),
               ('unknown unit', '''none''', '''hour''', '12', '0.01'),
               ('horizon 2^31-1', '''bgnbd''', '''day''', '2147483647', '0.01'),
               ('rate 1', '''bgnbd''', '''day''', '12', '1'),
               ('rate NaN', '''bgnbd''', '''day''', '12', '''NaN'''),
               ('NULL model', 'NULL', '''day''', '12', '0.01'),
               ('NULL horizon', '''none''', '''day''', 'NULL', '0.01'),
               ('good', '''none''', '''day''', '12', '0.01')) v(what, model, unit, horizon, rate);
SELECT pg_temp.outcome($$SELECT hvc._fit_models(c, 'infinity') FROM hvc.config c$$) AS infinite_as_of;
SELECT pg_temp.outcome($$SELECT hvc._fit_models(c, '2024-01-15') FROM hvc.config c$$) AS as_of_before_stage;
-- model none takes the totals from the states' fixed fields, a model from
-- the decoded states: the same totals, the same as_of error
SELECT model, (m).rows_read, (m).rows_skipped, (m).customers
  FROM (SELECT v.model, hvc._fit_models(pg_temp.cfg(v.model, 'day', 12, 0.01), '2025-07-01') AS m
          FROM (VALUES ('none'), ('bgnbd')) v(model)) x ORDER BY 1;
SELECT pg_temp.outcome($$SELECT hvc._fit_models(pg_temp.cfg('bgnbd', 'day', 12, 0.01), '2024-01-15')$$) AS bgnbd_as_of_before_stage;
-- hostile stages
DROP TABLE _hvc_stage;
CREATE TEMP TABLE _hvc_stage AS SELECT customer_id, state::text AS state FROM (
    SELECT 1 AS customer_id, '\x00'::bytea AS state) s;
SELECT pg_temp.outcome($$SELECT hvc._fit_models(c, '2025-07-01') FROM hvc.config c$$) AS text_state;
DROP TABLE _hvc_stage;
CREATE TEMP TABLE _hvc_stage AS
SELECT customer_id::text AS customer_id, hvc.customer_state(ordered_at, amount, NULL::numeric, NULL::int, '2025-07-01', 'UTC') AS state
  FROM far_dates GROUP BY 1;
SELECT pg_temp.outcome($$SELECT pg_temp.build(NULL::bigint, p, '2025-07-01', seg, lo, name, rank, high) FROM params, args$$) AS text_keys_as_bigint;
SELECT pg_temp.outcome($$SELECT pg_temp.build(NULL::text, p, '2025-07-01', seg, lo, name, rank, high) FROM params, args$$) AS text_keys_against_int_snapshot;
DROP TABLE _hvc_stage;
CREATE TEMP TABLE _hvc_stage (customer_id int, status bytea);
SELECT pg_temp.outcome($$SELECT hvc._fit_models(c, '2025-07-01') FROM hvc.config c$$) AS no_state_column;
DROP TABLE _hvc_stage;
CREATE TEMP TABLE _hvc_stage (customer_id int, state bytea);
INSERT INTO _hvc_stage VALUES (1, '\x01'), (2, NULL), (NULL, NULL);
SELECT pg_temp.outcome($$SELECT hvc._fit_models(c, '2025-07-01') FROM hvc.config c$$) AS corrupt_state;
SELECT pg_temp.outcome($$SELECT hvc._fit_models(pg_temp.cfg('bgnbd', 'day', 12, 0.01), '2025-07-01')$$) AS bgnbd_corrupt_state;
-- a state whose fixed fields are sound but whose length is not
UPDATE _hvc_stage SET state = (SELECT hvc.customer_state('2025-01-01'::timestamp, 1, NULL::numeric, NULL::int, '2030-01-01', 'UTC')) || '\x00'::bytea
 WHERE customer_id = 1;
SELECT pg_temp.outcome($$SELECT hvc._fit_models(c, '2025-07-01') FROM hvc.config c$$) AS state_too_long;
DROP TABLE _hvc_stage;

-- the registered source still refreshes, and its snapshot is intact
SELECT hvc.register_source('public.far_dates', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, orders, revenue FROM hvc.customers ORDER BY 1;

UPDATE hvc.config c SET model = s.model, time_unit = s.time_unit, horizon_months = s.horizon_months,
       monthly_discount_rate = s.monthly_discount_rate, value_basis = s.value_basis,
       timezone = s.timezone FROM saved_config s;
