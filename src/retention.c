/*
 * retention.c — purchase facts for retention, from the refresh's customer
 * states (one pass over the stage; 75_retention.sql):
 *
 *   hvc._purchase_period_mask(state bytea, bounds date[]) -> bigint
 *     bit i set when the customer has a purchase day d with
 *     bounds[i] <= d < bounds[i + 1] (at most 63 periods)
 *   cohort counts (retention.h), collected by the builder's pass 1
 *     (snapshot_builder.c, hvc._snapshot_stats): per first-purchase month
 *     and month offset k = 0, 1, ... the number of customers with a
 *     purchase day in month first + k (k = 0: the cohort)
 *   hvc._cohort_rows(bytea) -> SETOF (cohort_month date, months_after
 *     integer, customers bigint): the rows of those counts
 *
 * Days are the state's purchase days (local days in hvc.config.timezone,
 * days since 2000-01-01 like a date); months are calendar months of them.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "common/hashfn.h"
#include "utils/memutils.h"

#include "customer_state.h"
#include "retention.h"

PG_FUNCTION_INFO_V1(hvc_purchase_period_mask);
PG_FUNCTION_INFO_V1(hvc_cohort_rows);
PG_FUNCTION_INFO_V1(hvc_cohort_keys);
PG_FUNCTION_INFO_V1(hvc_cohort_counts_from);

#define MAX_PERIODS 63

static CustomerState *
state_arg(FunctionCallInfo fcinfo, int n, MemoryContext cxt)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(n);

	return customer_state_deserialize(cxt, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
}

Datum
hvc_purchase_period_mask(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i,
				j = 0;
	CustomerState *s;
	int64		mask = 0;

	if (ARR_ELEMTYPE(arr) != DATEOID)
		elog(ERROR, "hvc._purchase_period_mask: bounds must be a date[]");
	deconstruct_array(arr, DATEOID, sizeof(DateADT), true, TYPALIGN_INT, &elems, &nulls, &n);
	if (n < 2 || n > MAX_PERIODS + 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: between 2 and %d period bounds are needed, got %d", MAX_PERIODS + 1, n)));
	for (i = 0; i < n; i++)
		if (nulls[i] || DATE_NOT_FINITE(DatumGetDateADT(elems[i])) ||
			(i > 0 && DatumGetDateADT(elems[i]) <= DatumGetDateADT(elems[i - 1])))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hvc: period bounds must be finite, increasing dates")));
	s = state_arg(fcinfo, 0, CurrentMemoryContext);
	/* both sorted: one merge */
	for (i = 0; i < s->ndays; i++)
	{
		DateADT		d = s->days[i];

		while (j < n - 1 && d >= DatumGetDateADT(elems[j + 1]))
			j++;
		if (j == n - 1)
			break;
		if (d >= DatumGetDateADT(elems[j]))
			mask |= (int64) 1 << j;
	}
	PG_RETURN_INT64(mask);
}

/* ---------------------------------------------------------------------
 * Cohorts
 * --------------------------------------------------------------------- */

typedef struct CohortEntry
{
	int64		key;			/* (month index << 32) | offset */
	int64		customers;
} CohortEntry;

/*
 * While counting: an open-addressing hash table (lib/simplehash.h) of the
 * keys, one probe per key with an inlined hash, where a dynahash lookup
 * cost a function call for the hash and one for the key comparison (a
 * customer adds a key per month with a purchase: a few million lookups for
 * long histories).
 */
typedef struct CohortSlot
{
	int64		key;
	char		status;			/* simplehash's */
	int64		customers;
} CohortSlot;

static inline uint32
cohort_key_hash(int64 key)
{
	return hash_combine(murmurhash32((uint32) key), murmurhash32((uint32) ((uint64) key >> 32)));
}

#define SH_PREFIX cohort
#define SH_ELEMENT_TYPE CohortSlot
#define SH_KEY_TYPE int64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) cohort_key_hash(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

struct CohortCounts
{
	cohort_hash *counts;
};

/* month index of a day: year * 12 + month - 1 */
static int32
month_of_day(DayNumber d)
{
	int			y,
				m,
				dd;

	j2date(d + POSTGRES_EPOCH_JDATE, &y, &m, &dd);
	return y * 12 + m - 1;
}

