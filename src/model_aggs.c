/*
 * model_aggs.c — the model-fitting aggregates of the analyst SQL surface
 * (API.md §5):
 *
 *   hvc.bgnbd_fit(frequency int, recency float8, age float8)      -> hvc.bgnbd
 *   hvc.pareto_nbd_fit(frequency int, recency float8, age float8) -> hvc.pareto_nbd
 *   hvc.gamma_gamma_fit(frequency int, monetary float8)          -> hvc.gamma_gamma
 *
 * The transition state is a buffer of weighted summary rows (btyd_row /
 * gg_row) in the aggregate memory context.  When the buffer fills it is
 * compressed (identical rows merged, weights summed) and only grows when
 * compression freed less than half of it, so memory stays proportional to
 * the number of distinct rows, not of input rows.  All likelihoods are
 * weighted sums, so compression never changes a fit.
 *
 * States combine by concatenation and serialise as
 *     version byte, int64 row count, rows (float8 fields in native order)
 * and the deserialiser validates every byte: a malformed state is an error
 * (data_corrupted), never a crash.  hvc._btyd_state() /
 * hvc._gamma_gamma_state() return the serialised state and
 * hvc._btyd_state_check() / hvc._gamma_gamma_state_check() run the
 * deserialiser on a bytea, so both directions can be tested from SQL.
 *
 * The final functions call the PostgreSQL-free core (src/core), which
 * mallocs and frees its own workspace and never calls back into PostgreSQL;
 * nothing here can ereport while the core runs.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "fit_options.h"
#include "core/bgnbd.h"
#include "core/btyd_data.h"
#include "core/gamma_gamma.h"
#include "core/optimizer.h"
#include "core/pareto_nbd.h"

PG_FUNCTION_INFO_V1(hvc_btyd_transfn);
PG_FUNCTION_INFO_V1(hvc_btyd_combinefn);
PG_FUNCTION_INFO_V1(hvc_btyd_serialfn);
PG_FUNCTION_INFO_V1(hvc_btyd_deserialfn);
PG_FUNCTION_INFO_V1(hvc_bgnbd_finalfn);
PG_FUNCTION_INFO_V1(hvc_pareto_nbd_finalfn);
PG_FUNCTION_INFO_V1(hvc_btyd_state_finalfn);
PG_FUNCTION_INFO_V1(hvc_btyd_state_check);
PG_FUNCTION_INFO_V1(hvc_gg_transfn);
PG_FUNCTION_INFO_V1(hvc_gg_combinefn);
PG_FUNCTION_INFO_V1(hvc_gg_serialfn);
PG_FUNCTION_INFO_V1(hvc_gg_deserialfn);
PG_FUNCTION_INFO_V1(hvc_gamma_gamma_finalfn);
PG_FUNCTION_INFO_V1(hvc_gg_state_finalfn);
PG_FUNCTION_INFO_V1(hvc_gg_state_check);

#define BTYD_STATE_VERSION	1
#define GG_STATE_VERSION	1
#define STATE_HEADER_SIZE	(1 + sizeof(int64))
#define INITIAL_ROWS		256

/* Largest weight / frequency a state may hold (weights are exact counts). */
#define MAX_EXACT_COUNT		9007199254740992.0	/* 2^53 */

typedef struct BtydAggState
{
	int64		n;				/* rows in use */
	int64		cap;			/* rows allocated */
	btyd_row   *rows;
} BtydAggState;

typedef struct GgAggState
{
	int64		n;
	int64		cap;
	gg_row	   *rows;
} GgAggState;

/* ---------------------------------------------------------------------
 * Input validation (shared with nothing else: the scalar functions in
 * model_funcs.c apply the same rules to their arguments).
 * --------------------------------------------------------------------- */

static void
bad_row(const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s", msg),
			 errhint("%s", hint)));
}

#define SUMMARY_HINT \
	"frequency is the number of repeat purchases (0 or more), recency the time from the first to the last purchase (0 when frequency is 0) and age the time from the first purchase to the end of observation, so 0 <= recency <= age."

