-- ---------------------------------------------------------------------------
-- Signals: per-customer events and facts beside the sales table (issue 12).
--
-- hvc.register_signal maps a table or view of NPS answers, referrals,
-- engagement events, service contacts or account facts (attributes); every
-- refresh reads each registered signal exactly once (one GROUP BY pass
-- before the build, whether or not the sales side is read incrementally and
-- whether or not the value score uses it), with the caller's rights like
-- the sales source, and stores one row per customer of the new snapshot
-- (hvc.customer_signal_store) and the latest value of each attribute
-- (hvc.customer_attribute_store), keyed by customer and refresh_id, so they
-- are swapped in with the snapshot in the refresh's transaction.
-- hvc.customer_signals and hvc.customer_attributes show them; profiles
-- (73_profiles.sql) and the at-risk reasons (80_operations.sql) use them.
-- ---------------------------------------------------------------------------

CREATE TABLE hvc.signal (
    name                   text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
    kind                   text NOT NULL CHECK (kind IN ('nps', 'referral', 'engagement', 'service', 'attribute')),
    relation               text NOT NULL,
    customer               text NOT NULL,
    observed_at            text NOT NULL,
    value                  text,
    resolved_at            text,
    first_contact_resolved text,
    value_type             text CHECK (value_type IN ('numeric', 'text')),
    registered_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_refresh_id        bigint,
    rows_read              bigint,
    rows_skipped           bigint
);
-- at most one nps signal
CREATE UNIQUE INDEX signal_one_nps ON hvc.signal ((kind)) WHERE kind = 'nps';
SELECT pg_catalog.pg_extension_config_dump('hvc.signal', '');
COMMENT ON TABLE hvc.signal IS
    'The registered signal sources (hvc.register_signal, hvc.unregister_signal): tables or views of per-customer events or facts that every refresh reads once.';
COMMENT ON COLUMN hvc.signal.name IS 'Name of the signal (an identifier); for an attribute also its name in hvc.customer_attributes.';
COMMENT ON COLUMN hvc.signal.kind IS 'nps, referral, engagement, service or attribute.';
COMMENT ON COLUMN hvc.signal.relation IS 'Schema-qualified name of the table or view.';
COMMENT ON COLUMN hvc.signal.customer IS 'Column holding the customer key (the type of the sales source''s customer column).';
COMMENT ON COLUMN hvc.signal.observed_at IS 'Column holding the time of the event or fact (service: when the contact was opened).';
COMMENT ON COLUMN hvc.signal.value IS 'nps: the 0-10 score; referral: the referred customer''s key (or NULL); engagement: the weight (or NULL: 1 per event); attribute: the fact; service: NULL.';
COMMENT ON COLUMN hvc.signal.resolved_at IS 'service: column holding when the contact was resolved (NULL in a row = still open).';
COMMENT ON COLUMN hvc.signal.first_contact_resolved IS 'service: boolean column, resolved at the first contact (optional).';
COMMENT ON COLUMN hvc.signal.value_type IS 'attribute: numeric or text (from the column''s type).';
COMMENT ON COLUMN hvc.signal.registered_at IS 'When it was registered.';
COMMENT ON COLUMN hvc.signal.last_refresh_id IS 'The last refresh that read it.';
COMMENT ON COLUMN hvc.signal.rows_read IS 'Rows that refresh read (all rows of the table or view).';
COMMENT ON COLUMN hvc.signal.rows_skipped IS 'Rows that refresh skipped: NULL customer key or time, an NPS score that is not a whole number from 0 to 10, a NULL or negative engagement weight, a contact resolved before it was opened, a NULL attribute value.';

-- The latest observation of each customer, in one pass (src/signal_latest.c).
CREATE OR REPLACE FUNCTION hvc._signal_latest_trans(float8[], float8, timestamptz) RETURNS float8[]
AS 'MODULE_PATHNAME', 'hvc_signal_latest_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvc._signal_latest_trans(float8[], float8, timestamptz) IS
    'Internal: transition function of hvc._signal_latest.';
CREATE OR REPLACE FUNCTION hvc._signal_latest_combine(float8[], float8[]) RETURNS float8[]
AS 'MODULE_PATHNAME', 'hvc_signal_latest_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvc._signal_latest_combine(float8[], float8[]) IS
    'Internal: combine function of hvc._signal_latest.';
CREATE OR REPLACE FUNCTION hvc._signal_latest_final(float8[]) RETURNS float8[]
AS 'MODULE_PATHNAME', 'hvc_signal_latest_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION hvc._signal_latest_final(float8[]) IS
    'Internal: final function of hvc._signal_latest.';
