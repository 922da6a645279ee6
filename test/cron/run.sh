#!/usr/bin/env bash
# End-to-end test of scheduled refreshes with a real pg_cron (Debian's 1.4).
#
# Starts its own throwaway cluster (initdb into a temporary directory, unix
# socket there and no TCP, so it never touches other clusters) of the
# PostgreSQL installation of $PG_CONFIG (default
# /usr/lib/postgresql/15/bin/pg_config) with pg_cron preloaded and running its
# jobs in background workers, then: creates pg_cron and hvc, registers a small
# sales table, schedules hvc.refresh() every minute, waits (at most 150 s)
# until pg_cron has run it, checks hvc.refresh_log, cron.job_run_details and
# hvc.refresh_status, checks the privilege errors and the README's reader and
# refresher roles, and unschedules.  Needs hvc built and installed into that
# installation (make install PG_CONFIG=...) and pg_cron (postgresql-15-cron).
# The last line is "N passed, M failed"; the exit status is non-zero on any
# failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${HVC_CRON_INSIDE:-}" ]; then
    PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
    bindir=$("$PG_CONFIG" --bindir) || { echo "cron: no pg_config at $PG_CONFIG"; echo "0 passed, 1 failed"; exit 1; }
    if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/pg_cron.control" ]; then
        echo "cron: pg_cron is not installed in $("$PG_CONFIG" --sharedir) (apt-get install postgresql-15-cron, or bash test/setup.sh)"
        echo "0 passed, 1 failed"; exit 1
    fi
    work=$(mktemp -d -t hvc_cron.XXXXXX)
    chmod 755 "$work"
    as_pg=()
    if [ "$(id -u)" = 0 ]; then chown postgres "$work"; as_pg=(runuser -u postgres --); fi
    port=$(( 20000 + RANDOM % 20000 ))
    cleanup() {
        "${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
        rm -rf "$work"
    }
    trap cleanup EXIT
    if ! "${as_pg[@]}" "$bindir/initdb" -D "$work/data" -U postgres -A trust >"$work/initdb.log" 2>&1; then
        cat "$work/initdb.log"; echo "0 passed, 1 failed"; exit 1
    fi
    if ! "${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start -o "-p $port \
            -c listen_addresses='' -c unix_socket_directories='$work' \
            -c shared_preload_libraries=pg_cron -c cron.database_name=postgres \
            -c cron.use_background_workers=on -c max_worker_processes=20 -c timezone=UTC" >/dev/null; then
        cat "$work/server.log"; echo "0 passed, 1 failed"; exit 1
    fi
    HVC_CRON_INSIDE=1 HVC_CRON_RESULT="$work/result" PGHOST="$work" PGPORT="$port" PGUSER=postgres \
    PATH="$bindir:$PATH" bash "$0" > "$work/log" 2>&1
    rc=$?
    # The test's own lines; the server log only when something went wrong.
    if [ $rc -eq 0 ]; then grep -E '^(ok|not ok|#|cron:)' "$work/log"; else cat "$work/log" "$work/server.log"; fi
    if [ -s "$work/result" ]; then
        read -r passed failed < "$work/result"
    else
        passed=0; failed=1
        echo "cron: the test did not run to its end (exit status $rc)"
    fi
    [ $rc -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

# ---------------------------------------------------------------------------
# Inside the throwaway cluster (PGHOST/PGPORT/PGUSER are set).
# ---------------------------------------------------------------------------
export PGDATABASE=postgres
passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && echo "#   $2"; }
# One session, statement by statement (so CALL runs outside a transaction block).
q()    { printf '%s\n' "$1" | psql -X -q -A -t -v ON_ERROR_STOP=1 -f - 2>&1 | sed -E 's/^psql:<stdin>:[0-9]+: //'; }
check() {  # name, sql, expected output
    local got
    got=$(q "$2")
    if [ "$got" = "$3" ]; then ok "$1"; else fail "$1" "expected [$3], got [$got]"; fi
}
finish() { echo "$passed $failed" > "$HVC_CRON_RESULT"; [ "$failed" -eq 0 ]; exit; }

check "pg_cron and hvc install" \
    "SET client_min_messages = warning; CREATE EXTENSION pg_cron; CREATE EXTENSION hvc; SELECT 'done'" "done"
