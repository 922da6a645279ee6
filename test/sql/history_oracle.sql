-- What a refresh carries over from the snapshot before it, against an
-- independent SQL reference, over a sequence of refreshes of a random shop
-- that changes between them.  The reference keeps the previous snapshot's
-- tier columns and at-risk list and derives from the documented rules
-- (README, "How a refresh works" and "Alerts"; the COMMENTs of
-- hvc.customers, hvc.tier_changes and hvc.alerts):
--   * previous_tier and tier_since: kept while the customer stays in the
--     tier (the same name, or a tier renamed since: old name gone, same
--     rank), else the old tier and this refresh's refreshed_at; NULL and
--     refreshed_at for a new customer;
--   * hvc.tier_changes: one row per new customer (none at the first
--     refresh), per move (up when the new rank is better than the old
--     tier's rank: its rank under the current rules, or the old row's when
--     the name is gone) and per lapsed customer (an old row without a new
--     one), with the refresh's reason (basis_change when the value basis
--     differs from the previous snapshot's, else activity; new and lapsed
--     always activity); history older than the last history_refreshes
--     refreshes pruned, the kept refreshes' rows untouched;
--   * hvc.alerts: tier_drop counts the activity moves that are not up out
--     of a tier that is high-value under the current rules (sample: the
--     first 10 by value rank), newly_at_risk the customers of hvc.at_risk
--     not on it at the previous refresh (everyone at the first), with their
--     reasons (sample: the first 10 by at_risk_rank); the NOTIFY payload's
--     counts; hvc.at_risk_previous is the list of this refresh;
--   * hvc.retention by month: the refresh each month starts from (of this
--     registration, the latest as_of on or before its start), which months
--     the kept history covers, the customers by their tier then and those
--     of them with a purchase day in the month (the customers of that
--     refresh's snapshot as kept here, not rebuilt from hvc's history; the
--     tier named as the reference's history names it: a rename moves no
--     one).
-- The tier of each customer is checked against its value rank and the
-- rules too (refresh_oracle checks the values and ranks themselves).
--
-- Between refreshes: rows inserted (new customers, late rows in the past,
-- rows after as_of), deleted (every row of some customers: they lapse),
-- amounts and days updated; as_of forward, and once back (customers whose
-- every purchase is now after it lapse); the tier rules changed (a tier
-- renamed at its rank, shares and high-value flags changed, a tier
-- dropped, a tier added, every rank renumbered with one tier renamed) and
-- the value basis changed three times.  The whole sequence runs once per
-- change capture: none (full refreshes), trigger and column (incremental
-- refreshes: the same carry-over from stored states).
--
-- pg_regress runs it with the fixed seed below; test/fuzz/run.sh runs it
-- again with fresh seeds and text keys (psql -v seed=... -v key_type=text).
-- Its output is only checks (zeros and trues), so it does not depend on
-- the seed.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
\if :{?seed}
\else
  \set seed 20261207
\endif
\if :{?key_type}
\else
  \set key_type integer
\endif
\if :{?steps}
\else
  \set steps 11
\endif
SELECT :steps >= 11 AS enough_steps \gset
\if :enough_steps
\else
  \echo 'history_oracle: steps must be at least 11 (every kind of change happens by then)'
  \quit
\endif

