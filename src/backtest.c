/*
 * backtest.c — the per-customer half of a backtest, in one pass:
 *
 *   hvc._backtest_collect(state bytea, calibration_day date, holdout_day date)
 *     aggregate -> bytea: per customer with a purchase day up to
 *     calibration_day, (frequency, recency_days, age_days, holdout_purchases)
 *   hvc._backtest_rows(rows bytea, unit float8)
 *     -> SETOF (frequency integer, recency float8, age float8): the rows the
 *     calibration fit reads (times in the model's unit)
 *
 * The state (from hvc.customer_state, as of the holdout's end or later)
 * holds the customer's set of purchase days.  The calibration summary is
 * that of the purchase days up to calibration_day (the BTYD frequency,
 * first -> last purchase day, first purchase day -> calibration_day); the
 * holdout purchases are the purchase days after calibration_day up to
 * holdout_day.  So one pass over the source (or the refresh's own stage)
 * gives both halves of a backtest, with the refresh's definition of a
 * purchase day, packed 16 bytes a customer for the fit and
 * hvc._backtest_eval (backtest_eval.c).
 */
#include "postgres.h"
#include "pg_compat.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/date.h"
#include "utils/memutils.h"

#include "backtest.h"
#include "customer_state.h"

PG_FUNCTION_INFO_V1(hvc_backtest_collect_trans);
PG_FUNCTION_INFO_V1(hvc_backtest_collect_final);
PG_FUNCTION_INFO_V1(hvc_backtest_collect_combine);
PG_FUNCTION_INFO_V1(hvc_backtest_collect_serialize);
PG_FUNCTION_INFO_V1(hvc_backtest_collect_deserialize);
PG_FUNCTION_INFO_V1(hvc_backtest_rows);

typedef struct CollectState
{
	int64		n;
	int64		cap;
	BacktestRow *rows;
	MemoryContext scratch;		/* per-state deserialization, reset per row */
} CollectState;

static void
check_day(DateADT d, const char *name)
{
	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: %s must be a finite date", name)));
}

/*
 * Cut one customer's purchase days at cal: false when none is on or before
 * it (not a calibration customer).
 */
static bool
split_state(const CustomerState *s, DateADT cal, DateADT hold, BacktestRow *out)
{
	int32		i,
				ncal = 0,
				nhold = 0;

	/* validated on the way in: days strictly increasing */
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
		return false;
	out->frequency = ncal - 1;
	out->recency_days = s->days[ncal - 1] - s->days[0];
	out->age_days = cal - s->days[0];
	out->holdout = nhold;
	return true;
}

static CollectState *
collect_new(MemoryContext aggcxt, int64 cap)
{
	CollectState *st = MemoryContextAllocZero(aggcxt, sizeof(CollectState));

	st->cap = Max(cap, 1024);
	st->rows = MemoryContextAllocHuge(aggcxt, st->cap * sizeof(BacktestRow));
	st->scratch = AllocSetContextCreate(aggcxt, "hvc backtest collect", ALLOCSET_DEFAULT_SIZES);
	return st;
}

/* room for more rows */
static void
collect_reserve(CollectState *st, int64 more)
{
	int64		cap = st->cap;

	while (st->n + more > cap)
		cap *= 2;
	if (cap == st->cap)
		return;
	if ((Size) cap * sizeof(BacktestRow) > MaxAllocHugeSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("hvc: too many customers for a backtest")));
	st->rows = repalloc_huge(st->rows, cap * sizeof(BacktestRow));
	st->cap = cap;
}

Datum
hvc_backtest_collect_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt,
				old;
	CollectState *st;
	DateADT		cal,
				hold;
	bytea	   *b;
	CustomerState *s;
	BacktestRow row;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc._backtest_collect_trans called outside an aggregate");
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc: a backtest needs a calibration day and a holdout day")));
	cal = PG_GETARG_DATEADT(2);
	hold = PG_GETARG_DATEADT(3);
	check_day(cal, "calibration_day");
	check_day(hold, "holdout_day");
	if (hold < cal)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: the holdout ends before the calibration period"),
				 errhint("Pass a holdout_day on or after the calibration_day.")));
	if (PG_ARGISNULL(0))
		st = collect_new(aggcxt, 1024);
	else
		st = (CollectState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(st);

	b = PG_GETARG_BYTEA_PP(1);
	old = MemoryContextSwitchTo(st->scratch);
	s = customer_state_deserialize(st->scratch, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	MemoryContextSwitchTo(old);
	if (split_state(s, cal, hold, &row))
	{
		collect_reserve(st, 1);
		st->rows[st->n++] = row;
	}
	MemoryContextReset(st->scratch);
	PG_RETURN_POINTER(st);
}

/* parallel partial states: the rows of both (order: a's, then b's) */
Datum
hvc_backtest_collect_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	CollectState *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc._backtest_collect_combine called outside an aggregate");
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0));
	b = (CollectState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
		a = collect_new(aggcxt, b->n);
	else
		a = (CollectState *) PG_GETARG_POINTER(0);
	collect_reserve(a, b->n);
	if (b->n > 0)
		memcpy(a->rows + a->n, b->rows, b->n * sizeof(BacktestRow));
	a->n += b->n;
	PG_RETURN_POINTER(a);
}

