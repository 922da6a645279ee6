-- Retention with customers who move more than once, arrive and leave after
-- a period's base refresh (hvc._refresh_retention counts the customers who
-- never moved once per tier and purchase periods, the others per period:
-- both must give the tier each customer had at the period's start).  Four
-- customers in January, one arriving in February, one leaving (its rows
-- deleted) before the last refresh; numbers by hand.
--
-- Tiers: gold = the best half by revenue, silver = the rest.  Purchases
-- (all on the 10th):  Jan: A 100, B 90, C 80, D 30;  Feb: C 50, E 500 (new);
-- Mar: D 300;  Apr: none.  B's rows are deleted before R4.
--   R1 Feb 1: A 100, B 90 | C 80, D 30              gold A B
--   R2 Mar 1: E 500, C 130 | A 100, B 90, D 30      E new, C up, A B down
--   R3 Apr 1: E 500, D 330 | C 130, A 100, B 90     D up, C down
--   R4 May 1: E 500, D 330 | C 130, A 100           B lapsed
-- Periods (months), the tiers at their start and who bought in them:
--   Jan: no refresh before it                     -> not covered
--   Feb (R1): gold A B (B gone since: counted, no purchase) -> 0 of 2
--             silver C D (C twice moved: silver then)       -> C: 1 of 2
--             (E was no customer yet)
--   Mar (R2): gold E C -> 0 of 2;  silver A B D -> D: 1 of 3
--   Apr (R3): gold E D -> 0 of 2;  silver C A B -> 0 of 3
--   May (R4): gold E D -> 0 of 2;  silver C A   -> 0 of 2 (not complete)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set SHOW_CONTEXT never
UPDATE hvc.config SET model = 'none', value_basis = 'historic_clv', retention_period = 'month',
                      history_refreshes = 24, timezone = 'UTC';
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES
    ('gold', 1, 0.5, true), ('silver', 2, 1.0, false);

CREATE TABLE retm_sales (customer_id text, ordered_at date, amount numeric(10,2));
INSERT INTO retm_sales VALUES
    ('A', '2024-01-10', 100), ('B', '2024-01-10', 90), ('C', '2024-01-10', 80), ('D', '2024-01-10', 30),
    ('C', '2024-02-10', 50), ('E', '2024-02-10', 500),
    ('D', '2024-03-10', 300);
SELECT hvc.register_source(source => 'public.retm_sales', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount') IS NOT NULL AS registered;

CALL hvc.refresh(as_of => '2024-02-01');
CALL hvc.refresh(as_of => '2024-03-01');
CALL hvc.refresh(as_of => '2024-04-01');
DELETE FROM retm_sales WHERE customer_id = 'B';
CALL hvc.refresh(as_of => '2024-05-01');
SELECT customer_id, from_tier, to_tier, direction FROM hvc.tier_changes ORDER BY refresh_id, customer_id;

SELECT period_start, period_end, tier, tier_rank, customers_at_start, bought_again,
       round(retention_rate::numeric, 4) AS retention_rate, period_complete, history_covers
  FROM hvc.retention;

-- A backfill: as_of goes back, so a later period can start from an older
-- refresh than an earlier one (covered periods are then not the last ones).
-- One tier; history kept for 1 refresh.  Purchases: A Jan 10 and Apr 5, B
-- Jan 12 and Mar 15, C Jan 15.  R1 as_of Mar 20, R2 Feb 10 (the backfill),
-- R3 Apr 10.  At R3 the history reaches back to R2 (the refresh before the
-- one kept), so:
--   Mar: starts from R2 (the latest as_of on or before Mar 1) -> covered:
--        A, B, C in 'all', of them B bought in March -> 1 of 3
--   Apr (as_of's): starts from R1 (Mar 20), older than R2 -> not covered
-- Before the fix March counted every customer whose last purchase is on or
-- after March 1 as having bought in March (the shortcut for as_of's own
-- period): A too, 2 of 3.
UPDATE hvc.config SET history_refreshes = 1;
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES ('all', 1, 1.0, true);
CREATE TABLE retm_backfill (customer_id text, ordered_at date, amount numeric(10,2));
INSERT INTO retm_backfill VALUES
    ('A', '2024-01-10', 10), ('A', '2024-04-05', 10), ('B', '2024-01-12', 10), ('B', '2024-03-15', 10),
    ('C', '2024-01-15', 10);
SELECT hvc.register_source(source => 'public.retm_backfill', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2024-03-20');
CALL hvc.refresh(as_of => '2024-02-10');
CALL hvc.refresh(as_of => '2024-04-10');
SELECT period_start, tier, customers_at_start, bought_again, period_complete, history_covers
  FROM hvc.retention WHERE period_start >= '2024-03-01' ORDER BY period_start, tier;
DROP TABLE retm_backfill;

-- Covered periods that are not adjacent: history kept for 2 refreshes;
-- R1 as_of Feb 20, R2 Jan 20, R3 Mar 20, R4 Apr 20.  At R4 the history
-- reaches back to R2: Feb starts from R2 (covered), Mar from R1 (not), Apr
-- from R3 (covered, as_of's).  Purchases: A Jan 5 and Feb 10, B Jan 6 and
-- Mar 10, C Jan 7 and Apr 5.
--   Feb: A, B, C; A bought in February -> 1 of 3
--   Apr: A, B, C; C bought in April    -> 1 of 3
-- Before the fix February's bit of the purchase mask spanned February and
-- March (the bounds of the covered periods only): 2 of 3.
UPDATE hvc.config SET history_refreshes = 2;
CREATE TABLE retm_gap (customer_id text, ordered_at date, amount numeric(10,2));
INSERT INTO retm_gap VALUES
    ('A', '2024-01-05', 10), ('A', '2024-02-10', 10), ('B', '2024-01-06', 10), ('B', '2024-03-10', 10),
    ('C', '2024-01-07', 10), ('C', '2024-04-05', 10);
SELECT hvc.register_source(source => 'public.retm_gap', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2024-02-20');
CALL hvc.refresh(as_of => '2024-01-20');
CALL hvc.refresh(as_of => '2024-03-20');
CALL hvc.refresh(as_of => '2024-04-20');
SELECT period_start, tier, customers_at_start, bought_again, period_complete, history_covers
  FROM hvc.retention ORDER BY period_start, tier;
DROP TABLE retm_gap;

-- Leave the defaults for the tests that follow.
UPDATE hvc.config SET model = 'bgnbd', value_basis = 'predicted_clv', retention_period = 'quarter',
                      history_refreshes = 24;
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES
    ('top', 1, 0.05, true), ('high', 2, 0.20, true), ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
