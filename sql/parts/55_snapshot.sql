-- ---------------------------------------------------------------------------
-- The snapshot: what the last successful refresh computed, and the views BI
-- tools read.  Every view column is a BI-safe scalar (int/bigint,
-- numeric(p<=28,s), float8, text, date, timestamptz, boolean).
-- ---------------------------------------------------------------------------

CREATE TABLE hvc.snapshot_info (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    refresh_id   bigint      NOT NULL,
    as_of        timestamptz NOT NULL,
    refreshed_at timestamptz NOT NULL,
    customers    bigint      NOT NULL,
    model        text        NOT NULL,
    value_basis  text        NOT NULL,
    premium_ticket_from numeric(20,3),
    purchase_fit_id     bigint,
    spend_fit_id        bigint,
    fallback            text,
    median_repeat_gap_days float8,
    high_value_customers   bigint
);
-- Dumped with the snapshot tables register_source created (pg_dump dumps
-- those as ordinary tables), so a restored database shows the same snapshot.
SELECT pg_catalog.pg_extension_config_dump('hvc.snapshot_info', '');
COMMENT ON TABLE hvc.snapshot_info IS 'The snapshot currently shown by the hvc views: which refresh built it, its as_of, model and the value basis it ranked by.';
COMMENT ON COLUMN hvc.snapshot_info.singleton IS 'Always true: one current snapshot.';
COMMENT ON COLUMN hvc.snapshot_info.refresh_id IS 'The refresh (hvc.refresh_log) that built the snapshot.';
COMMENT ON COLUMN hvc.snapshot_info.as_of IS 'Observation end of the snapshot.';
COMMENT ON COLUMN hvc.snapshot_info.refreshed_at IS 'When the refresh that built the snapshot ran (its own clock time at the start of the build, also the tier_since of the customers it moved; readers see the snapshot once that refresh commits).';
COMMENT ON COLUMN hvc.snapshot_info.customers IS 'Customers in the snapshot.';
COMMENT ON COLUMN hvc.snapshot_info.model IS 'Purchase model whose predictions the snapshot holds (the configured one, or the model of the previous snapshot when the configured one has never been fitted), or none.';
COMMENT ON COLUMN hvc.snapshot_info.value_basis IS 'What value_rank ranked by in this snapshot: hvc.config.value_basis, except that predicted_clv without any usable fit keeps the previous snapshot''s basis (historic_clv before the first fit) and margin without a margin column is revenue.';
COMMENT ON COLUMN hvc.snapshot_info.purchase_fit_id IS 'The hvc.model_fit row of the purchase model the predictions were made with (NULL without predictions); hvc.current_model() returns it.';
COMMENT ON COLUMN hvc.snapshot_info.spend_fit_id IS 'The hvc.model_fit row of the Gamma-Gamma spend model the predictions were made with (NULL without one).';
COMMENT ON COLUMN hvc.snapshot_info.fallback IS 'NULL when the refresh predicted with its own fits and ranked by the configured basis; otherwise what it did instead and why (e.g. predicted with the last good fit of refresh 12, 3.0 days old, because the fit failed), as in its NOTICE.';
COMMENT ON COLUMN hvc.snapshot_info.median_repeat_gap_days IS 'Median of avg_days_between_orders over the customers with a repeat purchase: without a model, hvc.at_risk judges one-time buyers by it.';
COMMENT ON COLUMN hvc.snapshot_info.high_value_customers IS 'Customers in a high-value tier (is_high_value): hvc.at_risk lists at most hvc.config.at_risk_share of them for their churn risk. Set by every refresh (for a snapshot of 0.1.0, by the upgrade).';
COMMENT ON COLUMN hvc.snapshot_info.premium_ticket_from IS '80th percentile (percentile_cont, exact to 3 decimals) of avg_order_value over the snapshot''s customers: tickets at or above it are premium (value_profile).';

