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
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "customer_state.h"
#include "retention.h"

PG_FUNCTION_INFO_V1(hvc_purchase_period_mask);
PG_FUNCTION_INFO_V1(hvc_cohort_rows);

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

struct CohortCounts
{
	HTAB	   *counts;
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

CohortCounts *
cohort_counts_create(MemoryContext cxt)
{
	CohortCounts *cc = MemoryContextAllocZero(cxt, sizeof(CohortCounts));
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(CohortEntry);
	ctl.hcxt = cxt;
	cc->counts = hash_create("hvc cohorts", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	return cc;
}

static void
cohort_add(CohortCounts *cc, int32 cohort, int32 offset)
{
	int64		key = ((int64) cohort << 32) | (uint32) offset;
	bool		found;
	CohortEntry *e = hash_search(cc->counts, &key, HASH_ENTER, &found);

	if (!found)
		e->customers = 0;
	e->customers++;
}

void
cohort_counts_add(CohortCounts *cc, const CustomerState *s)
{
	int32		i,
				first,
				last = -1;

	if (s->ndays == 0)
		return;
	first = month_of_day(s->days[0]);
	for (i = 0; i < s->ndays; i++)
	{
		int32		m = month_of_day(s->days[i]);

		/* days increase: each month once */
		if (m != last)
			cohort_add(cc, first, m - first);
		last = m;
	}
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
	long		n = hash_get_num_entries(cc->counts),
				i = 0;
	Size		len = (Size) n * sizeof(CohortEntry);
	bytea	   *out = palloc(len + VARHDRSZ);
	CohortEntry *rows = (CohortEntry *) VARDATA(out);
	HASH_SEQ_STATUS it;
	CohortEntry *e;

	SET_VARSIZE(out, len + VARHDRSZ);
	hash_seq_init(&it, cc->counts);
	while ((e = hash_seq_search(&it)) != NULL)
		rows[i++] = *e;
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
