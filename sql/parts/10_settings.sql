-- ---------------------------------------------------------------------------
-- Settings: plain tables a DBA edits with UPDATE / INSERT.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc._is_valid_timezone(zone text) RETURNS boolean
AS 'MODULE_PATHNAME', 'hvc_is_valid_timezone'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._is_valid_timezone(text) IS
    'Internal: true when the text names a time zone the refresh can use (the same C lookup as hvc.customer_state: a pg_timezone_names name or a POSIX zone spec, not an abbreviation); the CHECK of hvc.config.timezone.';

CREATE TABLE hvc.config (
    singleton             boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    model                 text    NOT NULL DEFAULT 'bgnbd'
                          CHECK (model IN ('bgnbd', 'pareto_nbd', 'mbgnbd', 'none')),
    time_unit             text    NOT NULL DEFAULT 'week'
                          CHECK (time_unit IN ('day', 'week')),
    horizon_months        integer NOT NULL DEFAULT 12
                          CHECK (horizon_months BETWEEN 1 AND 240),
    monthly_discount_rate float8  NOT NULL DEFAULT 0.01
                          CHECK (monthly_discount_rate >= 0 AND monthly_discount_rate < 1),
    value_basis           text    NOT NULL DEFAULT 'predicted_clv'
                          CHECK (value_basis IN ('predicted_clv', 'historic_clv', 'revenue', 'margin', 'score')),
    at_risk_threshold     float8  NOT NULL DEFAULT 0.5
                          CHECK (at_risk_threshold >= 0 AND at_risk_threshold <= 1),
    history_refreshes     integer NOT NULL DEFAULT 24
                          CHECK (history_refreshes BETWEEN 1 AND 10000),
    timezone              text    NOT NULL DEFAULT 'UTC'
                          CHECK (hvc._is_valid_timezone(timezone))
);
INSERT INTO hvc.config DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('hvc.config', '');

-- The settings row is a singleton: inserting a row replaces it.  This is also
-- what lets pg_restore put back a dumped configuration over the default row
-- that CREATE EXTENSION inserts.
CREATE OR REPLACE FUNCTION hvc._config_replace() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM hvc.config;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION hvc._config_replace() IS
    'Internal: trigger that makes INSERT INTO hvc.config replace the one settings row.';
CREATE TRIGGER config_replace BEFORE INSERT ON hvc.config
    FOR EACH ROW EXECUTE FUNCTION hvc._config_replace();
COMMENT ON TABLE hvc.config IS
    'hvc settings: exactly one row; change it with UPDATE hvc.config SET ...';
COMMENT ON COLUMN hvc.config.singleton IS 'Always true: keeps the table to one row.';
COMMENT ON COLUMN hvc.config.model IS
    'Purchase model for predictions: bgnbd (default), pareto_nbd, mbgnbd (BG/NBD that also lets a customer drop out right after the first purchase), or none (metrics, RFM and tiers only).';
COMMENT ON COLUMN hvc.config.time_unit IS
    'Unit of the BTYD summary (frequency, recency, age) and of the model fits: week (default) or day.';
COMMENT ON COLUMN hvc.config.horizon_months IS 'Prediction horizon in months for predicted_orders and predicted_clv (default 12; a month is 4.345 weeks or 30 days by time_unit); horizon_days, when set, wins over it.';
COMMENT ON COLUMN hvc.config.monthly_discount_rate IS 'Monthly discount rate of predicted_clv (default 0.01 = 1 % a month).';
COMMENT ON COLUMN hvc.config.value_basis IS
    'What value_rank and tiers rank by: predicted_clv (default), historic_clv, revenue, margin, or score (the weighted value score of hvc.score_weights, 0-100 points). A refresh never changes it on its own: when the model cannot be fitted it predicts with the last good fit (hvc.snapshot_info.fallback); without any fit it keeps the previous snapshot''s basis (historic_clv before the first fit).';
COMMENT ON COLUMN hvc.config.at_risk_threshold IS 'churn_risk (the probability of no purchase in the next churn_window_days) at or above which a high-value customer may be listed in hvc.at_risk (default 0.5: more likely than not to buy nothing in the window); hvc.at_risk also keeps only the riskiest at_risk_share of the high-value customers.';
COMMENT ON COLUMN hvc.config.history_refreshes IS 'How many refreshes of tier history to keep (default 24).';
COMMENT ON COLUMN hvc.config.timezone IS
    'Zone in which purchase days, dates and as_of are reckoned (default UTC), so scheduled and manual refreshes agree.';

