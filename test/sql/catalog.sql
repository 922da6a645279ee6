-- The installed surface: every view column a BI tool reads is a BI-safe
-- scalar (int/bigint, numeric(p<=28,s), float8, text, date, timestamptz,
-- boolean; customer_id takes the source column's type), and every
-- user-visible object and view column has a COMMENT.
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
CREATE TABLE cat_sales (customer_id bigint, ordered_at date, amount numeric);
SELECT hvc.register_source('public.cat_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;

-- view columns whose type is not BI-safe
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'hvc'
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind = 'v'
   AND NOT (a.atttypid IN ('int4'::regtype, 'int8'::regtype, 'float8'::regtype, 'text'::regtype,
                           'date'::regtype, 'timestamptz'::regtype, 'bool'::regtype)
            OR (a.atttypid = 'numeric'::regtype AND a.atttypmod > 0
                AND ((a.atttypmod - 4) >> 16) <= 28)
            OR a.attname = 'customer_id')
 ORDER BY 1, 2;

-- the views BI tools read, and how many columns each has
SELECT c.relname AS view, count(*) AS columns
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'hvc'
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relkind = 'v' GROUP BY 1 ORDER BY 1;

-- objects without a comment (tables, views, types, functions, columns of views and tables)
SELECT 'relation' AS kind, c.relname::text AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'hvc'
 WHERE c.relkind IN ('r', 'v', 'm', 'p') AND obj_description(c.oid, 'pg_class') IS NULL
UNION ALL
SELECT 'column', c.relname || '.' || a.attname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'hvc'
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'v') AND c.relname NOT IN ('customer_snapshot', 'tier_history')
   AND col_description(c.oid, a.attnum) IS NULL
UNION ALL
SELECT 'function', p.oid::regprocedure::text
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'hvc'
 WHERE obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT 'type', t.typname::text
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = 'hvc'
 WHERE t.typtype = 'c' AND t.typrelid NOT IN (SELECT oid FROM pg_class WHERE relkind <> 'c')
   AND obj_description(t.oid, 'pg_type') IS NULL
 ORDER BY 1, 2;

-- every function has a fixed search_path, except C functions, the refresh
-- procedure (a procedure with SET cannot COMMIT) and register_source(text, ...)
-- (it resolves the table name with the caller's search_path); both only call
-- schema-qualified functions that do fix it
SELECT p.oid::regprocedure AS without_search_path
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'hvc'
  JOIN pg_language l ON l.oid = p.prolang
 WHERE l.lanname <> 'c' AND p.prokind <> 'a'
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
 ORDER BY 1;

-- aggregates are parallel safe with combine/serialize/deserialize
SELECT a.aggfnoid::regprocedure AS aggregate, p.proparallel,
       a.aggcombinefn <> 0 AS has_combine, a.aggserialfn <> 0 AS has_serialize,
       a.aggdeserialfn <> 0 AS has_deserialize
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
  JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'hvc'
 ORDER BY 1;

-- Privileges (sql/parts/90_privileges.sql).  Exactly these routines are
-- executable by PUBLIC: the building blocks and the entry points that run
-- with their caller's rights.  hvc.priority and hvc.refresh_status (SECURITY
-- DEFINER: they show data to roles without table privileges) are granted by
-- the DBA, and no internal routine (hvc._*) is executable by PUBLIC.
SELECT p.oid::regprocedure AS executable_by_public
  FROM pg_proc p
 WHERE p.pronamespace = 'hvc'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.oid::regprocedure::text;
SELECT count(*) AS internal_executable_by_public
  FROM pg_proc p
 WHERE p.pronamespace = 'hvc'::regnamespace AND p.proname LIKE '\_%'
   AND has_function_privilege('public', p.oid, 'EXECUTE');
-- The SECURITY DEFINER routines (each reviewed: no caller-defined code runs
-- in them) and who besides their owner may run them.
SELECT p.oid::regprocedure AS security_definer, has_function_privilege('public', p.oid, 'EXECUTE') AS public
  FROM pg_proc p
 WHERE p.pronamespace = 'hvc'::regnamespace AND p.prosecdef
 ORDER BY p.oid::regprocedure::text;
-- Not a trusted extension: only a superuser may create it (test/sql/security.sql).
SELECT DISTINCT trusted, superuser FROM pg_available_extension_versions WHERE name = 'hvc';
