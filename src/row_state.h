/*
 * row_state.h — what src/ship_aggs.c needs of the model aggregates' states
 * (src/model_aggs.c).
 */
#ifndef HVC_ROW_STATE_H
#define HVC_ROW_STATE_H

#include "postgres.h"

extern bytea *hvc_row_state_serialize(void *state, bool gg);

/* the state functions of the internal-state aggregates (model_aggs.c) */
extern Datum hvc_btyd_transfn(PG_FUNCTION_ARGS);
extern Datum hvc_btyd_combinefn(PG_FUNCTION_ARGS);
extern Datum hvc_btyd_deserialfn(PG_FUNCTION_ARGS);
extern Datum hvc_gg_transfn(PG_FUNCTION_ARGS);
extern Datum hvc_gg_combinefn(PG_FUNCTION_ARGS);
extern Datum hvc_gg_deserialfn(PG_FUNCTION_ARGS);
extern Datum hvc_bgnbd_finalfn(PG_FUNCTION_ARGS);
extern Datum hvc_pareto_nbd_finalfn(PG_FUNCTION_ARGS);
extern Datum hvc_mbgnbd_finalfn(PG_FUNCTION_ARGS);
extern Datum hvc_gamma_gamma_finalfn(PG_FUNCTION_ARGS);

#endif
