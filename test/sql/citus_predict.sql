-- hvc._citus_predict: one customer's predictions from its state and the
-- fitted models, as the snapshot builder computes them (on a Citus cluster
-- the workers run it next to the shards; test/citus/run.sh compares whole
-- refreshes).  Here on one server: the same numbers as the snapshot's, to
-- the bit; bad inputs; a leftover pg_temp._hvc_predictions is never read.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
RESET client_min_messages;
SET timezone = 'UTC';
-- 400 customers, 1 to 8 purchases each on hashed days of 2024-01-01 .. 2025-06-23
CREATE TABLE cp_sales (customer_id bigint, ordered_at timestamptz, amount numeric(10,2), order_id bigint);
INSERT INTO cp_sales
SELECT c, '2024-01-01'::timestamptz + ((hashint8(c * 100 + k) & 65535) % 540) * interval '1 day',
       10 + (hashint8(c * 7 + k) & 1023) % 90, c * 100 + k
  FROM generate_series(1, 400) c, generate_series(1, 1 + (hashint4(c::int) & 7)) k;
SELECT hvc.register_source('cp_sales', customer => 'customer_id', ordered_at => 'ordered_at',
                           amount => 'amount', order_id => 'order_id') IS NOT NULL AS registered;
-- a leftover pg_temp._hvc_predictions (every prediction 1) is dropped by
-- the refresh, not read by the builder (the comparison below would fail)
CREATE TEMP TABLE _hvc_predictions AS
SELECT customer_id, '{1,1,1,1,1,1}'::float8[] AS prediction FROM cp_sales GROUP BY 1;
SET client_min_messages = warning;
SELECT hvc.refresh_now(as_of => '2025-06-30') > 0 AS refreshed;
RESET client_min_messages;
SELECT to_regclass('pg_temp._hvc_predictions') IS NULL AS leftover_dropped;
-- the refresh's models, rebuilt as hvc.refresh() builds them (weeks)
CREATE TEMP TABLE _hvc_stage AS
SELECT customer_id, hvc.customer_state(ordered_at, amount, NULL::numeric, order_id, '2025-06-30 00:00'::timestamp, 'UTC') AS state
  FROM cp_sales GROUP BY 1;
CREATE TEMP TABLE mp AS SELECT hvc._fit_models(c, '2025-06-30') AS m FROM hvc.config c;
UPDATE mp SET m.churn_window = (SELECT churn_window_days / 7.0 FROM hvc.config),
              m.horizon_units = (SELECT horizon_days / 7.0 FROM hvc.config);
SELECT (m).usable, (m).spend_usable, (m).customers FROM mp;
CREATE TEMP TABLE rowwise AS
SELECT g.customer_id, hvc._citus_predict(g.state, (SELECT m FROM mp), '2025-06-30') AS p FROM _hvc_stage g;
CREATE FUNCTION pg_temp.fin(v float8) RETURNS float8 IMMUTABLE LANGUAGE sql AS
$$ SELECT CASE WHEN v IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE v END $$;
-- every customer: p_alive, churn_risk and predicted_orders bit for bit,
-- predicted_clv to the cent
SELECT count(*) AS customers,
       count(*) FILTER (WHERE pg_temp.fin(r.p[1]) IS NOT DISTINCT FROM s.p_alive) AS same_p_alive,
       count(*) FILTER (WHERE pg_temp.fin(r.p[2]) IS NOT DISTINCT FROM s.churn_risk) AS same_churn_risk,
       count(*) FILTER (WHERE pg_temp.fin(r.p[3]) IS NOT DISTINCT FROM s.predicted_orders) AS same_predicted_orders,
       count(*) FILTER (WHERE abs(r.p[5]::numeric - s.predicted_clv) <= 0.005) AS same_clv,
       count(*) FILTER (WHERE s.p_alive IS NOT NULL AND s.churn_risk IS NOT NULL) AS with_predictions
  FROM hvc.customer_snapshot s JOIN rowwise r USING (customer_id);
