-- ---------------------------------------------------------------------------
-- Trigger mode's row log: inserted rows merged into the stored states.
--
-- In trigger mode the INSERT trigger copies the mapped columns of every
-- inserted row (customer, ordered_at, amount, margin, order_id) into
-- hvc.inserted_rows, with the inserting transaction's id.  A refresh then
-- merges them into the stored states (hvc._state_merge: the aggregate's
-- own combine step, exact) instead of rereading the customers' histories:
-- a day of orders costs what its rows cost, not what the customers'
-- histories cost.  An UPDATE logs the rows whose mapped columns changed
-- the same way, its old rows as retracted rows and its new rows as added
-- ones, numbered by statement (hvc._row_log_update).  Where a statement's
-- old and new rows of a customer hold the same purchase facts (only amounts
-- or margins changed: hvc._state_same_shape), the refresh merges the added
-- rows and takes the retracted ones out again (hvc._state_retract: only
-- counters and sums change, so that is exact); other customers with logged
-- updates are recomputed from the source (hvc._touch_reshaped).  DELETEs
-- record keys (hvc.changed_customers), whose customers are recomputed.
--
-- Exactly once.  A logged row must reach a state either through a merge or
-- through a read of the source, never both and never neither:
--   * a merge consumes rows with DELETE ... RETURNING: exactly the rows it
--     removes, whatever commits meanwhile;
--   * a read of the source (the full stage, or the recompute of the
--     changed customers) sees the rows committed before its own snapshot,
--     which a function cannot name.  So the refresh takes a snapshot t1
--     before the read and t3 after it: rows whose transaction is visible in
--     t1 were read (remove them); rows not visible in t3 were not (keep
--     them: the next refresh merges them); rows in between may or may not
--     have been read: remove them and record their keys, so the next
--     refresh recomputes those customers from the source (recomputing is
--     idempotent).  A transaction visible in a snapshot stays visible in
--     every later one, so the three cases cover everything.
-- Rows of the customers a refresh recomputes are settled that way; the
-- rest are merged.  Subtransactions: the log row is written in the same
-- subtransaction as the source row (rolled back with it) and carries the
-- top-level id, which decides visibility once the subtransaction is done.
--
-- Only the registered table's own statements are logged: the trigger
-- function (src/change_trigger.c) reads the column names from hvc.source and
-- checks that it fires for that table and that each column has the log
-- column's type (or is a domain over it), so copying runs no cast,
-- operator or function.  It checks when it makes its statement, which it
-- keeps for the session while the registration and the row log stand and
-- no relcache invalidation (an ALTER TABLE, say) came.  Anything else
-- (another table carrying the trigger, a column changed since
-- registration) records keys only, as for updates: a recompute, never a
-- wrong merge.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc._state_merge(a bytea, b bytea) RETURNS bytea
AS 'MODULE_PATHNAME', 'hvc_state_merge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._state_merge(bytea, bytea) IS
    'Internal: the hvc.customer_state of the union of the rows two states were built from (both validated; exact).';

CREATE OR REPLACE FUNCTION hvc._state_retract(state bytea, retract bytea) RETURNS bytea
AS 'MODULE_PATHNAME', 'hvc_state_retract' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._state_retract(bytea, bytea) IS
    'Internal: the hvc.customer_state of state''s rows without those retract was built from, where an update replaced them by rows of the same purchase facts (hvc._state_same_shape) that state already holds (counters and sums change, sets and times stay; both validated; exact); NULL when retract cannot be rows of state (more rows of a kind, a purchase day or order id state lacks, a purchase outside its first and last, counts no rows could give).';

CREATE OR REPLACE FUNCTION hvc._state_same_shape(a bytea, b bytea) RETURNS boolean
AS 'MODULE_PATHNAME', 'hvc_state_same_shape' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._state_same_shape(bytea, bytea) IS
    'Internal: whether two hvc.customer_state values hold the same purchase facts (rows of each kind, rows without an order id, first and last purchase, purchase days, order ids; sums and margins may differ): an update statement''s old rows of a customer and its new ones, when only amounts or margins changed (both validated).';

