/*
 * model_aggs.c — the model-fitting aggregates of the analyst SQL surface
 * (API.md §5):
 *
 *   hvc.bgnbd_fit(frequency bigint, recency float8, age float8)      -> hvc.bgnbd
 *   hvc.pareto_nbd_fit(frequency bigint, recency float8, age float8) -> hvc.pareto_nbd
 *   hvc.gamma_gamma_fit(frequency bigint, monetary float8)          -> hvc.gamma_gamma
 *   hvc.mbgnbd_fit(frequency bigint, recency float8, age float8)     -> hvc.mbgnbd
 *
 * The transition state is a buffer of weighted summary rows (btyd_row /
 * gg_row) in the aggregate memory context; one implementation (RowAggState,
 * parameterised by a RowKind descriptor) serves both row types.  When the buffer fills it is
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
#include "pg_compat.h"

#include <limits.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "fit_options.h"
#include "core/btyd_data.h"
#include "core/fit_driver.h"
#include "core/gamma_gamma.h"
#include "core/optimizer.h"
#include "row_state.h"
#include "version_guard.h"

PG_FUNCTION_INFO_V1(hvc_bgnbd_finalfn);
PG_FUNCTION_INFO_V1(hvc_pareto_nbd_finalfn);
PG_FUNCTION_INFO_V1(hvc_mbgnbd_finalfn);
PG_FUNCTION_INFO_V1(hvc_gamma_gamma_finalfn);
/* the state functions hvc_btyd_* and hvc_gg_*: ROW_STATE_FUNCTIONS below */

#define BTYD_STATE_VERSION	1
#define GG_STATE_VERSION	1
#define STATE_HEADER_SIZE	(1 + sizeof(int64))
#define INITIAL_ROWS		256

/* Largest weight / frequency a state may hold (weights are exact counts). */
#define MAX_EXACT_COUNT		9007199254740992.0	/* 2^53 */

/*
 * The transition state of every aggregate here: a buffer of weighted rows of
 * one row type (btyd_row or gg_row, described by a RowKind).
 */
typedef struct RowAggState
{
	int64		n;				/* rows in use */
	int64		cap;			/* rows allocated */
	void	   *rows;			/* cap rows of RowKind.width bytes */
} RowAggState;

/* room for one row of any kind */
typedef union RowBuf
{
	btyd_row	btyd;
	gg_row		gg;
} RowBuf;

/*
 * What the generic state code needs to know about a row type.  Rows are
 * plain structs of float8 fields without padding, one of them the weight w
 * (a positive integer count); they are copied and serialised as raw bytes.
 */
typedef struct RowKind
{
	const char *prefix;			/* C name prefix, for internal errors */
	const char *what;			/* the fit, for data_corrupted errors */
	char		version;		/* first byte of the serialised state */
	Size		width;			/* sizeof one row */
	Size		w_offset;		/* offsetof(row, w) */
	int			nargs;			/* aggregate arguments after the state */

	/*
	 * Validate the (non-NULL) arguments 1..nargs, ereport'ing bad ones, and
	 * build *row with weight 1; false leaves the row out of the fit.
	 */
	bool		(*from_args) (FunctionCallInfo fcinfo, void *row);
	/* btyd_compress / gg_compress */
	size_t		(*compress) (void *rows, size_t n);
	/* a deserialised row, weight aside: NULL if valid, else what is wrong */
	const char *(*invalid) (const void *row);
} RowKind;

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

/* ---------------------------------------------------------------------
 * The two row kinds
 * --------------------------------------------------------------------- */