static void
check_btyd_row(int32 x, double t_x, double T)
{
	if (x < 0)
		bad_row(psprintf("frequency must not be negative, got frequency = %d", x),
				SUMMARY_HINT);
	if (!isfinite(t_x) || !isfinite(T))
		bad_row(psprintf("recency and age must be finite, got recency = %s, age = %s",
						 float8out_internal(t_x), float8out_internal(T)),
				SUMMARY_HINT);
	if (t_x < 0.0 || T < 0.0)
		bad_row(psprintf("recency and age must not be negative, got recency = %s, age = %s",
						 float8out_internal(t_x), float8out_internal(T)),
				SUMMARY_HINT);
	if (t_x > T)
		bad_row(psprintf("recency must not exceed age, got recency = %s > age = %s",
						 float8out_internal(t_x), float8out_internal(T)),
				SUMMARY_HINT);
	if (x == 0 && t_x > 0.0)
		bad_row(psprintf("recency must be 0 for a customer without repeat purchases, got frequency = 0, recency = %s",
						 float8out_internal(t_x)),
				SUMMARY_HINT);
	if (x > 0 && T == 0.0)
		bad_row(psprintf("a customer with repeat purchases must have a positive age, got frequency = %d, age = 0",
						 x),
				SUMMARY_HINT);
}

/* ---------------------------------------------------------------------
 * Row buffers
 * --------------------------------------------------------------------- */

/*
 * Make room for `extra` more rows: a full buffer is first compressed, and
 * only grows when compression freed less than half of it.
 */
static void
btyd_reserve(BtydAggState *s, int64 extra, MemoryContext cxt)
{
	int64		cap = s->cap;

	if (s->n + extra <= s->cap)
		return;
	s->n = (int64) btyd_compress(s->rows, (size_t) s->n);
	if (s->n + extra <= s->cap && s->n <= s->cap / 2)
		return;
	while (s->n + extra > cap / 2 + cap / 4)
	{
		if (cap > (int64) (MaxAllocHugeSize / sizeof(btyd_row)) / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct customer summaries for one model fit")));
		cap *= 2;
	}
	if (s->rows == NULL)
		s->rows = MemoryContextAllocHuge(cxt, cap * sizeof(btyd_row));
	else
		s->rows = repalloc_huge(s->rows, cap * sizeof(btyd_row));
	s->cap = cap;
}

static void
gg_reserve(GgAggState *s, int64 extra, MemoryContext cxt)
{
	int64		cap = s->cap;

	if (s->n + extra <= s->cap)
		return;
	s->n = (int64) gg_compress(s->rows, (size_t) s->n);
	if (s->n + extra <= s->cap && s->n <= s->cap / 2)
		return;
	while (s->n + extra > cap / 2 + cap / 4)
	{
		if (cap > (int64) (MaxAllocHugeSize / sizeof(gg_row)) / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct customer summaries for one model fit")));
		cap *= 2;
	}
	if (s->rows == NULL)
		s->rows = MemoryContextAllocHuge(cxt, cap * sizeof(gg_row));
	else
		s->rows = repalloc_huge(s->rows, cap * sizeof(gg_row));
	s->cap = cap;
}

static BtydAggState *
btyd_state_new(MemoryContext cxt, int64 cap)
{
	BtydAggState *s = MemoryContextAllocZero(cxt, sizeof(BtydAggState));

	s->cap = Max(cap, INITIAL_ROWS);
	s->rows = MemoryContextAllocHuge(cxt, s->cap * sizeof(btyd_row));
	return s;
}

static GgAggState *
gg_state_new(MemoryContext cxt, int64 cap)
{
	GgAggState *s = MemoryContextAllocZero(cxt, sizeof(GgAggState));

	s->cap = Max(cap, INITIAL_ROWS);
	s->rows = MemoryContextAllocHuge(cxt, s->cap * sizeof(gg_row));
	return s;
}

/* ---------------------------------------------------------------------
 * Serialisation and validation
 * --------------------------------------------------------------------- */

static void
corrupt(const char *what, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid hvc %s state", what),
			 errdetail("%s", why)));
}

static bool
is_count(double v)
{
	return isfinite(v) && v >= 0.0 && v <= (double) INT_MAX && v == floor(v);
}

static bool
is_weight(double w)
{
	return isfinite(w) && w >= 1.0 && w <= MAX_EXACT_COUNT && w == floor(w);
}

