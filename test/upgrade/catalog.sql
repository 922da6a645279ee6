-- test/upgrade/catalog.sql — a text dump of hvc's catalog, one fact a line,
-- sorted, with names instead of OIDs, so two databases (an upgraded one and a
-- fresh install) can be compared with diff.  Covers everything in schema hvc
-- (extension members and the objects register_source creates at run time):
-- functions, procedures, aggregates, types, tables, views, sequences,
-- columns, constraints, indexes, triggers, policies, ACLs (and the initial
-- privileges pg_dump uses), comments, the extension's config-dump entries,
-- its members, and the rows of the settings tables.
-- Run with psql -X -A -t.
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = 'hvc'),
ext AS (SELECT * FROM pg_extension WHERE extname = 'hvc'),
rel AS (
    SELECT c.oid, c.relname, c.relkind, c.relacl, c.reloptions, c.relpersistence, c.relrowsecurity,
           c.relforcerowsecurity,
           CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                          WHEN 'm' THEN 'matview' WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index'
                          WHEN 'c' THEN 'composite' ELSE c.relkind::text END || ' hvc.' || c.relname AS tag
      FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM ns)),
fn AS (
    SELECT p.*, CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
                               WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window' END
                || ' ' || p.oid::regprocedure::text AS tag
      FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns)),
