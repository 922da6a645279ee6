-- sql/parts/95_citus.sql: the runtime objects are created without Citus DDL
-- propagation (after the CREATE OR REPLACE above, which resets the setting).
ALTER FUNCTION hvc._create_snapshot_objects(regtype) SET citus.enable_ddl_propagation = off;
