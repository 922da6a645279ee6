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
# table): 25 rounds (HVC_FUZZ_INCREMENTAL_ROUNDS) of random inserts, updates
# and deletes in column and in trigger mode, each incremental refresh
# compared with a full one row for row.  Last, per mode, that shop written
# by two sessions while a third refreshes, for 15 s
# (HVC_FUZZ_CONCURRENT_SECONDS); then one incremental refresh must equal a
# full one.  And test/sql/refresh_oracle.sql with the same seed in four
# variants (integer and text keys, weeks and days, timestamptz, date and
# timestamp times, margin and order id mapped or not, value bases historic
# CLV, revenue and margin, default or random tier and segment rules): a full
# refresh of a random messy shop against a reference computed in plain SQL.
# And test/sql/history_oracle.sql with the same seed and text keys: 3 x 11
# refreshes of a changing shop, what each carries over from the one before
# (tier_since, previous_tier, tier_changes, alerts) against a SQL reference.
# And test/sql/predict_oracle.sql with the same seed and text keys: every
# customer's predictions against the SQL building blocks; and
# test/sql/backtest_oracle.sql: the backtest against a SQL reference; and
# test/sql/signals_oracle.sql: what a refresh reads from signals.
#
# Needs hvc built and installed into $PG_CONFIG's PostgreSQL (default
# /usr/lib/postgresql/15/bin/pg_config).  About 50 s per seed.  Prints
# ok / not ok lines, the counts by SQLSTATE as # lines, and ends with
# "N passed, M failed"; the exit status is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir) || { echo "fuzz: no pg_config at $PG_CONFIG"; echo "0 passed, 1 failed"; exit 1; }
seeds=${HVC_FUZZ_SEEDS:-$(( $(date +%s) % 1000000000 ))}
inc_rounds=${HVC_FUZZ_INCREMENTAL_ROUNDS:-25}
conc_seconds=${HVC_FUZZ_CONCURRENT_SECONDS:-15}

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

