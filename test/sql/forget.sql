-- hvc.forget_customer (issue 7, item 13): erase one customer from everything
-- hvc stores, say how many rows went, and never bring the customer back from
-- hvc's own copies.  Ten customers C1..C10 with text keys; C7 is the one to
-- forget.  Every count is worked out in the comments.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET timezone = 'UTC';
UPDATE hvc.config SET model = 'none', time_unit = 'day', value_basis = 'predicted_clv',
                      at_risk_threshold = 0.5, history_refreshes = 24, alert_payload = 'ids';
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules VALUES ('top', 1, 0.10, true), ('high', 2, 0.20, true),
                                  ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
SELECT coalesce(max(refresh_id), 0) AS base FROM hvc.refresh_log \gset

CREATE TABLE fo_raw (customer text, ordered_at date, amount numeric(10,2));
-- C7: 10 purchases of 500 every 10 days up to 2025-04-01 (5000; 91 days before
-- 2025-07-01, usually every 10: overdue).  C1: 4000 in 8 purchases every 10
-- days up to 2025-06-25.  C2..C6, C8..C10: 100 x k on 2025-06-01 and 2025-06-20.
INSERT INTO fo_raw
SELECT 'C7', date '2025-04-01' - 10 * k, 500 FROM generate_series(0, 9) k
UNION ALL
SELECT 'C1', date '2025-06-25' - 10 * k, 500 FROM generate_series(0, 7) k
UNION ALL
SELECT 'C' || c, d, 100 * c FROM unnest(ARRAY[2, 3, 4, 5, 6, 8, 9, 10]) c,
                               unnest(ARRAY[date '2025-06-01', date '2025-06-20']) d;
-- The registered source is a view; while fo_switch.broken it fails on C7's
-- rows with an error that quotes the key ("C7"), as a conversion error would.
CREATE TABLE fo_switch (broken boolean);
INSERT INTO fo_switch VALUES (false);
CREATE VIEW fo_sales AS
SELECT r.customer, r.ordered_at,
       r.amount + CASE WHEN s.broken AND r.customer = 'C7' THEN r.customer::integer ELSE 0 END AS amount
  FROM fo_raw r CROSS JOIN fo_switch s;
