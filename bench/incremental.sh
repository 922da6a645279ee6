#!/usr/bin/env bash
# Incremental refresh benchmark (by hand, not in CI):
#     [HVC_BENCH_INDEX=cover] bash bench/incremental.sh [lines] [customers] [modes]
#     defaults: 5000000 500000 "column trigger"   (target scale: 50000000 500000)
# Column mode runs first: its watermark keeps a safety margin of 5 minutes
# (62_incremental.sql), so after a trigger round minutes before, its first
# incremental refresh would read that round's changes again as well.
# HVC_BENCH_INDEX=cover makes the index on customer_id a covering one
# (INCLUDE the mapped columns: the recompute reads the index alone), the
# form register_source recommends for large ledgers; default plain.
# Above 20 lines a customer the generator's orders get bigger baskets
# (lines / customers / 20, rounded up: 5 at the target scale).
# In one throwaway cluster (initdb into a temporary directory, unix socket,
# shared_buffers 1GB, default work_mem; PostgreSQL from $PG_CONFIG, default
# /usr/lib/postgresql/15/bin/pg_config, hvc installed there) it generates
# the synthetic shop (bench/generate_sales.sql), adds updated_at and the
# indexes on customer_id and updated_at, and for each mode:
#   1. registers the source (BG/NBD + Gamma-Gamma, backtest on) and runs the
#      first (full) refresh;
#   2. applies a day of changes: 1 % new lines (90 % from existing
#      customers, about 10 lines each, 20 % of all late: dated up to a year
#      back; 10 % from new customers), 0.01 % of the lines updated (amount),
#      0.01 % deleted;
#      in trigger mode it first times an insert of a thousandth of the lines
#      (at least 10 000) with and without the triggers, seven rolled-back
#      rounds each way after an untimed one (the medians), and 2000
#      single-row INSERT statements each way; then an update of the amounts
#      of every line of a thousandth of the customers (three rounds each way
#      after a warm-up) and 2000 single-row UPDATE statements: the
#      triggers' cost per row and per statement;
#   3. times an incremental refresh (the backtest is reused), then a full one
#      (full => true: the source read again, the backtest recomputed) of the
#      same data, prints where each spent its time (hvc.refresh_log.timings),
#      and compares the two snapshots row for row (refresh_id aside).
# Prints the times, the ratio incremental / full and whether the results
# are equal; the last line is "N passed, M failed" (a check fails when the
# snapshots differ or the refresh was not incremental; the ratio target,
# <= 20 %, is printed, not asserted: timings on a loaded machine are noisy).
set -uo pipefail
cd "$(dirname "$0")/.."

lines=${1:-5000000}
customers=${2:-500000}
modes=${3:-column trigger}
index=${HVC_BENCH_INDEX:-plain}
case "$index" in
    plain) customer_index="CREATE INDEX ON sales (customer_id)";;
    cover) customer_index="CREATE INDEX ON sales (customer_id) INCLUDE (ordered_at, amount, margin, order_id)";;
    *) echo "bench: HVC_BENCH_INDEX is plain or cover, not $index" >&2; exit 2;;
