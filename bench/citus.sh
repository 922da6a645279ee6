#!/usr/bin/env bash
# bench/citus.sh — hvc's refresh on a Citus coordinator + 2 workers against
# the same data on one plain server: refresh wall time, and the CPU time of
# each node's processes during the refresh (the share spent on the workers).
#
#   bash bench/citus.sh [customers] [lines]       (default 200000 2000000)
#
# Uses the cached Citus tree of test/citus/run.sh (built when missing) and
# throwaway clusters; the sales come from bench/generate_sales.sql (guest rows
# dropped), distributed by customer_id (32 shards).  All nodes share this
# machine's cores, so wall times are what one machine can do, not a cluster
# of machines; the CPU split is the point.  Run as root.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
customers=${1:-200000}; lines=${2:-2000000}
tpg_config=$(bash "$here/test/citus/run.sh" --tree | tail -1)
[ -x "$tpg_config" ] || { echo "no Citus tree"; exit 1; }
tbin=$("$tpg_config" --bindir)
work=$(mktemp -d /tmp/hvc-citus-bench.XXXXXX); chmod 755 "$work"
runas=(); [ "$(id -u)" -eq 0 ] && runas=(runuser -u postgres --)
# free loopback ports from HVC_CITUS_BENCH_PORT (default 5465) up, as test/citus/run.sh picks them
port_free() { [ ! -e "$work/sock/.s.PGSQL.$1" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
declare -A port
next_port=${HVC_CITUS_BENCH_PORT:-5465}
for n in plain coord w1 w2; do
    while ! port_free "$next_port"; do next_port=$((next_port + 1)); done
    port[$n]=$next_port; next_port=$((next_port + 1))
done
cleanup() { for n in plain coord w1 w2; do [ -f "$work/$n/postmaster.pid" ] && "${runas[@]}" "$tbin/pg_ctl" -D "$work/$n" -m immediate -w stop >/dev/null 2>&1; done; rm -rf "$work"; }
trap cleanup EXIT
( cd "$here" && make -s PG_CONFIG="$tpg_config" >/dev/null && make -s install PG_CONFIG="$tpg_config" >/dev/null ) || { echo "hvc build failed"; exit 1; }
mkdir -p "$work/sock" "$work/logs"; [ ${#runas[@]} -gt 0 ] && chown postgres "$work/sock" "$work/logs"
for n in plain coord w1 w2; do
    mkdir "$work/$n"; [ ${#runas[@]} -gt 0 ] && chown postgres "$work/$n"
    "${runas[@]}" "$tbin/initdb" -D "$work/$n" -A trust -U postgres >/dev/null 2>&1
    { echo "port = ${port[$n]}"; echo "unix_socket_directories = '$work/sock'"; echo "fsync = off"
      echo "shared_buffers = 256MB"; echo "work_mem = 64MB"; echo "max_worker_processes = 16"
      if [ $n != plain ]; then echo "listen_addresses = '127.0.0.1'"; echo "shared_preload_libraries = 'citus'"; else echo "listen_addresses = ''"; fi
    } >> "$work/$n/postgresql.conf"
    "${runas[@]}" "$tbin/pg_ctl" -D "$work/$n" -l "$work/logs/$n.log" -w start >/dev/null || { tail "$work/logs/$n.log"; exit 1; }
done
q() { local n=$1; shift; "$tbin/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work/sock" -p "${port[$n]}" -U postgres -d postgres "$@"; }
for n in coord w1 w2; do q $n -c "CREATE EXTENSION citus"; done
q coord -c "SELECT citus_set_coordinator_host('127.0.0.1', ${port[coord]})" -c "SELECT citus_add_node('127.0.0.1', ${port[w1]})" -c "SELECT citus_add_node('127.0.0.1', ${port[w2]})" >/dev/null
q coord -c "CREATE EXTENSION hvc"; q plain -c "CREATE EXTENSION hvc"
q plain -v customers="$customers" -v lines="$lines" -v end_date=2025-06-30 -f "$here/bench/generate_sales.sql" >/dev/null
q plain -c "DELETE FROM public.sales WHERE customer_id IS NULL" -c "VACUUM ANALYZE public.sales"
cols=$(q plain -c "SELECT string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.sales'::regclass AND attnum > 0 AND NOT attisdropped")
q plain -c "\\copy public.sales TO '$work/sales.copy'"
q coord -c "CREATE TABLE public.sales ($cols)" -c "SELECT create_distributed_table('public.sales', 'customer_id')" >/dev/null
q coord -c "\\copy public.sales FROM '$work/sales.copy'" -c "VACUUM ANALYZE public.sales"
rm -f "$work/sales.copy"
for n in plain coord; do
    q $n -c "SELECT hvc.register_source('public.sales', customer => 'customer_id', ordered_at => 'ordered_at', amount => 'amount', margin => 'margin', order_id => 'order_id')" >/dev/null
done
# CPU seconds of a cluster: its postmaster (with its reaped children) and live children
cpu() {
    local pm; pm=$(head -1 "$work/$1/postmaster.pid")
    local pids="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
    local t=0 p f
    for p in $pids; do
        f=$(cat /proc/$p/stat 2>/dev/null) || continue
        f=${f##*) }   # fields from 3 on
        set -- $f
        if [ "$p" = "$pm" ]; then t=$((t + ${12} + ${13} + ${14} + ${15})); else t=$((t + ${12} + ${13})); fi
    done
    echo "$t"
}
hz=$(getconf CLK_TCK)
echo "bench/citus.sh: $customers customers, $(q plain -c 'SELECT count(*) FROM public.sales') lines (guest rows dropped)"
for round in 1 2; do
    for n in plain coord; do
        declare -A before
        for m in plain coord w1 w2; do before[$m]=$(cpu $m); done
        t0=$(date +%s.%N)
        q $n -c "CALL hvc.refresh(as_of => '2025-06-30')" 2>/dev/null
        t1=$(date +%s.%N)
        line="round $round, $([ $n = plain ] && echo 'one server ' || echo 'Citus      '): refresh $(echo "$t1 - $t0" | bc | xargs printf '%.2f') s; CPU s:"
        tot=0; wk=0
        for m in plain coord w1 w2; do
            d=$(( $(cpu $m) - ${before[$m]} )); tot=$((tot + d)); [ $m = w1 ] || [ $m = w2 ] && wk=$((wk + d))
            line="$line $m $(echo "scale=2; $d / $hz" | bc)"
        done
        [ $n = coord ] && line="$line; workers' share $(( tot > 0 ? 100 * wk / tot : 0 )) %"
        echo "$line"
    done
done
# HVC_BENCH_HOLD=seconds keeps the clusters up afterwards (for profiling)
[ -n "${HVC_BENCH_HOLD:-}" ] && { echo "holding the clusters in $work"; sleep "$HVC_BENCH_HOLD"; }