static bytea *
btyd_serialize(BtydAggState *s)
{
	Size		size;
	bytea	   *out;
	char	   *p;
	int64		n;

	s->n = (int64) btyd_compress(s->rows, (size_t) s->n);
	n = s->n;
	size = VARHDRSZ + STATE_HEADER_SIZE + (Size) n * sizeof(btyd_row);
	out = palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	*p++ = BTYD_STATE_VERSION;
	memcpy(p, &n, sizeof(int64));
	p += sizeof(int64);
	if (n > 0)
		memcpy(p, s->rows, (Size) n * sizeof(btyd_row));
	return out;
}

static BtydAggState *
btyd_deserialize(MemoryContext cxt, const char *data, Size len)
{
	const char *what = "BG/NBD / Pareto/NBD fit";
	BtydAggState *s;
	int64		n,
				i;

	if (len < STATE_HEADER_SIZE)
		corrupt(what, "state is shorter than its header");
	if (data[0] != BTYD_STATE_VERSION)
		corrupt(what, "unknown state format version");
	memcpy(&n, data + 1, sizeof(int64));
	if (n < 0 || (uint64) n > (uint64) ((MaxAllocHugeSize / sizeof(btyd_row)) / 2))
		corrupt(what, "negative or huge row count");
	if (len - STATE_HEADER_SIZE != (Size) n * sizeof(btyd_row))
		corrupt(what, "state length does not match its row count");

	s = btyd_state_new(cxt, n);
	memcpy(s->rows, data + STATE_HEADER_SIZE, (Size) n * sizeof(btyd_row));
	s->n = n;
	for (i = 0; i < n; i++)
	{
		const btyd_row *r = &s->rows[i];

		if (!is_count(r->x))
			corrupt(what, "a frequency is not a non-negative integer");
		if (!isfinite(r->t_x) || !isfinite(r->T) || !(r->t_x >= 0.0) || !(r->t_x <= r->T))
			corrupt(what, "a recency or age is not finite with 0 <= recency <= age");
		if (r->x == 0.0 && r->t_x != 0.0)
			corrupt(what, "a customer without repeat purchases has a positive recency");
		if (r->x > 0.0 && r->T == 0.0)
			corrupt(what, "a customer with repeat purchases has age 0");
		if (!is_weight(r->w))
			corrupt(what, "a row weight is not a positive integer count");
	}
	return s;
}

static bytea *
gg_serialize(GgAggState *s)
{
	Size		size;
	bytea	   *out;
	char	   *p;
	int64		n;

	s->n = (int64) gg_compress(s->rows, (size_t) s->n);
	n = s->n;
	size = VARHDRSZ + STATE_HEADER_SIZE + (Size) n * sizeof(gg_row);
	out = palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	*p++ = GG_STATE_VERSION;
	memcpy(p, &n, sizeof(int64));
	p += sizeof(int64);
	if (n > 0)
		memcpy(p, s->rows, (Size) n * sizeof(gg_row));
	return out;
}

static GgAggState *
gg_deserialize(MemoryContext cxt, const char *data, Size len)
{
	const char *what = "Gamma-Gamma fit";
	GgAggState *s;
	int64		n,
				i;

	if (len < STATE_HEADER_SIZE)
		corrupt(what, "state is shorter than its header");
	if (data[0] != GG_STATE_VERSION)
		corrupt(what, "unknown state format version");
	memcpy(&n, data + 1, sizeof(int64));
	if (n < 0 || (uint64) n > (uint64) ((MaxAllocHugeSize / sizeof(gg_row)) / 2))
		corrupt(what, "negative or huge row count");
	if (len - STATE_HEADER_SIZE != (Size) n * sizeof(gg_row))
		corrupt(what, "state length does not match its row count");

	s = gg_state_new(cxt, n);
	memcpy(s->rows, data + STATE_HEADER_SIZE, (Size) n * sizeof(gg_row));
	s->n = n;
	for (i = 0; i < n; i++)
	{
		const gg_row *r = &s->rows[i];

		/* only repeat customers with positive spend are ever stored */
		if (!is_count(r->x) || r->x == 0.0)
			corrupt(what, "a frequency is not a positive integer");
		if (!isfinite(r->m) || !(r->m > 0.0))
			corrupt(what, "a monetary value is not finite and positive");
		if (!is_weight(r->w))
			corrupt(what, "a row weight is not a positive integer count");
	}
	return s;
}

