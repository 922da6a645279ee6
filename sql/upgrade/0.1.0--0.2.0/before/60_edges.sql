-- Edges and standard errors (sql/parts/20_logs.sql, 40_models.sql,
-- 58_refresh_models.sql): the model composites, hvc.model_fit and
-- hvc._model_params gain the edge and the parameters' standard errors at the
-- end; and the frequency argument of every fit and model function becomes
-- bigint, so the integer versions are dropped here and the definitions
-- create the bigint ones (replaced, not overloaded).
ALTER TYPE hvc.bgnbd
    ADD ATTRIBUTE edge text,
    ADD ATTRIBUTE r_se float8,
    ADD ATTRIBUTE alpha_se float8,
    ADD ATTRIBUTE a_se float8,
    ADD ATTRIBUTE b_se float8;
ALTER TYPE hvc.pareto_nbd
    ADD ATTRIBUTE edge text,
    ADD ATTRIBUTE r_se float8,
    ADD ATTRIBUTE alpha_se float8,
    ADD ATTRIBUTE s_se float8,
    ADD ATTRIBUTE beta_se float8;
ALTER TYPE hvc.gamma_gamma
    ADD ATTRIBUTE edge text,
    ADD ATTRIBUTE p_se float8,
    ADD ATTRIBUTE q_se float8,
    ADD ATTRIBUTE v_se float8;
ALTER TYPE hvc._model_params
    ADD ATTRIBUTE purchase_edge text,
    ADD ATTRIBUTE r_se float8,
    ADD ATTRIBUTE alpha_se float8,
    ADD ATTRIBUTE a_se float8,
    ADD ATTRIBUTE b_se float8,
    ADD ATTRIBUTE s_se float8,
    ADD ATTRIBUTE beta_se float8,
    ADD ATTRIBUTE spend_edge text,
    ADD ATTRIBUTE p_se float8,
    ADD ATTRIBUTE q_se float8,
    ADD ATTRIBUTE v_se float8;

ALTER TABLE hvc.model_fit
    ADD COLUMN edge text,
    ADD COLUMN r_se float8,
    ADD COLUMN alpha_se float8,
    ADD COLUMN a_se float8,
    ADD COLUMN b_se float8,
    ADD COLUMN s_se float8,
    ADD COLUMN beta_se float8,
    ADD COLUMN p_se float8,
    ADD COLUMN q_se float8,
    ADD COLUMN v_se float8;

DROP AGGREGATE hvc.bgnbd_fit(integer, float8, float8);
DROP AGGREGATE hvc.pareto_nbd_fit(integer, float8, float8);
DROP AGGREGATE hvc._btyd_state(integer, float8, float8);
DROP FUNCTION hvc._btyd_transfn(internal, integer, float8, float8);
DROP AGGREGATE hvc.gamma_gamma_fit(integer, float8);
DROP AGGREGATE hvc._gamma_gamma_state(integer, float8);
DROP FUNCTION hvc._gamma_gamma_transfn(internal, integer, float8);
DROP FUNCTION hvc.p_alive(hvc.bgnbd, integer, float8, float8);
DROP FUNCTION hvc.p_alive(hvc.pareto_nbd, integer, float8, float8);
DROP FUNCTION hvc.expected_purchases(hvc.bgnbd, float8, integer, float8, float8);
DROP FUNCTION hvc.expected_purchases(hvc.pareto_nbd, float8, integer, float8, float8);
DROP FUNCTION hvc.expected_order_value(hvc.gamma_gamma, integer, float8);
DROP FUNCTION hvc.customer_lifetime_value(hvc.bgnbd, hvc.gamma_gamma, integer, float8, float8, float8, integer, float8, float8);
DROP FUNCTION hvc.customer_lifetime_value(hvc.pareto_nbd, hvc.gamma_gamma, integer, float8, float8, float8, integer, float8, float8);
DROP FUNCTION hvc.time_to_next_purchase(hvc.bgnbd, integer, float8);
DROP FUNCTION hvc.time_to_next_purchase(hvc.pareto_nbd, integer, float8);
