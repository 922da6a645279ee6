-- The summary aggregate runs in parallel (partial states serialised by the
-- workers, combined by the leader) and gives exactly the serial results.
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
CREATE TABLE par_sales AS
SELECT (hashint4(i) & 4095) AS customer_id,
       date '2023-01-01' + (abs(hashint4(i * 7)) % 900) AS ordered_at,
       ((abs(hashint4(i * 13)) % 100000) / 100.0 - 30)::numeric(10,2) AS amount,
       ((abs(hashint4(i * 17)) % 5000) / 100.0)::numeric(10,2) AS margin,
       (i / 3) AS order_id
  FROM generate_series(1, 200000) i;
ANALYZE par_sales;

CREATE VIEW par_summary AS
SELECT customer_id,
       hvc.customer_summary(ordered_at, amount, margin, order_id, '2025-06-01'::timestamp, 'UTC') AS s
  FROM par_sales GROUP BY customer_id;

SET max_parallel_workers_per_gather = 0;
CREATE TABLE serial_result AS SELECT customer_id, s::text AS s FROM par_summary;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF) SELECT * FROM par_summary;
CREATE TABLE parallel_sorted AS SELECT customer_id, s::text AS s FROM par_summary;
SET enable_hashagg = on;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT * FROM par_summary;
CREATE TABLE parallel_hashed AS SELECT customer_id, s::text AS s FROM par_summary;
RESET enable_sort;

SELECT (SELECT count(*) FROM serial_result) AS customers,
       (SELECT count(*) FROM serial_result s FULL JOIN parallel_sorted p USING (customer_id)
         WHERE s.s IS DISTINCT FROM p.s) AS sorted_differences,
       (SELECT count(*) FROM serial_result s FULL JOIN parallel_hashed p USING (customer_id)
         WHERE s.s IS DISTINCT FROM p.s) AS hashed_differences;
-- The serialised states themselves (every purchase day and order key) are
-- the same however the rows were split and merged: rows in time order (the
-- partial states' sets arrive sorted and are merged in order), shuffled,
-- and with text order ids (hashed keys, in no order).
CREATE VIEW par_states AS
SELECT customer_id,
       hvc.customer_state(ordered_at, amount, margin, order_id, '2025-06-01'::timestamp, 'UTC') AS s,
       hvc.customer_state(ordered_at, amount, margin, 'o' || order_id, '2025-06-01'::timestamp, 'UTC') AS t
  FROM par_sales GROUP BY customer_id;
CREATE TABLE par_sales_ordered AS SELECT * FROM par_sales ORDER BY ordered_at, order_id;
CREATE VIEW par_states_ordered AS
SELECT customer_id,
       hvc.customer_state(ordered_at, amount, margin, order_id, '2025-06-01'::timestamp, 'UTC') AS s,
       hvc.customer_state(ordered_at, amount, margin, 'o' || order_id, '2025-06-01'::timestamp, 'UTC') AS t
  FROM par_sales_ordered GROUP BY customer_id;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE states_serial AS SELECT * FROM par_states;
SET max_parallel_workers_per_gather = 2;
SET enable_hashagg = off;
CREATE TABLE states_sorted AS SELECT * FROM par_states;
CREATE TABLE states_ordered_sorted AS SELECT * FROM par_states_ordered;
SET enable_hashagg = on;
SET enable_sort = off;
CREATE TABLE states_hashed AS SELECT * FROM par_states;
CREATE TABLE states_ordered_hashed AS SELECT * FROM par_states_ordered;
RESET enable_sort;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE x.s IS DISTINCT FROM y.s OR x.t IS DISTINCT FROM y.t) AS sorted_differences,
       count(*) FILTER (WHERE x.s IS DISTINCT FROM z.s OR x.t IS DISTINCT FROM z.t) AS hashed_differences,
       count(*) FILTER (WHERE x.s IS DISTINCT FROM u.s OR x.t IS DISTINCT FROM u.t) AS ordered_sorted_differences,
       count(*) FILTER (WHERE x.s IS DISTINCT FROM v.s OR x.t IS DISTINCT FROM v.t) AS ordered_hashed_differences
  FROM states_serial x
  FULL JOIN states_sorted y USING (customer_id)
  FULL JOIN states_hashed z USING (customer_id)
  FULL JOIN states_ordered_sorted u USING (customer_id)
  FULL JOIN states_ordered_hashed v USING (customer_id);
