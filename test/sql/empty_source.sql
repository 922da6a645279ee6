-- A refresh whose source has no customer any more (emptied, or every row
-- after the as_of moment) replaces a non-empty snapshot with an empty one.
-- It used to fail with "invalid typLen: 0" (XX000) and keep the stale
-- snapshot: the old snapshot's keys were copied with the key type of the
-- stage, which was taken from its first row (none when empty); the stage's
-- key type now comes from its column.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
CREATE TEMP TABLE es_saved_config AS SELECT * FROM hvc.config;
CREATE TABLE es_sales (customer text, ordered_at date, amount numeric(10,2));
INSERT INTO es_sales VALUES ('ann', '2020-01-01', 10), ('bob', '2020-01-02', 5), ('ann', '2020-02-01', 7);
SELECT hvc.register_source('public.es_sales', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
UPDATE hvc.config SET model = 'none', timezone = 'UTC';
CALL hvc.refresh(as_of => '2020-03-01');
SELECT customer_id, orders, revenue, tier FROM hvc.customers ORDER BY 1;

-- the source is emptied: the snapshot becomes empty
DELETE FROM es_sales;
CALL hvc.refresh(as_of => '2020-03-01');
SELECT status, rows_read, rows_skipped, customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT count(*) AS customers FROM hvc.customers;

-- every row is after the as_of moment: read, skipped, and no customer
INSERT INTO es_sales VALUES ('ann', '2020-01-01', 10), ('bob', '2020-01-02', 5);
CALL hvc.refresh(as_of => '2020-03-01');
SELECT status, customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
CALL hvc.refresh(as_of => '2019-12-31');
SELECT status, rows_read, rows_skipped, customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT count(*) AS customers FROM hvc.customers;

-- and customers again after that: every one is new to the snapshot
CALL hvc.refresh(as_of => '2020-03-01');
SELECT customer_id, orders, revenue, previous_tier FROM hvc.customers ORDER BY 1;

UPDATE hvc.config c SET model = s.model, timezone = s.timezone FROM es_saved_config s;
