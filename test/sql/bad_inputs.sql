-- Every bad input a user can give: a clear error (SQLSTATE + hint) or a
-- counted skip, and nothing already computed is lost.
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never
SET client_min_messages = notice;
SET timezone = 'UTC';
\set VERBOSITY default
UPDATE hvc.config SET model = 'none', time_unit = 'day', timezone = 'UTC';

CREATE TABLE good (customer_id bigint, ordered_at timestamp, amount numeric, order_ref text);
INSERT INTO good VALUES (1, '2025-01-01 10:00', 10, 'a'), (1, '2025-02-01 10:00', 20, 'b'),
                        (2, '2025-03-01 10:00', 5, 'c');
SELECT hvc.register_source('public.good', 'customer_id', 'ordered_at', 'amount', order_id => 'order_ref');
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, orders, revenue FROM hvc.customers ORDER BY 1;

-- Registration errors: each fails before anything changes.
\set ON_ERROR_STOP 0
SELECT hvc.register_source('public.missing', 'customer_id', 'ordered_at', 'amount');
SELECT hvc.register_source('public.missing'::regclass, 'customer_id', 'ordered_at', 'amount');
SELECT hvc.register_source('public.good', 'customer', 'ordered_at', 'amount');
SELECT hvc.register_source('public.good', 'customer_id', 'ordered_at', 'Amount');
SELECT hvc.register_source('public.good', 'customer_id', NULL, 'amount');
SELECT hvc.register_source('public.good', 'customer_id', 'ordered_at', 'amount', margin => 'nope');
CREATE TABLE wrong_types (customer_id int, customer_pt point, ordered_txt text, ordered_at date,
                          amount_txt text, amount numeric, payload json);
SELECT hvc.register_source('public.wrong_types', 'customer_pt', 'ordered_at', 'amount');
SELECT hvc.register_source('public.wrong_types', 'payload', 'ordered_at', 'amount');
SELECT hvc.register_source('public.wrong_types', 'customer_id', 'ordered_txt', 'amount');
SELECT hvc.register_source('public.wrong_types', 'customer_id', 'ordered_at', 'amount_txt');
SELECT hvc.register_source('public.wrong_types', 'customer_id', 'ordered_at', 'amount', margin => 'amount_txt');
SELECT hvc.register_source('public.wrong_types', 'customer_id', 'ordered_at', 'amount', order_id => 'payload');
CREATE SEQUENCE not_a_table;
SELECT hvc.register_source('public.not_a_table', 'last_value', 'ordered_at', 'amount');
\set ON_ERROR_STOP 1
-- still the good registration, and the snapshot is intact
SELECT relation, customer, customer_type FROM hvc.source;
SELECT count(*) AS customers FROM hvc.customers;

-- Odd identifiers: a quoted, mixed-case table with spaces in column names,
-- registered through a view with domain types.
CREATE SCHEMA "Odd Schema";
CREATE DOMAIN money_amount AS numeric(12,2);
CREATE TABLE "Odd Schema"."Sales ""2025""" ("Customer ID" text, "Ordered At" date,
                                            "Amount €" money_amount, "Order #" uuid);
INSERT INTO "Odd Schema"."Sales ""2025""" VALUES
    ('Zoë', '2025-05-01', 12.5, '00000000-0000-0000-0000-000000000001'),
    ('Zoë', '2025-05-01', 7.5,  '00000000-0000-0000-0000-000000000001'),
    ('Zoë', '2025-06-01', 30,   '00000000-0000-0000-0000-000000000002'),
    ('O''Brien', '2025-06-15', 99.99, NULL);
SELECT hvc.register_source('"Odd Schema"."Sales ""2025"""', 'Customer ID', 'Ordered At', 'Amount €',
                           order_id => 'Order #');
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, orders, purchase_days, revenue FROM hvc.customers ORDER BY 1;

-- Bad rows: NULLs, NaN, infinite and future dates are counted skips.
CREATE TABLE messy (customer_id text, ordered_at date, amount float8);
INSERT INTO messy VALUES ('x', '2025-01-01', 10), ('x', NULL, 10), ('x', '2025-01-02', NULL),
    ('x', '2025-01-03', 'NaN'), ('x', '2025-01-04', 'Infinity'), ('x', 'infinity', 1),
    ('x', '-infinity', 1), ('x', '2099-01-01', 10), (NULL, '2025-01-01', 10),
    ('y', '2025-01-05', -3),            -- refunds only: not a customer, not skipped
    ('z', '2025-02-01', 0);             -- a free order is an order
