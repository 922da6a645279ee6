-- ---------------------------------------------------------------------------
-- The refresh lock, and what a refresh records besides the snapshot.
--
-- Refreshes (hvc.refresh, hvc.refresh_now) and hvc.register_source serialise
-- on a row lock of hvc.refresh_lock.  Taking it (SELECT ... FOR UPDATE)
-- needs UPDATE on that table, which only the extension owner has unless
-- granted: unlike an advisory lock, a role that can merely connect cannot
-- take it and block every refresh.
-- ---------------------------------------------------------------------------

CREATE TABLE hvc.refresh_lock (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton)
);
INSERT INTO hvc.refresh_lock DEFAULT VALUES;
COMMENT ON TABLE hvc.refresh_lock IS 'One row whose row lock (FOR UPDATE) serialises refreshes and hvc.register_source; held until the refreshing transaction ends. Roles that refresh need UPDATE on it.';
COMMENT ON COLUMN hvc.refresh_lock.singleton IS 'Always true: one lock row.';

-- What the caller asked for with the full argument (62_incremental.sql).
ALTER TABLE hvc.refresh_log ADD COLUMN full_requested boolean;
COMMENT ON COLUMN hvc.refresh_log.full_requested IS 'The full argument of the refresh: true demanded a rebuild from the whole source, false allows an incremental refresh (see kind and kind_reason). NULL for refreshes before 0.2.0.';

-- Where a successful refresh spent its time, step by step (60_refresh.sql,
-- hvc._refresh_timings): what a DBA looks at first when the nightly refresh
-- grows, and what bench/ prints beside its ratios.
ALTER TABLE hvc.refresh_log ADD COLUMN timings text;
COMMENT ON COLUMN hvc.refresh_log.timings IS 'Seconds each step of a successful refresh took, in order: stage (reading the source, or the stored states and what changed), fits, signals, build (every customer''s row written), history (tier history and the swap), backtest, retention, alerts; e.g. ''stage 2.051 s, fits 0.412 s, ...''; an incremental stage names its parts: ''stage 3.722 s (changes 0.096 s, recompute 2.053 s, merge 1.522 s)'': finding what changed (the keys the triggers recorded; in column mode the changed rows and every customer''s row count), the recompute of the changed customers from their rows, the merge of the logged or new rows. Not counted: the wait for the refresh lock and the checks before the stage (started_at to finished_at includes them). NULL while running, after a failure and for refreshes before 0.2.0.';

-- The outcome of a refresh attempt, handed from the transaction that built
-- (or failed to build) the snapshot to the one that reports it.
CREATE TYPE hvc._refresh_outcome AS (
    refresh_id bigint,
    sqlstate   text,     -- NULL on success
    message    text,     -- the summary on success, the error message on failure
    detail     text,
    hint       text
);
COMMENT ON TYPE hvc._refresh_outcome IS 'Internal: how a refresh attempt ended (hvc._refresh_attempt -> hvc._refresh_report).';

-- Who holds the refresh lock, for messages: the refresh (from
-- hvc.refresh_log, when its 'running' row is committed) or another
-- transaction, and its pid.
CREATE OR REPLACE FUNCTION hvc._refresh_lock_holder(OUT holder text, OUT pid integer)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    holder_xid xid;
    run_id bigint;
BEGIN
    -- the xmax of a row-locked tuple is the locking transaction
    SELECT l.xmax INTO holder_xid FROM hvc.refresh_lock l;
    SELECT k.pid INTO pid
      FROM pg_locks k
     WHERE k.locktype = 'transactionid' AND k.mode = 'ExclusiveLock' AND k.granted
       AND k.transactionid = holder_xid
     LIMIT 1;
    IF pid IS NOT NULL THEN
        SELECT l.refresh_id INTO run_id
          FROM hvc.refresh_log l
         WHERE l.backend_pid = pid AND l.status = 'running'
         ORDER BY l.refresh_id DESC LIMIT 1;
    END IF;
    holder := CASE WHEN run_id IS NOT NULL THEN format('refresh %s', run_id)
                   WHEN pid IS NOT NULL THEN 'an uncommitted hvc.refresh_now() or hvc.register_source()'
                   ELSE 'a transaction that has just ended' END;
END $$;
COMMENT ON FUNCTION hvc._refresh_lock_holder() IS
    'Internal: who holds the refresh lock (refresh id, or an uncommitted refresh_now / register_source) and its pid, for wait and timeout messages.';

-- The lock holder also updates the row: a refresh_now() in a REPEATABLE
-- READ or SERIALIZABLE transaction whose snapshot is older than another
-- refresh (or registration) then fails with a serialization error (40001)
-- when it takes the lock, instead of building from a snapshot that cannot
-- see the other's rows.
CREATE OR REPLACE FUNCTION hvc._touch_refresh_lock() RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE hvc.refresh_lock SET singleton = true;
$$;
COMMENT ON FUNCTION hvc._touch_refresh_lock() IS
    'Internal: writes the locked row of hvc.refresh_lock, so transactions with an older snapshot cannot take the lock (serialization failure).';

-- Take the refresh lock for `purpose` ('refresh' or 'register_source') until
-- the end of the transaction.  When another session holds it, a NOTICE names
-- it (refresh id, pid) and the current lock_timeout, then the wait is an
-- ordinary lock wait: lock_timeout ends it with "canceling statement due to
-- lock timeout" (55P03), statement_timeout and cancel work, and deadlocks
-- are detected.  No exception block here: a lock taken in a subtransaction
-- would be held under the subtransaction's xid, which pg_locks stops
-- listing once it commits, and the holder could no longer be named.
CREATE OR REPLACE FUNCTION hvc._take_refresh_lock(purpose text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h record;
BEGIN
    IF purpose IS NULL OR purpose NOT IN ('refresh', 'register_source') THEN
        RAISE EXCEPTION 'hvc: unknown refresh lock purpose %', coalesce(purpose, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM 1 FROM hvc.refresh_lock FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT 1 FROM hvc.refresh_lock) THEN
            RAISE EXCEPTION 'hvc: the row of hvc.refresh_lock is missing'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'INSERT INTO hvc.refresh_lock DEFAULT VALUES;';
        END IF;
        h := hvc._refresh_lock_holder();
        RAISE NOTICE 'hvc: % waits for % to finish', purpose, h.holder
            USING DETAIL = format('The refresh lock is held by pid %s; lock_timeout is %s.',
                                  coalesce(h.pid::text, '(unknown)'),
                                  CASE current_setting('lock_timeout') WHEN '0' THEN '0 (wait as long as it takes)'
                                       ELSE current_setting('lock_timeout') END),
                  HINT = 'Refreshes and hvc.register_source() run one at a time. SET lock_timeout = ''10s'' to give up sooner; hvc.refresh_log shows the running refresh.';
        PERFORM 1 FROM hvc.refresh_lock FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'hvc: the row of hvc.refresh_lock is missing'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'INSERT INTO hvc.refresh_lock DEFAULT VALUES;';
        END IF;
    END IF;
    PERFORM hvc._touch_refresh_lock();
END $$;
COMMENT ON FUNCTION hvc._take_refresh_lock(text) IS
    'Internal: takes the row lock of hvc.refresh_lock until the end of the transaction; a NOTICE names whom it waits for (refresh id, pid) and the lock_timeout that bounds the wait.';
