#!/usr/bin/env bash
# README quick-start: on a fresh Debian 12,
#     sudo bash test/demo.sh
# installs what is missing and builds/installs hvc (test/setup.sh), then, in
# one throwaway cluster (pg_virtualenv), creates the extension, generates a
# synthetic shop of 20 000 customers / 200 000 sales lines, registers it,
# refreshes as of 2025-06-30 and prints tiers, RFM segments, the ten most
# valuable customers and the model fits; then generates NPS answers,
# referrals, app events and service contacts (bench/generate_signals.sql),
# registers them as signals and prints the ambassadors and the silently
# unhappy high-value customers (test/demo.sql).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (sudo bash test/demo.sh): it installs packages and a throwaway cluster" >&2
    exit 1
fi

bash test/setup.sh
echo "demo: starting a throwaway PostgreSQL 15 cluster (pg_virtualenv)"
pg_virtualenv -v 15 -o shared_buffers=256MB \
    psql -X -v ON_ERROR_STOP=1 -f test/demo.sql
