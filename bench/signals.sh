#!/usr/bin/env bash
# hvc signals benchmark (by hand, not in CI):
#     sudo bash bench/signals.sh [customers] [lines] [signal_rows]   # defaults 500000 5000000 5000000
# Builds and installs hvc (test/setup.sh), then in one throwaway cluster
# (pg_virtualenv; shared_buffers 1GB, default work_mem,
# max_parallel_workers_per_gather 2) generates the synthetic shop
# (bench/generate_sales.sql) and its four signals (bench/generate_signals.sql:
# NPS answers, referrals, engagement events, service contacts), and times
# CALL hvc.refresh() without and with the signals registered, as a ratio
# (target <= 2; bench/signals.sql).
set -euo pipefail
cd "$(dirname "$0")/.."

customers=${1:-500000}
lines=${2:-5000000}
signal_events=${3:-5000000}
for n in "$customers" "$lines" "$signal_events"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "usage: bash bench/signals.sh [customers] [lines] [signal_rows]" >&2; exit 2; }
done
if [ "$(id -u)" -ne 0 ]; then
    echo "bench: run as root (sudo bash bench/signals.sh): test/setup.sh installs packages and hvc" >&2
    exit 1
fi

bash test/setup.sh

work=$(mktemp -d /tmp/hvc-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bench"
cp bench/signals.sql bench/generate_sales.sql bench/generate_signals.sql "$work/bench/"
chmod -R a+rX "$work"
cd "$work"

echo "bench: $customers customers, $lines lines, $signal_events signal rows; $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GB RAM"
runuser -u postgres -- pg_virtualenv -v 15 \
    -o shared_buffers=1GB -o max_parallel_workers_per_gather=2 \
    -o max_wal_size=8GB -o checkpoint_timeout=30min \
    psql -X -v ON_ERROR_STOP=1 -v customers="$customers" -v lines="$lines" \
         -v signal_events="$signal_events" -f bench/signals.sql
