-- ---------------------------------------------------------------------------
-- Forgetting a customer (right to erasure).  hvc keeps copies of what it
-- read: the snapshot, tier history, the at-risk memory, alerts (ids in
-- sample_ids and payload) and anything else of schema hvc with a customer_id
-- column (stored states, signals).  hvc.forget_customer erases one customer
-- from all of it.  The source tables are the user's to erase: as long as the
-- customer is in them, the next refresh brings the customer back from there
-- (and only from there).
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc.forget_customer(customer anyelement) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
-- Runs with its caller's rights (not SECURITY DEFINER): whoever may delete
-- from hvc's tables (hvc's owner, a refresher role) may forget a customer.
DECLARE
    key_base regtype;
    key text;
    key_json jsonb;
    t record;
    n bigint;
    total bigint := 0;
    denied text;
BEGIN
    IF customer IS NULL THEN
        RAISE EXCEPTION 'hvc: the customer to forget must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'SELECT hvc.forget_customer(''C042''::text);';
    END IF;

    -- Every table of schema hvc that stores customer keys, and what this
    -- role lacks to erase from them (checked before any internal routine is
    -- called, so that a role without them gets this error).
    CREATE TEMP TABLE _hvc_keyed ON COMMIT DROP AS
    SELECT c.oid::regclass AS rel, a.atttypid::regtype AS key_type
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'customer_id' AND NOT a.attisdropped
     WHERE c.relnamespace = 'hvc'::regnamespace AND c.relkind IN ('r', 'p');
    SELECT string_agg(x.what, ', ' ORDER BY x.what) INTO denied
      FROM (SELECT format('SELECT, DELETE on %s', k.rel) AS what FROM _hvc_keyed k
             WHERE NOT (has_table_privilege(k.rel, 'SELECT') AND has_table_privilege(k.rel, 'DELETE'))
            UNION ALL
            SELECT 'SELECT, UPDATE on hvc.alerts'
             WHERE NOT has_table_privilege('hvc.alerts', 'SELECT') OR NOT has_table_privilege('hvc.alerts', 'UPDATE')
            UNION ALL
            SELECT 'SELECT, UPDATE on hvc.refresh_log'
             WHERE NOT has_table_privilege('hvc.refresh_log', 'SELECT') OR NOT has_table_privilege('hvc.refresh_log', 'UPDATE')
            UNION ALL
            SELECT 'UPDATE on hvc.refresh_lock'
             WHERE NOT has_table_privilege('hvc.refresh_lock', 'UPDATE')
            UNION ALL
            SELECT 'INSERT on hvc.state_invalidations'
             WHERE NOT has_table_privilege('hvc.state_invalidations', 'INSERT')
            UNION ALL
            SELECT 'EXECUTE on hvc''s internal routines'
             WHERE NOT has_function_privilege('hvc._customer_key_type(regtype)', 'EXECUTE')
                OR NOT has_function_privilege('hvc._base_type(regtype)', 'EXECUTE')
                OR NOT has_function_privilege('hvc._json_ids_without(jsonb, jsonb)', 'EXECUTE')
                OR NOT has_function_privilege('hvc._touch_refresh_lock()', 'EXECUTE')) x;
    IF denied IS NOT NULL THEN
        RAISE EXCEPTION 'hvc: role % may not forget customers', current_user
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('It lacks %s.', denied),
                  HINT = 'Run it as hvc''s owner, or as a refresher role (README, Privileges): GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA hvc and GRANT EXECUTE ON ALL ROUTINES IN SCHEMA hvc.';
    END IF;
    key_base := (hvc._customer_key_type(pg_typeof(customer))).base_type;
    key := customer::text;

    -- Not while a refresh builds a snapshot from the old one: take the
    -- refresh lock (hvc.refresh_lock, 59_refresh_lock.sql) until the end of
    -- the transaction, so a running refresh cannot bring the customer back
    -- from hvc's copies.
    PERFORM 1 FROM hvc.refresh_lock FOR UPDATE;
    PERFORM hvc._touch_refresh_lock();

    FOR t IN SELECT k.rel, k.key_type FROM _hvc_keyed k ORDER BY k.rel::text LOOP
        BEGIN
            EXECUTE format('DELETE FROM %s WHERE customer_id = $1::%s', t.rel, hvc._base_type(t.key_type))
              USING key;
        EXCEPTION WHEN data_exception THEN
            -- not a valid key of that type (e.g. 'abc' for an integer key): nothing stored
            CONTINUE;
        END;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    DROP TABLE _hvc_keyed;
    -- the stored states lost the customer (above): the next refresh is full,
    -- so it finds the customer in the source again like any other refresh
    -- (62_incremental.sql)
    IF total > 0 AND to_regclass('hvc.state_invalidations') IS NOT NULL THEN
        INSERT INTO hvc.state_invalidations (reason) VALUES ('hvc.forget_customer');
    END IF;

    -- Alerts keep up to 10 ids (JSON) in sample_ids and, depending on
    -- hvc.config.alert_payload, in the payload that was sent.
    BEGIN
        EXECUTE format('SELECT to_jsonb($1::%s)', key_base) INTO key_json USING key;
    EXCEPTION WHEN data_exception THEN
        key_json := NULL;
    END;
    IF key_json IS NOT NULL THEN
        UPDATE hvc.alerts al
           SET sample_ids = hvc._json_ids_without(al.sample_ids::jsonb, key_json)::text,
               payload = (SELECT jsonb_object_agg(e.key, CASE WHEN e.key IN ('newly_at_risk_ids', 'tier_drop_ids')
                                                               THEN hvc._json_ids_without(e.value, key_json)
                                                               ELSE e.value END)
                            FROM jsonb_each(al.payload::jsonb) e)::text
         WHERE al.sample_ids::jsonb @> jsonb_build_array(key_json)
            OR al.payload::jsonb -> 'newly_at_risk_ids' @> jsonb_build_array(key_json)
            OR al.payload::jsonb -> 'tier_drop_ids' @> jsonb_build_array(key_json);
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END IF;

    -- hvc's own messages never name customers, but the error of a failed
    -- refresh can quote a value of the source: "key" or (key).
    UPDATE hvc.refresh_log l
       SET message = replace(replace(l.message, '"' || key || '"', '"(forgotten customer)"'),
                             '(' || key || ')', '((forgotten customer))')
     WHERE strpos(l.message, '"' || key || '"') > 0 OR strpos(l.message, '(' || key || ')') > 0;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;

    RETURN total;
