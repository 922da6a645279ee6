-- Trigger mode's row log (issue 10; sql/parts/63_row_log.sql): inserted rows
-- are copied into hvc.inserted_rows (base types, the inserting transaction's
-- id) and merged into the stored states by the next refresh, which then does
-- not read the source for those customers.  Hand-computed customers: a new
-- line of an existing order adds revenue but no order, a late line moves
-- the first purchase back, a refund line, a new customer and a NULL key;
-- the result equals a full refresh row for row.  Rolled-back inserts and
-- savepoints leave nothing; another table carrying the trigger, and a column
-- whose type changed since registration, record keys only; updates record
-- the keys of the rows whose mapped values changed; forget_customer
-- erases logged rows; registering in column mode drops the log.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
DELETE FROM hvc.config;
INSERT INTO hvc.config (model) VALUES ('none');

CREATE DOMAIN rl_money AS numeric CHECK (VALUE > -1000000);
CREATE TABLE rl_sales (
    id          serial,
    customer_id text,
    ordered_at  timestamptz,
    amount      rl_money,
    margin      numeric(10,2),
    order_no    bigint
);
CREATE INDEX ON rl_sales (customer_id);
-- A: order 1 (two lines, 2024-03-01), order 2 (2024-04-01); B: order 3
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES
    ('A', '2024-03-01 10:00+00', 10, 2, 1),
    ('A', '2024-03-01 10:00+00',  5, 1, 1),
    ('A', '2024-04-01 12:00+00', 20, 4, 2),
    ('B', '2024-05-01 09:00+00',  7, 1, 3);
SELECT hvc.register_source('rl_sales', 'customer_id', 'ordered_at', 'amount',
                           margin => 'margin', order_id => 'order_no', track_changes => 'trigger');
CALL hvc.refresh(as_of => '2024-12-01');
SELECT kind, kind_reason FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;

-- The log's columns: xid8, then the source's mapped columns in base types
-- (the domain rl_money is numeric; numeric(10,2) is numeric: no cast runs).
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
 WHERE a.attrelid = 'hvc.inserted_rows'::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum;

-- A day of inserts, in one statement
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES
    ('A', '2024-04-01 18:00+00',  3, 1, 2),     -- one more line of order 2
    ('A', '2024-02-01 08:00+00',  4, 1, 9),     -- late: a new first purchase
    ('B', '2024-05-03 09:00+00', -7, -1, 3),    -- refund of order 3
    ('C', '2024-11-30 20:00+00', 50, 9, 10),    -- new customer
    (NULL, '2024-11-30 21:00+00', 8, 1, 11);    -- no key
SELECT customer_id, ordered_at, amount, margin, order_id, xid IS NOT NULL AS has_xid
  FROM hvc.inserted_rows ORDER BY customer_id NULLS LAST, ordered_at;
SELECT count(*) AS keys_recorded FROM hvc.changed_customers;

