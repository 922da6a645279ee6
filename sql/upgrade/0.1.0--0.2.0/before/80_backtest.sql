-- Backtest (sql/parts/65_backtest.sql): the stores of the refreshes'
-- backtests.  (Its settings, hvc.config.validation_days and
-- validation_interval_days, are added by 70_churn.sql.)
CREATE TABLE hvc.model_validation_store (
    refresh_id          bigint      PRIMARY KEY,
    computed_at         timestamptz NOT NULL,
    calibration_end     timestamptz NOT NULL,
    holdout_end         timestamptz NOT NULL,
    validation_days     integer     NOT NULL,
    settings_key        text        NOT NULL,
    model               text        NOT NULL,
    customers           bigint      NOT NULL,
    actual_purchases    float8,
    predicted_purchases float8,
    bias_pct            float8,
    mae                 float8,
    churn_auc           float8,
    recency_auc         float8,
    top20_share         float8,
    fit                 text,
    message             text
);
SELECT pg_catalog.pg_extension_config_dump('hvc.model_validation_store', '');

CREATE TABLE hvc.model_validation_by_frequency_store (
    refresh_id          bigint  NOT NULL,
    bin_order           integer NOT NULL,
    model               text    NOT NULL,
    frequency_bin       text    NOT NULL,
    customers           bigint  NOT NULL,
    actual_purchases    float8,
    predicted_purchases float8,
    actual_mean         float8,
    predicted_mean      float8,
    PRIMARY KEY (refresh_id, bin_order)
);
SELECT pg_catalog.pg_extension_config_dump('hvc.model_validation_by_frequency_store', '');
