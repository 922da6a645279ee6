#!/usr/bin/env bash
# The pg_regress and isolation suites against an assertion-enabled build of
# PostgreSQL 15 (--enable-cassert --enable-debug: Assert()s are checked and
# freed memory is clobbered, so a use-after-free across SPI_finish or a
# memory-context reset crashes or fails a test instead of passing by luck).
#
#   bash test/cassert/run.sh            build the server once (cached), then test
#   bash test/cassert/run.sh --build    only build/refresh the cached server
#
# The server is built from the upstream tarball of Debian's source package of
# the installed postgresql-15 (the newest the archive serves when that one is
# gone; a deb-src entry for the machine's own Debian archive is added when
# missing) into $HVC_CASSERT_CACHE (default /var/cache/hvc-test), outside
# the repository, and reused while its stamp (source version + configure
# flags) matches.  hvc is built in a temporary copy of the working tree (the
# tree's own objects are untouched), installed into that server, and tested on
# a throwaway cluster (Unix socket only).  Prints pg_regress's summary lines;
# exits non-zero on failure, after printing the head of regression.diffs and
# any crash or failed assertion from the server log.  Run as root.
#
# Environment: HVC_CDNOW_DIR, HVC_OLIST_DIR (default ../shared/data/...),
# REGRESS / ISOLATION (tests to run instead of test/schedule and
# test/isolation_schedule), HVC_CASSERT_CACHE, HVC_CASSERT_PORT.
# Cold (build included): about 6 minutes on 2 cores; warm: under a minute.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cache=${HVC_CASSERT_CACHE:-/var/cache/hvc-test}
prefix=$cache/pg15-cassert
srcdir=$cache/pg15-cassert-src
stamp=$prefix/.hvc-cassert-stamp
cflags="-O1 -g"
# ICU, libxml and the contrib modules are the ones the tests use
# (nondeterministic collations, xpath(), citext, dblink, amcheck, file_fdw).
configure_flags="--enable-cassert --enable-debug --with-icu --with-libxml --without-readline --without-zlib --without-llvm"
contrib_modules="citext dblink amcheck file_fdw"
export DEBIAN_FRONTEND=noninteractive
apt_lock=(-o DPkg::Lock::Timeout=600)

log() { echo "cassert: $*"; }
die() { echo "cassert: $*" >&2; exit 1; }

# The source version to build: the installed server's, so both builds test the
# same PostgreSQL; empty when postgresql-15 is not installed (then: the newest).
want_version=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)

# The stamp records the installed version the build was made for, the source
# version built (the archive may no longer serve the installed one's source:
# then the newest it does serve) and the flags.
stamp_key="for ${want_version:-any} | upstream tarball | $cflags | $configure_flags | $contrib_modules"
stamp_ok() {
    [ -x "$prefix/bin/pg_config" ] && [ -f "$stamp" ] || return 1
    [ "$(sed -n 2p "$stamp")" = "$stamp_key" ]
}

# Add deb-src entries mirroring the machine's Debian deb entries (one-line
# sources.list format and deb822 .sources files alike).
add_deb_src() {
    local out=/etc/apt/sources.list.d/hvc-test-deb-src.sources f
    [ -f "$out" ] && return 0
    {
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] || continue
            # deb [opts] URI suite components...  ->  a deb822 stanza
            awk '$1 == "deb" && /debian/ {
                    i = 2; opts = "";
                    if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
                    uri = $i; suite = $(i+1); comps = "";
                    for (j = i + 2; j <= NF && $j !~ /^#/; j++) comps = comps " " $j;
                    signed = "";
                    if (match(opts, /signed-by=[^] ]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10);
                    printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents:%s\n", uri, suite, comps;
                    if (signed != "") printf "Signed-By: %s\n", signed;
                    printf "\n" }' "$f"
        done
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] && [ "$f" != "$out" ] || continue
            # stanzas are separated by blank lines; keep the Debian ones with Types: deb
            awk -v RS= -v ORS='\n\n' '/(^|\n)Types:[^\n]*deb([ \n]|$)/ && /(^|\n)URIs:[^\n]*debian/ && !/(^|\n)Enabled: *no/ {
                    n = split($0, lines, "\n"); s = "";
                    for (k = 1; k <= n; k++) {
                        if (lines[k] ~ /^#/) continue;
                        if (lines[k] ~ /^Types:/) lines[k] = "Types: deb-src";
                        s = s lines[k] "\n" }
                    printf "%s", s; printf "\n" }' "$f"
        done
    } > "$out.tmp"
    if [ ! -s "$out.tmp" ]; then rm -f "$out.tmp"; die "no Debian archive found in /etc/apt/sources.list*"; fi
    mv "$out.tmp" "$out"
    log "added deb-src entries in $out"
}

