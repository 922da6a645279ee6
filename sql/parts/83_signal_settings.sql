-- ---------------------------------------------------------------------------
-- Settings of the at-risk reasons from signals (72_signals.sql): a one-row
-- table like hvc.config (inserting a row replaces it, which is also what
-- lets a restored dump replace the default row), and the reasons an alert
-- carries (a column of hvc.alerts, added here after 80_operations.sql; the
-- same statements are in sql/upgrade/0.1.0--0.2.0/before/90_signals.sql).
-- ---------------------------------------------------------------------------

CREATE TABLE hvc.signal_settings (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    open_contact_days integer NOT NULL DEFAULT 7 CHECK (open_contact_days BETWEEN 1 AND 3660),
    engagement_drop   float8  NOT NULL DEFAULT 0.5 CHECK (engagement_drop > 0 AND engagement_drop <= 1)
);
INSERT INTO hvc.signal_settings DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('hvc.signal_settings', '');

CREATE OR REPLACE FUNCTION hvc._signal_settings_replace() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM hvc.signal_settings;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION hvc._signal_settings_replace() IS
    'Internal: trigger that makes INSERT INTO hvc.signal_settings replace the one settings row.';
CREATE TRIGGER signal_settings_replace BEFORE INSERT ON hvc.signal_settings
    FOR EACH ROW EXECUTE FUNCTION hvc._signal_settings_replace();
COMMENT ON TABLE hvc.signal_settings IS
    'Settings of the at-risk reasons from signals (hvc.customer_signals.at_risk_reasons, hvc.at_risk.reasons): exactly one row; change it with UPDATE hvc.signal_settings SET ...';
COMMENT ON COLUMN hvc.signal_settings.singleton IS 'Always true: keeps the table to one row.';
COMMENT ON COLUMN hvc.signal_settings.open_contact_days IS
    'At-risk reason open_contact_over_N_days: a service contact opened more than this many days (x 24 hours) before as_of and not resolved by then (default 7).';
COMMENT ON COLUMN hvc.signal_settings.engagement_drop IS
    'At-risk reason engagement_falling: engagement in the last 90 days below this share of the 90 days before (default 0.5: fell by more than half).';

ALTER TABLE hvc.alerts ADD COLUMN reasons text;
COMMENT ON COLUMN hvc.alerts.reasons IS
    'newly_at_risk: the at-risk reasons of those customers (hvc.at_risk.reasons), each with how many have it, e.g. ''churn_risk 3, detractor 1''; NULL for tier_drop.';
