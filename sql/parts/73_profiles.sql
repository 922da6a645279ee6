-- ---------------------------------------------------------------------------
-- Profiles from signals (issue 12 item 3): an editable rules table.  Each
-- rule names a profile and its kind:
--   ambassador     latest NPS >= min_nps and/or converted referrals >=
--                  min_converted_referrals (either condition suffices)
--   corporate      the latest value of attribute signal `attribute` is
--                  >= attribute_min (numeric) or = attribute_equals (text)
--   early_adopter  bought at least min_products products within within_days
--                  days of the product's first sale to anyone (needs the
--                  sales source's product column, hvc.source.product)
-- A customer gets every profile whose rule matches (multi-valued:
-- hvc.customer_signals.profiles, hvc.customer_profiles), listed by priority.
-- Two default rules ship (hvc._default_profile_rules): ambassador (a
-- promoter, NPS >= 9, or at least one converted referral; priority 1) and
-- early_adopter (a product bought within 30 days of its first sale;
-- priority 3); corporate needs the DBA's attribute, so it has no default.
-- Like hvc.tier_rules, the rows remember their origin (10_settings.sql): an
-- untouched default set is not dumped, an edited one is dumped whole.
-- A rule that can never match (its signal or column is missing) is named in
-- a NOTICE at every refresh, except a default rule none of whose inputs
-- exists (a shop without NPS or referral signals, or without a product
-- column, is not told about the defaults it does not use).
-- ---------------------------------------------------------------------------

