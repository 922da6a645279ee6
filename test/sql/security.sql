-- Privileges and the SECURITY DEFINER functions (issue 7, items 1, 2, 5, 6
-- and trusted = false).  Roles are cluster-wide: they are named regress_hvc_*
-- and dropped at the end.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET timezone = 'UTC';
UPDATE hvc.config SET model = 'none', time_unit = 'day', alert_payload = 'counts';
CREATE TABLE sectest_sales (customer_id int, ordered_at date, amount numeric(10,2));
-- customer c: purchases every 10 days; c = 1..5, c buys c times 100 each time
INSERT INTO sectest_sales
SELECT c, date '2025-01-01' + 10 * k, 100 * c FROM generate_series(1, 5) c, generate_series(1, c) k;
SELECT hvc.register_source('public.sectest_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-03-01');
\set VERBOSITY sqlstate
\set SHOW_CONTEXT never

-- A role with only USAGE on schema hvc (what hvc 0.1.0's README gave a
-- contact-centre router), and one granted hvc.priority as README now says.
CREATE ROLE regress_hvc_usage;
CREATE ROLE regress_hvc_router;
GRANT USAGE ON SCHEMA hvc TO regress_hvc_usage, regress_hvc_router;
GRANT EXECUTE ON FUNCTION hvc.priority(anyelement), hvc.priority(text) TO regress_hvc_router;

-- ---------------------------------------------------------------------------
-- 1. The escalation of issue 7: a type and a CAST in pg_temp whose function
-- makes its caller superuser, handed to hvc.priority (which runs as hvc's
-- owner).  hvc 0.1.0 cast the argument to the key type, so the function ran
-- as the owner and the role became superuser.  Now the argument's type is
-- refused before anything touches the value.
-- ---------------------------------------------------------------------------
SET ROLE regress_hvc_router;
-- (the functions act only when they run as someone else than the router)
CREATE FUNCTION pg_temp.sec_escalate() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'regress_hvc_router' THEN
        EXECUTE 'ALTER ROLE regress_hvc_router SUPERUSER';
    END IF;
    RETURN true;
END $$;
CREATE TYPE pg_temp.sec_key AS (x text);
CREATE FUNCTION pg_temp.sec_key_int(pg_temp.sec_key) RETURNS integer LANGUAGE sql
    AS $$ SELECT CASE WHEN pg_temp.sec_escalate() THEN 5 END $$;
CREATE FUNCTION pg_temp.sec_key_text(pg_temp.sec_key) RETURNS text LANGUAGE sql
    AS $$ SELECT CASE WHEN pg_temp.sec_escalate() THEN '5' END $$;
CREATE CAST (pg_temp.sec_key AS integer) WITH FUNCTION pg_temp.sec_key_int(pg_temp.sec_key);
CREATE CAST (pg_temp.sec_key AS text) WITH FUNCTION pg_temp.sec_key_text(pg_temp.sec_key);
\set VERBOSITY default
SELECT * FROM hvc.priority(ROW('x')::pg_temp.sec_key);
\set VERBOSITY sqlstate
-- A domain of the role's over the key type, whose CHECK calls its function,
-- is refused too (casting to the key type would run the check).
CREATE DOMAIN pg_temp.sec_int AS integer CHECK (pg_temp.sec_escalate());
SELECT customer_id, tier FROM hvc.priority(5::pg_temp.sec_int);
RESET ROLE;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE 'regress_hvc_%' ORDER BY 1;
-- The router gets its lookups with the key type or text, varchar, smallint,
-- integer, bigint or uuid (c5: value rank 1 of 5 -> value 1, 1 purchase day in
-- 10 days ... see operations.sql for the formula; here only the row matters).
SET ROLE regress_hvc_router;
SELECT customer_id, tier FROM hvc.priority(5);
SELECT customer_id, tier FROM hvc.priority('5');
SELECT customer_id, tier FROM hvc.priority('5'::varchar);
SELECT customer_id, tier FROM hvc.priority(5::smallint);
SELECT customer_id, tier FROM hvc.priority(5::bigint);
SELECT count(*) AS rows FROM hvc.priority('00000000-0000-0000-0000-000000000005'::uuid);
SELECT count(*) AS rows FROM hvc.priority(5.0);
-- ... but nothing else of hvc: not the snapshot, not the internal routines.
SELECT count(*) FROM hvc.customer_snapshot;
SELECT * FROM hvc._priority_lookup(5);
SELECT * FROM hvc._priority_score(1, 5, NULL, 10, 10, NULL, 100, 10, 12);
SELECT hvc._cron_server_state();
RESET ROLE;

-- ---------------------------------------------------------------------------
-- 6. With USAGE only, hvc.priority and hvc.refresh_status are not available
-- (README's REVOKE now restricts: the lookup is no longer reachable through
-- an internal function executable by PUBLIC), and no internal routine is.
-- ---------------------------------------------------------------------------
SET ROLE regress_hvc_usage;
SELECT * FROM hvc.priority(5);
SELECT * FROM hvc.priority('5');
SELECT * FROM hvc._priority_lookup(5);
SELECT * FROM hvc._priority_lookup('5'::text);
SELECT * FROM hvc.refresh_status(10);
SELECT count(*) FROM hvc.refresh_status;
SELECT count(*) AS internal_routines_it_may_run
  FROM pg_proc p WHERE p.pronamespace = 'hvc'::regnamespace AND has_function_privilege(p.oid, 'EXECUTE')
   AND p.proname LIKE '\_%';
-- The entry points open to PUBLIC give clear errors instead of "permission
-- denied for function hvc._...".
\set VERBOSITY default
SELECT hvc.schedule_refresh('0 3 * * *');
SELECT hvc.unschedule_refresh();
SELECT hvc.forget_customer(5);
\set VERBOSITY sqlstate
RESET ROLE;

