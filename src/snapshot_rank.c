/*
 * snapshot_rank.c — the order statistics of a refresh, streamed (see
 * snapshot.h): RFM quintile breaks from a histogram of few distinct values
 * or radix buckets over the values, and the churn-risk percentile (cume_dist) from a
 * histogram of the distinct churn risks.  A churn risk is a function of the
 * customer's (frequency, recency, age) triple, so the histogram has at most
 * one entry per distinct triple, not per customer.
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/buffile.h"
#include "common/hashfn.h"
#include "utils/memutils.h"

#include "snapshot.h"

/*
 * Distinct values and how many times each was seen: an open-addressing hash
 * table (lib/simplehash.h) keyed by the value's bits (-0.0 is stored as
 * 0.0: one key per value).  The break sorts' histograms and the churn-risk
 * cume_dist use it.
 */
typedef struct ValueCount
{
	double		v;				/* key: a finite value, 0.0 for -0.0 */
	char		status;			/* simplehash's */
	int64		count;			/* how many times it was added */
	int64		at_most;		/* cume_dist, after cume_dist_finish: values <= v */
} ValueCount;

static inline uint32
value_hash(double v)
{
	uint64		bits;

	memcpy(&bits, &v, sizeof(bits));
	return hash_combine(murmurhash32((uint32) bits), murmurhash32((uint32) (bits >> 32)));
}

#define SH_PREFIX valcount
#define SH_ELEMENT_TYPE ValueCount
#define SH_KEY_TYPE double
#define SH_KEY v
#define SH_HASH_KEY(tb, k) value_hash(k)
#define SH_EQUAL(tb, a, b) (memcmp(&(a), &(b), sizeof(double)) == 0)	/* the bits, as the hash */
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* the key of v: -0.0 and 0.0 are one value */
static inline double
value_key(double v)
{
	return v == 0.0 ? 0.0 : v;
}

/* count n more v */
static inline ValueCount *
value_count_add_n(valcount_hash *h, double v, int64 n)
{
	bool		found;
	ValueCount *e = valcount_insert(h, value_key(v), &found);

	if (!found)
		e->count = 0;
	e->count += n;
	return e;
}

static inline ValueCount *
value_count_add(valcount_hash *h, double v)
{
	return value_count_add_n(h, v, 1);
}

/* an entry of the table and its value, sorted by value (sort_value_refs) */
typedef struct ValueRef
{
	double		v;
	ValueCount *e;
} ValueRef;

#define ST_SORT sort_value_refs
#define ST_ELEMENT_TYPE ValueRef
#define ST_COMPARE(a, b) (((a)->v > (b)->v) - ((a)->v < (b)->v))
#define ST_SCOPE static
#define ST_DECLARE
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * the table's entries in ascending order of value (*m of them); the values
 * beside the pointers, so that the sort compares without reading the table
 */
static ValueRef *
value_counts_sorted(valcount_hash *h, long *m)
{
	ValueRef   *order = palloc_extended(Max(h->members, 1) * sizeof(ValueRef), MCXT_ALLOC_HUGE);
	valcount_iterator it;
	ValueCount *e;
	long		k = 0;

	valcount_start_iterate(h, &it);
	while ((e = valcount_iterate(h, &it)) != NULL)
	{
		order[k].v = e->v;
		order[k++].e = e;
	}
	sort_value_refs(order, k);
	*m = k;
	return order;
}

/*
 * A break sort starts as a histogram of the distinct values (a recency in
 * days or an order count takes few).  Past BREAK_HIST_MAX distinct values it
 * keeps every value, in memory up to work_mem and beyond in a temporary
 * file, and counts the values per radix bucket: the leading RADIX_BITS bits
 * of the value in an order-preserving form (sign, exponent and four mantissa
 * bits: 16 buckets per power of two).  A percentile reads the values at two
 * positions; the counts tell which buckets hold them, and one read of the
 * values sorts only those buckets' values, in a tuplesort (which spills
 * beyond work_mem should one bucket hold most of them).  Sorting every
 * value, as the break sorts did before, spilled 500 000 of them to disk at
 * the default work_mem.  Either way the percentiles are those of the same
 * values (-0.0 counts as 0.0: the breaks are only compared with).
 */
