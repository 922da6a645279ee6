-- The refresh writes hvc.customer_snapshot itself (src/snapshot_write.c):
-- new customers and tier moves are inserted in batches, a customer who stays
-- in the same tier has the old row updated in place (HOT: the table keeps
-- half of each page free), and the old rows of moves and lapses go with the
-- DELETE of the swap.  With a trigger on the table the refresh inserts
-- through INSERT ... SELECT hvc._build_snapshot(...) instead, and the rows
-- are the same.  Ten customers 1..10; customer k buys 100 * k on 2025-06-01
-- and on 2025-06-20 (revenue 200 * k), so value rank = 11 - k.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET timezone = 'UTC';
UPDATE hvc.config SET model = 'none', time_unit = 'day', value_basis = 'historic_clv',
                      history_refreshes = 24;
DELETE FROM hvc.tier_rules;
-- top: rank 1, high: rank 2, medium: ranks 3-5, low: ranks 6-10
INSERT INTO hvc.tier_rules VALUES ('top', 1, 0.10, true), ('high', 2, 0.20, true),
                                  ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
CREATE TABLE sw_sales (customer integer, ordered_at date, amount numeric(10,2));
INSERT INTO sw_sales
SELECT k, d, 100 * k FROM generate_series(1, 10) k,
                          unnest(ARRAY[date '2025-06-01', date '2025-06-20']) d;
SELECT hvc.register_source('public.sw_sales', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
SELECT hvc._snapshot_writable() AS writable,
       (SELECT reloptions FROM pg_class WHERE oid = 'hvc.customer_snapshot'::regclass) AS reloptions;

-- An update is HOT only when the new version fits on the page: from refresh
-- 3 on, the versions of two refreshes before must be pruned first, which
-- another session's snapshot in this database holds back (autovacuum
-- analyzing a table, for example).  :wait_quiet waits (up to 10 s) until no
-- other session of this database holds one.
\set wait_quiet 'DO $$ BEGIN FOR i IN 1..200 LOOP EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_xmin IS NOT NULL); PERFORM pg_sleep(0.05); END LOOP; END $$;'

-- Refresh 1: ten new rows, inserted.  The table had no page before the
-- writer wrote (register_source made it), so no row of an earlier snapshot
-- can be left and the swap's DELETE (a scan of the new rows) is skipped:
-- three scans of the snapshot in the refresh, as in refresh 2 below, not
-- four (table_was_empty: what the writer saw).
SELECT pg_stat_force_next_flush();   -- the counts below are this transaction's only
BEGIN;
SELECT hvc.refresh_now(as_of => '2025-07-01') AS rid \gset
SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, seq_scan
  FROM pg_stat_xact_user_tables WHERE relid = 'hvc.customer_snapshot'::regclass;
SELECT customers, replaced, table_was_empty FROM hvc._snapshot_stats(:rid);
COMMIT;
SELECT customer_id, value_rank, tier FROM hvc.customers ORDER BY value_rank;

-- Refresh 2, nothing changed: the ten rows are updated in place, all HOT
-- (one page, half free), nothing inserted or deleted; the rows are those of
-- refresh 2.  Every old row was replaced, so the swap's DELETE (a scan of
-- the table) is skipped: three scans of the snapshot in the refresh (the
-- builder's join to the old rows and hvc.at_risk for the alerts among
-- them), not four.  replaced: the rows the writer updated in place.
SELECT pg_stat_force_next_flush();   -- the counts below are this transaction's only
BEGIN;
SELECT hvc.refresh_now(as_of => '2025-07-01') AS rid \gset
SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, seq_scan
  FROM pg_stat_xact_user_tables WHERE relid = 'hvc.customer_snapshot'::regclass;
SELECT customers, moved, kept, replaced, table_was_empty FROM hvc._snapshot_stats(:rid);
COMMIT;
SELECT count(*) AS rows, count(DISTINCT refresh_id) AS refreshes,
       max(refresh_id) = (SELECT max(refresh_id) FROM hvc.refresh_log) AS latest
  FROM hvc.customer_snapshot;

