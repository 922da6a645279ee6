-- ---------------------------------------------------------------------------
-- Operations: scheduling with pg_cron, refresh status, the at-risk list,
-- proactive alerts (NOTIFY hvc_alerts + hvc.alerts), the contact-centre
-- priority lookup and customer value profiles.
--
-- hvc does not depend on pg_cron: cron.* is only ever reached through
-- dynamic SQL at call time, after checking that pg_cron is there.
-- ---------------------------------------------------------------------------

-- ===========================================================================
-- 1. pg_cron
-- ===========================================================================

-- What the server says about pg_cron.  SECURITY DEFINER because
-- cron.database_name is a superuser-only setting and the pg_cron launcher is
-- hidden from other roles in pg_stat_activity; it reveals nothing else.
CREATE OR REPLACE FUNCTION hvc._cron_server_state(
    OUT package_available boolean,  -- pg_cron's files are installed on the server
    OUT preloaded         boolean,  -- pg_cron is in shared_preload_libraries (its settings exist)
    OUT cron_database     text,     -- cron.database_name: the one database pg_cron works from
    OUT scheduler_running boolean,  -- the pg_cron launcher process is up
    OUT extension_here    boolean)  -- CREATE EXTENSION pg_cron was run in this database
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron'),
           EXISTS (SELECT 1 FROM pg_settings WHERE name = 'cron.database_name'),
           (SELECT setting FROM pg_settings WHERE name = 'cron.database_name'),
           EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'),
           EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')
$$;
COMMENT ON FUNCTION hvc._cron_server_state() IS
    'Internal: whether pg_cron is installed, preloaded, running and created in this database, and its cron.database_name.';

-- Raise the clear error of a server or database without a usable pg_cron.
CREATE OR REPLACE FUNCTION hvc._require_cron() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st record;
    db text := current_database();
    recipe text;