CREATE TABLE hvc.pareto_points (
    customer_percentile    integer PRIMARY KEY CHECK (customer_percentile BETWEEN 1 AND 100),
    cumulative_value_share float8
);
SELECT pg_catalog.pg_extension_config_dump('hvc.pareto_points', '');
COMMENT ON TABLE hvc.pareto_points IS 'Internal store of hvc.pareto_curve, rebuilt by every refresh.';
COMMENT ON COLUMN hvc.pareto_points.customer_percentile IS 'Top p percent of customers by value rank.';
COMMENT ON COLUMN hvc.pareto_points.cumulative_value_share IS 'Share of total value held by them.';

CREATE OR REPLACE VIEW hvc.pareto_curve AS
    SELECT customer_percentile, cumulative_value_share
      FROM hvc.pareto_points;
COMMENT ON VIEW hvc.pareto_curve IS 'Pareto (Lorenz) curve: the share of total value held by the top 1..100 percent of customers. NULL shares when total value is not positive.';
COMMENT ON COLUMN hvc.pareto_curve.customer_percentile IS 'Top p percent of customers by value rank (1..100).';
COMMENT ON COLUMN hvc.pareto_curve.cumulative_value_share IS 'Share of total value (hvc.snapshot_info.value_basis) held by those customers.';

-- What the last hvc._build_snapshot of this session computed besides the
-- rows: the statements after it (tier history, pareto_points, snapshot_info)
-- read these instead of scanning the new snapshot again.
CREATE OR REPLACE FUNCTION hvc._snapshot_stats(refresh_id bigint, OUT customers bigint, OUT moved bigint,
                                               OUT kept bigint, OUT premium_ticket_from float8,
                                               OUT median_repeat_gap_days float8, OUT pareto float8[],
                                               OUT replaced bigint, OUT cohorts bytea,
                                               OUT max_tenure_days integer, OUT drops bigint,
                                               OUT drop_ids jsonb[], OUT table_was_empty boolean,
                                               OUT high_value_customers bigint)
AS 'MODULE_PATHNAME', 'hvc_snapshot_stats' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION hvc._snapshot_stats(bigint) IS
    'Internal: what this session''s last hvc._build_snapshot computed for refresh refresh_id: customers, rows whose tier_since is the refresh (moved), rows not new (kept), percentile_cont(0.8) of avg_order_value, percentile_cont(0.5) of avg_days_between_orders, the cumulative value share at the value rank of the top 1..100 percent (NULL without customers), how many old rows hvc._write_snapshot updated in place (0 after hvc._build_snapshot), the cohort counts of hvc.cohort_retention (read with hvc._cohort_rows), the greatest tenure_days (days from the earliest first purchase day to as_of; NULL without customers), the tier drops of the alert (moves down out of a high-value tier, reason activity, as written to hvc.tier_history) and the keys (to_jsonb) of the ten most valuable of them, by value rank, and whether hvc._write_snapshot found hvc.customer_snapshot without a page before it wrote (no rows of an earlier snapshot to delete; false after hvc._build_snapshot), and the rows of a high-value tier. An error when it built none for that refresh.';

-- ---------------------------------------------------------------------------
-- Objects created at run time belong to the extension.  register_source
-- creates the customer-typed tables and views long after CREATE EXTENSION:
-- they cannot be extension members (members are not dumped with their data),
-- so each gets a normal dependency on the extension instead.  DROP EXTENSION
-- hvc then refuses while they exist and DROP EXTENSION hvc CASCADE drops
-- them; pg_dump dumps them (after CREATE EXTENSION).  pg_restore does not
-- restore dependencies on an extension: the restored hvc.source row (a
-- source is registered whenever these objects exist; table data is restored
-- after every table and view is created) attaches them again, and so does
-- every refresh.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc._depend_on_extension(rel regclass) RETURNS boolean
AS 'MODULE_PATHNAME', 'hvc_depend_on_extension' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION hvc._depend_on_extension(regclass) IS
    'Internal: records that a table, view or sequence of schema hvc (owned by the caller) depends on extension hvc, so DROP EXTENSION hvc CASCADE drops it; false when it did already.';

