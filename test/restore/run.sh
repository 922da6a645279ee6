#!/usr/bin/env bash
# Dump and restore of a database with hvc, in every restore mode:
#   custom    pg_dump -Fc, pg_restore (errors are counted: exit status 0 and
#             no ERROR line required)
#   single    pg_dump -Fc, pg_restore --single-transaction
#   exit      pg_dump -Fc, pg_restore --exit-on-error
#   parallel  pg_dump -Fc, pg_restore -j 2
#   plain     pg_dump (plain SQL), psql -1 -v ON_ERROR_STOP=1
#   inserts   pg_dump --inserts, psql -1 -v ON_ERROR_STOP=1
#   colins    pg_dump --column-inserts, psql -1 -v ON_ERROR_STOP=1
#   clean     pg_dump -Fc, pg_restore --clean --if-exists --single-transaction
#             over a database already restored from the same dump
# of two databases:
#   (a) untouched: CREATE EXTENSION hvc only (default rules, nothing registered);
#   (b) edited: tier rules (a renamed tier, a changed share, a deleted and an
#       added tier), RFM segments (renamed, changed, deleted, added), hvc.config,
#       a registered source, two refreshes with tier moves between them; two
#       signals, two profile rules, hvc.signal_settings, a third refresh;
#   (c) upgraded: made with hvc 0.1.0 (edited tier rules, every RFM segment
#       deleted, a registered source, two refreshes), then ALTER EXTENSION
#       hvc UPDATE.
# After each restore: the restore succeeded; the settings are exactly the
# dumped ones; snapshot, snapshot_info, pareto_curve, tier history, views and
# hvc.priority() answer exactly as in the dumped database; every object
# register_source created depends on the extension again; a refresh works;
# DROP EXTENSION hvc CASCADE leaves nothing in schema hvc.
#
# Starts its own throwaway cluster (initdb into a temporary directory, unix
# socket only) from $PG_CONFIG's bindir (default
# /usr/lib/postgresql/15/bin/pg_config); hvc must be installed there.  The
# last line is "N passed, M failed"; the exit status is non-zero on failure.
set -uo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir) || { echo "restore: no pg_config at $PG_CONFIG"; echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/hvc.control" ]; then
    echo "restore: hvc is not installed into $("$PG_CONFIG" --sharedir) (make install PG_CONFIG=$PG_CONFIG)"
    echo "0 passed, 1 failed"; exit 1
fi

work=$(mktemp -d -t hvc_restore.XXXXXX)
chmod 755 "$work"
run() {   # a PostgreSQL client or server program, as postgres when we are root
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
port=54329
export PGHOST=$work PGPORT=$port PGUSER=postgres
cleanup() {
    run "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

if ! run "$bindir/initdb" -D "$work/data" -U postgres --auth=trust --no-sync >"$work/initdb.log" 2>&1; then
    cat "$work/initdb.log"; echo "0 passed, 1 failed"; exit 1
fi
if ! run "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
        -o "-c listen_addresses='' -k $work -p $port -c fsync=off -c timezone=UTC" start >/dev/null; then
    cat "$work/server.log"; echo "0 passed, 1 failed"; exit 1
fi

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | head -20 | sed 's/^/#   /'; }
# q DB SQL: one session, statement by statement, unaligned; errors in the output
q() { printf '%s\n' "$2" | run "$bindir/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -f - 2>&1 | sed -E 's/^psql:<stdin>:[0-9]+: //'; }
check() {  # name, db, sql, expected output
    local got
    got=$(q "$2" "$3")
    if [ "$got" = "$4" ]; then ok "$1"; else fail "$1" "expected [$4], got [$got]"; fi
}

# What must come back exactly.  The settings with their origin; every view
# and table a user reads, in a fixed order.
SETTINGS_SQL="
SELECT 'tier', t.* FROM hvc.tier_rules t ORDER BY tier_rank;
SELECT 'segment', s.* FROM hvc.rfm_segments s ORDER BY priority;
SELECT 'config', c.* FROM hvc.config c;
SELECT 'rule_set', r.* FROM hvc.rule_sets r ORDER BY rule_table;
SELECT 'signal', g.* FROM hvc.signal g ORDER BY name;
SELECT 'profile_rule', p.* FROM hvc.profile_rules p ORDER BY priority;
SELECT 'signal_settings', s.* FROM hvc.signal_settings s;
SELECT 'score_weight', w.* FROM hvc.score_weights w ORDER BY criterion;"
DERIVED_SQL="
SELECT 'source', relation, customer, ordered_at, amount, margin, order_id, customer_type FROM hvc.source;
SELECT 'info', i.* FROM hvc.snapshot_info i;
SELECT 'customer', c.* FROM hvc.customers c ORDER BY customer_id;
SELECT 'tier_summary', t.* FROM hvc.tier_summary t ORDER BY tier_rank;
SELECT 'segment_summary', s.* FROM hvc.segment_summary s ORDER BY segment;
SELECT 'pareto', p.* FROM hvc.pareto_curve p ORDER BY customer_percentile;
SELECT 'change', t.* FROM hvc.tier_changes t ORDER BY refresh_id, customer_id;
SELECT 'migration', m.* FROM hvc.tier_migration m ORDER BY refresh_id, from_tier, to_tier;
SELECT 'at_risk', a.* FROM hvc.at_risk a ORDER BY at_risk_rank;
SELECT 'profile', v.* FROM hvc.value_profile_summary v ORDER BY value_profile;
SELECT 'priority', p.* FROM (VALUES ('C001'), ('C017'), ('C042'), ('C199'), ('nobody')) k(key),
       LATERAL hvc.priority(k.key) p ORDER BY k.key;
SELECT 'log', l.refresh_id, l.as_of, l.status, l.customers, l.message FROM hvc.refresh_log l ORDER BY refresh_id;
SELECT 'fit', f.* FROM hvc.model_fit f ORDER BY fit_id;
SELECT 'customer_signals', g.* FROM hvc.customer_signals g ORDER BY customer_id;
SELECT 'customer_attributes', a.* FROM hvc.customer_attributes a ORDER BY customer_id, name;
SELECT 'alert', a.* FROM hvc.alerts a ORDER BY alert_id;"
# Relations of schema hvc that are neither extension members nor tied to it.
UNATTACHED_SQL="
SELECT count(*) FROM pg_class c JOIN pg_extension e ON e.extname = 'hvc' AND c.relnamespace = e.extnamespace
 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid);"
LEFTOVER_SQL="
SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'hvc')
     + (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'hvc')
     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'hvc');"

