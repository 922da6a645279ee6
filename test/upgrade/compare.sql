-- test/upgrade/compare.sql — compare two dumps of test/upgrade/results.sql,
-- loaded into the temp tables res_a (upgraded) and res_b (fresh install):
-- one line per difference (missing rows, missing columns, values that differ
-- as text and, if both are numbers, by more than 1e-9 relative).
SELECT coalesce(a.obj, b.obj) || ' [' || coalesce(a.k, b.k) || '] ' || coalesce(a.col, b.col) || ': '
       || CASE WHEN a.obj IS NULL THEN 'only in the fresh install: ' || coalesce(b.val, 'NULL')
               WHEN b.obj IS NULL THEN 'only in the upgraded database: ' || coalesce(a.val, 'NULL')
               ELSE 'upgraded ' || coalesce(a.val, 'NULL') || ' <> fresh ' || coalesce(b.val, 'NULL') END
  FROM res_a a
  FULL JOIN res_b b ON a.obj = b.obj AND a.k = b.k AND a.col = b.col
 WHERE a.obj IS NULL OR b.obj IS NULL
    OR (a.val IS DISTINCT FROM b.val
        AND NOT (a.val ~ '^-?[0-9.]+(e[-+]?[0-9]+)?$' AND b.val ~ '^-?[0-9.]+(e[-+]?[0-9]+)?$'
                 AND abs(a.val::numeric - b.val::numeric)
                     <= 1e-9 * greatest(1, abs(a.val::numeric), abs(b.val::numeric))))
 ORDER BY 1
 LIMIT 60;
