-- ---------------------------------------------------------------------------
-- The one-pass per-customer summary aggregate (src/customer_summary.c).
-- ---------------------------------------------------------------------------

CREATE TYPE hvc.customer_summary_result AS (
    rows_read         bigint,
    rows_skipped      bigint,
    orders            bigint,
    purchase_rows     bigint,
    refund_rows       bigint,
    purchase_days     integer,
    frequency         integer,
    recency_days      integer,
    first_order_local timestamp,
    last_order_local  timestamp,
    revenue           numeric,
    margin            numeric,
    monetary_value    float8
);
COMMENT ON TYPE hvc.customer_summary_result IS
    'One customer''s summary from hvc.customer_summary(): row counts, orders (distinct order ids of purchase rows, or purchase rows), distinct purchase days, BTYD frequency (purchase days - 1) and recency in days, first/last purchase as local timestamps, net revenue and margin (exact to 0.0001), and the mean spend of repeat purchase days.';

CREATE OR REPLACE FUNCTION hvc._customer_summary_transfn(internal, "any", "any", "any", "any", timestamp, text)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_customer_summary_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_transfn(internal, "any", "any", "any", "any", timestamp, text) IS
    'Internal: transition function of hvc.customer_summary.';

CREATE OR REPLACE FUNCTION hvc._customer_summary_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_customer_summary_combinefn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_combinefn(internal, internal) IS
    'Internal: combine function of hvc.customer_summary (merges partial states exactly).';

CREATE OR REPLACE FUNCTION hvc._customer_summary_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_customer_summary_serialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_serialfn(internal) IS
    'Internal: serialise function of hvc.customer_summary.';

CREATE OR REPLACE FUNCTION hvc._customer_summary_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'hvc_customer_summary_deserialfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_deserialfn(bytea, internal) IS
    'Internal: deserialise function of hvc.customer_summary; rejects any malformed state with an error.';

CREATE OR REPLACE FUNCTION hvc._customer_summary_finalfn(internal)
RETURNS hvc.customer_summary_result AS 'MODULE_PATHNAME', 'hvc_customer_summary_finalfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_summary_finalfn(internal) IS
    'Internal: final function of hvc.customer_summary.';

CREATE OR REPLACE AGGREGATE hvc.customer_summary(ordered_at "any", amount "any", margin "any",
                                      order_id "any", as_of timestamp, timezone text) (
    SFUNC = hvc._customer_summary_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._customer_summary_combinefn,
    SERIALFUNC = hvc._customer_summary_serialfn,
    DESERIALFUNC = hvc._customer_summary_deserialfn,
    FINALFUNC = hvc._customer_summary_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.customer_summary("any", "any", "any", "any", timestamp, text) IS
    'Per-customer summary in one pass (use with GROUP BY customer): ordered_at date/timestamp/timestamptz, amount and margin integer/float/numeric (negative = refund; pass NULL::numeric for no margin), order_id any hashable type (NULL::int when unmapped), as_of as a local timestamp, timezone the zone of purchase days. Rows with NULL time or amount, NaN/Infinity amounts or times after as_of are counted in rows_skipped.';

CREATE OR REPLACE FUNCTION hvc._customer_state_finalfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_customer_state_finalfn'
LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._customer_state_finalfn(internal) IS
    'Internal: final function of hvc.customer_state (the serialised state).';

CREATE OR REPLACE AGGREGATE hvc.customer_state(ordered_at "any", amount "any", margin "any",
                                    order_id "any", as_of timestamp, timezone text) (
    SFUNC = hvc._customer_summary_transfn,
    STYPE = internal,
    COMBINEFUNC = hvc._customer_summary_combinefn,
    SERIALFUNC = hvc._customer_summary_serialfn,
    DESERIALFUNC = hvc._customer_summary_deserialfn,
    FINALFUNC = hvc._customer_state_finalfn,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.customer_state("any", "any", "any", "any", timestamp, text) IS
    'Same inputs as hvc.customer_summary, but returns the compact serialised per-customer state (bytea) so it can be stored and summarised later with hvc.customer_state_summary().';

CREATE OR REPLACE FUNCTION hvc.customer_state_summary(state bytea)
RETURNS hvc.customer_summary_result AS 'MODULE_PATHNAME', 'hvc_customer_state_summary'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hvc.customer_state_summary(bytea) IS
    'Summarise a state made by hvc.customer_state(); every byte is validated and a malformed state raises data_corrupted.';