/* the day number of the first day of month index m */
static DayNumber
first_day_of_month(int32 m)
{
	int32		y = m >= 0 ? m / 12 : -((-m + 11) / 12);

	return date2j(y, m - y * 12 + 1, 1) - POSTGRES_EPOCH_JDATE;
}

CohortCounts *
cohort_counts_create(MemoryContext cxt)
{
	CohortCounts *cc = MemoryContextAllocZero(cxt, sizeof(CohortCounts));

	cc->counts = cohort_create(cxt, 256, NULL);
	return cc;
}

/*
 * The keys a customer adds one to: (first month << 32) | months after it,
 * for each month with a purchase day; none without a purchase row.  keys has
 * room for s->ndays.
 */
static int
cohort_keys_of(const CustomerState *s, int64 *keys)
{
	int32		i,
				first;
	int			n = 0;
	DayNumber	next_month = 0; /* the first day of the month after the last key's */

	if (s->ndays == 0 || s->purchase_rows == 0)
		return 0;
	first = month_of_day(s->days[0]);
	for (i = 0; i < s->ndays; i++)
	{
		int32		m;

		/* days increase: each month once, the month of a day worked out once per month */
		if (i > 0 && s->days[i] < next_month)
			continue;
		m = month_of_day(s->days[i]);
		keys[n++] = ((int64) first << 32) | (uint32) (m - first);
		next_month = first_day_of_month(m + 1);
	}
	return n;
}

void
cohort_counts_add(CohortCounts *cc, const CustomerState *s)
{
	int64		few[64];
	int64	   *keys = s->ndays <= lengthof(few) ? few : palloc(sizeof(int64) * s->ndays);
	int			n = cohort_keys_of(s, keys),
				i;

	for (i = 0; i < n; i++)
	{
		bool		found;
		CohortSlot *e = cohort_insert(cc->counts, keys[i], &found);

		if (!found)
			e->customers = 0;
		e->customers++;
	}
	if (keys != few)
		pfree(keys);
}

/* the counts as (key, customers) pairs of int64, sorted by key */
static int
cmp_entry(const void *x, const void *y)
{
	int64		a = ((const CohortEntry *) x)->key,
				b = ((const CohortEntry *) y)->key;

	return a < b ? -1 : a > b ? 1 : 0;
}

bytea *
cohort_counts_bytes(CohortCounts *cc)
{
	long		n = (long) cc->counts->members,
				i = 0;
	Size		len = (Size) n * sizeof(CohortEntry);
	bytea	   *out = palloc(len + VARHDRSZ);
	CohortEntry *rows = (CohortEntry *) VARDATA(out);
	cohort_iterator it;
	CohortSlot *e;

	SET_VARSIZE(out, len + VARHDRSZ);
	cohort_start_iterate(cc->counts, &it);
	while ((e = cohort_iterate(cc->counts, &it)) != NULL)
	{
		rows[i].key = e->key;
		rows[i++].customers = e->customers;
	}
	if (n > 1)
		qsort(rows, n, sizeof(CohortEntry), cmp_entry);
	return out;
}

/* the months of purchase days (the timestamp range: 4713 BC to 294276 AD) */
#define MIN_MONTH	(-4713 * 12)
#define MAX_MONTH	(294276 * 12 + 11)