#ifdef HVC_SMALL_CACHES			/* the assertion-enabled test build: radix buckets at once */
#define BREAK_HIST_MAX 4
#else
#define BREAK_HIST_MAX 4096
#endif
#define RADIX_BITS 16
#define RADIX_BUCKETS (1 << RADIX_BITS)
#define VALUES_INITIAL 1024

/* v's bits in an order that compares as the values do (NaN last, as float8's) */
static inline uint64
order_bits(double v)
{
	uint64		bits;

	if (isnan(v))
		return PG_UINT64_MAX;
	memcpy(&bits, &v, sizeof(bits));
	return (bits >> 63) != 0 ? ~bits : bits | (UINT64CONST(1) << 63);
}

static inline int
radix_bucket(double v)
{
	return (int) (order_bits(v) >> (64 - RADIX_BITS));
}

void
break_sort_begin(BreakSort *bs)
{
	memset(bs, 0, sizeof(*bs));
	bs->hist = valcount_create(CurrentMemoryContext, 256, NULL);
	bs->cxt = CurrentMemoryContext;
}

/*
 * The value array is full: twice as large while that stays within work_mem,
 * else its values go to the temporary file (created on the first spill).
 */
static void
radix_make_room(BreakSort *bs)
{
	MemoryContext outer;

	if ((Size) bs->cap * 2 * sizeof(double) <= (Size) work_mem * 1024 && bs->file == NULL)
	{
		bs->cap *= 2;
		bs->values = repalloc_huge(bs->values, (Size) bs->cap * sizeof(double));
		return;
	}
	if (bs->file == NULL)
	{
		outer = MemoryContextSwitchTo(bs->cxt);
		bs->file = BufFileCreateTemp(false);
		MemoryContextSwitchTo(outer);
	}
	BufFileWrite(bs->file, bs->values, bs->nvalues * sizeof(double));
	bs->nvalues = 0;
}

static inline void
radix_put(BreakSort *bs, double v)
{
	bs->buckets[radix_bucket(v)]++;
	if (bs->nvalues == bs->cap)
		radix_make_room(bs);
	bs->values[bs->nvalues++] = v;
}

/* from the histogram to the value array and the bucket counts */
static void
break_sort_spill(BreakSort *bs)
{
	valcount_iterator it;
	ValueCount *e;
	/* they live as long as the break sort (puts may come from a per-row context) */
	MemoryContext outer = MemoryContextSwitchTo(bs->cxt);

	bs->buckets = palloc0(RADIX_BUCKETS * sizeof(int64));
	bs->cap = VALUES_INITIAL;
	bs->values = palloc(bs->cap * sizeof(double));
	MemoryContextSwitchTo(outer);
	valcount_start_iterate(bs->hist, &it);
	while ((e = valcount_iterate(bs->hist, &it)) != NULL)
	{
		int64		k;

		for (k = 0; k < e->count; k++)
			radix_put(bs, e->v);
		CHECK_FOR_INTERRUPTS();
	}
	valcount_destroy(bs->hist);
	bs->hist = NULL;
}

void
break_sort_put(BreakSort *bs, double v)
{
	bs->n++;
	if (bs->hist != NULL)
	{
		value_count_add(bs->hist, v);
		if (bs->hist->members > BREAK_HIST_MAX)
			break_sort_spill(bs);
		return;
	}
	radix_put(bs, value_key(v));
}

/* the sorted values at positions lo[i] and lo[i] + 1, from the histogram */
static void
hist_values_at(BreakSort *bs, const int64 *lo, int np, double *at_lo, double *at_hi)
{
	long		m;
	ValueRef   *order = value_counts_sorted(bs->hist, &m);
	long		j;
	int64		start = 0;
	int			i;

	for (j = 0; j < m; j++)
	{
		int64		end = start + order[j].e->count;	/* positions start .. end - 1 */

		for (i = 0; i < np; i++)
		{
			if (lo[i] >= start && lo[i] < end)
				at_lo[i] = order[j].v;
			if (lo[i] + 1 >= start && lo[i] + 1 < end)
				at_hi[i] = order[j].v;
		}
		start = end;
	}
	pfree(order);
	valcount_destroy(bs->hist);
	bs->hist = NULL;
}

