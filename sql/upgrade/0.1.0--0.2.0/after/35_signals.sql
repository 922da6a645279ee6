-- The customer-typed signal stores and their views (72_signals.sql) for a
-- source registered in 0.1.0, made before hvc.at_risk is replaced
-- (40_operations.sql): the 0.2.0 view reads hvc.customer_signal_store.
DO $$
BEGIN
    IF pg_catalog.to_regclass('hvc.customer_snapshot') IS NOT NULL THEN
        PERFORM hvc._create_signal_objects((SELECT s.customer_type::pg_catalog.regtype FROM hvc.source s));
    END IF;
END $$;
