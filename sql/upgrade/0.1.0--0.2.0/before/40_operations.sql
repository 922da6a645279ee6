-- Operations (sql/parts/80_operations.sql, 81_alert_settings.sql).
-- hvc.config.alert_payload: installations upgraded from 0.1.0 keep sending
-- the customer ids they sent so far ('ids'); new installations default to
-- 'counts'.
ALTER TABLE hvc.config
    ADD COLUMN alert_payload text NOT NULL DEFAULT 'ids'
        CHECK (alert_payload IN ('ids', 'counts', 'refresh_id'));
ALTER TABLE hvc.config ALTER COLUMN alert_payload SET DEFAULT 'counts';