BEGIN
    st := hvc._cron_server_state();
    recipe := format('To enable scheduling: apt-get install postgresql-%s-cron; in postgresql.conf set '
                     'shared_preload_libraries = ''pg_cron'' and cron.database_name = ''%s'' (and '
                     'cron.use_background_workers = on, or let pg_cron connect to localhost without a '
                     'password); restart PostgreSQL; then run CREATE EXTENSION pg_cron; in database %s.',
                     current_setting('server_version_num')::integer / 10000, db, quote_ident(db));
    IF NOT st.package_available OR NOT st.preloaded THEN
        RAISE EXCEPTION 'hvc: scheduled refreshes need pg_cron, which is not available in this database'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = CASE WHEN NOT st.package_available
                                THEN 'The pg_cron extension is not installed on this server.'
                                ELSE 'pg_cron is installed but not loaded: it is not in shared_preload_libraries.' END,
                  HINT = recipe;
    END IF;
    IF st.cron_database IS DISTINCT FROM db THEN
        RAISE EXCEPTION 'hvc: pg_cron works from database "%", not from this database "%"', st.cron_database, db
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'pg_cron can only be used from the database named by cron.database_name.',
                  HINT = format('Either set cron.database_name = ''%s'', restart and CREATE EXTENSION pg_cron; here, '
                                'or schedule from database %s: SELECT cron.schedule_in_database(%L, '
                                '''0 3 * * *'', ''CALL hvc.refresh()'', %L);',
                                db, quote_ident(st.cron_database), 'hvc_refresh_' || db, db);
    END IF;
    IF NOT st.extension_here THEN
        RAISE EXCEPTION 'hvc: scheduled refreshes need pg_cron, which is not available in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'pg_cron is loaded but the extension is not created in this database.',
                  HINT = 'Run CREATE EXTENSION pg_cron; (as a superuser) in this database.';
    END IF;
    IF NOT has_schema_privilege('cron', 'USAGE') THEN
        RAISE EXCEPTION 'hvc: permission denied for schema cron'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('As a superuser: GRANT USAGE ON SCHEMA cron TO %I;', current_user);
    END IF;
END $$;
COMMENT ON FUNCTION hvc._require_cron() IS
    'Internal: raises a clear error (feature_not_supported or object_not_in_prerequisite_state, with a HINT on how to enable it) unless pg_cron can be used from this database.';

CREATE OR REPLACE FUNCTION hvc.schedule_refresh(schedule text DEFAULT '0 3 * * *') RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    job_name constant text := 'hvc_refresh';
    command  constant text := 'CALL hvc.refresh()';
    db text := current_database();
    old record;
    id bigint;
    err text;
    n_missing bigint;
    a_missing text;
BEGIN
    IF schedule IS NULL OR btrim(schedule) = '' THEN
        RAISE EXCEPTION 'hvc: schedule must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a cron schedule in GMT, e.g. ''0 3 * * *'' (every day at 03:00 GMT).';
    END IF;
    -- The job runs CALL hvc.refresh() as this role, and a refresh runs hvc's
    -- internal routines with the refreshing role's own rights: a refresher
    -- has EXECUTE on every routine of schema hvc (README, Privileges).
    SELECT count(*), min(p.oid::regprocedure::text)
      INTO n_missing, a_missing
      FROM pg_proc p
     WHERE p.pronamespace = 'hvc'::regnamespace AND NOT has_function_privilege(p.oid, 'EXECUTE');
    IF n_missing > 0 THEN
        RAISE EXCEPTION 'hvc: role % may not run the refresh, so it may not schedule it', current_user
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It lacks EXECUTE on routines of schema hvc that the refresh runs, e.g. %s.', a_missing),
                  HINT = format('As hvc''s owner or a superuser: GRANT EXECUTE ON ALL ROUTINES IN SCHEMA hvc TO %I; (see README, Privileges: a refresher role).', current_user);
    END IF;
    PERFORM hvc._require_cron();
    IF NOT EXISTS (SELECT 1 FROM hvc.source) THEN
        RAISE EXCEPTION 'hvc: no sales table is registered, so a scheduled refresh would fail'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register it first: SELECT hvc.register_source(source => ''public.sales'', customer => ''customer_id'', ordered_at => ''ordered_at'', amount => ''amount'');';
    END IF;

    -- pg_cron replaces a job of the same name and owner, but only its schedule
    -- and command: a paused job or one pointing elsewhere is dropped first.
    EXECUTE 'SELECT j.jobid, j.database, j.active FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user'
       INTO old USING job_name;
    IF old.jobid IS NOT NULL AND (old.database IS DISTINCT FROM db OR NOT old.active) THEN
        EXECUTE 'SELECT cron.unschedule($1::bigint)' USING old.jobid;
    END IF;

    BEGIN
        IF has_function_privilege('cron.schedule_in_database(text,text,text,text,text,boolean)', 'EXECUTE') THEN
            EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)' INTO id
              USING job_name, schedule, command, db;
        ELSE
            -- cron.schedule runs jobs in cron.database_name, which is this database.
            EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO id USING job_name, schedule, command;
        END IF;
    EXCEPTION WHEN invalid_parameter_value THEN
        GET STACKED DIAGNOSTICS err = MESSAGE_TEXT;
        RAISE EXCEPTION 'hvc: pg_cron rejected the schedule "%"', schedule
            USING ERRCODE = 'invalid_parameter_value', DETAIL = err,
                  HINT = 'Use five cron fields in GMT: minute hour day-of-month month day-of-week, e.g. ''0 3 * * *'' (daily 03:00 GMT) or ''30 2 * * 1'' (Mondays 02:30 GMT).';
    END;
    RAISE NOTICE 'hvc: pg_cron job % (id %) runs % in database % as % on schedule "%" (GMT)',
        job_name, id, command, db, current_user, schedule;
    IF NOT (hvc._cron_server_state()).scheduler_running THEN
        RAISE WARNING 'hvc: the pg_cron scheduler is not running, so the job will not run until it is'
            USING HINT = 'Look for pg_cron in the server log; background workers need max_worker_processes headroom.';
    END IF;
    RETURN id;
END $$;
COMMENT ON FUNCTION hvc.schedule_refresh(text) IS
    'Schedule CALL hvc.refresh() in this database with pg_cron as the pg_cron job ''hvc_refresh'' owned by the current role; returns the pg_cron job id. pg_cron 1.4 reads schedules in GMT (''0 3 * * *'' = 03:00 GMT). Scheduling again replaces the job. Without pg_cron: an error whose HINT says how to enable it.';

CREATE OR REPLACE FUNCTION hvc.unschedule_refresh() RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    job bigint;
    removed boolean := false;
BEGIN
    IF NOT has_function_privilege('hvc._require_cron()', 'EXECUTE') THEN
        RAISE EXCEPTION 'hvc: role % may not manage the refresh schedule', current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('As hvc''s owner or a superuser: GRANT EXECUTE ON ALL ROUTINES IN SCHEMA hvc TO %I; (see README, Privileges: a refresher role).', current_user);
    END IF;
    PERFORM hvc._require_cron();
    FOR job IN EXECUTE 'SELECT j.jobid FROM cron.job j WHERE j.jobname = $1 AND j.username = current_user'
                 USING 'hvc_refresh'
    LOOP
        EXECUTE 'SELECT cron.unschedule($1::bigint)' USING job;
        removed := true;
    END LOOP;
    IF NOT removed THEN
        RAISE NOTICE 'hvc: no pg_cron job hvc_refresh of role % to remove', current_user;
    END IF;
    RETURN removed;
END $$;
COMMENT ON FUNCTION hvc.unschedule_refresh() IS
    'Remove the pg_cron job ''hvc_refresh'' of the current role; true when a job was removed, false (with a NOTICE) when there was none.';

-- ===========================================================================
-- 2. Refresh status: the job, its runs, the refreshes.
-- ===========================================================================

CREATE OR REPLACE FUNCTION hvc.refresh_status(runs integer DEFAULT 10)
RETURNS TABLE (item text, job_name text, schedule text, active boolean, job_database text,
               job_user text, run_id bigint, status text, started_at timestamptz,
               finished_at timestamptz, duration_seconds float8, as_of timestamptz,
               customers bigint, message text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
-- SECURITY DEFINER: reads pg_cron's tables (whose row security shows each
-- role only its own jobs) for roles without access to schema cron.  Only
-- hvc's job is read, and only integer arguments come in: no caller code runs.
DECLARE
    st record;
    j record;
    r record;
    found_job boolean := false;
    job_status text;
    job_message text;
BEGIN
    IF runs IS NULL OR runs < 0 THEN
        RAISE EXCEPTION 'hvc: runs must be 0 or more'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'SELECT * FROM hvc.refresh_status(10);';
    END IF;
    st := hvc._cron_server_state();

    IF st.extension_here AND st.preloaded AND st.cron_database = current_database() THEN
        BEGIN
            FOR j IN EXECUTE
                'SELECT j.jobid, j.jobname::text AS jobname, j.schedule, j.active, j.database,
                        j.username::text AS username, j.command
                   FROM cron.job j
                  WHERE j.jobname = $1 AND j.command = $2 AND j.database = current_database()
                  ORDER BY j.jobid'
                USING 'hvc_refresh', 'CALL hvc.refresh()'
            LOOP
                found_job := true;
                job_name := j.jobname; schedule := j.schedule; active := j.active;
                job_database := j.database; job_user := j.username;
                item := 'job'; run_id := j.jobid;
                status := CASE WHEN j.active THEN 'scheduled' ELSE 'paused' END;
                started_at := NULL; finished_at := NULL; duration_seconds := NULL;
                as_of := NULL; customers := NULL;
                message := format('runs %s as %s on schedule "%s" (GMT)', j.command, j.username, j.schedule)
                        || CASE WHEN NOT st.scheduler_running
                                THEN '; the pg_cron scheduler is not running, so nothing runs now' ELSE '' END;
                RETURN NEXT;
                FOR r IN EXECUTE
                    'SELECT d.runid, d.status, d.start_time, d.end_time, d.return_message
                       FROM cron.job_run_details d
                      WHERE d.jobid = $1
                      ORDER BY d.runid DESC LIMIT $2'
                    USING j.jobid, runs
                LOOP
                    item := 'cron_run'; run_id := r.runid; status := r.status;
                    started_at := r.start_time; finished_at := r.end_time;
                    duration_seconds := extract(epoch FROM r.end_time - r.start_time)::float8;
                    message := r.return_message;
                    RETURN NEXT;
                END LOOP;
            END LOOP;
            job_status := 'not scheduled';
            job_message := 'no pg_cron job hvc_refresh runs in this database; SELECT hvc.schedule_refresh(''0 3 * * *'');';
        EXCEPTION WHEN undefined_table OR undefined_column OR undefined_function OR insufficient_privilege THEN
            GET STACKED DIAGNOSTICS job_message = MESSAGE_TEXT;
            job_status := 'unknown';
            job_message := format('cannot read pg_cron''s tables: %s', job_message);
        END;
    ELSE
        job_status := 'pg_cron unavailable';
        job_message := CASE
            WHEN NOT st.package_available THEN 'pg_cron is not installed on this server'
            WHEN NOT st.preloaded THEN 'pg_cron is not in shared_preload_libraries'
            WHEN st.cron_database IS DISTINCT FROM current_database()
                THEN format('pg_cron works from database %s (cron.database_name)', st.cron_database)
            ELSE 'CREATE EXTENSION pg_cron has not been run in this database' END
            || '; see SELECT hvc.schedule_refresh() for how to enable it';
    END IF;

    IF NOT found_job THEN
        item := 'job'; job_name := NULL; schedule := NULL; active := NULL;
        job_database := NULL; job_user := NULL; run_id := NULL;
        status := job_status; message := job_message;
        started_at := NULL; finished_at := NULL; duration_seconds := NULL;
        as_of := NULL; customers := NULL;
        RETURN NEXT;
    END IF;

    FOR r IN SELECT l.refresh_id, l.status, l.started_at, l.finished_at, l.as_of, l.customers, l.message
               FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT runs
    LOOP
        item := 'refresh'; run_id := r.refresh_id; status := r.status;
        started_at := r.started_at; finished_at := r.finished_at;
        duration_seconds := extract(epoch FROM r.finished_at - r.started_at)::float8;
        as_of := r.as_of; customers := r.customers; message := r.message;
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION hvc.refresh_status(integer) IS
    'Scheduling and refresh status: a ''job'' row for the pg_cron job hvc_refresh of this database (or why there is none), its last runs (''cron_run'', from cron.job_run_details) and the last refreshes (''refresh'', from hvc.refresh_log), at most runs of each. Works without pg_cron (job columns NULL). Runs with its owner''s rights so reporting roles need no access to schema cron, and shows only hvc''s own job (named hvc_refresh, running CALL hvc.refresh() in this database); not executable by PUBLIC, since refresh errors can quote source values: GRANT EXECUTE to the roles that may see them (also needed to read the view hvc.refresh_status).';

CREATE OR REPLACE VIEW hvc.refresh_status AS
SELECT s.item, s.job_name, s.schedule, s.active, s.job_database, s.job_user, s.run_id, s.status,
       s.started_at, s.finished_at, s.duration_seconds, s.as_of, s.customers, s.message
  FROM hvc.refresh_status(10) s
 ORDER BY CASE s.item WHEN 'job' THEN 1 WHEN 'cron_run' THEN 2 ELSE 3 END,
          s.started_at DESC NULLS LAST, s.run_id DESC;
COMMENT ON VIEW hvc.refresh_status IS
    'Is the refresh scheduled and does it work: the pg_cron job (item job), its last 10 runs (cron_run) and the last 10 refreshes (refresh). Without pg_cron the job row says why and its job columns are NULL. hvc.refresh_status(n) shows n runs. Readers need SELECT on it and EXECUTE on hvc.refresh_status(integer).';
COMMENT ON COLUMN hvc.refresh_status.item IS 'job (the pg_cron job, or why there is none), cron_run (a run of it by pg_cron) or refresh (a row of hvc.refresh_log).';
COMMENT ON COLUMN hvc.refresh_status.job_name IS 'pg_cron job name (hvc_refresh); NULL when not scheduled or without pg_cron.';
COMMENT ON COLUMN hvc.refresh_status.schedule IS 'Cron schedule of the job, in GMT; NULL when not scheduled.';
COMMENT ON COLUMN hvc.refresh_status.active IS 'Whether the job is active; NULL when not scheduled.';
COMMENT ON COLUMN hvc.refresh_status.job_database IS 'Database the job runs in.';
COMMENT ON COLUMN hvc.refresh_status.job_user IS 'Role the job runs as.';
COMMENT ON COLUMN hvc.refresh_status.run_id IS 'job: pg_cron job id; cron_run: cron.job_run_details.runid; refresh: hvc.refresh_log.refresh_id.';
COMMENT ON COLUMN hvc.refresh_status.status IS 'job: scheduled, paused, not scheduled, pg_cron unavailable or unknown; cron_run: pg_cron''s status (starting, running, succeeded, failed, ...); refresh: running, succeeded, failed or interrupted.';
COMMENT ON COLUMN hvc.refresh_status.started_at IS 'When the run or refresh started.';
COMMENT ON COLUMN hvc.refresh_status.finished_at IS 'When it ended (NULL while running).';
COMMENT ON COLUMN hvc.refresh_status.duration_seconds IS 'finished_at - started_at in seconds.';
COMMENT ON COLUMN hvc.refresh_status.as_of IS 'refresh: the observation end it used.';
COMMENT ON COLUMN hvc.refresh_status.customers IS 'refresh: customers in the snapshot it built.';
COMMENT ON COLUMN hvc.refresh_status.message IS 'job: what runs when, or why nothing is scheduled; cron_run: pg_cron''s return message (the error when failed); refresh: the refresh_log message.';

-- ===========================================================================
-- 3. Alerts: what changed for the worse at a refresh.
-- ===========================================================================

CREATE TABLE hvc.alerts (
    alert_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refresh_id bigint      NOT NULL,
    raised_at  timestamptz NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('newly_at_risk', 'tier_drop')),
    customers  bigint      NOT NULL,
    sample_ids text        NOT NULL,
    payload    text        NOT NULL
);
CREATE INDEX alerts_refresh ON hvc.alerts (refresh_id);
SELECT pg_catalog.pg_extension_config_dump('hvc.alerts', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('hvc.alerts', 'alert_id'), '');
COMMENT ON TABLE hvc.alerts IS
    'Alerts raised by refreshes (also sent as NOTIFY hvc_alerts): one row per kind with at least one customer; kept for the last hvc.config.history_refreshes refreshes.';
COMMENT ON COLUMN hvc.alerts.alert_id IS 'Sequential id of the alert.';
COMMENT ON COLUMN hvc.alerts.refresh_id IS 'The refresh (hvc.refresh_log) that raised it.';
COMMENT ON COLUMN hvc.alerts.raised_at IS 'When it was raised.';
COMMENT ON COLUMN hvc.alerts.kind IS 'newly_at_risk: customers in hvc.at_risk now but not at the previous refresh; tier_drop: high-value customers who moved down a tier through activity (hvc.tier_changes, direction down, reason activity, from a high-value tier; moves from a change of value basis or model, or from a fallback to an older fit, raise none).';
COMMENT ON COLUMN hvc.alerts.customers IS 'How many customers.';
COMMENT ON COLUMN hvc.alerts.sample_ids IS 'JSON array of the first 10 customer ids (newly_at_risk: by hvc.at_risk order; tier_drop: by value rank).';
COMMENT ON COLUMN hvc.alerts.payload IS 'The JSON payload of the NOTIFY hvc_alerts sent for the refresh (as hvc.config.alert_payload shaped it; hvc.forget_customer removes a forgotten customer''s id from it). A listener can verify a notification by finding its refresh_id here: only roles that may write hvc''s tables can add rows, while any role that may connect can NOTIFY hvc_alerts.';

-- Build the alerts of refresh `id` (called after the new snapshot is in
-- place, in the refresh's transaction): NOTIFY, hvc.alerts, and the at-risk
-- set for the next comparison.  Returns the payload.
CREATE OR REPLACE FUNCTION hvc._raise_alerts(id bigint) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    run_as_of timestamptz;
    n_at_risk bigint;
    n_new bigint;
    new_ids jsonb[];
    new_reasons text;
    n_drops bigint;
    drop_ids jsonb[];
    samples integer := 10;
    payload text;
    payload_mode text;
    raised timestamptz := clock_timestamp();
BEGIN
    SELECT l.as_of INTO run_as_of FROM hvc.refresh_log l WHERE l.refresh_id = id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hvc: no refresh % in hvc.refresh_log', coalesce(id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.alert_payload INTO payload_mode FROM hvc.config c LIMIT 1;

    -- hvc.at_risk is evaluated once: who is on it now, and who is new on it
    CREATE TEMP TABLE _hvc_at_risk ON COMMIT DROP AS
    SELECT a.customer_id, a.at_risk_rank, a.reasons,
           NOT EXISTS (SELECT 1 FROM hvc.at_risk_previous p WHERE p.customer_id = a.customer_id) AS is_new
      FROM hvc.at_risk a;
    -- statistics for the joins to hvc.at_risk_previous below (without them
    -- the DELETE sorted the set for a merge anti-join: 0.1 s at 62 k)
    ANALYZE pg_temp._hvc_at_risk;
    SELECT count(*), count(*) FILTER (WHERE r.is_new) INTO n_at_risk, n_new FROM _hvc_at_risk r;
    SELECT string_agg(format('%s %s', x.reason, x.n), ', ' ORDER BY x.n DESC, x.reason) INTO new_reasons
      FROM (SELECT e.reason, count(*) AS n
              FROM _hvc_at_risk r CROSS JOIN LATERAL unnest(string_to_array(r.reasons, ',')) e(reason)
             WHERE r.is_new GROUP BY e.reason) x;
    SELECT coalesce(array_agg(x.j ORDER BY x.rk), '{}') INTO new_ids
      FROM (SELECT to_jsonb(r.customer_id) AS j, r.at_risk_rank AS rk
              FROM _hvc_at_risk r WHERE r.is_new
             ORDER BY r.at_risk_rank LIMIT 10) x;

    -- The drops out of a high-value tier (down, reason activity): the
    -- builder wrote them into the history in value order, counting them
    -- and keeping the keys of the ten most valuable (hvc._snapshot_stats;
    -- a count over the history's fresh rows and a join of the drops to the
    -- new snapshot for the ten, 117 k drops at 50 M lines, before).
    SELECT st.drops, st.drop_ids INTO n_drops, drop_ids FROM hvc._snapshot_stats(id) st;

    -- the at-risk memory follows the set: who left it goes, who is new on
    -- it comes in (with this refresh), who stays is not rewritten
    DELETE FROM hvc.at_risk_previous p
     WHERE NOT EXISTS (SELECT 1 FROM _hvc_at_risk r WHERE r.customer_id = p.customer_id);
    INSERT INTO hvc.at_risk_previous (customer_id, refresh_id)
    SELECT r.customer_id, id FROM _hvc_at_risk r WHERE r.is_new;
    DROP TABLE _hvc_at_risk;

    -- Any role that may connect can LISTEN (and NOTIFY): hvc.config.alert_payload
    -- says how much the payload tells.  NOTIFY payloads must stay under 8000
    -- bytes: shorten the id samples when the keys are very long.
    IF payload_mode = 'refresh_id' THEN
        payload := json_build_object('refresh_id', id, 'database', current_database())::text;
    ELSIF payload_mode = 'counts' THEN
        payload := json_build_object(
            'refresh_id', id,
            'database', current_database(),
            'as_of', to_char(run_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            'at_risk', n_at_risk,
            'newly_at_risk', n_new,
            'tier_drops', n_drops)::text;
    ELSE
        LOOP
            payload := json_build_object(
                'refresh_id', id,
                'database', current_database(),
                'as_of', to_char(run_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                'at_risk', n_at_risk,
                'newly_at_risk', n_new,
                'newly_at_risk_ids', to_json(new_ids[1:samples]),
                'tier_drops', n_drops,
                'tier_drop_ids', to_json(drop_ids[1:samples]))::text;
            EXIT WHEN octet_length(payload) < 8000 OR samples = 0;
            samples := samples - 1;
        END LOOP;
    END IF;

    IF n_new > 0 THEN
        INSERT INTO hvc.alerts (refresh_id, raised_at, kind, customers, sample_ids, payload, reasons)
        VALUES (id, raised, 'newly_at_risk', n_new, to_json(new_ids)::text, payload, new_reasons);
    END IF;
    IF n_drops > 0 THEN
        INSERT INTO hvc.alerts (refresh_id, raised_at, kind, customers, sample_ids, payload)
        VALUES (id, raised, 'tier_drop', n_drops, to_json(drop_ids)::text, payload);
    END IF;

    DELETE FROM hvc.alerts al WHERE al.refresh_id < (SELECT hvc._first_kept_refresh(id));

    PERFORM pg_notify('hvc_alerts', payload);
    RETURN payload;
END $$;
COMMENT ON FUNCTION hvc._raise_alerts(bigint) IS
    'Internal: computes the alerts of a refresh, records them in hvc.alerts (pruned to hvc.config.history_refreshes refreshes), remembers the at-risk set and sends NOTIFY hvc_alerts; returns the payload.';

-- Called by hvc._refresh_build after each successful refresh.  A failure to
-- alert must not throw away a good snapshot: it becomes a WARNING and a note
-- in hvc.refresh_log.
CREATE OR REPLACE FUNCTION hvc._after_refresh(id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    err_state text;
    err_msg text;
BEGIN
    PERFORM hvc._raise_alerts(id);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT;
    RAISE WARNING 'hvc: refresh % succeeded but its alerts were not raised: %', id, err_msg
        USING HINT = 'The snapshot is up to date; check hvc.at_risk and hvc.tier_changes by hand.';
    UPDATE hvc.refresh_log
       SET message = message || format('; alerts not raised: %s (SQLSTATE %s)', err_msg, err_state)
     WHERE refresh_id = id;
END $$;
COMMENT ON FUNCTION hvc._after_refresh(bigint) IS
    'Internal: runs after each successful refresh, in its transaction: raises the alerts (NOTIFY hvc_alerts, hvc.alerts).';

-- ===========================================================================
-- 4. Contact-centre priority.
-- ===========================================================================

-- The documented formula, in one place.  Three factors in [0, 1]:
--   value  = value percentile = 1 - (value_rank - 1) / customers  (1 = most valuable)
--   churn  = with a model: the customer's churn_risk percentile among all
--            customers (the share of customers whose churn_risk is at most
--            theirs, hvc.customer_snapshot.churn_percentile), so it ranks and
--            cannot saturate however slow the population buys;
--            without one: min(recency_days / (2 x max(gap, 15)), 1), gap =
--            avg_days_between_orders, for one-time buyers the median gap of
--            the repeat customers (the overdue line of hvc.at_risk is 1); 0
--            when there is no gap at all
--            then each at-risk reason from signals (engagement_falling,
--            detractor, open_contact_over_N_days: hvc.customer_signals.
--            at_risk_reasons) halves the distance to 1:
--            churn = 1 - (1 - churn) x 0.5^k, k = number of those reasons
--   growth = min(ratio, 2) / 2, ratio = predicted spending rate / past spending
--            rate = (predicted_clv / horizon months) / (revenue / tenure months,
--            tenure counted as at least one month of 30.4375 days; horizon
--            months = horizon_days / 30.4375 when set, else horizon_months);
--            0.5 (steady) without a prediction; 1 when past revenue is not
--            positive but predicted_clv is
-- Churn and growth count in proportion to value, so score <= value:
--   value_part  = 0.55 x value
--   churn_part  = 0.35 x churn  x value
--   growth_part = 0.10 x growth x value
--   score       = value_part + churn_part + growth_part   (each rounded to 4 decimals)
--   priority    = 1 if score >= 0.75, 2 if >= 0.6, 3 if >= 0.45, 4 if >= 0.3, else 5
CREATE OR REPLACE FUNCTION hvc._priority_score(value_rank bigint, customers bigint, churn_percentile float8,
                                    recency_days integer, usual_gap float8, predicted_clv numeric,
                                    revenue numeric, tenure_days integer, horizon_months float8,
                                    signal_reasons integer DEFAULT 0,
                                    OUT priority integer, OUT score float8, OUT value_part float8,
                                    OUT churn_part float8, OUT growth_part float8)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    value_f float8;
    churn_f float8;
    growth_f float8;
    v numeric;
    c numeric;
    g numeric;
BEGIN
    IF churn_percentile < 0 OR churn_percentile > 1 THEN
        RAISE EXCEPTION 'hvc: churn_percentile must be between 0 and 1, got %', churn_percentile
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    value_f := greatest(1 - (value_rank - 1)::float8 / greatest(customers, 1), 0);
    churn_f := CASE WHEN churn_percentile IS NOT NULL THEN churn_percentile
                    WHEN usual_gap > 0
                    THEN least(greatest(recency_days / (2 * greatest(usual_gap, 15)), 0), 1)
                    ELSE 0 END;
    IF signal_reasons < 0 THEN
        RAISE EXCEPTION 'hvc: signal_reasons must not be negative, got %', signal_reasons
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    churn_f := 1 - (1 - churn_f) * 0.5 ^ coalesce(signal_reasons, 0);
    growth_f := CASE WHEN predicted_clv IS NULL THEN 0.5
                     WHEN revenue <= 0 THEN CASE WHEN predicted_clv > 0 THEN 1 ELSE 0.5 END
                     ELSE least(greatest((predicted_clv::float8 / greatest(horizon_months, 1))
                                         / (revenue::float8 / (greatest(tenure_days, 30.4375) / 30.4375)), 0), 2) / 2
                END;
    v := round((0.55 * value_f)::numeric, 4);
    c := round((0.35 * churn_f * value_f)::numeric, 4);
    g := round((0.10 * growth_f * value_f)::numeric, 4);
    priority := CASE WHEN v + c + g >= 0.75 THEN 1
                     WHEN v + c + g >= 0.6 THEN 2
                     WHEN v + c + g >= 0.45 THEN 3
                     WHEN v + c + g >= 0.3 THEN 4
                     ELSE 5 END;
    score := (v + c + g)::float8;
    value_part := v::float8;
    churn_part := c::float8;
    growth_part := g::float8;
END $$;
COMMENT ON FUNCTION hvc._priority_score(bigint, bigint, float8, integer, float8, numeric, numeric, integer, float8, integer) IS
    'Internal: the hvc.priority formula (see hvc.priority).';

-- Customer keys handed in by callers (hvc.priority, hvc.forget_customer).
-- hvc.priority runs with its owner's rights, so nothing a caller can define
-- (a type, a cast, an operator, a function) may run on the argument: it is
-- accepted only when its type is the key type itself (compared as it is) or
-- one of the built-in types text, varchar, smallint, integer, bigint and
-- uuid (turned into text by their built-in output functions, then read by
-- the input function of the key's base type; the key type is the
-- registered source column's, chosen by the DBA).  Any other type is refused
-- before the value is touched.  Takes the type only, never the value; says
-- what the key type is and its base type (the type itself unless a domain).
CREATE OR REPLACE FUNCTION hvc._customer_key_type(given regtype, OUT key_type regtype, OUT base_type regtype)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_kind "char";
BEGIN
    SELECT a.atttypid::regtype, t.typtype INTO key_type, key_kind
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = to_regclass('hvc.customer_snapshot') AND a.attname = 'customer_id'
       AND NOT a.attisdropped;
    IF key_type IS NULL THEN
        RAISE EXCEPTION 'hvc: no sales table is registered'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'SELECT hvc.register_source(...); then CALL hvc.refresh();';
    END IF;
    base_type := CASE WHEN key_kind = 'd' THEN hvc._base_type(key_type) ELSE key_type END;
    IF given IS NULL THEN
        RAISE EXCEPTION 'hvc: the type of the customer key must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF given IS DISTINCT FROM key_type AND given IS DISTINCT FROM base_type
       AND NOT given = ANY (ARRAY['text'::regtype, 'varchar'::regtype, 'int2'::regtype,
                                  'int4'::regtype, 'int8'::regtype, 'uuid'::regtype]) THEN
        RAISE EXCEPTION 'hvc: a customer key of type % cannot be compared with the customer keys, which are %',
                        given, key_type
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'A customer key is accepted as the key type itself or as text, varchar, smallint, integer, bigint or uuid.',
                  HINT = format('Pass the key as %s or as text, e.g. hvc.priority(''...''::text).', key_type);
    END IF;
END $$;
COMMENT ON FUNCTION hvc._customer_key_type(regtype) IS
    'Internal: the key type of hvc.customer_snapshot and its base type; object_not_in_prerequisite_state when no sales table is registered, datatype_mismatch unless a caller''s key type (the argument) is the key type or text, varchar, smallint, integer, bigint or uuid (so no caller-defined cast, operator or function ever runs on a key).';

-- The lookup itself.  Runs with the rights of its caller, which is
-- hvc.priority (SECURITY DEFINER); not executable by PUBLIC.
CREATE OR REPLACE FUNCTION hvc._priority_lookup(customer anyelement)
RETURNS TABLE (customer_id anyelement, tier text, tier_rank integer, priority integer, score float8,
               value_part float8, churn_part float8, growth_part float8)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key record := hvc._customer_key_type(pg_typeof(customer));
BEGIN
    IF customer IS NULL THEN
        RETURN;
    END IF;
    IF pg_typeof(customer) IN (key.key_type, key.base_type) THEN
        -- Same type as the key: a cached plan on the customer_id index.
        RETURN QUERY
        SELECT customer, s.tier, s.tier_rank, p.priority, p.score, p.value_part, p.churn_part, p.growth_part
          FROM hvc.customer_snapshot s
         CROSS JOIN (SELECT customers, median_repeat_gap_days FROM hvc.snapshot_info LIMIT 1) i
          CROSS JOIN (SELECT horizon_months, horizon_days FROM hvc.config LIMIT 1) c
          LEFT JOIN hvc.customer_signal_store x ON x.customer_id = s.customer_id
          CROSS JOIN LATERAL hvc._priority_score(s.value_rank, i.customers, s.churn_percentile,
                                                 s.recency_days, coalesce(s.avg_days_between_orders, i.median_repeat_gap_days),
                                                 s.predicted_clv, s.revenue, s.tenure_days,
                                                 coalesce(c.horizon_days / 30.4375, c.horizon_months),
                                                 coalesce(cardinality(x.at_risk_reasons), 0)) p
         WHERE s.customer_id = customer;
    ELSE
        -- text, varchar, smallint, integer, bigint or uuid (their casts to
        -- text are built in; only a superuser could add one): its text form is
        -- read by the input function of the key's base type (a domain's
        -- checks are not run: the stored keys passed them).
        BEGIN
            RETURN QUERY EXECUTE format($q$
            SELECT $1, s.tier, s.tier_rank, p.priority, p.score, p.value_part, p.churn_part, p.growth_part
              FROM hvc.customer_snapshot s
             CROSS JOIN (SELECT customers, median_repeat_gap_days FROM hvc.snapshot_info LIMIT 1) i
              CROSS JOIN (SELECT horizon_months, horizon_days FROM hvc.config LIMIT 1) c
              LEFT JOIN hvc.customer_signal_store x ON x.customer_id = s.customer_id
              CROSS JOIN LATERAL hvc._priority_score(s.value_rank, i.customers, s.churn_percentile,
                                                     s.recency_days, coalesce(s.avg_days_between_orders, i.median_repeat_gap_days),
                                                     s.predicted_clv, s.revenue, s.tenure_days,
                                                     coalesce(c.horizon_days / 30.4375, c.horizon_months),
                                                     coalesce(cardinality(x.at_risk_reasons), 0)) p
             WHERE s.customer_id = $2::%s$q$, key.base_type)
            USING customer, customer::text;
        EXCEPTION WHEN data_exception THEN
            -- Not a valid key of that type (e.g. 'abc' for an integer key): unknown customer.
            RETURN;
        END;
    END IF;
END $$;
COMMENT ON FUNCTION hvc._priority_lookup(anyelement) IS
    'Internal: body of hvc.priority(); runs with its caller''s rights.';

-- SECURITY DEFINER so that a contact-centre router needs EXECUTE on it and
-- nothing else (no access to the snapshot).  Not executable by PUBLIC: the
-- DBA grants it (README, Privileges).  The argument is only ever compared
-- as described at hvc._customer_key_type.
CREATE OR REPLACE FUNCTION hvc.priority(customer anyelement)
RETURNS TABLE (customer_id anyelement, tier text, tier_rank integer, priority integer, score float8,
               value_part float8, churn_part float8, growth_part float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM hvc._priority_lookup(customer);
END $$;
COMMENT ON FUNCTION hvc.priority(anyelement) IS
    'Contact-centre routing: one row for a customer of the current snapshot (an index lookup), no row for an unknown customer. value = 1 - (value_rank - 1) / customers; churn = the customer''s churn_risk percentile among all customers (share of customers whose churn_risk is at most theirs), or without a model min(recency_days / (2 x max(gap, 15)), 1) with gap = avg_days_between_orders, for one-time buyers the median gap of the repeat customers (1 = on the overdue line of hvc.at_risk), then each at-risk reason from signals (hvc.customer_signals.at_risk_reasons) halves its distance to 1: churn = 1 - (1 - churn) x 0.5^k; growth = min(ratio, 2) / 2, ratio = (predicted_clv / horizon months) / (revenue per tenure month, at least one month), 0.5 without a prediction. value_part = 0.55 x value, churn_part = 0.35 x churn x value, growth_part = 0.10 x growth x value (4 decimals), score = their sum (0..1, never above value). priority = 1 (most urgent) if score >= 0.75, 2 if >= 0.6, 3 if >= 0.45, 4 if >= 0.3, else 5. The key is given as the key type or as text, varchar, smallint, integer, bigint or uuid (read as the key type; other types: datatype_mismatch). Runs with its owner''s rights; not executable by PUBLIC: GRANT EXECUTE to the roles that route.';

CREATE OR REPLACE FUNCTION hvc.priority(customer text)
RETURNS TABLE (customer_id text, tier text, tier_rank integer, priority integer, score float8,
               value_part float8, churn_part float8, growth_part float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM hvc._priority_lookup(customer);
END $$;
COMMENT ON FUNCTION hvc.priority(text) IS
    'hvc.priority() for a key written as a quoted literal or text, e.g. hvc.priority(''C042''); read as the customer key type when it is not text. Runs with its owner''s rights; not executable by PUBLIC.';

-- ===========================================================================
-- 5. Customer-typed objects: at-risk list, its memory, value profiles.
-- ===========================================================================

-- hvc.at_risk over the customer-typed snapshot.  Its own function so that an
-- upgrade can replace the view in place (keeping GRANTs and the at-risk
-- memory), and naming the settings it reads, so that a column added to
-- hvc.config later does not change the view.
CREATE OR REPLACE FUNCTION hvc._create_at_risk_view() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    CREATE OR REPLACE VIEW hvc.at_risk AS
    WITH high AS (
        -- Only the high-value customers who may be listed are read further
        -- (a wider set than the criteria below, which decide): churn_risk at
        -- or above the threshold, overdue without a churn_risk, or an
        -- at-risk reason from signals.  The settings are scalar subqueries,
        -- not joins: on Citus this filter runs on the workers, and the rest
        -- on the coordinator over the rows it returns (a join to the
        -- settings was pushed down too, and its row estimates made every
        -- shard's task JIT-compile: 0.45 s each).
        SELECT s.customer_id, s.tier, s.tier_rank, s.value_rank, s.value, s.predicted_clv,
               s.historic_clv, s.revenue, s.churn_risk, s.recency_days, s.avg_days_between_orders,
               s.last_order_at, s.orders, s.segment,
               (SELECT c.at_risk_threshold FROM hvc.config c LIMIT 1) AS at_risk_threshold,
               coalesce(s.avg_days_between_orders,
                        (SELECT i.median_repeat_gap_days FROM hvc.snapshot_info i LIMIT 1)) AS usual_gap
          FROM hvc.customer_snapshot s
         WHERE s.is_high_value
           AND (s.churn_risk >= (SELECT c.at_risk_threshold FROM hvc.config c LIMIT 1)
                OR (s.churn_risk IS NULL AND s.recency_days >= 30
                    AND s.recency_days > 2 * coalesce(s.avg_days_between_orders,
                                                      (SELECT i.median_repeat_gap_days FROM hvc.snapshot_info i LIMIT 1)))
                OR s.customer_id IN (SELECT x.customer_id FROM hvc.customer_signal_store x
                                      WHERE cardinality(x.at_risk_reasons) > 0))
    ), ranked AS (
        -- Those at or above the threshold come first in the order of risk:
        -- their row_number among themselves is their rank among all the
        -- high-value customers.
        SELECT h.*,
               row_number() OVER (PARTITION BY h.churn_risk >= h.at_risk_threshold
                                  ORDER BY h.churn_risk DESC NULLS LAST, h.value_rank) AS risk_order,
               coalesce(x.at_risk_reasons, '{}') AS signal_reasons,
               x.nps_score, x.engagement_90d, x.engagement_prev_90d, x.oldest_open_contact_days
          FROM high h
          LEFT JOIN hvc.customer_signal_store x ON x.customer_id = h.customer_id
    ), judged AS (
        -- listed for the churn criterion (with a model: among the riskiest
        -- at_risk_share of the high-value customers the refresh counted,
        -- snapshot_info.high_value_customers) or any at-risk reason from
        -- signals.  (No count of the snapshot as a fallback: never run, it
        -- was still priced, once per use of churn_flag, and the estimate
        -- made every BI read of the view JIT-compile: 0.1-0.16 s of 0.35 s
        -- at 500 000 customers.)
        SELECT h.customer_id, h.tier, h.tier_rank, h.value_rank, h.value, h.predicted_clv,
               h.historic_clv, h.revenue, h.churn_risk, h.recency_days, h.avg_days_between_orders,
               h.last_order_at, h.orders, h.segment, h.at_risk_threshold, h.usual_gap, f.churn_flag,
               h.signal_reasons, h.nps_score, h.engagement_90d, h.engagement_prev_90d, h.oldest_open_contact_days,
               CASE WHEN h.churn_risk IS NOT NULL THEN 'churn_risk' ELSE 'overdue' END AS risk_basis
          FROM ranked h
         CROSS JOIN LATERAL (
               SELECT CASE WHEN h.churn_risk IS NOT NULL
                           THEN h.churn_risk >= h.at_risk_threshold
                                AND h.risk_order <= floor((SELECT c.at_risk_share FROM hvc.config c LIMIT 1)
                                                          * (SELECT i.high_value_customers FROM hvc.snapshot_info i LIMIT 1)
                                                          + 1e-9)
                           ELSE h.usual_gap > 0
                                AND h.recency_days >= 30
                                AND h.recency_days > 2 * h.usual_gap END AS churn_flag) f
         WHERE f.churn_flag OR cardinality(h.signal_reasons) > 0
    )
    SELECT row_number() OVER (ORDER BY j.value DESC NULLS LAST, j.value_rank) AS at_risk_rank,
           j.customer_id, j.tier, j.tier_rank, j.value_rank,
           j.value AS value_at_stake, j.predicted_clv, j.historic_clv, j.revenue,
           j.churn_risk, j.at_risk_threshold,
           j.recency_days, j.avg_days_between_orders,
           j.recency_days / j.usual_gap AS overdue_ratio,
           j.last_order_at, j.orders, j.segment, j.risk_basis,
           concat_ws('; ', CASE WHEN j.churn_flag THEN CASE j.risk_basis
               WHEN 'churn_risk' THEN
                   format('churn risk %s %% (threshold %s %%), last order %s days ago',
                          round((j.churn_risk * 100)::numeric), trim_scale(round((j.at_risk_threshold * 100)::numeric, 1)),
                          j.recency_days)
               WHEN 'overdue' THEN
                   CASE WHEN j.avg_days_between_orders IS NOT NULL
                        THEN format('no order for %s days, usually every %s days',
                                    j.recency_days, round(j.avg_days_between_orders::numeric))
                        ELSE format('no order for %s days since the first, repeat customers usually buy every %s days',
                                    j.recency_days, round(j.usual_gap::numeric)) END
           END END,
           CASE WHEN 'engagement_falling' = ANY (j.signal_reasons)
                THEN format('engagement down %s %% (last 90 days vs the 90 before)',
                            round((100 * (1 - j.engagement_90d / j.engagement_prev_90d))::numeric)) END,
           CASE WHEN 'detractor' = ANY (j.signal_reasons) THEN format('NPS %s (detractor)', j.nps_score) END,
           CASE WHEN array_to_string(j.signal_reasons, ',') ~ 'open_contact_over_'
                THEN format('service contact open for %s days', j.oldest_open_contact_days) END) AS reason,
           array_to_string(CASE WHEN j.churn_flag THEN ARRAY[j.risk_basis] ELSE '{}' END || j.signal_reasons, ',') AS reasons
      FROM judged j
     -- the order at_risk_rank counts in (value_rank is unique), so the rows
     -- come out of the window in it and are not sorted again
     ORDER BY j.value DESC NULLS LAST, j.value_rank;
    COMMENT ON VIEW hvc.at_risk IS
        'High-value customers who may be slipping away, most valuable first: listed for the churn criterion below or for any at-risk reason from signals (engagement_falling, detractor, open_contact_over_N_days: hvc.customer_signals.at_risk_reasons); column reasons lists every reason that applies. Churn criterion, with a model: churn_risk (probability of no purchase in the next hvc.config.churn_window_days) >= hvc.config.at_risk_threshold and among the riskiest hvc.config.at_risk_share of the high-value customers (at most floor(share x high-value customers); ties by value rank). Without one (churn_risk NULL), overdue against their rhythm: recency_days >= 30 and more than twice avg_days_between_orders, one-time buyers against the median gap of the repeat customers (hvc.snapshot_info.median_repeat_gap_days).';
    COMMENT ON COLUMN hvc.at_risk.at_risk_rank IS '1 = most value at stake.';
    COMMENT ON COLUMN hvc.at_risk.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.at_risk.tier IS 'Current tier (a high-value one).';
    COMMENT ON COLUMN hvc.at_risk.tier_rank IS 'Rank of the tier (1 = best).';
    COMMENT ON COLUMN hvc.at_risk.value_rank IS 'Value rank among all customers (1 = most valuable).';
    COMMENT ON COLUMN hvc.at_risk.value_at_stake IS 'The value the customer is ranked by (hvc.customers.value: predicted_clv by default, historic_clv without a model); the list is ordered by it.';
    COMMENT ON COLUMN hvc.at_risk.predicted_clv IS 'Predicted CLV over the horizon (NULL without fitted models).';
    COMMENT ON COLUMN hvc.at_risk.historic_clv IS 'Value realised so far (margin when mapped, else revenue).';
    COMMENT ON COLUMN hvc.at_risk.revenue IS 'Net revenue so far.';
    COMMENT ON COLUMN hvc.at_risk.churn_risk IS 'Probability of no purchase in the next hvc.config.churn_window_days (NULL without a fitted model).';
    COMMENT ON COLUMN hvc.at_risk.at_risk_threshold IS 'hvc.config.at_risk_threshold applied to churn_risk.';
    COMMENT ON COLUMN hvc.at_risk.recency_days IS 'Days since the last purchase day.';
    COMMENT ON COLUMN hvc.at_risk.avg_days_between_orders IS 'The customer''s usual gap between purchase days (NULL for one-time buyers).';
    COMMENT ON COLUMN hvc.at_risk.overdue_ratio IS 'recency_days / the usual gap: avg_days_between_orders, or for one-time buyers the median gap of the repeat customers (above 2 = overdue).';
    COMMENT ON COLUMN hvc.at_risk.last_order_at IS 'Time of the last purchase.';
    COMMENT ON COLUMN hvc.at_risk.orders IS 'Orders so far.';
    COMMENT ON COLUMN hvc.at_risk.segment IS 'RFM segment.';
    COMMENT ON COLUMN hvc.at_risk.risk_basis IS 'churn_risk (model) or overdue (no model: recency against the usual gap).';
    COMMENT ON COLUMN hvc.at_risk.reason IS 'Why, in plain words, e.g. ''churn risk 72 % (threshold 50 %), last order 40 days ago'' or ''no order for 95 days, usually every 30 days'', then the signal reasons (''engagement down 60 % (last 90 days vs the 90 before)'', ''NPS 3 (detractor)'', ''service contact open for 12 days''), separated by ''; ''.';
    COMMENT ON COLUMN hvc.at_risk.reasons IS 'Every reason that applies, comma-separated: churn_risk or overdue (the churn criterion above), engagement_falling, detractor, open_contact_over_N_days (hvc.customer_signals.at_risk_reasons; thresholds in hvc.signal_settings).';
END $fn$;
COMMENT ON FUNCTION hvc._create_at_risk_view() IS
    'Internal: creates or replaces the view hvc.at_risk (called by hvc._create_operations_objects and by upgrades).';

-- hvc.value_profile_summary: created or replaced in place (same columns),
-- by hvc._create_operations_objects and by the upgrade.  One aggregate over
-- hvc.customers, the shares' totals window sums over the five profiles: it
-- read hvc.value_profiles (a second join to snapshot_info, for a column the
-- summary does not show) into a CTE read twice (500 000 customers: 0.42-0.45
-- s, now 0.37-0.39 s).
CREATE OR REPLACE FUNCTION hvc._create_value_profile_summary_view() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    CREATE OR REPLACE VIEW hvc.value_profile_summary AS
    WITH profiles (value_profile, profile_order, rule) AS (
        VALUES ('frequent_premium', 1, 'f_score >= 4 and top-quintile avg_order_value'),
               ('frequent',         2, 'f_score >= 4'),
               ('premium',          3, 'top-quintile avg_order_value'),
               ('new',              4, 'first purchase less than 90 days ago'),
               ('occasional',       5, 'everyone else')
    ), agg AS (
        SELECT c.value_profile,
               count(*) AS customers,
               sum(c.revenue) AS revenue,
               sum(c.orders) AS orders,
               count(*) FILTER (WHERE c.is_high_value) AS high_value_customers,
               sum(c.predicted_clv) AS predicted_clv,
               avg(c.churn_risk) AS avg_churn_risk
          FROM hvc.customers c
         GROUP BY c.value_profile
    )
    SELECT p.value_profile,
           p.profile_order,
           coalesce(a.customers, 0)::bigint                                   AS customers,
           (coalesce(a.customers, 0) / nullif(sum(a.customers) OVER (), 0))::float8 AS customer_share,
           coalesce(a.revenue, 0)::numeric(28,2)                              AS revenue,
           (a.revenue / nullif(sum(a.revenue) OVER (), 0))::float8            AS revenue_share,
           coalesce(a.orders, 0)::bigint                                      AS orders,
           (a.revenue / nullif(a.orders, 0))::numeric(20,2)                   AS avg_order_value,
           coalesce(a.high_value_customers, 0)::bigint                        AS high_value_customers,
           a.predicted_clv::numeric(28,2)                                     AS predicted_clv,
           a.avg_churn_risk::float8                                           AS avg_churn_risk,
           p.rule
      FROM profiles p
      LEFT JOIN agg a ON a.value_profile = p.value_profile
     ORDER BY p.profile_order;
    COMMENT ON VIEW hvc.value_profile_summary IS 'Customers, revenue and ticket per value profile (hvc.value_profiles); every profile is listed, with 0 customers when empty.';
    COMMENT ON COLUMN hvc.value_profile_summary.value_profile IS 'frequent_premium, frequent, premium, new or occasional.';
    COMMENT ON COLUMN hvc.value_profile_summary.profile_order IS 'Display order (1 = frequent_premium ... 5 = occasional).';
    COMMENT ON COLUMN hvc.value_profile_summary.customers IS 'Customers with the profile.';
    COMMENT ON COLUMN hvc.value_profile_summary.customer_share IS 'Share of all customers (NULL without customers).';
    COMMENT ON COLUMN hvc.value_profile_summary.revenue IS 'Their net revenue.';
    COMMENT ON COLUMN hvc.value_profile_summary.revenue_share IS 'Share of total net revenue (NULL when the total is 0).';
    COMMENT ON COLUMN hvc.value_profile_summary.orders IS 'Their orders.';
    COMMENT ON COLUMN hvc.value_profile_summary.avg_order_value IS 'revenue / orders.';
    COMMENT ON COLUMN hvc.value_profile_summary.high_value_customers IS 'How many of them are high-value.';
    COMMENT ON COLUMN hvc.value_profile_summary.predicted_clv IS 'Sum of predicted CLV (NULL without fitted models).';
    COMMENT ON COLUMN hvc.value_profile_summary.avg_churn_risk IS 'Mean churn risk (NULL without a fitted model).';
    COMMENT ON COLUMN hvc.value_profile_summary.rule IS 'The rule of the profile in words.';
END $fn$;
COMMENT ON FUNCTION hvc._create_value_profile_summary_view() IS
    'Internal: creates or replaces the view hvc.value_profile_summary (called by hvc._create_operations_objects and by upgrades).';

-- Called at the end of hvc._create_snapshot_objects (which drops the views
-- first, together with its own).
CREATE OR REPLACE FUNCTION hvc._create_operations_objects(customer_type regtype) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    IF customer_type IS NULL THEN
        RAISE EXCEPTION 'hvc: the customer key type must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DROP VIEW IF EXISTS hvc.value_profile_summary, hvc.value_profiles, hvc.at_risk;
    DROP TABLE IF EXISTS hvc.at_risk_previous;

    EXECUTE format($ddl$
    CREATE TABLE hvc.at_risk_previous (
        customer_id %s PRIMARY KEY,
        refresh_id  bigint NOT NULL
    )$ddl$, customer_type);
    COMMENT ON TABLE hvc.at_risk_previous IS
        'Internal: the customers in hvc.at_risk at the last refresh, to tell who is newly at risk (alerts).';
    COMMENT ON COLUMN hvc.at_risk_previous.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.at_risk_previous.refresh_id IS 'The refresh since which the customer has been in hvc.at_risk without a break.';

    PERFORM hvc._create_signal_objects(customer_type);    -- 72_signals.sql; hvc.at_risk reads it
    PERFORM hvc._create_at_risk_view();

    CREATE VIEW hvc.value_profiles AS
    SELECT c.customer_id, c.value_profile,
           c.orders, c.f_score, c.avg_order_value, i.premium_ticket_from,
           c.revenue, c.tenure_days, c.recency_days, c.tier, c.tier_rank, c.is_high_value,
           c.value_rank, c.predicted_clv, c.churn_risk
      FROM hvc.customers c
      LEFT JOIN (SELECT premium_ticket_from FROM hvc.snapshot_info LIMIT 1) i ON true;
    COMMENT ON VIEW hvc.value_profiles IS
        'hvc.customers.value_profile with the facts its rule uses. How each customer buys, first matching rule: new (first purchase less than 90 days before as_of: tenure_days < 90), frequent_premium (f_score >= 4 and avg_order_value in the top quintile, i.e. >= its 80th percentile over all customers), frequent (f_score >= 4), premium (top-quintile avg_order_value), occasional (everyone else).';
    COMMENT ON COLUMN hvc.value_profiles.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.value_profiles.value_profile IS 'new, frequent_premium, frequent, premium or occasional (see the view comment).';
    COMMENT ON COLUMN hvc.value_profiles.orders IS 'Orders so far.';
    COMMENT ON COLUMN hvc.value_profiles.f_score IS 'RFM frequency score 1-5 (4 or 5 = frequent).';
    COMMENT ON COLUMN hvc.value_profiles.avg_order_value IS 'revenue / orders (the ticket).';
    COMMENT ON COLUMN hvc.value_profiles.premium_ticket_from IS '80th percentile (percentile_cont, exact to 3 decimals) of avg_order_value over all customers: tickets at or above it are premium.';
    COMMENT ON COLUMN hvc.value_profiles.revenue IS 'Net revenue so far.';
    COMMENT ON COLUMN hvc.value_profiles.tenure_days IS 'Days since the first purchase day (below 90 = new).';
    COMMENT ON COLUMN hvc.value_profiles.recency_days IS 'Days since the last purchase day.';
    COMMENT ON COLUMN hvc.value_profiles.tier IS 'Tier.';
    COMMENT ON COLUMN hvc.value_profiles.tier_rank IS 'Rank of the tier (1 = best).';
    COMMENT ON COLUMN hvc.value_profiles.is_high_value IS 'Whether the tier counts as high-value.';
    COMMENT ON COLUMN hvc.value_profiles.value_rank IS 'Value rank (1 = most valuable).';
    COMMENT ON COLUMN hvc.value_profiles.predicted_clv IS 'Predicted CLV (NULL without fitted models).';
    COMMENT ON COLUMN hvc.value_profiles.churn_risk IS 'Churn risk (NULL without a fitted model).';

    PERFORM hvc._create_value_profile_summary_view();
END $fn$;
COMMENT ON FUNCTION hvc._create_operations_objects(regtype) IS
    'Internal: (re)creates the customer-typed operations objects: hvc.at_risk, hvc.at_risk_previous, hvc.value_profiles and hvc.value_profile_summary.';