# ---------------------------------------------------------------------------
# The two databases.
# ---------------------------------------------------------------------------
SALES_SQL="
CREATE TABLE public.sales (customer_id text, ordered_at timestamptz, amount numeric, margin numeric);
INSERT INTO public.sales
SELECT 'C' || lpad((g % 200)::text, 3, '0'),
       timestamptz '2024-01-01 10:00+00' + ((g * 37) % 500) * interval '1 day' + (g % 7) * interval '1 hour',
       (g * 13) % 90 + 5 + (g % 200) / 10.0,
       ((g * 13) % 90 + 5) / 3.0
  FROM generate_series(1, 4000) g;"
REGISTER_SQL="
SELECT hvc.register_source('public.sales', 'customer_id', 'ordered_at', 'amount', 'margin') IS NOT NULL;
CALL hvc.refresh(as_of => '2024-09-01 00:00+00');
CALL hvc.refresh(as_of => '2025-05-01 00:00+00');"
# Signals (an NPS table and an account attribute), two profile rules and
# an edited signal setting, read by a third refresh.
SIGNALS_SQL="
CREATE TABLE public.nps (customer_id text, answered_at timestamptz, score integer);
INSERT INTO public.nps SELECT 'C' || lpad((g % 200)::text, 3, '0'),
       timestamptz '2024-06-01 00:00+00' + g * interval '1 hour', g % 11 FROM generate_series(1, 600) g;
CREATE TABLE public.accounts (customer_id text, on_day date, seats integer);
INSERT INTO public.accounts SELECT 'C' || lpad((g % 200)::text, 3, '0'),
       date '2024-01-01' + g, (g * 7) % 100 FROM generate_series(1, 400) g;
DO \$\$ BEGIN
    PERFORM hvc.register_signal('nps', 'public.nps', 'customer_id', 'answered_at', 'score', 'nps');
    PERFORM hvc.register_signal('seats', 'public.accounts', 'customer_id', 'on_day', 'seats', 'attribute');