CREATE TABLE ho_sales (
    line_id     serial,
    customer_id :key_type,
    ordered_at  timestamptz,
    amount      numeric,
    margin      numeric,
    order_no    integer,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ho_sales_customer ON ho_sales (customer_id);
-- on a Citus coordinator (test/citus/run.sh: -v citus=1) the source is
-- distributed by customer: the snapshot is built on the workers, and its
-- carry-over is hvc's Citus code (97_citus_snapshot.sql); trigger mode is
-- refused there, so the sequence runs without change capture and in column mode
\if :{?citus}
SELECT create_distributed_table('ho_sales', 'customer_id') IS NOT NULL AS distributed;
\endif
SELECT :'key_type' = 'text' AS key_is_text \gset
\if :key_is_text
CREATE FUNCTION ho_key(n integer) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT 'k' || lpad(n::text, 4, '0') $$;
\else
CREATE FUNCTION ho_key(n integer) RETURNS integer LANGUAGE sql IMMUTABLE
AS $$ SELECT n $$;
\endif

-- the clock of the sequence and what the reference keeps between refreshes
CREATE TABLE ho_clock (as_of timestamptz NOT NULL, next_customer integer NOT NULL);
CREATE TABLE ho_prev (customer_id :key_type, tier text, tier_rank integer, previous_tier text,
                      tier_since timestamptz);
CREATE TABLE ho_prev_risk (customer_id :key_type);
CREATE TABLE ho_prev_info (had_snapshot boolean, value_basis text);
-- every history row the reference expects, kept for the pruning check
CREATE TABLE ho_history (refresh_id bigint, customer_id :key_type, refreshed_at timestamptz,
                         from_tier text, from_tier_rank integer, to_tier text, to_tier_rank integer,
                         direction text, reason text);
-- every refresh's tiers, for hvc.retention's tier at a period's start
CREATE TABLE ho_tiers (refresh_id bigint, customer_id :key_type, tier text);
CREATE TABLE ho_result (mode text, step integer, kind text, reason text, what text, differ bigint, sample text);
-- what the sequence went through (all must have happened)
CREATE TABLE ho_seen (mode text, what text, n bigint);

-- n random lines of customers 1..customers (skewed: some buy often), with
-- times in the days before as_of (a few after it), refunds, zero amounts,
-- margins on most lines and order numbers shared by some lines
CREATE FUNCTION ho_rows(n integer, customers integer, as_of timestamptz, span_days integer)
RETURNS TABLE (customer_id :key_type, ordered_at timestamptz, amount numeric, margin numeric, order_no integer)
LANGUAGE sql AS $$
    SELECT ho_key(1 + floor(power(random(), 1.7) * customers)::integer),
           CASE WHEN u < 0.04 THEN as_of + random() * interval '20 days'
                ELSE as_of - random() * span_days * interval '1 day' END,
           a, CASE WHEN random() < 0.85 THEN round(a * random()::numeric * 0.6, 2) END,
           floor(random() * 100000)::integer
      FROM (SELECT random() AS u,
                   CASE WHEN random() < 0.10 THEN -round((random() * 60)::numeric, 2)
                        WHEN random() < 0.05 THEN 0
                        WHEN random() < 0.05 THEN round((1000 + random() * 3000)::numeric, 2)
                        ELSE round((5 + random() * 250)::numeric, 2) END AS a
              FROM generate_series(1, n)) g
$$;

-- The tier rules of a step (the same for every mode): four tiers, two of
-- them high-value, changed at fixed steps.
CREATE FUNCTION ho_rules(step integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF step = 1 THEN
        DELETE FROM hvc.tier_rules;
        INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES
            ('gold', 1, 0.10, true), ('silver', 2, 0.30, true), ('bronze', 3, 0.60, false), ('basic', 4, 1.0, false);
    ELSIF step = 3 THEN     -- renamed at its rank: not a move
        UPDATE hvc.tier_rules SET tier = 'argent' WHERE tier = 'silver';
    ELSIF step = 4 THEN     -- other shares; bronze becomes high-value, argent not
        UPDATE hvc.tier_rules SET customer_share = CASE tier WHEN 'gold' THEN 0.15 WHEN 'argent' THEN 0.35
                                                             WHEN 'bronze' THEN 0.55 ELSE 1.0 END,
                                  high_value = tier IN ('gold', 'bronze');
    ELSIF step = 6 THEN     -- bronze dropped: its customers move, from the rank it had
        DELETE FROM hvc.tier_rules WHERE tier = 'bronze';
        UPDATE hvc.tier_rules SET high_value = tier IN ('gold', 'argent');
    ELSIF step = 7 THEN     -- a tier added at the bottom
        UPDATE hvc.tier_rules SET customer_share = 0.8 WHERE tier = 'basic';
        INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES ('tin', 5, 1.0, false);
    ELSIF step = 9 THEN     -- every rank renumbered, gold renamed platinum (rank 11: a move)
        UPDATE hvc.tier_rules SET tier_rank = tier_rank + 10;
        UPDATE hvc.tier_rules SET tier = 'platinum' WHERE tier = 'gold';
    END IF;
END $$;

-- the value basis of a step (model none: historic CLV, revenue or margin)
CREATE FUNCTION ho_basis(step integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN step >= 10 THEN 'historic_clv' WHEN step >= 8 THEN 'margin'
                WHEN step >= 5 THEN 'revenue' ELSE 'historic_clv' END
$$;

-- A mode's shop and its registration (the first refresh is step 1).
CREATE FUNCTION ho_start(mode text, seed integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM setseed(((seed % 2000000) - 1000000) / 1000000.0);
    -- (the same table registered again: hvc keeps its snapshot and
    -- history, and so does the reference)
    TRUNCATE ho_sales, ho_prev, ho_prev_risk, ho_prev_info;
    DELETE FROM ho_clock;
    INSERT INTO ho_clock VALUES ('2025-03-01 12:00+00', 71);
    INSERT INTO ho_sales (customer_id, ordered_at, amount, margin, order_no)
    SELECT * FROM ho_rows(700, 70, '2025-03-01 12:00+00', 700);
    -- every customer 1..70 buys at least once, long ago
    INSERT INTO ho_sales (customer_id, ordered_at, amount, margin, order_no)
    SELECT ho_key(n), timestamptz '2023-06-01 10:00+00' + n * interval '1 day', 20 + n, 5, NULL
      FROM generate_series(1, 70) n;
    DELETE FROM hvc.config;
    INSERT INTO hvc.config (model, value_basis, timezone, history_refreshes, alert_payload, retention_period)
    VALUES ('none', 'historic_clv', 'Europe/Berlin', 4, 'ids', 'month');
    PERFORM hvc.register_source('ho_sales', 'customer_id', 'ordered_at', 'amount', margin => 'margin',
                                order_id => 'order_no',
                                changed_at => CASE WHEN mode = 'column' THEN 'updated_at' END,
                                track_changes => mode);
END $$;

-- Before the refresh of a step: the reference keeps the snapshot, the
-- at-risk list and the basis; then the shop, the clock, the rules and the
-- basis change.
CREATE FUNCTION ho_before(mode text, step integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    c ho_clock;
    gone integer;
    ids integer[];
    u record;
    changed_at timestamptz;
    at timestamptz;
BEGIN
    TRUNCATE ho_prev, ho_prev_risk, ho_prev_info;
    INSERT INTO ho_prev SELECT s.customer_id, s.tier, s.tier_rank, s.previous_tier, s.tier_since FROM hvc.customers s;
    INSERT INTO ho_prev_risk SELECT a.customer_id FROM hvc.at_risk a;
    INSERT INTO ho_prev_info SELECT i.customers IS NOT NULL, i.value_basis FROM hvc.snapshot_info i;
    IF NOT FOUND THEN
        INSERT INTO ho_prev_info VALUES (false, NULL);
    END IF;
    PERFORM ho_rules(step);
    UPDATE hvc.config SET value_basis = ho_basis(step);
    IF step = 1 THEN
        RETURN;
    END IF;
    -- the clock: forward 0-40 days, back 25 days at step 7
    UPDATE ho_clock SET as_of = as_of + CASE WHEN step = 7 THEN -25 ELSE floor(random() * 41)::integer END
                                        * interval '1 day'
     RETURNING * INTO c;
    -- new lines (some late: up to 90 days back), and three new customers
    -- (small changes: the incremental modes stay incremental)
    INSERT INTO ho_sales (customer_id, ordered_at, amount, margin, order_no)
    SELECT * FROM ho_rows(25, c.next_customer - 1, c.as_of, 90);
    INSERT INTO ho_sales (customer_id, ordered_at, amount, margin, order_no)
    SELECT ho_key(c.next_customer + n % 3), c.as_of - random() * interval '30 days',
           round((10 + random() * 400)::numeric, 2), NULL, NULL
      FROM generate_series(0, 4) n;
    UPDATE ho_clock SET next_customer = next_customer + 3;
    -- amounts and days of a few lines change, a few lines go, and every
    -- line of one customer (who lapses); the choices are made here, so no
    -- statement on the source calls a volatile function (Citus refuses
    -- them on distributed tables)
    SELECT array_agg(s.line_id ORDER BY s.line_id) INTO ids FROM ho_sales s;
    changed_at := clock_timestamp();
    FOR u IN SELECT i AS line_id, round((random() * 2.5)::numeric, 4) AS factor, random() < 0.3 AS earlier
               FROM unnest(ids) i WHERE random() < 0.015 LOOP
        -- (the new time computed here: Citus refuses timestamptz arithmetic,
        -- which is not immutable, on a column in an UPDATE)
        SELECT s.ordered_at - CASE WHEN u.earlier THEN interval '3 days' ELSE interval '0' END INTO at
          FROM ho_sales s WHERE s.line_id = u.line_id;
        UPDATE ho_sales SET amount = round(amount * u.factor, 2), ordered_at = at, updated_at = changed_at
         WHERE line_id = u.line_id;
    END LOOP;
    ids := ARRAY(SELECT i FROM unnest(ids) i WHERE random() < 0.01);
    DELETE FROM ho_sales WHERE line_id = ANY (ids);
    gone := 1 + floor(random() * (c.next_customer - 1))::integer;
    DELETE FROM ho_sales WHERE customer_id = ho_key(gone);
END $$;

CREATE FUNCTION ho_refresh() RETURNS void LANGUAGE sql AS $$
    SELECT hvc.refresh_now(c.as_of) FROM ho_clock c;
$$;

-- After the refresh of a step: every check, into ho_result.
CREATE FUNCTION ho_after(mode text, step integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    info hvc.snapshot_info;
    prev ho_prev_info;
    lg hvc.refresh_log;
    as_of_day date;
    reason text;
    kept_from bigint;
    n bigint;
    s text;
BEGIN
    SELECT * INTO info FROM hvc.snapshot_info;
    SELECT * INTO prev FROM ho_prev_info;
    SELECT * INTO lg FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
    as_of_day := (info.as_of AT TIME ZONE 'Europe/Berlin')::date;
    reason := CASE WHEN prev.had_snapshot AND prev.value_basis IS DISTINCT FROM info.value_basis
                   THEN 'basis_change' ELSE 'activity' END;
    -- what hvc shows now, copied here first (on Citus they are distributed,
    -- and a join of a distributed and a local table is refused)
    CREATE TEMP TABLE ho_cur ON COMMIT DROP AS
    SELECT c.customer_id, c.tier, c.tier_rank, c.is_high_value, c.value_rank, c.previous_tier, c.tier_since
      FROM hvc.customers c;
    CREATE TEMP TABLE ho_risk_now ON COMMIT DROP AS
    SELECT a.customer_id, a.at_risk_rank, a.reasons FROM hvc.at_risk a;
    CREATE TEMP TABLE ho_changes ON COMMIT DROP AS SELECT * FROM hvc.tier_changes;

    -- the tier of each value rank: a tier reaches floor(share * customers)
    SELECT count(*), string_agg(format('%s rank %s: %s, want %s', c.customer_id, c.value_rank, c.tier, t.tier), '; ')
      INTO n, s
      FROM ho_cur c
      LEFT JOIN LATERAL (SELECT r.tier, r.tier_rank, r.high_value FROM hvc.tier_rules r
                          WHERE CASE WHEN r.customer_share >= 1 THEN info.customers
                                     ELSE floor(r.customer_share * info.customers) END >= c.value_rank
                          ORDER BY r.tier_rank LIMIT 1) t ON true
     WHERE (c.tier, c.tier_rank, c.is_high_value) IS DISTINCT FROM (t.tier, t.tier_rank, t.high_value);
    INSERT INTO ho_result VALUES (mode, step, lg.kind, reason, 'tier of the value rank', n, left(s, 300));

    -- each customer: new, stays (same name, or renamed at the same rank) or moves
    CREATE TEMP TABLE ho_now ON COMMIT DROP AS
    SELECT c.customer_id, c.tier, c.tier_rank, c.value_rank, c.previous_tier, c.tier_since,
           o.customer_id IS NOT NULL AS had_row, o.tier AS old_tier, o.previous_tier AS old_previous,
           o.tier_since AS old_since,
           coalesce((SELECT r.tier_rank FROM hvc.tier_rules r WHERE r.tier = o.tier), o.tier_rank) AS from_rank,
           coalesce((SELECT r.high_value FROM hvc.tier_rules r WHERE r.tier = o.tier), false) AS from_high,
           o.customer_id IS NOT NULL
           AND NOT (o.tier = c.tier
                    OR (o.tier_rank = c.tier_rank AND NOT EXISTS (SELECT 1 FROM hvc.tier_rules r WHERE r.tier = o.tier)))
               AS moved,
           o.customer_id IS NOT NULL AND o.tier <> c.tier AND o.tier_rank = c.tier_rank
           AND NOT EXISTS (SELECT 1 FROM hvc.tier_rules r WHERE r.tier = o.tier) AS renamed
      FROM ho_cur c
      LEFT JOIN ho_prev o ON o.customer_id = c.customer_id;

    SELECT count(*), string_agg(format('%s: previous %s since %s, want %s since %s', customer_id, previous_tier,
                                       tier_since, want_prev, want_since), '; ')
      INTO n, s
      FROM (SELECT h.*,
                   CASE WHEN NOT h.had_row THEN NULL WHEN h.moved THEN h.old_tier ELSE h.old_previous END AS want_prev,
                   CASE WHEN NOT h.had_row OR h.moved THEN info.refreshed_at ELSE h.old_since END AS want_since
              FROM ho_now h) x
     WHERE (previous_tier, tier_since) IS DISTINCT FROM (want_prev, want_since);
    INSERT INTO ho_result VALUES (mode, step, lg.kind, reason, 'previous_tier and tier_since', n, left(s, 300));

    -- the history of this refresh: new, up, down and lapsed (none at the first)
    IF prev.had_snapshot THEN
        INSERT INTO ho_history
        SELECT info.refresh_id, h.customer_id, info.refreshed_at, NULL, NULL, h.tier, h.tier_rank, 'new', 'activity'
          FROM ho_now h WHERE NOT h.had_row
        UNION ALL
        SELECT info.refresh_id, h.customer_id, info.refreshed_at, h.old_tier, h.from_rank, h.tier, h.tier_rank,
               CASE WHEN h.tier_rank < h.from_rank THEN 'up' ELSE 'down' END, reason
          FROM ho_now h WHERE h.moved
        UNION ALL
        SELECT info.refresh_id, o.customer_id, info.refreshed_at, o.tier, o.tier_rank, NULL, NULL, 'lapsed', 'activity'
          FROM ho_prev o WHERE NOT EXISTS (SELECT 1 FROM ho_now h WHERE h.customer_id = o.customer_id);
    END IF;
    -- every kept refresh's history, this one's included, as the reference
    -- recorded it; older refreshes' pruned
    kept_from := (SELECT min(x.refresh_id)
                    FROM (SELECT l.refresh_id FROM hvc.refresh_log l WHERE l.status = 'succeeded'
                           ORDER BY l.refresh_id DESC LIMIT (SELECT c.history_refreshes FROM hvc.config c)) x);
    SELECT count(*), string_agg(d::text, '; ') INTO n, s
      FROM ((SELECT 'hvc' AS side, t.refresh_id, t.customer_id::text, t.refreshed_at, t.from_tier, t.from_tier_rank,
                    t.to_tier, t.to_tier_rank, t.direction, t.reason FROM ho_changes t
             EXCEPT ALL
             SELECT 'hvc', e.refresh_id, e.customer_id::text, e.refreshed_at, e.from_tier, e.from_tier_rank,
                    e.to_tier, e.to_tier_rank, e.direction, e.reason FROM ho_history e WHERE e.refresh_id >= kept_from)
            UNION ALL
            (SELECT 'reference', e.refresh_id, e.customer_id::text, e.refreshed_at, e.from_tier, e.from_tier_rank,
                    e.to_tier, e.to_tier_rank, e.direction, e.reason FROM ho_history e WHERE e.refresh_id >= kept_from
             EXCEPT ALL
             SELECT 'reference', t.refresh_id, t.customer_id::text, t.refreshed_at, t.from_tier, t.from_tier_rank,
                    t.to_tier, t.to_tier_rank, t.direction, t.reason FROM ho_changes t)) d;
    INSERT INTO ho_result VALUES (mode, step, lg.kind, reason, 'tier_changes', n, left(s, 300));

    -- tier_drop: activity moves not up, out of a tier high-value under the current rules
    CREATE TEMP TABLE ho_drop ON COMMIT DROP AS
    SELECT h.customer_id, h.value_rank FROM ho_now h
     WHERE prev.had_snapshot AND h.moved AND h.tier_rank >= h.from_rank AND h.from_high AND reason = 'activity';
    SELECT count(*) INTO n
      FROM (SELECT count(*) AS customers,
                   (SELECT jsonb_agg(x.j ORDER BY x.value_rank)
                      FROM (SELECT to_jsonb(d.customer_id) AS j, d.value_rank FROM ho_drop d
                             ORDER BY d.value_rank LIMIT 10) x) AS ids
              FROM ho_drop HAVING count(*) > 0) e
      FULL JOIN (SELECT a.customers, a.sample_ids::jsonb AS ids FROM hvc.alerts a
                  WHERE a.refresh_id = info.refresh_id AND a.kind = 'tier_drop') g ON true
     WHERE (e.customers, e.ids) IS DISTINCT FROM (g.customers, g.ids);
    INSERT INTO ho_result VALUES (mode, step, lg.kind, reason, 'tier_drop alert', n, NULL);

    -- newly_at_risk: on hvc.at_risk now, not at the previous refresh
    CREATE TEMP TABLE ho_new_risk ON COMMIT DROP AS
    SELECT a.customer_id, a.at_risk_rank, a.reasons FROM ho_risk_now a
     WHERE NOT EXISTS (SELECT 1 FROM ho_prev_risk p WHERE p.customer_id = a.customer_id);
    SELECT count(*) INTO n
      FROM (SELECT count(*) AS customers,
                   (SELECT jsonb_agg(x.j ORDER BY x.at_risk_rank)
                      FROM (SELECT to_jsonb(r.customer_id) AS j, r.at_risk_rank FROM ho_new_risk r
                             ORDER BY r.at_risk_rank LIMIT 10) x) AS ids,
                   (SELECT string_agg(format('%s %s', y.reason, y.n), ', ' ORDER BY y.n DESC, y.reason)
                      FROM (SELECT e.reason, count(*) AS n
                              FROM ho_new_risk r CROSS JOIN LATERAL unnest(string_to_array(r.reasons, ',')) e(reason)
                             GROUP BY e.reason) y) AS reasons
              FROM ho_new_risk HAVING count(*) > 0) e
      FULL JOIN (SELECT a.customers, a.sample_ids::jsonb AS ids, a.reasons FROM hvc.alerts a
                  WHERE a.refresh_id = info.refresh_id AND a.kind = 'newly_at_risk') g ON true
     WHERE (e.customers, e.ids, e.reasons) IS DISTINCT FROM (g.customers, g.ids, g.reasons);
    INSERT INTO ho_result VALUES (mode, step, lg.kind, reason, 'newly_at_risk alert', n, NULL);

    -- the payload of the refresh (alert_payload 'ids') and the at-risk memory
    SELECT count(*) INTO n
      FROM hvc.alerts a
     WHERE a.refresh_id = info.refresh_id
       AND ((a.payload::jsonb ->> 'at_risk')::bigint IS DISTINCT FROM (SELECT count(*) FROM ho_risk_now)
            OR (a.payload::jsonb ->> 'newly_at_risk')::bigint IS DISTINCT FROM (SELECT count(*) FROM ho_new_risk)
            OR (a.payload::jsonb ->> 'tier_drops')::bigint IS DISTINCT FROM (SELECT count(*) FROM ho_drop)
            OR a.payload::jsonb -> 'tier_drop_ids' IS DISTINCT FROM
               coalesce((SELECT jsonb_agg(x.j ORDER BY x.value_rank)
                           FROM (SELECT to_jsonb(d.customer_id) AS j, d.value_rank FROM ho_drop d
                                  ORDER BY d.value_rank LIMIT 10) x), '[]'));
    n := n + (SELECT count(*) FROM ((SELECT p.customer_id FROM hvc.at_risk_previous p
                                     EXCEPT SELECT a.customer_id FROM ho_risk_now a)
                                    UNION ALL
                                    (SELECT a.customer_id FROM ho_risk_now a
                                     EXCEPT SELECT p.customer_id FROM hvc.at_risk_previous p)) d);
    INSERT INTO ho_result VALUES (mode, step, lg.kind, reason, 'alert payload and at-risk memory', n, NULL);

    -- hvc.retention (months): each month from the first purchase's to
    -- as_of's starts from the refresh of this registration with the latest
    -- as_of on or before its start; it is covered when that refresh is not older than the one
    -- before the oldest refresh with kept history, nor than the first of
    -- this registration.  Its rows: the customers of that refresh by their
    -- tier then (as the history names it: the from_tier of their first move
    -- after it, else their tier now; a rename moves no one) and those of
    -- them with a purchase day in the month, up to as_of.  Older months:
    -- one row, not covered, no counts.
    INSERT INTO ho_tiers SELECT info.refresh_id, c.customer_id, c.tier FROM ho_cur c;
    CREATE TEMP TABLE ho_ret ON COMMIT DROP AS
    SELECT r.period_start, r.period_end, r.tier, r.customers_at_start, r.bought_again, r.period_complete,
           r.history_covers
      FROM hvc.retention r;
    CREATE TEMP TABLE ho_ret_want ON COMMIT DROP AS
    WITH ok AS (SELECT l.refresh_id FROM hvc.refresh_log l
                 WHERE l.status = 'succeeded' AND l.started_at >= (SELECT s.registered_at FROM hvc.source s)),
         fl AS (SELECT greatest(coalesce((SELECT max(ok.refresh_id) FROM ok WHERE ok.refresh_id < kept_from), kept_from),
                                (SELECT min(ok.refresh_id) FROM ok)) AS lower),
         days AS (SELECT DISTINCT s.customer_id, (s.ordered_at AT TIME ZONE 'Europe/Berlin')::date AS day
                    FROM ho_sales s
                   WHERE s.customer_id IS NOT NULL AND s.amount >= 0 AND s.ordered_at <= info.as_of),
         periods AS (SELECT p::date AS period_start, (p + interval '1 month')::date AS period_next,
                            (SELECT o.refresh_id FROM hvc.refresh_log o
                              WHERE o.refresh_id IN (SELECT ok.refresh_id FROM ok)
                                AND o.as_of <= (p AT TIME ZONE 'Europe/Berlin')
                              ORDER BY o.as_of DESC, o.refresh_id DESC LIMIT 1) AS base
                       FROM generate_series(date_trunc('month', (SELECT min(d.day) FROM days d)::timestamp),
                                            date_trunc('month', as_of_day::timestamp),
                                            interval '1 month') p),
         at_start AS (SELECT p.period_start, p.period_next, t.customer_id,
                             coalesce((SELECT h.from_tier FROM ho_history h
                                        WHERE h.customer_id = t.customer_id AND h.refresh_id > p.base
                                        ORDER BY h.refresh_id LIMIT 1),
                                      (SELECT c.tier FROM ho_cur c WHERE c.customer_id = t.customer_id)) AS tier
                        FROM periods p JOIN ho_tiers t ON t.refresh_id = p.base
                       WHERE p.base >= (SELECT fl.lower FROM fl))
    SELECT p.period_start, p.period_next - 1 AS period_end, NULL::text AS tier, NULL::bigint AS customers_at_start,
           NULL::bigint AS bought_again, p.period_next <= as_of_day AS period_complete,
           false AS history_covers
      FROM periods p WHERE p.base IS NULL OR p.base < (SELECT fl.lower FROM fl)
    UNION ALL
    SELECT a.period_start, a.period_next - 1, a.tier, count(*),
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM days d WHERE d.customer_id = a.customer_id
                                             AND d.day >= a.period_start AND d.day < a.period_next)),
           a.period_next <= as_of_day, true
      FROM at_start a
     GROUP BY a.period_start, a.period_next, a.tier;
    SELECT count(*), string_agg(d::text, '; ') INTO n, s
      FROM ((SELECT 'hvc' AS side, * FROM ho_ret EXCEPT ALL SELECT 'hvc', * FROM ho_ret_want)
            UNION ALL
            (SELECT 'reference', * FROM ho_ret_want EXCEPT ALL SELECT 'reference', * FROM ho_ret)) d;
    INSERT INTO ho_result VALUES (mode, step, lg.kind, reason, 'retention by tier', n, left(s, 300));

    -- what this step went through
    INSERT INTO ho_seen VALUES
        (mode, 'a new customer after the first refresh',
         (SELECT count(*) FROM ho_now h WHERE prev.had_snapshot AND NOT h.had_row)),
        (mode, 'a move up', (SELECT count(*) FROM ho_now h WHERE h.moved AND h.tier_rank < h.from_rank)),
        (mode, 'a move down', (SELECT count(*) FROM ho_now h WHERE h.moved AND h.tier_rank >= h.from_rank)),
        (mode, 'a stay in a renamed tier', (SELECT count(*) FROM ho_now h WHERE h.renamed)),
        (mode, 'a move out of a dropped or renamed tier',
         (SELECT count(*) FROM ho_now h
           WHERE h.moved AND NOT EXISTS (SELECT 1 FROM hvc.tier_rules r WHERE r.tier = h.old_tier))),
        (mode, 'a tier kept over a refresh',
         (SELECT count(*) FROM ho_now h WHERE h.had_row AND NOT h.moved AND NOT h.renamed)),
        (mode, 'a basis_change move', (SELECT count(*) FROM ho_now h WHERE h.moved AND reason = 'basis_change')),
        (mode, 'a tier drop alert', (SELECT count(*) FROM ho_drop)),
        (mode, 'a newly at-risk customer', (SELECT count(*) FROM ho_new_risk)),
        (mode, 'a lapsed customer',
         (SELECT count(*) FROM ho_prev o WHERE NOT EXISTS (SELECT 1 FROM ho_now h WHERE h.customer_id = o.customer_id))),
        (mode, 'history pruned', (SELECT count(*) FROM ho_history e WHERE e.refresh_id < kept_from)),
        (mode, 'an incremental refresh', CASE WHEN lg.kind = 'incremental' THEN 1 ELSE 0 END),
        (mode, 'a month of retention covered by the history',
         (SELECT count(DISTINCT w.period_start) FROM ho_ret_want w WHERE w.history_covers)),
        (mode, 'a month of retention not covered', (SELECT count(*) FROM ho_ret_want w WHERE NOT w.history_covers));
    DROP TABLE ho_cur, ho_risk_now, ho_changes, ho_now, ho_drop, ho_new_risk, ho_ret, ho_ret_want;
END $$;

-- The steps of a mode as statements of their own (changes, refresh and
-- checks each in its own transaction, as in a shop).
CREATE FUNCTION ho_statements(mode text, steps integer) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT x.stmt
      FROM generate_series(1, steps) i,
           LATERAL (VALUES (1, format('SELECT ho_before(%L, %s)', mode, i)),
                           (2, 'SELECT ho_refresh()'),
                           (3, format('SELECT ho_after(%L, %s)', mode, i))) x(k, stmt)
     ORDER BY i, x.k
$$;

-- (another table registered first: ho_sales starts a history of its own
-- whatever ran before in this database)
CREATE TABLE ho_other (customer_id :key_type, ordered_at timestamptz, amount numeric);
SELECT hvc.register_source('ho_other', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
\o /dev/null
SELECT ho_start('none', :seed);
SELECT ho_statements('none', :steps) \gexec
\if :{?citus}
\else
SELECT ho_start('trigger', :seed + 1);
SELECT ho_statements('trigger', :steps) \gexec
\endif
SELECT ho_start('column', :seed + 2);
SELECT ho_statements('column', :steps) \gexec
\o

-- Every check of every step agrees with the reference.
SELECT mode, what, count(*) AS steps, sum(differ) AS differ
  FROM ho_result GROUP BY mode, what ORDER BY mode, what;
-- (the steps that differ, with up to 300 characters of what differs: none expected)
SELECT mode, step, kind, reason, what, differ, sample FROM ho_result WHERE differ > 0 ORDER BY mode, step, what;
-- Every kind of change happened in every mode; the incremental modes ran
-- incremental refreshes.
SELECT mode, what, sum(n) > 0 AS happened
  FROM ho_seen
 WHERE mode <> 'none' OR what <> 'an incremental refresh'
 GROUP BY mode, what ORDER BY mode, what;

-- the same in one line, for scripts (test/citus/run.sh)
SELECT format('history_oracle: %s checks differ, %s kinds of change missing',
              (SELECT count(*) FROM ho_result WHERE differ > 0),
              (SELECT count(*) FROM (SELECT 1 FROM ho_seen WHERE mode <> 'none' OR what <> 'an incremental refresh'
                                      GROUP BY mode, what HAVING sum(n) = 0) x)) AS verdict;

SELECT hvc.register_source('ho_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
DROP TABLE ho_other, ho_sales, ho_clock, ho_tiers, ho_prev, ho_prev_risk, ho_prev_info, ho_history, ho_result, ho_seen;
DROP FUNCTION ho_key(integer), ho_rows(integer, integer, timestamptz, integer), ho_rules(integer), ho_basis(integer),
              ho_start(text, integer), ho_before(text, integer), ho_refresh(), ho_after(text, integer),
              ho_statements(text, integer);
DELETE FROM hvc.tier_rules;
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value) VALUES
    ('top', 1, 0.05, true), ('high', 2, 0.20, true), ('medium', 3, 0.50, false), ('low', 4, 1.00, false);
DELETE FROM hvc.config;
INSERT INTO hvc.config DEFAULT VALUES;
