-- hvc.at_risk reads how many customers the refresh put in a high-value tier
-- instead of counting them over the whole snapshot (80_operations.sql).
-- NULL until the first refresh of 0.2.0; until then the view counts them.
ALTER TABLE hvc.snapshot_info ADD COLUMN high_value_customers bigint;