CREATE TABLE hvc.profile_rules (
    profile                 text    PRIMARY KEY CHECK (profile ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    kind                    text    NOT NULL CHECK (kind IN ('ambassador', 'corporate', 'early_adopter')),
    priority                integer NOT NULL UNIQUE,
    min_nps                 integer CHECK (min_nps BETWEEN 0 AND 10),
    min_converted_referrals integer CHECK (min_converted_referrals >= 1),
    attribute               text,
    attribute_min           float8,
    attribute_equals        text,
    within_days             integer CHECK (within_days BETWEEN 0 AND 3660),
    min_products            integer NOT NULL DEFAULT 1 CHECK (min_products >= 1),
    origin                  text    NOT NULL CHECK (origin IN ('extension', 'user')),
    CHECK (CASE kind
           WHEN 'ambassador' THEN (min_nps IS NOT NULL OR min_converted_referrals IS NOT NULL)
                                  AND attribute IS NULL AND attribute_min IS NULL AND attribute_equals IS NULL
                                  AND within_days IS NULL
           WHEN 'corporate' THEN attribute IS NOT NULL AND (attribute_min IS NULL) <> (attribute_equals IS NULL)
                                 AND min_nps IS NULL AND min_converted_referrals IS NULL AND within_days IS NULL
           WHEN 'early_adopter' THEN within_days IS NOT NULL
                                     AND min_nps IS NULL AND min_converted_referrals IS NULL
                                     AND attribute IS NULL AND attribute_min IS NULL AND attribute_equals IS NULL
           END)
);
-- The default rules, in one place: the fresh install inserts them, and the
-- unreachable-rule NOTICE recognises an untouched one by them.
CREATE OR REPLACE FUNCTION hvc._default_profile_rules() RETURNS SETOF hvc.profile_rules
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM (VALUES
        ('ambassador', 'ambassador', 1, 9, 1, NULL::text, NULL::float8, NULL::text, NULL::integer, 1, 'extension'),
        ('early_adopter', 'early_adopter', 3, NULL, NULL, NULL, NULL, NULL, 30, 1, 'extension')) d
$$;
COMMENT ON FUNCTION hvc._default_profile_rules() IS
    'Internal: the default rows of hvc.profile_rules (ambassador: NPS >= 9 or >= 1 converted referral, priority 1; early_adopter: within 30 days of a product''s first sale, priority 3), origin extension.';
INSERT INTO hvc.profile_rules SELECT * FROM hvc._default_profile_rules();
-- Untouched defaults are not dumped (the restore's CREATE EXTENSION makes
-- them again); an edited set is dumped whole and replaces them on restore.
INSERT INTO hvc.rule_sets VALUES ('profile_rules', false);
SELECT hvc._track_rule_set('hvc.profile_rules');
COMMENT ON TABLE hvc.profile_rules IS
    'Profiles from signals, one rule per profile. Defaults: ambassador (priority 1: latest NPS >= 9, a promoter, or at least 1 referral that bought) and early_adopter (priority 3: a product bought within 30 days of its first sale; needs the sales source''s product column). corporate is yours to add, e.g. INSERT INTO hvc.profile_rules (profile, kind, priority, attribute, attribute_min) VALUES (''corporate'', ''corporate'', 2, ''seats'', 50). A customer gets every profile whose rule matches (hvc.customer_signals.profiles, hvc.customer_profiles); a rule that can never match is named in a NOTICE at each refresh (a default rule none of whose signals or columns exists is not).';
COMMENT ON COLUMN hvc.profile_rules.profile IS 'The profile''s name, shown in hvc.customer_signals.profiles.';
COMMENT ON COLUMN hvc.profile_rules.kind IS 'ambassador (NPS and/or converted referrals), corporate (an attribute) or early_adopter (products bought soon after their first sale).';
COMMENT ON COLUMN hvc.profile_rules.priority IS 'Order of the profiles in hvc.customer_signals.profiles (lower first).';
COMMENT ON COLUMN hvc.profile_rules.min_nps IS 'ambassador: a latest NPS answer of at least this (9 = promoter) qualifies; NULL = NPS not used.';
COMMENT ON COLUMN hvc.profile_rules.min_converted_referrals IS 'ambassador: at least this many referrals that bought qualify; NULL = referrals not used.';
COMMENT ON COLUMN hvc.profile_rules.attribute IS 'corporate: the attribute signal (hvc.signal.name) the rule reads.';
COMMENT ON COLUMN hvc.profile_rules.attribute_min IS 'corporate: its latest value is at least this (numeric attribute).';
COMMENT ON COLUMN hvc.profile_rules.attribute_equals IS 'corporate: its latest value is this (text attribute).';
COMMENT ON COLUMN hvc.profile_rules.within_days IS 'early_adopter: a purchase of a product at most this many days (x 24 hours) after the product''s first sale to anyone counts.';
COMMENT ON COLUMN hvc.profile_rules.min_products IS 'early_adopter: how many distinct products bought that early (default 1).';
COMMENT ON COLUMN hvc.profile_rules.origin IS
    'Set by hvc, not by you: extension = a default row nobody has changed (not dumped: CREATE EXTENSION makes it), user = edited rules (dumped; after any change the whole set is user). A row inserted with an origin (a restored dump) replaces the untouched defaults.';

-- The rules that can never match, with why (NULL when all can).
CREATE OR REPLACE FUNCTION hvc._unreachable_profile_rules() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(format('"%s" (%s)', r.profile, w.why), ', ' ORDER BY r.priority)
      FROM hvc.profile_rules r
     CROSS JOIN LATERAL (SELECT CASE r.kind
         WHEN 'ambassador' THEN
             CASE WHEN NOT ((r.min_nps IS NOT NULL AND EXISTS (SELECT 1 FROM hvc.signal s WHERE s.kind = 'nps'))
                            OR (r.min_converted_referrals IS NOT NULL
                                AND EXISTS (SELECT 1 FROM hvc.signal s WHERE s.kind = 'referral' AND s.value IS NOT NULL)))
                  THEN CASE WHEN r.min_converted_referrals IS NULL THEN 'no nps signal'
                            WHEN r.min_nps IS NULL THEN 'no referral signal with the referred customer''s key'
                            ELSE 'no nps signal and no referral signal with the referred customer''s key' END END
         WHEN 'corporate' THEN
             CASE WHEN NOT EXISTS (SELECT 1 FROM hvc.signal s WHERE s.kind = 'attribute' AND s.name = r.attribute)
                      THEN format('no attribute signal named %s', r.attribute)
                  WHEN r.attribute_min IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM hvc.signal s WHERE s.name = r.attribute AND s.value_type = 'numeric')
                      THEN format('attribute_min on the text attribute %s', r.attribute)
                  WHEN r.attribute_equals IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM hvc.signal s WHERE s.name = r.attribute AND s.value_type = 'text')
                      THEN format('attribute_equals on the numeric attribute %s', r.attribute) END
         WHEN 'early_adopter' THEN
             CASE WHEN NOT EXISTS (SELECT 1 FROM hvc.source s WHERE s.product IS NOT NULL)
                  THEN 'the sales source has no product column' END
         END AS why) w
     WHERE w.why IS NOT NULL
       -- an untouched default rule none of whose inputs exists: the shop
       -- does not use what it reads, so it is not named
       AND NOT (EXISTS (SELECT 1 FROM hvc._default_profile_rules() d
                         WHERE (d.profile, d.kind, d.priority, d.min_nps, d.min_converted_referrals, d.attribute,
                                d.attribute_min, d.attribute_equals, d.within_days, d.min_products)
                               IS NOT DISTINCT FROM
                               (r.profile, r.kind, r.priority, r.min_nps, r.min_converted_referrals, r.attribute,
                                r.attribute_min, r.attribute_equals, r.within_days, r.min_products))
                AND CASE r.kind
                    WHEN 'ambassador' THEN NOT EXISTS (SELECT 1 FROM hvc.signal s WHERE s.kind IN ('nps', 'referral'))
                    WHEN 'early_adopter' THEN NOT EXISTS (SELECT 1 FROM hvc.source s WHERE s.product IS NOT NULL)
                    ELSE false END)