-- Refresh 3: customer 1 buys 5000 more and ranks 1 (5200).  Ranks after:
-- 1, 10, 9, 8, 7, 6, 5, 4, 3, 2.  Moves: 1 low -> top, 10 top -> high,
-- 9 high -> medium, 6 medium -> low; 2, 3, 4, 5, 7, 8 stay.  The moves are
-- updated in place too (their tiers still exist: the history takes their
-- rank from hvc.tier_rules): 10 HOT updates, nothing inserted or deleted,
-- and no DELETE scan: three scans of the snapshot (the builder's join,
-- the retention by tier and hvc.at_risk), not five: the builder writes the
-- moves into the history as it forms the rows, without a scan of the new
-- ones (four scans until then), and counts the tier drops the alert
-- reports.  (A move out of a renamed tier keeps its old row: bad_data.)
INSERT INTO sw_sales VALUES (1, '2025-06-25', 5000);
:wait_quiet
SELECT pg_stat_force_next_flush();   -- the counts below are this transaction's only
BEGIN;
SELECT hvc.refresh_now(as_of => '2025-07-01') AS rid \gset
SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, seq_scan
  FROM pg_stat_xact_user_tables WHERE relid = 'hvc.customer_snapshot'::regclass;
SELECT customers, moved, kept, replaced FROM hvc._snapshot_stats(:rid);
COMMIT;
SELECT customer_id, value_rank, tier, previous_tier, tier_since = (SELECT refreshed_at FROM hvc.snapshot_info) AS moved_now
  FROM hvc.customers ORDER BY value_rank;
SELECT customer_id, from_tier, from_tier_rank, to_tier, to_tier_rank, direction
  FROM hvc.tier_history WHERE refresh_id = (SELECT max(refresh_id) FROM hvc.refresh_log)
 ORDER BY customer_id;
-- Refresh 4: customer 2 (rank 10, low) loses its two rows and lapses.
-- With nine customers the tiers shrink (floor(share * 9)): 1 top -> high,
-- 10 high -> medium, 7 medium -> low.  The nine rows are updated in place;
-- the one old row left is found in one scan, recorded as lapsed and
-- deleted by its ctid (the refresh reads no old row otherwise: the
-- history's lapsed rows and the DELETE scanned the whole table, three
-- scans, before; see README, Scaling).
DELETE FROM sw_sales WHERE customer = 2;
-- (an update is HOT only when the new version fits on the page: the old
-- versions of the refreshes before are vacuumed away first, as autovacuum
-- does between nightly refreshes; opportunistic pruning alone can be held
-- back by another session's snapshot, e.g. autovacuum analyzing a table of
-- this database: 4 HOT updates of 9 instead once in a full check run)
:wait_quiet
VACUUM hvc.customer_snapshot;
SELECT pg_stat_force_next_flush();   -- the counts below are this transaction's only
BEGIN;
SELECT hvc.refresh_now(as_of => '2025-07-01') AS rid \gset
SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
  FROM pg_stat_xact_user_tables WHERE relid = 'hvc.customer_snapshot'::regclass;
SELECT customers, moved, kept, replaced FROM hvc._snapshot_stats(:rid);
COMMIT;
SELECT customer_id, from_tier, from_tier_rank, to_tier, to_tier_rank, direction
  FROM hvc.tier_history WHERE refresh_id = :rid ORDER BY customer_id;
SELECT count(*) AS rows, count(DISTINCT refresh_id) AS refreshes FROM hvc.customer_snapshot;
-- _record_tier_changes outside a refresh: 55000
\set VERBOSITY sqlstate
SELECT hvc._record_tier_changes(:rid, now(), 'activity');
\set VERBOSITY default
-- customer 2 comes back (new again)
INSERT INTO sw_sales SELECT 2, d, 200 FROM unnest(ARRAY[date '2025-06-01', date '2025-06-20']) d;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, value_rank, tier, previous_tier FROM hvc.customers ORDER BY value_rank;

-- the index finds every customer's one row
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS found FROM generate_series(1, 10) k
 WHERE (SELECT count(*) FROM hvc.customer_snapshot s WHERE s.customer_id = k) = 1;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- With a trigger on the table the refresh takes the INSERT: the trigger
-- sees ten rows, and the rows are those of the direct write (the same input
-- and as_of: everything but refresh_id equal).
CREATE TABLE sw_seen (n integer);
INSERT INTO sw_seen VALUES (0);
CREATE FUNCTION sw_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE public.sw_seen SET n = n + 1; RETURN NULL; END $$;
CREATE TRIGGER sw_count AFTER INSERT ON hvc.customer_snapshot FOR EACH ROW EXECUTE FUNCTION sw_count();
SELECT hvc._snapshot_writable() AS writable;
CREATE TEMP TABLE sw_before AS
SELECT customer_id, to_jsonb(s) - 'refresh_id' AS r FROM hvc.customer_snapshot s;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT n AS trigger_rows FROM sw_seen;
SELECT count(*) AS same_rows
  FROM sw_before b JOIN hvc.customer_snapshot s ON s.customer_id = b.customer_id
 WHERE b.r = to_jsonb(s) - 'refresh_id';