/* ---------------------------------------------------------------------
 * BG/NBD and Pareto/NBD: transition, combine, (de)serialise
 * --------------------------------------------------------------------- */

Datum
hvc_btyd_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	BtydAggState *s;
	int32		x;
	double		t_x,
				T;
	btyd_row   *r;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc_btyd_transfn called in non-aggregate context");
	s = PG_ARGISNULL(0) ? btyd_state_new(aggcxt, INITIAL_ROWS)
		: (BtydAggState *) PG_GETARG_POINTER(0);

	/* a row with any NULL argument is ignored */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_POINTER(s);
	x = PG_GETARG_INT32(1);
	t_x = PG_GETARG_FLOAT8(2);
	T = PG_GETARG_FLOAT8(3);
	check_btyd_row(x, t_x, T);

	btyd_reserve(s, 1, aggcxt);
	r = &s->rows[s->n++];
	r->x = (double) x;
	r->t_x = x == 0 ? 0.0 : t_x;
	r->T = T;
	r->w = 1.0;
	PG_RETURN_POINTER(s);
}

Datum
hvc_btyd_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	BtydAggState *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc_btyd_combinefn called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = (BtydAggState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
		a = btyd_state_new(aggcxt, b->n);
	else
		a = (BtydAggState *) PG_GETARG_POINTER(0);
	if (b->n > 0)
	{
		btyd_reserve(a, b->n, aggcxt);
		memcpy(a->rows + a->n, b->rows, (Size) b->n * sizeof(btyd_row));
		a->n += b->n;
	}
	PG_RETURN_POINTER(a);
}

Datum
hvc_btyd_serialfn(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_btyd_serialfn called in non-aggregate context");
	PG_RETURN_BYTEA_P(btyd_serialize((BtydAggState *) PG_GETARG_POINTER(0)));
}

Datum
hvc_btyd_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	bytea	   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc_btyd_deserialfn called in non-aggregate context");
	b = PG_GETARG_BYTEA_PP(0);
	PG_RETURN_POINTER(btyd_deserialize(aggcxt, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)));
}

/* final function of hvc._btyd_state: the serialised state itself */
Datum
hvc_btyd_state_finalfn(PG_FUNCTION_ARGS)
{
	BtydAggState empty = {0, 0, NULL};

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_btyd_state_finalfn called in non-aggregate context");
	PG_RETURN_BYTEA_P(btyd_serialize(PG_ARGISNULL(0) ? &empty
									 : (BtydAggState *) PG_GETARG_POINTER(0)));
}

/* hvc._btyd_state_check(bytea): validate a state; returns the customers in it */
Datum
hvc_btyd_state_check(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	BtydAggState *s = btyd_deserialize(CurrentMemoryContext, VARDATA_ANY(b),
									   VARSIZE_ANY_EXHDR(b));
	double		w = 0.0;
	int64		i;

	for (i = 0; i < s->n; i++)
		w += s->rows[i].w;
	if (!(w <= MAX_EXACT_COUNT))
		corrupt("BG/NBD / Pareto/NBD fit", "total weight out of range");
	PG_RETURN_INT64((int64) w);
}

/* ---------------------------------------------------------------------
 * Gamma-Gamma: transition, combine, (de)serialise
 * --------------------------------------------------------------------- */

Datum
hvc_gg_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	GgAggState *s;
	int32		x;
	double		m;
	gg_row	   *r;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc_gg_transfn called in non-aggregate context");
	s = PG_ARGISNULL(0) ? gg_state_new(aggcxt, INITIAL_ROWS)
		: (GgAggState *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(s);
	x = PG_GETARG_INT32(1);
	m = PG_GETARG_FLOAT8(2);
	if (x < 0)
		bad_row(psprintf("frequency must not be negative, got frequency = %d", x),
				"frequency is the number of repeat purchases (0 or more).");
	if (!isfinite(m))
		bad_row(psprintf("monetary must be finite, got monetary = %s",
						 float8out_internal(m)),
				"monetary is the mean value of the repeat purchases; rows with frequency 0 or monetary <= 0 are left out of the fit.");
	/* like lifetimes: only repeat customers with positive spend are fitted */
	if (x == 0 || m <= 0.0)
		PG_RETURN_POINTER(s);

	gg_reserve(s, 1, aggcxt);
	r = &s->rows[s->n++];
	r->x = (double) x;
	r->m = m;
	r->w = 1.0;
	PG_RETURN_POINTER(s);
}