END $$;
COMMENT ON FUNCTION hvc.forget_customer(anyelement) IS
    'Right to erasure: erases one customer from everything hvc stores (hvc.customer_snapshot, hvc.tier_history, hvc.at_risk_previous and every other table of schema hvc with a customer_id column; the id in hvc.alerts sample_ids and payload; the key quoted as "key" or (key) in a failed refresh''s hvc.refresh_log message) and returns how many rows were deleted or rewritten (0 when there was nothing: calling it again is harmless). The key is given as the key type or as text, varchar, smallint, integer or bigint, uuid. Runs with the caller''s rights: hvc''s owner, or a refresher role (SELECT, UPDATE, DELETE on hvc''s tables, EXECUTE on its routines); others get insufficient_privilege saying what they lack. The source tables are the user''s to erase: until they are, the next refresh finds the customer there again.';

CREATE OR REPLACE FUNCTION hvc._json_ids_without(ids jsonb, id jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN jsonb_typeof(ids) = 'array'
                THEN coalesce((SELECT jsonb_agg(e.value ORDER BY e.n)
                                 FROM jsonb_array_elements(ids) WITH ORDINALITY e(value, n)
                                WHERE e.value <> id), '[]'::jsonb)
                ELSE ids END
$$;
COMMENT ON FUNCTION hvc._json_ids_without(jsonb, jsonb) IS
    'Internal: a JSON array of customer ids without one id (other JSON values unchanged); used by hvc.forget_customer.';
