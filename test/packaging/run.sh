#!/usr/bin/env bash
# Packaging, as a PGXN user and a Debian user get hvc:
#   1. META.json validates against the PGXN Meta Spec 1.0.0;
#   2. `make dist` makes the release zip PGXN takes, and hvc builds from it
#      alone (no git, nothing generated missing);
#   3. the Debian source package (debian/) builds postgresql-15-hvc, which is
#      installed with dpkg and tested with the regression and isolation suites
#      against the installed files on a fresh cluster (pg_buildext
#      installcheck), then removed again.
# Prints ok / not ok lines and "N passed, M failed".  Run as root on Debian.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
pass=0
fail=0
ok()  { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

# 1. META.json
if perl test/packaging/validate_meta.pl META.json Makefile hvc.control > "$work/meta.log" 2>&1; then
    ok "META.json validates ($(tail -n 1 "$work/meta.log"))"
else
    bad "META.json validates"; grep 'not ok' "$work/meta.log"
fi

# The tree as it is (uncommitted changes included), without build products.
copy_tree() {   # dest
    mkdir -p "$1"
    tar -C "$root" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=test/out --exclude=test/out-isolation --exclude=test/unit/build \
        --exclude='sql/hvc--0.2.0.sql' --exclude='sql/hvc--0.1.0--0.2.0.sql' -cf - . |
        tar -C "$1" -xf -
}

# 2. make dist, and a build from the zip alone
if command -v git >/dev/null && git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    if make -s dist DIST_DIR="$work" PG_CONFIG="$PG_CONFIG" > "$work/dist.log" 2>&1 &&
       zip=$(ls "$work"/hvc-*.zip 2>/dev/null | head -n 1) && [ -n "$zip" ]; then
        ok "make dist made $(basename "$zip") ($(unzip -l "$zip" | tail -n 1 | awk '{print $2}') files)"
        mkdir -p "$work/unzipped"
        if (cd "$work/unzipped" && unzip -q "$zip" && cd hvc-* &&
            for f in META.json hvc.control Makefile README.md LICENSE sql/hvc--0.1.0.sql; do
                [ -f "$f" ] || { echo "missing $f"; exit 1; }; done &&
            make -s PG_CONFIG="$PG_CONFIG" > build.log 2>&1 &&
            [ -f hvc.so ] && [ -f sql/hvc--0.2.0.sql ] && [ -f sql/hvc--0.1.0--0.2.0.sql ]) > "$work/unzip.log" 2>&1; then
            ok "hvc builds from the release zip alone (hvc.so, install and upgrade scripts)"
        else
            bad "hvc builds from the release zip alone"; tail -n 20 "$work/unzip.log"
        fi
    else
        bad "make dist"; tail -n 20 "$work/dist.log"
    fi
else
    echo "# not a git checkout: make dist (git archive) skipped"
fi

# 3. the Debian package
need=()
for pkg in debhelper dpkg-dev fakeroot postgresql-server-dev-all unzip; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" > /dev/null 2>&1 ||
        { apt-get -o DPkg::Lock::Timeout=600 update -qq > /dev/null 2>&1;
          apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" > /dev/null 2>&1; } ||
        bad "install ${need[*]}"
fi
src="$work/deb/hvc-0.2.0"
copy_tree "$src"
if (cd "$src" && pg_buildext updatecontrol && dpkg-buildpackage -us -uc -b) > "$work/deb.log" 2>&1 &&
   deb=$(ls "$work"/deb/postgresql-15-hvc_*.deb 2>/dev/null | head -n 1) && [ -n "$deb" ]; then
    ok "dpkg-buildpackage built $(basename "$deb")"
    listing=$(dpkg-deb -c "$deb")
    missing=""
    for f in usr/lib/postgresql/15/lib/hvc.so usr/share/postgresql/15/extension/hvc.control \
             usr/share/postgresql/15/extension/hvc--0.2.0.sql usr/share/postgresql/15/extension/hvc--0.1.0.sql \
             usr/share/postgresql/15/extension/hvc--0.1.0--0.2.0.sql; do
        grep -q " \./$f\$" <<<"$listing" || missing="$missing $f"
    done
    [ -z "$missing" ] && ok "the package holds the library, the control file, the 0.1.0 and 0.2.0 scripts and the upgrade" ||
        bad "the package lacks:$missing"
    if dpkg -i "$deb" > "$work/dpkg.log" 2>&1; then
        ok "dpkg -i installs $(dpkg-query -W -f='${Package} ${Version}' postgresql-15-hvc)"
        owner=$(dpkg -S /usr/share/postgresql/15/extension/hvc.control 2>/dev/null | cut -d: -f1)
        [ "$owner" = postgresql-15-hvc ] && ok "the installed hvc.control belongs to the package" ||
            bad "the installed hvc.control belongs to the package (owner: ${owner:-none})"
        dpkg --verify postgresql-15-hvc > "$work/verify.log" 2>&1 && [ ! -s "$work/verify.log" ] &&
            ok "dpkg --verify: the installed files are the package's" ||
            { bad "dpkg --verify"; cat "$work/verify.log"; }
        # the suites against the installed files, from a tree with nothing built
        tests="$work/tests"
        copy_tree "$tests"
        chown -R postgres: "$tests"
        if (cd "$tests" && su postgres -c "HVC_CDNOW_DIR=${HVC_CDNOW_DIR:-} HVC_OLIST_DIR=${HVC_OLIST_DIR:-} \
                pg_buildext -o max_worker_processes=16 -o max_parallel_workers=8 installcheck") > "$work/check.log" 2>&1; then
            ok "pg_buildext installcheck on a fresh cluster: $(grep -hE 'tests passed' "$work/check.log" | tr -d ' #' | paste -sd' ')"
        else
            bad "pg_buildext installcheck"; tail -n 40 "$work/check.log"
            find "$tests" -name regression.diffs -exec head -c 20000 {} \;
        fi
        dpkg -r postgresql-15-hvc > /dev/null 2>&1 && ok "dpkg -r removes the package" || bad "dpkg -r"
    else
        bad "dpkg -i"; tail -n 20 "$work/dpkg.log"
    fi
    # put the developer's build back (the package replaced and removed its files)
    make -s install PG_CONFIG="$PG_CONFIG" > /dev/null 2>&1 || bad "make install after the package test"
else
    bad "dpkg-buildpackage"; tail -n 40 "$work/deb.log"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