-- bad inputs
\set VERBOSITY sqlstate
SELECT hvc._citus_predict('\x0001'::bytea, (SELECT m FROM mp), '2025-06-30');
SELECT hvc._citus_predict(state, (SELECT m FROM mp), 'infinity') FROM _hvc_stage LIMIT 1;
-- a purchase after the as_of day
SELECT hvc._citus_predict(state, (SELECT m FROM mp), '2024-06-30') FROM _hvc_stage WHERE customer_id = 1;
\set VERBOSITY default
-- NULL arguments, a refund-only state, an unusable purchase model: NULL
SELECT hvc._citus_predict(NULL, (SELECT m FROM mp), '2025-06-30') IS NULL AS null_state,
       hvc._citus_predict(hvc.customer_state('2025-01-01'::timestamp, -5::numeric, NULL::numeric, NULL::int, '2025-06-30', 'UTC'),
                          (SELECT m FROM mp), '2025-06-30') IS NULL AS refund_only,
       (SELECT hvc._citus_predict(g.state, (SELECT (m::text::hvc._model_params) FROM mp), '2025-06-30') FROM _hvc_stage g LIMIT 1) IS NOT NULL AS via_text;
-- The snapshot as the Citus workers build it (97_citus_snapshot.sql), here
-- on one server: hvc._citus_score per customer into a table shaped like
-- hvc.citus_scored, hvc._citus_globals over it, hvc._citus_snapshot_row per
-- customer: every row equals the one-server builder's, as do the Pareto
-- curve and the premium ticket
-- hvc._citus_snapshot_cols is hvc.customer_snapshot's row after customer_id
-- (names, types and typmods: the one-server builder's columns)
SELECT (SELECT array_agg(format('%s %s', attname, format_type(atttypid, atttypmod)) ORDER BY attnum)
          FROM pg_attribute WHERE attrelid = 'hvc.customer_snapshot'::regclass AND attnum > 1 AND NOT attisdropped)
     = (SELECT array_agg(format('%s %s', attname, format_type(atttypid, atttypmod)) ORDER BY attnum)
          FROM pg_attribute WHERE attrelid = 'hvc._citus_snapshot_cols'::regclass AND attnum > 0 AND NOT attisdropped)
       AS same_columns;
CREATE TABLE hvc.citus_scored (customer_id bigint NOT NULL, value_cents bigint NOT NULL,
    first_day integer NOT NULL, last_day integer NOT NULL, orders bigint NOT NULL,
    frequency integer NOT NULL, revenue bigint NOT NULL, churn_risk float8, prediction float8[] NOT NULL,
    shard_hash integer NOT NULL);
-- two "shards": hashes below 0 and from 0 (on Citus, worker_hash and the shards' ranges)
INSERT INTO hvc.citus_scored
SELECT g.customer_id, x.*, hashint8(g.customer_id)
  FROM _hvc_stage g CROSS JOIN LATERAL hvc._citus_score(g.state, (SELECT m FROM mp), '2025-06-30', 'predicted_clv', false) x
 WHERE x.value_cents IS NOT NULL;
SELECT count(*) AS scored,
       count(*) FILTER (WHERE c.prediction = r.p) AS same_predictions,
       count(*) FILTER (WHERE c.value_cents = s.value * 100) AS same_value
  FROM hvc.citus_scored c JOIN rowwise r USING (customer_id) JOIN hvc.customer_snapshot s USING (customer_id);
CREATE TEMP TABLE gl AS SELECT * FROM hvc._citus_globals(NULL::bigint, '2025-06-30', 99, '{-2147483648,0}');
-- (what hvc._citus_send_globals writes on each node)
INSERT INTO hvc.citus_globals VALUES (99, -2147483648, -1, (SELECT globals[1] FROM gl)),
                                     (99, 0, 2147483647, (SELECT globals[2] FROM gl));
SELECT cardinality(globals) AS segments FROM gl;
-- the same read with the scores packed one bytea per shard (on Citus the
-- workers pack them, hvc._citus_pack_scored): the same globals, byte for byte
CREATE TEMP TABLE glp AS SELECT * FROM hvc._citus_globals(NULL::bigint, '2025-06-30', 99, '{-2147483648,0}', true);
SELECT p.globals = g.globals AS same_segments, p.customers = g.customers AS same_customers,
       p.pareto = g.pareto AS same_pareto,
       (p.premium_ticket_from, p.median_repeat_gap_days, p.max_tenure_days)
           IS NOT DISTINCT FROM (g.premium_ticket_from, g.median_repeat_gap_days, g.max_tenure_days) AS same_rest
  FROM glp p, gl g;
-- a pack: one row per customer after an 8-byte header (4-byte key length,
-- 8 key bytes, 48 fixed bytes); its rows pass through the combine function
CREATE TEMP TABLE pk AS
SELECT hvc._citus_pack_scored(hvc._citus_key_bytes(customer_id), value_cents, first_day, last_day, orders,
                              frequency, revenue, churn_risk, shard_hash) AS b
  FROM hvc.citus_scored;
CREATE AGGREGATE public.cp_combine(bytea) (SFUNC = hvc._citus_pack_combine, STYPE = bytea);
SELECT octet_length(b) = 8 + (SELECT count(*) FROM hvc.citus_scored) * (4 + 8 + 48) AS pack_size,
       (SELECT public.cp_combine(x) FROM (VALUES (b), (b)) v(x)) = b || substring(b FROM 9) AS combined
  FROM pk;
\set VERBOSITY sqlstate
-- not a pack, a truncated one, a state function outside the aggregate
SELECT public.cp_combine(x) FROM (VALUES ('\x01020304'::bytea)) v(x);
SELECT public.cp_combine(x) FROM (SELECT substring(b FROM 1 FOR octet_length(b) - 1) FROM pk) v(x);
SELECT hvc._citus_pack_trans(NULL, '\x01', 1, 1, 1, 1, 0, 1, NULL, 0);
\set VERBOSITY default
DROP AGGREGATE public.cp_combine(bytea);
DROP TABLE glp, pk;
SELECT g.customers, g.pareto = (SELECT array_agg(cumulative_value_share ORDER BY customer_percentile) FROM hvc.pareto_points) AS same_pareto,
       round(g.premium_ticket_from::numeric, 3) = i.premium_ticket_from AS same_premium_ticket,
       g.median_repeat_gap_days IS NOT DISTINCT FROM i.median_repeat_gap_days AS same_gap,
       g.max_tenure_days = (SELECT max(tenure_days) FROM hvc.customer_snapshot) AS same_tenure
  FROM gl g, hvc.snapshot_info i;
CREATE TEMP TABLE args AS
SELECT (SELECT array_agg(c.segment ORDER BY c.r, c.f, c.m) FROM hvc._segment_cells() c) AS seg,
       array_agg(t.lo ORDER BY t.tier_rank) AS lo, array_agg(t.tier ORDER BY t.tier_rank) AS name,
       array_agg(t.tier_rank ORDER BY t.tier_rank) AS rnk, array_agg(t.high_value ORDER BY t.tier_rank) AS high,
       (SELECT refreshed_at FROM hvc.snapshot_info) AS refreshed
  FROM hvc._tier_ranges((SELECT customers FROM gl)) t;
CREATE TEMP TABLE worker_rows AS
SELECT g.customer_id, r.*
  FROM _hvc_stage g JOIN hvc.citus_scored p USING (customer_id) CROSS JOIN args a
 CROSS JOIN LATERAL hvc._citus_snapshot_row(NULL::bigint, (SELECT m FROM mp), '2025-06-30', 'UTC', false, 'predicted_clv',
                                            a.seg, a.lo, a.name, a.rnk, a.high, a.refreshed, 99, NULL,
                                            g.customer_id, g.state, p.value_cents, p.prediction, NULL, NULL, NULL, NULL, p.shard_hash) r;
SELECT (SELECT count(*) FROM worker_rows) AS worker_rows,
       (SELECT count(*) FROM (SELECT to_jsonb(s) - 'refresh_id' FROM hvc.customer_snapshot s
                              EXCEPT SELECT to_jsonb(w) - 'refresh_id' FROM worker_rows w) d) AS differing;
-- the cohort counts as the workers count them (hvc._cohort_keys, summed
-- per key) = the purchase months of every customer, counted in SQL
CREATE TEMP TABLE cohorts_sql AS
WITH m AS (SELECT customer_id, (extract(year FROM ordered_at) * 12 + extract(month FROM ordered_at) - 1)::int AS mon
             FROM cp_sales WHERE amount > 0 GROUP BY 1, 2),
     f AS (SELECT customer_id, min(mon) AS first FROM m GROUP BY 1)
SELECT make_date(f.first / 12, f.first % 12 + 1, 1) AS cohort_month, m.mon - f.first AS months_after,
       count(*) AS customers
  FROM m JOIN f USING (customer_id) GROUP BY 1, 2;
CREATE TEMP TABLE cohorts_workers AS
SELECT r.* FROM hvc._cohort_rows((
    SELECT hvc._cohort_counts_from(array_agg(c.key), array_agg(c.customers))
      FROM (SELECT k.key, count(*) AS customers
              FROM _hvc_stage s CROSS JOIN LATERAL unnest(hvc._cohort_keys(s.state)) AS k(key)
             GROUP BY k.key) c)) r;
SELECT (SELECT count(*) FROM cohorts_sql) AS cohort_cells, (SELECT sum(customers) FROM cohorts_sql) AS counted,
       (SELECT count(*) FROM (SELECT * FROM cohorts_sql EXCEPT SELECT * FROM cohorts_workers
                              UNION ALL
                              SELECT * FROM cohorts_workers EXCEPT SELECT * FROM cohorts_sql) d) AS differing,
       (SELECT customers FROM cohorts_workers WHERE cohort_month = '2024-01-01' AND months_after = 0) AS january_2024;
-- a refund-only state adds to no cohort; no keys, no counts
SELECT hvc._cohort_keys(hvc.customer_state('2025-01-01'::timestamp, -5::numeric, NULL::numeric, NULL::int, '2025-06-30', 'UTC')) AS refund_only,
       octet_length(hvc._cohort_counts_from('{}', '{}')) AS empty_counts;
DROP TABLE cohorts_sql, cohorts_workers;
-- bad inputs of the worker steps: clear errors
\set VERBOSITY sqlstate
SELECT hvc._cohort_keys('\x0001'::bytea);
SELECT hvc._cohort_counts_from('{1}', '{}');
SELECT hvc._cohort_counts_from('{4294967296,4294967296}', '{1,2}');
SELECT hvc._cohort_counts_from('{4294967296}', '{0}');
SELECT hvc._cohort_counts_from('{NULL}', '{1}');
SELECT hvc._cohort_counts_from(NULL, '{1}');
SELECT hvc._cohort_counts_from('{{4294967296}}', '{{1}}');
SELECT hvc._cohort_counts_from('{4294967295}', '{1}');   -- months after: -1
-- the statistics of a build on the workers: more high-value customers than customers
SELECT hvc._set_snapshot_stats(7, 10, 0, 0, NULL, NULL, NULL, '\x', NULL, 0, '{}', 11);
SELECT hvc._set_snapshot_stats(7, 10, 0, 0, NULL, NULL, NULL, '\x', NULL, 0, '{}', -1);
\set VERBOSITY default
SELECT hvc._set_snapshot_stats(7, 10, 0, 0, NULL, NULL, NULL, '\x', NULL, 0, '{}', 4);
SELECT customers, high_value_customers FROM hvc._snapshot_stats(7);
\set VERBOSITY sqlstate
SELECT hvc._citus_score(state, (SELECT m FROM mp), '2025-06-30', 'score', false) FROM _hvc_stage LIMIT 1;
SELECT hvc._citus_score(state, (SELECT m FROM mp), '2025-06-30', 'nonsense', false) FROM _hvc_stage LIMIT 1;
SELECT hvc._citus_score(NULL, (SELECT m FROM mp), '2025-06-30', 'revenue', false);
SELECT hvc._citus_score('\x0001'::bytea, (SELECT m FROM mp), '2025-06-30', 'revenue', false);
-- globals truncated, of another refresh, without the customer; a missing argument
UPDATE hvc.citus_globals SET globals = substring(globals FROM 1 FOR 100) WHERE hash_min = 0;
SELECT r.value_rank FROM _hvc_stage g JOIN hvc.citus_scored p USING (customer_id) CROSS JOIN args a
 CROSS JOIN LATERAL hvc._citus_snapshot_row(NULL::bigint, (SELECT m FROM mp), '2025-06-30', 'UTC', false, 'predicted_clv',
        a.seg, a.lo, a.name, a.rnk, a.high, a.refreshed, 99, NULL, g.customer_id, g.state, p.value_cents, p.prediction,
        NULL, NULL, NULL, NULL, p.shard_hash) r WHERE p.shard_hash >= 0 LIMIT 1;
UPDATE hvc.citus_globals SET globals = (SELECT globals[2] FROM gl) WHERE hash_min = 0;
SELECT r.value_rank FROM _hvc_stage g JOIN hvc.citus_scored p USING (customer_id) CROSS JOIN args a
 CROSS JOIN LATERAL hvc._citus_snapshot_row(NULL::bigint, (SELECT m FROM mp), '2025-06-30', 'UTC', false, 'predicted_clv',
        a.seg, a.lo, a.name, a.rnk, a.high, a.refreshed, 98, NULL, g.customer_id, g.state, p.value_cents, p.prediction,
        NULL, NULL, NULL, NULL, p.shard_hash) r WHERE p.shard_hash >= 0 LIMIT 1;
SELECT r.value_rank FROM _hvc_stage g JOIN hvc.citus_scored p USING (customer_id) CROSS JOIN args a
 CROSS JOIN LATERAL hvc._citus_snapshot_row(NULL::bigint, (SELECT m FROM mp), '2025-06-30', 'UTC', false, 'predicted_clv',
        a.seg, a.lo, a.name, a.rnk, a.high, a.refreshed, 99, NULL, g.customer_id + 100000, g.state, p.value_cents, p.prediction,
        NULL, NULL, NULL, NULL, p.shard_hash) r WHERE p.shard_hash >= 0 LIMIT 1;
SELECT r.value_rank FROM _hvc_stage g JOIN hvc.citus_scored p USING (customer_id) CROSS JOIN args a
 CROSS JOIN LATERAL hvc._citus_snapshot_row(NULL::bigint, (SELECT m FROM mp), '2025-06-30', 'UTC', false, 'predicted_clv',
        a.seg, a.lo, a.name, a.rnk, a.high, a.refreshed, 99, NULL, g.customer_id, g.state, p.value_cents, NULL,
        NULL, NULL, NULL, NULL, p.shard_hash) r WHERE p.shard_hash >= 0 LIMIT 1;
-- a scored row out of range
UPDATE hvc.citus_scored SET orders = 0 WHERE customer_id = 1;
SELECT customers FROM hvc._citus_globals(NULL::bigint, '2025-06-30', 99, '{-2147483648}');
UPDATE hvc.citus_scored SET orders = 1 WHERE customer_id = 1;
-- shards' first hashes not ascending, none, one above a customer's hash
SELECT customers FROM hvc._citus_globals(NULL::bigint, '2025-06-30', 99, '{0,-2147483648}');
SELECT customers FROM hvc._citus_globals(NULL::bigint, '2025-06-30', 99, '{}');
SELECT customers FROM hvc._citus_globals(NULL::bigint, '2025-06-30', 99, '{0}');
DROP TABLE hvc.citus_scored;
SELECT customers FROM hvc._citus_globals(NULL::bigint, '2025-06-30', 99, '{-2147483648}');
\set VERBOSITY default
DELETE FROM hvc.citus_globals;
DROP TABLE gl, args, worker_rows;
UPDATE mp SET m.usable = false;
SELECT count(*) FILTER (WHERE hvc._citus_predict(g.state, (SELECT m FROM mp), '2025-06-30') IS NULL) AS unusable_nulls
  FROM _hvc_stage g;
DROP TABLE _hvc_stage, mp, rowwise;
-- the Citus steps do nothing without Citus
SELECT hvc._citus_distributed_by('cp_sales', 'customer_id') AS distributed,
       hvc._citus_predictions(NULL, NULL) AS predicted,
       hvc._citus_shards_snapshot() AS shards_snapshot, hvc._citus_sharded() AS sharded;
DROP TABLE cp_sales CASCADE;
