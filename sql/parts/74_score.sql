-- ---------------------------------------------------------------------------
-- The value score (issue 12 item 4): value_basis = 'score' ranks customers by
-- a weighted multi-criteria score instead of one value.
--
--   score = 100 * sum_i w_i * pct_i / sum_i w_i          (0 to 100 points)
--
-- over the criteria i of hvc.score_weights with a weight above 0.  pct_i is
-- the customer's cume_dist() of criterion i among the snapshot's customers
-- that have a value for it (the share of them whose value is at most the
-- customer's: 1 for the largest; the same percentile as churn_percentile,
-- src/snapshot_rank.c); a customer without a value counts as the median,
-- 0.5.  The score is computed set-based before the build
-- (pg_temp._hvc_score) and is the snapshot's `value` (rounded to 2
-- decimals, ranked at that precision, ties by customer_id): value_rank,
-- tiers, cumulative_value_share and the Pareto curve follow it like any
-- basis.
-- ---------------------------------------------------------------------------

CREATE TABLE hvc.score_weights (
    criterion text   PRIMARY KEY
              CHECK (criterion IN ('predicted_clv', 'historic_clv', 'frequency', 'avg_order_value',
                                   'margin', 'nps', 'referrals', 'engagement')
                     OR criterion ~ '^attribute:[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    weight    float8 NOT NULL CHECK (weight >= 0 AND weight < 'Infinity'::float8)
);
SELECT pg_catalog.pg_extension_config_dump('hvc.score_weights', '');
COMMENT ON TABLE hvc.score_weights IS
    'Weights of the value score (hvc.config.value_basis = ''score''), one row per criterion; empty by default (a refresh with value_basis score and no positive weight fails with invalid_parameter_value). score = 100 * sum(weight * percentile) / sum(weight), each percentile the customer''s cume_dist of the criterion among the customers with a value for it, a missing value counting as 0.5. E.g. INSERT INTO hvc.score_weights VALUES (''predicted_clv'', 3), (''frequency'', 1), (''nps'', 1);';
COMMENT ON COLUMN hvc.score_weights.criterion IS
    'predicted_clv, historic_clv, margin, avg_order_value, frequency (orders) — the columns of hvc.customers; nps (latest answer), referrals (all referrals), engagement (engagement_90d) — the columns of hvc.customer_signals; or attribute:<name>, the latest value of the numeric attribute signal <name>. Missing: predicted_clv without a fit, margin without a margin column, nps or an attribute without an answer, and every customer''s value of a criterion whose signal is not registered. A customer without referrals or engagement rows of a registered signal has 0.';
COMMENT ON COLUMN hvc.score_weights.weight IS 'Weight of the criterion (>= 0, finite; 0 leaves it out). Only the ratios of the weights matter.';

CREATE OR REPLACE FUNCTION hvc._score_inputs(customer_proto anyelement, m hvc._model_params,
                                             as_of_day date, has_margin boolean)
RETURNS TABLE (customer_id anyelement, predicted_clv numeric, historic_clv numeric, orders bigint,
               avg_order_value numeric, margin numeric)
AS 'MODULE_PATHNAME', 'hvc_score_inputs' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._score_inputs(anyelement, hvc._model_params, date, boolean) IS
    'Internal: one streamed read of the refresh''s stage (pg_temp._hvc_stage) giving each customer''s predicted_clv, historic_clv, orders, avg_order_value and margin exactly as the new snapshot will show them: the purchase criteria of the value score.';

-- pg_temp._hvc_score (customer_id, score) for refresh id, before the build:
-- the purchase criteria from the stage, the signal criteria from the temp
-- tables of hvc._read_signals (the refresh's one read of every signal),
-- percentiles by window functions.
CREATE OR REPLACE FUNCTION hvc._score_prepare(id bigint, models hvc._model_params, as_of_day date,
                                              has_margin boolean, run_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_type text;
    total float8;
    crit text;
    missing text;
BEGIN
    IF id IS NULL OR models IS NULL OR as_of_day IS NULL OR has_margin IS NULL OR run_as_of IS NULL THEN
        RAISE EXCEPTION 'hvc: _score_prepare needs a refresh id, the models, as_of and has_margin'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the stage, and the signals the refresh read (hvc._read_signals)
    IF to_regclass('pg_temp._hvc_stage') IS NULL OR to_regclass('pg_temp._hvc_signal_sum') IS NULL
       OR to_regclass('pg_temp._hvc_signal_attrs') IS NULL THEN
        RAISE EXCEPTION 'hvc: _score_prepare runs inside a refresh, after its stage is built and its signals are read'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT sum(w.weight) INTO total FROM hvc.score_weights w WHERE w.weight > 0;
    IF total IS NULL THEN
        RAISE EXCEPTION 'hvc: value_basis is score but hvc.score_weights has no positive weight'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The score is sum(weight * percentile) / sum(weight) over the criteria of hvc.score_weights.',
                  HINT = 'INSERT INTO hvc.score_weights VALUES (''predicted_clv'', 3), (''frequency'', 1); or UPDATE hvc.config SET value_basis = ''predicted_clv'';';
    END IF;
    SELECT hvc._base_type(s.customer_type::regtype)::text INTO key_type FROM hvc.source s;
    FOREACH crit IN ARRAY ARRAY['_hvc_score', '_hvc_score_inputs', '_hvc_score_values'] LOOP
        IF to_regclass('pg_temp.' || crit) IS NOT NULL THEN
            EXECUTE format('DROP TABLE pg_temp.%I', crit);
        END IF;
    END LOOP;

    -- the criteria, long form: (customer, criterion, value), one row per
    -- customer and criterion with a value; first the purchase criteria
    EXECUTE format($q$
        CREATE TEMP TABLE _hvc_score_inputs ON COMMIT DROP AS
        SELECT * FROM hvc._score_inputs(NULL::%s, $1, $2, $3)$q$, key_type)
    USING models, as_of_day, has_margin;
    -- statistics, so the joins below are hash joins
    ANALYZE pg_temp._hvc_score_inputs;
    EXECUTE format('CREATE TEMP TABLE _hvc_score_values (customer_id %s, criterion text, value float8) ON COMMIT DROP',
                   key_type);
    INSERT INTO pg_temp._hvc_score_values
    SELECT i.customer_id, v.criterion, v.value
      FROM pg_temp._hvc_score_inputs i
     CROSS JOIN LATERAL (VALUES ('predicted_clv', i.predicted_clv::float8), ('historic_clv', i.historic_clv::float8),
                                ('frequency', i.orders::float8), ('avg_order_value', i.avg_order_value::float8),
                                ('margin', i.margin::float8)) v(criterion, value)
     WHERE v.value IS NOT NULL
       AND v.criterion IN (SELECT w.criterion FROM hvc.score_weights w WHERE w.weight > 0);

    -- the signal criteria of the stage's customers, from what
    -- hvc._read_signals read (summed over the signals of a kind: referrals,
    -- engagement; nps and each attribute have one); a customer without rows
    -- of a registered referral or engagement signal has 0 (as
    -- hvc.customer_signals shows)
    INSERT INTO pg_temp._hvc_score_values
    SELECT i.customer_id, v.criterion, v.value
      FROM pg_temp._hvc_score_inputs i
      LEFT JOIN pg_temp._hvc_signal_sum g ON g.customer_id = i.customer_id
     CROSS JOIN LATERAL (VALUES ('nps', g.nps[2]),
                                ('referrals', CASE WHEN EXISTS (SELECT 1 FROM hvc.signal s WHERE s.kind = 'referral')
                                                   THEN coalesce(g.referrals, 0)::float8 END),
                                ('engagement', CASE WHEN EXISTS (SELECT 1 FROM hvc.signal s WHERE s.kind = 'engagement')
                                                    THEN coalesce(g.e90, 0) END)) v(criterion, value)
     WHERE v.value IS NOT NULL
       AND v.criterion IN (SELECT w.criterion FROM hvc.score_weights w WHERE w.weight > 0);
    INSERT INTO pg_temp._hvc_score_values
    SELECT a.customer_id, 'attribute:' || a.name, a.value_numeric
      FROM pg_temp._hvc_signal_attrs a
     WHERE a.value_numeric IS NOT NULL
       AND 'attribute:' || a.name IN (SELECT w.criterion FROM hvc.score_weights w WHERE w.weight > 0)
       AND EXISTS (SELECT 1 FROM pg_temp._hvc_score_inputs i WHERE i.customer_id = a.customer_id);

    ANALYZE pg_temp._hvc_score_values;
    SELECT string_agg(w.criterion, ', ' ORDER BY w.criterion) INTO missing
      FROM hvc.score_weights w
     WHERE w.weight > 0
       AND NOT EXISTS (SELECT 1 FROM pg_temp._hvc_score_values v WHERE v.criterion = w.criterion);
    IF missing IS NOT NULL THEN
        RAISE NOTICE 'hvc: value score criteria without any value: %; they count as the median (0.5) for every customer', missing
            USING HINT = 'Register the signal they need (hvc.register_signal; attribute:<name> needs a numeric attribute signal <name>), map a margin column, fit a model, or set their weight to 0.';
    END IF;

    -- percentiles and the score: a customer without a value of criterion i
    -- counts 0.5 there, so score = (0.5 * total + sum over the customer's
    -- values of w_i (pct_i - 0.5)) / total
    EXECUTE format('CREATE TEMP TABLE _hvc_score (customer_id %s, score float8) ON COMMIT DROP', key_type);
    INSERT INTO pg_temp._hvc_score
    SELECT i.customer_id, 100 * (0.5 * total + coalesce(p.part, 0)) / total
      FROM pg_temp._hvc_score_inputs i
      LEFT JOIN (SELECT c.customer_id, sum(c.weight * (c.pct - 0.5)) AS part
                   FROM (SELECT v.customer_id, w.weight,
                                -- cume_dist(), from rank() (no look-ahead
                                -- over ties): (n - values above) / n
                                (k.n - rank() OVER (PARTITION BY v.criterion ORDER BY v.value DESC) + 1)::float8
                                / k.n AS pct
                           FROM pg_temp._hvc_score_values v
                           JOIN hvc.score_weights w ON w.criterion = v.criterion AND w.weight > 0
                           JOIN (SELECT x.criterion, count(*) AS n FROM pg_temp._hvc_score_values x
                                  GROUP BY x.criterion) k ON k.criterion = v.criterion) c
                  GROUP BY c.customer_id) p ON p.customer_id = i.customer_id;
    ANALYZE pg_temp._hvc_score;
    DROP TABLE pg_temp._hvc_score_values;
    DROP TABLE pg_temp._hvc_score_inputs;
END $$;
COMMENT ON FUNCTION hvc._score_prepare(bigint, hvc._model_params, date, boolean, timestamptz) IS
    'Internal: the value score of every customer of the refresh''s stage into pg_temp._hvc_score (customer_id, score in points 0-100) before hvc._build_snapshot ranks by it; invalid_parameter_value when hvc.score_weights has no positive weight; a NOTICE names the weighted criteria without any value.';
