-- test/upgrade/results.sql — what a refresh produced, in long form
-- (object, row key, column, value), for comparing two databases with a
-- tolerance on numbers.  Refresh ids and timestamps (which differ between two
-- runs of the same refresh) and the fit timings in messages are left out or
-- normalised.  Run with psql -X -A -t -F '|' (COPY the output, then compare
-- with test/upgrade/compare.sql).
WITH snap AS (SELECT refreshed_at FROM hvc.snapshot_info),
j(obj, k, doc) AS (
    SELECT 'hvc.customers', c.customer_id::text,
           to_jsonb(c) || jsonb_build_object('tier_since', c.tier_since = (SELECT refreshed_at FROM snap))
      FROM hvc.customers c
    UNION ALL
    SELECT 'hvc.tier_summary', t.tier, to_jsonb(t) FROM hvc.tier_summary t
    UNION ALL
    SELECT 'hvc.segment_summary', s.segment, to_jsonb(s) FROM hvc.segment_summary s
    UNION ALL
    SELECT 'hvc.pareto_curve', p.customer_percentile::text, to_jsonb(p) FROM hvc.pareto_curve p
    UNION ALL
    SELECT 'hvc.model_fit', f.model,
           to_jsonb(f) - 'fitted_at' - 'fit_id' - 'refresh_id'
             || jsonb_build_object('message', regexp_replace(f.message, 'in [0-9.]+ s', 'in _ s', 'g'))
      FROM hvc.model_fit f
     WHERE f.refresh_id = (SELECT i.refresh_id FROM hvc.snapshot_info i)
    UNION ALL
    SELECT 'hvc.snapshot_info', '', to_jsonb(i) - 'refresh_id' - 'refreshed_at' FROM hvc.snapshot_info i
    UNION ALL
    SELECT 'hvc.at_risk', a.customer_id::text, to_jsonb(a) FROM hvc.at_risk a
    UNION ALL
    SELECT 'hvc.value_profiles', v.customer_id::text, to_jsonb(v) FROM hvc.value_profiles v
    UNION ALL
    SELECT 'hvc.value_profile_summary', v.value_profile, to_jsonb(v) FROM hvc.value_profile_summary v
    UNION ALL
    SELECT 'hvc.tier_migration', concat_ws(' ', m.from_tier, m.to_tier, m.direction),
           jsonb_build_object('customers', sum(m.customers))
      FROM hvc.tier_migration m GROUP BY m.from_tier, m.to_tier, m.direction
)
SELECT j.obj, j.k, e.key, e.value #>> '{}'
  FROM j, jsonb_each(j.doc) e
 ORDER BY 1, 2, 3;
