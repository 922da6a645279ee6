-- Signals, profiles and at-risk reasons from signals (sql/parts/72_signals.sql,
-- 73_profiles.sql, 83_signal_settings.sql).  The tables as in the parts; the
-- customer-typed stores of a registered source are made in
-- after/35_signals.sql.
CREATE TABLE hvc.signal (
    name                   text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    kind                   text NOT NULL CHECK (kind IN ('nps', 'referral', 'engagement', 'service', 'attribute')),
    relation               text NOT NULL,
    customer               text NOT NULL,
    observed_at            text NOT NULL,
    value                  text,
    resolved_at            text,
    first_contact_resolved text,
    value_type             text CHECK (value_type IN ('numeric', 'text')),
    registered_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_refresh_id        bigint,
    rows_read              bigint,
    rows_skipped           bigint
);
-- at most one nps signal
CREATE UNIQUE INDEX signal_one_nps ON hvc.signal ((kind)) WHERE kind = 'nps';
SELECT pg_catalog.pg_extension_config_dump('hvc.signal', '');
CREATE TABLE hvc.profile_rules (
    profile                 text    PRIMARY KEY CHECK (profile ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    kind                    text    NOT NULL CHECK (kind IN ('ambassador', 'corporate', 'early_adopter')),
    priority                integer NOT NULL UNIQUE,
    min_nps                 integer CHECK (min_nps BETWEEN 0 AND 10),
    min_converted_referrals integer CHECK (min_converted_referrals >= 1),
    attribute               text,
    attribute_min           float8,
    attribute_equals        text,
    within_days             integer CHECK (within_days BETWEEN 0 AND 3660),
    min_products            integer NOT NULL DEFAULT 1 CHECK (min_products >= 1),
    CHECK (CASE kind
           WHEN 'ambassador' THEN (min_nps IS NOT NULL OR min_converted_referrals IS NOT NULL)
                                  AND attribute IS NULL AND attribute_min IS NULL AND attribute_equals IS NULL
                                  AND within_days IS NULL
           WHEN 'corporate' THEN attribute IS NOT NULL AND (attribute_min IS NULL) <> (attribute_equals IS NULL)
                                 AND min_nps IS NULL AND min_converted_referrals IS NULL AND within_days IS NULL
           WHEN 'early_adopter' THEN within_days IS NOT NULL
                                     AND min_nps IS NULL AND min_converted_referrals IS NULL
                                     AND attribute IS NULL AND attribute_min IS NULL AND attribute_equals IS NULL
           END)
);
SELECT pg_catalog.pg_extension_config_dump('hvc.profile_rules', '');
CREATE TABLE hvc.signal_settings (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    open_contact_days integer NOT NULL DEFAULT 7 CHECK (open_contact_days BETWEEN 1 AND 3660),
    engagement_drop   float8  NOT NULL DEFAULT 0.5 CHECK (engagement_drop > 0 AND engagement_drop <= 1)
);
INSERT INTO hvc.signal_settings DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('hvc.signal_settings', '');
CREATE FUNCTION hvc._signal_settings_replace() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM hvc.signal_settings;
    RETURN NEW;
END $$;
CREATE TRIGGER signal_settings_replace BEFORE INSERT ON hvc.signal_settings
    FOR EACH ROW EXECUTE FUNCTION hvc._signal_settings_replace();
ALTER TABLE hvc.alerts ADD COLUMN reasons text;
