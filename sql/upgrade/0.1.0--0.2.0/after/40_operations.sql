-- Views register_source created in a 0.1.0 database, replaced in place by
-- 0.2.0's definitions (same columns: GRANTs, dependencies and the at-risk
-- memory stay):
--   hvc.at_risk expanded all of hvc.config's 0.1.0 columns (SELECT *);
--     0.2.0's names the settings it reads;
--   hvc.tier_summary read the snapshot twice, once for the totals; 0.2.0's
--     reads it once;
--   hvc.value_profile_summary aggregated hvc.value_profiles into a CTE read
--     twice; 0.2.0's aggregates hvc.customers once.
-- An extension script may only replace its own members, so each view is a
-- member for the moment of its replacement (ALTER EXTENSION ADD / DROP are
-- meant for update scripts) and a database object again after it.
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT x.view_name, x.creator
               FROM (VALUES ('hvc.at_risk', 'hvc._create_at_risk_view'),
                            ('hvc.tier_summary', 'hvc._create_tier_summary_view'),
                            ('hvc.value_profile_summary', 'hvc._create_value_profile_summary_view')) x(view_name, creator)
    LOOP
        IF pg_catalog.to_regclass(v.view_name) IS NOT NULL THEN
            EXECUTE pg_catalog.format('ALTER EXTENSION hvc ADD VIEW %s', v.view_name);
            EXECUTE pg_catalog.format('SELECT %s()', v.creator);
            EXECUTE pg_catalog.format('ALTER EXTENSION hvc DROP VIEW %s', v.view_name);
        END IF;
    END LOOP;
END $$;

-- hvc.at_risk_previous (a registered database's) keeps who stays at risk
-- instead of rewriting every row at each refresh: its refresh_id now says
-- since when.
DO $$
BEGIN
    IF pg_catalog.to_regclass('hvc.at_risk_previous') IS NOT NULL THEN
        COMMENT ON COLUMN hvc.at_risk_previous.refresh_id IS 'The refresh since which the customer has been in hvc.at_risk without a break.';
    END IF;
END $$;