-- ---------------------------------------------------------------------------
-- A reader role as in README (Privileges): USAGE, SELECT on the views and
-- tables it reads, EXECUTE on hvc.refresh_status.  It reads every view (no
-- view calls an internal routine).
-- ---------------------------------------------------------------------------
CREATE ROLE regress_hvc_reader;
GRANT USAGE ON SCHEMA hvc TO regress_hvc_reader;
GRANT SELECT ON hvc.customers, hvc.tier_summary, hvc.segment_summary, hvc.pareto_curve,
                hvc.model_fit, hvc.refresh_log, hvc.tier_changes, hvc.tier_migration,
                hvc.at_risk, hvc.value_profiles, hvc.value_profile_summary,
                hvc.refresh_status, hvc.alerts, hvc.model_validation, hvc.model_validation_by_frequency,
                hvc.retention, hvc.cohort_retention,
                hvc.customer_signals, hvc.customer_attributes, hvc.customer_profiles
   TO regress_hvc_reader;
GRANT EXECUTE ON FUNCTION hvc.refresh_status(integer) TO regress_hvc_reader;
SET ROLE regress_hvc_reader;
SELECT c.relname AS view_the_reader_reads
  FROM pg_class c
 WHERE c.relnamespace = 'hvc'::regnamespace AND c.relkind = 'v'
   AND (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1]::text::bigint >= 0
 ORDER BY 1;
SELECT item, status, customers FROM hvc.refresh_status WHERE item = 'refresh' ORDER BY run_id DESC LIMIT 1;
-- It writes nothing and runs no internal routine.
UPDATE hvc.config SET alert_payload = 'ids';
INSERT INTO hvc.alerts (refresh_id, raised_at, kind, customers, sample_ids, payload)
VALUES (1, now(), 'tier_drop', 1, '[]', '{}');
SELECT hvc._cron_server_state();
RESET ROLE;

-- ---------------------------------------------------------------------------
-- A refresher role as in README (Privileges): the refresh runs hvc's
-- internal routines with the refresher's own rights, so it is granted all of
-- them (they give it nothing beyond its table privileges).
-- ---------------------------------------------------------------------------
CREATE ROLE regress_hvc_refresher;
GRANT USAGE ON SCHEMA hvc TO regress_hvc_refresher;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA hvc TO regress_hvc_refresher;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA hvc TO regress_hvc_refresher;
REVOKE INSERT, UPDATE, DELETE ON hvc.config, hvc.tier_rules, hvc.rfm_segments, hvc.source
  FROM regress_hvc_refresher;
GRANT SELECT ON public.sectest_sales TO regress_hvc_refresher;
SET ROLE regress_hvc_refresher;
CALL hvc.refresh(as_of => '2025-03-02');
SELECT status, customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
-- Scheduling gets past the privilege check to the missing pg_cron.
SELECT hvc.schedule_refresh('0 3 * * *');
-- It may not change the settings.
UPDATE hvc.config SET alert_payload = 'ids';
RESET ROLE;

-- ---------------------------------------------------------------------------
-- 5. NOTIFY hvc_alerts: any role that may connect can listen and can send a
-- forged notification.  A listener verifies one by its refresh_id in
-- hvc.alerts, which such a role cannot write.
-- ---------------------------------------------------------------------------
CREATE ROLE regress_hvc_nobody;
SET ROLE regress_hvc_nobody;
NOTIFY hvc_alerts, '{"refresh_id" : 999999999, "newly_at_risk" : 1000}';
INSERT INTO hvc.alerts (refresh_id, raised_at, kind, customers, sample_ids, payload)
VALUES (999999999, now(), 'tier_drop', 1000, '[]', '{}');
RESET ROLE;
SELECT count(*) AS alerts_of_the_forged_refresh FROM hvc.alerts WHERE refresh_id = 999999999;

-- ---------------------------------------------------------------------------
-- trusted = false: a non-superuser cannot create hvc, even with CREATE on the
-- database (README: hvc has C functions and SECURITY DEFINER functions that
-- would run as the bootstrap superuser in a trusted extension).
-- ---------------------------------------------------------------------------
SELECT DISTINCT trusted, superuser FROM pg_available_extension_versions WHERE name = 'hvc';
BEGIN;
DROP EXTENSION hvc CASCADE;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_hvc_usage', current_database()); END $$;
SET ROLE regress_hvc_usage;
\set VERBOSITY default
CREATE EXTENSION hvc;
\set VERBOSITY sqlstate
ROLLBACK;
SELECT extversion IS NOT NULL AS still_installed FROM pg_extension WHERE extname = 'hvc';

-- Clean up.
DROP TABLE sectest_sales;
DROP DOMAIN pg_temp.sec_int;
DROP TYPE pg_temp.sec_key CASCADE;
DROP FUNCTION pg_temp.sec_escalate();
\set VERBOSITY default
DROP OWNED BY regress_hvc_usage, regress_hvc_router, regress_hvc_reader, regress_hvc_refresher, regress_hvc_nobody;
DROP ROLE regress_hvc_usage, regress_hvc_router, regress_hvc_reader, regress_hvc_refresher, regress_hvc_nobody;
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week', alert_payload = 'counts';

-- Internal routines validate their arguments anyway (defence in depth).
\set VERBOSITY sqlstate
SELECT hvc._raise_alerts(NULL);
SELECT hvc._raise_alerts(-1);
SELECT hvc._customer_key_type(NULL);
SELECT hvc._create_operations_objects(NULL);
SELECT * FROM hvc._priority_lookup(date '2025-01-01');
\set VERBOSITY default
