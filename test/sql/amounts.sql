-- Amounts are exact ten-thousandths.  The numeric decoder (src/amount.c)
-- must agree with round(amount, 4) for every scale, weight and sign.
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never
CREATE FUNCTION amount_of(v anyelement) RETURNS numeric LANGUAGE sql AS $$
    SELECT (hvc.customer_summary(date '2020-01-01', v, NULL::numeric, NULL::int,
                                 '2030-01-01'::timestamp, 'UTC')).revenue
$$;
CREATE TABLE amounts AS
SELECT (sign * mantissa * 10::numeric ^ e)::numeric AS v
  FROM unnest(ARRAY[1, -1]) sign,
       unnest(ARRAY[1, 7, 12345, 99999999, 123456789012345678, 5, 50, 49999, 500001]::numeric[]) mantissa,
       generate_series(-22, 3) e;
INSERT INTO amounts VALUES (0), (-0.0), (0.00005), (-0.00005), (0.000049999), (0.99995),
    (9999999999999.9999), (-9999999999999.9999), (0.1), (0.2), (123.45), (1e-30), (12e8);
-- only values below the row limit of 10^13
DELETE FROM amounts WHERE abs(v) >= 1e13;
SELECT count(*) AS values_checked,
       count(*) FILTER (WHERE amount_of(v) IS DISTINCT FROM round(v, 4)) AS mismatches
  FROM amounts;
-- rounding is half away from zero, like numeric's round()
SELECT v, amount_of(v) FROM (VALUES (0.00005), (-0.00005), (0.00004999), (1.23456789)) t(v);
-- other source types
SELECT amount_of(12::smallint) AS int2, amount_of(-7::int) AS int4, amount_of(9000000000::bigint) AS int8,
       amount_of(0.1::real) AS float4, amount_of(0.1::float8 + 0.2::float8) AS float8;
-- sums are exact whatever the order (0.1 + 0.2 = 0.3 exactly)
SELECT (hvc.customer_summary(date '2020-01-01', a, NULL::numeric, NULL::int, '2030-01-01'::timestamp, 'UTC')).revenue
  FROM (VALUES (0.1::float8), (0.2::float8), (-0.3::float8)) t(a);
-- out of range and not-a-number
\set ON_ERROR_STOP 0
SELECT amount_of(1e13);
SELECT amount_of(-1e13::float8);
SELECT amount_of(9223372036854775807::bigint);
\set ON_ERROR_STOP 1
SELECT (hvc.customer_summary(date '2020-01-01', a, NULL::numeric, NULL::int, '2030-01-01'::timestamp, 'UTC')).rows_skipped
  FROM (VALUES ('NaN'::numeric), ('Infinity'), ('-Infinity'), (1)) t(a);
