-- ---------------------------------------------------------------------------
-- Privileges.  Nothing in schema hvc is executable by PUBLIC unless it is
-- listed here.  Internal routines (hvc._*) are for hvc's own code: they run
-- with their caller's rights (hvc._cron_server_state excepted: it only
-- reads server settings), so a refresher role is granted all of them
-- (README, Privileges) and gains nothing beyond its table privileges.
-- Every routine added to hvc starts revoked; a user-facing one is added to
-- the GRANT below, and test/sql/security.sql lists what PUBLIC may run.
--
-- Not granted to PUBLIC, on purpose: the SECURITY DEFINER functions that
-- show data to roles without table privileges -- hvc.priority (a customer's
-- tier and priority) and hvc.refresh_status (refresh errors and pg_cron's
-- output of the refresh job, which can quote source values).  The DBA grants
-- them to the roles that should have them.
-- ---------------------------------------------------------------------------

REVOKE ALL ON ALL ROUTINES IN SCHEMA hvc FROM PUBLIC;

-- Pure building blocks (C, caller's rights, read only their arguments).
GRANT EXECUTE ON ROUTINE
    hvc.bgnbd_fit(bigint, float8, float8),
    hvc.pareto_nbd_fit(bigint, float8, float8),
    hvc.gamma_gamma_fit(bigint, float8),
    hvc.customer_state("any", "any", "any", "any", timestamp, text),
    hvc.customer_state_summary(bytea),
    hvc.customer_summary("any", "any", "any", "any", timestamp, text),
    hvc.p_alive(hvc.bgnbd, bigint, float8, float8),
    hvc.p_alive(hvc.pareto_nbd, bigint, float8, float8),
    hvc.expected_purchases(hvc.bgnbd, float8, bigint, float8, float8),
    hvc.expected_purchases(hvc.pareto_nbd, float8, bigint, float8, float8),
    hvc.expected_purchases_new(hvc.bgnbd, float8),
    hvc.expected_purchases_new(hvc.pareto_nbd, float8),
    hvc.expected_order_value(hvc.gamma_gamma, bigint, float8),
    hvc.customer_lifetime_value(hvc.bgnbd, hvc.gamma_gamma, bigint, float8, float8, float8, integer, float8, float8),
    hvc.customer_lifetime_value(hvc.pareto_nbd, hvc.gamma_gamma, bigint, float8, float8, float8, integer, float8, float8),
    hvc.time_to_next_purchase(hvc.bgnbd, bigint, float8),
    hvc.time_to_next_purchase(hvc.pareto_nbd, bigint, float8),
    hvc.p_no_purchase(hvc.bgnbd, float8, bigint, float8, float8),
    hvc.p_no_purchase(hvc.pareto_nbd, float8, bigint, float8, float8),
    hvc.mbgnbd_fit(bigint, float8, float8),
    hvc.p_alive(hvc.mbgnbd, bigint, float8, float8),
    hvc.expected_purchases(hvc.mbgnbd, float8, bigint, float8, float8),
    hvc.expected_purchases_new(hvc.mbgnbd, float8),
    hvc.customer_lifetime_value(hvc.mbgnbd, hvc.gamma_gamma, bigint, float8, float8, float8, integer, float8, float8),
    hvc.time_to_next_purchase(hvc.mbgnbd, bigint, float8),
    hvc.p_no_purchase(hvc.mbgnbd, float8, bigint, float8, float8),
    hvc.bgnbd_fit_distributed(bigint, float8, float8),
    hvc.pareto_nbd_fit_distributed(bigint, float8, float8),
    hvc.mbgnbd_fit_distributed(bigint, float8, float8),
    hvc.gamma_gamma_fit_distributed(bigint, float8)
TO PUBLIC;

-- Entry points that run with the caller's rights: they do what the caller's
-- own privileges allow (and say which GRANT is missing otherwise).
GRANT EXECUTE ON ROUTINE
    hvc.register_source(regclass, text, text, text, text, text, text, text, text),
    hvc.register_source(text, text, text, text, text, text, text, text, text),
    hvc.register_signal(text, regclass, text, text, text, text, text, text),
    hvc.register_signal(text, text, text, text, text, text, text, text),
    hvc.unregister_signal(text),
    hvc.refresh(timestamptz, boolean),
    hvc.refresh_now(timestamptz, boolean),
    hvc.schedule_refresh(text),
    hvc.unschedule_refresh(),
    hvc.forget_customer(anyelement),
    hvc.current_model(),
    hvc.backtest(timestamptz, timestamptz, text),
    hvc.backtest_summary(timestamptz, timestamptz, text)
TO PUBLIC;
