/*
 * backtest.c — splitting a customer's state at a calibration day:
 *
 *   hvc._backtest_split(state bytea, calibration_day date, holdout_day date)
 *     -> (frequency integer, recency_days integer, age_days integer,
 *         holdout_purchases integer)
 *
 * The state (from hvc.customer_state, as of the holdout's end or later)
 * holds the customer's set of purchase days.  The calibration summary is
 * that of the purchase days up to calibration_day (the BTYD frequency,
 * first -> last purchase day, first purchase day -> calibration_day); the
 * holdout purchases are the purchase days after calibration_day up to
 * holdout_day.  So one pass over the source (or the refresh's own stage)
 * gives both halves of a backtest, with the refresh's definition of a
 * purchase day.  NULL when the customer has no purchase day up to
 * calibration_day (not a customer of the calibration period).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/date.h"

#include "customer_state.h"

PG_FUNCTION_INFO_V1(hvc_backtest_split);

static void
check_day(DateADT d, const char *name)
{
	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: %s must be a finite date", name)));
}

Datum
hvc_backtest_split(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	DateADT		cal = PG_GETARG_DATEADT(1);
	DateADT		hold = PG_GETARG_DATEADT(2);
	CustomerState *s;
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	int32		i,
				ncal = 0,
				nhold = 0;

	check_day(cal, "calibration_day");
	check_day(hold, "holdout_day");
	if (hold < cal)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: the holdout ends before the calibration period"),
				 errhint("Pass a holdout_day on or after the calibration_day.")));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "hvc._backtest_split must return a composite");
	desc = BlessTupleDesc(desc);
	if (desc->natts != 4)
		elog(ERROR, "hvc._backtest_split must return four columns");

	/* validated on the way in: days strictly increasing */
	s = customer_state_deserialize(CurrentMemoryContext, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	for (i = 0; i < s->ndays; i++)
	{
		if (s->days[i] <= cal)
			ncal++;
		else if (s->days[i] <= hold)
			nhold++;
		else
			break;
	}
	if (ncal == 0)
		PG_RETURN_NULL();
	values[0] = Int32GetDatum(ncal - 1);
	values[1] = Int32GetDatum(s->days[ncal - 1] - s->days[0]);
	values[2] = Int32GetDatum(cal - s->days[0]);
	values[3] = Int32GetDatum(nhold);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