check "the pg_cron launcher runs" \
    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'" "1"

check "a small sales table is registered" "
    SET client_min_messages = warning;
    CREATE TABLE cron_sales (customer_id bigint, ordered_at timestamptz, amount numeric);
    INSERT INTO cron_sales
    SELECT g % 40, timestamptz '2025-01-01' + (g * interval '37 hours'), 10 + g % 90
      FROM generate_series(1, 400) g;
    UPDATE hvc.config SET model = 'none';
    SELECT hvc.register_source('public.cron_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL" "t"

# Errors before anything is scheduled.
check "an invalid schedule is refused with a clear error" "
    DO \$\$ BEGIN PERFORM hvc.schedule_refresh('every day'); EXCEPTION WHEN OTHERS THEN
        RAISE WARNING '%|%', SQLSTATE, SQLERRM; END \$\$;" \
    'WARNING:  22023|hvc: pg_cron rejected the schedule "every day"'
check "a role that may not refresh gets insufficient_privilege and a GRANT hint" "
    SET client_min_messages = warning;
    CREATE ROLE hvc_norefresh; GRANT USAGE ON SCHEMA hvc TO hvc_norefresh; SET ROLE hvc_norefresh;
    DO \$\$ DECLARE st text; h text; BEGIN PERFORM hvc.schedule_refresh(); EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, h = PG_EXCEPTION_HINT;
        RAISE WARNING '%|%', st, h; END \$\$;" \
    'WARNING:  42501|As hvc'"'"'s owner or a superuser: GRANT EXECUTE ON ALL ROUTINES IN SCHEMA hvc TO hvc_norefresh; (see README, Privileges: a refresher role).'
check "a refresher without USAGE on schema cron gets insufficient_privilege and a GRANT hint" "
    SET client_min_messages = warning;
    CREATE ROLE hvc_nocron; GRANT USAGE ON SCHEMA hvc TO hvc_nocron;
    GRANT EXECUTE ON ALL ROUTINES IN SCHEMA hvc TO hvc_nocron; SET ROLE hvc_nocron;
    DO \$\$ DECLARE st text; h text; BEGIN PERFORM hvc.schedule_refresh(); EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, h = PG_EXCEPTION_HINT;
        RAISE WARNING '%|%', st, h; END \$\$;" \
    'WARNING:  42501|As a superuser: GRANT USAGE ON SCHEMA cron TO hvc_nocron;'
check "without a job the status says: not scheduled" \
    "SELECT status FROM hvc.refresh_status WHERE item = 'job'" "not scheduled"

# Schedule, then schedule again: the job is replaced, not duplicated.
jobid=$(q "SET client_min_messages = warning; SELECT hvc.schedule_refresh()")
if [[ "$jobid" =~ ^[0-9]+$ ]]; then ok "schedule_refresh() returns the pg_cron job id ($jobid)"
else fail "schedule_refresh() returns the pg_cron job id" "$jobid"; finish; fi
check "the job runs CALL hvc.refresh() daily at 03:00 GMT in this database" \
    "SELECT jobname, schedule, command, database, username, active FROM cron.job" \
    "hvc_refresh|0 3 * * *|CALL hvc.refresh()|postgres|postgres|t"
check "the NOTICE tells when and where the job runs" \
    "SELECT hvc.schedule_refresh('* * * * *') = $jobid" \
    'NOTICE:  hvc: pg_cron job hvc_refresh (id '"$jobid"') runs CALL hvc.refresh() in database postgres as postgres on schedule "* * * * *" (GMT)
t'
check "scheduling again replaces the job (same id, new schedule)" \
    "SELECT count(*), min(jobid), min(schedule) FROM cron.job WHERE jobname = 'hvc_refresh'" "1|$jobid|* * * * *"
check "a paused job is replaced by an active one" "
    SET client_min_messages = warning;
    UPDATE cron.job SET active = false WHERE jobid = $jobid;
    SELECT hvc.schedule_refresh('* * * * *') IS NOT NULL;
    SELECT count(*), bool_and(active), min(schedule) FROM cron.job WHERE jobname = 'hvc_refresh'" "t
1|t|* * * * *"
jobid=$(q "SELECT jobid FROM cron.job WHERE jobname = 'hvc_refresh'")
check "the status shows the scheduled job" \
    "SELECT item, job_name, schedule, active, job_database, status FROM hvc.refresh_status WHERE item = 'job'" \
    "job|hvc_refresh|* * * * *|t|postgres|scheduled"

# Wait for pg_cron to run it: a new succeeded refresh and a succeeded run.
before=$(q "SELECT coalesce(max(refresh_id), 0) FROM hvc.refresh_log")
waited=0
done_refresh=0
done_run=0
while [ $waited -lt 150 ]; do
    done_refresh=$(q "SELECT count(*) FROM hvc.refresh_log WHERE refresh_id > $before AND status = 'succeeded'")
    done_run=$(q "SELECT count(*) FROM cron.job_run_details WHERE jobid = $jobid AND status = 'succeeded'")
    [ "$done_refresh" != "0" ] && [ "$done_run" != "0" ] && break
    sleep 3; waited=$((waited + 3))
done
echo "# waited ${waited}s for pg_cron"
if [ "$done_refresh" != "0" ]; then ok "pg_cron ran the refresh: a new succeeded row in hvc.refresh_log"
else fail "pg_cron ran the refresh: a new succeeded row in hvc.refresh_log" \
          "$(q "SELECT string_agg(format('%s %s %s', refresh_id, status, message), '; ') FROM hvc.refresh_log")"; fi
if [ "$done_run" != "0" ]; then ok "cron.job_run_details has a succeeded run of the job"
else fail "cron.job_run_details has a succeeded run of the job" \
          "$(q "SELECT string_agg(format('%s %s %s', runid, status, return_message), '; ') FROM cron.job_run_details")"; fi
check "the refresh built the snapshot" \
    "SELECT customers FROM hvc.snapshot_info" "40"
check "the status shows the succeeded pg_cron run" \
    "SELECT count(*) > 0 FROM hvc.refresh_status WHERE item = 'cron_run' AND status = 'succeeded' AND run_id IS NOT NULL" "t"
check "the status shows the succeeded refresh" \
    "SELECT status, customers FROM hvc.refresh_status WHERE item = 'refresh' AND run_id > $before ORDER BY run_id LIMIT 1" \
    "succeeded|40"
check "a job named hvc_refresh of another role running another command is not shown" "
    SET client_min_messages = warning;
    CREATE ROLE hvc_other; GRANT USAGE ON SCHEMA cron TO hvc_other; SET ROLE hvc_other;
    SELECT cron.schedule('hvc_refresh', '0 5 * * *', 'SELECT current_setting(''data_directory'')') IS NOT NULL;
    RESET ROLE;
    SELECT count(*) FROM cron.job WHERE jobname = 'hvc_refresh';
    SELECT string_agg(DISTINCT job_user, ',') FROM hvc.refresh_status WHERE item = 'job';" "t
2
postgres"
check "a reporting role without EXECUTE on hvc.refresh_status cannot read the status" "
    SET client_min_messages = warning;
    CREATE ROLE hvc_reader;
    GRANT USAGE ON SCHEMA hvc TO hvc_reader;
    GRANT SELECT ON hvc.customers, hvc.at_risk, hvc.refresh_status TO hvc_reader;
    SET ROLE hvc_reader;
    DO \$\$ BEGIN PERFORM count(*) FROM hvc.refresh_status; EXCEPTION WHEN OTHERS THEN
        RAISE WARNING '%|%', SQLSTATE, SQLERRM; END \$\$;" \
    'WARNING:  42501|permission denied for function refresh_status'
check "a reporting role with the README grants reads the status" "
    SET client_min_messages = warning;
    GRANT EXECUTE ON FUNCTION hvc.refresh_status(integer) TO hvc_reader;
    SET ROLE hvc_reader;
    SELECT status, schedule FROM hvc.refresh_status WHERE item = 'job';
    SELECT count(*) > 0 FROM hvc.refresh_status WHERE item = 'cron_run';
    SELECT count(*) FROM hvc.customers;" "scheduled|* * * * *
t
40"

# Unschedule.
check "unschedule_refresh() removes the job" "SELECT hvc.unschedule_refresh()" "t"
check "the job is gone from cron.job (the other role's job stays)" \
    "SELECT count(*), min(username) FROM cron.job WHERE jobname = 'hvc_refresh'" "1|hvc_other"
check "the other role removes its own job" \
    "SET ROLE hvc_other; SELECT cron.unschedule('hvc_refresh'); RESET ROLE; SELECT count(*) FROM cron.job" "t
0"
check "unscheduling again says there is nothing to remove" "SELECT hvc.unschedule_refresh()" \
    "NOTICE:  hvc: no pg_cron job hvc_refresh of role postgres to remove
f"
check "the status says: not scheduled" \
    "SELECT status, job_name IS NULL FROM hvc.refresh_status WHERE item = 'job'" "not scheduled|t"

# A non-superuser refresh role, with the GRANTs of README (Privileges): it
# schedules through cron.schedule (cron.schedule_in_database is
# superuser-only unless granted), and can run the refresh itself.
check "a refresh role set up as in the README schedules and refreshes" "
    SET client_min_messages = warning;
    CREATE ROLE hvc_refresher LOGIN;
    GRANT USAGE ON SCHEMA hvc TO hvc_refresher;
    GRANT EXECUTE ON ALL ROUTINES IN SCHEMA hvc TO hvc_refresher;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA hvc TO hvc_refresher;
    REVOKE INSERT, UPDATE, DELETE ON hvc.config, hvc.tier_rules, hvc.rfm_segments, hvc.source FROM hvc_refresher;
    ALTER DEFAULT PRIVILEGES IN SCHEMA hvc GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO hvc_refresher;
    GRANT SELECT ON public.cron_sales TO hvc_refresher;
    GRANT USAGE ON SCHEMA cron TO hvc_refresher;
    SET ROLE hvc_refresher;
    SELECT hvc.schedule_refresh('0 4 * * *') IS NOT NULL;
    SELECT jobname, schedule, command, database, username FROM cron.job;
    CALL hvc.refresh();
    SELECT status FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
    SELECT hvc.unschedule_refresh();
    SELECT count(*) FROM cron.job;" "t
hvc_refresh|0 4 * * *|CALL hvc.refresh()|postgres|hvc_refresher
succeeded
t
0"
# pg_cron runs the job as the refresher: wait for a succeeded run of its job.
rjob=$(q "SET client_min_messages = warning; SET ROLE hvc_refresher; SELECT hvc.schedule_refresh('* * * * *')")
rbefore=$(q "SELECT coalesce(max(refresh_id), 0) FROM hvc.refresh_log")
waited=0
rdone=0
while [ $waited -lt 150 ]; do
    rdone=$(q "SELECT count(*) FROM cron.job_run_details WHERE jobid = '$rjob' AND status = 'succeeded'")
    [ "$rdone" != "0" ] && break
    sleep 3; waited=$((waited + 3))
done
echo "# waited ${waited}s for pg_cron to run the refresher's job"
check "pg_cron ran the refresh as the refresher" \
    "SELECT d.username, r.status FROM cron.job_run_details r JOIN cron.job d ON d.jobid = r.jobid
      WHERE r.jobid = '$rjob' AND r.status = 'succeeded' LIMIT 1;
     SELECT count(*) > 0 FROM hvc.refresh_log WHERE refresh_id > $rbefore AND status = 'succeeded';" \
    "hvc_refresher|succeeded
t"
check "the refresher unschedules its job" "SET ROLE hvc_refresher; SELECT hvc.unschedule_refresh(); RESET ROLE;
    SELECT count(*) FROM cron.job" "t
0"
check "re-registering with another key type keeps the refresh role's access (default privileges)" "
    SET client_min_messages = warning;
    CREATE VIEW cron_sales_text AS SELECT customer_id::text AS customer_id, ordered_at, amount FROM cron_sales;
    GRANT SELECT ON cron_sales_text TO hvc_refresher;
    SELECT hvc.register_source('public.cron_sales_text', 'customer_id', 'ordered_at', 'amount') IS NOT NULL;
    SET ROLE hvc_refresher;
    CALL hvc.refresh();
    SELECT status, customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;" "t
succeeded|40"

finish
