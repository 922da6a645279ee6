-- ---------------------------------------------------------------------------
-- The model-fitting aggregates with a bytea state (src/ship_aggs.c): same
-- results as hvc.bgnbd_fit & co., but their state is a plain bytea, so an
-- engine that ships partial states by their text form can compute them next
-- to the data: on Citus 12.1 (which refuses to combine aggregates whose
-- state type is internal) each worker aggregates its shards and the
-- coordinator only combines the states and runs the fit.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION hvc._btyd_ship_transfn(bytea, bigint, float8, float8)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_btyd_ship_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_ship_transfn(bytea, bigint, float8, float8) IS
    'Internal: transition function of hvc.bgnbd_fit_distributed & co. (the state of hvc.bgnbd_fit, as bytea).';

CREATE OR REPLACE FUNCTION hvc._btyd_ship_combinefn(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_btyd_ship_combinefn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._btyd_ship_combinefn(bytea, bytea) IS
    'Internal: combine function of hvc.bgnbd_fit_distributed & co.; a serialised state is validated like hvc._btyd_state_check does.';

CREATE OR REPLACE FUNCTION hvc._bgnbd_ship_finalfn(bytea)
RETURNS hvc.bgnbd AS 'MODULE_PATHNAME', 'hvc_bgnbd_ship_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._bgnbd_ship_finalfn(bytea) IS 'Internal: final function of hvc.bgnbd_fit_distributed.';

CREATE OR REPLACE FUNCTION hvc._pareto_nbd_ship_finalfn(bytea)
RETURNS hvc.pareto_nbd AS 'MODULE_PATHNAME', 'hvc_pareto_nbd_ship_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._pareto_nbd_ship_finalfn(bytea) IS 'Internal: final function of hvc.pareto_nbd_fit_distributed.';

CREATE OR REPLACE FUNCTION hvc._mbgnbd_ship_finalfn(bytea)
RETURNS hvc.mbgnbd AS 'MODULE_PATHNAME', 'hvc_mbgnbd_ship_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._mbgnbd_ship_finalfn(bytea) IS 'Internal: final function of hvc.mbgnbd_fit_distributed.';

CREATE OR REPLACE FUNCTION hvc._gg_ship_transfn(bytea, bigint, float8)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_gg_ship_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gg_ship_transfn(bytea, bigint, float8) IS
    'Internal: transition function of hvc.gamma_gamma_fit_distributed (the state of hvc.gamma_gamma_fit, as bytea).';

CREATE OR REPLACE FUNCTION hvc._gg_ship_combinefn(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'hvc_gg_ship_combinefn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gg_ship_combinefn(bytea, bytea) IS
    'Internal: combine function of hvc.gamma_gamma_fit_distributed; a serialised state is validated like hvc._gamma_gamma_state_check does.';

CREATE OR REPLACE FUNCTION hvc._gamma_gamma_ship_finalfn(bytea)
RETURNS hvc.gamma_gamma AS 'MODULE_PATHNAME', 'hvc_gamma_gamma_ship_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION hvc._gamma_gamma_ship_finalfn(bytea) IS 'Internal: final function of hvc.gamma_gamma_fit_distributed.';

CREATE OR REPLACE AGGREGATE hvc.bgnbd_fit_distributed(frequency bigint, recency float8, age float8) (
    SFUNC = hvc._btyd_ship_transfn,
    STYPE = bytea,
    COMBINEFUNC = hvc._btyd_ship_combinefn,
    FINALFUNC = hvc._bgnbd_ship_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.bgnbd_fit_distributed(bigint, float8, float8) IS
    'hvc.bgnbd_fit with a bytea state (same arguments, same result): on a Citus distributed table each worker aggregates its shards and the coordinator combines the states and fits.';

CREATE OR REPLACE AGGREGATE hvc.pareto_nbd_fit_distributed(frequency bigint, recency float8, age float8) (
    SFUNC = hvc._btyd_ship_transfn,
    STYPE = bytea,
    COMBINEFUNC = hvc._btyd_ship_combinefn,
    FINALFUNC = hvc._pareto_nbd_ship_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.pareto_nbd_fit_distributed(bigint, float8, float8) IS
    'hvc.pareto_nbd_fit with a bytea state (same arguments, same result): on a Citus distributed table each worker aggregates its shards and the coordinator combines the states and fits.';

CREATE OR REPLACE AGGREGATE hvc.mbgnbd_fit_distributed(frequency bigint, recency float8, age float8) (
    SFUNC = hvc._btyd_ship_transfn,
    STYPE = bytea,
    COMBINEFUNC = hvc._btyd_ship_combinefn,
    FINALFUNC = hvc._mbgnbd_ship_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.mbgnbd_fit_distributed(bigint, float8, float8) IS
    'hvc.mbgnbd_fit with a bytea state (same arguments, same result): on a Citus distributed table each worker aggregates its shards and the coordinator combines the states and fits.';

CREATE OR REPLACE AGGREGATE hvc.gamma_gamma_fit_distributed(frequency bigint, monetary float8) (
    SFUNC = hvc._gg_ship_transfn,
    STYPE = bytea,
    COMBINEFUNC = hvc._gg_ship_combinefn,
    FINALFUNC = hvc._gamma_gamma_ship_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE hvc.gamma_gamma_fit_distributed(bigint, float8) IS
    'hvc.gamma_gamma_fit with a bytea state (same arguments, same result): on a Citus distributed table each worker aggregates its shards and the coordinator combines the states and fits.';
