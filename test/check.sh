#!/usr/bin/env bash
# Every hvc test suite, from a clean Debian 12 machine: installs what is
# missing, builds and installs hvc, then runs
#   1. the numerical core's unit tests       (test/unit, no PostgreSQL)
#   2. the pg_regress and isolation suites   (throwaway cluster, pg_virtualenv)
#   3. the pg_cron end-to-end test           (its own cluster with pg_cron preloaded)
#   4. TAP-style scripts, each on its own throwaway cluster: faults (cancel,
#      terminate, kill -9), fuzz, dump/restore, upgrade from 0.1.0, the
#      suites on PostgreSQL 17 and 18 (cached Debian roots), packaging (PGXN
#      META.json, make dist, the Debian package built, installed and tested)
#   5. the regression and isolation suites again on an assert-enabled
#      PostgreSQL 15 built from Debian's source package (cached outside the
#      repository, in /var/cache/hvc-test)
#   6. Citus 12.1 (built from ../shared/vendor into a cached private
#      PostgreSQL 15 tree): a coordinator and two workers against a plain server
# and ends with one line "N passed, M failed".  Run as root: sudo bash test/check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export HVC_CDNOW_DIR=${HVC_CDNOW_DIR:-$(cd "$root/.." && pwd)/shared/data/cdnow}
export HVC_OLIST_DIR=${HVC_OLIST_DIR:-$(cd "$root/.." && pwd)/shared/data/olist}
if [ ! -r "$HVC_CDNOW_DIR/CDNOW_sample.txt" ]; then
    echo "check: CDNOW data not found at $HVC_CDNOW_DIR; the CDNOW tests will say so and skip"
fi

bash test/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

passed=0
failed=0
log=$(mktemp)

# Run a suite, echo its output, and add its test counts to the totals: the
# "N passed, M failed" line of the unit and pg_cron tests, pg_regress's
# "All N tests passed." / "M of N tests failed."; a suite that fails without
# such a line counts as one failure.
suite() {   # name, command...
    local name=$1; shift
    echo "=== $name"
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]} p=0 f=0 line
    while IFS= read -r line; do
        if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
            p=$((p + BASH_REMATCH[1])); f=$((f + BASH_REMATCH[2]))
        elif [[ $line =~ All\ ([0-9]+)\ tests\ passed ]]; then
            p=$((p + BASH_REMATCH[1]))
        elif [[ $line =~ ([0-9]+)\ of\ ([0-9]+)\ tests\ failed ]]; then
            f=$((f + BASH_REMATCH[1])); p=$((p + BASH_REMATCH[2] - BASH_REMATCH[1]))
        fi
    done < "$log"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -eq 0 ]; then echo "=== $name: ok ($p passed)"
    else echo "=== $name: FAILED ($f failed)"; fi
}

regress() {
    rm -rf test/out test/out-isolation
    mkdir -p test/out test/out-isolation
    pg_virtualenv -v 15 -o max_worker_processes=16 -o max_parallel_workers=8 \
        make -s installcheck PG_CONFIG="$PG_CONFIG"
    local rc=$?
    if [ $rc -ne 0 ]; then
        for f in test/out/regression.diffs test/out-isolation/regression.diffs; do
            [ -s "$f" ] && { echo "--- $f"; head -c 60000 "$f"; }
        done
    fi
    return $rc
}

# The long cache builds (Debian roots of PostgreSQL 17 and 18, the
# assert-enabled PostgreSQL 15) start now, in the background, so that on a
# fresh machine their downloads and compiles overlap the host's suites; on a
# warm machine they return at once.  The suites that need them wait for them.
prep=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$prep"' EXIT
prepare() {   # name, command...
    local name=$1; shift
    ( "$@" > "$prep/$name.log" 2>&1; echo $? > "$prep/$name.rc" ) &
    echo $! > "$prep/$name.pid"
}
await() {     # name: wait for a background preparation and show its log
    local name=$1 pid
    pid=$(cat "$prep/$name.pid" 2>/dev/null) || return 0
    while kill -0 "$pid" 2>/dev/null; do sleep 2; done
    echo "--- preparation: $name (exit $(cat "$prep/$name.rc" 2>/dev/null))"
    tail -n 5 "$prep/$name.log"
}
[ -f test/versions/run.sh ] && prepare versions bash test/versions/run.sh --prepare
[ -f test/cassert/run.sh ] && prepare cassert bash test/cassert/run.sh --build
[ -f test/citus/run.sh ] && prepare citus bash test/citus/run.sh --build

if [ -f test/unit/Makefile ]; then
    suite "unit tests (numerical core)" make -s -C test/unit check
    suite "unit tests under valgrind" make -s -C test/unit valgrind
fi
suite "pg_regress + isolation" regress
if [ -f test/cron/run.sh ]; then
    suite "pg_cron end to end" bash test/cron/run.sh
fi
for t in faults fuzz restore upgrade packaging versions; do
    if [ -f "test/$t/run.sh" ]; then
        [ "$t" = versions ] && await versions
        suite "$t" bash "test/$t/run.sh"
    fi
done
if [ -f test/cassert/run.sh ]; then
    await cassert
    suite "assert-enabled PostgreSQL 15" bash test/cassert/run.sh
fi

if [ -f test/citus/run.sh ]; then
    await citus
    suite "Citus 12.1: coordinator + 2 workers" bash test/citus/run.sh
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
