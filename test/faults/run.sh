#!/usr/bin/env bash
# Fault tests of the refresh: statement_timeout, pg_cancel_backend,
# pg_terminate_backend and kill -9 of the backend, each half way through a
# refresh of a generated shop (bench/generate_sales.sql, 300 000 lines, a few
# seconds a refresh).  After each fault:
#   - the old snapshot is intact: hvc.customers, tier_summary, pareto_curve,
#     the model fits, snapshot_info and the tier history are what they were
#     (checksums), and no row of the aborted refresh is left in the snapshot;
#   - hvc.refresh_log says what happened: 'failed' with SQLSTATE 57014 for a
#     timeout or a cancel; for a terminated or killed backend the row stays
#     'running' (nothing can run in a dead session) and the next refresh marks
#     it 'interrupted';
#   - the next refresh succeeds and gives exactly the snapshot a clean
#     refresh gives (the data and as_of do not change, so every refresh after
#     the first two is identical).
# The same faults are then run against SELECT hvc.refresh_now() (the refresh
# inside the caller's transaction) when the installed hvc has it: the same
# checks, except that its hvc.refresh_log row rolls back with the caller's
# transaction (no row at all).
#
# Needs hvc built and installed into $PG_CONFIG's PostgreSQL.  Starts its own
# throwaway cluster (test/faults/cluster.sh).  Prints ok / not ok lines and
# "N passed, M failed"; exit status non-zero on failure.  About 2 minutes.
# A fault that lands after the refresh has already committed is not a
# failure of hvc: it is retried earlier (at most 3 times).
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/faults/cluster.sh

LINES=${HVC_FAULT_LINES:-300000}
CUSTOMERS=${HVC_FAULT_CUSTOMERS:-30000}
AS_OF=2025-06-30
CALL_REFRESH="CALL hvc.refresh(as_of => '$AS_OF');"
NOW_REFRESH="SELECT hvc.refresh_now(as_of => '$AS_OF') IS NOT NULL AS refreshed;"

cluster_start faults "max_parallel_workers_per_gather=2" "restart_after_crash=on"
q "CREATE DATABASE faults" >/dev/null
export PGDATABASE=faults

check "hvc installs" "SET client_min_messages = warning; CREATE EXTENSION hvc; SELECT 'ok'" "ok"
gen=$("$PGBIN/psql" -X -q -v customers="$CUSTOMERS" -v lines="$LINES" -v end_date="$AS_OF" \
      -f bench/generate_sales.sql 2>&1)
if [ $? -eq 0 ]; then ok "a shop of $LINES lines is generated"; note "$gen"
else fail "a shop of $LINES lines is generated" "$gen"; finish; fi
check "the shop is registered" "
    SET client_min_messages = warning;
    SELECT hvc.register_source('public.sales', 'customer_id', 'ordered_at', 'amount',
                               margin => 'margin', order_id => 'order_id') IS NOT NULL" "t"