-- Every relation of schema hvc that is not an extension member (indexes,
-- TOAST tables and owned sequences go with their table) and that the caller
-- owns (what register_source or a restore just created; another role's own
-- table in schema hvc is left to that role).  Returns how many were
-- attached now.
CREATE OR REPLACE FUNCTION hvc._attach_runtime_objects() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel regclass;
    n integer := 0;
BEGIN
    FOR rel IN
        SELECT c.oid
          FROM pg_class c
          JOIN pg_extension e ON e.extname = 'hvc' AND e.extnamespace = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')
           AND pg_has_role(c.relowner, 'USAGE')
           AND NOT EXISTS (SELECT FROM pg_depend d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND (d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
                                   OR d.deptype IN ('a', 'i')))
         ORDER BY c.oid
    LOOP
        IF hvc._depend_on_extension(rel) THEN
            n := n + 1;
        END IF;
    END LOOP;
    RETURN n;
END $$;
COMMENT ON FUNCTION hvc._attach_runtime_objects() IS
    'Internal: gives every table, view and sequence of schema hvc that register_source created (not an extension member) a dependency on extension hvc; returns how many it attached.';

-- Whenever a source is registered or a snapshot written (and when a dump
-- restores hvc.source and hvc.snapshot_info, after every table and view is
-- back), the run-time objects are attached again: this also mends what
-- pg_upgrade, which keeps no dependency on an extension either, left behind,
-- at the next refresh.  A role without the right to attach skips it.
CREATE OR REPLACE FUNCTION hvc._attach_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF has_function_privilege('hvc._attach_runtime_objects()', 'EXECUTE')
       AND has_function_privilege('hvc._depend_on_extension(regclass)', 'EXECUTE') THEN
        PERFORM hvc._attach_runtime_objects();
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION hvc._attach_trigger() IS
    'Internal: AFTER INSERT statement trigger of hvc.source and hvc.snapshot_info: a registration, a refresh or the restore of a dump ties the run-time objects to the extension.';
CREATE TRIGGER source_attach AFTER INSERT ON hvc.source
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._attach_trigger();
CREATE TRIGGER snapshot_info_attach AFTER INSERT ON hvc.snapshot_info
    FOR EACH STATEMENT EXECUTE FUNCTION hvc._attach_trigger();