static bytea *
collect_bytes(const CollectState *st)
{
	Size		len = (Size) st->n * sizeof(BacktestRow);
	bytea	   *out;

	if (len + VARHDRSZ > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("hvc: too many customers for a backtest (%lld)", (long long) st->n),
				 errhint("A backtest holds 16 bytes per calibration customer, at most 1 GB.")));
	out = palloc(len + VARHDRSZ);
	SET_VARSIZE(out, len + VARHDRSZ);
	if (len > 0)
		memcpy(VARDATA(out), st->rows, len);
	return out;
}

Datum
hvc_backtest_collect_serialize(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc._backtest_collect_serialize called outside an aggregate");
	PG_RETURN_BYTEA_P(collect_bytes((CollectState *) PG_GETARG_POINTER(0)));
}

Datum
hvc_backtest_collect_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	int64		n;
	const BacktestRow *rows;
	CollectState *st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc._backtest_collect_deserialize called outside an aggregate");
	rows = backtest_rows_of(PG_GETARG_BYTEA_PP(0), &n);
	st = collect_new(aggcxt, n);
	if (n > 0)
		memcpy(st->rows, rows, n * sizeof(BacktestRow));
	st->n = n;
	PG_RETURN_POINTER(st);
}

Datum
hvc_backtest_collect_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(collect_bytes((CollectState *) PG_GETARG_POINTER(0)));
}

const BacktestRow *
backtest_rows_of(bytea *b, int64 *n)
{
	Size		len = VARSIZE_ANY_EXHDR(b);
	const BacktestRow *rows;
	int64		i;

	if (len % sizeof(BacktestRow) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: not a backtest's rows (length %zu)", len),
				 errhint("Pass what hvc._backtest_collect returned.")));
	*n = (int64) (len / sizeof(BacktestRow));
	/* aligned copy: the bytea's data may be unaligned (short header) */
	rows = palloc_extended(Max(len, 1), MCXT_ALLOC_HUGE);
	memcpy((void *) rows, VARDATA_ANY(b), len);
	for (i = 0; i < *n; i++)
	{
		const BacktestRow *r = &rows[i];

		if (r->frequency < 0 || r->recency_days < 0 || r->recency_days > r->age_days ||
			r->holdout < 0 || (r->frequency == 0 && r->recency_days != 0) ||
			(r->frequency > 0 && r->age_days == 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hvc: not a backtest's rows (row %lld is inconsistent)", (long long) i + 1),
					 errhint("Pass what hvc._backtest_collect returned.")));
		CHECK_FOR_INTERRUPTS();
	}
	return rows;
}

/* the calibration rows, frequency and times in the model's unit */
Datum
hvc_backtest_rows(PG_FUNCTION_ARGS)
{
	FuncCallContext *fc;
	const BacktestRow *rows;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		TupleDesc	desc;
		double		unit = PG_GETARG_FLOAT8(1);
		int64		n;

		fc = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(fc->multi_call_memory_ctx);
		if (!(unit > 0.0) || !isfinite(unit))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hvc: the time unit of a backtest must be a positive number of days")));
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != 3)
			elog(ERROR, "hvc._backtest_rows must return three columns");
		fc->tuple_desc = BlessTupleDesc(desc);
		fc->user_fctx = (void *) backtest_rows_of(PG_GETARG_BYTEA_PP(0), &n);
		fc->max_calls = (uint64) n;
		MemoryContextSwitchTo(old);
	}
	fc = SRF_PERCALL_SETUP();
	rows = (const BacktestRow *) fc->user_fctx;
	if (fc->call_cntr < fc->max_calls)
	{
		const BacktestRow *r = &rows[fc->call_cntr];
		double		unit = PG_GETARG_FLOAT8(1);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int32GetDatum(r->frequency);
		values[1] = Float8GetDatum(r->recency_days / unit);
		values[2] = Float8GetDatum(r->age_days / unit);
		SRF_RETURN_NEXT(fc, HeapTupleGetDatum(heap_form_tuple(fc->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(fc);
}
