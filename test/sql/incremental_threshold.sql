-- When an incremental refresh reads the source again in full (issue 10):
-- recomputing a changed customer reads all of its rows through the index, so
-- the limit is counted in the changed customers' stored rows (more than a
-- tenth of the source's rows, and more than 10 000), not in customers: a
-- day of orders from many small or new customers stays incremental, a few
-- changed customers with long histories make the refresh full.
--
-- The shop: 100 big customers (1..100) with 200 rows each = 20 000 rows and
-- 2 000 small ones (1001..3000) with 1 row each: 22 000 rows, 2 100
-- customers; a tenth of the rows is 2 200, so the limit is 10 000 rows.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
DELETE FROM hvc.config;
INSERT INTO hvc.config (model) VALUES ('none');

CREATE TABLE thr_sales (customer_id integer, ordered_at timestamptz, amount numeric);
CREATE INDEX ON thr_sales (customer_id);
INSERT INTO thr_sales
SELECT c, '2024-01-01'::timestamptz + (c * 7 + k) * interval '1 day' / 5, 10 + k % 7
  FROM generate_series(1, 100) c, generate_series(1, 200) k;
INSERT INTO thr_sales
SELECT c, '2024-03-01'::timestamptz + c * interval '1 hour', 20 + c % 5
  FROM generate_series(1001, 3000) c;
SELECT hvc.register_source('thr_sales', 'customer_id', 'ordered_at', 'amount', track_changes => 'trigger') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2024-12-01');
SELECT kind, kind_reason, customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;

-- The refresh after some changes, then a full one of the same data: kind,
-- reason, and the snapshot rows that differ (refresh_id left out).
CREATE FUNCTION thr_refresh() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    k text;
    r text;
    d bigint;
BEGIN
    PERFORM hvc.refresh_now('2024-12-01');
    SELECT l.kind, l.kind_reason INTO k, r FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT 1;
    DROP TABLE IF EXISTS thr_a, thr_b;
    CREATE TEMP TABLE thr_a AS SELECT * FROM hvc.customer_snapshot;
    PERFORM hvc.refresh_now('2024-12-01', true);
    CREATE TEMP TABLE thr_b AS SELECT * FROM hvc.customer_snapshot;
    ALTER TABLE thr_a DROP COLUMN refresh_id;
    ALTER TABLE thr_b DROP COLUMN refresh_id;
    SELECT count(*) INTO d FROM ((TABLE thr_a EXCEPT ALL TABLE thr_b) UNION ALL (TABLE thr_b EXCEPT ALL TABLE thr_a)) x;
    RETURN format('%s (%s): %s rows differ', k, r, d);
END $$;

-- 1. A busy day of small orders: the row of each of the 2 000 small
-- customers corrected (an UPDATE of its time: their keys are recorded, the
-- customers recomputed from the source; an update of amounts alone would be
-- logged as rows, row_log.sql) and one row from each of 1 500 new customers
-- (inserts: logged rows, merged without reading the source): 3 500 changed
-- customers (more than a fifth of the customers), but only 2 000 stored
-- rows to read again: incremental.
UPDATE thr_sales SET ordered_at = ordered_at + interval '1 minute' WHERE customer_id BETWEEN 1001 AND 3000;
INSERT INTO thr_sales SELECT c, '2024-11-30', 5 FROM generate_series(3001, 4500) c;
SELECT thr_refresh();
SELECT count(*) AS customers, sum(orders) AS orders FROM hvc.customer_snapshot;

-- 2. One row deleted for each of 60 big customers: 60 changed customers, but
-- 60 x 200 = 12 000 stored rows (more than 10 000 and a tenth of 23 500):
-- full.
DELETE FROM thr_sales WHERE customer_id <= 60 AND ordered_at = (SELECT min(s.ordered_at) FROM thr_sales s WHERE s.customer_id = thr_sales.customer_id);
SELECT thr_refresh();

-- 3. 40 big customers: 8 000 stored rows, under the limit: incremental.
DELETE FROM thr_sales WHERE customer_id BETWEEN 61 AND 100 AND ordered_at = (SELECT min(s.ordered_at) FROM thr_sales s WHERE s.customer_id = thr_sales.customer_id);
SELECT thr_refresh();

-- 4. Beyond 100 000 rows the tenth decides: 650 more big customers
-- (130 000 logged rows, merged), then one row of each of 100 big customers
-- deleted: 20 000 stored rows, more than a tenth of the 153 400 rows (15 340)
-- but less than a fifth (the limit until stop 27): full.  (Their rows are
-- dated after as_of, skipped: an update of them would keep what they are
-- and be merged, so rows are deleted.)
INSERT INTO thr_sales
SELECT c, '2024-01-01'::timestamptz + (c * 7 + k) * interval '1 day' / 5, 10 + k % 7
  FROM generate_series(5001, 5650) c, generate_series(1, 200) k;
SELECT thr_refresh();
DELETE FROM thr_sales WHERE customer_id BETWEEN 5001 AND 5100 AND ordered_at = (SELECT min(s.ordered_at) FROM thr_sales s WHERE s.customer_id = thr_sales.customer_id);
SELECT thr_refresh();
-- and 70 of them (14 000 rows, under the tenth): incremental
DELETE FROM thr_sales WHERE customer_id BETWEEN 5101 AND 5170 AND ordered_at = (SELECT min(s.ordered_at) FROM thr_sales s WHERE s.customer_id = thr_sales.customer_id);
SELECT thr_refresh();

SELECT hvc.register_source('thr_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DROP TABLE thr_sales;
DROP FUNCTION thr_refresh();
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
