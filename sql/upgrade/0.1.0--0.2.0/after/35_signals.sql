-- The customer-typed signal stores and their views (72_signals.sql) for a
-- source registered in 0.1.0, made before hvc.at_risk is replaced
-- (40_operations.sql): the 0.2.0 view reads hvc.customer_signal_store.
-- Made by this script they would be extension members: they become run-time
-- objects again, like those register_source makes (a normal dependency on
-- the extension, dumped with their rows).
DO $$
BEGIN
    IF pg_catalog.to_regclass('hvc.customer_snapshot') IS NOT NULL THEN
        PERFORM hvc._create_signal_objects((SELECT s.customer_type::pg_catalog.regtype FROM hvc.source s));
        ALTER EXTENSION hvc DROP VIEW hvc.customer_signals;
        ALTER EXTENSION hvc DROP VIEW hvc.customer_attributes;
        ALTER EXTENSION hvc DROP VIEW hvc.customer_profiles;
        ALTER EXTENSION hvc DROP TABLE hvc.customer_signal_store;
        ALTER EXTENSION hvc DROP TABLE hvc.customer_attribute_store;
        PERFORM hvc._attach_runtime_objects();
    END IF;
END $$;
