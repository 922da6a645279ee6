-- ---------------------------------------------------------------------------
-- Retention: what share of each tier buys again in the next period, and how
-- cohorts of first buyers come back month after month.
--
--   hvc.retention          per period (hvc.config.retention_period: month or
--                          quarter) and tier at the period's start: customers
--                          at the start, those who bought again in the period,
--                          the rate; where the tier history does not reach
--                          back to a period's start, one row says so
--   hvc.cohort_retention   per first-purchase month and month after it:
--                          customers of the cohort, those who bought in that
--                          month, the rate
--
-- Both are computed by every refresh on its own stage (the one pass over
-- the source it already made: no second read) and stored, so the views are
-- plain reads.  The tier a customer had at a period's start is the tier of
-- the last refresh whose as_of is on or before that start, rebuilt from the
-- current snapshot by undoing the tier moves of the later refreshes
-- (hvc.tier_history).  That works back to the refresh before the oldest one
-- whose moves are kept (hvc.config.history_refreshes) and not before the
-- first refresh of the registered source; older periods are listed with
-- history_covers = false.
-- ---------------------------------------------------------------------------

ALTER TABLE hvc.config
    ADD COLUMN retention_period text NOT NULL DEFAULT 'quarter'
        CHECK (retention_period IN ('month', 'quarter'));
COMMENT ON COLUMN hvc.config.retention_period IS
    'Period of hvc.retention: month or quarter (default), calendar periods in hvc.config.timezone.';

CREATE OR REPLACE FUNCTION hvc._purchase_period_mask(state bytea, bounds date[]) RETURNS bigint
AS 'MODULE_PATHNAME', 'hvc_purchase_period_mask'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._purchase_period_mask(bytea, date[]) IS
    'Internal: bit i is set when the customer''s hvc.customer_state has a purchase day in [bounds[i+1], bounds[i+2]) (bounds: 2 to 64 increasing dates).';