-- Rule tables (hvc.tier_rules, hvc.rfm_segments) and dump / restore.
-- CREATE EXTENSION inserts default rows marked origin = 'extension'.  The
-- first change a DBA makes to a table turns its whole set into 'user'
-- rows and marks the set edited in hvc.rule_sets; only 'user' rows and
-- edited marks are dumped.  So an untouched set is not dumped and the
-- restore's CREATE EXTENSION makes it again, while an edited set is dumped
-- whole, and its rows, which come back with origin written out (COPY and
-- INSERT of a dump name every column), replace the defaults the restore's
-- CREATE EXTENSION inserted; so does its restored edited mark, which is what
-- brings an emptied set back empty.  This works row by row and in any order,
-- so it holds for every restore mode: pg_restore (also --single-transaction,
-- --exit-on-error, -j), psql -1 of a plain dump, --inserts.  A DBA's INSERT
-- leaves origin out (NULL): the row is added.
CREATE TABLE hvc.rule_sets (
    rule_table text    PRIMARY KEY CHECK (rule_table IN ('tier_rules', 'rfm_segments', 'profile_rules')),
    edited     boolean NOT NULL
);
INSERT INTO hvc.rule_sets VALUES ('tier_rules', false), ('rfm_segments', false);
SELECT pg_catalog.pg_extension_config_dump('hvc.rule_sets', 'WHERE edited');
COMMENT ON TABLE hvc.rule_sets IS
    'Internal: whether hvc.tier_rules, hvc.rfm_segments and hvc.profile_rules still hold the defaults or a DBA''s rules (dumped then, even when emptied). Kept by hvc''s triggers.';
COMMENT ON COLUMN hvc.rule_sets.rule_table IS 'tier_rules, rfm_segments or profile_rules.';
COMMENT ON COLUMN hvc.rule_sets.edited IS 'false: the default rules nobody has changed; true: a DBA changed the set.';

-- The two fixed rows stay: a restored (dumped) mark updates its row and
-- removes the untouched default rules it stands for.
CREATE OR REPLACE FUNCTION hvc._rule_set_restored() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> 'hvc' OR TG_TABLE_NAME <> 'rule_sets'
       OR TG_WHEN <> 'BEFORE' OR TG_LEVEL <> 'ROW' OR TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'hvc: _rule_set_restored() is the BEFORE INSERT row trigger of hvc.rule_sets'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    IF NEW.rule_table NOT IN ('tier_rules', 'rfm_segments', 'profile_rules') OR NEW.edited IS NULL THEN
        RETURN NEW;             -- the constraints reject it
    END IF;
    IF NEW.edited THEN
        EXECUTE format('DELETE FROM hvc.%I WHERE origin = ''extension''', NEW.rule_table);
    END IF;
    UPDATE hvc.rule_sets r SET edited = r.edited OR NEW.edited
     WHERE r.rule_table = NEW.rule_table;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION hvc._rule_set_restored() IS
    'Internal: BEFORE INSERT trigger of hvc.rule_sets: a restored edited mark removes the untouched default rules of its table and updates the existing row.';
CREATE TRIGGER rule_sets_restored BEFORE INSERT ON hvc.rule_sets
    FOR EACH ROW EXECUTE FUNCTION hvc._rule_set_restored();

CREATE OR REPLACE FUNCTION hvc._settings_row_origin() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_TABLE_SCHEMA <> 'hvc' OR TG_TABLE_NAME NOT IN ('tier_rules', 'rfm_segments', 'profile_rules')
       OR TG_WHEN <> 'BEFORE' OR TG_LEVEL <> 'ROW' OR TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'hvc: _settings_row_origin() is a BEFORE INSERT row trigger of hvc.tier_rules, hvc.rfm_segments and hvc.profile_rules'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    IF NEW.origin IS NOT NULL THEN
        -- a restored row: the untouched defaults give way to the dumped set
        EXECUTE format('DELETE FROM hvc.%I WHERE origin = ''extension''', TG_TABLE_NAME);
    END IF;
    NEW.origin := 'user';
    RETURN NEW;
END $$;
COMMENT ON FUNCTION hvc._settings_row_origin() IS
    'Internal: BEFORE INSERT trigger of hvc.tier_rules, hvc.rfm_segments and hvc.profile_rules: a row that comes with an origin (a restored dump) first removes the untouched default rows; every inserted row is a user row.';

