-- Churn risk, stable value basis, horizon_days (sql/parts/20_logs.sql,
-- 55_snapshot.sql, 58_refresh_models.sql, 60_refresh.sql, 70_history.sql,
-- 80_operations.sql, 82_churn_settings.sql).
-- hvc.config: the same columns as 82_churn_settings.sql, in the same order.
-- at_risk_threshold keeps its value: churn_risk changed meaning (1 - p_alive
-- in 0.1.0, P(no purchase in churn_window_days) in 0.2.0) but the default
-- 0.5 reads the same way in both ("more likely gone than not"); hvc.at_risk
-- now also keeps only the riskiest at_risk_share of the high-value customers.
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

-- The fits remember their time unit and source (0.1.0's fits: NULL, never
-- used as a fallback).
ALTER TABLE hvc.model_fit ADD COLUMN time_unit text, ADD COLUMN source text;

ALTER TABLE hvc.snapshot_info
    ADD COLUMN purchase_fit_id bigint,
    ADD COLUMN spend_fit_id bigint,
    ADD COLUMN fallback text,
    ADD COLUMN median_repeat_gap_days float8;

-- _build_snapshot returns churn_percentile too; _record_tier_changes takes
-- the reason of the moves; _priority_score takes the churn percentile.
DROP FUNCTION hvc._build_snapshot(anyelement, hvc._model_params, date, text, boolean, text, text[],
                                  bigint[], text[], integer[], boolean[], timestamptz, bigint);
DROP FUNCTION hvc._record_tier_changes(bigint, timestamptz);
DROP FUNCTION hvc._priority_score(bigint, bigint, float8, float8, integer, float8, numeric, numeric,
                                  integer, integer);
ALTER TYPE hvc._model_params ADD ATTRIBUTE churn_window float8, ADD ATTRIBUTE horizon_units float8;