-- calling the writer directly while the table is not writable: 55000
\set VERBOSITY sqlstate
SELECT hvc._write_snapshot(NULL::integer, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                           NULL, NULL, NULL, NULL);
\set VERBOSITY default
DROP TRIGGER sw_count ON hvc.customer_snapshot;
SELECT hvc._snapshot_writable() AS writable;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT n AS trigger_rows FROM sw_seen;
-- a publication of updates takes the INSERT (the executor checks the
-- replica identity); one of inserts only does not
SET client_min_messages = error;   -- wal_level may be too low to publish
CREATE PUBLICATION sw_pub FOR TABLE hvc.customer_snapshot WITH (publish = 'update');
SELECT hvc._snapshot_writable() AS writable;
ALTER PUBLICATION sw_pub SET (publish = 'insert');
SELECT hvc._snapshot_writable() AS writable;
DROP PUBLICATION sw_pub;
SET client_min_messages = warning;
-- a domain key takes the INSERT (it checks the domain)
CREATE DOMAIN sw_key AS integer CHECK (VALUE > 0);
CREATE VIEW sw_sales_d AS SELECT customer::sw_key AS customer, ordered_at, amount FROM sw_sales;
SELECT hvc.register_source('public.sw_sales_d', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
SELECT hvc._snapshot_writable() AS writable;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT count(*) AS rows FROM hvc.customers;
-- the builder writes the tier moves of a domain key too (customer 3 to the top)
INSERT INTO sw_sales VALUES (3, '2025-06-28', 90000);
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, from_tier, from_tier_rank, to_tier, to_tier_rank, direction, reason
  FROM hvc.tier_history WHERE refresh_id = (SELECT refresh_id FROM hvc.snapshot_info)
 ORDER BY customer_id;

DROP VIEW sw_sales_d;
DROP DOMAIN sw_key CASCADE;
SELECT hvc.register_source('public.sw_sales', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');

-- The tier moves go into hvc.tier_history as the builder forms the rows
-- (src/history_write.c).  The table's CHECK constraints hold there too: one
-- added here refuses a move to the top (23514), and the failed refresh
-- leaves the snapshot and history of the one before as they were.
INSERT INTO sw_sales VALUES (4, '2025-06-29', 190000);
ALTER TABLE hvc.tier_history ADD CONSTRAINT sw_no_top CHECK (to_tier IS DISTINCT FROM 'top');
SELECT refresh_id AS before_id FROM hvc.snapshot_info \gset
SELECT count(*) AS history_before FROM hvc.tier_history \gset
\set VERBOSITY sqlstate
CALL hvc.refresh(as_of => '2025-07-01');
\set VERBOSITY default
SELECT count(*) AS rows, min(refresh_id) = :before_id AND max(refresh_id) = :before_id AS same_refresh
  FROM hvc.customer_snapshot;
SELECT count(*) = :history_before AS history_kept FROM hvc.tier_history;
SELECT status, message FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
ALTER TABLE hvc.tier_history DROP CONSTRAINT sw_no_top;
-- a trigger on the history: the refresh does not write past it (55000);
-- without it, the moves are there (4 to the top, 3 down from it)
CREATE TRIGGER sw_hist AFTER INSERT ON hvc.tier_history FOR EACH ROW EXECUTE FUNCTION sw_count();
\set VERBOSITY sqlstate
CALL hvc.refresh(as_of => '2025-07-01');
\set VERBOSITY default
DROP TRIGGER sw_hist ON hvc.tier_history;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT customer_id, from_tier, from_tier_rank, to_tier, to_tier_rank, direction, reason
  FROM hvc.tier_history WHERE refresh_id = (SELECT refresh_id FROM hvc.snapshot_info)
 ORDER BY customer_id;
-- Refreshes in one transaction (a backfill: SELECT hvc.refresh_now(d) FROM
-- ...) each have their own time: the second of two refreshes of the same
-- data moves nobody, and the customers the first moved keep its time as
-- tier_since (with the transaction's now() for both, the second recorded
-- every move of the first again, and alerted its drops again).
INSERT INTO sw_sales VALUES (5, '2025-06-30', 500000);
BEGIN;
SELECT hvc.refresh_now(as_of => '2025-07-01') AS first_id \gset
SELECT count(*) > 0 AS first_moved FROM hvc.tier_history WHERE refresh_id = :first_id;
SELECT hvc.refresh_now(as_of => '2025-07-01') AS second_id \gset
SELECT count(*) AS second_moves FROM hvc.tier_history WHERE refresh_id = :second_id;
SELECT count(*) AS second_drop_alerts FROM hvc.alerts WHERE refresh_id = :second_id AND kind = 'tier_drop';
SELECT count(*) FILTER (WHERE c.tier_since = (SELECT refreshed_at FROM hvc.snapshot_info)) AS moved_by_second,
       count(*) FILTER (WHERE c.tier_since = (SELECT h.refreshed_at FROM hvc.tier_history h
                                               WHERE h.refresh_id = :first_id LIMIT 1)) > 0 AS moved_by_first
  FROM hvc.customers c;
COMMIT;
DROP TABLE sw_sales, sw_seen;
DROP FUNCTION sw_count();

-- Past 10 000 inserted rows the writer spools the index entries of the
-- rest, sorted, into the indexes at the end (src/index_spool.c).  The first
-- refresh of 24 000 customers inserts 24 000 snapshot rows; after their
-- values are reversed, the second moves most of them (a move is a new
-- snapshot row and a history row).  Every heap row has its entry in every
-- index and the indexes are well-formed (amcheck, heapallindexed); lookups
-- through them find the rows.  With a unique index added, the spool is not
-- used (the entries go in row by row, with the uniqueness check) and the
-- result is the same.
CREATE EXTENSION IF NOT EXISTS amcheck;
CREATE TABLE sw_many (customer integer, ordered_at date, amount numeric(10,2));
INSERT INTO sw_many SELECT k, date '2025-06-01' + k % 20, 10 + k % 997 FROM generate_series(1, 24000) k;
SELECT hvc.register_source('public.sw_many', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
UPDATE sw_many SET amount = 1100 - amount;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT (SELECT count(*) FROM hvc.customer_snapshot) AS snapshot_rows,
       (SELECT count(*) > 10000 FROM hvc.tier_history
         WHERE refresh_id = (SELECT max(refresh_id) FROM hvc.tier_history)) AS over_10000_moves;
SELECT bt_index_check(i.indexrelid, true) IS NOT NULL AS checked, i.indexrelid::regclass AS index
  FROM pg_index i
 WHERE i.indrelid IN ('hvc.customer_snapshot'::regclass, 'hvc.tier_history'::regclass)
 ORDER BY 2::text;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT customer_id, revenue, value_rank, tier FROM hvc.customer_snapshot WHERE customer_id IN (1, 12000, 24000) ORDER BY 1;
SELECT customer_id, from_tier, to_tier FROM hvc.tier_history WHERE customer_id IN (1, 12000, 24000) ORDER BY 1;
RESET enable_seqscan;
RESET enable_bitmapscan;
CREATE UNIQUE INDEX sw_unique ON hvc.customer_snapshot (customer_id);
SELECT hvc.register_source('public.sw_many', 'customer', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT count(*) AS snapshot_rows FROM hvc.customer_snapshot;
SELECT bt_index_check(i.indexrelid, true) IS NOT NULL AS checked, i.indexrelid::regclass AS index
  FROM pg_index i
 WHERE i.indrelid = 'hvc.customer_snapshot'::regclass
 ORDER BY 2::text;
DROP INDEX hvc.sw_unique;
-- An update that cannot stay on its page (not HOT) needs new index entries
-- too: past 10 000 rows with entries, those go into the spool as well.
-- With the snapshot packed full (fillfactor 100, VACUUM FULL), the next
-- refresh moves nearly every row to a new page (more than 10 000 of them
-- past the old last page); every row still has its entries and lookups
-- through the index find the new values.
ALTER TABLE hvc.customer_snapshot SET (fillfactor = 100);
VACUUM FULL hvc.customer_snapshot;
SELECT max((ctid::text::point)[0]) AS sw_last_page FROM hvc.customer_snapshot \gset
UPDATE sw_many SET amount = 1100 - amount;
CALL hvc.refresh(as_of => '2025-07-01');
SELECT count(*) AS snapshot_rows,
       count(*) FILTER (WHERE (ctid::text::point)[0] > :sw_last_page) > 10000 AS over_10000_rows_moved
  FROM hvc.customer_snapshot;
SELECT bt_index_check(i.indexrelid, true) IS NOT NULL AS checked, i.indexrelid::regclass AS index
  FROM pg_index i
 WHERE i.indrelid = 'hvc.customer_snapshot'::regclass
 ORDER BY 2::text;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT customer_id, revenue, value_rank, tier FROM hvc.customer_snapshot WHERE customer_id IN (1, 12000, 24000) ORDER BY 1;
RESET enable_seqscan;
RESET enable_bitmapscan;
ALTER TABLE hvc.customer_snapshot SET (fillfactor = 50);
DROP TABLE sw_many;
DROP EXTENSION amcheck;