-- hvc.tier_summary: created or replaced in place (same columns: GRANTs and
-- users' dependent views stay), by hvc._create_summary_views and by the
-- upgrade.  One read of the snapshot: the totals the shares divide by are
-- sums over the tiers' groups (a second read of every row for them made the
-- view cost twice as much, and its estimate crossed jit_above_cost at
-- 500 000 customers: 0.43-0.50 s against 0.18-0.20 s).
CREATE OR REPLACE FUNCTION hvc._create_tier_summary_view() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    CREATE OR REPLACE VIEW hvc.tier_summary AS
    SELECT g.tier,
           g.tier_rank,
           g.customers,
           g.customers::float8 / (sum(g.customers) OVER ())::float8      AS customer_share,
           g.revenue::numeric(28,2)                                      AS revenue,
           (g.revenue / nullif(sum(g.revenue) OVER (), 0))::float8       AS revenue_share,
           g.margin::numeric(28,2)                                       AS margin,
           g.predicted_clv::numeric(28,2)                                AS predicted_clv,
           g.avg_churn_risk,
           g.is_high_value
      FROM (SELECT c.tier, c.tier_rank,
                   count(*)::bigint           AS customers,
                   sum(c.revenue)             AS revenue,
                   sum(c.margin)              AS margin,
                   sum(c.predicted_clv)       AS predicted_clv,
                   avg(c.churn_risk)          AS avg_churn_risk,
                   bool_and(c.is_high_value)  AS is_high_value
              FROM hvc.customer_snapshot c
             GROUP BY c.tier, c.tier_rank) g;
    COMMENT ON VIEW hvc.tier_summary IS 'Customers, revenue, margin, predicted CLV and churn risk per tier of the current snapshot.';
    COMMENT ON COLUMN hvc.tier_summary.tier IS 'Tier name.';
    COMMENT ON COLUMN hvc.tier_summary.tier_rank IS 'Tier rank (1 = best).';
    COMMENT ON COLUMN hvc.tier_summary.customers IS 'Customers in the tier.';
    COMMENT ON COLUMN hvc.tier_summary.customer_share IS 'Share of all customers.';
    COMMENT ON COLUMN hvc.tier_summary.revenue IS 'Net revenue of the tier''s customers.';
    COMMENT ON COLUMN hvc.tier_summary.revenue_share IS 'Share of total net revenue (NULL when the total is 0).';
    COMMENT ON COLUMN hvc.tier_summary.margin IS 'Net margin (NULL without a margin column).';
    COMMENT ON COLUMN hvc.tier_summary.predicted_clv IS 'Sum of predicted CLV (NULL without a fitted model).';
    COMMENT ON COLUMN hvc.tier_summary.avg_churn_risk IS 'Mean churn risk (NULL without a fitted model).';
    COMMENT ON COLUMN hvc.tier_summary.is_high_value IS 'Whether the tier counts as high-value.';
END $fn$;
COMMENT ON FUNCTION hvc._create_tier_summary_view() IS
    'Internal: creates or replaces the view hvc.tier_summary (called by hvc._create_summary_views and by upgrades).';

-- The per-tier and per-segment summaries of the snapshot (part of
-- hvc._create_snapshot_objects, which drops them first).
CREATE OR REPLACE FUNCTION hvc._create_summary_views() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
BEGIN
    PERFORM hvc._create_tier_summary_view();

    CREATE VIEW hvc.segment_summary AS
    SELECT segment,
           count(*)::bigint                                   AS customers,
           sum(orders)::bigint                                AS orders,
           sum(revenue)::numeric(28,2)                        AS revenue,
           (sum(revenue) / nullif(sum(orders), 0))::numeric(20,2) AS avg_order_value,
           avg(recency_days)::float8                          AS avg_recency_days
      FROM hvc.customer_snapshot
     GROUP BY segment;
    COMMENT ON VIEW hvc.segment_summary IS 'Customers, orders, revenue, average order value and recency per RFM segment of the current snapshot.';
    COMMENT ON COLUMN hvc.segment_summary.segment IS 'RFM segment (hvc.rfm_segments, or Others).';
    COMMENT ON COLUMN hvc.segment_summary.customers IS 'Customers in the segment.';
    COMMENT ON COLUMN hvc.segment_summary.orders IS 'Their orders.';
    COMMENT ON COLUMN hvc.segment_summary.revenue IS 'Their net revenue.';
    COMMENT ON COLUMN hvc.segment_summary.avg_order_value IS 'revenue / orders.';
    COMMENT ON COLUMN hvc.segment_summary.avg_recency_days IS 'Mean days since the last purchase.';
END $fn$;
COMMENT ON FUNCTION hvc._create_summary_views() IS
    'Internal: creates hvc.tier_summary and hvc.segment_summary over hvc.customer_snapshot (called by hvc._create_snapshot_objects).';

