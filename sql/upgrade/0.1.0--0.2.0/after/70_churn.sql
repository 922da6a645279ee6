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