lines(line) AS (
    -- the extension itself
    SELECT format('extension hvc: version %s, relocatable %s, schema %s', e.extversion, e.extrelocatable,
                  e.extnamespace::regnamespace) FROM ext e
    UNION ALL
    SELECT format('extension hvc: comment %s', obj_description(e.oid, 'pg_extension')) FROM ext e
    UNION ALL
    SELECT format('extension hvc: config dump %s where %L', c.cfg::regclass, e.extcondition[c.i])
      FROM ext e, unnest(e.extconfig) WITH ORDINALITY AS c(cfg, i)
    UNION ALL
    SELECT 'extension hvc: member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
      FROM pg_depend d, ext e
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid AND d.deptype = 'e'
    UNION ALL
    -- the schema
    SELECT format('schema hvc: owner %s, acl %s, comment %s', n.nspowner::regrole, n.nspacl,
                  obj_description(n.oid, 'pg_namespace'))
      FROM pg_namespace n WHERE n.oid = (SELECT oid FROM ns)
    UNION ALL
    -- functions, procedures, aggregates
    SELECT format('%s: returns %s%s, language %s, %s, strict %s, parallel %s, security definer %s, leakproof %s, cost %s, rows %s',
                  f.tag, CASE WHEN f.proretset THEN 'setof ' ELSE '' END, f.prorettype::regtype,
                  l.lanname,
                  CASE f.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,
                  f.proisstrict, f.proparallel, f.prosecdef, f.proleakproof, f.procost, f.prorows)
      FROM fn f JOIN pg_language l ON l.oid = f.prolang
    UNION ALL
    SELECT format('%s: arguments (%s)', f.tag, pg_get_function_arguments(f.oid)) FROM fn f
    UNION ALL
    SELECT format('%s: result %s', f.tag, pg_get_function_result(f.oid)) FROM fn f WHERE f.prokind <> 'p'
    UNION ALL
    SELECT format('%s: %s', f.tag,
                  CASE WHEN l.lanname = 'c' THEN format('C symbol %s in %s', f.prosrc, f.probin)
                       WHEN f.prokind = 'a' THEN 'aggregate'
                       ELSE format('body md5 %s (%s lines)', md5(f.prosrc),
                                   array_length(string_to_array(f.prosrc, E'\n'), 1)) END)
      FROM fn f JOIN pg_language l ON l.oid = f.prolang
    UNION ALL
    SELECT format('%s: config %s', f.tag, f.proconfig) FROM fn f WHERE f.proconfig IS NOT NULL
    UNION ALL
    SELECT format('%s: acl %s', f.tag, f.proacl) FROM fn f
    UNION ALL
    SELECT format('%s: comment %s', f.tag, obj_description(f.oid, 'pg_proc')) FROM fn f
    UNION ALL
    SELECT format('%s: transfn %s, finalfn %s, combinefn %s, serialfn %s, deserialfn %s, state %s, space %s, init %s, finalmodify %s, kind %s, moving %s',
                  f.tag, a.aggtransfn::regprocedure, nullif(a.aggfinalfn, 0)::regprocedure,
                  nullif(a.aggcombinefn, 0)::regprocedure, nullif(a.aggserialfn, 0)::regprocedure,
                  nullif(a.aggdeserialfn, 0)::regprocedure, a.aggtranstype::regtype, a.aggtransspace,
                  a.agginitval, a.aggfinalmodify, a.aggkind, nullif(a.aggmtransfn, 0)::regprocedure)
      FROM fn f JOIN pg_aggregate a ON a.aggfnoid = f.oid
    UNION ALL
    -- types (composite types list their attributes below, with the relations)
    SELECT format('type %s: %s%s, comment %s', t.oid::regtype,
                  CASE t.typtype WHEN 'c' THEN 'composite' WHEN 'd' THEN 'domain over ' || format_type(t.typbasetype, t.typtypmod)
                                 WHEN 'e' THEN 'enum' WHEN 'b' THEN 'base' ELSE t.typtype::text END,
                  CASE WHEN t.typtype = 'e' THEN ' (' || (SELECT string_agg(en.enumlabel, ', ' ORDER BY en.enumsortorder)
                                                           FROM pg_enum en WHERE en.enumtypid = t.oid) || ')' ELSE '' END,
                  obj_description(t.oid, 'pg_type'))
      FROM pg_type t
     WHERE t.typnamespace = (SELECT oid FROM ns) AND t.typelem = 0
       AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
    UNION ALL
    -- relations
    SELECT format('%s: persistence %s, options %s, row security %s/%s, acl %s, comment %s', r.tag,
                  r.relpersistence, r.reloptions, r.relrowsecurity, r.relforcerowsecurity, r.relacl,
                  obj_description(r.oid, 'pg_class'))
      FROM rel r WHERE r.relkind <> 'i'
    UNION ALL
    -- columns, numbered among the live ones (order matters: SELECT *, INSERT ... SELECT *)
    SELECT format('%s: column %s %s %s%s%s%s%s, comment %s', r.tag,
                  row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum), a.attname,
                  format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                  CASE WHEN a.atthasdef THEN ' default ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END,
                  CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END,
                  CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT t.typcollation FROM pg_type t WHERE t.oid = a.atttypid)
                       THEN ' collate ' || a.attcollation::regcollation ELSE '' END,
                  col_description(r.oid, a.attnum))
      FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
     WHERE r.relkind <> 'i'
    UNION ALL
    SELECT format('%s: column acl %s %s', r.tag, a.attname, a.attacl)
      FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE a.attacl IS NOT NULL
    UNION ALL
    SELECT format('%s: constraint %s %s', r.tag, co.conname, pg_get_constraintdef(co.oid))
      FROM rel r JOIN pg_constraint co ON co.conrelid = r.oid
    UNION ALL
    SELECT format('%s: constraint %s %s', t.oid::regtype, co.conname, pg_get_constraintdef(co.oid))
      FROM pg_type t JOIN pg_constraint co ON co.contypid = t.oid
     WHERE t.typnamespace = (SELECT oid FROM ns)
    UNION ALL
    SELECT format('%s: index %s', r.tag, pg_get_indexdef(i.indexrelid))
      FROM rel r JOIN pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT format('%s: trigger %s', r.tag, pg_get_triggerdef(tg.oid))
      FROM rel r JOIN pg_trigger tg ON tg.tgrelid = r.oid AND NOT tg.tgisinternal
    UNION ALL
    SELECT format('%s: rule %s', r.tag, pg_get_ruledef(ru.oid))
      FROM rel r JOIN pg_rewrite ru ON ru.ev_class = r.oid AND ru.rulename <> '_RETURN'
    UNION ALL
    SELECT format('%s: policy %s %s', r.tag, po.polname, po.polcmd)
      FROM rel r JOIN pg_policy po ON po.polrelid = r.oid
    UNION ALL
    -- views: the definition's md5, and its lines (sorted with everything
    -- else, so a diff shows the lines that differ, not a renumbering)
    SELECT format('%s: definition md5 %s', r.tag, md5(pg_get_viewdef(r.oid, true)))
      FROM rel r WHERE r.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('%s: definition line: %s', r.tag, btrim(v.l))
      FROM rel r, unnest(string_to_array(pg_get_viewdef(r.oid, true), E'\n')) AS v(l)
     WHERE r.relkind IN ('v', 'm')
    UNION ALL
    -- sequences and what owns them
    SELECT format('%s: %s start %s increment %s min %s max %s cache %s cycle %s, owned by %s', r.tag,
                  s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                  (SELECT pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid AND d.deptype IN ('a', 'i')
                      AND d.refclassid = 'pg_class'::regclass))
      FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid
    UNION ALL
    -- initial privileges (pg_dump compares the ACLs against them)
    SELECT format('init privs %s: %s (%s)', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid), ip.initprivs, ip.privtype)
      FROM pg_init_privs ip
     WHERE (ip.classoid = 'pg_proc'::regclass AND ip.objoid IN (SELECT oid FROM fn))
        OR (ip.classoid = 'pg_class'::regclass AND ip.objoid IN (SELECT oid FROM rel))
        OR (ip.classoid = 'pg_namespace'::regclass AND ip.objoid = (SELECT oid FROM ns))
        OR (ip.classoid = 'pg_type'::regclass AND ip.objoid IN (SELECT oid FROM pg_type WHERE typnamespace = (SELECT oid FROM ns)))
    UNION ALL
    -- event triggers, casts and operators of the extension are listed as members above
    -- the settings rows an install creates
    SELECT format('row hvc.config: %s = %s', e.key, e.value) FROM hvc.config c, jsonb_each(to_jsonb(c)) e
    UNION ALL
    SELECT 'row hvc.tier_rules: ' || row_to_json(t)::text FROM hvc.tier_rules t
    UNION ALL
    SELECT 'row hvc.rfm_segments: ' || row_to_json(s)::text FROM hvc.rfm_segments s
)
SELECT line FROM lines ORDER BY line COLLATE "C";
