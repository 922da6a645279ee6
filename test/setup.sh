#!/usr/bin/env bash
# Install what building and testing hvc needs on Debian 12 (idempotent), then
# build and install the extension.  Run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# valgrind: the core's unit tests under valgrind; debootstrap: the PostgreSQL
# 17/18 roots; debhelper, dpkg-dev, fakeroot, postgresql-server-dev-all, unzip:
# the packaging test.
for pkg in postgresql-15 postgresql-server-dev-15 postgresql-common postgresql-15-cron \
           build-essential valgrind debootstrap debhelper dpkg-dev fakeroot \
           postgresql-server-dev-all unzip; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
make -s PG_CONFIG="$PG_CONFIG"
make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
echo "setup: hvc built and installed into $($PG_CONFIG --sharedir)/extension"