Datum
hvc_gg_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	GgAggState *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc_gg_combinefn called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = (GgAggState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
		a = gg_state_new(aggcxt, b->n);
	else
		a = (GgAggState *) PG_GETARG_POINTER(0);
	if (b->n > 0)
	{
		gg_reserve(a, b->n, aggcxt);
		memcpy(a->rows + a->n, b->rows, (Size) b->n * sizeof(gg_row));
		a->n += b->n;
	}
	PG_RETURN_POINTER(a);
}

Datum
hvc_gg_serialfn(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_gg_serialfn called in non-aggregate context");
	PG_RETURN_BYTEA_P(gg_serialize((GgAggState *) PG_GETARG_POINTER(0)));
}

Datum
hvc_gg_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	bytea	   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc_gg_deserialfn called in non-aggregate context");
	b = PG_GETARG_BYTEA_PP(0);
	PG_RETURN_POINTER(gg_deserialize(aggcxt, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)));
}

Datum
hvc_gg_state_finalfn(PG_FUNCTION_ARGS)
{
	GgAggState	empty = {0, 0, NULL};

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_gg_state_finalfn called in non-aggregate context");
	PG_RETURN_BYTEA_P(gg_serialize(PG_ARGISNULL(0) ? &empty
								   : (GgAggState *) PG_GETARG_POINTER(0)));
}

Datum
hvc_gg_state_check(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	GgAggState *s = gg_deserialize(CurrentMemoryContext, VARDATA_ANY(b),
								   VARSIZE_ANY_EXHDR(b));
	double		w = 0.0;
	int64		i;

	for (i = 0; i < s->n; i++)
		w += s->rows[i].w;
	if (!(w <= MAX_EXACT_COUNT))
		corrupt("Gamma-Gamma fit", "total weight out of range");
	PG_RETURN_INT64((int64) w);
}

/* ---------------------------------------------------------------------
 * Final functions: run the fit, build the model composite
 * --------------------------------------------------------------------- */

typedef struct FitResult
{
	double		param[4];
	int			nparam;
	double		loglik;
	int64		customers;
	bool		converged;
	int			iterations;
	bool		have_iterations;
	char		message[256];
} FitResult;

static void
fit_result_init(FitResult *fr, int nparam)
{
	int			i;

	memset(fr, 0, sizeof(*fr));
	fr->nparam = nparam;
	for (i = 0; i < 4; i++)
		fr->param[i] = NAN;
	fr->loglik = NAN;
}

/*
 * Columns of hvc.bgnbd / hvc.pareto_nbd / hvc.gamma_gamma: the parameters,
 * then log_likelihood, customers, converged, iterations, message.
 */
static Datum
fit_result_datum(FunctionCallInfo fcinfo, const FitResult *fr, const char *type)
{
	TupleDesc	desc;
	Datum		values[9];
	bool		nulls[9];
	int			natts = fr->nparam + 5,
				i,
				k;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "%s fit must return a composite type", type);
	desc = BlessTupleDesc(desc);
	if (desc->natts != natts)
		elog(ERROR, "%s has %d columns, expected %d", type, desc->natts, natts);

	memset(nulls, 0, sizeof(nulls));
	for (i = 0; i < fr->nparam; i++)
	{
		values[i] = Float8GetDatum(fr->param[i]);
		nulls[i] = !isfinite(fr->param[i]);
	}
	k = fr->nparam;
	values[k] = Float8GetDatum(fr->loglik);
	nulls[k] = !isfinite(fr->loglik);
	values[k + 1] = Int64GetDatum(fr->customers);
	values[k + 2] = BoolGetDatum(fr->converged);
	values[k + 3] = Int32GetDatum(fr->iterations);
	nulls[k + 3] = !fr->have_iterations;
	values[k + 4] = CStringGetTextDatum(fr->message);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* translate a core fit's outcome into converged / message */
