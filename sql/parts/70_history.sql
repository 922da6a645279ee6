-- ---------------------------------------------------------------------------
-- Tier history: who moved up or down a tier at each refresh.
-- ---------------------------------------------------------------------------

-- hvc.tier_changes over the customer-typed history.  Its own function so
-- that an upgrade can replace the view in place (adding reason at the end).
CREATE OR REPLACE FUNCTION hvc._create_tier_changes_view() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    CREATE OR REPLACE VIEW hvc.tier_changes AS
    SELECT customer_id, refreshed_at, from_tier, to_tier, direction,
           refresh_id, from_tier_rank, to_tier_rank, reason
      FROM hvc.tier_history;
    COMMENT ON VIEW hvc.tier_changes IS 'One row per customer whose tier changed at a refresh (the first refresh sets the baseline and records none); kept for hvc.config.history_refreshes refreshes.';
    COMMENT ON COLUMN hvc.tier_changes.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.tier_changes.refreshed_at IS 'When the refresh that saw the move ran.';
    COMMENT ON COLUMN hvc.tier_changes.from_tier IS 'Tier before (NULL for new customers).';
    COMMENT ON COLUMN hvc.tier_changes.to_tier IS 'Tier after (NULL for lapsed customers).';
    COMMENT ON COLUMN hvc.tier_changes.direction IS 'up (better tier), down (worse tier), new (first seen), lapsed (no longer in the snapshot: no purchase left up to as_of).';
    COMMENT ON COLUMN hvc.tier_changes.refresh_id IS 'The refresh (hvc.refresh_log) that saw the move.';
    COMMENT ON COLUMN hvc.tier_changes.from_tier_rank IS 'Rank of from_tier.';
    COMMENT ON COLUMN hvc.tier_changes.to_tier_rank IS 'Rank of to_tier.';
    COMMENT ON COLUMN hvc.tier_changes.reason IS 'What the move comes from: activity (the customer''s purchases, or lack of them, against everyone else''s), basis_change (the snapshot ranks by another value basis than the previous one: a DBA''s UPDATE of hvc.config.value_basis, or the first fit), model_change (predictions by another purchase model) or fallback (this or the previous snapshot predicted with an older fit because a fit failed). Only activity moves raise tier_drop alerts; new and lapsed are always activity.';
END $fn$;
COMMENT ON FUNCTION hvc._create_tier_changes_view() IS
    'Internal: creates or replaces the view hvc.tier_changes (called by hvc._create_history_objects and by upgrades).';

CREATE OR REPLACE FUNCTION hvc._create_history_objects(customer_type regtype) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    DROP VIEW IF EXISTS hvc.tier_changes, hvc.tier_migration;
    DROP TABLE IF EXISTS hvc.tier_history;
    EXECUTE format($ddl$
    CREATE TABLE hvc.tier_history (
        customer_id    %s NOT NULL,
        refresh_id     bigint NOT NULL,
        refreshed_at   timestamptz NOT NULL,
        from_tier      text,
        from_tier_rank integer,
        to_tier        text,
        to_tier_rank   integer,
        direction      text NOT NULL CHECK (direction IN ('up', 'down', 'new', 'lapsed')),
        reason         text NOT NULL DEFAULT 'activity'
                       CHECK (reason IN ('activity', 'basis_change', 'model_change', 'fallback'))
    )$ddl$, customer_type);
    COMMENT ON TABLE hvc.tier_history IS 'Internal store of hvc.tier_changes; pruned to the last hvc.config.history_refreshes refreshes.';
    CREATE INDEX tier_history_refresh ON hvc.tier_history (refresh_id);
    CREATE INDEX tier_history_customer ON hvc.tier_history (customer_id, refresh_id);

    PERFORM hvc._create_tier_changes_view();

    CREATE VIEW hvc.tier_migration AS
    SELECT refresh_id, max(refreshed_at) AS refreshed_at,
           coalesce(from_tier, '(none)') AS from_tier, coalesce(to_tier, '(none)') AS to_tier,
           direction, count(*)::bigint AS customers
      FROM hvc.tier_history
     GROUP BY refresh_id, from_tier, to_tier, direction;
    COMMENT ON VIEW hvc.tier_migration IS 'Migration matrix of tier moves per refresh (counts of customers from tier -> to tier), for BI charts.';
    COMMENT ON COLUMN hvc.tier_migration.refresh_id IS 'The refresh that saw the moves.';
    COMMENT ON COLUMN hvc.tier_migration.refreshed_at IS 'When it ran.';
    COMMENT ON COLUMN hvc.tier_migration.from_tier IS 'Tier before, or (none) for new customers.';
    COMMENT ON COLUMN hvc.tier_migration.to_tier IS 'Tier after, or (none) for lapsed customers.';
    COMMENT ON COLUMN hvc.tier_migration.direction IS 'up, down, new or lapsed.';
    COMMENT ON COLUMN hvc.tier_migration.customers IS 'Customers who made that move.';
