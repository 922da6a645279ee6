-- ---------------------------------------------------------------------------
-- Backtest settings (API §6; the backtest is 65_backtest.sql).  Columns of
-- hvc.config added after 81_alert_settings.sql's, in the order
-- sql/upgrade/0.1.0--0.2.0/before/80_backtest.sql adds them to an upgraded
-- installation.
-- ---------------------------------------------------------------------------

-- IF NOT EXISTS: the churn work (h9) adds the same columns.
ALTER TABLE hvc.config ADD COLUMN IF NOT EXISTS validation_days integer
    CHECK (validation_days IS NULL OR validation_days BETWEEN 0 AND 36500);
ALTER TABLE hvc.config ADD COLUMN IF NOT EXISTS validation_interval_days integer NOT NULL DEFAULT 7
    CHECK (validation_interval_days BETWEEN 0 AND 36500);
COMMENT ON COLUMN hvc.config.validation_days IS
    'Holdout length in days of the backtest every refresh runs (hvc.model_validation): NULL (default) = automatic, a quarter of the history, at most 365; 0 = no backtest.';
COMMENT ON COLUMN hvc.config.validation_interval_days IS
    'A refresh that is not full reuses the stored backtest when it was made with the same source and settings and its holdout ended less than this many days before the new as_of (default 7; 0 = backtest on every refresh).';

