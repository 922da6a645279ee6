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
-- and the whole refresh agrees with a serial one
SELECT hvc.register_source('public.par_sales', 'customer_id', 'ordered_at', 'amount', 'margin', 'order_id');
UPDATE hvc.config SET model = 'none';
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