END \$\$;
UPDATE hvc.profile_rules SET min_converted_referrals = NULL WHERE profile = 'ambassador';
INSERT INTO hvc.profile_rules (profile, kind, priority, attribute, attribute_min) VALUES ('corporate', 'corporate', 2, 'seats', 50);
UPDATE hvc.signal_settings SET open_contact_days = 10;
INSERT INTO hvc.score_weights VALUES ('historic_clv', 2), ('nps', 1), ('attribute:seats', 0.5);
CALL hvc.refresh(as_of => '2025-05-01 00:00+00');"
TIERS_SQL="
UPDATE hvc.tier_rules SET tier = 'platinum' WHERE tier = 'top';
UPDATE hvc.tier_rules SET customer_share = 0.25 WHERE tier = 'high';
DELETE FROM hvc.tier_rules WHERE tier = 'medium';
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES ('silver', 3, 0.6, false);"

run "$bindir/createdb" untouched
run "$bindir/createdb" edited
run "$bindir/createdb" upgraded
check "untouched: CREATE EXTENSION hvc" untouched "CREATE EXTENSION hvc; SELECT 'done'" "done"
check "edited: settings edited, source registered, two refreshes" edited "
SET client_min_messages = warning;
CREATE EXTENSION hvc;
$SALES_SQL
$TIERS_SQL
UPDATE hvc.rfm_segments SET segment = 'Gone' WHERE segment = 'Lost';
UPDATE hvc.rfm_segments SET r_min = 3 WHERE segment = 'Champions';
DELETE FROM hvc.rfm_segments WHERE segment = 'Promising';
INSERT INTO hvc.rfm_segments VALUES ('Whales', 0, 1, 5, 1, 5, 5, 5);
-- the synthetic sales give every customer the same purchase rate and spend
-- scale (the models say so: predicted_clv ties), so rank on margin
UPDATE hvc.config SET history_refreshes = 5, at_risk_threshold = 0.4, value_basis = 'historic_clv';
$REGISTER_SQL
$SIGNALS_SQL
SELECT 'done'" "t
done"
check "edited: signals read, profiles and attributes stored" edited "
SELECT count(*), count(nps_score), count(*) FILTER (WHERE profiles LIKE '%corporate%') > 0,
       count(*) FILTER (WHERE profiles LIKE '%ambassador%') > 0 FROM hvc.customer_signals;
SELECT count(*) FROM hvc.customer_attributes" "200|200|t|t
200"
# 0.1.0 with edited tier rules and no segments, then updated to 0.2.0
check "upgraded: 0.1.0 with edited tiers, no segments, source registered, two refreshes, ALTER EXTENSION hvc UPDATE" upgraded "
SET client_min_messages = warning;
CREATE EXTENSION hvc VERSION '0.1.0';
$SALES_SQL
$TIERS_SQL
DELETE FROM hvc.rfm_segments;
$REGISTER_SQL
ALTER EXTENSION hvc UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'hvc';
SELECT string_agg(DISTINCT origin, ',') FROM hvc.tier_rules;
SELECT count(*) FROM hvc.rfm_segments;
SELECT string_agg(rule_table || ' ' || edited, ', ' ORDER BY rule_table) FROM hvc.rule_sets;
$UNATTACHED_SQL" "t
0.2.0
user
0
profile_rules false, rfm_segments true, tier_rules true
0"
check "edited: tier history has moves" edited \
    "SELECT count(*) > 0 FROM hvc.tier_changes WHERE direction IN ('up', 'down')" "t"
check "edited: the snapshot uses the edited tiers" edited \
    "SELECT string_agg(DISTINCT tier, ',' ORDER BY tier) FROM hvc.customers" "high,low,platinum,silver"

