#!/usr/bin/env bash
# hvc benchmark (by hand, not in CI):
#     sudo bash bench/bench.sh [customers] [lines]        # defaults 500000 5000000
#     PG_CONFIG=/path/to/pg_config bash bench/bench.sh ... # hvc already installed there:
#         no root, no test/setup.sh; a throwaway initdb cluster (bench/cluster.sh)
# Builds and installs hvc (test/setup.sh), then in one throwaway cluster
# (pg_virtualenv; shared_buffers 1GB, default work_mem,
# max_parallel_workers_per_gather 2) generates the synthetic shop
# (bench/generate_sales.sql), VACUUM ANALYZEs and warms it, and times
# (median of 3) PostgreSQL's own GROUP BY, a hand-written RFM query and
# CALL hvc.refresh() without a model, with BG/NBD, with Pareto/NBD and with
# BG/NBD plus the backtest (bench/bench.sql).
#
# The cluster runs as the postgres user in a private temporary directory
# (pg_virtualenv started by a non-root user), so the bench never collides
# with a test suite's root pg_virtualenv cluster "15/regress".  max_wal_size
# is raised so checkpoints do not land inside the timed runs.
set -euo pipefail
cd "$(dirname "$0")/.."

customers=${1:-500000}
lines=${2:-5000000}
for n in "$customers" "$lines"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "usage: bash bench/bench.sh [customers] [lines]" >&2; exit 2; }
done
# With PG_CONFIG set: the hvc already installed in that PostgreSQL, in a
# throwaway initdb cluster with the same settings (no root, no test/setup.sh).
if [ -n "${PG_CONFIG:-}" ]; then
    cd bench
    . ./cluster.sh
    cluster_start "shared_buffers = 1GB" "max_parallel_workers_per_gather = 2"
    cp bench.sql generate_sales.sql "$tmp/"
    chmod a+r "$tmp"/*.sql
    echo "bench: $customers customers, $lines lines; $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
    "${psql[@]}" -v customers="$customers" -v lines="$lines" -f "$tmp/bench.sql"
    exit
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "bench: run as root (sudo bash bench/bench.sh): test/setup.sh installs packages and hvc" >&2
    exit 1
fi

bash test/setup.sh

# The SQL files, readable by the postgres user whatever the checkout's permissions.
work=$(mktemp -d /tmp/hvc-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bench"
cp bench/bench.sql bench/generate_sales.sql "$work/bench/"
chmod -R a+rX "$work"
cd "$work"

echo "bench: $customers customers, $lines lines; $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GB RAM"
runuser -u postgres -- pg_virtualenv -v 15 \
    -o shared_buffers=1GB -o max_parallel_workers_per_gather=2 \
    -o max_wal_size=8GB -o checkpoint_timeout=30min \
    psql -X -v ON_ERROR_STOP=1 -v customers="$customers" -v lines="$lines" -f bench/bench.sql
