#!/usr/bin/env bash
# Fuzz hvc with fresh seeds: runs test/sql/fuzz.sql (the pg_regress fuzz test,
# which uses the fixed seed 20261202) with other seeds on a throwaway cluster.
# Every function taking bytes or a composite gets thousands of random and
# mutated inputs; a target fails on an internal error (XX000), and the run
# fails if the backend crashes or a call hangs past statement_timeout.
#
#   bash test/fuzz/run.sh                      # one seed from the clock (printed)
#   HVC_FUZZ_SEEDS="42 4242" bash test/fuzz/run.sh   # reproduce given seeds
#
# Then test/sql/incremental_random.sql with the same seed, text keys and a
# range-partitioned table (pg_regress runs it with integer keys and a plain
# table): 25 rounds
# (HVC_FUZZ_INCREMENTAL_ROUNDS) of random inserts, updates and deletes in
# column and in trigger mode, each incremental refresh compared with a full
# one row for row.
#
# Needs hvc built and installed into $PG_CONFIG's PostgreSQL (default
# /usr/lib/postgresql/15/bin/pg_config).  About 15-20 s per seed.  Prints
# ok / not ok lines, the counts by SQLSTATE as # lines, and ends with
# "N passed, M failed"; the exit status is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir) || { echo "fuzz: no pg_config at $PG_CONFIG"; echo "0 passed, 1 failed"; exit 1; }
seeds=${HVC_FUZZ_SEEDS:-$(( $(date +%s) % 1000000000 ))}
inc_rounds=${HVC_FUZZ_INCREMENTAL_ROUNDS:-25}

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && echo "#   $2"; }

if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/hvc.control" ]; then
    fail "hvc is installed into $("$PG_CONFIG" --sharedir)" "make && make install PG_CONFIG=$PG_CONFIG"
    echo "$passed passed, $failed failed"; exit 1
fi

work=$(mktemp -d -t hvc_fuzz.XXXXXX)
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$work"
    as_owner=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 55999)
cleanup() {
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

if ! "${as_owner[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth=trust >"$work/initdb.log" 2>&1 ||
   ! "${as_owner[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
        -o "-p $port -k $work -c listen_addresses=''" start >/dev/null 2>&1; then
    fail "a throwaway cluster starts" "$(tail -5 "$work/initdb.log" "$work/server.log" 2>/dev/null)"
    echo "$passed passed, $failed failed"; exit 1
fi
export PGHOST=$work PGPORT=$port PGUSER=postgres PGDATABASE=postgres

for seed in $seeds; do
    out="$work/seed_$seed.out"
    echo "# seed $seed"
    "$bindir/createdb" "fuzz_$seed" >"$out" 2>&1
    PGDATABASE="fuzz_$seed" "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v seed="$seed" -v verbose=1 \
        -f "$root/test/sql/fuzz.sql" >>"$out" 2>&1
    rc=$?
    # per-target verdicts ("ok - target|0|states"), then the counts by SQLSTATE
    while IFS='|' read -r verdict internal states; do
        case $verdict in
            "ok - "*)     ok "${verdict#ok - } (seed $seed; $states)" ;;
            "not ok - "*) fail "${verdict#not ok - } (seed $seed)" "$internal internal errors" ;;
        esac
    done < "$out"
    grep -E "^$seed\|" "$out" | sed 's/^/#   /'
    if [ $rc -eq 0 ] && grep -q '^t|0$' "$out"; then
        ok "seed $seed: thousands of calls ran to the end, none an internal error"
    else
        fail "seed $seed: the run ended early (exit status $rc: crash, hang or error)" \
             "$(grep -E 'ERROR|FATAL|server closed|terminated' "$out" | head -3)"
        grep -E 'was terminated by signal|PANIC' "$work/server.log" | head -3 | sed 's/^/#   /'
    fi
    # the incremental refresh against the full one on random changes
    # (test/sql/incremental_random.sql; pg_regress runs it with its own seed)
    out="$work/incremental_$seed.out"
    "$bindir/createdb" "incremental_$seed" >"$out" 2>&1
    PGDATABASE="incremental_$seed" "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v seed="$seed" -v rounds="$inc_rounds" -v key_type=text -v partitioned=true \
        -f "$root/test/sql/incremental_random.sql" >>"$out" 2>&1
    rc=$?
    for mode in column trigger; do
        line=$(grep -E "^$mode\|[0-9]+\|[tf]\|[0-9]+$" "$out")
        if [ $rc -eq 0 ] && [ "$line" = "$mode|$inc_rounds|t|0" ]; then
            ok "seed $seed: $inc_rounds rounds of random changes in $mode mode, each incremental refresh equal to a full one"
        else
            fail "seed $seed: incremental refresh in $mode mode against a full one (exit status $rc)" \
                 "${line:-no summary} $(grep -E "^$mode\|[0-9]+\|[a-z]+\|[0-9]+\|" "$out" | head -3) $(grep -E 'ERROR|FATAL' "$out" | head -2)"
        fi
    done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
