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
UPDATE mp SET m.usable = false;
SELECT count(*) FILTER (WHERE hvc._citus_predict(g.state, (SELECT m FROM mp), '2025-06-30') IS NULL) AS unusable_nulls
  FROM _hvc_stage g;
DROP TABLE _hvc_stage, mp, rowwise;
-- the Citus steps do nothing without Citus
SELECT hvc._citus_distributed_by('cp_sales', 'customer_id') AS distributed,
       hvc._citus_predictions(NULL, NULL) AS predicted;
DROP TABLE cp_sales CASCADE;
