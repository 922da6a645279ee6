-- Retention (sql/parts/75_retention.sql): hvc.config.retention_period and
-- the stores of hvc.retention and hvc.cohort_retention.  Numbered before
-- 40_operations.sql so that retention_period comes before alert_payload,
-- as in a fresh install (75_retention.sql < 81_alert_settings.sql).
ALTER TABLE hvc.config
    ADD COLUMN retention_period text NOT NULL DEFAULT 'quarter'
        CHECK (retention_period IN ('month', 'quarter'));
CREATE TABLE hvc.retention_store (
    refresh_id        bigint  NOT NULL,
    period_start      date    NOT NULL,
    period_end        date    NOT NULL,
    tier              text,
    tier_rank         integer,
    customers         bigint,
    bought_again      bigint,
    period_complete   boolean NOT NULL,
    history_covers    boolean NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('hvc.retention_store', '');
CREATE TABLE hvc.cohort_retention_store (
    refresh_id        bigint  NOT NULL,
    cohort_month      date    NOT NULL,
    months_after      integer NOT NULL,
    cohort_customers  bigint  NOT NULL,
    customers         bigint  NOT NULL,
    month_complete    boolean NOT NULL,
    PRIMARY KEY (cohort_month, months_after)
);
SELECT pg_catalog.pg_extension_config_dump('hvc.cohort_retention_store', '');
CREATE TABLE hvc.retention_state (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    history_floor bigint  NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('hvc.retention_state', '');
