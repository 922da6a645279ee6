/*
 * snapshot_score.c — the purchase criteria of the value score (value_basis
 * 'score', sql/parts/74_score.sql):
 *
 *   hvc._score_inputs(customer_proto anyelement, m hvc._model_params,
 *                     as_of_day date, has_margin boolean)
 *     RETURNS TABLE (customer_id anyelement, predicted_clv numeric,
 *                    historic_clv numeric, orders bigint,
 *                    avg_order_value numeric, margin numeric)
 *
 * One streamed read of the stage, with the builder's own forecast cache and
 * column rules (snapshot_rows.c), so each value is exactly what the new
 * snapshot will show in that column.  The refresh writes the rows to a temp
 * table and ranks them with window functions (percentiles across customers)
 * before hvc._build_snapshot, which then ranks by the score.  Memory: the
 * forecast cache and one batch of the stage cursor; the rows go to a
 * tuplestore (spills beyond work_mem).
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "amount.h"
#include "snapshot.h"

PG_FUNCTION_INFO_V1(hvc_score_inputs);

typedef struct ScoreScan
{
	const SnapshotArgs *a;
	ForecastCache *forecasts;
	ReturnSetInfo *rsinfo;
	MemoryContext rowcxt;
} ScoreScan;

static void
score_visit(void *arg, const StageCustomer *c, TupleTableSlot *slot)
{
	ScoreScan  *s = arg;
	const SnapshotArgs *a = s->a;
	Prediction p;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	MemoryContext outer;
	int64		historic = a->has_margin ? (c->has_margin ? c->margin : 0) : c->revenue;

	CHECK_FOR_INTERRUPTS();
	forecast_predict(s->forecasts, c, &p);
	outer = MemoryContextSwitchTo(s->rowcxt);
	/* the rules of the snapshot's columns (snapshot_row) */
	values[0] = c->customer;
	nulls[1] = !money_to_cents_numeric(p.predicted_clv, &values[1]);
	values[2] = amount_to_cents_numeric(historic);
	values[3] = Int64GetDatum(c->orders);
	values[4] = amount_mean_cents_numeric(c->revenue, c->orders);
	if (a->has_margin && c->has_margin)
		values[5] = amount_to_cents_numeric(c->margin);
	else
		nulls[5] = true;
	tuplestore_putvalues(s->rsinfo->setResult, s->rsinfo->setDesc, values, nulls);
	MemoryContextSwitchTo(outer);
	MemoryContextReset(s->rowcxt);
}

Datum
hvc_score_inputs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			key_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	MemoryContext callcxt = CurrentMemoryContext;
	SnapshotArgs a;
	ScoreScan	s;
	Stage		st;

	/* the builder's arguments of the same names (snapshot_args.c) */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc._score_inputs: the models, as_of_day and has_margin must not be NULL")));
	memset(&a, 0, sizeof(a));
	model_set_from_params(PG_GETARG_HEAPTUPLEHEADER(1), &a.ms);
	a.as_of_day = PG_GETARG_DATEADT(2);
	a.has_margin = PG_GETARG_BOOL(3);
	a.unit = a.ms.units_per_month == HVC_UNITS_PER_MONTH_WEEK ? 7.0 : 1.0;
	if (!OidIsValid(key_type))
		elog(ERROR, "hvc._score_inputs: could not determine the customer key type");
	key_type = getBaseType(key_type);
	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != 6)
		elog(ERROR, "hvc._score_inputs must return 6 columns");

	s.a = &a;
	s.forecasts = forecast_cache_create(&a.ms, a.as_of_day, a.unit);
	s.rsinfo = rsinfo;
	s.rowcxt = AllocSetContextCreate(callcxt, "hvc score row", ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "hvc: SPI_connect failed");
	MemoryContextSwitchTo(callcxt);
	stage_check(key_type);
	stage_scan(&st, "SELECT s.customer_id, s.state FROM pg_temp._hvc_stage s",
			   key_type, a.as_of_day, score_visit, &s);
	SPI_finish();
	MemoryContextSwitchTo(callcxt);
	MemoryContextDelete(s.rowcxt);
	return (Datum) 0;
}