CREATE OR REPLACE FUNCTION hvc._statement_number() RETURNS bigint
AS 'MODULE_PATHNAME', 'hvc_statement_number' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION hvc._statement_number() IS
    'Internal: a number this backend has not returned before; with the transaction id it names an UPDATE statement whose rows the change trigger logs.';

-- The mapped columns of a registration: log column name, source column
-- name, in the order the log table has them (margin and order_id only when
-- mapped).
CREATE OR REPLACE FUNCTION hvc._row_log_columns(src hvc.source, OUT i integer, OUT log_column text, OUT source_column text)
RETURNS SETOF record
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    -- plpgsql: the trigger calls this at every statement, and plpgsql keeps
    -- the plan (a SQL function with SET is planned at every call)
    RETURN QUERY
    SELECT u.i::integer, u.l, u.c
      FROM unnest(ARRAY['customer_id', 'ordered_at', 'amount', 'margin', 'order_id'],
                  ARRAY[src.customer, src.ordered_at, src.amount, src.margin, src.order_id])
           WITH ORDINALITY AS u(l, c, i)
     WHERE u.c IS NOT NULL
     ORDER BY u.i;
END $fn$;
COMMENT ON FUNCTION hvc._row_log_columns(hvc.source) IS
    'Internal: the columns hvc.inserted_rows copies from a registered source (log name, source name).';

-- (Re)create hvc.inserted_rows for the registered source (trigger mode
-- only; dropped otherwise).  Its columns have the base types of the
-- source's columns.  No index or constraint: the triggers only append.
CREATE OR REPLACE FUNCTION hvc._create_row_log(src hvc.source) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
DECLARE
    cols text;
BEGIN
    DROP TABLE IF EXISTS hvc.inserted_rows;
    IF src.track_changes IS DISTINCT FROM 'trigger' THEN
        RETURN;
    END IF;
    IF to_regclass(src.relation) IS NULL THEN
        RAISE EXCEPTION 'hvc: _create_row_log needs a registered source' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT string_agg(format('%I %s', m.log_column,
                             hvc._base_type(hvc._source_column_type(src.relation::regclass, m.log_column, m.source_column))),
                      ', ' ORDER BY m.i)
      INTO cols
      FROM hvc._row_log_columns(src) m;
    EXECUTE format('CREATE TABLE hvc.inserted_rows (xid xid8 NOT NULL, retract boolean NOT NULL, stmt bigint, %s)', cols);
    COMMENT ON TABLE hvc.inserted_rows IS 'Internal: rows inserted into the source since the last refresh (track_changes ''trigger''), copied by hvc''s INSERT trigger, and the old and new rows of updates whose mapped columns changed, copied by its UPDATE trigger; the next refresh merges them into the stored states (or recomputes their customers) and removes them.';
    COMMENT ON COLUMN hvc.inserted_rows.xid IS 'The inserting transaction (pg_current_xact_id()): tells a refresh whether its read of the source saw the row.';
    COMMENT ON COLUMN hvc.inserted_rows.retract IS 'false: a row added to the source (inserted, or the new row of an update); true: the old row an update replaced, taken out of the stored state again.';
    COMMENT ON COLUMN hvc.inserted_rows.stmt IS 'The UPDATE statement (with xid: hvc._statement_number()) whose old or new row this is; NULL for inserted rows.';
    COMMENT ON COLUMN hvc.inserted_rows.customer_id IS 'The row''s customer key (NULL for rows without a key).';
    COMMENT ON COLUMN hvc.inserted_rows.ordered_at IS 'The row''s order time, as in the source.';
    COMMENT ON COLUMN hvc.inserted_rows.amount IS 'The row''s amount, as in the source.';
    IF src.margin IS NOT NULL THEN
        COMMENT ON COLUMN hvc.inserted_rows.margin IS 'The row''s margin, as in the source.';
    END IF;
    IF src.order_id IS NOT NULL THEN
        COMMENT ON COLUMN hvc.inserted_rows.order_id IS 'The row''s order id, as in the source.';
    END IF;
    PERFORM hvc._attach_runtime_objects();
