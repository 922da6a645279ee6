-- Incremental refresh (issue 10): after inserts, late inserts, updates
-- (amount, customer key), deletes, NULL keys, a moving as_of, a TRUNCATE and
-- a re-registration, an incremental refresh gives the same customer_snapshot
-- (every column but refresh_id) as a full refresh of the same data, in
-- 'column' and in 'trigger' mode; hvc.refresh_log says which kind ran and
-- why.  Bad values of the new register_source parameters fail with clear
-- SQLSTATEs and change nothing.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
DELETE FROM hvc.config;
INSERT INTO hvc.config (model) VALUES ('bgnbd');

CREATE TABLE inc_sales (
    id          serial PRIMARY KEY,
    customer_id integer,
    ordered_at  timestamptz,
    amount      numeric,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON inc_sales (customer_id);
CREATE INDEX ON inc_sales (updated_at);
-- 40 customers, 600 rows from 2024-01-01 every 19 hours (the last ones after
-- the first as_of), all changed long ago
CREATE FUNCTION inc_load() RETURNS void LANGUAGE sql AS $$
    INSERT INTO inc_sales (customer_id, ordered_at, amount, updated_at)
    SELECT 1 + (g * 7) % 40, '2024-01-01'::timestamptz + g * interval '19 hours',
           (g % 23) * 3 + 1, '2020-01-01'
      FROM generate_series(1, 600) g
$$;
SELECT inc_load();

-- One incremental refresh, then a full one of the same data in the same
-- transaction: the kind and reason of the incremental one, and how many
-- snapshot rows differ (both ways; refresh_id left out).
CREATE FUNCTION inc_vs_full(a timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    k text;
    r text;
    d bigint;
    n bigint;
BEGIN
    PERFORM hvc.refresh_now(a);
    SELECT l.kind, l.kind_reason INTO k, r FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT 1;
    DROP TABLE IF EXISTS inc_snap, full_snap;
    CREATE TEMP TABLE inc_snap AS SELECT * FROM hvc.customer_snapshot;
    PERFORM hvc.refresh_now(a, true);
    CREATE TEMP TABLE full_snap AS SELECT * FROM hvc.customer_snapshot;
    ALTER TABLE inc_snap DROP COLUMN refresh_id;
    ALTER TABLE full_snap DROP COLUMN refresh_id;
    SELECT count(*) INTO d
      FROM ((TABLE inc_snap EXCEPT ALL TABLE full_snap) UNION ALL (TABLE full_snap EXCEPT ALL TABLE inc_snap)) x;
    SELECT count(*) INTO n FROM full_snap;
    RETURN format('%s (%s): %s customers, %s rows differ', k, r, n, d);
END $$;

-- ===== column mode =====
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount',
                           changed_at => 'updated_at', track_changes => 'column');
SELECT track_changes, changed_at, product FROM hvc.source;
CALL hvc.refresh(as_of => '2024-12-01');
SELECT kind, kind_reason FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
-- nothing changed: nobody is recomputed
SELECT inc_vs_full('2024-12-01');
-- The stored states' keys are looked up through a hash index (a btree
-- entry would refuse keys over ~2.7 kB, which the states keep); the keyless
-- row through a partial index.  The full refresh analyzes the states, so
-- the planner knows each key is one row.
SELECT c.relname, am.amname, pg_get_expr(i.indpred, i.indrelid) AS partial
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
 WHERE i.indrelid = 'hvc.customer_states'::regclass ORDER BY 1;
SELECT s.n_distinct FROM pg_stats s
 WHERE s.schemaname = 'hvc' AND s.tablename = 'customer_states' AND s.attname = 'customer_id';
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT sum(c.rows) FROM hvc.customer_states c WHERE c.customer_id IN (3, 5);
EXPLAIN (COSTS OFF) SELECT sum(c.rows) FROM hvc.customer_states c WHERE c.customer_id IS NULL;
RESET enable_seqscan;
-- inserts: an existing customer, a new one; a late row (ordered_at in the past)
INSERT INTO inc_sales (customer_id, ordered_at, amount) VALUES
    (3, '2024-11-20', 100), (41, '2024-11-25', 55.5), (5, '2024-01-02', 7);
