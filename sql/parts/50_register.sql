-- ---------------------------------------------------------------------------
-- Registering the sales table, and the snapshot objects whose customer_id
-- takes the type of the source's customer column.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc._type_is_groupable(regtype) RETURNS boolean
AS 'MODULE_PATHNAME', 'hvc_type_is_groupable' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._type_is_groupable(regtype) IS
    'Internal: true when the type has hash and btree support (needed for customer keys).';

CREATE OR REPLACE FUNCTION hvc._prevent_transaction_block() RETURNS void
AS 'MODULE_PATHNAME', 'hvc_prevent_transaction_block' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hvc._prevent_transaction_block() IS
    'Internal: raises an error when called inside an explicit transaction block.';

CREATE OR REPLACE FUNCTION hvc._base_type(t regtype) RETURNS regtype
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog AS $$
    WITH RECURSIVE d(oid, base) AS (
        SELECT oid, typbasetype FROM pg_type WHERE oid = t
        UNION ALL
        SELECT p.oid, p.typbasetype FROM pg_type p JOIN d ON p.oid = d.base WHERE d.base <> 0
    )
    SELECT oid::regtype FROM d WHERE base = 0
$$;
COMMENT ON FUNCTION hvc._base_type(regtype) IS 'Internal: the type itself, or the base type of a domain.';

-- The type of column `col` of `rel`, or an error naming the role and the
-- columns that do exist.
CREATE OR REPLACE FUNCTION hvc._source_column_type(rel regclass, role text, col text) RETURNS regtype
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
    t regtype;
BEGIN
    IF col IS NULL OR col = '' THEN
        RAISE EXCEPTION 'hvc: the % column must be named', role
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Pass %s => ''<column of %s>''.', role, rel);
    END IF;
    SELECT a.atttypid::regtype INTO t
      FROM pg_attribute a
     WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF t IS NULL THEN
        RAISE EXCEPTION 'hvc: column "%" (%) does not exist in %', col, role, rel
            USING ERRCODE = 'undefined_column',
                  DETAIL = format('Columns of %s: %s.', rel,
                      (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
                         FROM pg_attribute
                        WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped)),
                  HINT = 'Column names are matched exactly (case-sensitive, without quotes).';
    END IF;
    RETURN t;
END $$;
COMMENT ON FUNCTION hvc._source_column_type(regclass, text, text) IS
    'Internal: type of a mapped source column; raises undefined_column listing the real columns.';