CREATE OR REPLACE FUNCTION hvc._cohort_rows(counts bytea,
    OUT cohort_month date, OUT months_after integer, OUT customers bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'hvc_cohort_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._cohort_rows(bytea) IS
    'Internal: the rows of the cohort counts hvc._snapshot_stats returns (only the months with at least one buyer).';

-- Stores of the last refresh's retention (what the views show).
CREATE TABLE hvc.retention_store (
    refresh_id        bigint  NOT NULL,
    period_start      date    NOT NULL,
    period_end        date    NOT NULL,
    tier              text,
    tier_rank         integer,
    customers         bigint,
    bought_again      bigint,
    period_complete   boolean NOT NULL,
    history_covers    boolean NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('hvc.retention_store', '');
COMMENT ON TABLE hvc.retention_store IS 'Internal store of hvc.retention (written by every refresh).';
COMMENT ON COLUMN hvc.retention_store.refresh_id IS 'The refresh that computed the row.';
COMMENT ON COLUMN hvc.retention_store.period_start IS 'First day of the period.';
COMMENT ON COLUMN hvc.retention_store.period_end IS 'Last day of the period.';
COMMENT ON COLUMN hvc.retention_store.tier IS 'Tier at the period''s start (NULL when the history does not cover the period).';
COMMENT ON COLUMN hvc.retention_store.tier_rank IS 'Rank of that tier then.';
COMMENT ON COLUMN hvc.retention_store.customers IS 'Customers in that tier at the period''s start.';
COMMENT ON COLUMN hvc.retention_store.bought_again IS 'Of them, those with a purchase in the period.';
COMMENT ON COLUMN hvc.retention_store.period_complete IS 'Whether the period ended by the refresh''s as_of.';
COMMENT ON COLUMN hvc.retention_store.history_covers IS 'Whether the tier history reaches back to the period''s start.';

CREATE TABLE hvc.cohort_retention_store (
    refresh_id        bigint  NOT NULL,
    cohort_month      date    NOT NULL,
    months_after      integer NOT NULL,
    cohort_customers  bigint  NOT NULL,
    customers         bigint  NOT NULL,
    month_complete    boolean NOT NULL,
    PRIMARY KEY (cohort_month, months_after)
);
SELECT pg_catalog.pg_extension_config_dump('hvc.cohort_retention_store', '');
COMMENT ON TABLE hvc.cohort_retention_store IS 'Internal store of hvc.cohort_retention (written by every refresh).';
COMMENT ON COLUMN hvc.cohort_retention_store.refresh_id IS 'The refresh that computed the row.';
COMMENT ON COLUMN hvc.cohort_retention_store.cohort_month IS 'First day of the month of the cohort''s first purchase.';
COMMENT ON COLUMN hvc.cohort_retention_store.months_after IS 'Months after the first-purchase month (0 = that month).';
COMMENT ON COLUMN hvc.cohort_retention_store.cohort_customers IS 'Customers whose first purchase was in cohort_month.';
COMMENT ON COLUMN hvc.cohort_retention_store.customers IS 'Of them, those with a purchase in month cohort_month + months_after.';
COMMENT ON COLUMN hvc.cohort_retention_store.month_complete IS 'Whether that month ended by the refresh''s as_of.';

CREATE TABLE hvc.retention_state (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    history_floor bigint  NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('hvc.retention_state', '');
COMMENT ON TABLE hvc.retention_state IS 'Internal: the oldest refresh whose tier moves may still be in hvc.tier_history (the highest pruning bound any refresh used), so that a larger hvc.config.history_refreshes does not make hvc.retention trust pruned history.';
COMMENT ON COLUMN hvc.retention_state.singleton IS 'Always true: one row.';
COMMENT ON COLUMN hvc.retention_state.history_floor IS 'Tier moves of refreshes before this one may have been pruned.';

-- The oldest refresh whose tiers can be rebuilt from the current snapshot
-- and the tier history kept from refresh floor on: the refresh before
-- floor, and not before the first refresh of the registered source.  NULL
-- when none.
CREATE OR REPLACE FUNCTION hvc._retention_first_refresh(current_refresh bigint, floor bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH ok AS (SELECT l.refresh_id FROM hvc.refresh_log l
                 WHERE (l.status = 'succeeded' OR l.refresh_id = current_refresh)
                   AND l.started_at >= (SELECT s.registered_at FROM hvc.source s))
    SELECT greatest(coalesce((SELECT max(ok.refresh_id) FROM ok WHERE ok.refresh_id < floor), floor),
                    (SELECT min(ok.refresh_id) FROM ok))
$$;
COMMENT ON FUNCTION hvc._retention_first_refresh(bigint, bigint) IS
    'Internal: the oldest refresh whose tiers hvc.retention can rebuild (the refresh before floor, the oldest refresh whose tier history is complete; not before the first refresh of the registered source).';

-- The retention of a refresh, on its own stage (pg_temp._hvc_stage) and
-- snapshot (only its rows: the previous refresh's are deleted by then),
-- after its tier moves are recorded.  Nothing for the refresh's
-- message: hvc.retention.history_covers says which periods the history does
-- not reach.
CREATE OR REPLACE FUNCTION hvc._refresh_retention(id bigint, as_of_day date) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off SET work_mem = '64MB' AS $fn$
DECLARE
    cfg record;
    step interval;
    first_day date;
    lower_refresh bigint;
    bounds date[];
    covered integer;
BEGIN
    IF id IS NULL OR as_of_day IS NULL THEN
        RAISE EXCEPTION 'hvc: _refresh_retention needs a refresh id and its as_of day'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF to_regclass('pg_temp._hvc_stage') IS NULL
       OR NOT EXISTS (SELECT 1 FROM hvc.refresh_log l WHERE l.refresh_id = id AND l.status = 'running') THEN
        RAISE EXCEPTION 'hvc: refresh % is not a running refresh with a stage', id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.retention_period, c.timezone INTO cfg FROM hvc.config c;
    step := CASE cfg.retention_period WHEN 'month' THEN interval '1 month' ELSE interval '3 months' END;
    DELETE FROM hvc.retention_store;
    DELETE FROM hvc.cohort_retention_store;
    -- moves of refreshes before the highest pruning bound ever used are gone
    INSERT INTO hvc.retention_state AS r (history_floor) VALUES (hvc._first_kept_refresh(id))
        ON CONFLICT (singleton) DO UPDATE SET history_floor = greatest(r.history_floor, excluded.history_floor);

    -- Cohorts: counted by the builder's pass over the stage.
    INSERT INTO hvc.cohort_retention_store
        (refresh_id, cohort_month, months_after, cohort_customers, customers, month_complete)
    WITH counts AS (
        SELECT r.* FROM hvc._cohort_rows((SELECT st.cohorts FROM hvc._snapshot_stats(id) st)) r)
    SELECT id, c.cohort_month, k, c.customers, coalesce(n.customers, 0),
           (c.cohort_month + make_interval(months => k + 1))::date <= as_of_day
      FROM counts c
     CROSS JOIN LATERAL generate_series(0, (extract(year FROM age(date_trunc('month', as_of_day::timestamp), c.cohort_month::timestamp)) * 12
                                           + extract(month FROM age(date_trunc('month', as_of_day::timestamp), c.cohort_month::timestamp)))::integer) k
      LEFT JOIN counts n ON n.cohort_month = c.cohort_month AND n.months_after = k
     WHERE c.months_after = 0;

    -- Retention by tier: the periods from the first purchase's to as_of's.
    -- (the first purchase's month: the first cohort)
    SELECT min(c.cohort_month) INTO first_day FROM hvc.cohort_retention_store c;
    IF first_day IS NULL THEN
        RETURN;
    END IF;
    lower_refresh := hvc._retention_first_refresh(id, (SELECT r.history_floor FROM hvc.retention_state r));
    CREATE TEMP TABLE _hvc_periods ON COMMIT DROP AS
    SELECT p.period_start, (p.period_start + step)::date AS period_next,
           -- (of this registration's refreshes: an older one's tiers may be
           -- of another source, and are never covered)
           (SELECT l.refresh_id FROM hvc.refresh_log l
             WHERE (l.status = 'succeeded' OR l.refresh_id = id)
               AND l.started_at >= (SELECT s.registered_at FROM hvc.source s)
               AND l.as_of <= (p.period_start::timestamp AT TIME ZONE cfg.timezone)
             ORDER BY l.as_of DESC, l.refresh_id DESC LIMIT 1) AS base_refresh,
           NULL::integer AS i
      FROM (SELECT d::date AS period_start
              FROM generate_series(date_trunc(cfg.retention_period, first_day::timestamp),
                                   date_trunc(cfg.retention_period, as_of_day::timestamp), step) d) p;
    -- covered: a base refresh at or after lower_refresh, and among the 63
    -- periods up to the newest covered one (a bit of the purchase mask
    -- each).  Usually a suffix of the periods; not always: when as_of went
    -- back (a backfill, or a source registered again), a later period can
    -- start from an older refresh than an earlier one.  i numbers the
    -- periods from the oldest covered one on, uncovered ones in between
    -- included, so that bit i of the mask is period i's.
    UPDATE pg_temp._hvc_periods p SET i = x.k
      FROM (SELECT q.period_start, (row_number() OVER (ORDER BY q.period_start DESC) - 1)::integer AS k
              FROM pg_temp._hvc_periods q
             WHERE q.period_start <= (SELECT max(c.period_start) FROM pg_temp._hvc_periods c
                                       WHERE c.base_refresh >= lower_refresh)) x
     WHERE x.period_start = p.period_start AND x.k < 63 AND p.base_refresh >= lower_refresh;
    UPDATE pg_temp._hvc_periods p SET i = c.n - p.i
      FROM (SELECT max(i) AS n FROM pg_temp._hvc_periods) c WHERE p.i IS NOT NULL;
    ANALYZE pg_temp._hvc_periods;
    SELECT count(p.i) INTO covered FROM pg_temp._hvc_periods p;

    INSERT INTO hvc.retention_store (refresh_id, period_start, period_end, tier, tier_rank, customers,
                                     bought_again, period_complete, history_covers)
    SELECT id, p.period_start, p.period_next - 1, NULL, NULL, NULL, NULL, p.period_next <= as_of_day, false
      FROM pg_temp._hvc_periods p WHERE p.i IS NULL;
    IF covered > 0 THEN
        -- the bounds of every period from the oldest covered to the newest
        -- (bit i: [bounds[i+1], bounds[i+2]))
        SELECT array_agg(p.period_start ORDER BY p.period_start) || max(p.period_next) INTO bounds
          FROM pg_temp._hvc_periods p
         WHERE p.period_start >= (SELECT min(c.period_start) FROM pg_temp._hvc_periods c WHERE c.i IS NOT NULL)
           AND p.period_start <= (SELECT max(c.period_start) FROM pg_temp._hvc_periods c WHERE c.i IS NOT NULL);
        INSERT INTO hvc.retention_store (refresh_id, period_start, period_end, tier, tier_rank, customers,
                                         bought_again, period_complete, history_covers)
        WITH cp AS (SELECT * FROM pg_temp._hvc_periods p WHERE p.i IS NOT NULL),
             -- the tier moves after the oldest base refresh, each with the
             -- customer's move before it and last move
             hm AS (SELECT h.customer_id, h.refresh_id, h.from_tier, h.from_tier_rank,
                           lag(h.refresh_id) OVER w AS prev_refresh,
                           last_value(h.refresh_id) OVER w_all AS last_refresh,
                           last_value(h.direction) OVER w_all = 'lapsed' AS gone
                      FROM hvc.tier_history h
                     WHERE h.refresh_id > (SELECT min(cp.base_refresh) FROM cp)
                    WINDOW w AS (PARTITION BY h.customer_id ORDER BY h.refresh_id),
                           w_all AS (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)),
             -- per period and customer who moved after its base refresh:
             -- the tier then (from_tier of the first move after it; NULL:
             -- not a customer yet), and whether the customer has left the
             -- snapshot since (last move lapsed)
             moved AS (SELECT cp.i, cp.period_next, hm.customer_id, hm.from_tier AS tier, hm.from_tier_rank AS tier_rank, hm.gone
                         FROM hm JOIN cp ON hm.refresh_id > cp.base_refresh
                                        AND (hm.prev_refresh IS NULL OR hm.prev_refresh <= cp.base_refresh)),
             -- purchases in the covered periods before as_of's (as_of's own,
             -- when covered, is told by last_order_at): one pass over the
             -- stage, only when there are such periods
             bought AS (SELECT g.customer_id, hvc._purchase_period_mask(g.state, bounds) AS mask
                          FROM pg_temp._hvc_stage g
                         WHERE g.customer_id IS NOT NULL AND EXISTS (SELECT 1 FROM cp WHERE cp.period_next <= as_of_day)),
             -- every customer of the snapshot once: the current tier, the
             -- purchase periods, the last tier move
             cust AS (SELECT c.customer_id, c.tier, c.tier_rank, coalesce(b.mask, 0) AS mask,
                             (c.last_order_at AT TIME ZONE cfg.timezone)::date
                                 >= (SELECT max(cp.period_start) FROM cp WHERE cp.period_next > as_of_day) AS bought_last,
                             l.last_refresh
                        FROM hvc.customer_snapshot c
                        LEFT JOIN bought b ON b.customer_id = c.customer_id
                        LEFT JOIN (SELECT DISTINCT hm.customer_id, hm.last_refresh FROM hm) l
                               ON l.customer_id = c.customer_id),
             -- a customer has the current tier at the start of the periods
             -- after the last move's base refresh: counted per (tier,
             -- purchase periods, last move), not per customer
             still AS (SELECT u.tier, u.tier_rank, u.mask, u.bought_last, u.last_refresh, count(*) AS n
                         FROM cust u
                        GROUP BY u.tier, u.tier_rank, u.mask, u.bought_last, u.last_refresh),
             at_start AS (SELECT cp.i, s.tier, s.tier_rank, s.n,
                                 CASE WHEN cp.period_next > as_of_day THEN s.bought_last
                                      ELSE (s.mask >> cp.i) & 1 = 1 END AS bought
                            FROM still s
                            JOIN cp ON s.last_refresh IS NULL OR s.last_refresh <= cp.base_refresh
                          UNION ALL
                          -- before: the tier before the first move after the base refresh
                          SELECT m.i, m.tier, m.tier_rank, 1,
                                 CASE WHEN m.period_next > as_of_day THEN u.bought_last
                                      ELSE (u.mask >> m.i) & 1 = 1 END
                            FROM moved m JOIN cust u ON u.customer_id = m.customer_id
                          UNION ALL
                          -- customers gone from the snapshot since: no purchase left
                          SELECT m.i, m.tier, m.tier_rank, 1, false FROM moved m WHERE m.gone)
        SELECT id, cp.period_start, cp.period_next - 1, a.tier, min(a.tier_rank), sum(a.n),
               coalesce(sum(a.n) FILTER (WHERE a.bought), 0), cp.period_next <= as_of_day, true
          FROM at_start a
          JOIN cp ON cp.i = a.i
         WHERE a.tier IS NOT NULL
         GROUP BY cp.period_start, cp.period_next, a.tier;
    END IF;
    DROP TABLE pg_temp._hvc_periods;
END $fn$;
COMMENT ON FUNCTION hvc._refresh_retention(bigint, date) IS
    'Internal: the retention of a refresh on its own stage and snapshot (hvc.retention, hvc.cohort_retention): cohorts as the builder counted them (hvc._snapshot_stats); per period and tier at its start, the customers and those who bought again, for the periods the tier history covers.';

CREATE OR REPLACE VIEW hvc.retention AS
    SELECT r.period_start, r.period_end, r.tier, r.tier_rank,
           r.customers AS customers_at_start, r.bought_again,
           CASE WHEN r.customers > 0 THEN r.bought_again::float8 / r.customers END AS retention_rate,
           r.period_complete, r.history_covers, r.refresh_id
      FROM hvc.retention_store r
     ORDER BY r.period_start, r.tier_rank;
COMMENT ON VIEW hvc.retention IS
    'Retention rate by tier (the last refresh): per period (hvc.config.retention_period, calendar months or quarters in hvc.config.timezone) and tier at the period''s start, the customers then and the share of them who bought again in the period. The tier at a period''s start is that of the last refresh with as_of on or before it, rebuilt from the tier history; periods the history does not reach back to (hvc.config.history_refreshes, or before the source was registered) have one row with history_covers = false and no counts.';
COMMENT ON COLUMN hvc.retention.period_start IS 'First day of the period.';
COMMENT ON COLUMN hvc.retention.period_end IS 'Last day of the period.';
COMMENT ON COLUMN hvc.retention.tier IS 'Tier at the period''s start (NULL when the history does not cover the period).';
COMMENT ON COLUMN hvc.retention.tier_rank IS 'Rank of that tier then (1 = best).';
COMMENT ON COLUMN hvc.retention.customers_at_start IS 'Customers in that tier at the period''s start.';
COMMENT ON COLUMN hvc.retention.bought_again IS 'Of them, those who bought in the period (up to the refresh''s as_of).';
COMMENT ON COLUMN hvc.retention.retention_rate IS 'bought_again / customers_at_start.';
COMMENT ON COLUMN hvc.retention.period_complete IS 'Whether the period ended by the refresh''s as_of (false: the current period, still running).';
COMMENT ON COLUMN hvc.retention.history_covers IS 'Whether the tier history reaches back to the period''s start; false: no counts (keep more history: hvc.config.history_refreshes).';
COMMENT ON COLUMN hvc.retention.refresh_id IS 'The refresh that computed it.';

CREATE OR REPLACE VIEW hvc.cohort_retention AS
    SELECT c.cohort_month, c.months_after, c.cohort_customers, c.customers AS bought,
           c.customers::float8 / c.cohort_customers AS rate, c.month_complete, c.refresh_id
      FROM hvc.cohort_retention_store c
     ORDER BY c.cohort_month, c.months_after;
COMMENT ON VIEW hvc.cohort_retention IS
    'Cohort retention (the last refresh): customers by the month of their first purchase (in hvc.config.timezone), and how many of them bought in the first month (months_after = 0: all of them) and in each month after, up to the refresh''s as_of. Computed in the refresh''s one pass over the source.';
COMMENT ON COLUMN hvc.cohort_retention.cohort_month IS 'First day of the month of the first purchase.';
COMMENT ON COLUMN hvc.cohort_retention.months_after IS 'Months after the first-purchase month (0 = that month).';
COMMENT ON COLUMN hvc.cohort_retention.cohort_customers IS 'Customers whose first purchase was in cohort_month.';
COMMENT ON COLUMN hvc.cohort_retention.bought IS 'Of them, those who bought in month cohort_month + months_after.';
COMMENT ON COLUMN hvc.cohort_retention.rate IS 'bought / cohort_customers.';
COMMENT ON COLUMN hvc.cohort_retention.month_complete IS 'Whether that month ended by the refresh''s as_of (false: still running).';
COMMENT ON COLUMN hvc.cohort_retention.refresh_id IS 'The refresh that computed it.';
