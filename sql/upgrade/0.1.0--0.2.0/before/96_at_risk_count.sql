-- hvc.at_risk reads how many customers the refresh put in a high-value tier
-- instead of counting them over the whole snapshot (80_operations.sql).
-- Every refresh of 0.2.0 sets it; for the snapshot a 0.1.0 refresh left,
-- the upgrade counts them once here.
ALTER TABLE hvc.snapshot_info ADD COLUMN high_value_customers bigint;
DO $$
BEGIN
    IF to_regclass('hvc.customer_snapshot') IS NOT NULL THEN
        UPDATE hvc.snapshot_info
           SET high_value_customers = (SELECT count(*) FROM hvc.customer_snapshot v WHERE v.is_high_value);
    END IF;
END $$;
