-- A foreign table as the source (issue 10: views and foreign tables work in
-- column mode or with full refreshes).  fs_sales is a file_fdw table over a
-- CSV file that the plain table fs_base is written to (fs_write(); the file
-- in the data directory), so every change is made to fs_base and the file
-- rewritten.
--   1. A full refresh of the foreign table gives the plain table's snapshot.
--   2. Trigger mode is refused (42809: statement triggers need a table).
--   3. In column mode, after inserts (existing and new customers), late rows,
--      amount updates, a row moved to another customer and deletes, an
--      incremental refresh gives the full refresh's snapshot row for row
--      (every column but refresh_id), and refresh_log says what it merged
--      and recomputed; after deletes alone it finds the customers whose row
--      count dropped.
--   4. An incremental refresh says nothing but its own NOTICE: it used to
--      add 'table "_hvc_delta" does not exist, skipping' and the same for
--      "_hvc_merged" (in trigger mode too: a plain table, at the end).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
CREATE EXTENSION IF NOT EXISTS file_fdw;
DELETE FROM hvc.config;
INSERT INTO hvc.config (model) VALUES ('bgnbd');

CREATE TABLE fs_base (
    id          integer PRIMARY KEY,
    customer_id integer,
    ordered_at  timestamptz,
    amount      numeric,
    updated_at  timestamptz
);
-- 30 customers, 400 rows from 2024-01-01 every 21 hours, all changed long ago
INSERT INTO fs_base
SELECT g, 1 + (g * 7) % 30, '2024-01-01'::timestamptz + g * interval '21 hours',
       (g % 17) * 4 + 2, '2020-01-01'
  FROM generate_series(1, 400) g;
CREATE FUNCTION fs_write() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT * FROM fs_base ORDER BY id) TO %L (FORMAT csv)',
                   current_setting('data_directory') || '/hvc_fs_sales.csv');
END $$;
SELECT fs_write();
CREATE SERVER fs_files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE fs_sales (
    id          integer,
    customer_id integer,
    ordered_at  timestamptz,
    amount      numeric,
    updated_at  timestamptz
) SERVER fs_files OPTIONS (filename 'hvc_fs_sales.csv', format 'csv');
ANALYZE fs_sales;