# Everything a refresh writes that readers see, as one line (refresh ids,
# timestamps and fit timings left out: they differ between equal refreshes).
STATE_SQL="SELECT concat_ws(' | ',
  'customers ' || (SELECT count(*) || ' ' || md5(string_agg(c::text, E'\n' ORDER BY c.customer_id)) FROM hvc.customers c),
  -- (float sums depend on the heap order, which changes with every refresh)
  'tiers ' || (SELECT md5(string_agg(concat_ws(',', t.tier, t.tier_rank, t.customers, round(t.customer_share::numeric, 12),
                                              t.revenue, round(t.revenue_share::numeric, 12), t.margin, t.predicted_clv,
                                              round(t.avg_churn_risk::numeric, 12), t.is_high_value), E'\n' ORDER BY t.tier_rank))
                 FROM hvc.tier_summary t),
  'segments ' || (SELECT md5(string_agg(s::text, E'\n' ORDER BY s.segment)) FROM hvc.segment_summary s),
  'pareto ' || (SELECT md5(string_agg(p::text, E'\n' ORDER BY p.customer_percentile)) FROM hvc.pareto_curve p),
  'fits ' || (SELECT md5(string_agg(concat_ws(',', f.model, f.r, f.alpha, f.a, f.b, f.s, f.beta, f.p, f.q, f.v,
                                              f.log_likelihood, f.customers, f.converged, f.iterations), E'\n' ORDER BY f.model))
                FROM hvc.model_fit f WHERE f.refresh_id = (SELECT i.refresh_id FROM hvc.snapshot_info i)),
  'info ' || (SELECT concat_ws(',', i.as_of, i.customers, i.model, i.value_basis, i.premium_ticket_from) FROM hvc.snapshot_info i),
  'history ' || (SELECT count(*) FROM hvc.tier_history),
  'stray rows ' || (SELECT count(*) FROM hvc.customer_snapshot s
                     WHERE s.refresh_id IS DISTINCT FROM (SELECT i.refresh_id FROM hvc.snapshot_info i)))"
