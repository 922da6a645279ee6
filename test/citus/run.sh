#!/usr/bin/env bash
# hvc on a real Citus 12.1 cluster (a coordinator and two workers).
#
#   bash test/citus/run.sh            build Citus once (cached), then test
#   bash test/citus/run.sh --build    only build/refresh the cached tree
#   bash test/citus/run.sh --tree     same, then print the tree's pg_config
#
# Citus 12.1.12 (AGPL-3.0) is a test dependency only: it is built from the
# shared source tarball ($HVC_CITUS_TARBALL, default
# ../shared/vendor/citus-12.1.12-min.tar.xz) into a private copy of the
# PostgreSQL 15 installation of $PG_CONFIG under $HVC_CITUS_CACHE (default
# /var/cache/hvc-test/pg15-citus-<tarball sha256 prefix>-<PostgreSQL version>),
# never into the system PostgreSQL.  The copy is reused while its key (the
# tarball's checksum and the PostgreSQL version) matches.  Build dependencies
# (liblz4-dev libzstd-dev libkrb5-dev) are installed with apt-get when missing.
#
# hvc is built in a temporary copy of the working tree and installed into that
# private tree; three throwaway clusters (coordinator + two workers, loopback
# ports, trust on 127.0.0.1) and a plain PostgreSQL cluster (the reference)
# are started and removed at the end.  Prints ok / not ok lines and a final
# "N passed, M failed"; exits non-zero on failure.  Run as root.
# Cold: about 2 minutes on 2 cores (the Citus build); warm: about 1 minute.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
tarball=${HVC_CITUS_TARBALL:-}
if [ -z "$tarball" ]; then   # ../shared next to the tree, or next to its parent (a worktree)
    for d in "$here/.." "$here/../.."; do
        tarball=$(cd "$d" && pwd)/shared/vendor/citus-12.1.12-min.tar.xz
        [ -f "$tarball" ] && break
    done
fi
cache=${HVC_CITUS_CACHE:-/var/cache/hvc-test}
export DEBIAN_FRONTEND=noninteractive
apt_lock=(-o DPkg::Lock::Timeout=600)

log() { echo "citus: $*"; }
die() { echo "citus: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG"
pgver=$("$PG_CONFIG" --version | awk '{print $2}')
case "$pgver" in 14*|15*|16*) ;; *) log "Citus 12.1 supports PostgreSQL 14-16, not $pgver: skipped"; echo "0 passed, 0 failed"; exit 0;; esac
[ -f "$tarball" ] || { log "no Citus tarball at $tarball: skipped"; echo "0 passed, 0 failed"; exit 0; }
sum=$(sha256sum "$tarball" | cut -c1-16)
major=${pgver%%.*}
tree=$cache/pg$major-citus-$sum-$pgver
stamp=$tree/.hvc-citus-stamp
stamp_key="$(sha256sum "$tarball" | cut -d' ' -f1) | PostgreSQL $pgver"
tbin=$tree/usr/lib/postgresql/$major/bin
tpg_config=$tbin/pg_config

stamp_ok() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_key" ] && [ -x "$tpg_config" ]; }