-- merging two states in order, overlapping days and orders counted once:
-- days {Jan 1, 3, 5} and {Jan 2, 3, 6}, orders {1, 3} and {2, 3}
SELECT (hvc.customer_state_summary(hvc._state_merge(a.s, b.s))).*
  FROM (SELECT hvc.customer_state(d, 10, NULL::numeric, o, '2025-06-01'::timestamp, 'UTC') AS s
          FROM (VALUES (date '2025-01-01', 1), (date '2025-01-03', 3), (date '2025-01-05', 3)) v(d, o)) a,
       (SELECT hvc.customer_state(d, 10, NULL::numeric, o, '2025-06-01'::timestamp, 'UTC') AS s
          FROM (VALUES (date '2025-01-02', 2), (date '2025-01-03', 3), (date '2025-01-06', 2)) v(d, o)) b;
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 2;
-- A hashed combine holds its groups' merged states within work_mem (it
-- spills the rest): the partial states it reads are freed with their input
-- rows.  Until stop 38 they stayed in the aggregate's memory to the end,
-- those of the spilled rows too (here 32 MB at any work_mem).
CREATE TABLE par_many AS
SELECT i % 50000 AS customer_id, date '2024-01-01' + (i % 300) AS ordered_at,
       10.0 AS amount, NULL::numeric AS margin, i AS order_id
  FROM generate_series(1, 200000) i;
ANALYZE par_many;
SET work_mem = '256kB';
SET enable_sort = off;
CREATE FUNCTION pg_temp.hashed_combine() RETURNS TABLE (node text, peak_under_4mb boolean, spilled boolean)
LANGUAGE plpgsql AS $$
DECLARE
    j json;
BEGIN
    EXECUTE $q$EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON)
        SELECT customer_id, hvc.customer_state(ordered_at, amount, margin, order_id, '2025-06-01'::timestamp, 'UTC')
          FROM par_many GROUP BY customer_id$q$ INTO j;
    RETURN QUERY SELECT (j -> 0 -> 'Plan' ->> 'Partial Mode') || ' ' || (j -> 0 -> 'Plan' ->> 'Strategy'),
                        (j -> 0 -> 'Plan' ->> 'Peak Memory Usage')::bigint < 4096,
                        (j -> 0 -> 'Plan' ->> 'HashAgg Batches')::int > 1;
END $$;
SELECT * FROM pg_temp.hashed_combine();
RESET enable_sort;
RESET work_mem;
-- and the whole refresh agrees with a serial one
SELECT hvc.register_source('public.par_sales', 'customer_id', 'ordered_at', 'amount', 'margin', 'order_id');
UPDATE hvc.config SET model = 'none';
CALL hvc.refresh(as_of => '2025-06-01');
-- again, over the first snapshot: the builder's join to the old rows may
-- read them in parallel workers (a Gather under its hash)
CALL hvc.refresh(as_of => '2025-06-01');
CREATE TABLE par_customers AS SELECT * FROM hvc.customers;
SET max_parallel_workers_per_gather = 0;
CALL hvc.refresh(as_of => '2025-06-01');
SELECT count(*) AS customers,
       (SELECT count(*) FROM (SELECT * FROM par_customers EXCEPT SELECT * FROM hvc.customers) d) AS differences
  FROM hvc.customers;
-- spot-check one customer against plain SQL
SELECT c.orders = q.orders AS orders_ok, c.revenue = q.revenue AS revenue_ok,
       c.purchase_days = q.days AS days_ok, c.margin = q.margin AS margin_ok
  FROM hvc.customers c,
       (SELECT count(DISTINCT order_id) FILTER (WHERE amount >= 0) AS orders, sum(amount) AS revenue,
               count(DISTINCT ordered_at) FILTER (WHERE amount >= 0) AS days, sum(margin) AS margin
          FROM par_sales WHERE customer_id = 7 AND ordered_at <= '2025-06-01') q
 WHERE c.customer_id = 7;