SELECT hvc.register_source('public.messy', 'customer_id', 'ordered_at', 'amount');
CALL hvc.refresh(as_of => '2025-07-01');
SELECT rows_read, rows_skipped, customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT customer_id, orders, revenue FROM hvc.customers ORDER BY 1;

-- A huge amount stops the refresh with a clear error; the last snapshot and
-- its log stay, and the failure is logged.
INSERT INTO messy VALUES ('x', '2025-03-01', 1e14);
\set ON_ERROR_STOP 0
CALL hvc.refresh(as_of => '2025-07-01');
\set ON_ERROR_STOP 1
SELECT status, rows_read, message FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT customer_id, orders, revenue FROM hvc.customers ORDER BY 1;
DELETE FROM messy WHERE amount = 1e14;
-- Per-customer totals past the int64 range of ten-thousandths are refused too.
INSERT INTO messy SELECT 'x', '2025-03-01', 9e12 FROM generate_series(1, 110);
\set ON_ERROR_STOP 0
CALL hvc.refresh(as_of => '2025-07-01');
\set ON_ERROR_STOP 1
DELETE FROM messy WHERE amount = 9e12;

-- Bad settings and rules.
\set ON_ERROR_STOP 0
UPDATE hvc.config SET model = 'magic';
UPDATE hvc.config SET timezone = 'Mars/Olympus';
UPDATE hvc.config SET monthly_discount_rate = -0.1;
INSERT INTO hvc.rfm_segments VALUES ('Broken', 99, 4, 2, 1, 5, 1, 5);
UPDATE hvc.tier_rules SET customer_share = 0.9 WHERE tier = 'low';
CALL hvc.refresh(as_of => '2025-07-01');
UPDATE hvc.tier_rules SET customer_share = 1 WHERE tier = 'low';
UPDATE hvc.tier_rules SET customer_share = 0.6 WHERE tier = 'high';
CALL hvc.refresh(as_of => '2025-07-01');
UPDATE hvc.tier_rules SET customer_share = 0.2 WHERE tier = 'high';
-- inside a transaction block
BEGIN;
CALL hvc.refresh(as_of => '2025-07-01');
ROLLBACK;
-- a source that disappeared, or changed type
DROP TABLE messy;
CALL hvc.refresh(as_of => '2025-07-01');
\set ON_ERROR_STOP 1
SELECT status, timings IS NULL AS no_timings, message FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 4;
-- inserting a settings row replaces the singleton (this is how pg_restore
-- brings a dumped configuration back)
UPDATE hvc.config SET horizon_months = 6;
INSERT INTO hvc.config (model, time_unit) VALUES ('none', 'day');
SELECT count(*) AS rows, min(horizon_months) AS horizon_months, min(model) AS model FROM hvc.config;
SELECT customer_id, orders, revenue FROM hvc.customers ORDER BY 1;

-- Corrupt serialized states: every malformed byte string is an error, never a crash.
CREATE TABLE st AS
SELECT hvc.customer_state(d, a, NULL::numeric, o, '2030-01-01'::timestamp, 'UTC') AS s
  FROM (VALUES ('2025-01-01'::date, 10::numeric, 1), ('2025-01-05', 20, 2), ('2025-01-05', 5, 2)) v(d, a, o);