-- (Re)create the customer-typed objects.  Called by register_source when the
-- customer type changes; refuses (with PostgreSQL's dependency error) when
-- a user's own view depends on them.
CREATE OR REPLACE FUNCTION hvc._create_snapshot_objects(customer_type regtype) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $fn$
DECLARE
    sharded boolean;
BEGIN
    DROP VIEW IF EXISTS hvc.customers, hvc.tier_summary, hvc.segment_summary,
                        hvc.at_risk, hvc.value_profiles, hvc.value_profile_summary;
    PERFORM hvc._citus_drop_sharded_snapshot();     -- 97_citus_snapshot.sql
    DROP TABLE IF EXISTS hvc.customer_snapshot;
    DELETE FROM hvc.snapshot_info;
    DELETE FROM hvc.pareto_points;
    -- on Citus, a source distributed by the customer column gets its
    -- snapshot rows on the workers: hvc.customer_snapshot_rows, and
    -- hvc.customer_snapshot a view of the current refresh's (97_citus_snapshot.sql)
    sharded := hvc._citus_shards_snapshot();

    EXECUTE format($ddl$
    CREATE TABLE %s (
        customer_id             %s NOT NULL,
        first_order_at          timestamptz NOT NULL,
        last_order_at           timestamptz NOT NULL,
        orders                  bigint NOT NULL,
        purchase_days           integer NOT NULL,
        refunds                 bigint NOT NULL,
        revenue                 numeric(20,2) NOT NULL,
        margin                  numeric(20,2),
        avg_order_value         numeric(20,2),
        tenure_days             integer NOT NULL,
        recency_days            integer NOT NULL,
        avg_days_between_orders float8,
        frequency               integer NOT NULL,
        recency                 float8 NOT NULL,
        age                     float8 NOT NULL,
        monetary_value          float8 NOT NULL,
        r_score                 integer NOT NULL,
        f_score                 integer NOT NULL,
        m_score                 integer NOT NULL,
        rfm_cell                text NOT NULL,
        segment                 text NOT NULL,
        historic_clv            numeric(20,2) NOT NULL,
        p_alive                 float8,
        churn_risk              float8,
        predicted_orders        float8,
        expected_order_value    numeric(20,2),
        predicted_clv           numeric(20,2),
        expected_next_order_at  date,
        value                   numeric(20,2),
        value_rank              bigint NOT NULL,
        cumulative_value_share  float8,
        tier                    text NOT NULL,
        tier_rank               integer NOT NULL,
        is_high_value           boolean NOT NULL,
        previous_tier           text,
        tier_since              timestamptz NOT NULL,
        refresh_id              bigint NOT NULL,
        churn_percentile        float8
    ) WITH (fillfactor = %s)$ddl$,
        CASE WHEN sharded THEN 'hvc.customer_snapshot_rows' ELSE 'hvc.customer_snapshot' END,
        customer_type, CASE WHEN sharded THEN 100 ELSE 50 END);
    -- Half of each page stays free: a refresh writes a customer already in
    -- the snapshot as an update of the old row (src/snapshot_write.c), which
    -- is HOT (same page, no new index entry) when the page has room; once the
    -- previous refresh's versions are pruned it has.
    IF NOT sharded THEN
        COMMENT ON TABLE hvc.customer_snapshot IS 'Internal store of hvc.customers; replaced atomically by each refresh. Query hvc.customers instead.';
    END IF;
    -- A plain (not unique) index: keys are unique by construction (GROUP BY),
    -- and a unique index would recheck every new key against its deleted twin
    -- at each refresh, which costs more than the rest of the write.
    IF sharded THEN
        PERFORM hvc._citus_create_sharded_snapshot();
    ELSE
        CREATE INDEX customer_snapshot_customer ON hvc.customer_snapshot (customer_id);
    END IF;

    CREATE VIEW hvc.customers AS
    SELECT s.customer_id, s.first_order_at, s.last_order_at, s.orders, s.revenue, s.margin,
           s.avg_order_value, s.tenure_days, s.recency_days, s.avg_days_between_orders,
           s.r_score, s.f_score, s.m_score, s.rfm_cell, s.segment, s.historic_clv,
           s.p_alive, s.churn_risk, s.predicted_orders, s.expected_order_value, s.predicted_clv,
           s.expected_next_order_at, s.value_rank, s.cumulative_value_share,
           s.tier, s.tier_rank, s.is_high_value, s.previous_tier, s.tier_since,
           s.purchase_days, s.refunds, s.frequency, s.recency, s.age, s.monetary_value, s.value,
           CASE WHEN s.tenure_days < 90 THEN 'new'
                WHEN s.f_score >= 4 AND s.avg_order_value >= i.premium_ticket_from THEN 'frequent_premium'
                WHEN s.f_score >= 4 THEN 'frequent'
                WHEN s.avg_order_value >= i.premium_ticket_from THEN 'premium'
                ELSE 'occasional' END AS value_profile
      FROM hvc.customer_snapshot s
      LEFT JOIN (SELECT premium_ticket_from FROM hvc.snapshot_info LIMIT 1) i ON true;
    COMMENT ON VIEW hvc.customers IS 'One row per customer with at least one purchase, as of the last successful refresh (hvc.snapshot_info).';
    COMMENT ON COLUMN hvc.customers.customer_id IS 'Customer key, of the source column''s type.';
    COMMENT ON COLUMN hvc.customers.first_order_at IS 'Time of the first purchase (date sources: midnight in hvc.config.timezone).';
    COMMENT ON COLUMN hvc.customers.last_order_at IS 'Time of the last purchase up to as_of.';
    COMMENT ON COLUMN hvc.customers.orders IS 'Orders: distinct order ids of purchase rows when order_id is mapped (a purchase row without an id counts as one order), else purchase rows. Refund rows (amount < 0) are not orders.';
    COMMENT ON COLUMN hvc.customers.revenue IS 'Net revenue: sum of amounts, refunds included (negative).';
    COMMENT ON COLUMN hvc.customers.margin IS 'Net contribution margin (NULL when no margin column is mapped).';
    COMMENT ON COLUMN hvc.customers.avg_order_value IS 'revenue / orders.';
    COMMENT ON COLUMN hvc.customers.tenure_days IS 'Days from the first purchase day to the as_of day.';
    COMMENT ON COLUMN hvc.customers.recency_days IS 'Days from the last purchase day to the as_of day.';
    COMMENT ON COLUMN hvc.customers.avg_days_between_orders IS 'Mean gap in days between distinct purchase days (NULL with a single purchase day).';
    COMMENT ON COLUMN hvc.customers.r_score IS 'Recency score 1-5 (5 = most recent), tie-preserving quintile breaks of the last purchase day.';
    COMMENT ON COLUMN hvc.customers.f_score IS 'Frequency score 1-5, tie-preserving quintile breaks of orders.';
    COMMENT ON COLUMN hvc.customers.m_score IS 'Monetary score 1-5, tie-preserving quintile breaks of revenue.';
    COMMENT ON COLUMN hvc.customers.rfm_cell IS 'The three scores as text, e.g. ''545''.';
    COMMENT ON COLUMN hvc.customers.segment IS 'First matching rule of hvc.rfm_segments by priority, or ''Others''.';
    COMMENT ON COLUMN hvc.customers.historic_clv IS 'Value realised so far: net margin when a margin column is mapped, else net revenue.';
    COMMENT ON COLUMN hvc.customers.p_alive IS 'The purchase model''s own P(alive): the probability that the customer has not dropped out (under BG/NBD 1 for every one-time buyer); NULL without a fitted model. For the risk of buying nothing soon use churn_risk.';
    COMMENT ON COLUMN hvc.customers.churn_risk IS 'Probability that the customer makes no purchase in the next hvc.config.churn_window_days (default 90) given their history, under the purchase model (hvc.p_no_purchase); since 0.2.0 (it was 1 - p_alive). NULL without a fitted model.';
    COMMENT ON COLUMN hvc.customers.predicted_orders IS 'Expected purchases within the horizon (hvc.config.horizon_days, else horizon_months); NULL without a fitted model.';
    COMMENT ON COLUMN hvc.customers.expected_order_value IS 'Expected value per future purchase (Gamma-Gamma); NULL without a fitted spend model.';
    COMMENT ON COLUMN hvc.customers.predicted_clv IS 'Discounted expected value over the horizon (monthly discounting); NULL without fitted models.';
    COMMENT ON COLUMN hvc.customers.expected_next_order_at IS 'as_of day + median waiting time to the next purchase if still active; NULL without a fitted model.';
    COMMENT ON COLUMN hvc.customers.value_rank IS '1 = most valuable by the snapshot''s value basis (ties broken by customer_id).';
    COMMENT ON COLUMN hvc.customers.cumulative_value_share IS 'Share of total value held by customers ranked at or above this one (NULL when total value is not positive).';
    COMMENT ON COLUMN hvc.customers.tier IS 'Tier from hvc.tier_rules by value_rank.';
    COMMENT ON COLUMN hvc.customers.tier_rank IS 'Rank of the tier (1 = best).';
    COMMENT ON COLUMN hvc.customers.is_high_value IS 'Whether the tier counts as high-value.';
    COMMENT ON COLUMN hvc.customers.previous_tier IS 'Tier held before the current one (NULL if the customer never changed tier).';
    COMMENT ON COLUMN hvc.customers.tier_since IS 'When the customer entered the current tier (the refresh that first put them there).';
    COMMENT ON COLUMN hvc.customers.purchase_days IS 'Distinct purchase days.';
    COMMENT ON COLUMN hvc.customers.refunds IS 'Refund rows (amount < 0).';
    COMMENT ON COLUMN hvc.customers.frequency IS 'BTYD frequency: purchase days - 1 (repeat purchases).';
    COMMENT ON COLUMN hvc.customers.recency IS 'BTYD recency: first to last purchase day, in hvc.config.time_unit.';
    COMMENT ON COLUMN hvc.customers.age IS 'BTYD age (T): first purchase day to as_of day, in hvc.config.time_unit.';
    COMMENT ON COLUMN hvc.customers.monetary_value IS 'Mean net spend of repeat purchase days (revenue less first-day purchases, / frequency); 0 without repeats.';
    COMMENT ON COLUMN hvc.customers.value IS 'The value value_rank ranks by (see hvc.snapshot_info.value_basis).';
    COMMENT ON COLUMN hvc.customers.value_profile IS 'How the customer buys, first matching rule: new (tenure_days < 90), frequent_premium (f_score >= 4 and avg_order_value >= hvc.snapshot_info.premium_ticket_from, the 80th percentile), frequent (f_score >= 4), premium (avg_order_value >= that percentile), occasional (everyone else).';

    PERFORM hvc._create_summary_views();
    PERFORM hvc._create_history_objects(customer_type);
    PERFORM hvc._create_operations_objects(customer_type);
    PERFORM hvc._attach_runtime_objects();
END $fn$;
COMMENT ON FUNCTION hvc._create_snapshot_objects(regtype) IS
    'Internal: (re)creates hvc.customer_snapshot and the views over it for a customer key type.';

-- The fits the current snapshot's predictions were made with.
CREATE OR REPLACE FUNCTION hvc.current_model() RETURNS SETOF hvc.model_fit
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT f.*
      FROM hvc.model_fit f
     WHERE f.fit_id IN (SELECT i.purchase_fit_id FROM hvc.snapshot_info i
                        UNION ALL
                        SELECT i.spend_fit_id FROM hvc.snapshot_info i)
     ORDER BY f.fit_id
$$;
COMMENT ON FUNCTION hvc.current_model() IS
    'The hvc.model_fit rows (purchase model, then Gamma-Gamma) whose parameters the current snapshot''s predictions were made with: the refresh''s own fits, or the last good fits it fell back to (hvc.snapshot_info.fallback). No rows without predictions.';