build_tree() {
    [ "$(id -u)" -eq 0 ] || die "building the cached Citus tree needs root (apt-get); run as root"
    local t0=$SECONDS need=() pkg src libdir sharedir incdir
    for pkg in build-essential pkg-config liblz4-dev libzstd-dev libkrb5-dev libssl-dev flex bison; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
    done
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]}"
        { apt-get "${apt_lock[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
          { apt-get "${apt_lock[@]}" update -qq && apt-get "${apt_lock[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; } ||
            die "apt-get install ${need[*]} failed"
    fi
    rm -rf "$tree" "$tree.src"
    # a private copy of the PostgreSQL installation (its pg_config is
    # relocatable: it reports the copy's own directories)
    # (laid out like Debian's /usr, whatever $PG_CONFIG's own location)
    libdir=$("$PG_CONFIG" --bindir); libdir=${libdir%/bin}
    sharedir=$("$PG_CONFIG" --sharedir)
    incdir=$("$PG_CONFIG" --includedir)
    mkdir -p "$tree/usr/lib/postgresql" "$tree/usr/share/postgresql" "$tree/usr/include"
    cp -a "$libdir" "$tree/usr/lib/postgresql/$major" && cp -a "$sharedir" "$tree/usr/share/postgresql/$major" &&
        cp -a "$incdir" "$tree/usr/include/postgresql" || die "copying the PostgreSQL installation failed"
    rm -f "$("$tpg_config" --sharedir)"/extension/hvc* "$("$tpg_config" --pkglibdir)"/hvc.so
    [ "$("$tpg_config" --pkglibdir)" != "$("$PG_CONFIG" --pkglibdir)" ] || die "pg_config of the copy is not relocatable"
    mkdir -p "$tree.src"
    tar -xJf "$tarball" -C "$tree.src" || die "could not unpack $tarball"
    src=$(find "$tree.src" -mindepth 1 -maxdepth 1 -type d | head -1)
    log "building Citus ($(basename "$src")) for PostgreSQL $pgver into $tree"
    ( cd "$src" &&
      ./configure -q --without-libcurl PG_CONFIG="$tpg_config" > "$cache/citus-build.log" 2>&1 &&
      make -s -j2 with_llvm=no >> "$cache/citus-build.log" 2>&1 &&
      make -s install with_llvm=no >> "$cache/citus-build.log" 2>&1 ) ||
        { tail -n 40 "$cache/citus-build.log"; die "Citus build failed (log in $cache/citus-build.log)"; }
    [ -f "$("$tpg_config" --pkglibdir)/citus.so" ] && [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ] ||
        die "Citus was not installed into the private tree only"
    rm -rf "$tree.src"
    echo "$stamp_key" > "$stamp"
    log "built Citus in $((SECONDS - t0)) s"
}

mkdir -p "$cache"
exec 9> "$cache/citus.lock"
flock 9
if stamp_ok; then log "reusing $tree"; else build_tree; fi
[ "${1:-}" = "--build" ] && exit 0
# --tree: build when needed, then print the tree's pg_config (bench/citus.sh)
[ "${1:-}" = "--tree" ] && { echo "$tpg_config"; exit 0; }

# ---------------------------------------------------------------------------
# hvc into the private tree (a copy of the working tree as it is, uncommitted
# changes included, built outside it)
# ---------------------------------------------------------------------------
work=$(mktemp -d /tmp/hvc-citus.XXXXXX)
chmod 755 "$work"
runas=()
if [ "$(id -u)" -eq 0 ]; then runas=(runuser -u postgres --); fi
nodes=(plain coord w1 w2)
cleanup() {
    local n
    for n in "${nodes[@]}"; do
        [ -f "$work/$n/postmaster.pid" ] && "${runas[@]}" "$tbin/pg_ctl" -D "$work/$n" -m immediate -w stop >/dev/null 2>&1
    done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/tree"
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    ( cd "$here" && git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
      tar --null -T - -cf - ) | tar -xf - -C "$work/tree"
else
    ( cd "$here" && tar --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . ) | tar -xf - -C "$work/tree"
fi
( cd "$work/tree" && make -s -j2 PG_CONFIG="$tpg_config" >/dev/null 2>&1 && make -s install PG_CONFIG="$tpg_config" >/dev/null 2>&1 ) ||
    die "building hvc against $tree failed"
exec 9>&-     # hvc is installed: other runs may use the tree now

# ---------------------------------------------------------------------------
# Clusters: a plain PostgreSQL (the reference, Unix socket only) and a Citus
# coordinator with two workers (loopback ports, trust on 127.0.0.1)
# ---------------------------------------------------------------------------
port_free() { [ ! -e "$work/sock/.s.PGSQL.$1" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port=${HVC_CITUS_PORT:-5460}
pick_port() {
    while ! port_free "$next_port"; do next_port=$((next_port + 1)); done
    echo "$next_port"; next_port=$((next_port + 1))
}
declare -A port
start_node() {   # name, citus?
    local n=$1 citus=$2
    port[$n]=$(pick_port)
    mkdir -p "$work/$n" "$work/sock" "$work/logs"
    [ ${#runas[@]} -gt 0 ] && chown postgres "$work/$n" "$work/sock" "$work/logs"
    "${runas[@]}" "$tbin/initdb" -D "$work/$n" -A trust -U postgres >/dev/null 2>&1 || die "initdb $n failed"
    {
        echo "port = ${port[$n]}"
        echo "unix_socket_directories = '$work/sock'"
        echo "max_worker_processes = 16"
        echo "fsync = off"
        if [ "$citus" = yes ]; then
            echo "listen_addresses = '127.0.0.1'"
            echo "shared_preload_libraries = 'citus'"
            echo "max_connections = 60"
            echo "track_functions = 'all'"
        else
            echo "listen_addresses = ''"
        fi
    } >> "$work/$n/postgresql.conf"
    "${runas[@]}" "$tbin/pg_ctl" -D "$work/$n" -l "$work/logs/$n.log" -w start >/dev/null ||
        { tail -n 20 "$work/logs/$n.log"; die "server $n did not start"; }
}
t0=$SECONDS
start_node plain no
start_node coord yes
start_node w1 yes
start_node w2 yes
log "clusters started in $((SECONDS - t0)) s (coordinator ${port[coord]}, workers ${port[w1]} ${port[w2]})"

q() {   # node, sql... (tuples only, unaligned; stops on error)
    local n=$1; shift
    "$tbin/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$work/sock" -p "${port[$n]}" -U postgres -d postgres "$@"
}

passed=0; failed=0
ok()     { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
check()  {   # description, expected, actual
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   expected: $2"; echo "#   got:      $3"; fi
}

for n in coord w1 w2; do q $n -c "CREATE EXTENSION citus" || die "CREATE EXTENSION citus failed on $n"; done
q coord -c "SELECT citus_set_coordinator_host('127.0.0.1', ${port[coord]})" \
        -c "SELECT citus_add_node('127.0.0.1', ${port[w1]})" \
        -c "SELECT citus_add_node('127.0.0.1', ${port[w2]})" >/dev/null || die "could not build the Citus cluster"

# ---------------------------------------------------------------------------
# 1. CREATE EXTENSION hvc on the coordinator propagates to the workers
# ---------------------------------------------------------------------------
q coord -c "CREATE EXTENSION hvc" 2> "$work/create.err" || { cat "$work/create.err"; die "CREATE EXTENSION hvc failed on the coordinator"; }
want=$(q coord -c "SELECT extversion FROM pg_extension WHERE extname = 'hvc'")
check "CREATE EXTENSION hvc propagates to both workers at version $want" \
      "true|$want true|$want" \
      "$(q coord -c "SELECT string_agg(success || '|' || result, ' ' ORDER BY nodeport) FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'hvc'\$\$)")"

# ---------------------------------------------------------------------------
# The data: bench/generate_sales.sql on the plain server (deterministic),
# without its guest rows (a NULL customer cannot go into a table distributed
# by customer); the same rows are copied into the Citus tables.
# ---------------------------------------------------------------------------
customers=${HVC_CITUS_CUSTOMERS:-3000}; lines=${HVC_CITUS_LINES:-30000}
q plain -c "CREATE EXTENSION hvc" || die "CREATE EXTENSION hvc failed on the plain server"
q plain -v customers="$customers" -v lines="$lines" -v end_date=2025-06-30 -f "$work/tree/bench/generate_sales.sql" >/dev/null ||
    die "generating the sales failed"
q plain -c "DELETE FROM public.sales WHERE customer_id IS NULL" -c "ANALYZE public.sales" || die "cleaning the sales failed"
cols=$(q plain -c "SELECT string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' ORDER BY attnum)
                     FROM pg_attribute WHERE attrelid = 'public.sales'::regclass AND attnum > 0 AND NOT attisdropped")
q plain -c "\\copy public.sales TO '$work/sales.copy'" || die "copying the sales out failed"
rows=$(wc -l < "$work/sales.copy")
q coord -c "SET citus.shard_count = 8" \
        -c "CREATE TABLE public.sales_c ($cols)" -c "SELECT create_distributed_table('public.sales_c', 'customer_id')" \
        -c "CREATE TABLE public.sales_o ($cols)" -c "SELECT create_distributed_table('public.sales_o', 'order_id')" \
        -c "CREATE TABLE public.sales_p ($cols) PARTITION BY RANGE (ordered_at)" \
        -c "CREATE TABLE public.sales_p_old PARTITION OF public.sales_p FOR VALUES FROM (MINVALUE) TO ('2024-07-01')" \
        -c "CREATE TABLE public.sales_p_new PARTITION OF public.sales_p FOR VALUES FROM ('2024-07-01') TO (MAXVALUE)" \
        -c "SELECT create_distributed_table('public.sales_p', 'customer_id')" >/dev/null || die "creating the distributed tables failed"
for t in sales_c sales_o sales_p; do
    q coord -c "\\copy public.$t FROM '$work/sales.copy'" -c "ANALYZE public.$t" || die "loading $t failed"
done
log "$rows sales lines of $customers customers, loaded in $((SECONDS - t0)) s"
[ -n "${HVC_CITUS_HOLD:-}" ] && { log "holding the clusters in $work (ports ${port[coord]} ${port[w1]} ${port[w2]}, plain ${port[plain]})"; sleep "$HVC_CITUS_HOLD"; }

# What a refresh produced, as digests that must match across servers:
# the snapshot rows, the model fits and the tier history of the last two
# refreshes (ids and clock times aside: tier_since is the refresh's clock),
# the high-value customers counted, the cohorts, the at-risk list and the
# tier and value-profile summaries (mean churn risks to 9 decimals: their
# sums run in another order on the workers).
digest_sql="
SELECT 'snapshot ' || count(*) FROM hvc.customer_snapshot;
SELECT 'snapshot.' || j.k || ' ' || md5(string_agg(j.v::text, ',' ORDER BY s.customer_id))
  FROM hvc.customer_snapshot s, jsonb_each(to_jsonb(s) - '{refresh_id,tier_since}'::text[]) AS j(k, v)
 GROUP BY j.k ORDER BY j.k;
SELECT 'fits ' || count(*) || ' ' || md5(coalesce(string_agg((to_jsonb(f) - '{fit_id,refresh_id,fitted_at,source}'::text[])::text, E'\n' ORDER BY refresh_id, model), ''))
  FROM hvc.model_fit f WHERE refresh_id IN (SELECT refresh_id FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 2);
SELECT 'history ' || count(*) || ' ' || md5(coalesce(string_agg((to_jsonb(h) - '{refresh_id,refreshed_at}'::text[])::text, E'\n' ORDER BY customer_id, refresh_id), ''))
  FROM hvc.tier_history h;
SELECT 'moves ' || count(*) FILTER (WHERE direction IN ('up', 'down')) FROM hvc.tier_history;
SELECT 'high_value ' || high_value_customers FROM hvc.snapshot_info;
SELECT 'cohorts ' || count(*) || ' ' || md5(coalesce(string_agg((to_jsonb(c) - 'refresh_id')::text, E'\n' ORDER BY cohort_month, months_after), ''))
  FROM hvc.cohort_retention c;
SELECT 'at_risk ' || count(*) || ' ' || md5(coalesce(string_agg(to_jsonb(a)::text, E'\n' ORDER BY at_risk_rank), ''))
  FROM hvc.at_risk a;
SELECT 'tier_summary ' || count(*) || ' ' || md5(string_agg(concat_ws('|', tier, tier_rank, customers, customer_share, revenue, revenue_share,
                                                                 margin, predicted_clv, round(avg_churn_risk::numeric, 9), is_high_value), E'\n' ORDER BY tier_rank))
  FROM hvc.tier_summary;
SELECT 'value_profile_summary ' || md5(string_agg(concat_ws('|', value_profile, customers, customer_share, revenue, revenue_share, orders,
                                                          avg_order_value, high_value_customers, predicted_clv, round(avg_churn_risk::numeric, 9)), E'\n' ORDER BY profile_order))
  FROM hvc.value_profile_summary;"
two_refreshes() {   # node, source: register, refresh twice, print the digests
    local t1=$SECONDS
    q "$1" -c "SELECT hvc.register_source('$2', customer => 'customer_id', ordered_at => 'ordered_at', amount => 'amount', margin => 'margin', order_id => 'order_id')" \
           -c "CALL hvc.refresh(as_of => '2025-03-31')" -c "CALL hvc.refresh(as_of => '2025-06-30')" -c "$digest_sql"
    local rc=$?
    echo "# $2 on $1: $((SECONDS - t1)) s" >&2
    return $rc
}
two_refreshes plain public.sales > "$work/plain.out" 2> "$work/plain.err" || { cat "$work/plain.err"; die "the reference refresh failed"; }
ref=$(grep -v '^hvc: registered' "$work/plain.out")
case "$ref" in *"moves 0"*) not_ok "the reference's second refresh moves some customers between tiers";;
                *) ok "the reference's second refresh moves some customers between tiers ($(echo "$ref" | sed -n 's/^moves //p'))";; esac
case "$ref" in *"cohorts 0 "*) not_ok "the reference has cohorts";;
                *) ok "the reference has cohorts ($(echo "$ref" | sed -n 's/^cohorts \([0-9]*\) .*/\1/p') rows of hvc.cohort_retention)";; esac
case "$ref" in *"at_risk 0 "*) not_ok "the reference lists customers at risk";;
                *) ok "the reference lists customers at risk ($(echo "$ref" | sed -n 's/^at_risk \([0-9]*\) .*/\1/p') of $(echo "$ref" | sed -n 's/^high_value //p') high-value)";; esac

# ---------------------------------------------------------------------------
# 2. register_source + two refreshes on each Citus source = the plain server
# ---------------------------------------------------------------------------
# calls of the per-customer prediction functions (hvc._citus_score, which
# the snapshot built on the workers uses, or hvc._citus_predict) on the
# workers and on the coordinator (track_functions = all; a backend reports
# its function statistics when idle for a second)
predict_calls() {
    sleep 1.5
    local n w=0 calls="SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE schemaname = 'hvc' AND funcname IN ('_citus_predict', '_citus_score')"
    for n in w1 w2; do w=$((w + $(q $n -c "$calls"))); done
    echo "$w $(q coord -c "$calls")"
}
for t in sales_c sales_o sales_p; do
    read -r w_before c_before < <(predict_calls)
    two_refreshes coord "public.$t" > "$work/$t.out" 2> "$work/$t.err" || { not_ok "refreshes of $t"; sed 's/^/#   /' "$work/$t.err" | head -20; continue; }
    read -r w_after c_after < <(predict_calls)
    got=$(grep -v '^hvc: registered' "$work/$t.out")
    check "$t: snapshot, model fits and tier history of two refreshes = the plain server's" "$ref" "$got"
    # each refresh predicts every customer key of the source once, on the workers
    # (the source distributed by customer) or on the coordinator (by order_id)
    keys=$(q coord -c "SELECT count(DISTINCT customer_id) FROM public.$t")
    case $t in
        sales_o) check "$t: the predictions are computed on the coordinator (no hvc._citus_predict or _citus_score call)" "0 0" \
                       "$((w_after - w_before)) $((c_after - c_before))"
                 check "$t: the snapshot is a local table of the coordinator" "f" \
                       "$(q coord -c "SELECT to_regclass('hvc.customer_snapshot_rows') IS NOT NULL")";;
        *)       check "$t: the predictions of both refreshes are computed on the workers (2 x $keys hvc._citus_score calls there, none on the coordinator)" \
                       "$((2 * keys)) 0" "$((w_after - w_before)) $((c_after - c_before))"
                 check "$t: the snapshot's rows are on the workers (the customers of both refreshes there, the coordinator's table empty)" \
                       "$(q coord -c "SELECT sum(customers) FROM (SELECT customers FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 2) l") 0" \
                       "$(q coord -c "SELECT count(*) FROM hvc.customer_snapshot_rows") $(q coord -c "SELECT pg_relation_size('hvc.customer_snapshot_rows')")"
                 check "$t: hvc.customer_snapshot_rows is colocated with the source; the workers keep the rows of the last two refreshes, the view shows the last one's" \
                       "t|2|$keys|1" \
                       "$(q coord -c "SELECT (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'hvc.customer_snapshot_rows'::regclass) = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'public.$t'::regclass)" \
                                  -c "SELECT count(DISTINCT refresh_id) FROM hvc.customer_snapshot_rows" \
                                  -c "SELECT count(*) || '|' || count(DISTINCT refresh_id) FROM hvc.customer_snapshot" | paste -sd'|')";;
    esac
    check "$t: register_source and the refreshes raise no WARNING" "" "$(grep WARNING "$work/$t.err")"
    case $t in
        sales_o) check "$t: register_source says the source is not distributed by customer" "1" \
                       "$(grep -c 'NOTICE:  hvc: public.sales_o is distributed by column order_id, not by the customer column customer_id' "$work/$t.err" | awk '{print ($1 > 0)}')";;
        *)       check "$t: no NOTICE about the distribution" "0" "$(grep -c 'distributed by column' "$work/$t.err")";;
    esac