SELECT (hvc.customer_state_summary(s)).* FROM st;
SELECT length(s) FROM st;
-- the bytes of format 3: version 3; rows 3, skipped 0, purchase rows 3,
-- refunds 0, unkeyed 0 (zigzag varints: 06 00 06 00 00); revenue 35.0000
-- (e0dc2a); margin 0, margin rows 0; first_at (8 bytes); last_at - first_at
-- (6 bytes); first-day spend 10.0000 (c09a0c); 2 days, 2 orders; no purchase
-- instants (kind 0: a date source); the second day 3 + 1 days after the
-- first; order key 1 (zigzag 02), the next 0 + 1 after it
SELECT s = '\x030600060000e0dc2a00008080a4ed8fe6e6028080ecf58e14c09a0c020200030200'::bytea AS format_3 FROM st;
-- format 2 (0.2.0 before format 3: the same without the instants' kind) is still read
SELECT hvc.customer_state_summary('\x020600060000e0dc2a00008080a4ed8fe6e6028080ecf58e14c09a0c0202030200'::bytea)::text
       = hvc.customer_state_summary(s)::text AS format_2_read
  FROM st;
\set ON_ERROR_STOP 0
SELECT hvc.customer_state_summary('\x'::bytea);
SELECT hvc.customer_state_summary('\x04'::bytea || substr(s, 2)) FROM st;
SELECT hvc.customer_state_summary(substr(s, 1, length(s) - 1)) FROM st;
SELECT hvc.customer_state_summary(s || '\x00'::bytea) FROM st;
-- cut inside revenue's varint
SELECT hvc.customer_state_summary(substr(s, 1, 8)) FROM st;
-- rows counter (byte 2) set to 4: counts no longer add up
SELECT hvc.customer_state_summary(overlay(s placing '\x08'::bytea from 2 for 1)) FROM st;
-- skipped (byte 3) as a two-byte zero: not the shortest form
SELECT hvc.customer_state_summary(overlay(s placing '\x8000'::bytea from 3 for 1)) FROM st;
-- margin (byte 10) as ten bytes past 64 bits
SELECT hvc.customer_state_summary(overlay(s placing '\xffffffffffffffffff7f'::bytea from 10 for 1)) FROM st;
-- order set size (byte 30) made huge
SELECT hvc.customer_state_summary(overlay(s placing '\xffffffff0f'::bytea from 30 for 1)) FROM st;
-- last_at before first_at (bytes 20-25: -1 microsecond)
SELECT hvc.customer_state_summary(overlay(s placing '\x01'::bytea from 20 for 6)) FROM st;
-- the second purchase day (byte 32) moved: no longer the day of last_at
SELECT hvc.customer_state_summary(overlay(s placing '\x02'::bytea from 32 for 1)) FROM st;
-- first order key (byte 33) the largest bigint: the next one is out of range
SELECT hvc.customer_state_summary(overlay(s placing '\xfeffffffffffffffff01'::bytea from 33 for 1)) FROM st;
-- the kind of purchase instants (byte 31) unknown
SELECT hvc.customer_state_summary(overlay(s placing '\x03'::bytea from 31 for 1)) FROM st;
\set ON_ERROR_STOP 1
-- A timestamptz source's state keeps the first and last purchase instants
-- (kind 1, whole seconds: their distances to the local times, here 0 in
-- UTC); one purchase row: version, rows 1 .. first_at (bytes 12-19), last_at
-- - first_at 0, first-day spend, 1 day, 1 order, kind 1 (byte 26), the two
-- distances (bytes 27, 28), order key 1
CREATE TABLE st3 AS
SELECT hvc.customer_state('2025-01-01 10:00+00'::timestamptz, 10::numeric, NULL::numeric, 1,
                          '2030-01-01'::timestamp, 'UTC') AS s;
SELECT encode(s, 'hex') AS one_purchase FROM st3;
-- the same distances in microseconds (kind 2) are the same state
SELECT hvc._state_merge(overlay(s placing '\x02'::bytea from 26 for 1), s) = hvc._state_merge(s, s) AS kind_2_alike FROM st3;
\set ON_ERROR_STOP 0
-- the first instant three days from its local time (zigzag 3 * 86400 s)
SELECT hvc.customer_state_summary(overlay(s placing '\x80fa7f'::bytea from 27 for 1)) FROM st3;
-- one purchase row with two instants (the last 1 s later)
SELECT hvc.customer_state_summary(overlay(s placing '\x02'::bytea from 28 for 1)) FROM st3;
-- the first instant after the last (the first 1 s later)
SELECT hvc.customer_state_summary(overlay(s placing '\x02'::bytea from 27 for 1)) FROM st3;
-- instants cut off
SELECT hvc.customer_state_summary(substr(s, 1, 27)) FROM st3;
-- instants in a state of refunds only
SELECT hvc.customer_state_summary(
         '\x03'::bytea || substr(hvc.customer_state('2025-01-01 10:00+00'::timestamptz, -10::numeric, NULL::numeric, 1,
                                                    '2030-01-01'::timestamp, 'UTC'), 2, 15) || '\x010000'::bytea);
\set ON_ERROR_STOP 1
-- a state that knows its instants merged with one that does not (format 2,
-- or a date source): the merge does not know them
SELECT encode(hvc._state_merge(st3.s, st.s), 'hex') AS merged_without_instants FROM st3, st;
DROP TABLE st3;
-- Format 1, what 0.1.0 wrote (the same state), is still read, merged with
-- format 3 and rejected when corrupt.
CREATE TABLE st1 AS SELECT '\x01030000000000000000000000000000000300000000000000000000000000000000000000000000003057050000000000000000000000000000000000000000000080d47e98cd0200000032f6e8cd0200a086010000000000ac2300000200000002000000ac230000b023000001000000000000000200000000000000'::bytea AS s;
SELECT hvc.customer_state_summary(s1.s)::text = hvc.customer_state_summary(st.s)::text AS same_summary FROM st1 s1, st;
SELECT hvc._state_merge(s1.s, s1.s) = hvc._state_merge(st.s, st.s) AS merged_alike,
       get_byte(hvc._state_merge(s1.s, st.s), 0) AS merged_format
  FROM st1 s1, st;
\set ON_ERROR_STOP 0
-- rows counter (bytes 2-9) set to 1: counts no longer add up
SELECT hvc.customer_state_summary(overlay(s placing '\x0100000000000000'::bytea from 2 for 8)) FROM st1;
-- set sizes (bytes 94-101) made huge
SELECT hvc.customer_state_summary(overlay(s placing '\xffffff7f'::bytea from 98 for 4)) FROM st1;
-- purchase days out of order
SELECT hvc.customer_state_summary(overlay(s placing substr(s, 106, 4) || substr(s, 102, 4) from 102 for 8)) FROM st1;
-- first/last times swapped
SELECT hvc.customer_state_summary(overlay(s placing substr(s, 74, 8) || substr(s, 66, 8) from 66 for 16)) FROM st1;
SELECT hvc.customer_state_summary(substr(s, 1, length(s) - 1)) FROM st1;
\set ON_ERROR_STOP 1
-- random garbage of many lengths: always an error, never a crash
DO $$
DECLARE i int; errors int := 0;
BEGIN
    FOR i IN 1..300 LOOP
        BEGIN
            PERFORM hvc.customer_state_summary(
                (SELECT string_agg(decode(lpad(to_hex((hashint4(i * 1000 + j) & 255)), 2, '0'), 'hex'), ''::bytea)
                   FROM generate_series(1, i) j));
        EXCEPTION WHEN data_corrupted THEN errors := errors + 1;
        END;
    END LOOP;
    RAISE NOTICE 'garbage states rejected: % of 300', errors;
END $$;

-- a refresh whose session died (crash, kill -9, lost connection) is marked
-- interrupted by the next refresh; a cancelled one (statement_timeout) is
-- logged as failed with the cancel's SQLSTATE; the snapshot stays
INSERT INTO hvc.refresh_log (started_at, as_of, status, backend_pid)
VALUES (now() - interval '1 hour', now(), 'running', 0);
SELECT hvc.register_source('public.good', 'customer_id', 'ordered_at', 'amount', order_id => 'order_ref') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT status, message FROM hvc.refresh_log WHERE backend_pid = 0;
SELECT count(*) AS customers FROM hvc.customers;
CREATE FUNCTION slow_amount(numeric) RETURNS numeric LANGUAGE sql AS $$ SELECT $1 FROM pg_sleep(0.5) $$;
CREATE VIEW slow AS SELECT customer_id, ordered_at, slow_amount(amount) AS amount FROM good;
SELECT hvc.register_source('public.slow', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
SET statement_timeout = '300ms';
\set ON_ERROR_STOP 0
CALL hvc.refresh(as_of => '2025-07-01');
\set ON_ERROR_STOP 1
RESET statement_timeout;
SELECT status, message FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT count(*) AS customers FROM hvc.customers;