END $fn$;
COMMENT ON FUNCTION hvc._create_row_log(hvc.source) IS
    'Internal: (re)creates hvc.inserted_rows with the base types of the registered source''s mapped columns (trigger mode), or drops it.';

-- The INSERT statement the trigger runs for table rel, or NULL when rel is
-- not the registered trigger-mode source or a column's type no longer
-- matches the log's (then only keys are recorded).
CREATE OR REPLACE FUNCTION hvc._row_log_insert(rel oid) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    q text;
BEGIN
    -- planned once a session (plpgsql, generic plan: a custom plan per call
    -- read the catalogs' statistics each time), catalog rows by index; the
    -- trigger calls it when it makes its statement, not at every statement
    SELECT CASE WHEN count(*) = count(k.attname)
                     AND count(*) + 3 = (SELECT count(*) FROM pg_attribute x
                                          WHERE x.attrelid = to_regclass('hvc.inserted_rows')
                                            AND x.attnum > 0 AND NOT x.attisdropped)
           THEN format('INSERT INTO hvc.inserted_rows (xid, retract, %s) SELECT pg_catalog.pg_current_xact_id(), false, %s FROM hvc_new n',
                       string_agg(quote_ident(m.log_column), ', ' ORDER BY m.i),
                       string_agg('n.' || quote_ident(m.source_column), ', ' ORDER BY m.i))
           END
      INTO q
      FROM hvc.source s
     CROSS JOIN LATERAL hvc._row_log_columns(s) m
      LEFT JOIN LATERAL (SELECT a.atttypid, (SELECT t.typbasetype FROM pg_type t WHERE t.oid = a.atttypid) AS basetype
                           FROM pg_attribute a
                          WHERE a.attrelid = rel AND a.attname = m.source_column AND a.attnum > 0 AND NOT a.attisdropped) a ON true
      LEFT JOIN LATERAL (SELECT k.attname FROM pg_attribute k
                          WHERE k.attrelid = to_regclass('hvc.inserted_rows') AND k.attname = m.log_column
                            AND k.atttypid IN (a.atttypid, a.basetype)) k ON true
     WHERE s.track_changes = 'trigger' AND to_regclass(s.relation) = rel
    HAVING count(*) > 0;
    RETURN q;
END $fn$;
COMMENT ON FUNCTION hvc._row_log_insert(oid) IS
    'Internal: the statement the INSERT trigger uses to copy inserted rows into hvc.inserted_rows, or NULL when the table or its column types do not match the registration.';

-- The statement the UPDATE trigger uses for table rel.  The statement's
-- changed rows are the difference of its old and new rows both ways
-- (EXCEPT ALL over the mapped columns: customer, ordered_at, amount, margin,
-- order_id).  A customer's state depends only on the multiset of its rows'
-- mapped values, so an update that leaves them as they were (a status or
-- shipping column, say) logs nothing and costs the next refresh nothing.
-- The changed rows go into the row log, the old ones retracted, all with
-- the statement's number (hvc._statement_number(), once per statement): the
-- refresh merges those of customers whose old and new rows hold the same
-- purchase facts and recomputes the others (63_row_log.sql's header).  The
-- comparison of purchase facts runs at the refresh, not here: in the
-- trigger it doubled the cost of a one-row UPDATE statement (about 180 ->
-- 400 us, planning included).  Only when rel is the registered trigger-mode
-- source and every mapped column has one of the built-in types below (not
-- a domain): the comparisons then run only built-in equality, text-like
-- columns bytewise (COLLATE "C": equal bytes, equal key and order hash);
-- the changed rows' keys (hvc.changed_customers) when the row log's
-- columns no longer have the source's types.  NULL otherwise: the trigger
-- records every updated row's keys.
CREATE OR REPLACE FUNCTION hvc._row_log_update(rel oid) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    q text;
BEGIN
    SELECT CASE WHEN count(*) = count(a.atttypid)
                     AND bool_and(a.atttypid = ANY (ARRAY['int2', 'int4', 'int8', 'numeric', 'float4', 'float8',
                                                          'text', 'varchar', 'bpchar', 'date', 'timestamp',
                                                          'timestamptz', 'uuid']::regtype[]::oid[]))
           THEN CASE WHEN count(*) = count(k.attname)
                          AND count(*) + 3 = (SELECT count(*) FROM pg_attribute x
                                               WHERE x.attrelid = to_regclass('hvc.inserted_rows')
                                                 AND x.attnum > 0 AND NOT x.attisdropped)
                THEN format('INSERT INTO hvc.inserted_rows (xid, retract, stmt, %3$s) '
                            'SELECT pg_catalog.pg_current_xact_id(), c.retract, (SELECT hvc._statement_number()), %4$s FROM '
                            '((SELECT true AS retract, %1$s FROM hvc_old o EXCEPT ALL SELECT true, %2$s FROM hvc_new n) UNION ALL '
                            '(SELECT false, %2$s FROM hvc_new n EXCEPT ALL SELECT false, %1$s FROM hvc_old o)) c',
                            string_agg('o.' || quote_ident(m.source_column) || a.collate_c || ' AS ' || quote_ident(m.log_column), ', ' ORDER BY m.i),
                            string_agg('n.' || quote_ident(m.source_column) || a.collate_c, ', ' ORDER BY m.i),
                            string_agg(quote_ident(m.log_column), ', ' ORDER BY m.i),
                            string_agg('c.' || quote_ident(m.log_column), ', ' ORDER BY m.i))
                ELSE format('INSERT INTO hvc.changed_customers (customer_id) SELECT d.k FROM '
                            '((SELECT %1$s FROM hvc_old o EXCEPT ALL SELECT %2$s FROM hvc_new n) UNION ALL '
                            '(SELECT %2$s FROM hvc_new n EXCEPT ALL SELECT %1$s FROM hvc_old o)) d(k)',
                            string_agg('o.' || quote_ident(m.source_column) || a.collate_c, ', ' ORDER BY m.i),
                            string_agg('n.' || quote_ident(m.source_column) || a.collate_c, ', ' ORDER BY m.i))
                END
           END
      INTO q
      FROM hvc.source s
     CROSS JOIN LATERAL hvc._row_log_columns(s) m
      LEFT JOIN LATERAL (SELECT a.atttypid,
                                CASE WHEN a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)
                                     THEN ' COLLATE "C"' ELSE '' END AS collate_c
                           FROM pg_attribute a
                          WHERE a.attrelid = rel AND a.attname = m.source_column AND a.attnum > 0
                            AND NOT a.attisdropped) a ON true
      LEFT JOIN LATERAL (SELECT k.attname FROM pg_attribute k
                          WHERE k.attrelid = to_regclass('hvc.inserted_rows') AND k.attname = m.log_column
                            AND k.atttypid = a.atttypid) k ON true
     WHERE s.track_changes = 'trigger' AND to_regclass(s.relation) = rel
    HAVING count(*) > 0;
    RETURN q;
END $fn$;
COMMENT ON FUNCTION hvc._row_log_update(oid) IS
    'Internal: the statement the UPDATE trigger uses: the old and new rows whose mapped columns changed into hvc.inserted_rows (old ones retracted, with the statement''s number), or their keys into hvc.changed_customers when the row log no longer has the source''s column types; NULL (record every updated row''s keys) when the table is not the registered source or a mapped column is not of a built-in type it compares.';

-- The state expression over the row log's columns (hvc._state_expr under
-- the source's mapping) of logged rows r.
CREATE OR REPLACE FUNCTION hvc._row_log_state_expr(src hvc.source, as_of_local timestamp, tz text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    logged hvc.source;
BEGIN
    logged := src;
    logged.ordered_at := 'ordered_at';
    logged.amount := 'amount';
    logged.margin := CASE WHEN src.margin IS NOT NULL THEN 'margin' END;
    logged.order_id := CASE WHEN src.order_id IS NOT NULL THEN 'order_id' END;
    RETURN hvc._state_expr(logged, as_of_local, tz);
END $fn$;
COMMENT ON FUNCTION hvc._row_log_state_expr(hvc.source, timestamp, text) IS
    'Internal: the hvc.customer_state(...) call over the columns of hvc.inserted_rows (alias s) under the registered source''s mapping.';

-- The customers whose logged updates changed more than amounts or margins:
-- a statement whose old rows of the customer and new ones do not hold the
-- same purchase facts (a time to another day, a purchase turned refund, an
-- amount turned NULL, a row moved to another customer).  Their state cannot
-- be patched: SQL (over logged rows s) giving each such key once.
CREATE OR REPLACE FUNCTION hvc._reshaped_sql(state_expr text, rows_sql text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('SELECT DISTINCT g.customer_id FROM '
                  '(SELECT s.customer_id, %1$s FILTER (WHERE s.retract) AS o, %1$s FILTER (WHERE NOT s.retract) AS n '
                  'FROM (%2$s) s WHERE s.stmt IS NOT NULL GROUP BY s.customer_id, s.xid, s.stmt) g '
                  'WHERE g.o IS NULL OR g.n IS NULL OR NOT hvc._state_same_shape(g.o, g.n)',
                  state_expr, rows_sql)
$$;
COMMENT ON FUNCTION hvc._reshaped_sql(text, text) IS
    'Internal: SQL giving the keys of the customers whose logged UPDATE rows (from rows_sql) changed more than amounts or margins in some statement (old and new rows with other purchase facts: hvc._state_same_shape).';

-- Before an incremental refresh reads the source: the customers whose
-- logged updates changed more than amounts join pg_temp._hvc_touched (they
-- are recomputed, their logged rows settled with the read).  Returns how
-- many joined.
CREATE OR REPLACE FUNCTION hvc._touch_reshaped(src hvc.source, as_of_local timestamp, tz text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n bigint;
BEGIN
    IF to_regclass('hvc.inserted_rows') IS NULL
       OR NOT EXISTS (SELECT 1 FROM hvc.inserted_rows r WHERE r.stmt IS NOT NULL) THEN
        RETURN 0;
    END IF;
    IF src.relation IS NULL OR as_of_local IS NULL OR tz IS NULL OR to_regclass('pg_temp._hvc_touched') IS NULL THEN
        RAISE EXCEPTION 'hvc: _touch_reshaped runs inside a refresh, with a registered source'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format('INSERT INTO pg_temp._hvc_touched (customer_id) SELECT x.customer_id FROM (%s) x WHERE NOT %s',
                   hvc._reshaped_sql(hvc._row_log_state_expr(src, as_of_local, tz),
                                     'SELECT * FROM hvc.inserted_rows WHERE stmt IS NOT NULL'),
                   hvc._touched_condition('x'));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $fn$;
COMMENT ON FUNCTION hvc._touch_reshaped(hvc.source, timestamp, text) IS
    'Internal: incremental refresh, trigger mode: adds to pg_temp._hvc_touched the customers whose logged updates changed more than amounts or margins (to be recomputed from the source); returns how many.';

-- Whether logged row r's key is one of pg_temp._hvc_touched's (NULL keys
-- match the NULL key).  Always true or false, never NULL: the merge takes
-- the rows where it is false, and a plain IN over a set holding the NULL
-- key is NULL for every other key.
CREATE OR REPLACE FUNCTION hvc._touched_condition(alias text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('(CASE WHEN %1$s.customer_id IS NULL
                         THEN EXISTS (SELECT FROM pg_temp._hvc_touched t WHERE t.customer_id IS NULL)
                         ELSE %1$s.customer_id IN (SELECT t.customer_id FROM pg_temp._hvc_touched t
                                                    WHERE t.customer_id IS NOT NULL) END)',
                  quote_ident(alias))
$$;
COMMENT ON FUNCTION hvc._touched_condition(text) IS
    'Internal: SQL condition "this row''s customer_id is a key of pg_temp._hvc_touched" for a table alias.';

-- After a read of the source that began after snapshot t1: settle the
-- logged rows it may have seen (all of them, or only the touched
-- customers').  Returns the customers left for the next refresh to
-- recompute (rows committed while the read ran).
CREATE OR REPLACE FUNCTION hvc._settle_row_log(t1 pg_snapshot, only_touched boolean) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    t3 pg_snapshot := pg_current_snapshot();
    n bigint;
BEGIN
    IF t1 IS NULL OR only_touched IS NULL THEN
        RAISE EXCEPTION 'hvc: _settle_row_log needs the snapshot taken before the read' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_regclass('hvc.inserted_rows') IS NULL THEN
        RETURN 0;
    END IF;
    IF only_touched AND to_regclass('pg_temp._hvc_touched') IS NULL THEN
        RAISE EXCEPTION 'hvc: _settle_row_log runs inside a refresh' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format($q$
        WITH d AS (DELETE FROM hvc.inserted_rows r
                    WHERE pg_visible_in_snapshot(r.xid, $1) AND %s
                   RETURNING r.customer_id, pg_visible_in_snapshot(r.xid, $2) AS read)
        INSERT INTO hvc.changed_customers (customer_id)
        SELECT DISTINCT d.customer_id FROM d WHERE NOT d.read$q$,
        CASE WHEN only_touched THEN hvc._touched_condition('r') ELSE 'true' END)
    USING t3, t1;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $fn$;
COMMENT ON FUNCTION hvc._settle_row_log(pg_snapshot, boolean) IS
    'Internal: after a read of the source begun after snapshot t1, removes the logged rows it saw and hands the customers of rows it may have seen to the next refresh''s recompute.';

-- Incremental refresh: the states of pg_temp._hvc_merged (customer_id,
-- state, n, retract, replaced, reshaped: each customer's rows to add as
-- one state, n of them, and in trigger mode the rows updates replaced,
-- replaced of them, as one state to retract; reshaped when an update
-- changed more than amounts: not merged) merged into the
-- stored states (hvc._state_merge: the aggregate's own combine step, exact);
-- customers without a stored state get this one.  Shared by trigger mode's
-- logged rows (hvc._merge_row_log) and column mode's new rows
-- (hvc._merge_column_delta, 64_column_delta.sql, which retracts nothing).
-- Returns the rows and customers merged, the rows retracted, and the
-- customers left for the next refresh: reshaped, or their retracted rows
-- did not fit their stored state.
CREATE OR REPLACE FUNCTION hvc._apply_merged_states(OUT merged_rows bigint, OUT merged_customers bigint,
                                                    OUT retracted_rows bigint, OUT unfit bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    states bigint;
    hashjoin text;
    mergejoin text;
    n_unfit bigint;
    guests bigint;
BEGIN
    IF to_regclass('pg_temp._hvc_merged') IS NULL OR to_regclass('hvc.customer_states') IS NULL THEN
        RAISE EXCEPTION 'hvc: _apply_merged_states runs inside an incremental refresh, after pg_temp._hvc_merged'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT coalesce(sum(m.n), 0), count(*), coalesce(sum(m.replaced), 0)
      INTO merged_rows, merged_customers, retracted_rows
      FROM pg_temp._hvc_merged m;
    IF merged_customers = 0 THEN
        unfit := 0;
        RETURN;
    END IF;
    -- customers whose logged updates changed more than amounts: not merged,
    -- recomputed by the next refresh (their logged rows are consumed)
    WITH d AS (DELETE FROM pg_temp._hvc_merged m WHERE m.reshaped RETURNING m.customer_id)
    INSERT INTO hvc.changed_customers (customer_id) SELECT d.customer_id FROM d;
    GET DIAGNOSTICS unfit = ROW_COUNT;
    -- The rows without a key: a refresh only counts them, so their state
    -- is their number (hvc._guest_state; no logged row could be retracted
    -- from it): the stored number plus the added rows less the replaced
    -- ones.
    SELECT coalesce((SELECT c.rows FROM hvc.customer_states c WHERE c.customer_id IS NULL), 0) + m.n - m.replaced
      INTO guests
      FROM pg_temp._hvc_merged m WHERE m.customer_id IS NULL;
    IF guests IS NOT NULL THEN
        DELETE FROM pg_temp._hvc_merged m WHERE m.customer_id IS NULL;
        IF guests < 0 THEN
            -- more rows replaced than stored (rows written around the
            -- change triggers): the next refresh counts them
            INSERT INTO hvc.changed_customers (customer_id) VALUES (NULL);
            unfit := unfit + 1;
        ELSE
            DELETE FROM hvc.customer_states c WHERE c.customer_id IS NULL;
            INSERT INTO hvc.customer_states (customer_id, state, rows, skipped)
            SELECT NULL, hvc._guest_state(guests), guests, true WHERE guests > 0;
        END IF;
    END IF;
    -- Updates of amounts: the whole new state of each such customer
    -- first, its stored state with the added rows merged and the replaced
    -- ones retracted (a few customers: probed one by one); from here on a
    -- row with retract holds that whole state, not rows to merge.  A
    -- customer whose retracted rows cannot be rows of that state (rows
    -- written around the change triggers) keeps its stored state and goes
    -- to the next refresh's recompute, which reads the source (the logged
    -- rows are consumed either way).
    IF retracted_rows > 0 THEN
        UPDATE pg_temp._hvc_merged m
           SET state = hvc._state_retract(
                   coalesce(hvc._state_merge((SELECT c.state FROM hvc.customer_states c WHERE c.customer_id = m.customer_id),
                                             m.state),
                            m.state),
                   m.retract)
         WHERE m.retract IS NOT NULL;
        WITH d AS (DELETE FROM pg_temp._hvc_merged m WHERE m.retract IS NOT NULL AND m.state IS NULL
                   RETURNING m.customer_id)
        INSERT INTO hvc.changed_customers (customer_id) SELECT d.customer_id FROM d;
        GET DIAGNOSTICS n_unfit = ROW_COUNT;
        unfit := unfit + n_unfit;
    END IF;
    ANALYZE pg_temp._hvc_merged;
    -- A day's merged customers are a few percent of the states: probed
    -- through the states' hash index, not joined to a scan of them all (the
    -- planner prices the scan lower: 500 k states, 10 k merged, 0.47 s
    -- against 0.05 s; 98 k merged at 50 M lines, 1.14 s against 1.66 s for
    -- the update and the insert).  Beyond a quarter, its choice (a probe
    -- may read a page the scan would read in order).
    states := coalesce((SELECT i.customers FROM hvc.state_info i), 0);
    IF merged_customers * 4 < states THEN
        hashjoin := current_setting('enable_hashjoin');
        mergejoin := current_setting('enable_mergejoin');
        PERFORM set_config('enable_hashjoin', 'off', true);
        PERFORM set_config('enable_mergejoin', 'off', true);
    END IF;
    UPDATE hvc.customer_states c
       SET state = CASE WHEN m.retract IS NOT NULL THEN m.state ELSE hvc._state_merge(c.state, m.state) END,
           rows = CASE WHEN m.retract IS NOT NULL THEN hvc._state_rows(m.state) ELSE c.rows + hvc._state_rows(m.state) END,
           skipped = CASE WHEN m.retract IS NOT NULL THEN hvc._state_skipped(m.state) > 0
                          ELSE c.skipped OR hvc._state_skipped(m.state) > 0 END
      FROM pg_temp._hvc_merged m
     WHERE c.customer_id = m.customer_id;
    -- new customers (anti-join, probed through the states' hash index)
    INSERT INTO hvc.customer_states (customer_id, state, rows, skipped)
    SELECT m.customer_id, m.state, hvc._state_rows(m.state), hvc._state_skipped(m.state) > 0
      FROM pg_temp._hvc_merged m
     WHERE m.customer_id IS NOT NULL
       AND NOT EXISTS (SELECT FROM hvc.customer_states c WHERE c.customer_id = m.customer_id);
    IF hashjoin IS NOT NULL THEN
        PERFORM set_config('enable_hashjoin', hashjoin, true);
        PERFORM set_config('enable_mergejoin', mergejoin, true);
    END IF;
END $fn$;
COMMENT ON FUNCTION hvc._apply_merged_states() IS
    'Internal: incremental refresh: merges the states of pg_temp._hvc_merged into hvc.customer_states (new customers inserted) and takes out the rows updates of amounts replaced; returns the rows and customers merged, the rows retracted and the customers whose retracted rows did not fit their stored state (left for the next refresh to recompute).';

-- Incremental refresh, trigger mode: merge the logged rows of every
-- customer not being recomputed into the stored states (new customers get a
-- state).  Returns the rows merged and the customers they belong to.
CREATE OR REPLACE FUNCTION hvc._merge_row_log(src hvc.source, as_of_local timestamp, tz text,
                                              OUT merged_rows bigint, OUT merged_customers bigint,
                                              OUT retracted_rows bigint, OUT unfit bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    state_expr text;
BEGIN
    merged_rows := 0;
    merged_customers := 0;
    retracted_rows := 0;
    unfit := 0;
    IF to_regclass('hvc.inserted_rows') IS NULL THEN
        RETURN;
    END IF;
    IF src.relation IS NULL OR as_of_local IS NULL OR tz IS NULL OR to_regclass('pg_temp._hvc_touched') IS NULL THEN
        RAISE EXCEPTION 'hvc: _merge_row_log runs inside a refresh, with a registered source'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- (not DROP TABLE IF EXISTS: its NOTICE would reach the caller)
    IF to_regclass('pg_temp._hvc_merged') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_merged;
    END IF;
    -- per customer the added rows as one state, the rows updates replaced
    -- as another (NULL when none), and whether a logged update changed
    -- more than amounts (an update committed after hvc._touch_reshaped
    -- looked: that customer goes to the next refresh's recompute)
    state_expr := hvc._row_log_state_expr(src, as_of_local, tz);
    EXECUTE format($q$
        CREATE TEMP TABLE _hvc_merged ON COMMIT DROP AS
        WITH s AS (DELETE FROM hvc.inserted_rows r WHERE NOT %1$s RETURNING r.*),
             reshaped AS (%3$s),
             m AS (SELECT s.customer_id, %2$s FILTER (WHERE NOT s.retract) AS state,
                          %2$s FILTER (WHERE s.retract) AS retract,
                          count(*) FILTER (WHERE NOT s.retract) AS n, count(*) FILTER (WHERE s.retract) AS replaced
                     FROM s GROUP BY 1)
        SELECT m.*,
               x.customer_id IS NOT NULL
               OR (m.customer_id IS NULL AND EXISTS (SELECT FROM reshaped y WHERE y.customer_id IS NULL)) AS reshaped
          FROM m LEFT JOIN reshaped x ON x.customer_id = m.customer_id$q$,
        hvc._touched_condition('r'), state_expr, hvc._reshaped_sql(state_expr, 'SELECT * FROM s'));
    SELECT a.merged_rows, a.merged_customers, a.retracted_rows, a.unfit
      INTO merged_rows, merged_customers, retracted_rows, unfit
      FROM hvc._apply_merged_states() a;
    DROP TABLE pg_temp._hvc_merged;
END $fn$;
COMMENT ON FUNCTION hvc._merge_row_log(hvc.source, timestamp, text) IS
    'Internal: incremental refresh, trigger mode: merges the rows logged in hvc.inserted_rows of every customer not being recomputed into hvc.customer_states and takes out the rows updates of amounts replaced; returns the rows and customers merged, the rows retracted and the customers left for the next refresh (retracted rows that did not fit).';