esac
for n in "$lines" "$customers"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "usage: bash bench/incremental.sh [lines] [customers] [modes]" >&2; exit 2; }
done
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir) || { echo "bench: no pg_config at $PG_CONFIG"; echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/hvc.control" ]; then
    echo "bench: hvc is not installed into $("$PG_CONFIG" --sharedir) (make install PG_CONFIG=$PG_CONFIG)"
    echo "0 passed, 1 failed"; exit 1
fi

work=$(mktemp -d -t hvc_incr_bench.XXXXXX)
chmod 755 "$work"
cp bench/generate_sales.sql "$work/"
chmod 644 "$work/generate_sales.sql"
run() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
port=$(( 55000 + RANDOM % 5000 ))
export PGHOST=$work PGPORT=$port PGUSER=postgres PGDATABASE=postgres
cleanup() { run "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
run "$bindir/initdb" -D "$work/data" -U postgres --auth=trust --no-sync >"$work/initdb.log" 2>&1 \
    || { cat "$work/initdb.log"; echo "0 passed, 1 failed"; exit 1; }
run "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
    -o "-c listen_addresses='' -k $work -p $port -c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min -c timezone=UTC" \
    start >/dev/null || { cat "$work/server.log"; echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; }
psqlq() { run "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
# a DO block that runs statement $1 and warns its seconds (server-side
# clock) to $2 decimals
timing_do() {
    printf '%s\n' "DO \$\$ DECLARE t timestamptz := clock_timestamp(); BEGIN $1; RAISE WARNING 'secs %', round(extract(epoch FROM clock_timestamp() - t)::numeric, $2); END \$\$"
}
# seconds of one statement
timed() {
    psqlq -c "SET client_min_messages = warning" -c "$(timing_do "$1" 3)" 2>&1 | sed -n 's/.*secs //p'
}
# seconds of statement $2 in a transaction rolled back, with the table's
# triggers on or off ($1), to $3 decimals
timed_rolled_back() {
    local pre=(-c "SET client_min_messages = warning")
    [ "$1" = on ] || pre+=(-c "ALTER TABLE sales DISABLE TRIGGER USER")
    psqlq -c "BEGIN" "${pre[@]}" -c "$(timing_do "$2" "$3")" -c "ROLLBACK" 2>&1 | sed -n 's/.*secs //p'
}

echo "bench: $lines lines, $customers customers; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
# long histories (more than 20 lines a customer): bigger baskets, as
# customers drop out after about a dozen orders (bench/generate_sales.sql)
basket=$(( (lines / (customers > 0 ? customers : 1) + 19) / 20 )); [ "$basket" -ge 1 ] || basket=1
run "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -v customers="$customers" -v lines="$lines" -v end_date=2025-06-30 \
    -v basket="$basket" -f "$work/generate_sales.sql" | grep 'generate_sales: .*warning' \
    ; [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "0 passed, 1 failed"; exit 1; }
psqlq <<SQL || { echo "0 passed, 1 failed"; exit 1; }
ALTER TABLE sales ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '2025-06-29 23:00+00';
ALTER TABLE sales ALTER COLUMN updated_at SET DEFAULT now();
$customer_index;
CREATE INDEX ON sales (updated_at);
VACUUM ANALYZE sales;
CREATE EXTENSION hvc;
UPDATE hvc.config SET model = 'bgnbd';
SQL
echo "bench: generated $(psqlq -c 'SELECT count(*) FROM sales') lines (basket $basket) of $(psqlq -c 'SELECT count(DISTINCT customer_id) FROM sales') customers, $(psqlq -c "SELECT pg_size_pretty(pg_total_relation_size('sales'))") with a $index index on customer_id in $(( $(date +%s) - start )) s"

# A day of changes (deterministic from the round number).
changes_sql() {
    cat <<SQL
INSERT INTO sales (line_id, order_id, customer_id, ordered_at, amount, margin)
SELECT m.max_line + g, m.max_order + g,
       CASE WHEN g % 10 = 0 THEN m.max_customer + g      -- new customers
            ELSE 1 + (hashint8extended(g / 10, $1) & 1073741823) % m.max_customer END,   -- ~10 lines each
       CASE WHEN g % 5 = 1 THEN timestamptz '2025-06-29 00:00+00' - (1 + g % 365) * interval '1 day'  -- late
            ELSE timestamptz '2025-06-29 00:00+00' + (g % 86000) * interval '1 second' END,
       10 + g % 90, 3 + g % 20
  FROM (SELECT max(line_id) AS max_line, max(order_id) AS max_order, max(customer_id) AS max_customer FROM sales) m,
       generate_series(1, (SELECT count(*) / 100 FROM sales)) g
SQL
}
update_delete_sql() {
    cat <<SQL
UPDATE sales SET amount = amount + 1, updated_at = now() WHERE line_id % 10000 = $1;
DELETE FROM sales WHERE line_id % 10000 = $(( $1 + 1 ));
SQL
}

round=1
for mode in $modes; do
    echo "== mode $mode"
    if [ "$mode" = column ]; then
        reg="changed_at => 'updated_at', track_changes => 'column'"
    else
        reg="track_changes => 'trigger'"
    fi
    psqlq -c "SELECT hvc.register_source('sales', 'customer_id', 'ordered_at', 'amount', margin => 'margin', order_id => 'order_id', $reg)" >/dev/null
    t_first=$(timed "CALL hvc.refresh(as_of => '2025-06-30')")
    echo "first refresh (full, stores the states): $t_first s"
    if [ "$mode" = trigger ]; then
        # The triggers' cost per row: an insert of a thousandth of the
        # table (at least 10 000 lines) with the triggers off and on, in
        # seven alternating rounds each rolled back, after one untimed
        # round each way (the first rounds extend the table); the medians'
        # difference (one 1 % insert each way varied by more than the
        # triggers cost, and five rounds without the warm-up once gave a
        # negative difference).
        probe=$(( lines / 1000 > 10000 ? lines / 1000 : 10000 ))
        probe_sql="INSERT INTO sales (line_id, order_id, customer_id, ordered_at, amount, margin)
                   SELECT -g, -g, 1 + (hashint8extended(g, 99) & 1073741823) % $customers,
                          timestamptz '2025-06-29 00:00+00' + (g % 86000) * interval '1 second', 10 + g % 90, 3 + g % 20
                     FROM generate_series(1, $probe) g"
        probe_off=(); probe_on=()
        timed_rolled_back off "$probe_sql" 4 >/dev/null
        timed_rolled_back on "$probe_sql" 4 >/dev/null
        for k in 1 2 3 4 5 6 7; do
            for way in off on; do
                t=$(timed_rolled_back $way "$probe_sql" 4)
                if [ $way = off ]; then probe_off+=("$t"); else probe_on+=("$t"); fi
            done
        done
        m_off=$(printf '%s\n' "${probe_off[@]}" | sort -g | sed -n 4p)
        m_on=$(printf '%s\n' "${probe_on[@]}" | sort -g | sed -n 4p)
        echo "insert of $probe lines, 7 rounds each way after a warm-up (rolled back): median $m_off s without the triggers, $m_on s with them: $(psqlq -c "SELECT round((($m_on - $m_off) / $probe * 1e6)::numeric, 2)") us per row (runs: off ${probe_off[*]}; on ${probe_on[*]})"
        t_on=$(timed "$(changes_sql $round)")
        n_ins=$(psqlq -c "SELECT count(*) FROM hvc.inserted_rows")
        echo "1 % insert ($n_ins lines) with the triggers: $t_on s"
        single="FOR i IN 1..2000 LOOP INSERT INTO sales (line_id, customer_id, ordered_at, amount) VALUES (-i, i, '2025-06-29', 1); END LOOP"
        s_off=$(timed_rolled_back off "$single" 3)
        s_on=$(timed_rolled_back on "$single" 3)
        echo "2000 single-row INSERT statements: $s_off s without the triggers, $s_on s with them: $(psqlq -c "SELECT round((($s_on - $s_off) / 2000 * 1e6)::numeric, 1)") us per statement"
        # The UPDATE trigger (it logs the old and new rows of the changed
        # ones): the amounts of every line of a thousandth of the customers,
        # through the customer index, three rolled-back rounds each way
        # after a warm-up (medians); then 2000 single-row UPDATE statements.
        ucust=$(( customers / 1000 > 1 ? customers / 1000 : 1 ))
        usql="UPDATE sales SET amount = amount + 1 WHERE customer_id BETWEEN 1 AND $ucust"
        urows=$(psqlq -c "SELECT count(*) FROM sales WHERE customer_id BETWEEN 1 AND $ucust")
        timed_rolled_back off "$usql" 4 >/dev/null
        timed_rolled_back on "$usql" 4 >/dev/null
        u_off=(); u_on=()
        for k in 1 2 3; do
            u_off+=("$(timed_rolled_back off "$usql" 4)")
            u_on+=("$(timed_rolled_back on "$usql" 4)")
        done
        mu_off=$(printf '%s\n' "${u_off[@]}" | sort -g | sed -n 2p)
        mu_on=$(printf '%s\n' "${u_on[@]}" | sort -g | sed -n 2p)
        echo "update of the amounts of $urows lines, 3 rounds each way after a warm-up (rolled back): median $mu_off s without the triggers, $mu_on s with them: $(psqlq -c "SELECT round((($mu_on - $mu_off) / $urows * 1e6)::numeric, 2)") us per row"
        single_u="FOR i IN 1..2000 LOOP UPDATE sales SET amount = amount + 1 WHERE ctid = (SELECT s.ctid FROM sales s WHERE s.customer_id = i LIMIT 1); END LOOP"
        timed_rolled_back off "$single_u" 3 >/dev/null
        su_off=$(timed_rolled_back off "$single_u" 3)
        su_on=$(timed_rolled_back on "$single_u" 3)
        echo "2000 single-row UPDATE statements: $su_off s without the triggers, $su_on s with them: $(psqlq -c "SELECT round((($su_on - $su_off) / 2000 * 1e6)::numeric, 1)") us per statement"
    else
        t_on=$(timed "$(changes_sql $round)")
        echo "1 % insert: $t_on s"
    fi
    psqlq -c "$(update_delete_sql $(( round * 7 )))" >/dev/null
    psqlq -c "VACUUM ANALYZE sales" >/dev/null
    t_inc=$(timed "CALL hvc.refresh(as_of => '2025-06-30')")
    psqlq -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS inc_snap" -c "CREATE TABLE inc_snap AS SELECT * FROM hvc.customer_snapshot" >/dev/null
    kind=$(psqlq -c "SELECT kind || ' (' || kind_reason || ')' FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1")
    steps_inc=$(psqlq -c "SELECT timings FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1")
    t_full=$(timed "CALL hvc.refresh(as_of => '2025-06-30', \"full\" => true)")
    steps_full=$(psqlq -c "SELECT timings FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1")
    diff=$(psqlq -c "ALTER TABLE inc_snap DROP COLUMN refresh_id" \
                 -c "CREATE TEMP TABLE full_snap AS SELECT * FROM hvc.customer_snapshot" \
                 -c "ALTER TABLE full_snap DROP COLUMN refresh_id" \
                 -c "SELECT count(*) FROM ((TABLE inc_snap EXCEPT ALL TABLE full_snap) UNION ALL (TABLE full_snap EXCEPT ALL TABLE inc_snap)) x")
    echo "incremental refresh: $t_inc s [$kind]"
    echo "  its steps (hvc.refresh_log.timings): $steps_inc"
    echo "full refresh (full => true): $t_full s"
    echo "  its steps: $steps_full"
    echo "ratio incremental / full: $(psqlq -c "SELECT round(100 * $t_inc / $t_full, 1)") % (target <= 20 %)"
    case "$kind" in incremental*) ok "$mode: the refresh after the changes was incremental";; *) fail "$mode: the refresh after the changes was $kind";; esac
    if [ "$diff" = 0 ]; then ok "$mode: incremental and full snapshots are equal row for row ($(psqlq -c 'SELECT count(*) FROM inc_snap') customers)"
    else fail "$mode: $diff snapshot rows differ between incremental and full"; fi
    round=$((round + 1))
done
echo "bench: done in $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