# A reference test of test/sql (NAME.sql, whose output is only checks) with
# this seed against its own fixed seed, which pg_regress runs: the two
# outputs must be equal (the fixed seed's is made once for all seeds).
#   oracle NAME FIXED_SEED TAG DESCRIPTION [psql args...]
oracle() {
    local name=$1 fixed=$2 tag=$3 what=$4 s
    shift 4
    for s in "$fixed" "$seed"; do
        [ -f "$work/${tag}_$s.out" ] && continue
        "$bindir/createdb" "${tag}_$s" >/dev/null 2>&1
        PGDATABASE="${tag}_$s" "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v seed="$s" "$@" \
            -f "$root/test/sql/$name.sql" >"$work/${tag}_$s.out" 2>&1
        echo "exit $?" >>"$work/${tag}_$s.out"
    done
    if cmp -s "$work/${tag}_$fixed.out" "$work/${tag}_$seed.out" && grep -q '^exit 0$' "$work/${tag}_$seed.out"; then
        ok "seed $seed: $what"
    else
        fail "seed $seed: $what (test/sql/$name.sql differs from its fixed seed's output)" \
             "$(diff "$work/${tag}_$fixed.out" "$work/${tag}_$seed.out" | head -6)"
    fi
}

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
    # the full refresh against the SQL reference (test/sql/refresh_oracle.sql)
    # on this seed's random shop: its output is only checks (true, 0) and a
    # fixed case, so it must equal the output for pg_regress's own seed
    v=0
    for variant in "key_type=integer time_unit=week" \
                   "key_type=text time_unit=day customers=300 rows=4000 rules=random" \
                   "key_type=integer time_type=date mapped=bare basis=revenue rules=random" \
                   "key_type=text time_type=timestamp basis=margin"; do
        v=$((v + 1))
        args=()
        for a in $variant; do args+=(-v "$a"); done
        oracle refresh_oracle 20261206 "oracle_$v" \
            "full refresh of a random shop ($variant) equal to the SQL reference" "${args[@]}"
    done
    # what a refresh carries over from the one before (tier_since,
    # previous_tier, tier_changes, alerts, retention) over 3 x 11 refreshes
    # of a changing shop
    oracle history_oracle 20261207 history \
        "3 x 11 refreshes of a changing shop carry tiers, history, alerts and retention over as the SQL reference does" \
        -v key_type=text
    # every customer's predictions against the SQL building blocks, three
    # models in weeks and days, random horizons, discount rates and churn windows
    oracle predict_oracle 20261208 predict \
        "every customer's predictions under BG/NBD, Pareto/NBD and MBG/NBD equal the SQL building blocks'" -v key_type=text
    # the refresh's backtest and hvc.backtest_summary / hvc.backtest
    oracle backtest_oracle 20261209 backtest \
        "the backtest of BG/NBD, Pareto/NBD and MBG/NBD equals the SQL reference (totals, MAE, AUCs, top 20 %, bins)" \
        -v key_type=text
    # what a refresh reads from signals, and the value score
    oracle signals_oracle 20261210 signals \
        "NPS, referral, engagement, service and attribute signals and the value score as the SQL reference has them" \
        -v key_type=text
    # the same shop written by two sessions while a third refreshes again
    # and again; once the writers stop, the next incremental refresh must
    # equal a full one (rows committed during a refresh's read are left for
    # the next, never lost or counted twice)
    for mode in trigger column; do
        db="concurrent_${mode}_$seed"
        out="$work/$db.out"
        "$bindir/createdb" "$db" >"$out" 2>&1
        PGDATABASE=$db "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v seed="$seed" -v key_type=text \
            -v partitioned=true -v setup_only=1 -f "$root/test/sql/incremental_random.sql" >>"$out" 2>&1 &&
        PGDATABASE=$db "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
            -c "SELECT rnd_start('$mode')" >>"$out" 2>&1
        rc=$?
        end=$(( $(date +%s) + conc_seconds ))
        writers=()
        for w in 1 2; do
            # a transaction of random changes after another until the end
            # (the two writers deadlock now and then, or one moves a row to another
            # partition under the other: that transaction is lost)
            PGDATABASE=$db "$bindir/psql" -X -q -v ON_ERROR_STOP=1 >>"$out" 2>&1 <<SQL &
DO \$\$
BEGIN
    WHILE clock_timestamp() < to_timestamp($end) LOOP
        BEGIN
            PERFORM rnd_change('2024-12-01 12:00+00');
        EXCEPTION WHEN deadlock_detected OR serialization_failure THEN
            NULL;
        END;
        COMMIT;
    END LOOP;
END \$\$;
SQL
            writers+=($!)
        done
        refreshes=0
        while [ $rc -eq 0 ] && [ "$(date +%s)" -lt "$end" ]; do
            PGDATABASE=$db "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
                -c "CALL hvc.refresh(as_of => '2024-12-01 12:00+00')" >>"$out" 2>&1 || rc=$?
            refreshes=$((refreshes + 1))
        done
        for p in "${writers[@]}"; do
            wait "$p" || rc=$?
        done
        result=$(PGDATABASE=$db "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
                     -c "SET client_min_messages = warning" \
                     -c "SELECT c.kind || '|' || c.differ || '|' || (SELECT count(*) FROM hvc.refresh_log l WHERE l.status <> 'succeeded') FROM rnd_check('2024-12-01 12:00+00') c" 2>>"$out")
        if [ $rc -eq 0 ] && [ "$result" = "incremental|0|0" ] && [ $refreshes -ge 10 ]; then
            ok "seed $seed: $refreshes refreshes in $mode mode during writes from two sessions, then an incremental refresh equal to a full one"
        else
            fail "seed $seed: refreshes in $mode mode during concurrent writes (exit status $rc, $refreshes refreshes, kind|rows differing|refreshes not succeeded: ${result:-none})" \
                 "$(grep -E 'ERROR|FATAL' "$out" | head -3)"
        fi
    done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