done


# The distributed stage: colocated with the registered source (sales_p, the
# last one refreshed) and empty between refreshes (the states are copied to
# the coordinator's temporary stage; nothing stays behind for forget_customer)
check "hvc.citus_stage is colocated with the source and empty after the refresh" "t|0" \
      "$(q coord -c "SELECT (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'hvc.citus_stage'::regclass) = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'public.sales_p'::regclass)" -c "SELECT count(*) FROM hvc.citus_stage" | paste -sd'|')"
check "hvc.citus_stage is not readable by PUBLIC and depends on the extension" "f|1" \
      "$(q coord -c "SELECT has_table_privilege('public', 'hvc.citus_stage', 'SELECT')" -c "SELECT count(*) FROM pg_depend WHERE objid = 'hvc.citus_stage'::regclass AND refclassid = 'pg_extension'::regclass AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'hvc')" | paste -sd'|')"

# A reader during a refresh sees one refresh's rows, never a mix: a second
# session polls the snapshot (rows per refresh_id) while refreshes run
q coord -c "SELECT hvc.register_source('public.sales_c', customer => 'customer_id', ordered_at => 'ordered_at', amount => 'amount', margin => 'margin', order_id => 'order_id')" -c "CALL hvc.refresh(as_of => '2025-03-31')" >/dev/null 2>&1
( for i in 1 2 3; do q coord -c "CALL hvc.refresh(as_of => '2025-0$((3 + i))-30')" >/dev/null 2>&1; done; touch "$work/refreshes.done" ) &
polls=0; mixed=0; counts=""
while [ ! -e "$work/refreshes.done" ]; do
    r=$(q coord -c "SELECT count(DISTINCT refresh_id) || ' ' || count(*) FROM hvc.customer_snapshot")
    polls=$((polls + 1)); [ "${r%% *}" = 1 ] || mixed=$((mixed + 1)); counts="$counts ${r#* }"
