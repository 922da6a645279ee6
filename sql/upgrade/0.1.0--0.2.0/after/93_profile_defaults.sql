-- The default profile rules (sql/parts/73_profiles.sql); the origin column
-- and hvc.rule_sets' constraint were changed in before/93_profile_defaults.sql.
-- hvc.profile_rules is new in 0.2.0: empty here, so it gets the defaults,
-- untouched, before its triggers exist.
INSERT INTO hvc.profile_rules SELECT * FROM hvc._default_profile_rules();
INSERT INTO hvc.rule_sets VALUES ('profile_rules', false);
SELECT pg_catalog.pg_extension_config_dump('hvc.profile_rules', 'WHERE origin <> ''extension''');
CREATE TRIGGER profile_rules_origin BEFORE INSERT ON hvc.profile_rules
    FOR EACH ROW EXECUTE FUNCTION hvc._settings_row_origin();
CREATE TRIGGER profile_rules_inserted AFTER INSERT ON hvc.profile_rules REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
CREATE TRIGGER profile_rules_updated AFTER UPDATE ON hvc.profile_rules REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
CREATE TRIGGER profile_rules_deleted AFTER DELETE ON hvc.profile_rules REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
CREATE TRIGGER profile_rules_truncated AFTER TRUNCATE ON hvc.profile_rules
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited();