/* (frequency bigint, recency float8, age float8) of bgnbd_fit / pareto_nbd_fit / mbgnbd_fit */
static bool
btyd_from_args(FunctionCallInfo fcinfo, void *row)
{
	btyd_row   *r = (btyd_row *) row;
	int64		x = hvc_frequency_arg(fcinfo, 1);
	double		t_x = PG_GETARG_FLOAT8(2),
				T = PG_GETARG_FLOAT8(3);

	if (x < 0)
		bad_row(psprintf("frequency must not be negative, got frequency = %lld", (long long) x),
				SUMMARY_HINT);
	if (x > (INT64CONST(1) << 53))
		bad_row(psprintf("frequency must be at most 2^53, got frequency = %lld", (long long) x),
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
		bad_row(psprintf("a customer with repeat purchases must have a positive age, got frequency = %lld, age = 0",
						 (long long) x),
				SUMMARY_HINT);
	r->x = (double) x;
	r->t_x = x == 0 ? 0.0 : t_x;
	r->T = T;
	r->w = 1.0;
	return true;
}

static size_t
btyd_compress_rows(void *rows, size_t n)
{
	return btyd_compress((btyd_row *) rows, n);
}

static const char *
btyd_invalid(const void *row)
{
	const btyd_row *r = (const btyd_row *) row;

	if (!is_count(r->x))
		return "a frequency is not a non-negative integer";
	if (!isfinite(r->t_x) || !isfinite(r->T) || !(r->t_x >= 0.0) || !(r->t_x <= r->T))
		return "a recency or age is not finite with 0 <= recency <= age";
	if (r->x == 0.0 && r->t_x != 0.0)
		return "a customer without repeat purchases has a positive recency";
	if (r->x > 0.0 && r->T == 0.0)
		return "a customer with repeat purchases has age 0";
	return NULL;
}

static const RowKind btyd_kind = {
	"hvc_btyd", "BG/NBD / Pareto/NBD fit", BTYD_STATE_VERSION,
	sizeof(btyd_row), offsetof(btyd_row, w), 3,
	btyd_from_args, btyd_compress_rows, btyd_invalid
};

/* (frequency bigint, monetary float8) of gamma_gamma_fit */
static bool
gg_from_args(FunctionCallInfo fcinfo, void *row)
{
	gg_row	   *r = (gg_row *) row;
	int64		x = hvc_frequency_arg(fcinfo, 1);
	double		m = PG_GETARG_FLOAT8(2);

	if (x < 0)
		bad_row(psprintf("frequency must not be negative, got frequency = %lld", (long long) x),
				"frequency is the number of repeat purchases (0 or more).");
	if (x > (INT64CONST(1) << 53))
		bad_row(psprintf("frequency must be at most 2^53, got frequency = %lld", (long long) x),
				"frequency is the number of repeat purchases (0 or more).");
	if (!isfinite(m))
		bad_row(psprintf("monetary must be finite, got monetary = %s",
						 float8out_internal(m)),
				"monetary is the mean value of the repeat purchases; rows with frequency 0 or monetary <= 0 are left out of the fit.");
	/* like lifetimes: only repeat customers with positive spend are fitted */
	if (x == 0 || m <= 0.0)
		return false;
	r->x = (double) x;
	r->m = m;
	r->w = 1.0;
	return true;
}

static size_t
gg_compress_rows(void *rows, size_t n)
{
	return gg_compress((gg_row *) rows, n);
}

static const char *
gg_invalid(const void *row)
{
	const gg_row *r = (const gg_row *) row;

	/* only repeat customers with positive spend are ever stored */
	if (!is_count(r->x) || r->x == 0.0)
		return "a frequency is not a positive integer";
	if (!isfinite(r->m) || !(r->m > 0.0))
		return "a monetary value is not finite and positive";
	return NULL;
}

static const RowKind gg_kind = {
	"hvc_gg", "Gamma-Gamma fit", GG_STATE_VERSION,
	sizeof(gg_row), offsetof(gg_row, w), 2,
	gg_from_args, gg_compress_rows, gg_invalid
};

/* ---------------------------------------------------------------------
 * Row buffers
 * --------------------------------------------------------------------- */

static inline char *
row_at(const RowAggState *s, const RowKind *k, int64 i)
{
	return (char *) s->rows + (Size) i * k->width;
}

static inline double
row_weight(const RowKind *k, const void *row)
{
	return *(const double *) ((const char *) row + k->w_offset);
}

/* sort and merge identical rows (canonical order, whatever the input order) */
static void
rows_compress(RowAggState *s, const RowKind *k)
{
	s->n = (int64) k->compress(s->rows, (size_t) s->n);
}

static double
rows_weight_sum(const RowAggState *s, const RowKind *k)
{
	double		w = 0.0;
	int64		i;

	for (i = 0; i < s->n; i++)
	{
		w += row_weight(k, row_at(s, k, i));
		CHECK_FOR_INTERRUPTS();
	}
	return w;
}

/*
 * Make room for `extra` more rows: a full buffer is first compressed, and
 * only grows when compression freed less than half of it.
 */
static void
rows_reserve(RowAggState *s, const RowKind *k, int64 extra, MemoryContext cxt)
{
	int64		cap = s->cap;

	if (s->n + extra <= s->cap)
		return;
	rows_compress(s, k);
	if (s->n + extra <= s->cap && s->n <= s->cap / 2)
		return;
	while (s->n + extra > cap / 2 + cap / 4)
	{
		if (cap > (int64) (MaxAllocHugeSize / k->width) / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct customer summaries for one model fit")));
		cap *= 2;
	}
	if (s->rows == NULL)
		s->rows = MemoryContextAllocHuge(cxt, cap * k->width);
	else
		s->rows = repalloc_huge(s->rows, cap * k->width);
	s->cap = cap;
}

static RowAggState *
rows_state_new(const RowKind *k, MemoryContext cxt, int64 cap)
{
	RowAggState *s = MemoryContextAllocZero(cxt, sizeof(RowAggState));

	s->cap = Max(cap, INITIAL_ROWS);
	s->rows = MemoryContextAllocHuge(cxt, s->cap * k->width);
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

static bytea *
rows_serialize(RowAggState *s, const RowKind *k)
{
	Size		size;
	bytea	   *out;
	char	   *p;
	int64		n;

	rows_compress(s, k);
	n = s->n;
	size = VARHDRSZ + STATE_HEADER_SIZE + (Size) n * k->width;
	out = palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	*p++ = k->version;
	memcpy(p, &n, sizeof(int64));
	p += sizeof(int64);
	if (n > 0)
		memcpy(p, s->rows, (Size) n * k->width);
	return out;
}

/* the state in data[0..len-1]; every length and value is checked */
static RowAggState *
rows_deserialize(const RowKind *k, MemoryContext cxt, const char *data, Size len)
{
	RowAggState *s;
	int64		n,
				i;

	if (len < STATE_HEADER_SIZE)
		corrupt(k->what, "state is shorter than its header");
	if (data[0] != k->version)
		corrupt(k->what, "unknown state format version");
	memcpy(&n, data + 1, sizeof(int64));
	if (n < 0 || (uint64) n > (uint64) ((MaxAllocHugeSize / k->width) / 2))
		corrupt(k->what, "negative or huge row count");
	if (len - STATE_HEADER_SIZE != (Size) n * k->width)
		corrupt(k->what, "state length does not match its row count");

	s = rows_state_new(k, cxt, n);
	memcpy(s->rows, data + STATE_HEADER_SIZE, (Size) n * k->width);
	s->n = n;
	for (i = 0; i < n; i++)
	{
		const char *row = row_at(s, k, i);
		const char *why = k->invalid(row);

		if (why == NULL && !is_weight(row_weight(k, row)))
			why = "a row weight is not a positive integer count";
		if (why != NULL)
			corrupt(k->what, why);
		CHECK_FOR_INTERRUPTS();
	}
	return s;
}

/* ---------------------------------------------------------------------
 * Transition, combine, (de)serialise, state final function and state
 * check of either row kind; the SQL-visible functions below bind a kind.
 * --------------------------------------------------------------------- */

static Datum
rows_transfn(FunctionCallInfo fcinfo, const RowKind *k)
{
	MemoryContext aggcxt;
	RowAggState *s;
	RowBuf		row;
	int			i;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "%s_transfn called in non-aggregate context", k->prefix);
	s = PG_ARGISNULL(0) ? rows_state_new(k, aggcxt, INITIAL_ROWS)
		: (RowAggState *) PG_GETARG_POINTER(0);

	/* a row with any NULL argument is ignored */
	for (i = 1; i <= k->nargs; i++)
		if (PG_ARGISNULL(i))
			PG_RETURN_POINTER(s);
	if (k->from_args(fcinfo, &row))
	{
		rows_reserve(s, k, 1, aggcxt);
		memcpy(row_at(s, k, s->n), &row, k->width);
		s->n++;
	}
	PG_RETURN_POINTER(s);
}

static Datum
rows_combinefn(FunctionCallInfo fcinfo, const RowKind *k)
{
	MemoryContext aggcxt;
	RowAggState *a,
			   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "%s_combinefn called in non-aggregate context", k->prefix);
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	b = (RowAggState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
		a = rows_state_new(k, aggcxt, b->n);
	else
		a = (RowAggState *) PG_GETARG_POINTER(0);
	if (b->n > 0)
	{
		rows_reserve(a, k, b->n, aggcxt);
		memcpy(row_at(a, k, a->n), b->rows, (Size) b->n * k->width);
		a->n += b->n;
	}
	PG_RETURN_POINTER(a);
}

static Datum
rows_serialfn(FunctionCallInfo fcinfo, const RowKind *k)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "%s_serialfn called in non-aggregate context", k->prefix);
	PG_RETURN_BYTEA_P(rows_serialize((RowAggState *) PG_GETARG_POINTER(0), k));
}