done
wait
check "a reader polling during 3 refreshes ($polls polls) always sees the rows of exactly one refresh" "0" "$mixed"
check "the refreshes the reader overlapped succeeded" "succeeded succeeded succeeded" \
      "$(q coord -c "SELECT string_agg(status, ' ' ORDER BY refresh_id) FROM (SELECT * FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 3) l")"

# A refresh committed but not yet marked current (a crash between the
# procedure's commit and hvc._citus_publish): readers keep the previous
# refresh's rows, and the next refresh publishes it first
prev=$(q coord -c "SELECT refresh_id FROM hvc.refresh_log WHERE status = 'succeeded' ORDER BY refresh_id DESC OFFSET 1 LIMIT 1")
q coord -c "UPDATE hvc.citus_current SET refresh_id = $prev" >/dev/null
check "a refresh not marked current: readers see the previous refresh's rows, all of them" "1|$prev|$(q coord -c "SELECT count(*) FROM hvc.customer_snapshot_rows WHERE refresh_id = $prev")" \
      "$(q coord -c "SELECT count(DISTINCT refresh_id) || '|' || min(refresh_id) || '|' || count(*) FROM hvc.customer_snapshot")"
q coord -c "CALL hvc.refresh(as_of => '2025-06-30')" >/dev/null 2>&1
check "the next refresh succeeds and is the one readers see" "succeeded|true" \
      "$(q coord -c "SELECT l.status || '|' || (l.refresh_id = (SELECT DISTINCT refresh_id FROM hvc.customer_snapshot))::text FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT 1")"