SELECT inc_vs_full('2024-12-01');
SELECT customer_id, orders, revenue, first_order_at FROM hvc.customer_snapshot WHERE customer_id IN (5, 41) ORDER BY 1;
-- updates: an amount; a row moving from customer 7 to customer 8
UPDATE inc_sales SET amount = amount + 1000, updated_at = now() WHERE id = 10;
UPDATE inc_sales SET customer_id = 8, updated_at = now() WHERE id = (SELECT min(id) FROM inc_sales WHERE customer_id = 7);
SELECT inc_vs_full('2024-12-01');
-- deletes leave no changed_at: found by the row count check
DELETE FROM inc_sales WHERE id IN (SELECT id FROM inc_sales WHERE customer_id = 9 ORDER BY id LIMIT 2);
DELETE FROM inc_sales WHERE customer_id = 11;
SELECT inc_vs_full('2024-12-01');
SELECT count(*) AS customer_11 FROM hvc.customer_snapshot WHERE customer_id = 11;
-- Column mode merges a customer's changed rows into its stored state only
-- when its row count grew by exactly their number, counted in the same
-- statement (hvc._column_delta).  The rows changed in the steps above are
-- still within the watermark's 5-minute margin (read again: their
-- customers are recomputed); customer 13 gets a new row and loses an old
-- one (its count stays: recomputed); customer 14 only gets two new rows
-- (merged); customer 15 one new row whose amount is then corrected
-- (merged: still one new row).
INSERT INTO inc_sales (customer_id, ordered_at, amount) VALUES
    (13, '2024-11-21', 42), (14, '2024-11-22', 10), (14, '2024-11-23', 11), (15, '2024-11-24', 12);
DELETE FROM inc_sales WHERE id = (SELECT min(id) FROM inc_sales WHERE customer_id = 13);
UPDATE inc_sales SET amount = 13, updated_at = now() WHERE customer_id = 15 AND ordered_at = '2024-11-24';
SELECT inc_vs_full('2024-12-01');
-- NULL keys form a group of their own (skipped rows)
INSERT INTO inc_sales (customer_id, ordered_at, amount) VALUES (NULL, '2024-06-01', 5);
SELECT inc_vs_full('2024-12-01');
SELECT rows_read, rows_skipped FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
-- a guest row updated: the rows without a key are recomputed from their
-- number (hvc._guest_state: 1 row, skipped), not aggregated; the rows read
-- and skipped equal the full refresh's
UPDATE inc_sales SET amount = amount + 1, updated_at = now() WHERE customer_id IS NULL;
CALL hvc.refresh(as_of => '2024-12-01');
SELECT kind, kind_reason, rows_read, rows_skipped FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
-- an incremental stage's timings name its two parts (hvc.refresh_log.timings)
SELECT timings ~ '^stage \d+\.\d{3} s \(changes \d+\.\d{3} s, recompute \d+\.\d{3} s, merge \d+\.\d{3} s\), fits \d+\.\d{3} s, ' AS incremental_timings
  FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT hvc._state_rows(state) AS guest_rows, hvc._state_skipped(state) AS guest_skipped
  FROM hvc.customer_states WHERE customer_id IS NULL;
CALL hvc.refresh(as_of => '2024-12-01', "full" => true);
SELECT kind, rows_read, rows_skipped FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT hvc._state_rows(hvc._guest_state(7)) AS rows, hvc._state_skipped(hvc._guest_state(7)) AS skipped,
       hvc._state_rows(hvc._state_merge(hvc._guest_state(3), hvc._guest_state(4))) AS merged_rows;
\set VERBOSITY sqlstate
SELECT hvc._guest_state(-1);
\set VERBOSITY default
-- as_of moves forward past rows that were in the future
SELECT inc_vs_full('2024-12-20');
-- as_of moves back: full
SELECT inc_vs_full('2024-12-10');
-- a timezone change: full
UPDATE hvc.config SET timezone = 'America/New_York';
SELECT inc_vs_full('2024-12-10');
-- TRUNCATE and a reload whose rows keep old changed_at values: the storage
-- file changed, so the refresh is full
TRUNCATE inc_sales;
SELECT inc_load();
UPDATE inc_sales SET updated_at = now() WHERE id % 100 = 0;
SELECT inc_vs_full('2024-12-10');
-- hvc.forget_customer: the next refresh is full
SELECT hvc.forget_customer(12) > 0 AS forgotten;
SELECT inc_vs_full('2024-12-10');
-- stored states of another format (as if written by a release with format 1):
-- full, and every state is written again in this release's format 3
UPDATE hvc.state_info SET format_version = 1;
SELECT inc_vs_full('2024-12-10');
SELECT count(*) > 0 AND bool_and(get_byte(state, 0) = 3) AS all_format_3 FROM hvc.customer_states;
-- the full argument
CALL hvc.refresh(as_of => '2024-12-10', "full" => true);
SELECT kind, kind_reason, full_requested FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;

