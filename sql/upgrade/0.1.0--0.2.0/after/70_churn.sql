-- The run-time objects register_source created in a 0.1.0 database (not
-- extension members, so ALTER TABLE works here): the snapshot keeps the
-- churn_risk percentile, tier history the reason of each move (0.1.0's
-- moves: activity), and hvc.tier_changes shows it (replaced in place like
-- hvc.at_risk in 40_operations.sql: a member for the moment of the
-- replacement).  hvc.at_risk itself is replaced by 40_operations.sql.
DO $$
BEGIN
    IF pg_catalog.to_regclass('hvc.customer_snapshot') IS NOT NULL THEN
        ALTER TABLE hvc.customer_snapshot ADD COLUMN churn_percentile float8;
    END IF;
    IF pg_catalog.to_regclass('hvc.tier_history') IS NOT NULL THEN
        ALTER TABLE hvc.tier_history
            ADD COLUMN reason text NOT NULL DEFAULT 'activity'
                CHECK (reason IN ('activity', 'basis_change', 'model_change', 'fallback'));
    END IF;
    IF pg_catalog.to_regclass('hvc.tier_changes') IS NOT NULL THEN
        ALTER EXTENSION hvc ADD VIEW hvc.tier_changes;
        PERFORM hvc._create_tier_changes_view();
        ALTER EXTENSION hvc DROP VIEW hvc.tier_changes;
    END IF;
END $$;
-- hvc.customers' column comments that changed meaning (set at run time by
-- hvc._create_snapshot_objects, as there).
DO $$
BEGIN
    IF pg_catalog.to_regclass('hvc.customers') IS NOT NULL THEN
        COMMENT ON COLUMN hvc.customers.p_alive IS 'The purchase model''s own P(alive): the probability that the customer has not dropped out (under BG/NBD 1 for every one-time buyer); NULL without a fitted model. For the risk of buying nothing soon use churn_risk.';
        COMMENT ON COLUMN hvc.customers.churn_risk IS 'Probability that the customer makes no purchase in the next hvc.config.churn_window_days (default 90) given their history, under the purchase model (hvc.p_no_purchase); since 0.2.0 (it was 1 - p_alive). NULL without a fitted model.';
        COMMENT ON COLUMN hvc.customers.predicted_orders IS 'Expected purchases within the horizon (hvc.config.horizon_days, else horizon_months); NULL without a fitted model.';
    END IF;
END $$;