CREATE OR REPLACE FUNCTION hvc._settings_edited() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    untouched boolean;
BEGIN
    IF TG_TABLE_SCHEMA <> 'hvc' OR TG_TABLE_NAME NOT IN ('tier_rules', 'rfm_segments', 'profile_rules')
       OR TG_WHEN <> 'AFTER' OR TG_LEVEL <> 'STATEMENT' THEN
        RAISE EXCEPTION 'hvc: _settings_edited() is an AFTER statement trigger of hvc.tier_rules, hvc.rfm_segments and hvc.profile_rules'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    -- A statement that changed no row (e.g. the empty COPY of a restored
    -- untouched set) changes nothing; the UPDATE below fires this trigger
    -- once more, which then finds no default row left.  (TRUNCATE has no
    -- transition table; it always empties a set.)
    IF TG_OP <> 'TRUNCATE' THEN
        IF NOT EXISTS (SELECT FROM changed) THEN
            RETURN NULL;
        END IF;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT FROM hvc.%I WHERE origin = ''extension'')', TG_TABLE_NAME)
       INTO untouched;
    IF untouched THEN
        EXECUTE format('UPDATE hvc.%I SET origin = ''user'' WHERE origin = ''extension''', TG_TABLE_NAME);
    END IF;
    UPDATE hvc.rule_sets r SET edited = true WHERE r.rule_table = TG_TABLE_NAME AND NOT r.edited;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION hvc._settings_edited() IS
    'Internal: AFTER INSERT, UPDATE, DELETE (transition table changed) and TRUNCATE statement trigger of hvc.tier_rules, hvc.rfm_segments and hvc.profile_rules: once a statement changes a row of the set, all of it is user rules and the set is marked edited in hvc.rule_sets (dumped).';

-- A rule table whose default rows carry origin 'extension' (tier_rules,
-- rfm_segments here; profile_rules, 73_profiles.sql): dumped without its
-- untouched defaults, its rows' origin kept by hvc._settings_row_origin, the
-- set marked edited by hvc._settings_edited.  For the install and upgrade
-- scripts only (pg_extension_config_dump works only inside them).
CREATE OR REPLACE FUNCTION hvc._track_rule_set(rules regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
BEGIN
    SELECT c.relname INTO t FROM pg_class c
     WHERE c.oid = rules AND c.relnamespace = 'hvc'::regnamespace
       AND c.relname IN ('tier_rules', 'rfm_segments', 'profile_rules');
    IF t IS NULL THEN
        RAISE EXCEPTION 'hvc: _track_rule_set takes hvc.tier_rules, hvc.rfm_segments or hvc.profile_rules'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.pg_extension_config_dump(rules, 'WHERE origin <> ''extension''');
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON hvc.%I
                    FOR EACH ROW EXECUTE FUNCTION hvc._settings_row_origin()', t || '_origin', t);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON hvc.%I REFERENCING NEW TABLE AS changed
                    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited()', t || '_inserted', t);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON hvc.%I REFERENCING NEW TABLE AS changed
                    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited()', t || '_updated', t);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON hvc.%I REFERENCING OLD TABLE AS changed
                    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited()', t || '_deleted', t);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON hvc.%I
                    FOR EACH STATEMENT EXECUTE FUNCTION hvc._settings_edited()', t || '_truncated', t);
END $$;
COMMENT ON FUNCTION hvc._track_rule_set(regclass) IS
    'Internal (install and upgrade scripts): makes a rule table with default rows dump only a DBA''s rules (pg_extension_config_dump WHERE origin <> extension) and adds its origin and edited-set triggers.';

CREATE TABLE hvc.tier_rules (
    tier           text    PRIMARY KEY CHECK (tier <> ''),
    tier_rank      integer NOT NULL UNIQUE CHECK (tier_rank >= 1),
    customer_share float8  NOT NULL CHECK (customer_share > 0 AND customer_share <= 1),
    high_value     boolean NOT NULL DEFAULT false,
    origin         text    NOT NULL CHECK (origin IN ('extension', 'user'))
);
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value, origin) VALUES
    ('top',    1, 0.05, true,  'extension'),
    ('high',   2, 0.20, true,  'extension'),
    ('medium', 3, 0.50, false, 'extension'),
    ('low',    4, 1.00, false, 'extension');
-- Untouched defaults are not dumped (the restore's CREATE EXTENSION makes
-- them again); an edited set is dumped whole and replaces them on restore.
SELECT hvc._track_rule_set('hvc.tier_rules');
COMMENT ON TABLE hvc.tier_rules IS
    'Tiers by value rank: a customer whose value_rank / customers is at most customer_share gets the best-ranked such tier. Shares must grow with tier_rank and the last must be 1.';
COMMENT ON COLUMN hvc.tier_rules.tier IS 'Tier name shown in hvc.customers.tier.';
COMMENT ON COLUMN hvc.tier_rules.tier_rank IS '1 = best tier.';
COMMENT ON COLUMN hvc.tier_rules.customer_share IS 'Cumulative share of customers (by value rank) that this tier reaches, in (0, 1].';
COMMENT ON COLUMN hvc.tier_rules.high_value IS 'Whether customers of this tier count as high-value (is_high_value).';
COMMENT ON COLUMN hvc.tier_rules.origin IS
    'Set by hvc, not by you: extension = a default row nobody has changed (not dumped: CREATE EXTENSION makes it), user = edited rules (dumped; after any change the whole set is user). A row inserted with an origin (a restored dump) replaces the untouched defaults.';

