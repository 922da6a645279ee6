-- Included by the tests that check a view's plan (\i, through pg_regress's
-- PG_ABS_SRCDIR): how often a pattern occurs in the JSON plan of query q (a
-- node type, a relation read).
CREATE FUNCTION pg_temp.plan_count(q text, pattern text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    p text;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || q INTO p;
    RETURN (SELECT count(*) FROM regexp_matches(p, pattern, 'g'));
END $$;
