-- Partitioned sources (issue 10 item 5): a range-partitioned (by ordered_at)
-- and a hash-partitioned (by customer) sales table give the same snapshot as
-- the plain table; the hash-partitioned one is aggregated partition by
-- partition; incremental refresh of the range-partitioned table in trigger
-- and column mode equals a full one, and TRUNCATE of one partition or a
-- partition attached later (new storage files) makes the refresh full.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
DELETE FROM hvc.config;
INSERT INTO hvc.config (model, time_unit) VALUES ('bgnbd', 'day');

CREATE TABLE part_plain (id integer, customer_id integer, ordered_at date, amount numeric(10,2),
                         updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE part_range (LIKE part_plain INCLUDING DEFAULTS) PARTITION BY RANGE (ordered_at);
CREATE TABLE part_range_2023 PARTITION OF part_range FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE part_range_2024 PARTITION OF part_range FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE part_range_2025 PARTITION OF part_range FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE part_hash (LIKE part_plain INCLUDING DEFAULTS) PARTITION BY HASH (customer_id);
CREATE TABLE part_hash_0 PARTITION OF part_hash FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE part_hash_1 PARTITION OF part_hash FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE part_hash_2 PARTITION OF part_hash FOR VALUES WITH (MODULUS 3, REMAINDER 2);
CREATE INDEX ON part_range (customer_id);
CREATE INDEX ON part_range (updated_at);
-- 60 customers over 2023-2025, all changed long ago
INSERT INTO part_plain (id, customer_id, ordered_at, amount, updated_at)
SELECT g, 1 + (g * 13) % 60, date '2023-01-01' + (g * 7) % 1000, (g % 31) * 2 + 0.5, '2020-01-01'
  FROM generate_series(1, 900) g;
INSERT INTO part_range SELECT * FROM part_plain;
INSERT INTO part_hash SELECT * FROM part_plain;
SELECT (SELECT count(*) FROM part_range_2023) AS rows_2023, (SELECT count(*) FROM part_range_2024) AS rows_2024,
       (SELECT count(*) FROM part_range_2025) AS rows_2025;

-- The snapshot of a source (without refresh_id and tier_since: each source
-- starts its own tier history).
CREATE FUNCTION part_snapshot(rel text, tracking text DEFAULT 'none') RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hvc.register_source(rel, 'customer_id', 'ordered_at', 'amount',
                                changed_at => CASE WHEN tracking = 'column' THEN 'updated_at' END,
                                track_changes => tracking);
    PERFORM hvc.refresh_now('2025-10-01');
    EXECUTE format('DROP TABLE IF EXISTS snap_%s', rel);
    EXECUTE format('CREATE TEMP TABLE snap_%s AS SELECT * FROM hvc.customer_snapshot', rel);
    EXECUTE format('ALTER TABLE snap_%s DROP COLUMN refresh_id, DROP COLUMN tier_since', rel);
END $$;
SELECT part_snapshot('part_plain');
SELECT part_snapshot('part_range');
SELECT part_snapshot('part_hash');
SELECT (SELECT count(*) FROM snap_part_plain) AS customers,
       (SELECT count(*) FROM ((TABLE snap_part_plain EXCEPT ALL TABLE snap_part_range)
                              UNION ALL (TABLE snap_part_range EXCEPT ALL TABLE snap_part_plain)) x) AS range_differs,
       (SELECT count(*) FROM ((TABLE snap_part_plain EXCEPT ALL TABLE snap_part_hash)
                              UNION ALL (TABLE snap_part_hash EXCEPT ALL TABLE snap_part_plain)) x) AS hash_differs;
SELECT sum(revenue) AS revenue, sum(orders) AS orders FROM snap_part_range;

-- Partitionwise aggregation: partitioned by customer, each partition is
-- aggregated on its own (the refresh's stage turns the setting on).
SET enable_partitionwise_aggregate = on;
EXPLAIN (COSTS OFF)
SELECT customer_id, hvc.customer_state(ordered_at, amount, NULL::numeric, NULL::integer, '2025-10-01', 'UTC')
  FROM part_hash GROUP BY 1;
RESET enable_partitionwise_aggregate;

-- Incremental refresh compared with a full one (refresh_id left out).
CREATE FUNCTION part_inc_vs_full(a timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    k text;
    r text;
    d bigint;
BEGIN
    PERFORM hvc.refresh_now(a);
    SELECT l.kind, l.kind_reason INTO k, r FROM hvc.refresh_log l ORDER BY l.refresh_id DESC LIMIT 1;
    DROP TABLE IF EXISTS inc_snap, full_snap;
    CREATE TEMP TABLE inc_snap AS SELECT * FROM hvc.customer_snapshot;
    PERFORM hvc.refresh_now(a, true);
    CREATE TEMP TABLE full_snap AS SELECT * FROM hvc.customer_snapshot;
    ALTER TABLE inc_snap DROP COLUMN refresh_id;
    ALTER TABLE full_snap DROP COLUMN refresh_id;
    SELECT count(*) INTO d
      FROM ((TABLE inc_snap EXCEPT ALL TABLE full_snap) UNION ALL (TABLE full_snap EXCEPT ALL TABLE inc_snap)) x;
    RETURN format('%s (%s): %s rows differ', k, r, d);
END $$;

-- trigger mode: writes through the partitioned table are recorded
SELECT part_snapshot('part_range', 'trigger');
INSERT INTO part_range (id, customer_id, ordered_at, amount) VALUES (901, 5, '2025-09-30', 40), (902, 61, '2023-03-03', 9);
UPDATE part_range SET amount = amount + 100 WHERE id = 17;
UPDATE part_range SET ordered_at = '2023-06-01' WHERE id = 18;   -- moves to another partition
DELETE FROM part_range WHERE id = 19;
SELECT part_inc_vs_full('2025-10-01');
-- TRUNCATE of one partition does not fire the table's trigger, but changes
-- its storage file: full
TRUNCATE part_range_2025;
SELECT part_inc_vs_full('2025-10-01');

-- column mode: the changed rows come from each partition's updated_at index
SELECT part_snapshot('part_range', 'column');
INSERT INTO part_range (id, customer_id, ordered_at, amount) VALUES (903, 7, '2025-09-29', 11);
UPDATE part_range SET amount = amount + 5, updated_at = now() WHERE id = 20;
DELETE FROM part_range WHERE id = 21;
SELECT part_inc_vs_full('2025-10-01');
-- a partition attached later, with old rows: full
CREATE TABLE part_range_2022 (LIKE part_plain INCLUDING DEFAULTS);
INSERT INTO part_range_2022 (id, customer_id, ordered_at, amount, updated_at) VALUES (904, 8, '2022-05-05', 70, '2020-01-01');
ALTER TABLE part_range ATTACH PARTITION part_range_2022 FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
SELECT part_inc_vs_full('2025-10-01');

SELECT hvc.register_source('part_plain', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DROP TABLE part_plain, part_range, part_hash;
DROP FUNCTION part_snapshot(text, text), part_inc_vs_full(timestamptz);
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