CREATE TABLE hvc.rfm_segments (
    segment  text     PRIMARY KEY CHECK (segment <> ''),
    priority integer  NOT NULL UNIQUE,
    r_min    smallint NOT NULL CHECK (r_min BETWEEN 1 AND 5),
    r_max    smallint NOT NULL CHECK (r_max BETWEEN 1 AND 5),
    f_min    smallint NOT NULL CHECK (f_min BETWEEN 1 AND 5),
    f_max    smallint NOT NULL CHECK (f_max BETWEEN 1 AND 5),
    m_min    smallint NOT NULL CHECK (m_min BETWEEN 1 AND 5),
    m_max    smallint NOT NULL CHECK (m_max BETWEEN 1 AND 5),
    origin   text     NOT NULL CHECK (origin IN ('extension', 'user')),
    CHECK (r_min <= r_max AND f_min <= f_max AND m_min <= m_max)
);
INSERT INTO hvc.rfm_segments VALUES
    ('Champions',           1, 4, 5, 4, 5, 4, 5, 'extension'),
    ('Can''t Lose Them',    2, 1, 1, 4, 5, 4, 5, 'extension'),
    ('New Customers',       3, 4, 5, 1, 1, 1, 1, 'extension'),
    ('Promising',           4, 3, 4, 1, 1, 1, 1, 'extension'),
    ('Loyal Customers',     5, 2, 5, 3, 5, 3, 5, 'extension'),
    ('Potential Loyalist',  6, 3, 5, 1, 3, 1, 3, 'extension'),
    ('Need Attention',      7, 2, 3, 2, 3, 2, 3, 'extension'),
    ('About To Sleep',      8, 2, 3, 1, 2, 1, 2, 'extension'),
    ('At Risk',             9, 1, 2, 2, 5, 2, 5, 'extension'),
    ('Lost',               10, 1, 2, 1, 2, 1, 2, 'extension');
SELECT hvc._track_rule_set('hvc.rfm_segments');
COMMENT ON TABLE hvc.rfm_segments IS
    'RFM segment rules: the first rule by priority whose inclusive score ranges match wins; no match = ''Others''. A refresh warns about rules that can never match.';
COMMENT ON COLUMN hvc.rfm_segments.segment IS 'Segment name shown in hvc.customers.segment.';
COMMENT ON COLUMN hvc.rfm_segments.priority IS 'Lower = tried first.';
COMMENT ON COLUMN hvc.rfm_segments.r_min IS 'Lowest R score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.r_max IS 'Highest R score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.f_min IS 'Lowest F score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.f_max IS 'Highest F score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.m_min IS 'Lowest M score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.m_max IS 'Highest M score (1-5) of the rule.';
COMMENT ON COLUMN hvc.rfm_segments.origin IS
    'Set by hvc, not by you: extension = a default rule nobody has changed (not dumped: CREATE EXTENSION makes it), user = edited rules (dumped; after any change the whole set is user). A row inserted with an origin (a restored dump) replaces the untouched defaults.';

CREATE TABLE hvc.source (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    relation      text    NOT NULL,
    customer      text    NOT NULL,
    ordered_at    text    NOT NULL,
    amount        text    NOT NULL,
    margin        text,
    order_id      text,
    customer_type text    NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('hvc.source', '');
COMMENT ON TABLE hvc.source IS
    'The registered sales table (one per database); set it with hvc.register_source(). Columns are re-checked at every refresh.';
COMMENT ON COLUMN hvc.source.singleton IS 'Always true: one source per database.';
COMMENT ON COLUMN hvc.source.relation IS 'Schema-qualified name of the sales table, view or materialized view.';
COMMENT ON COLUMN hvc.source.customer IS 'Column holding the customer key.';
COMMENT ON COLUMN hvc.source.ordered_at IS 'Column holding the order date or time.';
COMMENT ON COLUMN hvc.source.amount IS 'Column holding the line amount (negative = refund).';
COMMENT ON COLUMN hvc.source.margin IS 'Column holding the contribution margin, or NULL.';
COMMENT ON COLUMN hvc.source.order_id IS 'Column holding the order id (rows of one order = one order), or NULL (each row is an order).';
COMMENT ON COLUMN hvc.source.customer_type IS 'Type of the customer column at registration; hvc.customers.customer_id has this type.';
COMMENT ON COLUMN hvc.source.registered_at IS 'When the source was registered.';