-- The relation a registration (register_source, register_signal) names must
-- exist and be something rows can be read from.
CREATE OR REPLACE FUNCTION hvc._check_relation(rel regclass, registrar text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kind "char";
BEGIN
    SELECT c.relkind INTO kind FROM pg_class c WHERE c.oid = rel;
    IF kind IS NULL THEN
        RAISE EXCEPTION 'hvc: relation with OID % does not exist', rel::oid
            USING ERRCODE = 'undefined_table',
                  HINT = format('Register an existing table or view with %s.', registrar);
    END IF;
    IF kind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
        RAISE EXCEPTION 'hvc: % is not a table, view or materialized view', rel
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Register a table, view, materialized view, partitioned or foreign table.';
    END IF;
END $$;
COMMENT ON FUNCTION hvc._check_relation(regclass, text) IS
    'Internal: a registered relation exists and is a table, view, materialized view, partitioned or foreign table (undefined_table, wrong_object_type; the hint names the registering function).';

-- Check a whole mapping; returns the customer type.  Used by register_source
-- and again by every refresh (the table may have changed since).
CREATE OR REPLACE FUNCTION hvc._check_source(rel regclass, customer text, ordered_at text, amount text,
                                  margin text, order_id text) RETURNS regtype
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
    t regtype;
    customer_type regtype;
BEGIN
    PERFORM hvc._check_relation(rel, 'hvc.register_source()');

    customer_type := hvc._source_column_type(rel, 'customer', customer);
    IF NOT hvc._type_is_groupable(customer_type) THEN
        RAISE EXCEPTION 'hvc: customer column "%" has type %, which cannot be hashed and sorted', customer, customer_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Use a key type such as integer, bigint, text or uuid, or register a view that casts the column (for example customer::text).';
    END IF;
    -- Keys are grouped with the type's own equality and the column's
    -- collation, but compared with pg_catalog's "=" and a deterministic
    -- collation in the snapshot, the history and hvc.priority(): keys that
    -- are "equal" without being identical (citext, a case-insensitive
    -- collation) would merge in one place and not in the other.
    IF EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
                WHERE a.attrelid = rel AND a.attname = customer AND NOT c.collisdeterministic)
       OR EXISTS (SELECT 1 FROM pg_operator o JOIN pg_type b ON b.oid = hvc._base_type(customer_type)
                   WHERE o.oprname = '=' AND o.oprleft = b.oid AND o.oprright = b.oid
                     AND o.oprnamespace <> 'pg_catalog'::regnamespace AND o.oprowner = b.typowner) THEN
        RAISE EXCEPTION 'hvc: customer column "%" (%) compares keys that are not identical as equal', customer, customer_type
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'Its type has its own equality (like citext) or its collation is nondeterministic (like a case-insensitive collation); hvc keeps keys apart unless they are identical.',
                  HINT = 'Register a view whose key is lower(customer::text) COLLATE "default" (case variants are one customer) or customer::text COLLATE "C" (they are different customers).';
    END IF;

    t := hvc._base_type(hvc._source_column_type(rel, 'ordered_at', ordered_at));
    IF t NOT IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype) THEN
        RAISE EXCEPTION 'hvc: ordered_at column "%" has type %, not date, timestamp or timestamptz', ordered_at, t
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Register a view that converts the column, for example to_date(col, ''YYYYMMDD'').';
    END IF;

    t := hvc._base_type(hvc._source_column_type(rel, 'amount', amount));
    IF t NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
                 'real'::regtype, 'double precision'::regtype) THEN
        RAISE EXCEPTION 'hvc: amount column "%" has type %, not numeric, integer or float', amount, t
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Register a view that casts the column, for example col::numeric (money: col::numeric).';
    END IF;

    IF margin IS NOT NULL THEN
        t := hvc._base_type(hvc._source_column_type(rel, 'margin', margin));
        IF t NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
                     'real'::regtype, 'double precision'::regtype) THEN
            RAISE EXCEPTION 'hvc: margin column "%" has type %, not numeric, integer or float', margin, t
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Register a view that casts the column to numeric, or leave margin NULL.';
        END IF;
    END IF;

    IF order_id IS NOT NULL THEN
        t := hvc._source_column_type(rel, 'order_id', order_id);
        IF NOT hvc._type_is_groupable(t) THEN
            RAISE EXCEPTION 'hvc: order_id column "%" has type %, which cannot be hashed', order_id, t
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Use a key type such as integer, bigint, text or uuid, or leave order_id NULL.';
        END IF;
    END IF;

    PERFORM hvc._citus_check_source(rel, customer);   -- sql/parts/95_citus.sql
    IF NOT has_table_privilege(rel, 'SELECT') THEN
        RAISE EXCEPTION 'hvc: permission denied to read %', rel
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('GRANT SELECT ON %s TO %I;', rel, current_user);
    END IF;
    RETURN customer_type;
END $$;
COMMENT ON FUNCTION hvc._check_source(regclass, text, text, text, text, text) IS
    'Internal: validates a source mapping (relation kind, columns, types, privilege) and returns the customer type.';

