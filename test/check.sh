#!/usr/bin/env bash
# Every hvc test suite, from a clean Debian 12 machine: installs what is
# missing, builds and installs hvc, then runs
#   1. the numerical core's unit tests       (test/unit, no PostgreSQL)
#   2. the pg_regress and isolation suites   (throwaway cluster, pg_virtualenv)
#   3. the pg_cron end-to-end test           (its own cluster with pg_cron preloaded)
# and ends with one line "N passed, M failed".  Run as root: sudo bash test/check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export HVC_CDNOW_DIR=${HVC_CDNOW_DIR:-$(cd "$root/.." && pwd)/shared/data/cdnow}
if [ ! -r "$HVC_CDNOW_DIR/CDNOW_sample.txt" ]; then
    echo "check: CDNOW data not found at $HVC_CDNOW_DIR; the CDNOW tests will say so and skip"
fi

bash test/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

passed=0
failed=0
suite() {   # name, command...
    local name=$1; shift
    echo "=== $name"
    if "$@"; then passed=$((passed + 1)); echo "=== $name: ok"
    else failed=$((failed + 1)); echo "=== $name: FAILED"; fi
}

regress() {
    rm -rf test/out test/out-isolation
    # pg_virtualenv runs the server as postgres; let it write the outputs.
    mkdir -p test/out test/out-isolation && chmod 777 test/out test/out-isolation
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

if [ -f test/unit/Makefile ]; then
    suite "unit tests (numerical core)" make -s -C test/unit check
fi
suite "pg_regress + isolation" regress
if [ -f test/cron/run.sh ]; then
    suite "pg_cron end to end" bash test/cron/run.sh
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