-- a refresh of one source, its snapshot kept (refresh_id left out)
CREATE FUNCTION fs_snap(a timestamptz, into_table text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hvc.refresh_now(a);
    EXECUTE format('DROP TABLE IF EXISTS %I', into_table);
    EXECUTE format('CREATE TEMP TABLE %I AS SELECT * FROM hvc.customer_snapshot', into_table);
    EXECUTE format('ALTER TABLE %I DROP COLUMN refresh_id', into_table);
    RETURN (SELECT format('%s (%s), %s customers', l.kind, l.kind_reason, l.customers)
              FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT 1);
END $$;
-- an incremental refresh, then a full one of the same data: the kind and
-- reason of the first and how many snapshot rows differ (both ways)
CREATE FUNCTION fs_inc_vs_full(a timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    k text;
    r text;
    d bigint;
    n bigint;
BEGIN
    PERFORM hvc.refresh_now(a);
    SELECT l.kind, l.kind_reason INTO k, r FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT 1;
    DROP TABLE IF EXISTS fs_inc, fs_full;
    CREATE TEMP TABLE fs_inc AS SELECT * FROM hvc.customer_snapshot;
    PERFORM hvc.refresh_now(a, true);
    CREATE TEMP TABLE fs_full AS SELECT * FROM hvc.customer_snapshot;
    ALTER TABLE fs_inc DROP COLUMN refresh_id;
    ALTER TABLE fs_full DROP COLUMN refresh_id;
    SELECT count(*) INTO d
      FROM ((TABLE fs_inc EXCEPT ALL TABLE fs_full) UNION ALL (TABLE fs_full EXCEPT ALL TABLE fs_inc)) x;
    SELECT count(*) INTO n FROM fs_full;
    RETURN format('%s (%s): %s customers, %s rows differ', k, r, n, d);
END $$;

-- 1. the plain table and the foreign table over the same rows
SELECT hvc.register_source('fs_base', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
SELECT fs_snap('2024-11-01', 'fs_table_snap');
SELECT hvc.register_source('fs_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
SELECT fs_snap('2024-11-01', 'fs_foreign_snap');
-- (tier_since aside: each refresh after a registration starts the tiers anew)
ALTER TABLE fs_table_snap DROP COLUMN tier_since;
ALTER TABLE fs_foreign_snap DROP COLUMN tier_since;
SELECT count(*) AS customers,
       (SELECT count(*) FROM ((TABLE fs_table_snap EXCEPT ALL TABLE fs_foreign_snap)
                              UNION ALL (TABLE fs_foreign_snap EXCEPT ALL TABLE fs_table_snap)) x) AS rows_differ
  FROM fs_foreign_snap;

-- 2. no triggers on a foreign table
\set VERBOSITY sqlstate
SELECT hvc.register_source('fs_sales', 'customer_id', 'ordered_at', 'amount', track_changes => 'trigger');
\set VERBOSITY default
SELECT relation, track_changes FROM hvc.source;

-- 3. column mode
SELECT hvc.register_source('fs_sales', 'customer_id', 'ordered_at', 'amount',
                           changed_at => 'updated_at', track_changes => 'column') IS NOT NULL AS registered;
SELECT fs_snap('2024-11-01', 'fs_first');
-- a day of changes: 12 new rows of existing customers (4 of them late), 3 of
-- new customers 31-33, customer 5's amounts corrected, one of customer 6's
-- rows moved to customer 7, two of customer 8's rows deleted
INSERT INTO fs_base
SELECT 400 + g, CASE WHEN g <= 12 THEN 10 + g ELSE 18 + g END,
       CASE WHEN g % 3 = 0 THEN '2024-03-01'::timestamptz + g * interval '1 day'
            ELSE '2024-10-30'::timestamptz + g * interval '1 hour' END,
       20 + g, now()
  FROM generate_series(1, 15) g;
UPDATE fs_base SET amount = amount + 1, updated_at = now() WHERE customer_id = 5;
UPDATE fs_base SET customer_id = 7, updated_at = now()
 WHERE id = (SELECT min(id) FROM fs_base WHERE customer_id = 6);
DELETE FROM fs_base WHERE id IN (SELECT id FROM fs_base WHERE customer_id = 8 ORDER BY id LIMIT 2);
SELECT fs_write();
SELECT fs_inc_vs_full('2024-11-01');
-- deletes alone: no changed_at to read, the row counts tell
DELETE FROM fs_base WHERE customer_id IN (9, 10) AND amount > 50;
SELECT fs_write();
SELECT fs_inc_vs_full('2024-11-02');

-- 4. what an incremental refresh says (model none: no fit times in it)
UPDATE hvc.config SET model = 'none';
SELECT hvc.refresh_now('2024-11-02', true) > 0 AS full_refreshed;
INSERT INTO fs_base VALUES (500, 3, '2024-11-01 12:00+00', 99, now());
SELECT fs_write();
SET client_min_messages = notice;
CALL hvc.refresh(as_of => '2024-11-02');
SET client_min_messages = warning;
SELECT kind, kind_reason FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
-- trigger mode on the plain table
SELECT hvc.register_source('fs_base', 'customer_id', 'ordered_at', 'amount', track_changes => 'trigger') IS NOT NULL AS registered;
SELECT hvc.refresh_now('2024-11-02') > 0 AS refreshed;
INSERT INTO fs_base VALUES (501, 4, '2024-11-01 13:00+00', 98, now());
SET client_min_messages = notice;
CALL hvc.refresh(as_of => '2024-11-02');
SET client_min_messages = warning;
SELECT kind, kind_reason FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;

SELECT hvc.register_source('fs_base', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DROP FOREIGN TABLE fs_sales;
DROP SERVER fs_files;
DROP EXTENSION file_fdw;
DROP TABLE fs_base;
DROP FUNCTION fs_write(), fs_snap(timestamptz, text), fs_inc_vs_full(timestamptz);
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