CREATE OR REPLACE FUNCTION hvc.register_source(source regclass, customer text, ordered_at text, amount text,
                                    margin text DEFAULT NULL, order_id text DEFAULT NULL,
                                    changed_at text DEFAULT NULL, track_changes text DEFAULT 'none',
                                    product text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    customer_type regtype;
    old_type text;
    old_relation text;
    rel_name text;
BEGIN
    IF source IS NULL THEN
        RAISE EXCEPTION 'hvc: source must not be NULL'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass source => ''schema.table''.';
    END IF;
    customer_type := hvc._check_source(source, customer, ordered_at, amount, margin, order_id);
    PERFORM hvc._check_tracking(source, changed_at, track_changes, product);   -- 62_incremental.sql
    SELECT format('%I.%I', n.nspname, c.relname) INTO rel_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source;

    -- A running refresh reads hvc.source and writes the snapshot objects:
    -- wait for it (NOTICE, lock_timeout honoured), and make later refreshes
    -- wait until this registration commits.
    PERFORM hvc._take_refresh_lock('register_source');

    SELECT s.customer_type, s.relation INTO old_type, old_relation FROM hvc.source s;
    DELETE FROM hvc.source;
    INSERT INTO hvc.source (relation, customer, ordered_at, amount, margin, order_id, customer_type,
                            changed_at, track_changes, product)
    VALUES (rel_name, customer, ordered_at, amount, margin, order_id, customer_type::text,
            changed_at, track_changes, product);

    -- Another table (or key type) starts a new history: the snapshot, tier
    -- history and alert state of the old source are dropped.  Re-registering
    -- the same table (say, to map a margin column) keeps them.
    IF old_type IS DISTINCT FROM customer_type::text
       OR old_relation IS DISTINCT FROM rel_name
       OR to_regclass('hvc.customer_snapshot') IS NULL
       OR hvc._citus_sharded() IS DISTINCT FROM hvc._citus_shards_snapshot() THEN
        PERFORM hvc._create_snapshot_objects(customer_type);
    END IF;
    -- stored states, change triggers, the next refresh full (62_incremental.sql)
    PERFORM hvc._setup_tracking(old_relation);
    RETURN format('hvc: registered %s (customer %I %s, ordered_at %I, amount %I, margin %s, order_id %s%s); run CALL hvc.refresh()',
                  rel_name, customer, customer_type, ordered_at, amount,
                  coalesce(quote_ident(margin), 'none'), coalesce(quote_ident(order_id), 'none'),
                  CASE WHEN track_changes = 'column' THEN format(', track_changes column on %I', changed_at)
                       WHEN track_changes = 'trigger' THEN ', track_changes trigger' ELSE '' END);
END $$;
COMMENT ON FUNCTION hvc.register_source(regclass, text, text, text, text, text, text, text, text) IS
    'Point hvc at a sales table (table, view or materialized view): customer (hashable type), ordered_at (date/timestamp/timestamptz), amount (numeric/integer/float; negative = refund), optional margin and order_id. track_changes: none (default: every refresh reads the whole source), column (incremental refresh from the rows whose changed_at, a timestamptz column, moved past the last refresh) or trigger (hvc adds statement triggers that record changed keys; table owner only). product: a product column, stored for signals. Replaces any earlier registration (the next refresh is full); bad mappings fail before anything changes.';

-- A text overload so a missing table gets hvc's error and hint instead of the
-- bare regclass cast error.  No SET search_path here on purpose: the name is
-- resolved with the caller's search_path, like a regclass literal would be;
-- the body calls only schema-qualified functions.
CREATE OR REPLACE FUNCTION hvc.register_source(source text, customer text, ordered_at text, amount text,
                                    margin text DEFAULT NULL, order_id text DEFAULT NULL,
                                    changed_at text DEFAULT NULL, track_changes text DEFAULT 'none',
                                    product text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    rel pg_catalog.regclass;
BEGIN
    rel := pg_catalog.to_regclass(source);
    IF rel IS NULL THEN
        RAISE EXCEPTION 'hvc: relation "%" does not exist', source
            USING ERRCODE = 'undefined_table',
                  HINT = 'Give the table or view as schema.name (e.g. public.sales), or a name on your search_path; quote mixed-case names: ''public."Sales"''.';
    END IF;
    RETURN hvc.register_source(rel, customer, ordered_at, amount, margin, order_id,
                               changed_at, track_changes, product);
END $$;
COMMENT ON FUNCTION hvc.register_source(text, text, text, text, text, text, text, text, text) IS
    'Same as hvc.register_source(regclass, ...), for a table name given as text (resolved with the caller''s search_path); a missing table gets a clear error and hint.';