build_server() {
    [ "$(id -u)" -eq 0 ] || die "building the cached server needs root (apt-get); run as root"
    local t0=$SECONDS src ver orig need=() pkg
    for pkg in build-essential bzip2 perl pkg-config libicu-dev libxml2-dev; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
    done
    add_deb_src
    log "apt-get update"
    apt-get "${apt_lock[@]}" update -qq || die "apt-get update failed"
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]}"
        apt-get "${apt_lock[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
            die "apt-get install ${need[*]} failed"
    fi
    rm -rf "$srcdir" "$prefix"
    mkdir -p "$srcdir"
    # the installed version first, then every version the archive lists, newest first
    local versions v
    versions=$( { echo "$want_version"; apt-cache showsrc postgresql-15 2>/dev/null |
                  sed -n 's/^Version: //p' | sort -rV; } | awk 'NF && !seen[$0]++')
    [ -n "$versions" ] || die "no source package postgresql-15 in the archive"
    for v in $versions; do
        rm -rf "${srcdir:?}"/*
        ( cd "$srcdir" && apt-get source -qq --download-only "postgresql-15=$v" > "$cache/pg15-cassert-source.log" 2>&1 ) && break
        log "source $v not available, trying the next"
    done
    # The upstream tarball of the source package, without Debian's patches:
    # they move the module directory (pkglibdir) to /usr/lib/postgresql/15/lib
    # whatever the --prefix, so installing would overwrite the system server's
    # modules and PGXS files.
    orig=$(find "$srcdir" -maxdepth 1 -name 'postgresql-15_*.orig.tar.*' | head -1)
    [ -n "$orig" ] || { cat "$cache/pg15-cassert-source.log"; die "apt-get source postgresql-15 failed"; }
    ver=$(basename "$(find "$srcdir" -maxdepth 1 -name '*.dsc' | head -1)" .dsc)
    ver=${ver#postgresql-15_}
    tar -xf "$orig" -C "$srcdir" || die "could not unpack $orig"
    src=$(find "$srcdir" -mindepth 1 -maxdepth 1 -type d -name 'postgresql-*' | head -1)
    [ -n "$src" ] || die "no source tree unpacked in $srcdir"
    log "building PostgreSQL $ver (upstream source) with $configure_flags CFLAGS='$cflags' into $prefix"
    ( cd "$src" &&
      ./configure -q --prefix="$prefix" $configure_flags CFLAGS="$cflags" > "$cache/pg15-cassert-configure.log" 2>&1 &&
      make -s -j2 > "$cache/pg15-cassert-build.log" 2>&1 &&
      for m in $contrib_modules; do make -s -C "contrib/$m" >> "$cache/pg15-cassert-build.log" 2>&1 || exit 1; done ) ||
        { tail -n 40 "$cache/pg15-cassert-configure.log" "$cache/pg15-cassert-build.log" 2>/dev/null; die "PostgreSQL build failed (logs in $cache)"; }
    # never install anywhere but under the prefix
    local bad
    bad=$("$src/src/bin/pg_config/pg_config" | awk -F' = ' -v p="$prefix" '$2 ~ /^\// && index($2, p) != 1')
    [ -z "$bad" ] || die "the build would install outside $prefix: $bad"
    ( cd "$src" &&
      make -s install >> "$cache/pg15-cassert-build.log" 2>&1 &&
      make -s -C src/test/isolation install >> "$cache/pg15-cassert-build.log" 2>&1 &&
      for m in $contrib_modules; do make -s -C "contrib/$m" install >> "$cache/pg15-cassert-build.log" 2>&1 || exit 1; done ) ||
        { tail -n 40 "$cache/pg15-cassert-build.log"; die "PostgreSQL install failed (logs in $cache)"; }
    rm -rf "$srcdir"            # about 200 MB; the install is what later runs use
    printf 'PostgreSQL %s\n%s\n' "$ver" "$stamp_key" > "$stamp"
    log "built PostgreSQL $ver in $((SECONDS - t0)) s"
}

mkdir -p "$cache"
exec 9> "$cache/pg15-cassert.lock"
flock 9          # one run at a time: the build and hvc's install into the cached server
if stamp_ok; then
    log "reusing $prefix ($(head -1 "$stamp"))"
else
    build_server
fi
[ "${1:-}" = "--build" ] && exit 0

pg_config=$prefix/bin/pg_config
bindir=$($pg_config --bindir)
export HVC_CDNOW_DIR=${HVC_CDNOW_DIR:-$(cd "$here/.." && pwd)/shared/data/cdnow}
export HVC_OLIST_DIR=${HVC_OLIST_DIR:-$(cd "$here/.." && pwd)/shared/data/olist}

work=$(mktemp -d /tmp/hvc-cassert.XXXXXX)
chmod 755 "$work"
runas=()
if [ "$(id -u)" -eq 0 ]; then runas=(runuser -u postgres --); fi
cleanup() {
    [ -f "$work/data/postmaster.pid" ] && "${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

# A copy of the working tree as it is (uncommitted changes included), without
# build products.
mkdir "$work/tree"
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    ( cd "$here" && git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
      tar --null -T - -cf - ) | tar -xf - -C "$work/tree"
else
    ( cd "$here" && tar --exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude=test/out \
        --exclude=test/out-isolation -cf - . ) | tar -xf - -C "$work/tree"
fi
# HVC_SMALL_CACHES: forecast caches emptied every few customers and break
# sorts past four distinct values (src/snapshot_forecast.c, snapshot_rank.c),
# so the suites' expected results also check those paths.
( cd "$work/tree" && make -s PG_CONFIG="$pg_config" PG_CPPFLAGS=-DHVC_SMALL_CACHES >/dev/null &&
  make -s install PG_CONFIG="$pg_config" PG_CPPFLAGS=-DHVC_SMALL_CACHES >/dev/null ) ||
    die "building hvc against $prefix failed"

# A throwaway cluster: Unix socket only, in the work dir, so any port number
# is free there.
port=${HVC_CASSERT_PORT:-54329}
mkdir "$work/data" "$work/sock" "$work/log"
if [ ${#runas[@]} -gt 0 ]; then chown postgres "$work/data" "$work/sock" "$work/log"; fi
"${runas[@]}" "$bindir/initdb" -D "$work/data" -A trust -U postgres >/dev/null || die "initdb failed"
cat >> "$work/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$work/sock'
listen_addresses = ''
max_worker_processes = 16
max_parallel_workers = 8
CONF
"${runas[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/log/server.log" -w start >/dev/null || { tail -n 20 "$work/log/server.log"; die "server did not start"; }

export PGHOST=$work/sock PGPORT=$port PGUSER=postgres PATH="$bindir:$PATH"
t0=$SECONDS
# REGRESS / ISOLATION from the environment choose the tests (default: the schedules)
only=()
[ -n "${REGRESS:-}" ] && only+=("REGRESS=$(echo $REGRESS)")
[ -n "${ISOLATION+set}" ] && only+=("ISOLATION=$(echo $ISOLATION)")
( cd "$work/tree" && make -s installcheck PG_CONFIG="$pg_config" "${only[@]}" )
rc=$?
log "suites ran in $((SECONDS - t0)) s"
if [ $rc -ne 0 ]; then
    for f in "$work/tree/test/out/regression.diffs" "$work/tree/test/out-isolation/regression.diffs"; do
        [ -s "$f" ] && { echo "--- ${f#$work/tree/}"; head -c 60000 "$f"; }
    done
    if grep -E 'TRAP:|terminated by signal|was terminated' "$work/log/server.log" >/dev/null; then
        echo "--- server log (crashes and failed assertions)"
        grep -E -B2 -A12 'TRAP:|terminated by signal|was terminated' "$work/log/server.log" | head -n 80
    fi
fi
exit $rc