# ---------------------------------------------------------------------------
# Dump each database in every format, restore in every mode, compare.
# ---------------------------------------------------------------------------
modes="custom single exit parallel plain inserts colins clean"
for db in untouched edited upgraded; do
    # every dump without a warning (e.g. no dependency loop)
    out=$( { run "$bindir/pg_dump" -Fc -f "$work/$db.dump" "$db" &&
             run "$bindir/pg_dump" -Fp -f "$work/$db.sql" "$db" &&
             run "$bindir/pg_dump" --inserts -f "$work/$db.inserts.sql" "$db" &&
             run "$bindir/pg_dump" --column-inserts -f "$work/$db.colins.sql" "$db"; } 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "$db: pg_dump in four formats, silently"
    else fail "$db: pg_dump in four formats, silently (exit status $rc)" "$out"; fi
    want_settings=$(q "$db" "$SETTINGS_SQL")
    want_derived=$(q "$db" "$DERIVED_SQL")

    for mode in $modes; do
        target="${db}_$mode"
        run "$bindir/createdb" -T template0 "$target"
        case $mode in
            custom)   cmd=("$bindir/pg_restore" -d "$target" "$work/$db.dump") ;;
            single)   cmd=("$bindir/pg_restore" --single-transaction -d "$target" "$work/$db.dump") ;;
            exit)     cmd=("$bindir/pg_restore" --exit-on-error -d "$target" "$work/$db.dump") ;;
            parallel) cmd=("$bindir/pg_restore" -j 2 -d "$target" "$work/$db.dump") ;;
            plain)    cmd=("$bindir/psql" -X -q -1 -v ON_ERROR_STOP=1 -d "$target" -f "$work/$db.sql") ;;
            inserts)  cmd=("$bindir/psql" -X -q -1 -v ON_ERROR_STOP=1 -d "$target" -f "$work/$db.inserts.sql") ;;
            colins)   cmd=("$bindir/psql" -X -q -1 -v ON_ERROR_STOP=1 -d "$target" -f "$work/$db.colins.sql") ;;
            clean)    run "$bindir/pg_restore" -d "$target" "$work/$db.dump" >/dev/null 2>&1
                      cmd=("$bindir/pg_restore" --clean --if-exists --single-transaction -d "$target" "$work/$db.dump") ;;
        esac
        out=$(run "${cmd[@]}" 2>&1 >/dev/null)
        rc=$?
        if [ $rc -eq 0 ] && ! grep -q 'ERROR' <<<"$out"; then
            ok "$db/$mode: restore succeeds"
        else
            fail "$db/$mode: restore succeeds (exit status $rc)" "$out"
        fi

        got=$(q "$target" "$SETTINGS_SQL")
        if [ "$got" = "$want_settings" ]; then ok "$db/$mode: tier rules, segments and config as dumped"
        else fail "$db/$mode: tier rules, segments and config as dumped" "$(diff <(echo "$want_settings") <(echo "$got"))"; fi

        got=$(q "$target" "$DERIVED_SQL")
        if [ "$got" = "$want_derived" ]; then ok "$db/$mode: snapshot, snapshot_info, views, pareto_curve, history, priority as dumped"
        else fail "$db/$mode: snapshot, snapshot_info, views, pareto_curve, history, priority as dumped" "$(diff <(echo "$want_derived") <(echo "$got"))"; fi

        if [ "$db" != untouched ]; then
            check "$db/$mode: the snapshot is the one hvc.snapshot_info names, its tiers are tiers of hvc.tier_rules" "$target" "
                SELECT count(*) FILTER (WHERE s.refresh_id <> i.refresh_id),
                       count(*) FILTER (WHERE NOT EXISTS (SELECT FROM hvc.tier_rules t WHERE t.tier = s.tier)),
                       count(*) = max(i.customers)
                  FROM hvc.customer_snapshot s, hvc.snapshot_info i" "0|0|t"
        fi
        check "$db/$mode: the run-time objects depend on the extension again" "$target" "$UNATTACHED_SQL" "0"

        if [ "$db" != untouched ]; then
            check "$db/$mode: a refresh after the restore works" "$target" "
                SET client_min_messages = warning;
                CALL hvc.refresh(as_of => '2025-06-01 00:00+00');
                SELECT l.status, l.refresh_id = i.refresh_id, i.customers
                  FROM hvc.refresh_log l JOIN hvc.snapshot_info i USING (refresh_id)
                 ORDER BY l.refresh_id DESC LIMIT 1" "succeeded|t|200"
        fi
        check "$db/$mode: DROP EXTENSION hvc CASCADE leaves nothing in schema hvc" "$target" "
            SET client_min_messages = warning;
            DROP EXTENSION hvc CASCADE;
            $LEFTOVER_SQL" "0"
        run "$bindir/dropdb" "$target"
    done
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