-- ===== trigger mode =====
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', track_changes => 'trigger');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'inc_sales'::regclass ORDER BY 1;
CALL hvc.refresh(as_of => '2024-12-01');
SELECT kind, kind_reason FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT inc_vs_full('2024-12-01');
INSERT INTO inc_sales (customer_id, ordered_at, amount) VALUES
    (3, '2024-11-20', 100), (42, '2024-11-25', 55.5), (5, '2024-01-02', 7), (NULL, '2024-02-02', 1);
SELECT customer_id, count(*) FROM hvc.changed_customers GROUP BY 1 ORDER BY 1;
SELECT inc_vs_full('2024-12-01');
SELECT count(*) AS change_log_after FROM hvc.changed_customers;
UPDATE inc_sales SET amount = amount + 1000 WHERE id = (SELECT max(id) FROM inc_sales WHERE customer_id = 13);
UPDATE inc_sales SET customer_id = 15 WHERE id = (SELECT min(id) FROM inc_sales WHERE customer_id = 14);
DELETE FROM inc_sales WHERE customer_id = 16;
SELECT inc_vs_full('2024-12-01');
-- updates that leave the mapped columns (customer, ordered_at, amount) as
-- they were log nothing: a status column (updated_at is not mapped in
-- trigger mode), an amount set to itself; one that changes a mapped value
-- logs its changed rows only (old and new), and only that customer is
-- recomputed when a time moves to another day (amounts alone are merged:
-- row_log.sql)
UPDATE inc_sales SET updated_at = now() WHERE customer_id IN (20, 21);
UPDATE inc_sales SET amount = amount WHERE customer_id = 23;
SELECT (SELECT count(*) FROM hvc.changed_customers) AS keys, (SELECT count(*) FROM hvc.inserted_rows) AS logged_rows;
UPDATE inc_sales SET ordered_at = ordered_at + interval '1 day', updated_at = now()
 WHERE id = (SELECT min(id) FROM inc_sales WHERE customer_id = 22) OR customer_id = 24;
SELECT customer_id, count(*) FROM hvc.inserted_rows GROUP BY 1 ORDER BY 1;
SELECT inc_vs_full('2024-12-01');
-- a writer with no privilege on schema hvc: the trigger still records
CREATE ROLE inc_writer;
GRANT INSERT, UPDATE, DELETE, SELECT ON inc_sales TO inc_writer;
GRANT USAGE ON SEQUENCE inc_sales_id_seq TO inc_writer;
SET ROLE inc_writer;
INSERT INTO inc_sales (customer_id, ordered_at, amount) VALUES (17, '2024-11-30', 12);
DELETE FROM inc_sales WHERE customer_id = 18;
RESET ROLE;
SELECT customer_id FROM hvc.changed_customers ORDER BY 1;
SELECT inc_vs_full('2024-12-20');
-- the change log is missing: the write still succeeds, the next refresh is full
ALTER TABLE hvc.changed_customers RENAME TO changed_customers_away;
INSERT INTO inc_sales (customer_id, ordered_at, amount) VALUES (19, '2024-11-30', 1);
ALTER TABLE hvc.changed_customers_away RENAME TO changed_customers;
SELECT count(*) AS change_log FROM hvc.changed_customers;
SELECT inc_vs_full('2024-12-20');
-- TRUNCATE: full
TRUNCATE inc_sales;
SELECT inc_load();
SELECT inc_vs_full('2024-12-20');
-- re-registration: full
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', track_changes => 'trigger');
SELECT inc_vs_full('2024-12-20');
-- back to none: the triggers go, every refresh is full
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'inc_sales'::regclass AND NOT tgisinternal;
SELECT inc_vs_full('2024-12-20');

