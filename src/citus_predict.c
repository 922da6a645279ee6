/*
 * citus_predict.c — the per-customer predictions of a refresh, row by row,
 * so that on a Citus cluster they are computed on the workers next to the
 * shards of the distributed stage (96_citus_refresh.sql):
 *
 *   hvc._citus_predict(state bytea, m hvc._model_params, as_of_day date)
 *     RETURNS float8[]   (see citus_predict.h; NULL for a state without a
 *                         purchase row or when the purchase model is unusable)
 *
 * The same code as the builder's (stage_customer_fill, forecast_predict with
 * its per-triple cache, kept for the duration of a query in fn_extra), so the
 * numbers are the builder's to the bit; the builder reads them back instead
 * of predicting (snapshot_builder.c, pass 1).
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/memutils.h"

#include "citus_predict.h"
#include "snapshot.h"

PG_FUNCTION_INFO_V1(hvc_citus_predict);

ArrayType *
prediction_to_array(const Prediction *p)
{
	Datum		d[PREDICTION_FIELDS];

	d[0] = Float8GetDatum(p->p_alive);
	d[1] = Float8GetDatum(p->churn_risk);
	d[2] = Float8GetDatum(p->predicted_orders);
	d[3] = Float8GetDatum(p->expected_order_value);
	d[4] = Float8GetDatum(p->predicted_clv);
	d[5] = Float8GetDatum(p->next_order_in);
	return construct_array(d, PREDICTION_FIELDS, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
						   TYPALIGN_DOUBLE);
}

void
prediction_from_array(ArrayType *a, Prediction *p)
{
	const float8 *v;

	if (ARR_ELEMTYPE(a) != FLOAT8OID || ARR_NDIM(a) != 1 || ARR_HASNULL(a) ||
		ARR_DIMS(a)[0] != PREDICTION_FIELDS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("hvc: a precomputed prediction must be a float8[%d] without NULLs", PREDICTION_FIELDS),
				 errhint("hvc.refresh() computes them with hvc._citus_predict; do not fill pg_temp._hvc_predictions by hand.")));
	v = (const float8 *) ARR_DATA_PTR(a);
	p->p_alive = v[0];
	p->churn_risk = v[1];
	p->predicted_orders = v[2];
	p->expected_order_value = v[3];
	p->predicted_clv = v[4];
	p->next_order_in = v[5];
}

/*
 * The models and their forecast cache for one call site (fn_extra), rebuilt
 * when the models or the day change: shared by hvc._citus_predict and
 * hvc._citus_score (citus_rows.c).
 */
ModelCache *
model_cache_get(FmgrInfo *flinfo, HeapTupleHeader params, DateADT as_of_day)
{
	ModelCache *mc = flinfo->fn_extra;
	Size		len = HeapTupleHeaderGetDatumLength(params);
	MemoryContext old;

	if (mc != NULL && mc->as_of_day == as_of_day && VARSIZE(mc->params) == len &&
		memcmp(mc->params, params, len) == 0)
		return mc;
	stage_check_as_of_day(as_of_day);
	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	if (mc == NULL)
		mc = palloc0(sizeof(ModelCache));
	else
	{
		pfree(mc->params);
		/* the old forecast cache stays in fn_mcxt until the query ends */
	}
	mc->params = palloc(len);
	memcpy(mc->params, params, len);
	mc->as_of_day = as_of_day;
	model_set_from_params((HeapTupleHeader) mc->params, &mc->ms);
	/* days per time unit, as snapshot_args.c derives it */
	mc->forecasts = forecast_cache_create(&mc->ms, as_of_day,
										  mc->ms.units_per_month == HVC_UNITS_PER_MONTH_WEEK ? 7.0 : 1.0);
	MemoryContextSwitchTo(old);
	flinfo->fn_extra = mc;
	return mc;
}

Datum
hvc_citus_predict(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	ModelCache *pc = model_cache_get(fcinfo->flinfo, PG_GETARG_HEAPTUPLEHEADER(1), PG_GETARG_DATEADT(2));
	CustomerState *s;
	CustomerSummary sum;
	StageCustomer c;
	Prediction	p;

	if (!pc->ms.usable)
		PG_RETURN_NULL();
	s = customer_state_deserialize(CurrentMemoryContext, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	if (s->purchase_rows == 0)
		PG_RETURN_NULL();		/* refunds only: not a customer */
	customer_state_summarize(s, &sum);
	stage_customer_fill(&c, (Datum) 0, s, &sum, pc->as_of_day);
	forecast_predict(pc->forecasts, &c, &p);
	PG_RETURN_ARRAYTYPE_P(prediction_to_array(&p));
}