state()       { q "$STATE_SQL"; }
snapshot_id() { q "SELECT refresh_id FROM hvc.snapshot_info"; }
last_id()     { q "SELECT coalesce(max(refresh_id), 0) FROM hvc.refresh_log"; }
log_rows()    { q "SELECT string_agg(format('%s %s pid %s: %s', refresh_id, status, backend_pid, message), E'\n' ORDER BY refresh_id)
                     FROM hvc.refresh_log WHERE refresh_id > $1"; }
ms_sleep()    { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# Baseline: a refresh as of three months earlier (so the tier history has
# moves), then two as of $AS_OF; the last two give the same snapshot.
out=$(q "SET client_min_messages = warning; CALL hvc.refresh(as_of => '2025-03-31'); $CALL_REFRESH SELECT 'done'")
if [ "$out" = done ]; then ok "baseline refreshes succeed"; else fail "baseline refreshes succeed" "$out"; finish; fi
t0=$(date +%s%N)
out=$(q "SET client_min_messages = warning; $CALL_REFRESH SELECT 'done'")
T=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$out" = done ] || { fail "a third refresh succeeds" "$out"; finish; }
note "a refresh takes ${T} ms here"
BASE=$(state)
note "snapshot: $BASE"
check "the baseline snapshot has customers, fits and tier history" \
    "SELECT count(*) > 0, (SELECT count(*) FROM hvc.tier_history) > 0,
            (SELECT count(*) FROM hvc.model_fit WHERE refresh_id = (SELECT refresh_id FROM hvc.snapshot_info)) = 2
       FROM hvc.customers" "t|t|t"

# After a fault: the snapshot of refresh $1 is intact.
check_intact() {  # label, snapshot id before
    local got_id got_state
    got_id=$(snapshot_id); got_state=$(state)
    if [ "$got_id" = "$2" ] && [ "$got_state" = "$BASE" ]; then
        ok "$1: the old snapshot is intact (refresh $2, same checksums)"
    else
        fail "$1: the old snapshot is intact (refresh $2, same checksums)" \
             "snapshot of refresh $got_id: $got_state
expected refresh $2: $BASE"
    fi
}
# The next refresh succeeds and gives the same snapshot as a clean one.
check_next_refresh() {  # label
    local out before got_id
    before=$(last_id)
    out=$(q "$CALL_REFRESH")
    got_id=$(snapshot_id)
    if [[ "$out" == *"NOTICE:  hvc: refresh succeeded:"* ]] && [ "$got_id" -gt "$before" ] \
       && [ "$(q "SELECT status FROM hvc.refresh_log WHERE refresh_id = $got_id")" = succeeded ]; then
        ok "$1: the next refresh succeeds (refresh $got_id)"
    else
        fail "$1: the next refresh succeeds" "$out
$(log_rows "$before")"
    fi
    local st; st=$(state)
    if [ "$st" = "$BASE" ]; then ok "$1: the next refresh gives the same snapshot as a clean refresh"
    else fail "$1: the next refresh gives the same snapshot as a clean refresh" "got      $st
expected $BASE"; fi
    check "$1: no refresh is left 'running' in hvc.refresh_log" \
        "SELECT count(*) FROM hvc.refresh_log WHERE status = 'running'" "0"
}

# Start INVOCATION in the background (application_name $1), wait until it is
# inside the refresh, print its backend pid.  For CALL hvc.refresh() that is
# once its 'running' row of hvc.refresh_log is committed; refresh_now() runs
# in the caller's transaction, so there only pg_stat_activity tells.
# Sets BG (the psql process) and pid (its backend; empty if never seen).
start_refresh() {  # appname, invocation, output file
    PGAPPNAME=$1 "$PGBIN/psql" -X -q -A -t -c "$2" >"$3" 2>&1 &
    BG=$!
    BG_PIDS+=("$BG")
    local i
    for i in $(seq 1 240); do
        pid=$(q "SELECT a.pid FROM pg_stat_activity a
                  WHERE a.application_name = '$1' AND a.state = 'active'
                    AND (a.query ~ 'refresh_now' OR EXISTS (SELECT 1 FROM hvc.refresh_log l
                          WHERE l.backend_pid = a.pid AND l.status = 'running'))")
        [[ "$pid" =~ ^[0-9]+$ ]] && return 0
        kill -0 "$BG" 2>/dev/null || break
        sleep 0.25
    done
    pid=
    return 1
}

# One fault against one way of refreshing.
#   kind: timeout | cancel | terminate | kill
#   how:  call | now
#   frac: when to strike, as a fraction (percent) of a refresh's duration
run_fault() {
    local kind=$1 how=$2 frac=$3 label inv before_snap before_log out pid rc try=1
    inv=$CALL_REFRESH; [ "$how" = now ] && inv=$NOW_REFRESH
    label="$kind during $( [ "$how" = now ] && echo 'SELECT hvc.refresh_now()' || echo 'CALL hvc.refresh()')"
    while :; do
        before_snap=$(snapshot_id); before_log=$(last_id)
        local delay=$((T * frac / 100)) app="hvc_fault_${kind}_$how" file="$CLUSTER_DIR/$kind.$how.out"
        if [ "$kind" = timeout ]; then
            out=$(PGAPPNAME=$app q "SET statement_timeout = '${delay}ms'; $inv")
        else
            start_refresh "$app" "$inv" "$file"
            if [ -z "$pid" ]; then
                wait "$BG"; fail "$label: the refresh was seen running" "$(cat "$file")"; return
            fi
            ms_sleep "$delay"
            case $kind in
                cancel)    q "SELECT pg_cancel_backend($pid)" >/dev/null ;;
                terminate) q "SELECT pg_terminate_backend($pid)" >/dev/null ;;
                kill)      kill -9 "$pid" ;;
            esac
            wait "$BG"; rc=$?
            out=$(cat "$file")
            note "$label: struck backend $pid after ${delay} ms; psql exit status $rc"
        fi
        if [ "$kind" = kill ]; then
            if cluster_wait_ready 60; then ok "$label: the server accepts connections again after the crash restart"
            else fail "$label: the server accepts connections again after the crash restart" \
                      "$(tail -20 "$CLUSTER_DIR/server.log")"; return; fi
        elif [ "$kind" = terminate ]; then
            for i in $(seq 1 40); do
                [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid")" = 0 ] && break; sleep 0.25
            done
        fi
        # Too late: the refresh had committed before the fault (or the timeout
        # was longer than the refresh).  Not hvc's fault; strike earlier.
        if [ "$(q "SELECT count(*) FROM hvc.refresh_log WHERE refresh_id > $before_log AND status = 'succeeded'")" != 0 ] \
           || { [ "$how" = now ] && [ "$(snapshot_id)" != "$before_snap" ]; }; then
            if [ $try -lt 3 ]; then
                note "$label: the refresh finished before the fault (at ${delay} ms); striking earlier"
                BASE=$(state); try=$((try + 1)); frac=$((frac / 2)); continue
            fi
            fail "$label: the fault lands during the refresh" "$out"; return
        fi
        break
    done

    case $kind in
        timeout)   want_err="ERROR:  canceling statement due to statement timeout" ;;
        cancel)    want_err="ERROR:  canceling statement due to user request" ;;
        terminate) want_err="FATAL:  terminating connection due to administrator command" ;;
        kill)      want_err="server closed the connection unexpectedly" ;;
    esac
    if [[ "$out" == *"$want_err"* ]]; then ok "$label: the caller gets \"${want_err#*:  }\""
    else fail "$label: the caller gets \"${want_err#*:  }\"" "$out"; fi

    check_intact "$label" "$before_snap"

    local rows; rows=$(q "SELECT string_agg(status || ' ' || coalesce(message, ''), E'\n' ORDER BY refresh_id)
                           FROM hvc.refresh_log WHERE refresh_id > $before_log")
    note "$label: hvc.refresh_log now: ${rows:-(no row)}"
    if [ "$how" = call ]; then
        case $kind in
            timeout|cancel)
                check "$label: hvc.refresh_log records it as failed with SQLSTATE 57014" \
                    "SELECT count(*), min(status), bool_and(message LIKE '%(SQLSTATE 57014)%'), bool_and(finished_at IS NOT NULL)
                       FROM hvc.refresh_log WHERE refresh_id > $before_log" "1|failed|t|t" ;;
            terminate|kill)
                check "$label: hvc.refresh_log still shows the refresh of the dead backend as running" \
                    "SELECT count(*), min(status), min(backend_pid) FROM hvc.refresh_log WHERE refresh_id > $before_log" \
                    "1|running|$pid" ;;
        esac
    else
        # refresh_now() works in the caller's transaction: its row rolls back with it
        check "$label: hvc.refresh_log has no row of the rolled-back refresh_now()" \
            "SELECT count(*) FROM hvc.refresh_log WHERE refresh_id > $before_log" "0"
    fi

    check_next_refresh "$label"

    if [ "$how" = call ] && { [ "$kind" = terminate ] || [ "$kind" = kill ]; }; then
        # the dead backend's row, found by its pid: after a crash restart
        # the identity sequence resumes past the values it had cached (a
        # retry after a kill that came too late finds its refresh's id far
        # beyond before_log + 1)
        check "$label: the next refresh marked it interrupted, saying why" \
            "SELECT status, finished_at IS NOT NULL, message LIKE '%ended before the refresh finished%'
               FROM hvc.refresh_log WHERE refresh_id > $before_log AND backend_pid = $pid
              ORDER BY refresh_id LIMIT 1" "interrupted|t|t"
    elif [ "$how" = now ]; then
        note "$label: hvc.refresh_log after the next refresh: $(log_rows "$before_log")"
    fi
}

run_fault timeout   call 50
run_fault cancel    call 30
run_fault terminate call 55
run_fault kill      call 40

if [ "$(q "SELECT count(*) > 0 FROM pg_proc WHERE proname = 'refresh_now' AND pronamespace = 'hvc'::regnamespace")" = t ]; then
    run_fault timeout   now 50
    run_fault cancel    now 30
    run_fault terminate now 55
    run_fault kill      now 40
else
    note "skipped: hvc.refresh_now() does not exist in this build (faults against it not tested)"
fi

if grep -Eq 'PANIC|TRAP:|was terminated by signal (6|11)' "$CLUSTER_DIR/server.log"; then
    fail "the server log shows no crash other than the kill -9" "$(grep -E 'PANIC|TRAP:|signal' "$CLUSTER_DIR/server.log" | head)"
else
    ok "the server log shows no crash other than the kill -9"
fi
finish
