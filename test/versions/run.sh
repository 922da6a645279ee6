#!/usr/bin/env bash
# The regression and isolation suites on PostgreSQL 17 (Debian 13 "trixie")
# and 18 (Debian unstable "sid"), each in a Debian root made with debootstrap
# from this machine's Debian archive and cached outside the repository
# ($HVC_TEST_CACHE, default /var/cache/hvc-test/roots), so that a second run
# costs only the build and the tests.  PostgreSQL 15 is the host's own and is
# tested by test/check.sh directly.
#
# In each root it also builds the Debian package postgresql-<N>-hvc from
# debian/ (pg_buildext picks the root's PostgreSQL version).
#
# One line per version: "PostgreSQL N (suite): P passed, F failed; <.deb>", or
# "PostgreSQL N (suite): skipped: <why>" when Debian unstable's root itself
# cannot be built (archive or debootstrap trouble: unstable moves daily).  A
# build or test failure of hvc fails the run.  Ends with "N passed, M failed".
# Run as root.   HVC_VERSIONS="17 18" picks the versions; --prepare only
# makes the roots (test/check.sh runs that in the background early on).
set -uo pipefail
cd "$(dirname "$0")/../.."
root_dir=$(pwd)
cache=${HVC_TEST_CACHE:-/var/cache/hvc-test}/roots
shared=${HVC_SHARED_DIR:-$(cd "$root_dir/.." && pwd)/shared}
versions=${HVC_VERSIONS:-17 18}
prepare_only=false
[ "${1:-}" = --prepare ] && prepare_only=true
passed=0
failed=0
lines=()

# The Debian archive this machine's apt uses (deb822 .sources or sources.list).
mirror() {
    local m
    m=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '{print $2}' | grep -v security | head -n 1)
    [ -n "$m" ] || m=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null |
        awk '{print $2}' | grep -v security | head -n 1)
    echo "${m:-http://deb.debian.org/debian}"
}

suite_of() { case $1 in 17) echo trixie ;; 18) echo sid ;; *) return 1 ;; esac; }

# what building the Debian package postgresql-<v>-hvc takes in a root
deb_tools=debhelper,dpkg-dev,fakeroot,postgresql-server-dev-all

# Make (once) the root of one version; prints why on failure.
ensure_root() {   # version suite
    local v=$1 s=$2 dir=$cache/$2
    [ -x "$dir/usr/lib/postgresql/$v/bin/pg_config" ] && return 0
    if ! command -v debootstrap >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >/dev/null 2>&1 ||
            { apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1;
              DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >/dev/null 2>&1; } ||
            { echo "cannot install debootstrap"; return 1; }
    fi
    mkdir -p "$cache"
    rm -rf "$dir.tmp"
    local try
    for try in 1 2; do
        if debootstrap --variant=minbase \
               --include="postgresql-$v,postgresql-server-dev-$v,build-essential,$deb_tools" \
               "$s" "$dir.tmp" "$(mirror)" > "$cache/$s.log" 2>&1; then
            rm -rf "$dir"; mv "$dir.tmp" "$dir"
            return 0
        fi
        rm -rf "$dir.tmp"
    done
    echo "debootstrap $s failed: $(grep -E '^(E|W):' "$cache/$s.log" | tail -n 1)"
    return 1
}

mounted=()
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null; done
    mounted=()
}
trap unmount_all EXIT

bind() {   # source target [ro]
    mkdir -p "$2"
    mount --bind "$1" "$2" && mounted+=("$2") || return 1
    [ "${3:-}" = ro ] && mount -o remount,bind,ro "$2" 2>/dev/null
    return 0
}