/* the values of the wanted buckets into the sort */
static void
put_wanted(Tuplesortstate *sort, const bool *want, const double *v, int n)
{
	int			k;

	for (k = 0; k < n; k++)
		if (want[radix_bucket(v[k])])
			tuplesort_putdatum(sort, Float8GetDatum(v[k]), false);
	CHECK_FOR_INTERRUPTS();
}

/*
 * The values of the buckets that hold positions lo[i] and lo[i] + 1, sorted
 * (*kept of them), and where lo[i] falls among them (at[i]).  Positions lo[i]
 * and lo[i] + 1 stay neighbours there: buckets between theirs are empty.
 */
static Tuplesortstate *
radix_sort_wanted(BreakSort *bs, const int64 *lo, int np, int64 *at, int64 *kept)
{
	bool	   *want = palloc0(RADIX_BUCKETS * sizeof(bool));
	int64		start = 0;
	int			b,
				i;
	Tuplesortstate *sort;
	MemoryContext outer;

	*kept = 0;
	for (b = 0; b < RADIX_BUCKETS; b++)
	{
		int64		end = start + bs->buckets[b];	/* positions start .. end - 1 */

		for (i = 0; i < np; i++)
		{
			if (lo[i] >= start && lo[i] < end)
			{
				want[b] = true;
				at[i] = *kept + (lo[i] - start);
			}
			if (lo[i] + 1 >= start && lo[i] + 1 < end)
				want[b] = true;
		}
		if (want[b])
			*kept += bs->buckets[b];
		start = end;
	}
	outer = MemoryContextSwitchTo(bs->cxt);
	sort = tuplesort_begin_datum(FLOAT8OID, Float8LessOperator, InvalidOid, false,
								 work_mem, NULL, TUPLESORT_NONE);
	MemoryContextSwitchTo(outer);
	if (bs->file == NULL)
		put_wanted(sort, want, bs->values, bs->nvalues);
	else
	{
		size_t		got;

		/* the values still in memory follow those in the file */
		BufFileWrite(bs->file, bs->values, bs->nvalues * sizeof(double));
		if (BufFileSeek(bs->file, 0, 0, SEEK_SET) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("hvc: could not rewind a percentile's temporary file: %m")));
		while ((got = BufFileRead(bs->file, bs->values, (Size) bs->cap * sizeof(double))) > 0)
		{
			if (got % sizeof(double) != 0)
				elog(ERROR, "hvc: a percentile's temporary file ends inside a value");
			put_wanted(sort, want, bs->values, (int) (got / sizeof(double)));
		}
		BufFileClose(bs->file);
		bs->file = NULL;
	}
	pfree(bs->buckets);
	pfree(bs->values);
	pfree(want);
	return sort;
}

/* the sorted values at positions lo[i] and lo[i] + 1, in one pass over the wanted buckets */
static void
radix_values_at(BreakSort *bs, const int64 *lo, int np, double *at_lo, double *at_hi)
{
	int64	   *at = palloc0(np * sizeof(int64));
	int64		kept,
				k;
	int			i;
	Tuplesortstate *sort = radix_sort_wanted(bs, lo, np, at, &kept);

	tuplesort_performsort(sort);
	for (k = 0; k < kept; k++)
	{
		Datum		d;
		bool		isnull;
		double		v;

		if (!hvc_tuplesort_getdatum(sort, true, &d, &isnull))
			elog(ERROR, "hvc: a percentile sort returned fewer values than it was given");
		v = DatumGetFloat8(d);
		for (i = 0; i < np; i++)
		{
			if (k == at[i])
				at_lo[i] = v;
			if (k == at[i] + 1)
				at_hi[i] = v;
		}
		/* the positions grow with ps: past the last one, the rest is not needed */
		if (k > at[np - 1])
			break;
		CHECK_FOR_INTERRUPTS();
	}
	tuplesort_end(sort);
	pfree(at);
}

