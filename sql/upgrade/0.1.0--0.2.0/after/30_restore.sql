-- Dump and restore, DROP EXTENSION (see sql/parts/10_settings.sql and
-- sql/parts/55_snapshot.sql).

-- The rule tables' origin columns and hvc.rule_sets were added in
-- before/30_restore.sql.
SELECT pg_catalog.pg_extension_config_dump('hvc.rule_sets', 'WHERE edited');
CREATE TRIGGER rule_sets_restored BEFORE INSERT ON hvc.rule_sets
    FOR EACH ROW EXECUTE FUNCTION hvc._rule_set_restored();

SELECT pg_catalog.pg_extension_config_dump('hvc.tier_rules', 'WHERE origin <> ''extension''');
CREATE TRIGGER tier_rules_origin BEFORE INSERT ON hvc.tier_rules
    FOR EACH ROW EXECUTE FUNCTION hvc._settings_row_origin();
CREATE TRIGGER tier_rules_inserted AFTER INSERT ON hvc.tier_rules REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
CREATE TRIGGER tier_rules_updated AFTER UPDATE ON hvc.tier_rules REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
CREATE TRIGGER tier_rules_deleted AFTER DELETE ON hvc.tier_rules REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
CREATE TRIGGER tier_rules_truncated AFTER TRUNCATE ON hvc.tier_rules
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();

SELECT pg_catalog.pg_extension_config_dump('hvc.rfm_segments', 'WHERE origin <> ''extension''');
CREATE TRIGGER rfm_segments_origin BEFORE INSERT ON hvc.rfm_segments
    FOR EACH ROW EXECUTE FUNCTION hvc._settings_row_origin();
CREATE TRIGGER rfm_segments_inserted AFTER INSERT ON hvc.rfm_segments REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
CREATE TRIGGER rfm_segments_updated AFTER UPDATE ON hvc.rfm_segments REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
CREATE TRIGGER rfm_segments_deleted AFTER DELETE ON hvc.rfm_segments REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
CREATE TRIGGER rfm_segments_truncated AFTER TRUNCATE ON hvc.rfm_segments
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();

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