# The rows are written by one INSERT ... SELECT per shard, on the shard's
# worker (pushed down: no row repartitioned between workers or pulled to the
# coordinator; Citus does that only while hvc._citus_snapshot_row is immutable)
log=$(q coord -c "SET citus.log_remote_commands = on" -c "SET client_min_messages = log" -c "CALL hvc.refresh(as_of => '2025-06-30')" 2>&1)
check "a refresh writes the snapshot's rows with one pushed-down INSERT ... SELECT per shard (8), nothing repartitioned" "8 0" \
      "$(echo "$log" | grep -o 'INSERT INTO hvc.customer_snapshot_rows_[0-9]* AS citus_table_alias ([^)]*) SELECT' | sort -u | wc -l) $(echo "$log" | grep -c 'worker_partition_query_result\|COPY hvc.customer_snapshot_rows')"

# hvc.priority on the coordinator: the snapshot's rows are on the workers, so
# a lookup is routed to the one worker that holds the customer (one shard
# query); same answers as the plain server's for the same data
prio_sql="SELECT string_agg(p::text, ';' ORDER BY c) FROM generate_series(1, 200, 7) c, hvc.priority(c::bigint) p"
check "hvc.priority on the coordinator = on the plain server (30 customers)" \
      "$(q plain -c "$prio_sql")" "$(q coord -c "$prio_sql")"
check "hvc.priority on the coordinator is one query on one shard of the worker holding the customer" "1 1" \
      "$(q coord -c "SET citus.log_remote_commands = on" -c "SET client_min_messages = log" -c "SELECT count(*) FROM hvc.priority(8::bigint)" 2>&1 | grep 'issuing SELECT' | awk '{n++; m += gsub(/customer_snapshot_rows_[0-9]+/, "&")} END {print n, m}')"

