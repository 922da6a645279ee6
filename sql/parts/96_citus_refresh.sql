-- ---------------------------------------------------------------------------
-- The refresh on a Citus cluster (README, Scaling out).  When the source is
-- a distributed table hashed by the customer column and the refresh reads
-- it whole (a full refresh):
--   1. the stage is built on the workers, shard by shard, into
--      hvc.citus_stage, a distributed table colocated with the source
--      (INSERT ... SELECT ... GROUP BY customer, pushed down): no state
--      crosses the network to be built;
--   2. the coordinator copies it into pg_temp._hvc_stage, which the fits,
--      the backtest, the retention and the builder read as on one server;
--   3. after the fits, each customer's predictions (the hypergeometric
--      series of the CLV, p_alive, churn risk, next order: the costliest
--      per-customer step) are computed on the workers next to the shards
--      of hvc.citus_stage (hvc._citus_predict, the builder's own code, with
--      the fitted models as a constant) into pg_temp._hvc_predictions; the
--      builder reads them instead of predicting.
-- When register_source put the snapshot's rows on the workers, steps 3 and
-- on are 97_citus_snapshot.sql's (hvc._citus_predictions is not used then);
-- else the snapshot, history and alert tables are local tables of the
-- coordinator, swapped in one transaction as on one server.  Anything else
-- (an incremental refresh, plain PostgreSQL) takes the path of one server.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc._citus_predict(state bytea, m hvc._model_params, as_of_day date)
RETURNS float8[] AS 'MODULE_PATHNAME', 'hvc_citus_predict'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._citus_predict(bytea, hvc._model_params, date) IS
    'Internal: one customer''s predictions from its serialised state and the fitted models, as float8[] (p_alive, churn_risk, predicted_orders, expected_order_value, predicted_clv, next_order_in; NULL without a purchase row or a usable purchase model): what the snapshot builder computes, run on the Citus workers.';

-- true when rel is a Citus distributed table hashed by column customer (on a
-- coordinator with active workers); false otherwise, Citus or not.
CREATE OR REPLACE FUNCTION hvc._citus_distributed_by(rel regclass, customer text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dist_column text;
BEGIN
    IF rel IS NULL OR customer IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_distributed_by needs a relation and a customer column'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')
       OR to_regclass('pg_catalog.pg_dist_partition') IS NULL
       OR to_regclass('pg_catalog.pg_dist_node') IS NULL THEN
        RETURN false;           -- (Citus's catalogs are only named in dynamic SQL)
    END IF;
    EXECUTE $q$
        SELECT pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)
          FROM pg_catalog.pg_dist_partition p
         WHERE p.logicalrelid = $1 AND p.partmethod = 'h'
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node n
                        WHERE n.groupid <> 0 AND n.isactive AND n.noderole = 'primary') $q$
      INTO dist_column USING rel;
    RETURN dist_column IS NOT DISTINCT FROM customer AND dist_column IS NOT NULL;
END $$;
COMMENT ON FUNCTION hvc._citus_distributed_by(regclass, text) IS
    'Internal: whether a relation is a Citus distributed table hashed by the given column (false without Citus or without workers).';