/* the entries of cohort counts, validated (an aligned copy) */
static CohortEntry *
cohort_entries(bytea *b, long *n)
{
	Size		len = VARSIZE_ANY_EXHDR(b);
	CohortEntry *rows;
	long		i;

	if (len % sizeof(CohortEntry) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: not a cohort count (length %zu)", len)));
	*n = (long) (len / sizeof(CohortEntry));
	rows = palloc(Max(len, 1));
	memcpy(rows, VARDATA_ANY(b), len);
	for (i = 0; i < *n; i++)
		if ((int32) (uint32) rows[i].key < 0 || rows[i].customers < 0 ||
			(rows[i].key >> 32) < MIN_MONTH || (rows[i].key >> 32) > MAX_MONTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hvc: not a cohort count (entry %ld)", i + 1)));
	return rows;
}

Datum
hvc_cohort_rows(PG_FUNCTION_ARGS)
{
	FuncCallContext *fc;
	CohortEntry *rows;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		TupleDesc	desc;
		long		n;

		fc = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(fc->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != 3)
			elog(ERROR, "hvc._cohort_rows must return three columns");
		fc->tuple_desc = BlessTupleDesc(desc);
		fc->user_fctx = cohort_entries(PG_GETARG_BYTEA_PP(0), &n);
		fc->max_calls = (uint64) n;
		MemoryContextSwitchTo(old);
	}
	fc = SRF_PERCALL_SETUP();
	rows = (CohortEntry *) fc->user_fctx;
	if (fc->call_cntr < fc->max_calls)
	{
		CohortEntry *e = &rows[fc->call_cntr];
		int32		month = (int32) (e->key >> 32);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = DateADTGetDatum(date2j(month / 12, month % 12 + 1, 1) - POSTGRES_EPOCH_JDATE);
		values[1] = Int32GetDatum((int32) (uint32) e->key);
		values[2] = Int64GetDatum(e->customers);
		SRF_RETURN_NEXT(fc, HeapTupleGetDatum(heap_form_tuple(fc->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(fc);
}

/*
 * hvc._cohort_keys(state bytea) RETURNS bigint[]: the cohort count keys a
 * customer's hvc.customer_state adds one to (as the builder counts them).
 * On Citus the workers count them per key next to the shards, and the
 * coordinator packs the sums (hvc._cohort_counts_from).
 */
Datum
hvc_cohort_keys(PG_FUNCTION_ARGS)
{
	CustomerState *s = state_arg(fcinfo, 0, CurrentMemoryContext);
	int64	   *keys = palloc(sizeof(int64) * Max(s->ndays, 1));
	Datum	   *d = palloc(sizeof(Datum) * Max(s->ndays, 1));
	int			n = cohort_keys_of(s, keys),
				i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(keys[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* the elements of a one-dimensional bigint[] without NULLs, or an error */
static Datum *
int8_array_arg(FunctionCallInfo fcinfo, int arg, const char *name, int *n)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(arg);
	Datum	   *d;
	bool	   *nulls;
	int			i;

	if (ARR_ELEMTYPE(a) != INT8OID)
		elog(ERROR, "hvc._cohort_counts_from: %s must be a bigint[]", name);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("hvc: %s must be a one-dimensional array", name)));
	deconstruct_array(a, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &d, &nulls, n);
	for (i = 0; i < *n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("hvc: %s must not contain NULL", name)));
	return d;
}

/*
 * hvc._cohort_counts_from(keys bigint[], customers bigint[]) RETURNS bytea:
 * the cohort counts of hvc._snapshot_stats from the customers counted per
 * key (distinct keys of hvc._cohort_keys, counts of at least one).
 */
Datum
hvc_cohort_counts_from(PG_FUNCTION_ARGS)
{
	int			nk,
				nc,
				i;
	Datum	   *keys,
			   *counts;
	bytea	   *out;
	CohortEntry *rows;
	long		n;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc._cohort_counts_from needs the keys and the customers per key")));
	keys = int8_array_arg(fcinfo, 0, "keys", &nk);
	counts = int8_array_arg(fcinfo, 1, "customers", &nc);
	if (nk != nc)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: %d cohort keys but %d counts", nk, nc)));
	out = palloc(VARHDRSZ + sizeof(CohortEntry) * (Size) nk);
	SET_VARSIZE(out, VARHDRSZ + sizeof(CohortEntry) * (Size) nk);
	rows = (CohortEntry *) VARDATA(out);
	for (i = 0; i < nk; i++)
	{
		CHECK_FOR_INTERRUPTS();
		rows[i].key = DatumGetInt64(keys[i]);
		rows[i].customers = DatumGetInt64(counts[i]);
		if (rows[i].customers < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hvc: a cohort key counts %lld customers", (long long) rows[i].customers)));
	}
	if (nk > 1)
		qsort(rows, nk, sizeof(CohortEntry), cmp_entry);
	for (i = 1; i < nk; i++)
		if (rows[i].key == rows[i - 1].key)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hvc: cohort key %lld is given twice", (long long) rows[i].key)));
	/* the keys as the reader checks them (months in range, offsets >= 0) */
	pfree(cohort_entries(out, &n));
	PG_RETURN_BYTEA_P(out);
}