# Right to erasure with the rows on the workers: hvc.forget_customer deletes
# the customer's rows of both refreshes there (and its history)
check "hvc.forget_customer erases a customer's snapshot rows on the workers and its history" "0|0|0" \
      "$(q coord -c "SELECT hvc.forget_customer(15::bigint) > 0" >/dev/null 2>&1; q coord -c "SELECT count(*) FROM hvc.customer_snapshot WHERE customer_id = 15" -c "SELECT count(*) FROM hvc.customer_snapshot_rows WHERE customer_id = 15" -c "SELECT count(*) FROM hvc.tier_history WHERE customer_id = 15" | paste -sd'|')"
check "and nobody else's" "$(q plain -c "SELECT count(*) - 1 FROM hvc.customer_snapshot")" "$(q coord -c "SELECT count(*) FROM hvc.customer_snapshot")"


# ---------------------------------------------------------------------------
# 2b. Incremental refresh of a distributed source (column mode): the changed
#     customers' states are recomputed from their rows on the shards (a
#     semi-join Citus pushes down), and the result equals a full refresh.
#     Trigger mode is refused with a clear error (Citus runs no triggers on
#     distributed tables).
# ---------------------------------------------------------------------------
q coord -c "CREATE TABLE public.sales_u ($cols, updated_at timestamptz NOT NULL DEFAULT now())" \
        -c "SELECT create_distributed_table('public.sales_u', 'customer_id')" \
        -c "INSERT INTO public.sales_u SELECT *, now() - interval '1 hour' FROM public.sales_c" \
        -c "CREATE INDEX ON public.sales_u (customer_id)" -c "CREATE INDEX ON public.sales_u (updated_at)" \
        -c "ANALYZE public.sales_u" >/dev/null 2>&1 || not_ok "creating public.sales_u"
err=$(q coord -c "SELECT hvc.register_source('public.sales_u', customer => 'customer_id', ordered_at => 'ordered_at', amount => 'amount', track_changes => 'trigger')" 2>&1)
check "register_source of a distributed table with track_changes => 'trigger': a clear error, no trigger left" "1|0" \
      "$(echo "$err" | grep -c "ERROR:  hvc: track_changes => 'trigger' is not available for public.sales_u, a Citus table")|$(q coord -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.sales_u'::regclass AND tgname LIKE 'hvc_track%'")"
# a day of changes: new lines of existing customers (some dated a year back),
# a new customer, amounts updated, lines deleted (caught by the row counts)
changes="INSERT INTO public.sales_u (customer_id, ordered_at, amount, margin, order_id)
         SELECT customer_id, CASE WHEN customer_id % 100 = 0 THEN ordered_at - interval '1 year' ELSE ordered_at + interval '1 day' END,
                amount, margin, order_id + 10000000
           FROM public.sales_c WHERE customer_id % 50 = 0 AND ordered_at < '2025-06-01';
         INSERT INTO public.sales_u (customer_id, ordered_at, amount, margin, order_id)
         VALUES (9999001, '2025-06-20', 80, 20, 99999001), (9999001, '2025-06-25', 40, 10, 99999002);
         UPDATE public.sales_u SET amount = amount + 1, updated_at = now() WHERE customer_id % 97 = 0;
         DELETE FROM public.sales_u WHERE customer_id % 89 = 0 AND ordered_at < '2024-06-01';"
inc=$(q coord -c "SET client_min_messages = warning" \
        -c "SELECT hvc.register_source('public.sales_u', customer => 'customer_id', ordered_at => 'ordered_at', amount => 'amount', margin => 'margin', order_id => 'order_id', changed_at => 'updated_at', track_changes => 'column') IS NOT NULL" \
        -c "CALL hvc.refresh(as_of => '2025-06-30')" -c "$changes" -c "CALL hvc.refresh(as_of => '2025-06-30')" \
        -c "SELECT kind || '|' || (kind_reason LIKE '%changed customer(s) recomputed%whose row count dropped (deletes)')::text FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1" \
        -c "CREATE TABLE public.snapshot_inc AS SELECT * FROM hvc.customer_snapshot" \
        -c "CALL hvc.refresh(as_of => '2025-06-30', \"full\" => true)" \
        -c "SELECT count(*) FROM hvc.customer_snapshot" \
        -c "SELECT count(*) FROM (SELECT to_jsonb(i) - '{refresh_id,tier_since}'::text[] FROM public.snapshot_inc i
                                  EXCEPT SELECT to_jsonb(s) - '{refresh_id,tier_since}'::text[] FROM (SELECT * FROM hvc.customer_snapshot OFFSET 0) s) d" \
        -c "DROP TABLE public.snapshot_inc" 2>&1 | grep -v '^t$' | paste -sd' ')
keys=$(q coord -c "SELECT count(DISTINCT customer_id) FROM public.sales_u")
check "after a day of changes the refresh of the distributed source is incremental, and equals a full refresh row for row ($keys customers)" \
      "incremental|true $keys 0" "$inc"

# ---------------------------------------------------------------------------
# 3. The ad-hoc fit aggregates on a distributed summary: the bytea-state
#    forms aggregate on the workers (worker_partial_agg in the shard queries,
#    coord_combine_agg on the coordinator) and give the local table's fit
# ---------------------------------------------------------------------------
q coord -c "CREATE TABLE public.summary_local AS SELECT customer_id, frequency::bigint AS frequency, recency, age, monetary_value FROM hvc.customer_snapshot" \
        -c "CREATE TABLE public.summary_d AS TABLE public.summary_local" \
        -c "SELECT create_distributed_table('public.summary_d', 'customer_id')" >/dev/null 2>&1 || die "creating the distributed summary failed"
