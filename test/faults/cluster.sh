# test/faults/cluster.sh — sourced by test/faults/run.sh and test/upgrade/run.sh.
#
# A throwaway PostgreSQL cluster from $PG_CONFIG (default: Debian's
# PostgreSQL 15): initdb into a mktemp directory, run as user postgres when
# root, reachable only through a unix socket in that directory (no TCP port is
# opened, so it cannot collide with another cluster), removed on exit.  Plus
# the TAP-style helpers: ok / fail / check print "ok - ..." / "not ok - ...",
# finish prints "N passed, M failed" and exits non-zero on any failure.

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
unset PGSERVICE PGOPTIONS PGPASSWORD PGHOSTADDR PGTZ PGDATESTYLE
passed=0
failed=0
CLUSTER_DIR=
BG_PIDS=()

ok()   { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /'; return 0; }
note() { printf '%s\n' "$1" | sed 's/^/# /'; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

# Run a command as the cluster's owner.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# q SQL [psql options...]: one session, statement by statement (so CALL runs
# outside a transaction block); unaligned, tuples only; stderr merged.
q() {
    local sql=$1; shift
    printf '%s\n' "$sql" | "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$@" -f - 2>&1 \
        | sed -E 's/^psql:<stdin>:[0-9]+: //'
}
# check NAME SQL EXPECTED [psql options...]
check() {
    local name=$1 sql=$2 want=$3 got; shift 3
    got=$(q "$sql" "$@")
    if [ "$got" = "$want" ]; then ok "$name"; else fail "$name" "expected [$want]
got [$got]"; fi
}

cluster_start() {  # NAME [extra postgres -c settings...]
    local name=$1 opts="" o; shift
    CLUSTER_DIR=$(mktemp -d -t "hvc_$name.XXXXXX")
    chmod 755 "$CLUSTER_DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$CLUSTER_DIR"
    trap cluster_cleanup EXIT
    trap 'exit 130' INT TERM
    if ! as_owner "$PGBIN/initdb" -D "$CLUSTER_DIR/data" -U postgres -A trust -E UTF8 --locale=C \
            --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1; then
        cat "$CLUSTER_DIR/initdb.log"; fail "initdb"; finish
    fi
    for o in "$@"; do opts="$opts -c $o"; done
    export PGHOST=$CLUSTER_DIR PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
    if ! as_owner "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -t 60 \
            -o "-c listen_addresses='' -c unix_socket_directories='$CLUSTER_DIR' -c port=$PGPORT -c fsync=off -c timezone=UTC$opts" \
            start >/dev/null; then
        cat "$CLUSTER_DIR/server.log"; fail "the throwaway cluster starts"; finish
    fi
}

# Wait (at most $1 seconds) until the server accepts connections again.
cluster_wait_ready() {
    local half=0
    while [ "$half" -lt $(($1 * 2)) ]; do
        "$PGBIN/pg_isready" -q && [ "$(q 'SELECT 1')" = 1 ] && return 0
        sleep 0.5; half=$((half + 1))
    done
    return 1
}

cluster_cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    if [ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR" ]; then
        as_owner "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate stop >/dev/null 2>&1
        [ -n "${KEEP_CLUSTER_LOG:-}" ] && cp "$CLUSTER_DIR/server.log" "$KEEP_CLUSTER_LOG" 2>/dev/null
        rm -rf "$CLUSTER_DIR"
    fi
}