static Datum
rows_deserialfn(FunctionCallInfo fcinfo, const RowKind *k)
{
	MemoryContext aggcxt;
	bytea	   *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "%s_deserialfn called in non-aggregate context", k->prefix);
	b = PG_GETARG_BYTEA_PP(0);
	PG_RETURN_POINTER(rows_deserialize(k, aggcxt, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)));
}

/* final function of the _state aggregates: the serialised state itself */
static Datum
rows_state_finalfn(FunctionCallInfo fcinfo, const RowKind *k)
{
	RowAggState empty = {0, 0, NULL};

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "%s_state_finalfn called in non-aggregate context", k->prefix);
	PG_RETURN_BYTEA_P(rows_serialize(PG_ARGISNULL(0) ? &empty
									 : (RowAggState *) PG_GETARG_POINTER(0), k));
}

/* _state_check(bytea): validate a state; returns the customers in it */
static Datum
rows_state_check(FunctionCallInfo fcinfo, const RowKind *k)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	RowAggState *s = rows_deserialize(k, CurrentMemoryContext, VARDATA_ANY(b),
									  VARSIZE_ANY_EXHDR(b));
	double		w = rows_weight_sum(s, k);

	if (!(w <= MAX_EXACT_COUNT))
		corrupt(k->what, "total weight out of range");
	PG_RETURN_INT64((int64) w);
}