$$;
COMMENT ON FUNCTION hvc._unreachable_profile_rules() IS
    'Internal: the rules of hvc.profile_rules that can never match (their signal, attribute or the product column is missing, or the attribute has the other type), with the reason, leaving out a default rule (hvc._default_profile_rules) none of whose inputs exists (no nps or referral signal; no product column); NULL when every other rule can match.';

-- The NOTICE naming the rules that can never match (at every refresh).
CREATE OR REPLACE FUNCTION hvc._notice_unreachable_profile_rules() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dead text := hvc._unreachable_profile_rules();
BEGIN
    IF dead IS NOT NULL THEN
        RAISE NOTICE 'hvc: profile rule(s) % can never match', dead
            USING DETAIL = 'A rule needs its signal (hvc.signal), its attribute of the right type, or the sales source''s product column.',
                  HINT = 'Register what the rule needs, or change or delete the rule (UPDATE / DELETE hvc.profile_rules).';
    END IF;
END $$;
COMMENT ON FUNCTION hvc._notice_unreachable_profile_rules() IS
    'Internal: raises the NOTICE naming the rules of hvc.profile_rules that can never match (hvc._unreachable_profile_rules), if any.';

-- The profiles of refresh id's customers into the temp table
-- _hvc_profile_hits (customer_id, profile, priority), from _hvc_signal_sum,
-- the new attribute rows and, for early adopters, one more read of the
-- sales source (first sale of each product, then the early purchases).
CREATE OR REPLACE FUNCTION hvc._profile_hits(id bigint, run_as_of timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src hvc.source;
    tz text;
    er hvc.profile_rules;
    t_expr text;
BEGIN
    IF id IS NULL OR run_as_of IS NULL THEN
        RAISE EXCEPTION 'hvc: _profile_hits needs a refresh id and as_of' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_regclass('pg_temp._hvc_signal_sum') IS NULL THEN
        RAISE EXCEPTION 'hvc: _profile_hits runs inside hvc._refresh_signals' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT * INTO src FROM hvc.source;
    SELECT c.timezone INTO tz FROM hvc.config c;
    PERFORM hvc._notice_unreachable_profile_rules();

    IF to_regclass('pg_temp._hvc_profile_hits') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_profile_hits;
    END IF;
    EXECUTE format('CREATE TEMP TABLE _hvc_profile_hits (customer_id %s, profile text, priority integer) ON COMMIT DROP',
                   hvc._base_type(src.customer_type::regtype));

    INSERT INTO pg_temp._hvc_profile_hits
    SELECT g.customer_id, r.profile, r.priority
      FROM pg_temp._hvc_signal_sum g
      JOIN hvc.profile_rules r ON r.kind = 'ambassador'
     WHERE g.nps[2] >= r.min_nps OR g.converted >= r.min_converted_referrals;

    INSERT INTO pg_temp._hvc_profile_hits
    SELECT a.customer_id, r.profile, r.priority
      FROM hvc.profile_rules r
      JOIN hvc.customer_attribute_store a ON a.refresh_id = id AND a.name = r.attribute
     WHERE r.kind = 'corporate'
       AND (a.value_numeric >= r.attribute_min OR a.value_text = r.attribute_equals);

    IF src.product IS NOT NULL AND EXISTS (SELECT 1 FROM hvc.profile_rules p WHERE p.kind = 'early_adopter') THEN
        t_expr := hvc._signal_time_expr(src.relation::regclass, 'ordered_at', src.ordered_at, tz);
        PERFORM hvc._source_column_type(src.relation::regclass, 'product', src.product);
        FOR er IN SELECT * FROM hvc.profile_rules p WHERE p.kind = 'early_adopter' ORDER BY p.priority LOOP
            EXECUTE format($q$
                INSERT INTO pg_temp._hvc_profile_hits
                SELECT e.customer_id, $1, $2
                  FROM (SELECT x.c AS customer_id
                          FROM (SELECT %1$I AS c, %2$I AS p, %3$s AS t FROM %4$s) x
                          JOIN (SELECT %2$I AS p, min(%3$s) AS first_sale FROM %4$s
                                 WHERE %3$s <= $3 AND %2$I IS NOT NULL GROUP BY 1) f ON f.p = x.p
                         WHERE x.t <= $3 AND x.t <= f.first_sale + $4 * interval '24 hours' AND x.c IS NOT NULL
                         GROUP BY x.c
                        HAVING count(DISTINCT x.p) >= $5) e
                 WHERE EXISTS (SELECT 1 FROM hvc.customer_snapshot s WHERE s.customer_id = e.customer_id AND s.refresh_id = $6)$q$,
                src.customer, src.product, t_expr, src.relation)
            USING er.profile, er.priority, run_as_of, er.within_days, er.min_products, id;
        END LOOP;
    END IF;
END $$;
COMMENT ON FUNCTION hvc._profile_hits(bigint, timestamptz) IS
    'Internal: which customers of refresh id match which rule of hvc.profile_rules (temp table _hvc_profile_hits), raising the NOTICE about rules that can never match.';