-- ===== bad inputs: clear errors, nothing changed =====
\set VERBOSITY sqlstate
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', track_changes => 'sometimes');
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', track_changes => NULL);
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', track_changes => 'column');
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', changed_at => 'updated_at');
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', changed_at => 'nope', track_changes => 'column');
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', changed_at => 'amount', track_changes => 'column');
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', product => 'sku');
CREATE VIEW inc_view AS SELECT * FROM inc_sales;
SELECT hvc.register_source('inc_view', 'customer_id', 'ordered_at', 'amount', track_changes => 'trigger');
CREATE ROLE inc_other;
GRANT SELECT ON inc_sales TO inc_other;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA hvc TO inc_other;
SET ROLE inc_other;
SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount', track_changes => 'trigger');
RESET ROLE;
\set VERBOSITY default
SELECT relation, track_changes, changed_at, product FROM hvc.source;
-- a view in column mode is fine; a table without the indexes gets NOTICEs
SET client_min_messages = notice;
SELECT hvc.register_source('inc_view', 'customer_id', 'ordered_at', 'amount',
                           changed_at => 'updated_at', track_changes => 'column') IS NOT NULL AS registered;
CREATE TABLE inc_bare (c integer, t date, a numeric, u timestamptz);
SELECT hvc.register_source('inc_bare', 'c', 't', 'a', changed_at => 'u', track_changes => 'column') IS NOT NULL AS registered;
SELECT hvc.register_source('inc_bare', 'c', 't', 'a', product => 'c') IS NOT NULL AS registered;
SELECT product FROM hvc.source;
RESET client_min_messages;

-- An incremental refresh reads the stored states through a temporary view
-- (no copy): a key too long for a btree entry (3008 bytes that do not
-- compress; the states keep it, their key index is a hash) is left out of
-- it and counted as skipped, as a full refresh does; the view is gone after
-- the refresh.
SET client_min_messages = warning;
CREATE TABLE inc_long (customer_id text, ordered_at date, amount numeric);
INSERT INTO inc_long
SELECT k, d, 10
  FROM (VALUES ((SELECT string_agg(md5(i::text), '') FROM generate_series(1, 94) i)), ('short'), ('other')) keys(k),
       (VALUES (date '2025-01-10'), (date '2025-02-10')) days(d);
SELECT hvc.register_source('inc_long', 'customer_id', 'ordered_at', 'amount', track_changes => 'trigger') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
INSERT INTO inc_long VALUES ((SELECT string_agg(md5(i::text), '') FROM generate_series(1, 94) i), '2025-06-01', 4),
                            ('short', '2025-06-02', 6);
SELECT inc_vs_full('2025-07-01');
SELECT kind, rows_read, rows_skipped, customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 2;
SELECT to_regclass('pg_temp._hvc_stage') AS stage_left;
SELECT count(*) AS stored_states, max(length(customer_id)) AS longest_stored_key FROM hvc.customer_states;
RESET client_min_messages;
\set VERBOSITY sqlstate
SELECT hvc._stage_view('alter');
SELECT hvc._stage_view('create', NULL);
SELECT hvc._stage_view(NULL);
-- the steps of hvc._stage check their arguments and that a refresh is running
SELECT hvc._skip_big_keys('partial', 'text');
SELECT hvc._skip_big_keys(NULL, 'text');
SELECT hvc._skip_big_keys('full', 'text');
SELECT hvc._stage_full(NULL, NULL, NULL, NULL);
SELECT hvc._stage_incremental(NULL, NULL, NULL, NULL, 0, 0, 0);
SELECT hvc._stage_incremental((SELECT s FROM hvc.source s), '2025-01-01', 'UTC', pg_current_snapshot(), 0, 0, 0);
SELECT hvc._store_state_info(NULL, NULL, NULL, NULL, NULL);
\set VERBOSITY default

SELECT hvc.register_source('inc_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DROP VIEW inc_view;
DROP TABLE inc_sales, inc_bare, inc_long;
DROP FUNCTION inc_vs_full(timestamptz), inc_load();
REVOKE ALL ON ALL ROUTINES IN SCHEMA hvc FROM inc_other;
DROP ROLE inc_writer, inc_other;
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