/*
 * The SQL-visible state functions of one row kind: PREFIX_transfn,
 * PREFIX_combinefn, PREFIX_serialfn, PREFIX_deserialfn, PREFIX_state_finalfn
 * and PREFIX_state_check, i.e. hvc_btyd_transfn ... hvc_btyd_state_check
 * and hvc_gg_transfn ... hvc_gg_state_check.
 */
#define ROW_STATE_FUNCTION(NAME, IMPL, KIND) \
	PG_FUNCTION_INFO_V1(NAME); \
	Datum NAME(PG_FUNCTION_ARGS) { return IMPL(fcinfo, &KIND); }
#define ROW_STATE_FUNCTIONS(PREFIX, KIND) \
	ROW_STATE_FUNCTION(PREFIX##_transfn, rows_transfn, KIND) \
	ROW_STATE_FUNCTION(PREFIX##_combinefn, rows_combinefn, KIND) \
	ROW_STATE_FUNCTION(PREFIX##_serialfn, rows_serialfn, KIND) \
	ROW_STATE_FUNCTION(PREFIX##_deserialfn, rows_deserialfn, KIND) \
	ROW_STATE_FUNCTION(PREFIX##_state_finalfn, rows_state_finalfn, KIND) \
	ROW_STATE_FUNCTION(PREFIX##_state_check, rows_state_check, KIND)

/* hvc._btyd_* (BG/NBD and Pareto/NBD) and hvc._gg_* (Gamma-Gamma) */
ROW_STATE_FUNCTIONS(hvc_btyd, btyd_kind)
ROW_STATE_FUNCTIONS(hvc_gg, gg_kind)

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
	char		edge[48];		/* "" or which parameter went to which edge */
	double		se[4];			/* standard errors, NaN = NULL */
} FitResult;

static void
fit_result_init(FitResult *fr, int nparam)
{
	int			i;

	memset(fr, 0, sizeof(*fr));
	fr->nparam = nparam;
	for (i = 0; i < 4; i++)
		fr->param[i] = fr->se[i] = NAN;
	fr->loglik = NAN;
}

/*
 * Columns of hvc.bgnbd / hvc.pareto_nbd / hvc.gamma_gamma: the parameters,
 * then log_likelihood, customers, converged, iterations, message, edge, and
 * the parameters' standard errors (<param>_se, same order).
 */
static Datum
fit_result_datum(FunctionCallInfo fcinfo, const FitResult *fr, const char *type)
{
	TupleDesc	desc;
	Datum		values[14];
	bool		nulls[14];
	int			natts = 2 * fr->nparam + 6,
				i,
				k;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "%s fit must return a composite type", type);
	desc = BlessTupleDesc(desc);
	hvc_require_columns(desc, natts, type);

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
	values[k + 5] = CStringGetTextDatum(fr->edge);
	nulls[k + 5] = (fr->edge[0] == '\0');
	for (i = 0; i < fr->nparam; i++)
	{
		values[k + 6 + i] = Float8GetDatum(fr->se[i]);
		nulls[k + 6 + i] = !isfinite(fr->se[i]);
	}
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* translate a core fit's outcome into converged / message */
static void
fit_outcome(FitResult *fr, int rc, const hvc_opt_report *rep, const char *model)
{
	int			i;
	bool		finite = isfinite(fr->loglik);

	/*
	 * at an edge a parameter may be not identified (NaN) or infinite (b of
	 * the BG/NBD edge b->inf): stored as NULL, the edge says which
	 */
	for (i = 0; i < fr->nparam; i++)
		if (!isfinite(fr->param[i]) &&
			!(rep->edge[0] != '\0' && (isnan(fr->param[i]) || fr->param[i] > 0.0)))
			finite = false;
	if (rc == HVC_OK || rc == HVC_FIT_NOCONV)
	{
		snprintf(fr->edge, sizeof(fr->edge), "%s", rep->edge);
		for (i = 0; i < fr->nparam; i++)
			fr->se[i] = rep->se[i];
	}
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

/* before a core fit: the backend's (cancellable) options, a clear report */
static void
fit_begin(hvc_fit_options *opt, hvc_opt_report *rep)
{
	hvc_backend_fit_options(opt);
	memset(rep, 0, sizeof(*rep));
}

/*
 * After a core fit (which allocates and frees with malloc, so nothing may
 * ereport while it runs) that stored its parameters in fr->param: service a
 * cancel, report running out of memory, record the outcome.
 */
static void
fit_end(FitResult *fr, int rc, const hvc_opt_report *rep, const char *model)
{
	hvc_after_fit(rep);
	if (rc == HVC_ENOMEM)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while fitting the %s model", model)));
	fit_outcome(fr, rc, rep, model);
}

/*
 * Collect the rows a BG/NBD or Pareto/NBD fit uses: rows with age 0 (new
 * customers seen on the last day, frequency 0) have likelihood 1 and are
 * left out (the core needs age > 0) but counted as customers.  Returns the
 * number of rows copied to *out (palloc'd); sets *customers, *repeaters.
 */
static int64
btyd_fit_rows(RowAggState *s, btyd_row **out, int64 *customers, int64 *repeaters)
{
	const btyd_row *in;
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
	rows_compress(s, &btyd_kind);
	in = (const btyd_row *) s->rows;
	rows = palloc_extended((Size) s->n * sizeof(btyd_row), MCXT_ALLOC_HUGE);
	for (i = 0; i < s->n; i++)
	{
		w += in[i].w;
		if (in[i].x > 0.0)
			wr += in[i].w;
		if (in[i].T > 0.0)
			rows[k++] = in[i];
		CHECK_FOR_INTERRUPTS();
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

/*
 * Final function of hvc.bgnbd_fit / hvc.pareto_nbd_fit / hvc.mbgnbd_fit: the core's BTYD fit
 * of model m, whose parameters come in the column order of the result type.
 */
static Datum
btyd_finalfn(FunctionCallInfo fcinfo, const char *fn, const hvc_btyd_model *m,
			 const char *model, const char *type)
{
	RowAggState *s;
	FitResult	fr;
	btyd_row   *rows;
	int64		nrows,
				customers,
				repeaters;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "%s called in non-aggregate context", fn);
	s = PG_ARGISNULL(0) ? NULL : (RowAggState *) PG_GETARG_POINTER(0);
	fit_result_init(&fr, 4);
	nrows = btyd_fit_rows(s, &rows, &customers, &repeaters);
	if (btyd_precheck(&fr, nrows, customers, repeaters, model))
	{
		hvc_fit_options opt;
		hvc_opt_report rep;
		int			rc;

		fit_begin(&opt, &rep);
		rc = hvc_btyd_fit(m, rows, (size_t) nrows, &opt, fr.param, &fr.loglik, &rep);
		fit_end(&fr, rc, &rep, model);
	}
	PG_RETURN_DATUM(fit_result_datum(fcinfo, &fr, type));
}

Datum
hvc_bgnbd_finalfn(PG_FUNCTION_ARGS)
{
	return btyd_finalfn(fcinfo, "hvc_bgnbd_finalfn", &hvc_bgnbd_model,
						"BG/NBD", "hvc.bgnbd");
}

Datum
hvc_pareto_nbd_finalfn(PG_FUNCTION_ARGS)
{
	return btyd_finalfn(fcinfo, "hvc_pareto_nbd_finalfn", &hvc_pnbd_model,
						"Pareto/NBD", "hvc.pareto_nbd");
}

/* hvc.mbgnbd has the layout of hvc.bgnbd */
Datum
hvc_mbgnbd_finalfn(PG_FUNCTION_ARGS)
{
	return btyd_finalfn(fcinfo, "hvc_mbgnbd_finalfn", &hvc_mbgnbd_model,
						"MBG/NBD", "hvc.mbgnbd");
}

Datum
hvc_gamma_gamma_finalfn(PG_FUNCTION_ARGS)
{
	RowAggState *s;
	FitResult	fr;
	double		w = 0.0;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_gamma_gamma_finalfn called in non-aggregate context");
	s = PG_ARGISNULL(0) ? NULL : (RowAggState *) PG_GETARG_POINTER(0);
	fit_result_init(&fr, 3);
	if (s != NULL)
	{
		/* canonical order, whatever order partial states were combined in */
		rows_compress(s, &gg_kind);
		w = rows_weight_sum(s, &gg_kind);
	}
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

		fit_begin(&opt, &rep);
		rc = gg_fit((const gg_row *) s->rows, (size_t) s->n, &opt, &g, &fr.loglik, &rep);
		fr.param[0] = g.p;
		fr.param[1] = g.q;
		fr.param[2] = g.v;
		fit_end(&fr, rc, &rep, "Gamma-Gamma");
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

/*
 * The serialised form of a state of hvc._btyd_transfn (gg false) or
 * hvc._gg_transfn (gg true), the empty state for NULL: the flat form of the
 * shippable aggregates' bytea states (src/ship_aggs.c), which is built
 * outside any aggregate call (when the state is copied into a tuple).
 */
bytea *
hvc_row_state_serialize(void *state, bool gg)
{
	RowAggState empty = {0, 0, NULL};

	return rows_serialize(state != NULL ? (RowAggState *) state : &empty,
						  gg ? &gg_kind : &btyd_kind);
}