-- One incremental refresh, then a full one of the same data in the same
-- transaction: kind and reason, and how many snapshot rows differ (the
-- incremental refresh's stored states kept in rl_states).
CREATE TEMP TABLE rl_states AS SELECT * FROM hvc.customer_states WITH NO DATA;
CREATE FUNCTION rl_inc_vs_full(a timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    k text;
    r text;
    d bigint;
BEGIN
    PERFORM hvc.refresh_now(a);
    SELECT l.kind, l.kind_reason INTO k, r FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT 1;
    DELETE FROM rl_states;
    INSERT INTO rl_states SELECT * FROM hvc.customer_states;
    DROP TABLE IF EXISTS rl_inc, rl_full;
    CREATE TEMP TABLE rl_inc AS SELECT * FROM hvc.customer_snapshot;
    PERFORM hvc.refresh_now(a, true);
    CREATE TEMP TABLE rl_full AS SELECT * FROM hvc.customer_snapshot;
    ALTER TABLE rl_inc DROP COLUMN refresh_id;
    ALTER TABLE rl_full DROP COLUMN refresh_id;
    SELECT count(*) INTO d
      FROM ((TABLE rl_inc EXCEPT ALL TABLE rl_full) UNION ALL (TABLE rl_full EXCEPT ALL TABLE rl_inc)) x;
    RETURN format('%s (%s): %s rows differ', k, r, d);
END $$;

CALL hvc.refresh(as_of => '2024-12-01');
SELECT kind, kind_reason FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT count(*) AS log_after FROM hvc.inserted_rows;
-- A: orders 1, 2, 9 (the new line of order 2 is no new order), revenue
-- 10+5+20+3+4 = 42, margin 9, first order 2024-02-01; B: 7-7 = 0, one
-- order, one refund; C: new; the NULL key is not a customer of the views.
SELECT customer_id, orders, revenue, margin, first_order_at, last_order_at, refunds, purchase_days
  FROM hvc.customers ORDER BY customer_id;
SELECT rows_read, rows_skipped FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT customer_id, rows, skipped FROM hvc.customer_states ORDER BY customer_id NULLS LAST;

-- A row after as_of is merged as a skipped row: a later as_of recomputes
-- that customer from the source.
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES ('B', '2024-12-05', 6, 1, 12);
SELECT rl_inc_vs_full('2024-12-01');
SELECT customer_id, rows, skipped FROM hvc.customer_states WHERE customer_id = 'B';
SELECT rl_inc_vs_full('2024-12-10');

-- Rolled back inserts leave nothing; a rolled-back savepoint only its rows.
BEGIN;
INSERT INTO rl_sales (customer_id, ordered_at, amount, order_no) VALUES ('D', '2024-11-01', 1, 20);
ROLLBACK;
BEGIN;
INSERT INTO rl_sales (customer_id, ordered_at, amount, order_no) VALUES ('E', '2024-11-01', 2, 21);
SAVEPOINT s;
INSERT INTO rl_sales (customer_id, ordered_at, amount, order_no) VALUES ('F', '2024-11-01', 3, 22);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT customer_id, amount FROM hvc.inserted_rows ORDER BY 1;
-- an insert, an update and a delete before one refresh: the updated and
-- deleted customers are recomputed, the inserted row of E merged.  The NULL
-- key's row is updated too: a touched set holding the NULL key once made the
-- merge's NOT IN condition NULL for every row, and no row was merged.
UPDATE rl_sales SET amount = 30 WHERE customer_id = 'C';
UPDATE rl_sales SET amount = 9 WHERE customer_id IS NULL;
DELETE FROM rl_sales WHERE customer_id = 'A' AND order_no = 9;
SELECT rl_inc_vs_full('2024-12-10');
SELECT customer_id, orders, revenue FROM hvc.customers ORDER BY customer_id;

-- An update of no mapped column still records every updated row's key
-- here: the amount column is a domain (rl_money), which the comparison of
-- old and new rows does not take (incremental.sql: with built-in types it
-- records none).
UPDATE rl_sales SET id = id WHERE customer_id = 'B';
SELECT customer_id, count(*) FROM hvc.changed_customers GROUP BY 1 ORDER BY 1;
SELECT rl_inc_vs_full('2024-12-10');

-- Another table carrying the trigger function: its rows are not the
-- source's, so only its keys are recorded (a harmless recompute).
CREATE TABLE rl_other AS SELECT * FROM rl_sales WITH NO DATA;
CREATE TRIGGER rl_other_insert AFTER INSERT ON rl_other REFERENCING NEW TABLE AS hvc_new
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._record_changes('customer_id');
INSERT INTO rl_other (customer_id, ordered_at, amount, order_no) VALUES ('A', '2024-11-01', 1000, 30);
SELECT count(*) AS logged_rows FROM hvc.inserted_rows;
SELECT customer_id FROM hvc.changed_customers;
SELECT rl_inc_vs_full('2024-12-10');
SELECT customer_id, orders, revenue FROM hvc.customers WHERE customer_id = 'A';

-- A column whose type changed since registration: keys only (the rewrite
-- makes the next refresh full anyway).
ALTER TABLE rl_sales ALTER COLUMN order_no TYPE numeric;
INSERT INTO rl_sales (customer_id, ordered_at, amount, order_no) VALUES ('G', '2024-11-02', 5, 40);
SELECT count(*) AS logged_rows FROM hvc.inserted_rows;
SELECT customer_id FROM hvc.changed_customers;
SELECT hvc.register_source('rl_sales', 'customer_id', 'ordered_at', 'amount',
                           margin => 'margin', order_id => 'order_no', track_changes => 'trigger');
SELECT format_type(a.atttypid, a.atttypmod) AS order_id_type
  FROM pg_attribute a WHERE a.attrelid = 'hvc.inserted_rows'::regclass AND a.attname = 'order_id';
CALL hvc.refresh(as_of => '2024-12-10');

-- With every mapped column of a built-in type (amount no longer the
-- domain), an update of no mapped column logs nothing, and one that changes
-- a text key logs the old row (under the old key) and the new one (under
-- the new key): both customers are recomputed (the comparison of old and
-- new rows ran: no invalidation).
ALTER TABLE rl_sales ALTER COLUMN amount TYPE numeric;
SELECT hvc.register_source('rl_sales', 'customer_id', 'ordered_at', 'amount',
                           margin => 'margin', order_id => 'order_no', track_changes => 'trigger') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2024-12-10');
UPDATE rl_sales SET id = id;
SELECT (SELECT count(*) FROM hvc.changed_customers) AS keys_recorded, (SELECT count(*) FROM hvc.inserted_rows) AS logged_rows;
UPDATE rl_sales SET customer_id = 'e' WHERE customer_id = 'E';
SELECT customer_id, retract, count(*) FROM hvc.inserted_rows GROUP BY 1, 2 ORDER BY 1, 2;
SELECT rl_inc_vs_full('2024-12-10');
SELECT count(*) AS invalidations FROM hvc.state_invalidations;

-- Updates log their changed rows, the old ones retracted, numbered by
-- statement.  Where a statement's old and new rows of a customer hold the
-- same purchase facts (amounts or margins changed: hvc._state_same_shape),
-- the next refresh merges the new rows and takes the old ones out
-- (hvc._state_retract), reading nothing of the source; the stored states
-- and the snapshot equal a full refresh's.
UPDATE rl_sales SET amount = amount * 2 WHERE customer_id = 'A' AND order_no = 2;   -- two lines of one order
UPDATE rl_sales SET margin = NULL WHERE customer_id = 'B' AND amount > 0;            -- a margin gone
UPDATE rl_sales SET amount = amount + 1 WHERE customer_id IS NULL;                   -- rows without a key
UPDATE rl_sales SET amount = 10.00004 WHERE customer_id = 'A' AND order_no = 1 AND amount = 10;
UPDATE rl_sales SET amount = 10.00001 WHERE customer_id = 'A' AND order_no = 1 AND amount = 10.00004;  -- the same 0.0001s
SELECT count(*) AS keys_recorded FROM hvc.changed_customers;
SELECT retract, customer_id, amount, margin, order_id FROM hvc.inserted_rows
 ORDER BY customer_id NULLS LAST, order_id, retract, amount;
CREATE FUNCTION rl_patch_vs_full(a timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text := rl_inc_vs_full(a);
BEGIN
    RETURN format('%s, %s stored states differ', r,
                  (SELECT count(*) FROM ((TABLE rl_states EXCEPT ALL TABLE hvc.customer_states)
                                         UNION ALL (TABLE hvc.customer_states EXCEPT ALL TABLE rl_states)) x));
END $$;
SELECT rl_patch_vs_full('2024-12-10');
SELECT customer_id, revenue, margin, orders FROM hvc.customers ORDER BY customer_id;

-- The rows without a key are stored as their number (hvc._guest_state),
-- after a full refresh too: an update of one and an insert of another
-- before one refresh are counted.  (The update's old row was retracted
-- from that number, which it never fits, and the insert waited for the
-- next refresh with it: rows_read and rows_skipped one short.)
UPDATE rl_sales SET amount = amount + 1 WHERE customer_id IS NULL;
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES (NULL, '2024-11-29', 4, 1, 70);
SELECT rl_patch_vs_full('2024-12-10');
SELECT rows, skipped, hvc._state_rows(state) AS state_rows, hvc._state_skipped(state) AS state_skipped
  FROM hvc.customer_states WHERE customer_id IS NULL;
SELECT kind, rows_read, rows_skipped FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 2;

-- One row updated in three statements, a row inserted and then updated, and
-- in one statement amounts of B, A's first purchase an hour later (the same
-- day, but another first purchase time) and e's row a day later: B's rows
-- are merged, A and e recomputed.
UPDATE rl_sales SET amount = 21 WHERE customer_id = 'A' AND order_no = 2 AND amount = 40;
UPDATE rl_sales SET amount = 22 WHERE customer_id = 'A' AND order_no = 2 AND amount = 21;
UPDATE rl_sales SET amount = 23 WHERE customer_id = 'A' AND order_no = 2 AND amount = 22;
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES ('H', '2024-10-01', 12, 3, 50);
UPDATE rl_sales SET amount = 13 WHERE customer_id = 'H';
SELECT rl_patch_vs_full('2024-12-10');
UPDATE rl_sales SET amount = CASE WHEN customer_id = 'B' THEN amount + 1 ELSE amount END,
                    ordered_at = CASE WHEN customer_id = 'A' AND order_no = 1 THEN ordered_at + interval '1 hour'
                                      WHEN customer_id = 'e' THEN ordered_at + interval '1 day' ELSE ordered_at END
 WHERE customer_id IN ('A', 'B', 'e');
SELECT count(*) AS keys_recorded FROM hvc.changed_customers;
SELECT customer_id, retract, amount, ordered_at, count(DISTINCT stmt) AS statements
  FROM hvc.inserted_rows GROUP BY 1, 2, 3, 4 ORDER BY customer_id, retract, amount, ordered_at;
SELECT rl_patch_vs_full('2024-12-10');

-- A purchase turned refund, and an amount turned NULL (a skipped row),
-- change what the rows are: recomputed.  So is a purchase and its refund
-- updated back and forth within one refresh's changes (per statement, the
-- same facts in the end would not do: each statement is compared).
UPDATE rl_sales SET amount = -amount WHERE customer_id = 'H';
UPDATE rl_sales SET amount = NULL WHERE customer_id = 'G';
UPDATE rl_sales SET amount = -amount WHERE customer_id = 'C';
UPDATE rl_sales SET amount = -amount WHERE customer_id = 'C';
SELECT count(*) AS keys_recorded FROM hvc.changed_customers;
SELECT customer_id, count(*) AS logged_rows FROM hvc.inserted_rows GROUP BY 1 ORDER BY 1;
SELECT rl_patch_vs_full('2024-12-10');

-- A row written around the triggers (a disabled trigger): an update of it
-- retracts a row the stored state never had.  That customer keeps its
-- stored state in this refresh and the next one recomputes it.
ALTER TABLE rl_sales DISABLE TRIGGER USER;
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES ('B', '2024-09-09', 30, 3, 60);
ALTER TABLE rl_sales ENABLE TRIGGER USER;
UPDATE rl_sales SET amount = 31 WHERE customer_id = 'B' AND order_no = 60;
SELECT hvc.refresh_now('2024-12-10') > 0 AS refreshed;
SELECT kind, kind_reason FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT customer_id FROM hvc.changed_customers;
SELECT customer_id, revenue, orders FROM hvc.customers WHERE customer_id = 'B';
SELECT rl_patch_vs_full('2024-12-10');
SELECT customer_id, revenue, orders FROM hvc.customers WHERE customer_id = 'B';

-- hvc._state_retract by hand: A's state with its order 2 lines taken out
-- (as if replaced by lines of the same times and kinds); NULL when the rows
-- cannot be the state's (a day it lacks); malformed states are refused.
SELECT (hvc.customer_state_summary(x.r)).revenue, (hvc.customer_state_summary(x.r)).orders,
       hvc._state_rows(x.r) AS rows
  FROM (SELECT hvc._state_retract(c.state,
                   (SELECT hvc.customer_state(s.ordered_at, s.amount, s.margin, s.order_no, '2024-12-10'::timestamp, 'UTC')
                      FROM rl_sales s WHERE s.customer_id = 'A' AND s.order_no = 2)) AS r
          FROM hvc.customer_states c WHERE c.customer_id = 'A') x;
SELECT hvc._state_retract(c.state, (SELECT hvc.customer_state('2024-01-15'::timestamp, 1::numeric, NULL::numeric, NULL::int, '2024-12-10', 'UTC'))) IS NULL AS lacks_the_day
  FROM hvc.customer_states c WHERE c.customer_id = 'A';
-- hvc._state_same_shape: amounts differ, facts the same; a refund, NULL
-- amount, another day or another order is another shape
WITH r(at, amount, o) AS (VALUES ('2024-03-01 10:00'::timestamp, 10::numeric, 1), ('2024-03-01 11:00', 5, 1)),
st AS (SELECT (SELECT hvc.customer_state(at, amount, NULL::numeric, o, '2024-12-10', 'UTC') FROM r) AS base,
              (SELECT hvc.customer_state(at, amount * 3, NULL::numeric, o, '2024-12-10', 'UTC') FROM r) AS tripled,
              (SELECT hvc.customer_state(at, CASE WHEN amount = 5 THEN -5 ELSE amount END, NULL::numeric, o, '2024-12-10', 'UTC') FROM r) AS refund,
              (SELECT hvc.customer_state(at, CASE WHEN amount = 5 THEN NULL ELSE amount END, NULL::numeric, o, '2024-12-10', 'UTC') FROM r) AS skipped,
              (SELECT hvc.customer_state(at + interval '1 day', amount, NULL::numeric, o, '2024-12-10', 'UTC') FROM r) AS next_day,
              (SELECT hvc.customer_state(at, amount, NULL::numeric, o + 1, '2024-12-10', 'UTC') FROM r) AS other_order)
SELECT hvc._state_same_shape(base, tripled) AS tripled, hvc._state_same_shape(base, refund) AS refund,
       hvc._state_same_shape(base, skipped) AS skipped, hvc._state_same_shape(base, next_day) AS next_day,
       hvc._state_same_shape(base, other_order) AS other_order
  FROM st;
\set VERBOSITY sqlstate
SELECT hvc._state_retract('\x00'::bytea, (SELECT state FROM hvc.customer_states WHERE customer_id = 'A'));
SELECT hvc._state_retract((SELECT state FROM hvc.customer_states WHERE customer_id = 'A'), '\x0102'::bytea);
SELECT hvc._state_same_shape((SELECT state FROM hvc.customer_states WHERE customer_id = 'A'), '\x02'::bytea);
\set VERBOSITY default
DROP FUNCTION rl_patch_vs_full(timestamptz);

-- forget_customer erases the customer's logged rows too.
INSERT INTO rl_sales (customer_id, ordered_at, amount, order_no) VALUES ('C', '2024-11-03', 5, 41), ('E', '2024-11-03', 5, 42);
SELECT hvc.forget_customer('C'::text) > 0 AS forgot;
SELECT customer_id FROM hvc.inserted_rows ORDER BY 1;
SELECT rl_inc_vs_full('2024-12-10');

-- hvc._state_merge validates both states.
\set VERBOSITY sqlstate
SELECT hvc._state_merge('\x00'::bytea, (SELECT state FROM hvc.customer_states WHERE customer_id = 'A'));
SELECT hvc._state_merge((SELECT state FROM hvc.customer_states WHERE customer_id = 'A'), '\x0102'::bytea);
\set VERBOSITY default
-- merging a state with itself doubles the counters and keeps the sets
SELECT (hvc.customer_state_summary(s)).orders, (hvc.customer_state_summary(s)).revenue,
       (hvc.customer_state_summary(hvc._state_merge(s, s))).orders AS merged_orders,
       (hvc.customer_state_summary(hvc._state_merge(s, s))).revenue AS merged_revenue
  FROM (SELECT state AS s FROM hvc.customer_states WHERE customer_id = 'A') x;

-- The triggers plan their logging statements once a session and keep them
-- while the registration and the row log stand (src/change_trigger.c).  An
-- edit of hvc.source by hand (not through register_source: margin unmapped,
-- so the log's columns no longer match the registration) is seen at the
-- next statement: its keys are recorded instead of a copy of its rows.
CALL hvc.refresh(as_of => '2024-12-10');
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES ('A', '2024-11-03', 4, 1, 41);
SELECT count(*) AS logged_rows, (SELECT count(*) FROM hvc.changed_customers) AS keys FROM hvc.inserted_rows;
UPDATE hvc.source SET margin = NULL;
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES ('B', '2024-11-03', 4, 1, 42);
SELECT count(*) AS logged_rows, (SELECT string_agg(customer_id, ',') FROM hvc.changed_customers) AS keys FROM hvc.inserted_rows;
SELECT hvc.register_source('rl_sales', 'customer_id', 'ordered_at', 'amount',
                           margin => 'margin', order_id => 'order_no', track_changes => 'trigger') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2024-12-10');
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES ('B', '2024-11-04', 4, 1, 43);
SELECT count(*) AS logged_rows, (SELECT count(*) FROM hvc.changed_customers) AS keys FROM hvc.inserted_rows;
SELECT rl_inc_vs_full('2024-12-10');
-- A copy that fails for a reason of hvc's (here a constraint added to the
-- log) does not fail the write: the next refresh is full instead.  With
-- the constraint gone the kept statement serves again.
ALTER TABLE hvc.inserted_rows ADD CONSTRAINT rl_no_rows CHECK (false);
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES ('D', '2024-11-04', 4, 1, 44);
SELECT count(*) AS rows_written FROM rl_sales WHERE order_no = 44;
SELECT reason FROM hvc.state_invalidations;
ALTER TABLE hvc.inserted_rows DROP CONSTRAINT rl_no_rows;
INSERT INTO rl_sales (customer_id, ordered_at, amount, margin, order_no) VALUES ('D', '2024-11-05', 4, 1, 45);
SELECT count(*) AS logged_rows FROM hvc.inserted_rows;
CALL hvc.refresh(as_of => '2024-12-10');
SELECT kind, kind_reason FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT customer_id, orders, revenue FROM hvc.customers WHERE customer_id IN ('A', 'B', 'D') ORDER BY 1;
-- only as a statement trigger that runs after the statement
CREATE TRIGGER rl_row AFTER INSERT ON rl_other FOR EACH ROW EXECUTE FUNCTION hvc._record_changes('customer_id');
\set VERBOSITY sqlstate
INSERT INTO rl_other (customer_id, ordered_at, amount, order_no) VALUES ('A', '2024-11-01', 1, 50);
\set VERBOSITY default
DROP TRIGGER rl_row ON rl_other;

-- Registering in column mode drops the log and the triggers.
ALTER TABLE rl_sales ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
SELECT hvc.register_source('rl_sales', 'customer_id', 'ordered_at', 'amount',
                           changed_at => 'updated_at', track_changes => 'column');
SELECT to_regclass('hvc.inserted_rows') AS row_log,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'rl_sales'::regclass AND tgname LIKE 'hvc_track_%') AS triggers;

DROP TABLE rl_other;
SELECT hvc.register_source('rl_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DROP TABLE rl_sales;
DROP DOMAIN rl_money;
DROP FUNCTION rl_inc_vs_full(timestamptz);
DROP TABLE rl_states;
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
