-- ---------------------------------------------------------------------------
-- Citus.  hvc does not link Citus: it looks for it in the catalog at run
-- time, and calls its functions (run_command_on_workers, column_to_column_name) by
-- dynamic SQL only when the extension is there.  What runs where on a Citus
-- cluster (README, Scaling out): when the source is distributed by the
-- customer column, the stage's GROUP BY customer and every customer's
-- predictions run on the workers (96_citus_refresh.sql), and the snapshot's
-- rows are built and kept there (97_citus_snapshot.sql); the fits, what is
-- global to the ranks, the history and alert tables are the coordinator's.
-- ---------------------------------------------------------------------------

-- Called by hvc._check_source (so by register_source and by every refresh).
-- On a Citus coordinator with workers:
--   * every active worker must have hvc at the coordinator's version (an
--     error naming the workers that do not, or that cannot be reached,
--     instead of "schema hvc does not exist" from inside a worker query);
--   * a source that is not distributed by the customer column gets a NOTICE
--     saying what that costs.
CREATE OR REPLACE FUNCTION hvc._citus_check_source(rel regclass, customer text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    my_version text;
    bad text;
    kind text;
    dist_column text;
BEGIN
    IF rel IS NULL OR customer IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_check_source needs a relation and a customer column'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')
       OR to_regclass('pg_catalog.pg_dist_node') IS NULL THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node
                    WHERE groupid <> 0 AND isactive AND noderole = 'primary') THEN
        RETURN;                 -- a single-node Citus: everything is local
    END IF;

    SELECT extversion INTO my_version FROM pg_extension WHERE extname = 'hvc';
    EXECUTE $q$
        SELECT string_agg(format('%s:%s (%s)', nodename, nodeport,
                                 CASE WHEN NOT success THEN 'unreachable: ' || left(result, 200)
                                      WHEN result = '' THEN 'hvc not installed'
                                      ELSE 'hvc ' || result END), ', ' ORDER BY nodename, nodeport)
          FROM pg_catalog.run_command_on_workers(
                 $c$SELECT coalesce((SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'hvc'), '')$c$)
         WHERE NOT success OR result IS DISTINCT FROM $1 $q$
      INTO bad USING my_version;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'hvc: hvc % is not usable on every Citus worker: %', my_version, bad
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Queries on distributed tables run hvc''s functions on the workers, so every worker needs hvc at the coordinator''s version.',
                  HINT = format('Install the hvc %s package on every worker; then on the coordinator: SELECT run_command_on_workers(''CREATE EXTENSION IF NOT EXISTS hvc VERSION %L''), or ALTER EXTENSION hvc UPDATE on each worker.', my_version, my_version);
    END IF;

    EXECUTE $q$
        SELECT CASE WHEN partmethod = 'h' THEN 'distributed'
                    WHEN repmodel = 't' THEN 'reference' ELSE 'local' END,
               CASE WHEN partmethod = 'h' THEN pg_catalog.column_to_column_name(logicalrelid, partkey) END
          FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1 $q$
      INTO kind, dist_column USING rel;
    IF kind = 'distributed' AND dist_column = customer THEN
        RETURN;                 -- the per-customer aggregation runs on the workers
    ELSIF kind = 'distributed' THEN
        RAISE NOTICE 'hvc: % is distributed by column %, not by the customer column %', rel, quote_ident(dist_column), quote_ident(customer)
            USING DETAIL = 'Every refresh then ships all its rows to the coordinator, which groups them by customer there (on one server: about 4 times the refresh time of a source distributed by customer, and the rows spill to disk).',
                  HINT = format('Distribute it by the customer column: SELECT alter_distributed_table(%L, distribution_column := %L);', rel::text, customer);
    ELSIF kind = 'reference' THEN
        RAISE NOTICE 'hvc: % is a Citus reference table: every refresh reads it on one node and ships all its rows to the coordinator', rel
            USING HINT = format('Distribute it by the customer column: SELECT undistribute_table(%L); SELECT create_distributed_table(%L, %L);', rel::text, rel::text, customer);
    ELSE
        RAISE NOTICE 'hvc: % is not a Citus distributed table: every refresh reads it on the coordinator only', rel
            USING HINT = format('To spread the per-customer work over the workers: SELECT create_distributed_table(%L, %L); (a view: distribute its tables by the customer column).', rel::text, customer);
    END IF;
END $$;
COMMENT ON FUNCTION hvc._citus_check_source(regclass, text) IS
    'Internal: on a Citus coordinator with workers, checks that every worker has hvc at this version (error naming the workers otherwise) and says in a NOTICE what a source not distributed by the customer column costs; does nothing without Citus.';

-- true when Citus manages rel (a distributed, reference or Citus local
-- table, or a partitioned table of them); false otherwise, Citus or not.
-- The incremental refresh reads such a source with plain joins only: Citus
-- does not push down a LATERAL subquery over it that refers to a local
-- (temporary) table.
CREATE OR REPLACE FUNCTION hvc._citus_table(rel regclass) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found boolean;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'hvc: _citus_table needs a relation' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')
       OR to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;           -- (Citus's catalogs are only named in dynamic SQL)
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1)'
      INTO found USING rel;
    RETURN found;
END $$;
COMMENT ON FUNCTION hvc._citus_table(regclass) IS
    'Internal: whether Citus manages a relation (distributed, reference or Citus local table); false without Citus.';

-- The snapshot, history and alert objects that register_source creates are
-- local tables of the coordinator (the refresh writes them there), and the
-- views and functions over them are created locally too, without Citus
-- trying to propagate them to the workers (it would warn eight times that
-- they depend on tables not in its metadata).  A placeholder setting where
-- Citus is not loaded.
ALTER FUNCTION hvc._create_snapshot_objects(regtype) SET citus.enable_ddl_propagation = off;

-- (after 90_privileges.sql: internal, like every hvc._* routine)
REVOKE ALL ON FUNCTION hvc._citus_check_source(regclass, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hvc._citus_table(regclass) FROM PUBLIC;
