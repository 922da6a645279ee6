-- The refresh from any client, and who can interfere with it:
--  * CALL hvc.refresh() is immune to a caller's search_path that puts a
--    schema an attacker can write before pg_catalog (issue 7, item 4);
--  * only roles with UPDATE on hvc.refresh_lock can take the refresh lock
--    (item 7; the waiting itself is in the isolation test refresh_lock);
--  * hvc.refresh_now() runs in the caller's transaction: commit keeps it,
--    rollback leaves no trace; CALL inside a transaction block or a
--    multi-statement string fails with a hint naming both (item 11).
-- a fresh extension (refresh ids from 1; objects of earlier tests that use
-- hvc types go with the old one)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS hvc CASCADE;
CREATE EXTENSION hvc;
RESET client_min_messages;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set SHOW_CONTEXT never
\set VERBOSITY default
SET client_min_messages = warning;
UPDATE hvc.config SET model = 'none', time_unit = 'day';

CREATE TABLE sec_sales (customer_id int, ordered_at date, amount numeric);
INSERT INTO sec_sales VALUES (1, '2025-01-10', 100), (1, '2025-03-10', 50),
                             (2, '2025-06-25', 30), (3, '2025-02-01', 200);
SELECT hvc.register_source('public.sec_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;

-- 1. A booby-trapped public schema: a domain named text and operators named
-- = that log every use.  A caller with search_path = public, pg_catalog
-- resolves "text" and "=" to them.
CREATE TABLE public.pwned (what pg_catalog.text);
CREATE FUNCTION public.pwn_check(v pg_catalog.text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.pwned VALUES ('text domain'); RETURN true; END $$;
CREATE DOMAIN public.text AS pg_catalog.text CHECK (public.pwn_check(VALUE));
CREATE FUNCTION public.pwn_eq_text(a pg_catalog.text, b pg_catalog.text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.pwned VALUES ('= text'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR public.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = public.pwn_eq_text);
CREATE FUNCTION public.pwn_eq_int8(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.pwned VALUES ('= bigint'); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.pwn_eq_int8);

SET search_path = public, pg_catalog;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT hvc.refresh_now(as_of => '2025-07-01') > 0 AS refreshed;
RESET search_path;
-- a failing refresh goes through the error path of the procedure too
UPDATE hvc.tier_rules SET customer_share = 0.9 WHERE tier = 'low';
SET search_path = public, pg_catalog;
CALL hvc.refresh(as_of => '2025-07-01');
RESET search_path;
UPDATE hvc.tier_rules SET customer_share = 1 WHERE tier = 'low';
-- nothing of the attacker's ran
SELECT what, count(*) AS attacker_calls FROM public.pwned GROUP BY what ORDER BY what;
SELECT status, count(*) FROM hvc.refresh_log GROUP BY status ORDER BY status;
DROP DOMAIN public.text;
DROP OPERATOR public.= (pg_catalog.text, pg_catalog.text);
DROP OPERATOR public.= (bigint, bigint);
DROP FUNCTION public.pwn_check, public.pwn_eq_text, public.pwn_eq_int8;
DROP TABLE public.pwned;

-- 2. The refresh lock is a row lock on hvc.refresh_lock: a role without
-- UPDATE on it cannot take it (an advisory lock anyone could take is gone).
DROP ROLE IF EXISTS regress_hvc_intruder;
CREATE ROLE regress_hvc_intruder;
GRANT USAGE ON SCHEMA hvc TO regress_hvc_intruder;
GRANT SELECT ON hvc.refresh_lock TO regress_hvc_intruder;
SET ROLE regress_hvc_intruder;
\set VERBOSITY sqlstate
SELECT * FROM hvc.refresh_lock FOR UPDATE;
SELECT * FROM hvc.refresh_lock FOR KEY SHARE;
BEGIN;
LOCK TABLE hvc.refresh_lock IN EXCLUSIVE MODE;
ROLLBACK;
\set VERBOSITY default
RESET ROLE;
REVOKE ALL ON hvc.refresh_lock FROM regress_hvc_intruder;
REVOKE ALL ON SCHEMA hvc FROM regress_hvc_intruder;
DROP ROLE regress_hvc_intruder;
-- the advisory lock of 0.1.0 does not block anything any more
SELECT pg_advisory_lock(hashtext('hvc.refresh')) IS NOT NULL AS taken;
SELECT prosrc LIKE '%advisory%' AS build_uses_advisory_lock
  FROM pg_proc WHERE oid = 'hvc._refresh_build(bigint)'::regprocedure;
SELECT pg_advisory_unlock(hashtext('hvc.refresh'));

-- 3. CALL inside a transaction block, or in a multi-statement string (psql
-- sends "a \; b" as one string, as drivers and job runners do): an error
-- whose hint names autocommit, multi-statement strings and refresh_now; the
-- UPDATE sent with it is rolled back, and said so.
SELECT max(refresh_id) AS last_id FROM hvc.refresh_log \gset
UPDATE sec_sales SET amount = 1000 WHERE customer_id = 3 \; CALL hvc.refresh(as_of => '2025-07-01');
SELECT amount FROM sec_sales WHERE customer_id = 3;
SELECT count(*) AS new_log_rows FROM hvc.refresh_log WHERE refresh_id > :last_id;

-- 4. refresh_now in the caller's transaction.  Committed: the snapshot,
-- the log row (succeeded, full_requested recorded) and the caller's own
-- UPDATE, which the refresh sees (customer 3 now has revenue 1000).
BEGIN;
UPDATE sec_sales SET amount = 1000 WHERE customer_id = 3;
SELECT hvc.refresh_now(as_of => '2025-07-01', full => true) = :last_id + 1 AS returns_its_id;
COMMIT;
SELECT refresh_id = :last_id + 1 AS same_id, status, full_requested, customers
  FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
SELECT customer_id, revenue, value_rank FROM hvc.customers ORDER BY customer_id;
SELECT refresh_id = :last_id + 1 AS snapshot_of_it FROM hvc.snapshot_info;

-- Twice in one transaction, and in a multi-statement string.
SELECT hvc.refresh_now('2025-07-01') > 0 AS first \; SELECT hvc.refresh_now('2025-07-01') > 0 AS second;
SELECT status, full_requested, count(*) FROM hvc.refresh_log
 WHERE refresh_id > :last_id GROUP BY 1, 2 ORDER BY 1, 2;

-- Rolled back: no trace at all, neither snapshot nor log row; the refresh
-- lock is free again.
SELECT max(refresh_id) AS last_id FROM hvc.refresh_log \gset
SELECT refresh_id AS snapshot_id FROM hvc.snapshot_info \gset
BEGIN;
UPDATE sec_sales SET amount = 5 WHERE customer_id = 3;
SELECT hvc.refresh_now('2025-07-01') > 0 AS refreshed;
SELECT revenue FROM hvc.customers WHERE customer_id = 3;
ROLLBACK;
SELECT count(*) AS log_rows_after_rollback FROM hvc.refresh_log WHERE refresh_id > :last_id;
SELECT refresh_id = :snapshot_id AS snapshot_unchanged FROM hvc.snapshot_info;
SELECT revenue FROM hvc.customers WHERE customer_id = 3;
SELECT true AS lock_free FROM hvc.refresh_lock FOR UPDATE NOWAIT;

-- A failing refresh_now aborts the caller's transaction and keeps no
-- 'failed' row (the procedure's failures are logged; see bad_inputs).
\set VERBOSITY sqlstate
BEGIN;
UPDATE hvc.tier_rules SET customer_share = 0.9 WHERE tier = 'low';
SELECT hvc.refresh_now('2025-07-01');
ROLLBACK;
\set VERBOSITY default
SELECT count(*) AS log_rows_after_failure FROM hvc.refresh_log WHERE refresh_id > :last_id;

-- 5. Arguments: as_of must be finite (infinity used to overflow columns,
-- -infinity emptied the snapshot); NULL means now().
\set VERBOSITY sqlstate
CALL hvc.refresh(as_of => 'infinity');
CALL hvc.refresh(as_of => '-infinity');
SELECT hvc.refresh_now(as_of => 'infinity');
\set VERBOSITY default
SELECT hvc.refresh_now(as_of => '-infinity');
SELECT count(*) AS customers FROM hvc.customers;
SELECT count(*) AS log_rows FROM hvc.refresh_log WHERE refresh_id > :last_id;
CALL hvc.refresh(as_of => NULL, full => NULL);
SELECT status, full_requested, as_of > '2025-07-02' AS as_of_is_now
  FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;

-- 6. The internal steps check their arguments; a missing lock row is said.
\set VERBOSITY sqlstate
SELECT hvc._take_refresh_lock('vacuum');
SELECT hvc._refresh_build(-1);
SELECT hvc._refresh_attempt(NULL);
SELECT hvc._refresh_report(NULL);
SELECT hvc._refresh_start('infinity', false);
\set VERBOSITY default
DELETE FROM hvc.refresh_lock;
SELECT hvc.refresh_now('2025-07-01');
INSERT INTO hvc.refresh_lock DEFAULT VALUES;
SELECT hvc.refresh_now('2025-07-01') > 0 AS refreshed;

-- Leave a fresh extension for the tests that follow.
SET client_min_messages = warning;
DROP EXTENSION hvc CASCADE;
CREATE EXTENSION hvc;
DROP TABLE sec_sales;