-- hvc.citus_stage and hvc.citus_scored: keyed by the source's key type,
-- colocated with it (recreated when the source or its key type changed).
-- Made by register_source when the snapshot goes on the workers
-- (97_citus_snapshot.sql), so the first refresh does no DDL; checked by
-- every full refresh of a source distributed by customer.
CREATE OR REPLACE FUNCTION hvc._citus_stage_tables(rel regclass, key_type text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET citus.enable_ddl_propagation = on AS $fn$
DECLARE
    current_type text;
    colocated boolean;
BEGIN
    IF rel IS NULL OR key_type IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_stage_tables needs the source and its key type'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_regclass('hvc.citus_stage') IS NOT NULL THEN
        SELECT format_type(a.atttypid, a.atttypmod) INTO current_type
          FROM pg_attribute a
         WHERE a.attrelid = 'hvc.citus_stage'::regclass AND a.attname = 'customer_id' AND NOT a.attisdropped;
        EXECUTE $q$
            SELECT count(DISTINCT p.colocationid) = 1 AND count(*) = 2
              FROM pg_catalog.pg_dist_partition p
             WHERE p.logicalrelid IN ($1, 'hvc.citus_stage'::regclass) $q$
          INTO colocated USING rel;
        IF current_type IS DISTINCT FROM key_type OR NOT colocated THEN
            DROP TABLE hvc.citus_stage;
            DROP TABLE IF EXISTS hvc.citus_scored;
        END IF;
    END IF;
    -- (the stage and the scores are UNLOGGED: emptied after every refresh,
    -- nothing in them needs to survive a crash or reach a replica)
    IF to_regclass('hvc.citus_stage') IS NULL THEN
        EXECUTE format('CREATE UNLOGGED TABLE hvc.citus_stage (customer_id %s NOT NULL, state bytea NOT NULL)', key_type);
        COMMENT ON TABLE hvc.citus_stage IS
            'The stage of the last full refresh on this Citus cluster (one serialised customer state per customer), distributed and colocated with the source: written and read by hvc.refresh() only.';
        PERFORM pg_catalog.create_distributed_table('hvc.citus_stage', 'customer_id', colocate_with => rel::text);
        PERFORM hvc._depend_on_extension('hvc.citus_stage'::regclass);
    END IF;
    -- what the snapshot built on the workers needs (97_citus_snapshot.sql)
    IF to_regclass('hvc.citus_scored') IS NULL THEN
        EXECUTE format('CREATE UNLOGGED TABLE hvc.citus_scored (customer_id %s NOT NULL, value_cents bigint NOT NULL,
                            first_day integer NOT NULL, last_day integer NOT NULL, orders bigint NOT NULL,
                            frequency integer NOT NULL, revenue bigint NOT NULL, churn_risk float8,
                            prediction float8[] NOT NULL, shard_hash integer NOT NULL)', key_type);
        COMMENT ON TABLE hvc.citus_scored IS
            'Per customer of the last full refresh on this Citus cluster, its value, purchase days, orders, revenue, churn risk and predictions (hvc._citus_score), colocated with the source: written and read by hvc.refresh() only, emptied after it.';
        PERFORM pg_catalog.create_distributed_table('hvc.citus_scored', 'customer_id', colocate_with => rel::text);
        PERFORM hvc._depend_on_extension('hvc.citus_scored'::regclass);
    END IF;

END $fn$;
COMMENT ON FUNCTION hvc._citus_stage_tables(regclass, text) IS
    'Internal: makes hvc.citus_stage and hvc.citus_scored (UNLOGGED, distributed by customer_id, colocated with the source, keyed by its key type) unless they are so already.';

-- Step 1 of a full refresh on the workers: true when it built
-- pg_temp._hvc_stage (from hvc.citus_stage), false when the source does not
-- qualify (the caller then builds the stage as on one server).
-- state_expr is hvc._state_expr(...) over the source aliased s.
CREATE OR REPLACE FUNCTION hvc._citus_stage(src hvc.source, state_expr text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    rel regclass;
    key_type text;
BEGIN
    IF src.relation IS NULL OR src.customer IS NULL OR state_expr IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_stage needs the source and the state expression'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_regclass('pg_temp._hvc_citus_staged') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_citus_staged;
    END IF;
    rel := src.relation::regclass;
    IF NOT hvc._citus_distributed_by(rel, src.customer) THEN
        RETURN false;
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO key_type
      FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = src.customer AND NOT a.attisdropped;

    PERFORM hvc._citus_stage_tables(rel, key_type);
    TRUNCATE hvc.citus_stage;
    -- pushed down: each shard of the source into its colocated shard
    EXECUTE format('INSERT INTO hvc.citus_stage (customer_id, state)
                    SELECT s.%1$I, %2$s FROM %3$s s GROUP BY 1',
                   src.customer, state_expr, rel);
    CREATE TEMP TABLE _hvc_stage ON COMMIT DROP AS
    SELECT c.customer_id, c.state FROM hvc.citus_stage c;
    -- hvc._citus_predictions uses hvc.citus_stage only when it is this
    -- refresh's stage
    CREATE TEMP TABLE _hvc_citus_staged () ON COMMIT DROP;
    RETURN true;
END $fn$;
COMMENT ON FUNCTION hvc._citus_stage(hvc.source, text) IS
    'Internal: step 1 of a full refresh of a source distributed by customer on Citus: the per-customer states are aggregated on the workers into hvc.citus_stage (colocated with the source) and copied into pg_temp._hvc_stage; false (nothing done) when the source does not qualify.';

-- Step 3 on the workers: the predictions of every customer of this
-- refresh's hvc.citus_stage, with the models the builder is about to use,
-- into pg_temp._hvc_predictions (read by hvc._build_snapshot).  Does
-- nothing (and leaves no pg_temp._hvc_predictions) unless hvc._citus_stage
-- built this refresh's stage and the purchase model is usable.  Empties
-- hvc.citus_stage.
-- extra_float_digits: the models travel to the workers as text.
CREATE OR REPLACE FUNCTION hvc._citus_predictions(m hvc._model_params, as_of_day date) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp SET extra_float_digits = 3 AS $fn$
BEGIN
    IF to_regclass('pg_temp._hvc_predictions') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_predictions;
    END IF;
    IF to_regclass('pg_temp._hvc_citus_staged') IS NULL THEN
        RETURN false;
    END IF;
    DROP TABLE pg_temp._hvc_citus_staged;
    IF as_of_day IS NOT NULL AND coalesce(m.usable, false) THEN   -- (m IS NOT NULL: every field)
        EXECUTE format('CREATE TEMP TABLE _hvc_predictions ON COMMIT DROP AS
                        SELECT c.customer_id, hvc._citus_predict(c.state, %L::hvc._model_params, %L::date) AS prediction
                          FROM hvc.citus_stage c', m, as_of_day);
    END IF;
    -- the states are in pg_temp._hvc_stage now: nothing stays on the workers
    -- between refreshes (hvc.forget_customer has nothing to erase there)
    TRUNCATE hvc.citus_stage;
    RETURN to_regclass('pg_temp._hvc_predictions') IS NOT NULL;
END $fn$;
COMMENT ON FUNCTION hvc._citus_predictions(hvc._model_params, date) IS
    'Internal: on Citus, after the fits, computes every customer''s predictions on the workers (hvc._citus_predict over the shards of hvc.citus_stage) into pg_temp._hvc_predictions for the snapshot builder; false (nothing done) unless this refresh''s stage was built by hvc._citus_stage and the purchase model is usable.';

-- (after 90_privileges.sql: internal, like every hvc._* routine)
REVOKE ALL ON FUNCTION hvc._citus_predict(bytea, hvc._model_params, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_distributed_by(regclass, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_stage(hvc.source, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_stage_tables(regclass, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_predictions(hvc._model_params, date) FROM PUBLIC;
