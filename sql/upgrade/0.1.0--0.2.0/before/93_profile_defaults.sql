-- The default profile rules (sql/parts/73_profiles.sql): hvc.profile_rules
-- (made by before/90_signals.sql) remembers where its rows came from, like
-- hvc.tier_rules, and hvc.rule_sets tracks it.  The default rows, the dump
-- filter and the triggers follow in after/93_profile_defaults.sql (the rows
-- come from hvc._default_profile_rules(), defined with the parts).
ALTER TABLE hvc.profile_rules ADD COLUMN origin text NOT NULL CHECK (origin IN ('extension', 'user'));
ALTER TABLE hvc.rule_sets DROP CONSTRAINT rule_sets_rule_table_check;
ALTER TABLE hvc.rule_sets ADD CONSTRAINT rule_sets_rule_table_check
    CHECK (rule_table IN ('tier_rules', 'rfm_segments', 'profile_rules'));