static void
fit_outcome(FitResult *fr, int rc, const hvc_opt_report *rep, const char *model)
{
	int			i;
	bool		finite = isfinite(fr->loglik);

	for (i = 0; i < fr->nparam; i++)
		if (!isfinite(fr->param[i]))
			finite = false;
	if (rc == HVC_OK && finite)
	{
		fr->converged = true;
		snprintf(fr->message, sizeof(fr->message), "%s", rep->message);
	}
	else if (rc == HVC_OK || rc == HVC_FIT_NOCONV)
	{
		fr->converged = false;
		snprintf(fr->message, sizeof(fr->message),
				 "%s did not converge (%s)%s", model, rep->message,
				 finite ? "; parameters are the best point found" : "");
	}
	else
	{
		fr->converged = false;
		snprintf(fr->message, sizeof(fr->message), "%s not fitted: %s",
				 model, rep->message[0] ? rep->message : "invalid data");
	}
	fr->iterations = rep->iterations;
	fr->have_iterations = (rc == HVC_OK || rc == HVC_FIT_NOCONV);
}

/*
 * Collect the rows a BG/NBD or Pareto/NBD fit uses: rows with age 0 (new
 * customers seen on the last day, frequency 0) have likelihood 1 and are
 * left out (the core needs age > 0) but counted as customers.  Returns the
 * number of rows copied to *out (palloc'd); sets *customers, *repeaters.
 */
static int64
btyd_fit_rows(BtydAggState *s, btyd_row **out, int64 *customers, int64 *repeaters)
{
	btyd_row   *rows;
	double		w = 0.0,
				wr = 0.0;
	int64		i,
				k = 0;

	*out = NULL;
	*customers = 0;
	*repeaters = 0;
	if (s == NULL || s->n == 0)
		return 0;
	/* canonical order, whatever order partial states were combined in */
	s->n = (int64) btyd_compress(s->rows, (size_t) s->n);
	rows = palloc_extended((Size) s->n * sizeof(btyd_row), MCXT_ALLOC_HUGE);
	for (i = 0; i < s->n; i++)
	{
		w += s->rows[i].w;
		if (s->rows[i].x > 0.0)
			wr += s->rows[i].w;
		if (s->rows[i].T > 0.0)
			rows[k++] = s->rows[i];
	}
	*customers = (int64) Min(w, MAX_EXACT_COUNT);
	*repeaters = (int64) Min(wr, MAX_EXACT_COUNT);
	*out = rows;
	return k;
}

static bool
btyd_precheck(FitResult *fr, int64 nrows, int64 customers, int64 repeaters,
			  const char *model)
{
	fr->customers = customers;
	if (customers == 0)
	{
		snprintf(fr->message, sizeof(fr->message),
				 "%s not fitted: no rows (every row was empty or had a NULL argument)", model);
		return false;
	}
	if (repeaters == 0)
	{
		snprintf(fr->message, sizeof(fr->message),
				 "%s not fitted: no customer has a repeat purchase (frequency > 0), so purchase rates and dropout cannot be estimated", model);
		return false;
	}
	if (nrows == 0)
	{
		snprintf(fr->message, sizeof(fr->message),
				 "%s not fitted: every customer has age 0", model);
		return false;
	}
	return true;
}

Datum
hvc_bgnbd_finalfn(PG_FUNCTION_ARGS)
{
	BtydAggState *s;
	FitResult	fr;
	btyd_row   *rows;
	int64		nrows,
				customers,
				repeaters;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_bgnbd_finalfn called in non-aggregate context");
	s = PG_ARGISNULL(0) ? NULL : (BtydAggState *) PG_GETARG_POINTER(0);
	fit_result_init(&fr, 4);
	nrows = btyd_fit_rows(s, &rows, &customers, &repeaters);
	if (btyd_precheck(&fr, nrows, customers, repeaters, "BG/NBD"))
	{
		hvc_fit_options opt;
		hvc_opt_report rep;
		bgnbd_params p;
		int			rc;

		hvc_backend_fit_options(&opt);
		memset(&rep, 0, sizeof(rep));
		/* the core allocates and frees with malloc: no ereport until it returns */
		rc = bgnbd_fit(rows, (size_t) nrows, &opt, &p, &fr.loglik, &rep);
		hvc_after_fit(&rep);
		if (rc == HVC_ENOMEM)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while fitting the BG/NBD model")));
		fr.param[0] = p.r;
		fr.param[1] = p.alpha;
		fr.param[2] = p.a;
		fr.param[3] = p.b;
		fit_outcome(&fr, rc, &rep, "BG/NBD");
	}
	PG_RETURN_DATUM(fit_result_datum(fcinfo, &fr, "hvc.bgnbd"));
}

