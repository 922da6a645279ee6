-- A database with a registered source gets the key-typed tables of
-- incremental refresh (hvc.customer_states, hvc.changed_customers) that
-- register_source creates in 0.2.0.  Objects an extension script creates
-- become members; these are database objects (dumped with their data, like
-- hvc.customer_snapshot), so they leave the extension again and depend on it.
DO $$
DECLARE
    key_type pg_catalog.regtype;
BEGIN
    SELECT s.customer_type::pg_catalog.regtype INTO key_type FROM hvc.source s;
    IF key_type IS NOT NULL AND pg_catalog.to_regclass('hvc.customer_states') IS NULL THEN
        PERFORM hvc._create_state_objects(key_type);
        ALTER EXTENSION hvc DROP TABLE hvc.customer_states;
        ALTER EXTENSION hvc DROP TABLE hvc.changed_customers;
        PERFORM hvc._attach_runtime_objects();
    END IF;
END $$;
