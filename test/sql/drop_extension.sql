-- DROP EXTENSION hvc and the objects register_source creates at run time
-- (the snapshot, tier history, at-risk memory and the views over them).
-- They are not extension members (pg_dump must dump them with their data)
-- but depend on the extension: DROP EXTENSION hvc refuses, DROP EXTENSION
-- hvc CASCADE drops them all, and CREATE EXTENSION hvc works again.
-- Run last: it drops and recreates the extension.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET timezone = 'UTC';
CREATE TABLE drop_sales (customer_id int, ordered_at date, amount numeric);
INSERT INTO drop_sales VALUES (1, '2025-01-01', 10), (1, '2025-02-01', 20), (2, '2025-01-15', 5);
UPDATE hvc.config SET model = 'none', time_unit = 'day';
SELECT hvc.register_source('public.drop_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-03-01');
CALL hvc.refresh(as_of => '2025-03-02');

-- every run-time object depends on the extension (normal dependency, not a member)
SELECT d.objid::regclass AS object, c.relkind, d.deptype
  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hvc') AND d.deptype = 'n'
 ORDER BY d.objid::regclass::text;
-- no relation of schema hvc is left out (indexes go with their table)
SELECT c.oid::regclass AS unattached
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'hvc'
 WHERE c.relkind NOT IN ('i', 't')
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.refclassid = 'pg_extension'::regclass AND d.deptype IN ('n', 'e'))
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('a', 'i'));
-- attaching again finds nothing to do
SELECT hvc._attach_runtime_objects() AS attached_again;
-- pg_upgrade (like pg_restore) keeps no dependency on an extension: the next
-- refresh puts them back
DELETE FROM pg_depend
 WHERE classid = 'pg_class'::regclass AND refclassid = 'pg_extension'::regclass AND deptype = 'n'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hvc');
CALL hvc.refresh(as_of => '2025-03-02');
SELECT count(*) AS attached
  FROM pg_depend d
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'n'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hvc');

-- the internal function checks what it is given
\set VERBOSITY sqlstate
SELECT hvc._depend_on_extension('public.drop_sales');           -- not in schema hvc: 22023
SELECT hvc._depend_on_extension('hvc.customer_snapshot_customer'); -- an index: 42809
SELECT hvc._depend_on_extension(0);                             -- no such relation: 42P01
SELECT hvc._depend_on_extension('hvc.customer_snapshot') AS added; -- already there: false
\set VERBOSITY terse

-- a user's own view over hvc.customers
CREATE VIEW drop_top AS SELECT customer_id, tier FROM hvc.customers;

-- refused without CASCADE, and nothing is dropped
DROP EXTENSION hvc;
SELECT count(*) AS customers FROM hvc.customers;

DROP EXTENSION hvc CASCADE;
-- nothing of hvc is left in its schema: relations, types, routines
SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'hvc') AS relations,
       (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'hvc') AS types,
       (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'hvc') AS routines;
-- the empty schema stays (PostgreSQL creates it for CREATE EXTENSION but does
-- not make it part of the extension); the user's view went with CASCADE, the
-- sales table stays
SELECT nspname FROM pg_namespace WHERE nspname = 'hvc';
SELECT to_regclass('public.drop_top') AS user_view, to_regclass('public.drop_sales') AS sales;

-- and hvc installs again into the empty schema, with the default settings
CREATE EXTENSION hvc;
SELECT tier, tier_rank, customer_share, high_value, origin FROM hvc.tier_rules ORDER BY tier_rank;
UPDATE hvc.config SET model = 'none', time_unit = 'day';
SELECT hvc.register_source('public.drop_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-03-01');
SELECT customer_id, revenue, tier FROM hvc.customers ORDER BY customer_id;
DROP EXTENSION hvc CASCADE;
DROP SCHEMA hvc;
CREATE EXTENSION hvc;
DROP TABLE drop_sales;