Datum
hvc_pareto_nbd_finalfn(PG_FUNCTION_ARGS)
{
	BtydAggState *s;
	FitResult	fr;
	btyd_row   *rows;
	int64		nrows,
				customers,
				repeaters;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_pareto_nbd_finalfn called in non-aggregate context");
	s = PG_ARGISNULL(0) ? NULL : (BtydAggState *) PG_GETARG_POINTER(0);
	fit_result_init(&fr, 4);
	nrows = btyd_fit_rows(s, &rows, &customers, &repeaters);
	if (btyd_precheck(&fr, nrows, customers, repeaters, "Pareto/NBD"))
	{
		hvc_fit_options opt;
		hvc_opt_report rep;
		pnbd_params p;
		int			rc;

		hvc_backend_fit_options(&opt);
		memset(&rep, 0, sizeof(rep));
		rc = pnbd_fit(rows, (size_t) nrows, &opt, &p, &fr.loglik, &rep);
		hvc_after_fit(&rep);
		if (rc == HVC_ENOMEM)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while fitting the Pareto/NBD model")));
		fr.param[0] = p.r;
		fr.param[1] = p.alpha;
		fr.param[2] = p.s;
		fr.param[3] = p.beta;
		fit_outcome(&fr, rc, &rep, "Pareto/NBD");
	}
	PG_RETURN_DATUM(fit_result_datum(fcinfo, &fr, "hvc.pareto_nbd"));
}

Datum
hvc_gamma_gamma_finalfn(PG_FUNCTION_ARGS)
{
	GgAggState *s;
	FitResult	fr;
	double		w = 0.0;
	int64		i;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_gamma_gamma_finalfn called in non-aggregate context");
	s = PG_ARGISNULL(0) ? NULL : (GgAggState *) PG_GETARG_POINTER(0);
	fit_result_init(&fr, 3);
	/* canonical order, whatever order partial states were combined in */
	if (s != NULL)
		s->n = (int64) gg_compress(s->rows, (size_t) s->n);
	if (s != NULL)
		for (i = 0; i < s->n; i++)
			w += s->rows[i].w;
	fr.customers = (int64) Min(w, MAX_EXACT_COUNT);
	if (fr.customers == 0)
		snprintf(fr.message, sizeof(fr.message),
				 "Gamma-Gamma not fitted: no customer has a repeat purchase with positive spend (frequency > 0 and monetary > 0)");
	else
	{
		hvc_fit_options opt;
		hvc_opt_report rep;
		gg_params	g;
		int			rc;

		hvc_backend_fit_options(&opt);
		memset(&rep, 0, sizeof(rep));
		rc = gg_fit(s->rows, (size_t) s->n, &opt, &g, &fr.loglik, &rep);
		hvc_after_fit(&rep);
		if (rc == HVC_ENOMEM)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while fitting the Gamma-Gamma model")));
		fr.param[0] = g.p;
		fr.param[1] = g.q;
		fr.param[2] = g.v;
		fit_outcome(&fr, rc, &rep, "Gamma-Gamma");
		if (fr.converged && !(g.q > 1.0))
		{
			/* a valid fit, but the population mean spend p v / (q - 1) does not exist */
			size_t		len = strlen(fr.message);

			snprintf(fr.message + len, sizeof(fr.message) - len,
					 "; q <= 1: the population mean spend does not exist and expected_order_value is NULL");
		}
	}
	PG_RETURN_DATUM(fit_result_datum(fcinfo, &fr, "hvc.gamma_gamma"));
}
