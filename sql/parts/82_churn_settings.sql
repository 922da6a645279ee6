-- ---------------------------------------------------------------------------
-- Settings of the churn risk, the at-risk list, the horizon in days and the
-- backtest (columns of hvc.config, defined in 10_settings.sql; added here,
-- after alert_payload, and the same ALTERs are in
-- sql/upgrade/0.1.0--0.2.0/before/70_churn.sql so that the column order of
-- an upgraded database is the same).
-- ---------------------------------------------------------------------------

ALTER TABLE hvc.config
    ADD COLUMN churn_window_days integer NOT NULL DEFAULT 90
        CHECK (churn_window_days BETWEEN 1 AND 3660),
    ADD COLUMN at_risk_share float8 NOT NULL DEFAULT 0.2
        CHECK (at_risk_share > 0 AND at_risk_share <= 1),
    ADD COLUMN horizon_days integer
        CHECK (horizon_days BETWEEN 1 AND 7305),
    ADD COLUMN validation_days integer
        CHECK (validation_days BETWEEN 0 AND 3660),
    ADD COLUMN validation_interval_days integer NOT NULL DEFAULT 7
        CHECK (validation_interval_days BETWEEN 1 AND 3660);
COMMENT ON COLUMN hvc.config.churn_window_days IS
    'Window of churn_risk in days (default 90): churn_risk is the model''s probability that the customer makes no purchase in the next churn_window_days.';
COMMENT ON COLUMN hvc.config.at_risk_share IS
    'hvc.at_risk lists at most this share of the high-value customers, the riskiest by churn_risk (default 0.2), and only those at or above at_risk_threshold.';
COMMENT ON COLUMN hvc.config.horizon_days IS
    'Prediction horizon in days for predicted_orders and predicted_clv; when set it wins over horizon_months, and a horizon means the same whatever time_unit (CLV discounted per month of 30.4375 days, the last partial month like a whole one). NULL (default): horizon_months.';
COMMENT ON COLUMN hvc.config.validation_days IS
    'Holdout length in days of the backtest every refresh runs (hvc.model_validation): NULL (default) = automatic, a quarter of the history, at most 365; 0 = no backtest.';
COMMENT ON COLUMN hvc.config.validation_interval_days IS
    'A refresh that is not full reuses the stored backtest when it was made with the same source and settings and its holdout ended less than this many days before the new as_of (default 7).';