END $fn$;
COMMENT ON FUNCTION hvc._create_history_objects(regtype) IS
    'Internal: (re)creates the customer-typed tier history table and its views.';

-- History beyond hvc.config.history_refreshes goes.
CREATE OR REPLACE FUNCTION hvc._prune_tier_history(id bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    DELETE FROM hvc.tier_history h WHERE h.refresh_id < (SELECT hvc._first_kept_refresh(id));
$$;
COMMENT ON FUNCTION hvc._prune_tier_history(bigint) IS
    'Internal: deletes the tier history of refreshes older than the last hvc.config.history_refreshes.';

-- Record the lapsed customers of refresh `id` in the tier history and prune
-- history beyond hvc.config.history_refreshes.  The moves (new customers,
-- up and down) the builder wrote as it formed the new rows
-- (src/history_write.c; counted by hvc._snapshot_stats; a renamed tier,
-- old name gone and same rank, is no move; a move out of a tier renamed or
-- dropped since has the rank that tier had).  The old rows the writer did
-- not update in place are in pg_temp._hvc_old_rows (hvc._retire_old_rows):
-- those without a new twin lapsed.
CREATE OR REPLACE FUNCTION hvc._record_tier_changes(id bigint, refreshed timestamptz, reason text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    moves bigint := 0;
    lapsed bigint := 0;
    old_customers bigint;
    kept bigint;
BEGIN
    IF reason IS NULL OR reason NOT IN ('activity', 'basis_change', 'model_change', 'fallback') THEN
        RAISE EXCEPTION 'hvc: the reason of tier moves must be activity, basis_change, model_change or fallback, not %',
                        coalesce(reason, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_regclass('pg_temp._hvc_old_rows') IS NULL THEN
        RAISE EXCEPTION 'hvc: _record_tier_changes runs inside a refresh, after pg_temp._hvc_old_rows'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'hvc.refresh() calls it through hvc._retire_old_rows; do not call it directly.';
    END IF;
    SELECT i.customers INTO old_customers FROM hvc.snapshot_info i;
    IF old_customers IS NOT NULL THEN
        -- the rows that existed before (all but the new customers) and
        -- the moves, as the builder counted them
        SELECT st.kept, st.moved INTO kept, moves FROM hvc._snapshot_stats(id) st;
        IF kept < old_customers THEN
            INSERT INTO hvc.tier_history (customer_id, refresh_id, refreshed_at, from_tier,
                                          from_tier_rank, to_tier, to_tier_rank, direction)
            SELECT o.customer_id, id, refreshed, o.tier, o.tier_rank, NULL, NULL, 'lapsed'
              FROM pg_temp._hvc_old_rows o
             WHERE NOT EXISTS (SELECT 1 FROM hvc.customer_snapshot n
                                WHERE n.customer_id = o.customer_id AND n.refresh_id = id);
            GET DIAGNOSTICS lapsed = ROW_COUNT;
        END IF;
    END IF;
    PERFORM hvc._prune_tier_history(id);
    RETURN moves + lapsed;
END $$;
COMMENT ON FUNCTION hvc._record_tier_changes(bigint, timestamptz, text) IS
    'Internal: records the lapsed customers of a refresh in hvc.tier_history (the builder wrote its moves: new customers, up and down, with their reason), prunes old history, and returns the moves and lapses of the refresh.';