SELECT hvc.register_source('public.fo_sales', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;

-- Refresh 1 (as of 2025-07-01): C7 ranks 1 (top), at risk and newly so:
-- one newly_at_risk alert with ["C7"] in sample_ids and in the payload.
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, tier, value_rank FROM hvc.customers WHERE customer_id IN ('C1', 'C7') ORDER BY 1;
SELECT customer_id FROM hvc.at_risk;
-- Refresh 2 (as of 2025-07-10): C1 buys 3000 on 2025-07-05 (7000) and ranks 1;
-- C7 falls to rank 2 (top -> high, a high-value drop: one tier_history row and
-- a tier_drop alert with ["C7"]; the payload of refresh 2, stored in its
-- alert row, lists C7 under tier_drop_ids).  C7 stays at risk, not newly.
INSERT INTO fo_raw VALUES ('C1', '2025-07-05', 3000);
CALL hvc.refresh(as_of => '2025-07-10');
SELECT customer_id, tier, value_rank FROM hvc.customers WHERE customer_id IN ('C1', 'C7') ORDER BY 1;
SELECT refresh_id - :base AS refresh, customer_id, from_tier, to_tier, direction
  FROM hvc.tier_history ORDER BY refresh_id, customer_id;
SELECT refresh_id - :base AS refresh, kind, sample_ids,
       payload::jsonb -> 'newly_at_risk_ids' AS payload_new, payload::jsonb -> 'tier_drop_ids' AS payload_drops
  FROM hvc.alerts WHERE refresh_id > :base ORDER BY alert_id;
-- Refresh 3 fails, and its message quotes C7's key.
UPDATE fo_switch SET broken = true;
\set VERBOSITY sqlstate
CALL hvc.refresh(as_of => '2025-07-11');
\set VERBOSITY default
UPDATE fo_switch SET broken = false;
SELECT refresh_id - :base AS refresh, status, message FROM hvc.refresh_log
 WHERE refresh_id > :base AND status = 'failed';

-- Where C7 is stored: snapshot 1, tier_history 1, at_risk_previous 1,
-- alerts 2 (refresh 1's newly_at_risk, refresh 2's tier_drop), failed
-- refresh messages 1: 6 rows.
SELECT (SELECT count(*) FROM hvc.customer_snapshot WHERE customer_id = 'C7') AS snapshot,
       (SELECT count(*) FROM hvc.tier_history WHERE customer_id = 'C7') AS tier_history,
       (SELECT count(*) FROM hvc.at_risk_previous WHERE customer_id = 'C7') AS at_risk_previous,
       (SELECT count(*) FROM hvc.alerts WHERE refresh_id > :base AND (sample_ids LIKE '%"C7"%' OR payload LIKE '%"C7"%')) AS alerts,
       (SELECT count(*) FROM hvc.refresh_log WHERE refresh_id > :base AND message LIKE '%C7%') AS refresh_log;

-- Bad arguments: NULL, a type that is not a key type, no such customer.
\set VERBOSITY sqlstate
SELECT hvc.forget_customer(NULL::text);
SELECT hvc.forget_customer(date '2025-01-01');
SELECT hvc.forget_customer(7.0);
\set VERBOSITY default
SELECT hvc.forget_customer('C99'::text) AS rows_for_unknown_customer;
SELECT hvc.forget_customer(7) AS rows_for_integer_7;   -- read as the text key '7': nobody

-- Forget C7: 6 rows; again: 0 (idempotent).
SELECT hvc.forget_customer('C7'::text) AS rows_removed;
SELECT hvc.forget_customer('C7'::varchar) AS rows_removed_again;
SELECT (SELECT count(*) FROM hvc.customer_snapshot WHERE customer_id = 'C7') AS snapshot,
       (SELECT count(*) FROM hvc.tier_history WHERE customer_id = 'C7') AS tier_history,
       (SELECT count(*) FROM hvc.at_risk_previous WHERE customer_id = 'C7') AS at_risk_previous,
       (SELECT count(*) FROM hvc.alerts WHERE refresh_id > :base AND (sample_ids LIKE '%C7%' OR payload LIKE '%C7%')) AS alerts,
       (SELECT count(*) FROM hvc.refresh_log WHERE refresh_id > :base AND message LIKE '%C7%') AS refresh_log;
-- The rest is untouched: the alerts keep their counts and their other ids.
SELECT refresh_id - :base AS refresh, kind, customers, sample_ids,
       payload::jsonb -> 'newly_at_risk_ids' AS payload_new, payload::jsonb -> 'tier_drop_ids' AS payload_drops
  FROM hvc.alerts WHERE refresh_id > :base ORDER BY alert_id;
SELECT refresh_id - :base AS refresh, status, message FROM hvc.refresh_log
 WHERE refresh_id > :base AND status = 'failed';
SELECT count(*) AS customers_left FROM hvc.customers;

-- hvc's copies are gone: while C7 is still in the source, the next refresh
-- (as of 2025-07-11) finds C7 there as a new customer (tier history 'new', no
-- previous tier) who is newly at risk (hvc forgot C7 was at risk already).
CALL hvc.refresh(as_of => '2025-07-11');
SELECT customer_id, tier, previous_tier FROM hvc.customers WHERE customer_id = 'C7';
SELECT refresh_id - :base AS refresh, customer_id, from_tier, to_tier, direction
  FROM hvc.tier_history WHERE customer_id = 'C7';
SELECT refresh_id - :base AS refresh, kind, sample_ids FROM hvc.alerts
 WHERE refresh_id = (SELECT max(refresh_id) FROM hvc.refresh_log);
-- Forgetting again: snapshot 1, tier_history 1, at_risk_previous 1, alerts 1.
SELECT hvc.forget_customer('C7'::text) AS rows_removed;

-- The source is the user's to erase.  After that, the next refresh does not
-- bring C7 back: 9 customers, no tier history row and no alert for C7.
DELETE FROM fo_raw WHERE customer = 'C7';
CALL hvc.refresh(as_of => '2025-07-12');
SELECT count(*) AS customers, count(*) FILTER (WHERE customer_id = 'C7') AS c7 FROM hvc.customers;
SELECT count(*) AS c7_history FROM hvc.tier_history WHERE customer_id = 'C7';
SELECT count(*) AS c7_alerts FROM hvc.alerts WHERE sample_ids LIKE '%C7%' OR payload LIKE '%C7%';
SELECT count(*) AS c7_at_risk_memory FROM hvc.at_risk_previous WHERE customer_id = 'C7';

-- Integer keys (424241, 424242: keys no other test leaves in hvc.alerts): the
-- key is given as integer, bigint or text.
CREATE TABLE fo_int (customer_id integer, ordered_at date, amount numeric);
INSERT INTO fo_int VALUES (424241, '2025-01-01', 10), (424242, '2025-01-01', 20), (424242, '2025-02-01', 20);
SELECT hvc.register_source('public.fo_int', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-03-01');
-- (whether the first refresh after a registration records its customers as
-- 'new' in tier_history depends on what was registered before: count it)
SELECT (SELECT count(*) FROM hvc.customer_snapshot WHERE customer_id = 424242) AS snapshot,
       (SELECT count(*) FROM hvc.customer_snapshot WHERE customer_id = 424242)
     + (SELECT count(*) FROM hvc.tier_history WHERE customer_id = 424242) AS stored \gset
SELECT :snapshot AS snapshot_rows, hvc.forget_customer(424242::bigint) = :stored AS removed_all_stored,
       hvc.forget_customer('424242'::text) AS again, hvc.forget_customer('x'::text) AS not_an_integer;
SELECT customer_id FROM hvc.customers;

-- Clean up.
DROP VIEW fo_sales;
DROP TABLE fo_raw, fo_switch, fo_int;
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules VALUES ('top', 1, 0.05, true), ('high', 2, 0.20, true),
                                  ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'week', alert_payload = 'counts';