CREATE OR REPLACE AGGREGATE hvc._signal_latest(float8, timestamptz) (
    SFUNC = hvc._signal_latest_trans, STYPE = float8[], INITCOND = '{0,0,0}',
    COMBINEFUNC = hvc._signal_latest_combine, FINALFUNC = hvc._signal_latest_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc._signal_latest(float8, timestamptz) IS
    'Internal: the latest (value, time) of a group as float8[2] {microseconds since 2000-01-01 UTC, value}; NULL rows are ignored; ties in time keep the larger value; NULL without a row.';

-- An expression giving column `col` of a signal as timestamptz: a date or
-- timestamp is read in hvc.config.timezone.
CREATE OR REPLACE FUNCTION hvc._signal_time_expr(rel regclass, role text, col text, tz text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t regtype := hvc._base_type(hvc._source_column_type(rel, role, col));
BEGIN
    IF t = 'timestamptz'::regtype THEN
        RETURN format('%I::timestamptz', col);
    ELSIF t IN ('date'::regtype, 'timestamp'::regtype) THEN
        RETURN format('(%I::timestamp AT TIME ZONE %L)', col, tz);
    END IF;
    RAISE EXCEPTION 'hvc: % column "%" has type %, not date, timestamp or timestamptz', role, col, t
        USING ERRCODE = 'datatype_mismatch',
              HINT = 'Register a view that converts the column, for example to_date(col, ''YYYYMMDD'').';
END $$;
COMMENT ON FUNCTION hvc._signal_time_expr(regclass, text, text, text) IS
    'Internal: SQL expression reading a date, timestamp or timestamptz column of a signal as timestamptz (dates and timestamps in the given zone); datatype_mismatch for other types.';

-- Validate a signal mapping; returns value_type (attribute) or NULL.  Used by
-- register_signal and again by every refresh.  Privileges first: a role
-- learns nothing about a table it may not read.
CREATE OR REPLACE FUNCTION hvc._check_signal(rel regclass, kind text, customer text, observed_at text,
                                             value text, resolved_at text, first_contact_resolved text)
RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src_type regtype;
    t regtype;
    value_type text;
BEGIN
    IF kind IS NULL OR kind NOT IN ('nps', 'referral', 'engagement', 'service', 'attribute') THEN
        RAISE EXCEPTION 'hvc: unknown signal kind %', coalesce(quote_literal(kind), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'kind is one of nps, referral, engagement, service, attribute.';
    END IF;
    PERFORM hvc._check_relation(rel, 'hvc.register_signal()');
    IF NOT has_table_privilege(rel, 'SELECT') THEN
        RAISE EXCEPTION 'hvc: permission denied to read %', rel
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('GRANT SELECT ON %s TO %I;', rel, current_user);
    END IF;
    SELECT s.customer_type::regtype INTO src_type FROM hvc.source s;
    IF src_type IS NULL THEN
        RAISE EXCEPTION 'hvc: no sales table is registered'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register the sales table first (hvc.register_source): a signal''s customer keys are those of the sales table.';
    END IF;

    t := hvc._source_column_type(rel, 'customer', customer);
    IF t <> src_type AND hvc._base_type(t) <> hvc._base_type(src_type) THEN
        RAISE EXCEPTION 'hvc: customer column "%" has type %, the sales table''s customer keys are %', customer, t, src_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = format('Register a view whose customer column is %s, for example customer::%s.', src_type, src_type);
    END IF;
    PERFORM hvc._signal_time_expr(rel, 'observed_at', observed_at, 'UTC');

    IF kind <> 'service' AND (resolved_at IS NOT NULL OR first_contact_resolved IS NOT NULL) THEN
        RAISE EXCEPTION 'hvc: resolved_at and first_contact_resolved belong to service signals, not to %', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave them out (NULL) for this kind.';
    END IF;

    IF kind IN ('nps', 'attribute') AND value IS NULL THEN
        RAISE EXCEPTION 'hvc: a % signal needs a value column', kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE kind WHEN 'nps' THEN 'Pass value => ''<the 0-10 score column>''.'
                                   ELSE 'Pass value => ''<the column holding the fact>''.' END;
    END IF;
    IF value IS NOT NULL THEN
        t := hvc._base_type(hvc._source_column_type(rel, 'value', value));
    END IF;
    IF kind IN ('nps', 'engagement') AND value IS NOT NULL
       AND t NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
                     'real'::regtype, 'double precision'::regtype) THEN
        RAISE EXCEPTION 'hvc: value column "%" of a % signal has type %, not numeric, integer or float', value, kind, t
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Register a view that casts the column, for example col::numeric.';
    ELSIF kind = 'referral' AND value IS NOT NULL
          AND t <> hvc._base_type(src_type) THEN
        RAISE EXCEPTION 'hvc: referred-customer column "%" has type %, the sales table''s customer keys are %', value, t, src_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = format('Register a view whose referred-customer column is %s, or pass value => NULL.', src_type);
    ELSIF kind = 'service' AND value IS NOT NULL THEN
        RAISE EXCEPTION 'hvc: a service signal takes no value column'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass value => NULL; map resolved_at and first_contact_resolved instead.';
    ELSIF kind = 'attribute' THEN
        IF t IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
                 'real'::regtype, 'double precision'::regtype) THEN
            value_type := 'numeric';
        ELSIF t IN ('text'::regtype, 'character varying'::regtype, 'character'::regtype, 'boolean'::regtype) THEN
            value_type := 'text';
        ELSE
            RAISE EXCEPTION 'hvc: attribute column "%" has type %, not numeric or text', value, t
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Register a view that casts the column to numeric or text.';
        END IF;
    END IF;

    IF kind = 'service' THEN
        IF resolved_at IS NULL THEN
            RAISE EXCEPTION 'hvc: a service signal needs a resolved_at column'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Pass resolved_at => ''<column>'' (NULL in a row = the contact is still open).';
        END IF;
        PERFORM hvc._signal_time_expr(rel, 'resolved_at', resolved_at, 'UTC');
        IF first_contact_resolved IS NOT NULL
           AND hvc._base_type(hvc._source_column_type(rel, 'first_contact_resolved', first_contact_resolved)) <> 'boolean'::regtype THEN
            RAISE EXCEPTION 'hvc: first_contact_resolved column "%" is not boolean', first_contact_resolved
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Register a view with a boolean column, or leave first_contact_resolved NULL.';
        END IF;
    END IF;
    RETURN value_type;
END $$;
COMMENT ON FUNCTION hvc._check_signal(regclass, text, text, text, text, text, text) IS
    'Internal: validates a signal mapping (kind, relation, SELECT privilege, columns and types against the registered sales table''s key type); returns the attribute''s value type (numeric or text), else NULL.';

CREATE OR REPLACE FUNCTION hvc.register_signal(name text, source regclass, customer text, observed_at text,
                                               value text, kind text, resolved_at text DEFAULT NULL,
                                               first_contact_resolved text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    value_type text;
    rel_name text;
    other text;
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'hvc: signal name % is not an identifier', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use letters, digits and underscores (at most 63, not starting with a digit), e.g. ''nps'' or ''balance''.';
    END IF;
    IF source IS NULL THEN
        RAISE EXCEPTION 'hvc: source must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass source => ''schema.table''.';
    END IF;
    IF NOT (has_table_privilege('hvc.signal', 'INSERT') AND has_table_privilege('hvc.signal', 'DELETE')) THEN
        RAISE EXCEPTION 'hvc: role % may not register signals', current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run it as hvc''s owner, or GRANT INSERT, DELETE ON hvc.signal to the role (README, Privileges).';
    END IF;
    value_type := hvc._check_signal(source, kind, customer, observed_at, value, resolved_at, first_contact_resolved);
    SELECT format('%I.%I', n.nspname, c.relname) INTO rel_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source;

    PERFORM hvc._take_refresh_lock('register_source');
    IF kind = 'nps' THEN
        SELECT s.name INTO other FROM hvc.signal s WHERE s.kind = 'nps' AND s.name <> register_signal.name;
        IF other IS NOT NULL THEN
            RAISE EXCEPTION 'hvc: there is already an nps signal, %', other
                USING ERRCODE = 'duplicate_object',
                      HINT = format('At most one NPS source: SELECT hvc.unregister_signal(%L); first, or register a view that unites the answers.', other);
        END IF;
    END IF;
    DELETE FROM hvc.signal s WHERE s.name = register_signal.name;
    INSERT INTO hvc.signal (name, kind, relation, customer, observed_at, value, resolved_at,
                            first_contact_resolved, value_type)
    VALUES (register_signal.name, kind, rel_name, customer, observed_at, value, resolved_at,
            first_contact_resolved, value_type);
    RETURN format('hvc: registered %s signal %s from %s (customer %I, observed_at %I%s); the next refresh reads it',
                  kind, register_signal.name, rel_name, customer, observed_at,
                  coalesce(', value ' || quote_ident(value), '')
                  || coalesce(', resolved_at ' || quote_ident(resolved_at), '')
                  || coalesce(', first_contact_resolved ' || quote_ident(first_contact_resolved), ''));
END $$;
COMMENT ON FUNCTION hvc.register_signal(text, regclass, text, text, text, text, text, text) IS
    'Register (or replace, by name) a signal source read by every refresh: kind nps (value = 0-10 score; at most one), referral (value = the referred customer''s key, or NULL), engagement (value = weight, or NULL for 1 per event), service (observed_at = opened, resolved_at, optional boolean first_contact_resolved; value NULL) or attribute (value = a numeric or text fact; the latest as of as_of counts). The customer column has the sales table''s key type. Runs with the caller''s rights: needs SELECT on the table and INSERT, DELETE on hvc.signal. Bad mappings fail before anything changes.';

-- Text overload (like register_source): a missing table gets hvc's error.
CREATE OR REPLACE FUNCTION hvc.register_signal(name text, source text, customer text, observed_at text,
                                               value text, kind text, resolved_at text DEFAULT NULL,
                                               first_contact_resolved text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    rel pg_catalog.regclass;
BEGIN
    rel := pg_catalog.to_regclass(source);
    IF rel IS NULL THEN
        RAISE EXCEPTION 'hvc: relation "%" does not exist', source
            USING ERRCODE = 'undefined_table',
                  HINT = 'Give the table or view as schema.name (e.g. public.nps_answers), or a name on your search_path.';
    END IF;
    RETURN hvc.register_signal(name, rel, customer, observed_at, value, kind, resolved_at, first_contact_resolved);
END $$;
COMMENT ON FUNCTION hvc.register_signal(text, text, text, text, text, text, text, text) IS
    'Same as hvc.register_signal(text, regclass, ...), for a table name given as text (resolved with the caller''s search_path).';

CREATE OR REPLACE FUNCTION hvc.unregister_signal(name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT has_table_privilege('hvc.signal', 'DELETE') THEN
        RAISE EXCEPTION 'hvc: role % may not unregister signals', current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run it as hvc''s owner, or GRANT DELETE ON hvc.signal to the role.';
    END IF;
    PERFORM hvc._take_refresh_lock('register_source');
    DELETE FROM hvc.signal s WHERE s.name = unregister_signal.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hvc: no signal named %', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT name, kind FROM hvc.signal; lists the registered signals.';
    END IF;
END $$;
COMMENT ON FUNCTION hvc.unregister_signal(text) IS
    'Remove a registered signal; the next refresh no longer reads it (its stored values go with that refresh). undefined_object for an unknown name.';

-- ---------------------------------------------------------------------------
-- The customer-typed stores and their views, (re)created with the snapshot
-- objects (hvc._create_operations_objects).
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION hvc._create_signal_objects(customer_type regtype) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    IF customer_type IS NULL THEN
        RAISE EXCEPTION 'hvc: the customer key type must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DROP VIEW IF EXISTS hvc.customer_signals, hvc.customer_attributes, hvc.customer_profiles;
    DROP TABLE IF EXISTS hvc.customer_signal_store, hvc.customer_attribute_store;

    EXECUTE format($ddl$
    CREATE TABLE hvc.customer_signal_store (
        customer_id            %s NOT NULL,
        refresh_id             bigint NOT NULL,
        nps_score              integer,
        nps_at                 timestamptz,
        referrals              bigint NOT NULL DEFAULT 0,
        converted_referrals    bigint NOT NULL DEFAULT 0,
        engagement_30d         float8 NOT NULL DEFAULT 0,
        engagement_90d         float8 NOT NULL DEFAULT 0,
        engagement_prev_90d    float8 NOT NULL DEFAULT 0,
        service_contacts       bigint NOT NULL DEFAULT 0,
        open_contacts          bigint NOT NULL DEFAULT 0,
        oldest_open_contact_days integer,
        mean_resolution_hours  float8,
        first_contact_resolution_rate float8,
        profiles               text[] NOT NULL DEFAULT '{}',
        at_risk_reasons        text[] NOT NULL DEFAULT '{}'
    )$ddl$, customer_type);
    CREATE INDEX customer_signal_store_customer ON hvc.customer_signal_store (customer_id);
    COMMENT ON TABLE hvc.customer_signal_store IS
        'Internal store of hvc.customer_signals: one row per customer of the snapshot, written by each refresh (refresh_id) and swapped in with the snapshot.';
    COMMENT ON COLUMN hvc.customer_signal_store.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.customer_signal_store.refresh_id IS 'The refresh that wrote the row.';
    COMMENT ON COLUMN hvc.customer_signal_store.nps_score IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.nps_at IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.referrals IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.converted_referrals IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.engagement_30d IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.engagement_90d IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.engagement_prev_90d IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.service_contacts IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.open_contacts IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.oldest_open_contact_days IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.mean_resolution_hours IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.first_contact_resolution_rate IS 'See hvc.customer_signals.';
    COMMENT ON COLUMN hvc.customer_signal_store.profiles IS 'The matching profiles in rule priority order (hvc.customer_signals.profiles, comma-separated).';
    COMMENT ON COLUMN hvc.customer_signal_store.at_risk_reasons IS 'The at-risk reasons from signals (hvc.customer_signals.at_risk_reasons, comma-separated).';

    EXECUTE format($ddl$
    CREATE TABLE hvc.customer_attribute_store (
        customer_id   %s NOT NULL,
        refresh_id    bigint NOT NULL,
        name          text NOT NULL,
        value_numeric float8,
        value_text    text,
        observed_at   timestamptz NOT NULL
    )$ddl$, customer_type);
    CREATE INDEX customer_attribute_store_customer ON hvc.customer_attribute_store (customer_id, name);
    COMMENT ON TABLE hvc.customer_attribute_store IS
        'Internal store of hvc.customer_attributes: the latest value of each attribute signal per customer of the snapshot, written by each refresh (refresh_id).';
    COMMENT ON COLUMN hvc.customer_attribute_store.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.customer_attribute_store.refresh_id IS 'The refresh that wrote the row.';
    COMMENT ON COLUMN hvc.customer_attribute_store.name IS 'See hvc.customer_attributes.';
    COMMENT ON COLUMN hvc.customer_attribute_store.value_numeric IS 'See hvc.customer_attributes.';
    COMMENT ON COLUMN hvc.customer_attribute_store.value_text IS 'See hvc.customer_attributes.';
    COMMENT ON COLUMN hvc.customer_attribute_store.observed_at IS 'See hvc.customer_attributes.';

    CREATE VIEW hvc.customer_signals AS
    SELECT g.customer_id, g.nps_score,
           CASE WHEN g.nps_score >= 9 THEN 'promoter' WHEN g.nps_score >= 7 THEN 'passive'
                WHEN g.nps_score >= 0 THEN 'detractor' END AS nps_category,
           g.nps_at, g.referrals, g.converted_referrals,
           g.engagement_30d, g.engagement_90d, g.engagement_prev_90d,
           g.engagement_90d / nullif(g.engagement_prev_90d, 0) AS engagement_trend,
           g.service_contacts, g.open_contacts, g.oldest_open_contact_days,
           g.mean_resolution_hours, g.first_contact_resolution_rate,
           nullif(array_to_string(g.profiles, ','), '') AS profiles,
           nullif(array_to_string(g.at_risk_reasons, ','), '') AS at_risk_reasons,
           g.refresh_id
      FROM hvc.customer_signal_store g;
    COMMENT ON VIEW hvc.customer_signals IS
        'One row per customer of the snapshot with what the registered signals (hvc.signal) say as of the snapshot''s as_of; empty while no signal is registered and no early_adopter rule can match.';
    COMMENT ON COLUMN hvc.customer_signals.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.customer_signals.nps_score IS 'The latest NPS answer (0-10) up to as_of; NULL without one.';
    COMMENT ON COLUMN hvc.customer_signals.nps_category IS 'promoter (9-10), passive (7-8) or detractor (0-6); NULL without an answer.';
    COMMENT ON COLUMN hvc.customer_signals.nps_at IS 'When the latest answer was given.';
    COMMENT ON COLUMN hvc.customer_signals.referrals IS 'Customers referred by this customer up to as_of (rows of the referral signals).';
    COMMENT ON COLUMN hvc.customer_signals.converted_referrals IS 'Of those, the ones whose referred customer is a customer of the snapshot (bought up to as_of).';
    COMMENT ON COLUMN hvc.customer_signals.engagement_30d IS 'Engagement (events, or their weights) in the 30 days (30 x 24 hours) up to as_of, over all engagement signals.';
    COMMENT ON COLUMN hvc.customer_signals.engagement_90d IS 'Engagement in the 90 days up to as_of.';
    COMMENT ON COLUMN hvc.customer_signals.engagement_prev_90d IS 'Engagement in the 90 days before those.';
    COMMENT ON COLUMN hvc.customer_signals.engagement_trend IS 'engagement_90d / engagement_prev_90d (below 1 = falling); NULL when there was none in the 90 days before.';
    COMMENT ON COLUMN hvc.customer_signals.service_contacts IS 'Service contacts opened up to as_of.';
    COMMENT ON COLUMN hvc.customer_signals.open_contacts IS 'Of those, the ones not resolved at as_of.';
    COMMENT ON COLUMN hvc.customer_signals.oldest_open_contact_days IS 'Whole days the oldest open contact has been open at as_of; NULL without an open contact.';
    COMMENT ON COLUMN hvc.customer_signals.mean_resolution_hours IS 'Mean hours from opened to resolved over the contacts resolved up to as_of.';
    COMMENT ON COLUMN hvc.customer_signals.first_contact_resolution_rate IS 'Share of the resolved contacts with a first_contact_resolved flag that were resolved at the first contact.';
    COMMENT ON COLUMN hvc.customer_signals.profiles IS 'The profiles of hvc.profile_rules the customer matches, comma-separated in rule priority order (e.g. ''ambassador,corporate''); NULL for none.';
    COMMENT ON COLUMN hvc.customer_signals.at_risk_reasons IS 'Signs of silent dissatisfaction, comma-separated: engagement_falling, detractor, open_contact_over_N_days (hvc.signal_settings); NULL for none. hvc.at_risk lists the high-value customers with any.';
    COMMENT ON COLUMN hvc.customer_signals.refresh_id IS 'The refresh that read the signals (that of hvc.snapshot_info).';

    CREATE VIEW hvc.customer_attributes AS
    SELECT a.customer_id, a.name, a.value_numeric, a.value_text, a.observed_at
      FROM hvc.customer_attribute_store a;
    COMMENT ON VIEW hvc.customer_attributes IS
        'The latest value (up to the snapshot''s as_of) of each attribute signal per customer of the snapshot: one row per customer and attribute.';
    COMMENT ON COLUMN hvc.customer_attributes.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.customer_attributes.name IS 'The attribute (the signal''s name).';
    COMMENT ON COLUMN hvc.customer_attributes.value_numeric IS 'The value of a numeric attribute; NULL for a text one.';
    COMMENT ON COLUMN hvc.customer_attributes.value_text IS 'The value of a text (or boolean) attribute; NULL for a numeric one.';
    COMMENT ON COLUMN hvc.customer_attributes.observed_at IS 'When the value was observed.';

    CREATE VIEW hvc.customer_profiles AS
    SELECT g.customer_id, p.profile
      FROM hvc.customer_signal_store g
     CROSS JOIN LATERAL unnest(g.profiles) p(profile);
    COMMENT ON VIEW hvc.customer_profiles IS 'One row per customer and profile of hvc.profile_rules the customer matches (the long form of hvc.customer_signals.profiles).';
    COMMENT ON COLUMN hvc.customer_profiles.customer_id IS 'Customer key.';
    COMMENT ON COLUMN hvc.customer_profiles.profile IS 'The profile (hvc.profile_rules.profile).';
END $fn$;
COMMENT ON FUNCTION hvc._create_signal_objects(regtype) IS
    'Internal: (re)creates the customer-typed signal stores and hvc.customer_signals, hvc.customer_attributes, hvc.customer_profiles.';

-- ---------------------------------------------------------------------------
-- The per-refresh read, before the build (hvc._read_signals): one GROUP BY
-- pass per signal into the temp table _hvc_signal_parts (one row per
-- customer and signal; attributes into _hvc_signal_attrs), counting the rows
-- read and skipped; the value score and the signal step after the build
-- both use what this one pass read.
-- A row is skipped when it cannot be an observation (see
-- hvc.signal.rows_skipped); a row observed after as_of is read but not used.
-- ---------------------------------------------------------------------------

-- The FROM clause of one signal: its rows as (c customer, t time, v value,
-- r resolved, f first-contact flag, valid, used), v/r/f NULL when unmapped.
CREATE OR REPLACE FUNCTION hvc._signal_rows(sig hvc.signal, tz text, run_as_of timestamptz) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel regclass := sig.relation::regclass;
    t_expr text := hvc._signal_time_expr(rel, 'observed_at', sig.observed_at, tz);
    v_expr text := 'NULL::float8';
    r_expr text := 'NULL::timestamptz';
    f_expr text := 'NULL::boolean';
    valid text;
BEGIN
    IF sig.kind = 'nps' AND sig.value IS NOT NULL THEN
        v_expr := format('%I::float8', sig.value);
    ELSIF sig.kind = 'engagement' AND sig.value IS NOT NULL THEN
        -- (weights summed exactly, as numeric: equal engagement is equal
        -- whatever the order of the events, so the value score's
        -- percentiles see ties as ties)
        v_expr := format('%I::numeric', sig.value);
    ELSIF sig.kind = 'engagement' THEN
        v_expr := '1::numeric';
    ELSIF sig.kind = 'referral' AND sig.value IS NOT NULL THEN
        v_expr := quote_ident(sig.value);
    ELSIF sig.kind = 'referral' THEN
        v_expr := 'NULL::' || hvc._base_type((SELECT s.customer_type::regtype FROM hvc.source s))::text;
    ELSIF sig.kind = 'attribute' THEN
        v_expr := format('%I::text', sig.value);
    END IF;
    IF sig.kind = 'service' THEN
        r_expr := hvc._signal_time_expr(rel, 'resolved_at', sig.resolved_at, tz);
        IF sig.first_contact_resolved IS NOT NULL THEN
            f_expr := format('%I::boolean', sig.first_contact_resolved);
        END IF;
    END IF;
    valid := CASE sig.kind
        WHEN 'nps'        THEN 'v IS NOT NULL AND v BETWEEN 0 AND 10 AND v = trunc(v)'
        WHEN 'engagement' THEN 'v IS NOT NULL AND v >= 0 AND v < ''Infinity''::numeric'
        WHEN 'service'    THEN '(r IS NULL OR r >= t)'
        WHEN 'attribute'  THEN 'v IS NOT NULL'
        ELSE 'true' END;
    RETURN format($q$(SELECT x.c, x.t, x.v, x.r, x.f, x.valid, x.valid AND x.t <= %L::timestamptz AS used
          FROM (SELECT y.*, coalesce(y.c IS NOT NULL AND y.t IS NOT NULL AND %s, false) AS valid
                  FROM (SELECT %I AS c, %s AS t, %s AS v, %s AS r, %s AS f FROM %s) y) x) z$q$,
                  run_as_of, valid, sig.customer, t_expr, v_expr, r_expr, f_expr, rel);
END $$;
COMMENT ON FUNCTION hvc._signal_rows(hvc.signal, text, timestamptz) IS
    'Internal: the FROM item reading one signal''s rows as (c, t, v, r, f, valid, used) for the refresh.';

-- Read one signal into the temp tables of hvc._read_signals; returns (rows
-- read, rows skipped).  Referrals count as converted when the referred key
-- is a customer of the refresh's stage (pg_temp._hvc_stage: the customers of
-- the new snapshot).
CREATE OR REPLACE FUNCTION hvc._read_signal(sig hvc.signal, tz text, run_as_of timestamptz,
                                            OUT rows_read bigint, OUT rows_skipped bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rows_from text := hvc._signal_rows(sig, tz, run_as_of);
    measures text;
    d30 timestamptz := run_as_of - interval '720 hours';
    d90 timestamptz := run_as_of - interval '2160 hours';
    d180 timestamptz := run_as_of - interval '4320 hours';
BEGIN
    IF sig.name IS NULL OR run_as_of IS NULL THEN
        RAISE EXCEPTION 'hvc: _read_signal needs a signal and as_of' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_regclass('pg_temp._hvc_signal_parts') IS NULL OR to_regclass('pg_temp._hvc_signal_attrs') IS NULL
       OR to_regclass('pg_temp._hvc_stage') IS NULL THEN
        RAISE EXCEPTION 'hvc: _read_signal runs inside hvc._read_signals' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF to_regclass('pg_temp._hvc_signal_one') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_signal_one;
    END IF;
    IF sig.kind = 'attribute' THEN
        -- the latest (time, value) as one sortable text: 20 digits of
        -- microseconds (offset to stay positive), then the value; max() is
        -- a parallel-safe one-pass aggregate, ties keep the larger value
        EXECUTE format($q$
            CREATE TEMP TABLE _hvc_signal_one ON COMMIT DROP AS
            SELECT z.c AS customer_id, count(*) AS n, count(*) FILTER (WHERE NOT z.valid) AS bad,
                   max((lpad(((extract(epoch FROM z.t) * 1000000)::bigint + 4611686018427387904)::text, 20, '0')
                        || z.v) COLLATE "C") FILTER (WHERE z.used) AS latest
              FROM %s GROUP BY z.c$q$, rows_from);
        INSERT INTO pg_temp._hvc_signal_attrs (customer_id, name, value_numeric, value_text, observed_at)
        SELECT o.customer_id, sig.name,
               CASE WHEN sig.value_type = 'numeric' THEN substr(o.latest, 21)::float8 END,
               CASE WHEN sig.value_type = 'text' THEN substr(o.latest, 21) END,
               'epoch'::timestamptz + (k.us / 1000000) * interval '1 second' + (k.us % 1000000) * interval '1 microsecond'
          FROM pg_temp._hvc_signal_one o
         CROSS JOIN LATERAL (SELECT substr(o.latest, 1, 20)::bigint - 4611686018427387904 AS us) k
         WHERE o.customer_id IS NOT NULL AND o.latest IS NOT NULL;
    ELSE
        measures := CASE sig.kind
            WHEN 'nps' THEN
                'hvc._signal_latest(z.v, z.t) FILTER (WHERE z.used) AS nps'
            WHEN 'referral' THEN
                'count(*) FILTER (WHERE z.used) AS referrals, count(b.customer_id) FILTER (WHERE z.used) AS converted'
            WHEN 'engagement' THEN format(     -- (z.v is numeric: exact sums)
                'sum(z.v) FILTER (WHERE z.used AND z.t > %1$L::timestamptz) AS e30, '
                'sum(z.v) FILTER (WHERE z.used AND z.t > %2$L::timestamptz) AS e90, '
                'sum(z.v) FILTER (WHERE z.used AND z.t > %3$L::timestamptz AND z.t <= %2$L::timestamptz) AS eprev',
                d30, d90, d180)
            WHEN 'service' THEN format(
                'count(*) FILTER (WHERE z.used) AS contacts, '
                'count(*) FILTER (WHERE z.used AND (z.r IS NULL OR z.r > %1$L::timestamptz)) AS open, '
                'min(z.t) FILTER (WHERE z.used AND (z.r IS NULL OR z.r > %1$L::timestamptz)) AS oldest_open, '
                'sum(extract(epoch FROM z.r - z.t)::float8) FILTER (WHERE z.used AND z.r <= %1$L::timestamptz) AS res_seconds, '
                'count(*) FILTER (WHERE z.used AND z.r <= %1$L::timestamptz) AS resolved, '
                'count(*) FILTER (WHERE z.used AND z.r <= %1$L::timestamptz AND z.f) AS fcr_yes, '
                'count(*) FILTER (WHERE z.used AND z.r <= %1$L::timestamptz AND z.f IS NOT NULL) AS fcr_known',
                run_as_of)
            END;
        EXECUTE format($q$
            CREATE TEMP TABLE _hvc_signal_one ON COMMIT DROP AS
            SELECT z.c AS customer_id, count(*) AS n, count(*) FILTER (WHERE NOT z.valid) AS bad, %s
              FROM %s %s
             GROUP BY z.c$q$,
            measures, rows_from,
            CASE WHEN sig.kind = 'referral' AND sig.value IS NOT NULL
                 THEN 'LEFT JOIN (SELECT g.customer_id FROM pg_temp._hvc_stage g) b ON b.customer_id = z.v'
                 WHEN sig.kind = 'referral' THEN 'LEFT JOIN (SELECT NULL::integer AS customer_id) b ON false'
                 ELSE '' END);
        EXECUTE format('INSERT INTO pg_temp._hvc_signal_parts (customer_id, %s) SELECT customer_id, %1$s FROM pg_temp._hvc_signal_one WHERE customer_id IS NOT NULL',
                       CASE sig.kind WHEN 'nps' THEN 'nps'
                                     WHEN 'referral' THEN 'referrals, converted'
                                     WHEN 'engagement' THEN 'e30, e90, eprev'
                                     ELSE 'contacts, open, oldest_open, res_seconds, resolved, fcr_yes, fcr_known' END);
    END IF;
    SELECT coalesce(sum(o.n), 0), coalesce(sum(o.bad), 0)
      INTO rows_read, rows_skipped
      FROM pg_temp._hvc_signal_one o;
    DROP TABLE pg_temp._hvc_signal_one;
END $$;
COMMENT ON FUNCTION hvc._read_signal(hvc.signal, text, timestamptz) IS
    'Internal: reads one registered signal in one GROUP BY pass (attributes into pg_temp._hvc_signal_attrs, the others into pg_temp._hvc_signal_parts); returns the rows read and skipped.';

-- Step 2b of a refresh (hvc._refresh_build), after the stage and before the
-- build: reads every registered signal exactly once into temp tables that
-- live until the end of the refresh's transaction:
--   _hvc_signal_sum   (customer_id, nps, referrals, converted, e30, e90,
--                      eprev, contacts, open, oldest_open, res_seconds,
--                      resolved, fcr_yes, fcr_known): one row per customer
--                      with a row in any signal but an attribute
--   _hvc_signal_attrs (customer_id, name, value_numeric, value_text,
--                      observed_at): the latest value of each attribute
--   _hvc_signal_read  (name, rows_read, rows_skipped), in name order
-- The value score (hvc._score_prepare) takes its signal criteria from them
-- and the signal step after the build (hvc._refresh_signals) stores them.
CREATE OR REPLACE FUNCTION hvc._read_signals(run_as_of timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tz text;
    key_type regtype;
    sig hvc.signal;
    got record;
    t text;
BEGIN
    IF run_as_of IS NULL THEN
        RAISE EXCEPTION 'hvc: _read_signals needs as_of' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_regclass('pg_temp._hvc_stage') IS NULL THEN
        RAISE EXCEPTION 'hvc: _read_signals runs inside a refresh, after its stage is built'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT c.timezone INTO tz FROM hvc.config c;
    SELECT hvc._base_type(s.customer_type::regtype) INTO key_type FROM hvc.source s;
    FOREACH t IN ARRAY ARRAY['_hvc_signal_parts', '_hvc_signal_attrs', '_hvc_signal_read', '_hvc_signal_sum'] LOOP
        IF to_regclass('pg_temp.' || t) IS NOT NULL THEN   -- refresh_now may run twice in one transaction
            EXECUTE format('DROP TABLE pg_temp.%I', t);
        END IF;
    END LOOP;
    EXECUTE format($ddl$
        CREATE TEMP TABLE _hvc_signal_parts (
            customer_id %s, nps float8[], referrals bigint, converted bigint,
            e30 numeric, e90 numeric, eprev numeric, contacts bigint, open bigint,
            oldest_open timestamptz, res_seconds float8, resolved bigint, fcr_yes bigint, fcr_known bigint
        ) ON COMMIT DROP$ddl$, key_type);
    EXECUTE format($ddl$
        CREATE TEMP TABLE _hvc_signal_attrs (
            customer_id %s, name text, value_numeric float8, value_text text, observed_at timestamptz
        ) ON COMMIT DROP$ddl$, key_type);
    CREATE TEMP TABLE _hvc_signal_read (name text, rows_read bigint, rows_skipped bigint) ON COMMIT DROP;

    FOR sig IN SELECT * FROM hvc.signal s ORDER BY s.name LOOP
        IF to_regclass(sig.relation) IS NULL THEN
            RAISE EXCEPTION 'hvc: the table of signal % (%) no longer exists', sig.name, sig.relation
                USING ERRCODE = 'undefined_table',
                      HINT = format('Register it again, or SELECT hvc.unregister_signal(%L);', sig.name);
        END IF;
        IF hvc._check_signal(sig.relation::regclass, sig.kind, sig.customer, sig.observed_at, sig.value,
                             sig.resolved_at, sig.first_contact_resolved) IS DISTINCT FROM sig.value_type THEN
            RAISE EXCEPTION 'hvc: the value column of attribute signal % changed type since registration', sig.name
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Register the signal again: SELECT hvc.register_signal(...).';
        END IF;
        got := hvc._read_signal(sig, tz, run_as_of);
        INSERT INTO pg_temp._hvc_signal_read VALUES (sig.name, got.rows_read, got.rows_skipped);
    END LOOP;

    CREATE TEMP TABLE _hvc_signal_sum ON COMMIT DROP AS
    SELECT p.customer_id, max(p.nps) AS nps,   -- at most one nps signal
           sum(p.referrals) AS referrals, sum(p.converted) AS converted,
           sum(p.e30) AS e30, sum(p.e90) AS e90, sum(p.eprev) AS eprev,
           sum(p.contacts) AS contacts, sum(p.open) AS open, min(p.oldest_open) AS oldest_open,
           sum(p.res_seconds) AS res_seconds, sum(p.resolved) AS resolved,
           sum(p.fcr_yes) AS fcr_yes, sum(p.fcr_known) AS fcr_known
      FROM pg_temp._hvc_signal_parts p
     GROUP BY p.customer_id;
    DROP TABLE pg_temp._hvc_signal_parts;
    -- statistics, so the joins of the score and the signal step are hash
    -- joins (without them the planner takes these temp tables for tiny and
    -- may loop over them)
    ANALYZE pg_temp._hvc_signal_sum;
    ANALYZE pg_temp._hvc_signal_attrs;
END $$;
COMMENT ON FUNCTION hvc._read_signals(timestamptz) IS
    'Internal: step of a refresh before the build: reads every registered signal exactly once (hvc._read_signal) into the temp tables _hvc_signal_sum, _hvc_signal_attrs and _hvc_signal_read, which the value score and hvc._refresh_signals use.';

-- Called by hvc._refresh_build once the new snapshot rows (refresh_id = id)
-- are written and before the old ones are deleted: records what
-- hvc._read_signals read, computes profiles (hvc._profile_hits,
-- 73_profiles.sql) and at-risk reasons, writes the stores for refresh id
-- (for the customers of the new snapshot) and deletes their older rows, in
-- the refresh's transaction.  Returns a summary for the refresh message
-- (NULL when there is nothing to read).
CREATE OR REPLACE FUNCTION hvc._refresh_signals(id bigint, run_as_of timestamptz) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET extra_float_digits = 1 AS $$
DECLARE
    thresholds hvc.signal_settings;
    notes text[];
    skipped_notes text[];
    open_reason text;
BEGIN
    IF id IS NULL OR run_as_of IS NULL THEN
        RAISE EXCEPTION 'hvc: _refresh_signals needs a refresh id and as_of' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO thresholds FROM hvc.signal_settings;
    IF thresholds IS NULL THEN
        RAISE EXCEPTION 'hvc: hvc.signal_settings has no row'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'INSERT INTO hvc.signal_settings DEFAULT VALUES;';
    END IF;
    IF to_regclass('hvc.customer_signal_store') IS NULL OR to_regclass('hvc.customer_attribute_store') IS NULL THEN
        RAISE EXCEPTION 'hvc: the signal stores are missing'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register the sales table again (hvc.register_source) to recreate them.';
    END IF;
    IF to_regclass('pg_temp._hvc_signal_sum') IS NULL OR to_regclass('pg_temp._hvc_signal_attrs') IS NULL
       OR to_regclass('pg_temp._hvc_signal_read') IS NULL THEN
        RAISE EXCEPTION 'hvc: _refresh_signals runs inside a refresh, after hvc._read_signals'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    DELETE FROM hvc.customer_attribute_store WHERE refresh_id = id;
    DELETE FROM hvc.customer_signal_store WHERE refresh_id = id;
    -- nothing to store without a signal, unless an early_adopter rule can
    -- match (it reads the sales source); the NOTICE about rules that can
    -- never match still comes
    IF NOT EXISTS (SELECT 1 FROM hvc.signal)
       AND NOT (EXISTS (SELECT 1 FROM hvc.profile_rules r WHERE r.kind = 'early_adopter')
                AND EXISTS (SELECT 1 FROM hvc.source s WHERE s.product IS NOT NULL)) THEN
        PERFORM hvc._notice_unreachable_profile_rules();
        DELETE FROM hvc.customer_attribute_store;
        DELETE FROM hvc.customer_signal_store;
        DROP TABLE pg_temp._hvc_signal_sum, pg_temp._hvc_signal_attrs, pg_temp._hvc_signal_read;
        RETURN NULL;
    END IF;

    UPDATE hvc.signal s SET last_refresh_id = id, rows_read = r.rows_read, rows_skipped = r.rows_skipped
      FROM pg_temp._hvc_signal_read r WHERE r.name = s.name;
    SELECT coalesce(array_agg(format('%s %s rows (%s skipped)', r.name, r.rows_read, r.rows_skipped) ORDER BY r.name), '{}'),
           coalesce(array_agg(format('%s: %s of %s', r.name, r.rows_skipped, r.rows_read) ORDER BY r.name)
                        FILTER (WHERE r.rows_skipped > 0), '{}')
      INTO notes, skipped_notes
      FROM pg_temp._hvc_signal_read r;
    IF cardinality(skipped_notes) > 0 THEN
        RAISE NOTICE 'hvc: signal rows skipped (%)', array_to_string(skipped_notes, '; ')
            USING DETAIL = 'A NULL customer key or time, an NPS score that is not a whole number from 0 to 10, a NULL, negative or infinite engagement weight, a contact resolved before it was opened, or a NULL attribute value; counted in hvc.signal.rows_skipped.',
                  HINT = 'Fix the rows, or register a view that leaves them out.';
    END IF;

    -- attributes are stored for the customers of the new snapshot
    INSERT INTO hvc.customer_attribute_store (customer_id, refresh_id, name, value_numeric, value_text, observed_at)
    SELECT a.customer_id, id, a.name, a.value_numeric, a.value_text, a.observed_at
      FROM pg_temp._hvc_signal_attrs a
     WHERE EXISTS (SELECT 1 FROM hvc.customer_snapshot s WHERE s.customer_id = a.customer_id AND s.refresh_id = id);

    PERFORM hvc._profile_hits(id, run_as_of);      -- _hvc_profile_hits (73_profiles.sql)
    IF to_regclass('pg_temp._hvc_profile_lists') IS NOT NULL THEN
        DROP TABLE pg_temp._hvc_profile_lists;
    END IF;
    -- (array_agg over rows sorted by priority, not array_agg(... ORDER BY):
    -- an ordered aggregate keeps a sort per customer, which a hash
    -- aggregate over hundreds of thousands of customers makes crawl)
    CREATE TEMP TABLE _hvc_profile_lists ON COMMIT DROP AS
    SELECT h.customer_id, array_agg(h.profile) AS profiles
      FROM (SELECT x.customer_id, x.profile FROM pg_temp._hvc_profile_hits x
             ORDER BY x.customer_id, x.priority) h
     GROUP BY h.customer_id;
    ANALYZE pg_temp._hvc_profile_lists;

    open_reason := format('open_contact_over_%s_days', thresholds.open_contact_days);
    INSERT INTO hvc.customer_signal_store
        (customer_id, refresh_id, nps_score, nps_at, referrals, converted_referrals,
         engagement_30d, engagement_90d, engagement_prev_90d, service_contacts, open_contacts,
         oldest_open_contact_days, mean_resolution_hours, first_contact_resolution_rate,
         profiles, at_risk_reasons)
    SELECT s.customer_id, id, g.nps[2]::integer,
           '2000-01-01 00:00:00+00'::timestamptz + g.nps[1] * interval '1 microsecond',
           coalesce(g.referrals, 0), coalesce(g.converted, 0),
           e.e30, e.e90, e.eprev,
           coalesce(g.contacts, 0), coalesce(g.open, 0),
           floor(extract(epoch FROM run_as_of - g.oldest_open) / 86400)::integer,
           g.res_seconds / nullif(g.resolved, 0) / 3600,
           g.fcr_yes::float8 / nullif(g.fcr_known, 0),
           coalesce(p.profiles, '{}'),
           array_remove(ARRAY[
               CASE WHEN e.eprev > 0 AND e.e90 < thresholds.engagement_drop * e.eprev THEN 'engagement_falling' END,
               CASE WHEN g.nps[2] <= 6 THEN 'detractor' END,
               CASE WHEN g.oldest_open < run_as_of - thresholds.open_contact_days * interval '24 hours' THEN open_reason END],
               NULL)
      FROM hvc.customer_snapshot s
      LEFT JOIN pg_temp._hvc_signal_sum g ON g.customer_id = s.customer_id
      LEFT JOIN pg_temp._hvc_profile_lists p ON p.customer_id = s.customer_id
      -- the engagement stored and judged: 0 without events in a window (a
      -- fall to none in the last 90 days is engagement_falling)
     CROSS JOIN LATERAL (SELECT coalesce(g.e30, 0) AS e30, coalesce(g.e90, 0) AS e90,
                                coalesce(g.eprev, 0) AS eprev) e
     WHERE s.refresh_id = id;
    DROP TABLE pg_temp._hvc_profile_hits;
    DROP TABLE pg_temp._hvc_profile_lists;
    DROP TABLE pg_temp._hvc_signal_sum, pg_temp._hvc_signal_attrs, pg_temp._hvc_signal_read;

    -- swapped with the snapshot: the older rows go in the same transaction
    DELETE FROM hvc.customer_signal_store WHERE refresh_id <> id;
    DELETE FROM hvc.customer_attribute_store WHERE refresh_id <> id;
    RETURN nullif(array_to_string(notes, ', '), '');
END $$;
COMMENT ON FUNCTION hvc._refresh_signals(bigint, timestamptz) IS
    'Internal: the signal step of a refresh (after the new snapshot rows are written, before the swap): records the rows hvc._read_signals read, computes profiles and at-risk reasons, and replaces the stored signal rows with those of this refresh (customers of the new snapshot); returns a summary of the rows read.';