# Build, install and test hvc in the root of one version.
test_version() {   # version suite
    local v=$1 s=$2 dir=$cache/$2 log rc
    log=$(mktemp)
    bind /proc "$dir/proc" && bind /dev "$dir/dev" && bind /dev/shm "$dir/dev/shm" || {
        echo "cannot mount /proc and /dev into $dir"; return 1; }
    if [ -d "$shared/data" ]; then bind "$shared/data" "$dir/shared-data" ro; fi
    rm -rf "$dir/build" && mkdir -p "$dir/build"
    # the working tree as it is (uncommitted changes included), no build products
    tar -C "$root_dir" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=test/out --exclude=test/out-isolation --exclude=test/unit/build -cf - . |
        tar -C "$dir/build" -xf -
    chmod -R a+rwX "$dir/build"
    chroot "$dir" /bin/bash -c "
        set -e
        export PG_CONFIG=/usr/lib/postgresql/$v/bin/pg_config DEBIAN_FRONTEND=noninteractive
        if ! command -v dh >/dev/null; then   # a root made before the package test
            # (an unstable snapshot's Release file may be past its Valid-Until date)
            apt-get -o Acquire::Check-Valid-Until=false update -qq >/dev/null 2>&1 || true
            apt-get install -y -qq --no-install-recommends ${deb_tools//,/ } >/dev/null 2>&1 || true
        fi
        cd /build
        make -s -j2 PG_CONFIG=\$PG_CONFIG >/dev/null
        make -s install PG_CONFIG=\$PG_CONFIG >/dev/null
        chown -R postgres: /build
        su postgres -s /bin/bash -c '
            set -e
            export PATH=/usr/lib/postgresql/$v/bin:\$PATH PGHOST=/tmp/hvc-pg PGPORT=54$v
            export HVC_CDNOW_DIR=/shared-data/cdnow HVC_OLIST_DIR=/shared-data/olist
            rm -rf /tmp/hvc-pg && mkdir -p /tmp/hvc-pg
            initdb -D /tmp/hvc-pg/data -A trust >/dev/null
            pg_ctl -D /tmp/hvc-pg/data -w -l /tmp/hvc-pg/log \
                -o \"-p 54$v -k /tmp/hvc-pg -c listen_addresses= -c max_worker_processes=16 -c max_parallel_workers=8\" start >/dev/null
            rc=0
            make -s installcheck PG_CONFIG=\$PG_CONFIG || rc=\$?
            pg_ctl -D /tmp/hvc-pg/data -m fast stop >/dev/null
            exit \$rc'
        # the Debian package of this version, built in a clean copy
        if ! command -v pg_buildext >/dev/null || ! command -v dh >/dev/null; then
            echo 'deb skipped: the packaging tools could not be installed in the root (archive trouble)'
            exit 0
        fi
        rm -rf /build-deb && mkdir -p /build-deb/hvc && cp -a /build/. /build-deb/hvc/
        cd /build-deb/hvc && make -s clean PG_CONFIG=\$PG_CONFIG >/dev/null && rm -rf test/out test/out-isolation
        if pg_buildext updatecontrol >/build-deb/log 2>&1 && dpkg-buildpackage -us -uc -b >>/build-deb/log 2>&1 &&
           dpkg-deb -c /build-deb/postgresql-$v-hvc_*.deb | grep -q 'lib/postgresql/$v/lib/hvc.so'; then
            echo \"deb built: \$(basename /build-deb/postgresql-$v-hvc_*.deb)\"
        else
            tail -n 20 /build-deb/log; echo 'deb not built'
        fi
    " > "$log" 2>&1
    rc=$?
    unmount_all
    local p=0 f=0 line
    while IFS= read -r line; do
        if [[ $line =~ All\ ([0-9]+)\ tests\ passed ]]; then
            p=$((p + BASH_REMATCH[1]))
        elif [[ $line =~ ([0-9]+)\ of\ ([0-9]+)\ tests\ failed ]]; then
            f=$((f + BASH_REMATCH[1])); p=$((p + BASH_REMATCH[2] - BASH_REMATCH[1]))
        fi
    done < "$log"
    local deb
    deb=$(sed -n 's/^deb built: //p' "$log")
    if [ $rc -eq 0 ]; then
        if [ -n "$deb" ]; then p=$((p + 1))
        elif grep -q '^deb skipped: ' "$log"; then deb=$(sed -n 's/^deb skipped: /package skipped: /p' "$log")
        else f=$((f + 1)); rc=1; fi
    fi
    if [ $rc -ne 0 ] && [ $f -eq 0 ]; then f=1; fi
    if [ $rc -ne 0 ]; then
        sed 's/^/    /' "$log" | tail -n 40
        local d
        for d in "$dir/build/test/out/regression.diffs" "$dir/build/test/out-isolation/regression.diffs"; do
            [ -s "$d" ] && { echo "--- $d"; head -c 20000 "$d"; }
        done
    fi
    rm -f "$log"
    passed=$((passed + p)); failed=$((failed + f))
    lines+=("PostgreSQL $v ($s): $p passed, $f failed${deb:+; $deb}")
}

for v in $versions; do
    s=$(suite_of "$v") || { echo "unknown version $v"; failed=$((failed + 1)); continue; }
    echo "=== PostgreSQL $v ($s)"
    start=$SECONDS
    if ! why=$(ensure_root "$v" "$s"); then
        if [ "$s" = sid ]; then
            lines+=("PostgreSQL $v ($s): skipped: the Debian $s root could not be built ($why)")
        else
            lines+=("PostgreSQL $v ($s): root not built: $why")
            failed=$((failed + 1))
        fi
        continue
    fi
    if $prepare_only; then
        echo "    root ready ($((SECONDS - start)) s)"
        continue
    fi
    test_version "$v" "$s"
    echo "    ($((SECONDS - start)) s)"
done
if $prepare_only; then
    printf '%s\n' "${lines[@]}"
    exit 0
fi
printf '%s\n' "${lines[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
