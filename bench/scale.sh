#!/usr/bin/env bash
# bench/scale.sh — how hvc.refresh() scales with customers (issue 10 items
# 2 and 3), by hand, not in CI:
#     bash bench/scale.sh [customers:lines ...]
#         default: 1000000:3000000 2000000:6000000 5000000:15000000
# Uses the hvc installed in $PG_CONFIG's PostgreSQL (default
# /usr/lib/postgresql/15/bin/pg_config) and a throwaway cluster (initdb in a
# temporary directory, default settings: shared_buffers 128MB, work_mem 4MB;
# max_wal_size raised so checkpoints stay out of the timed runs).  For each
# size it generates the shop (bench/generate_sales.sql), times a bare
# GROUP BY customer_id, then CALL hvc.refresh() (BG/NBD + Gamma-Gamma, no
# backtest) three times in a fresh session (the first builds the first
# snapshot; the snapshot is vacuumed before the next, as autovacuum does
# between nightly refreshes) whose /proc/<pid>/status a side process
# samples every 0.1 s: peak RssAnon (private memory) and VmHWM (peak
# resident set, which also counts the shared buffers the backend touched:
# at most shared_buffers more) over the three.  Prints one line per size:
# the first refresh, the median of the three, and the ratio of consecutive
# sizes' medians (single runs gave 2 M / 1 M ratios from 1.66 to 2.23).
set -euo pipefail
cd "$(dirname "$0")"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000:3000000 2000000:6000000 5000000:15000000)

. ./cluster.sh
cluster_start
cp scale.sql generate_sales.sql "$tmp/"
chmod a+r "$tmp"/*.sql
psql=("${psql[@]}" -q)

# sample PID's RssAnon and VmHWM (kB) until the file STOP exists; print the peaks
sampler() {
    local pid=$1 stop=$2 peak_anon=0 hwm=0 a h
    while [ ! -e "$stop" ] && [ -r "/proc/$pid/status" ]; do
        a=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        h=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ "${a:-0}" -gt "$peak_anon" ] && peak_anon=$a
        [ "${h:-0}" -gt "$hwm" ] && hwm=$h
        sleep 0.1
    done
    echo "$peak_anon $hwm"
}

echo "scale: $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %-10s %10s %10s %10s %10s %12s %10s\n' customers lines group_by_s first_s median_s ratio peak_anon_MB vmhwm_MB
prev=""
for size in "${sizes[@]}"; do
    c=${size%%:*}; l=${size##*:}
    gb=$("${psql[@]}" -v customers="$c" -v lines="$l" -f "$tmp/scale.sql" 2>&1 | awk '/^GROUP_BY_S/ {print $2}')
    # a fresh session for the refresh: its pid, then the sampler, then the refresh
    rm -f "$tmp/stop" "$tmp/peaks"
    coproc REF { "${psql[@]}" -At 2>&1; }
    echo "SELECT pg_backend_pid();" >&"${REF[1]}"
    read -r pid <&"${REF[0]}"
    ( sampler "$pid" "$tmp/stop" > "$tmp/peaks" ) &
    spid=$!
    echo "SET client_min_messages = warning;" >&"${REF[1]}"
    runs=()
    for k in 1 2 3; do
        [ "$k" -eq 1 ] || echo "VACUUM hvc.customer_snapshot;" >&"${REF[1]}"
        echo "SELECT clock_timestamp() AS t0 \\gset
CALL hvc.refresh(as_of => '2025-06-30');
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2);" >&"${REF[1]}"
        read -r secs <&"${REF[0]}"
        runs+=("$secs")
    done
    touch "$tmp/stop"; wait "$spid"
    exec {REF[1]}>&-
    wait "$REF_PID" 2>/dev/null || true
    read -r anon hwm < "$tmp/peaks"
    median=$(printf '%s\n' "${runs[@]}" | sort -g | sed -n 2p)
    ratio=$( [ -n "$prev" ] && awk -v a="$median" -v b="$prev" 'BEGIN {printf "%.2f", a / b}' || echo -)
    printf '%-10s %-10s %10s %10s %10s %10s %12s %10s\n' "$c" "$l" "$gb" "${runs[0]}" "$median" "$ratio" \
        $(( anon / 1024 )) $(( hwm / 1024 ))
    "${psql[@]}" -At -c "SELECT status, customers, rows_read, timings, left(message, 160) FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1"
    prev=$median
done
