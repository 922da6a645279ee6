-- The snapshot on the Citus workers (sql/parts/97_citus_snapshot.sql): the
-- row type of what each worker computes per customer.
CREATE TYPE hvc._citus_score AS (
    value_cents bigint,
    first_day   integer,
    last_day    integer,
    orders      bigint,
    frequency   integer,
    revenue     bigint,
    churn_risk  float8,
    prediction  float8[]
);

-- what the workers need of the whole snapshot, one row per node during a refresh
CREATE TABLE hvc.citus_globals (refresh_id bigint NOT NULL, hash_min integer NOT NULL,
                                hash_max integer NOT NULL, globals bytea NOT NULL);
ALTER TABLE hvc.citus_globals ALTER COLUMN globals SET STORAGE EXTERNAL;
COMMENT ON TABLE hvc.citus_globals IS
    'Internal: on each node of a Citus cluster, what the workers need of the whole snapshot to write their rows (hvc._citus_globals), one row per shard of the node (its range of shard hash values), during a refresh only.';
COMMENT ON COLUMN hvc.citus_globals.refresh_id IS 'The refresh the globals are of.';
COMMENT ON COLUMN hvc.citus_globals.hash_min IS 'The first shard hash value of the shard (Citus''s hash range) whose customers the row holds.';
COMMENT ON COLUMN hvc.citus_globals.hash_max IS 'The last shard hash value of that shard.';
COMMENT ON COLUMN hvc.citus_globals.globals IS 'Per customer of the shard: value rank, cumulative value share, RFM scores, churn percentile (src/citus_globals.h).';
REVOKE ALL ON hvc.citus_globals FROM PUBLIC;

-- A snapshot row without its key: what hvc._citus_snapshot_row returns (the
-- key comes from the stage; a named type, so that Citus pushes the
-- statement down to the shards; hvc.customer_snapshot's columns after
-- customer_id, checked by the citus_predict test).
CREATE TYPE hvc._citus_snapshot_cols AS (
        first_order_at          timestamptz,
        last_order_at           timestamptz,
        orders                  bigint,
        purchase_days           integer,
        refunds                 bigint,
        revenue                 numeric(20,2),
        margin                  numeric(20,2),
        avg_order_value         numeric(20,2),
        tenure_days             integer,
        recency_days            integer,
        avg_days_between_orders float8,
        frequency               integer,
        recency                 float8,
        age                     float8,
        monetary_value          float8,
        r_score                 integer,
        f_score                 integer,
        m_score                 integer,
        rfm_cell                text,
        segment                 text,
        historic_clv            numeric(20,2),
        p_alive                 float8,
        churn_risk              float8,
        predicted_orders        float8,
        expected_order_value    numeric(20,2),
        predicted_clv           numeric(20,2),
        expected_next_order_at  date,
        value                   numeric(20,2),
        value_rank              bigint,
        cumulative_value_share  float8,
        tier                    text,
        tier_rank               integer,
        is_high_value           boolean,
        previous_tier           text,
        tier_since              timestamptz,
        refresh_id              bigint,
        churn_percentile        float8
);
