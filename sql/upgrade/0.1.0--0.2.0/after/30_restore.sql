-- Dump and restore, DROP EXTENSION (see sql/parts/10_settings.sql and
-- sql/parts/55_snapshot.sql).

-- The rule tables' origin columns and hvc.rule_sets were added in
-- before/30_restore.sql.
SELECT pg_catalog.pg_extension_config_dump('hvc.rule_sets', 'WHERE edited');
CREATE TRIGGER rule_sets_restored BEFORE INSERT ON hvc.rule_sets
    FOR EACH ROW EXECUTE FUNCTION hvc._rule_set_restored();

SELECT hvc._track_rule_set('hvc.tier_rules');

SELECT hvc._track_rule_set('hvc.rfm_segments');

-- The current snapshot's summary and Pareto points are dumped with the
-- snapshot tables.
SELECT pg_catalog.pg_extension_config_dump('hvc.snapshot_info', '');
SELECT pg_catalog.pg_extension_config_dump('hvc.pareto_points', '');

-- The objects register_source created depend on the extension (DROP
-- EXTENSION hvc CASCADE drops them), now and after a restore.  (Run-time
-- objects that a later after/ script creates again are attached by it:
-- hvc._create_snapshot_objects ends with hvc._attach_runtime_objects().)
CREATE TRIGGER source_attach AFTER INSERT ON hvc.source
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._attach_trigger();
CREATE TRIGGER snapshot_info_attach AFTER INSERT ON hvc.snapshot_info
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._attach_trigger();
SELECT hvc._attach_runtime_objects();