for agg in "bgnbd_fit|frequency, recency, age" "pareto_nbd_fit|frequency, recency, age" "mbgnbd_fit|frequency, recency, age" "gamma_gamma_fit|frequency, monetary_value"; do
    f=${agg%%|*}; a=${agg#*|}
    plan=$(q coord -c "SET citus.explain_all_tasks = off" -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT hvc.${f}_distributed($a) FROM public.summary_d")
    check "hvc.${f}_distributed on a distributed table: partial aggregation on the workers, combined on the coordinator" "1 1" \
          "$(echo "$plan" | grep -c 'worker_partial_agg' | awk '{print ($1 > 0)}') $(echo "$plan" | grep -c 'coord_combine_agg' | awk '{print ($1 > 0)}')"
    check "hvc.${f}_distributed over the shards = hvc.${f} over the local table" "t" \
          "$(q coord -c "SELECT (SELECT hvc.${f}_distributed($a)::text FROM public.summary_d) = (SELECT hvc.${f}($a)::text FROM public.summary_local)")"
done
check "with coordinator aggregation disabled, hvc.bgnbd_fit_distributed still runs and hvc.bgnbd_fit (internal state) is refused" \
      "t|ERROR" \
      "$(q coord -c "SET citus.coordinator_aggregation_strategy = 'disabled'" -c "SELECT (hvc.bgnbd_fit_distributed(frequency, recency, age)).converged FROM public.summary_d" 2>/dev/null)|$(q coord -c "SET citus.coordinator_aggregation_strategy = 'disabled'" -c "SELECT hvc.bgnbd_fit(frequency, recency, age) FROM public.summary_d" 2>&1 | grep -o '^ERROR' | head -1)"
plan=$(q coord -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT (m).* FROM (SELECT hvc.bgnbd_fit_distributed(frequency, recency, age) AS m FROM public.summary_d) s")
check "SELECT (m).* FROM (SELECT hvc.bgnbd_fit_distributed(...) AS m ...) s fits once" "1" "$(echo "$plan" | grep -o 'coord_combine_agg' | wc -l)"
nstar=$(q coord -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT (hvc.bgnbd_fit_distributed(frequency, recency, age)).* FROM public.summary_d" | grep -o 'coord_combine_agg' | wc -l)
log "SELECT (hvc.bgnbd_fit_distributed(...)).* has $nstar coord_combine_agg calls in its plan"
plan=$(q coord -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT customer_id, hvc.customer_summary(ordered_at, amount, margin, order_id, '2025-06-30', 'UTC') FROM public.sales_c GROUP BY customer_id")
check "hvc.customer_summary grouped by the distribution column runs entirely on the workers" "1 0" \
      "$(echo "$plan" | grep -c 'hvc.customer_summary' | awk '{print ($1 > 0)}') $(echo "$plan" | sed -n '1,/Task Count/p' | grep -c 'Aggregate')"

# a source that is not distributed: register_source says what it costs
q coord -c "CREATE TABLE public.sales_local ($cols)" -c "CREATE TABLE public.sales_ref ($cols)" \
        -c "SELECT create_reference_table('public.sales_ref')" >/dev/null 2>&1 || die "creating the local and reference tables failed"
for t in sales_local sales_ref; do
    msg=$(q coord -c "SELECT hvc.register_source('public.$t', customer => 'customer_id', ordered_at => 'ordered_at', amount => 'amount')" 2>&1 >/dev/null)
    case $t in
        sales_local) want_msg="NOTICE:  hvc: public.sales_local is not a Citus distributed table: every refresh reads it on the coordinator only";;
        sales_ref)   want_msg="NOTICE:  hvc: public.sales_ref is a Citus reference table: every refresh reads it on one node and ships all its rows to the coordinator";;
    esac
    check "register_source of $t says what it costs" "1" "$(echo "$msg" | grep -cF "$want_msg")"
done

# ---------------------------------------------------------------------------
# 4. A worker without hvc: register_source and refresh fail naming it, and
#    the refresh's failure (with the worker) is in hvc.refresh_log
# ---------------------------------------------------------------------------
q coord -c "SELECT hvc.register_source('public.sales_c', customer => 'customer_id', ordered_at => 'ordered_at', amount => 'amount')" >/dev/null 2>&1
q w2 -c "SET citus.enable_ddl_propagation = off" -c "DROP EXTENSION hvc CASCADE" >/dev/null 2>&1 || not_ok "dropping hvc on worker 2"
err=$(q coord -c "CALL hvc.refresh(as_of => '2025-06-30')" 2>&1)
check "a refresh with hvc missing on a worker fails naming that worker" "1" \
      "$(echo "$err" | grep -c "ERROR:  hvc: hvc $want is not usable on every Citus worker: 127.0.0.1:${port[w2]} (hvc not installed)")"
check "hvc.refresh_log records the failure with the worker" "failed|1" \
      "$(q coord -c "SELECT status || '|' || (message LIKE '%127.0.0.1:${port[w2]} (hvc not installed)%')::int FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1")"
err=$(q coord -c "SELECT hvc.register_source('public.sales_c', customer => 'customer_id', ordered_at => 'ordered_at', amount => 'amount')" 2>&1)
check "register_source with hvc missing on a worker fails naming that worker" "1" \
      "$(echo "$err" | grep -c "127.0.0.1:${port[w2]} (hvc not installed)")"
q w2 -c "SET citus.enable_ddl_propagation = off" -c "CREATE EXTENSION hvc" >/dev/null 2>&1 || not_ok "reinstalling hvc on worker 2"
"${runas[@]}" "$tbin/pg_ctl" -D "$work/w2" -m fast -w stop >/dev/null 2>&1
err=$(q coord -c "CALL hvc.refresh(as_of => '2025-06-30')" 2>&1)
check "a refresh with a worker down fails naming that worker" "1" \
      "$(echo "$err" | grep -c "127.0.0.1:${port[w2]} (unreachable")"
"${runas[@]}" "$tbin/pg_ctl" -D "$work/w2" -l "$work/logs/w2.log" -w start >/dev/null 2>&1
check "after the worker is back, the refresh succeeds" "succeeded" \
      "$(q coord -c "CALL hvc.refresh(as_of => '2025-06-30')" >/dev/null 2>&1; q coord -c "SELECT status FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1")"

# ---------------------------------------------------------------------------
# 5. A text key, and hvc.refresh_now(): the snapshot built on the workers
#    for keys of type text equals the plain server's; refresh_now() in a
#    transaction shows its rows to that transaction, and after COMMIT to all
# ---------------------------------------------------------------------------
q plain -c "CREATE TABLE public.sales_t AS SELECT 'C' || customer_id AS customer_id, ordered_at, amount, margin, order_id FROM public.sales" \
        -c "\\copy public.sales_t TO '$work/sales_t.copy'" >/dev/null || not_ok "creating public.sales_t"
tcols=$(q plain -c "SELECT string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' ORDER BY attnum)
                      FROM pg_attribute WHERE attrelid = 'public.sales_t'::regclass AND attnum > 0 AND NOT attisdropped")
q coord -c "CREATE TABLE public.sales_t ($tcols)" -c "SELECT create_distributed_table('public.sales_t', 'customer_id')" \
        -c "\\copy public.sales_t FROM '$work/sales_t.copy'" -c "ANALYZE public.sales_t" >/dev/null || not_ok "creating the distributed public.sales_t"
two_refreshes plain public.sales_t > "$work/plain_t.out" 2>/dev/null
two_refreshes coord public.sales_t > "$work/coord_t.out" 2>/dev/null
check "a text key: the snapshots of both servers have every customer" "snapshot $customers snapshot $customers" \
      "$(grep -h '^snapshot [0-9]' "$work/plain_t.out" "$work/coord_t.out" | paste -sd' ')"
check "a text key: snapshot, model fits and tier history of two refreshes built on the workers = the plain server's" \
      "$(grep -v '^hvc: registered' "$work/plain_t.out")" "$(grep -v '^hvc: registered' "$work/coord_t.out")"
got=$(q coord -c "BEGIN" -c "SELECT hvc.refresh_now('2025-06-30')" \
              -c "SELECT count(DISTINCT refresh_id) || '|' || max(refresh_id) FROM hvc.customer_snapshot" -c "COMMIT" 2>/dev/null | paste -sd' ')
id=${got%% *}
check "hvc.refresh_now() in a transaction: its rows there, and everyone's after COMMIT" "$id 1|$id 1|$id" \
      "$got $(q coord -c "SELECT count(DISTINCT refresh_id) || '|' || max(refresh_id) FROM hvc.customer_snapshot")"

# ---------------------------------------------------------------------------
# 6. The SQL references of the regression suite, on the coordinator with
#    their sources distributed by customer (-v citus=1): what a refresh
#    built on the workers carries over from the one before (tier_since,
#    previous_tier, tier_changes, alerts; 97_citus_snapshot.sql's own code)
#    over 11 refreshes of a changing shop, without change capture and in
#    column mode; every customer's predictions (computed on the workers)
#    against the SQL building blocks; the backtest against a SQL reference
# ---------------------------------------------------------------------------
#    (their fixed seeds; HVC_CITUS_ORACLE_SEEDS="1 2 3" runs those seeds instead)
for run in ${HVC_CITUS_ORACLE_SEEDS:-fixed}; do
for t in history_oracle predict_oracle backtest_oracle; do
    seed_arg=(); [ "$run" = fixed ] || seed_arg=(-v seed="$run")
    q coord -v citus=1 -v key_type=text "${seed_arg[@]}" -f "$here/test/sql/$t.sql" > "$work/$t.out" 2>&1
    rc=$?
    case $t in
        history_oracle) want="history_oracle: 0 checks differ, 0 kinds of change missing"
                        what="11 refreshes of a changing distributed shop (none and column mode) carry tiers, history and alerts over as the SQL reference does";;
        predict_oracle) want="predict_oracle: 6 of 6 models fitted, 0 checks differ"
                        what="every customer's predictions computed on the workers equal the SQL building blocks' (3 models, weeks and days)";;
        backtest_oracle) want="backtest_oracle: 0 checks differ"
                         what="the backtest of a distributed source equals the SQL reference (3 models, weeks and days)";;
    esac
    [ "$run" = fixed ] || what="$what (seed $run)"
    check "$what" "0 $want" "$rc $(grep -o "$t: .*" "$work/$t.out")"
    [ $rc -eq 0 ] || grep -E -A4 'ERROR|\|[1-9][0-9]*\|' "$work/$t.out" | head -12 | sed 's/^/#   /'
done
done

#@END
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
