-- hvc.at_risk of a registered 0.1.0 database expanded all of hvc.config's
-- 0.1.0 columns (SELECT *); 0.2.0's names the one setting it reads.  Replace
-- it in place (same columns: GRANTs, dependencies and the at-risk memory
-- stay).  An extension script may only replace its own members, so the view
-- is a member for the moment of the replacement (ALTER EXTENSION ADD / DROP
-- are meant for update scripts) and a database object again after it.
DO $$
BEGIN
    IF pg_catalog.to_regclass('hvc.at_risk') IS NOT NULL THEN
        ALTER EXTENSION hvc ADD VIEW hvc.at_risk;
        PERFORM hvc._create_at_risk_view();
        ALTER EXTENSION hvc DROP VIEW hvc.at_risk;
    END IF;
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

-- hvc.tier_summary (a registered database's) read the snapshot twice, once
-- for the totals; 0.2.0's reads it once.  Replaced in place the same way.
DO $$
BEGIN
    IF pg_catalog.to_regclass('hvc.tier_summary') IS NOT NULL THEN
        ALTER EXTENSION hvc ADD VIEW hvc.tier_summary;
        PERFORM hvc._create_tier_summary_view();
        ALTER EXTENSION hvc DROP VIEW hvc.tier_summary;
    END IF;
END $$;

-- hvc.value_profile_summary (a registered database's) aggregated
-- hvc.value_profiles into a CTE read twice; 0.2.0's aggregates
-- hvc.customers once.  Replaced in place the same way.
DO $$
BEGIN
    IF pg_catalog.to_regclass('hvc.value_profile_summary') IS NOT NULL THEN
        ALTER EXTENSION hvc ADD VIEW hvc.value_profile_summary;
        PERFORM hvc._create_value_profile_summary_view();
        ALTER EXTENSION hvc DROP VIEW hvc.value_profile_summary;
    END IF;
END $$;
