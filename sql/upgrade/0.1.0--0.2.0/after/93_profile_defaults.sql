-- The default profile rules (sql/parts/73_profiles.sql); the origin column
-- and hvc.rule_sets' constraint were changed in before/93_profile_defaults.sql.
-- hvc.profile_rules is new in 0.2.0: empty here, so it gets the defaults,
-- untouched, before its triggers exist.
INSERT INTO hvc.profile_rules SELECT * FROM hvc._default_profile_rules();
INSERT INTO hvc.rule_sets VALUES ('profile_rules', false);
SELECT hvc._track_rule_set('hvc.profile_rules');