/*
 * percentile_cont(p) as PostgreSQL (and rfm_percentile_cont) computes it
 * from the sorted values: pos = p (n - 1), lo = floor(pos),
 * v[lo] + (v[lo + 1] - v[lo]) (pos - lo), or the last value when lo + 1 is
 * past the end.  The values at the positions it reads are picked out of the
 * histogram or of the sorted values of the buckets that hold them.
 */
bool
break_sort_percentiles(BreakSort *bs, const double *ps, int np, double *out)
{
	int64	   *lo = palloc(np * sizeof(int64));
	double	   *frac = palloc(np * sizeof(double)),
			   *at_lo = palloc0(np * sizeof(double)),
			   *at_hi = palloc0(np * sizeof(double));
	int			i;

	for (i = 0; i < np; i++)
	{
		double		pos = ps[i] * (double) (bs->n - 1);

		lo[i] = bs->n > 0 ? (int64) pos : 0;
		frac[i] = pos - (double) lo[i];
	}
	if (bs->hist != NULL)
		hist_values_at(bs, lo, np, at_lo, at_hi);
	else
		radix_values_at(bs, lo, np, at_lo, at_hi);
	for (i = 0; i < np; i++)
	{
		if (bs->n == 0)
			out[i] = 0.0;
		else if (lo[i] + 1 >= bs->n)
			out[i] = at_lo[i];	/* the last value */
		else
			out[i] = at_lo[i] + (at_hi[i] - at_lo[i]) * frac[i];
	}
	pfree(lo);
	pfree(frac);
	pfree(at_lo);
	pfree(at_hi);
	return bs->n > 0;
}

/* the RFM quintile breaks: percentile_cont(0.2, 0.4, 0.6, 0.8), 0 without values */
void
break_sort_finish(BreakSort *bs, double breaks[RFM_BREAKS])
{
	double		ps[RFM_BREAKS];
	int			i;

	for (i = 0; i < RFM_BREAKS; i++)
		ps[i] = (i + 1) / 5.0;
	break_sort_percentiles(bs, ps, RFM_BREAKS, breaks);
}

struct CumeDist
{
	valcount_hash *hash;
	int64		n;
};

CumeDist *
cume_dist_create(void)
{
	CumeDist   *cd = palloc0(sizeof(CumeDist));

	cd->hash = valcount_create(CurrentMemoryContext, 1024, NULL);
	return cd;
}

void
cume_dist_add(CumeDist *cd, double v)
{
	cume_dist_add_n(cd, v, 1);
}

void
cume_dist_add_n(CumeDist *cd, double v, int64 n)
{
	value_count_add_n(cd->hash, v, n);
	cd->n += n;
}

void
cume_dist_finish(CumeDist *cd)
{
	long		m;
	ValueRef   *order = value_counts_sorted(cd->hash, &m);
	long		k;
	int64		running = 0;

	for (k = 0; k < m; k++)
	{
		running += order[k].e->count;
		order[k].e->at_most = running;
		CHECK_FOR_INTERRUPTS();
	}
	pfree(order);
}

double
cume_dist_of(CumeDist *cd, double v)
{
	ValueCount *e = valcount_lookup(cd->hash, value_key(v));

	if (e == NULL)
		elog(ERROR, "hvc: cume_dist_of a value never added");
	return (double) e->at_most / (double) cd->n;
}

void
pareto_begin(ParetoCurve *pc, int64 customers, double *share, bool *isnull)
{
	int			pct;

	for (pct = 0; pct < PARETO_POINTS; pct++)
	{
		pc->rank_at[pct] = ((int64) (pct + 1) * customers + PARETO_POINTS - 1) / PARETO_POINTS;
		pc->rank_at[pct] = Max(pc->rank_at[pct], 1);
		isnull[pct] = true;
	}
	pc->next = 0;
	pc->share = share;
	pc->isnull = isnull;
}

void
pareto_put(ParetoCurve *pc, int64 rank, double cum_share)
{
	while (pc->next < PARETO_POINTS && pc->rank_at[pc->next] == rank)
	{
		pc->isnull[pc->next] = !isfinite(cum_share);
		pc->share[pc->next] = cum_share;
		pc->next++;
	}
}
