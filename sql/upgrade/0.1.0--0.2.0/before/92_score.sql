-- The value score (sql/parts/74_score.sql, issue 12 item 4): 'score' joins
-- the values of hvc.config.value_basis, and the weights table, as in the parts.
ALTER TABLE hvc.config DROP CONSTRAINT config_value_basis_check;
ALTER TABLE hvc.config ADD CONSTRAINT config_value_basis_check
    CHECK (value_basis IN ('predicted_clv', 'historic_clv', 'revenue', 'margin', 'score'));
CREATE TABLE hvc.score_weights (
    criterion text   PRIMARY KEY
              CHECK (criterion IN ('predicted_clv', 'historic_clv', 'frequency', 'avg_order_value',
                                   'margin', 'nps', 'referrals', 'engagement')
                     OR criterion ~ '^attribute:[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    weight    float8 NOT NULL CHECK (weight >= 0 AND weight < 'Infinity'::float8)
);
SELECT pg_catalog.pg_extension_config_dump('hvc.score_weights', '');
