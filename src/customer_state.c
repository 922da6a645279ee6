/*
 * customer_state.c — building and merging the per-customer summary state.
 * See customer_state.h; its serialised form is in state_format.c.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "common/int.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "amount.h"
#include "customer_state.h"

#define INITIAL_SET_CAPACITY	4

/*
 * The sets' sorts, specialised by PostgreSQL's sort template (comparisons
 * inline, insertion sort for the usual handful of values, a presorted check
 * for rows that come in time order): qsort() with a comparison callback was
 * 6-7 % of a full stage's CPU.
 */
#define ST_SORT sort_days
#define ST_ELEMENT_TYPE DayNumber
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

#define ST_SORT sort_keys
#define ST_ELEMENT_TYPE int64
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Drop duplicates in place, sorting first unless the set is known to be in
 * order (*sorted); returns the new length, the set then sorted.
 */
#define DEFINE_COMPACT(name, type, sortfn) \
static int32 \
name(type *v, int32 n, bool *sorted) \
{ \
	int32		i, \
				k; \
\
	if (n >= 2 && !*sorted) \
		sortfn(v, n); \
	*sorted = true; \
	if (n < 2) \
		return n; \
	for (i = 1, k = 1; i < n; i++) \
		if (v[i] != v[k - 1]) \
			v[k++] = v[i]; \
	return k; \
}
DEFINE_COMPACT(compact_days, DayNumber, sort_days)
DEFINE_COMPACT(compact_keys, int64, sort_keys)

/*
 * Two sets in order merged in order, from the back (into has room for both
 * at v; duplicates stay until compacted): combining partial states no
 * longer sorts each customer's sets again (9 % of a stage's finalisation).
 */
#define DEFINE_MERGE_SORTED(name, type) \
static void \
name(type *v, int32 n, const type *w, int32 m) \
{ \
	int32		i = n - 1, \
				j = m - 1, \
				k = n + m - 1; \
\
	while (j >= 0) \
	{ \
		if (i >= 0 && v[i] > w[j]) \
			v[k--] = v[i--]; \
		else \
			v[k--] = w[j--]; \
	} \
}
DEFINE_MERGE_SORTED(merge_sorted_days, DayNumber)
DEFINE_MERGE_SORTED(merge_sorted_keys, int64)

/*
 * Make room for `extra` more entries.  A full set is first compacted; it only
 * grows when compaction freed less than half of it, so memory stays within
 * twice the number of distinct values.
 */
static void
reserve_days(CustomerState *s, int32 extra)
{
	if (s->ndays + extra <= s->days_cap)
		return;
	s->ndays = compact_days(s->days, s->ndays, &s->days_sorted);
	if (s->ndays + extra <= s->days_cap && s->ndays <= s->days_cap / 2)
		return;
	while (s->ndays + extra > s->days_cap / 2 + s->days_cap / 4)
	{
		if (s->days_cap > (MaxAllocSize / sizeof(DayNumber)) / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many purchase days for one customer")));
		s->days_cap *= 2;
	}
	s->days = repalloc(s->days, s->days_cap * sizeof(DayNumber));
}

static void
reserve_keys(CustomerState *s, int32 extra)
{
	if (s->norders + extra <= s->orders_cap)
		return;
	s->norders = compact_keys(s->orders, s->norders, &s->orders_sorted);
	if (s->norders + extra <= s->orders_cap && s->norders <= s->orders_cap / 2)
		return;
	while (s->norders + extra > s->orders_cap / 2 + s->orders_cap / 4)
	{
		if (s->orders_cap > (MaxAllocSize / sizeof(int64)) / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct orders for one customer")));
		s->orders_cap *= 2;
	}
	s->orders = repalloc(s->orders, s->orders_cap * sizeof(int64));
}

CustomerState *
customer_state_new(MemoryContext cxt)
{
	CustomerState *s = MemoryContextAllocZero(cxt, sizeof(CustomerState));

	s->days_cap = INITIAL_SET_CAPACITY;
	s->days = MemoryContextAlloc(cxt, s->days_cap * sizeof(DayNumber));
	s->orders_cap = INITIAL_SET_CAPACITY;
	s->orders = MemoryContextAlloc(cxt, s->orders_cap * sizeof(int64));
	s->days_sorted = s->orders_sorted = true;
	return s;
}

static void
note_first_day(CustomerState *s, DayNumber day, int64 spend)
{
	if (s->purchase_rows == 0 || day < s->first_day)
	{
		s->first_day = day;
		s->first_day_spend = spend;
	}
	else if (day == s->first_day)
	{
		if (!amount_add(&s->first_day_spend, spend))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("one customer's purchases on one day exceed hvc's range"),
					 errdetail("hvc sums one customer's amounts exactly in units of 0.0001; a total must stay within +/-922 337 203 685 477.5807."),
					 errhint("Find the customer whose purchases on one day are that large, fix or exclude its rows (for example with a view), and refresh again.")));
	}
}

/*
 * The first and last purchase instants of into and from (from has purchase
 * rows), if both know theirs; into's purchase rows not counted in yet.
 */
static void
merge_instants(CustomerState *into, bool has, int64 first_ts, int64 last_ts)
{
	if (into->purchase_rows == 0)
	{
		into->has_instants = has;
		into->first_ts = has ? first_ts : 0;
		into->last_ts = has ? last_ts : 0;
	}
	else if (!into->has_instants || !has)
	{
		into->has_instants = false;
		into->first_ts = into->last_ts = 0;
	}
	else
	{
		into->first_ts = Min(into->first_ts, first_ts);
		into->last_ts = Max(into->last_ts, last_ts);
	}
}

void
customer_state_add_purchase(CustomerState *s, int64 local_at, bool has_ts, int64 ts,
							int64 units, bool has_order_key, int64 order_key)
{
	DayNumber	day = day_of_local_timestamp(local_at);

	merge_instants(s, has_ts, ts, ts);
	note_first_day(s, day, units);
	if (s->purchase_rows == 0 || local_at < s->first_at)
		s->first_at = local_at;
	if (s->purchase_rows == 0 || local_at > s->last_at)
		s->last_at = local_at;
	s->purchase_rows++;

	reserve_days(s, 1);
	if (s->ndays > 0 && day < s->days[s->ndays - 1])
		s->days_sorted = false;
	s->days[s->ndays++] = day;

	if (has_order_key)
	{
		reserve_keys(s, 1);
		if (s->norders > 0 && order_key < s->orders[s->norders - 1])
			s->orders_sorted = false;
		s->orders[s->norders++] = order_key;
	}
	else
		s->unkeyed_orders++;
}

static void
add_or_overflow(int64 *acc, int64 v)
{
	if (pg_add_s64_overflow(*acc, v, acc))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("a customer's total exceeds hvc's range of +/-922 337 203 685 477"),
				 errdetail("hvc sums one customer's amounts and margins exactly in units of 0.0001 in 64 bits."),
				 errhint("Find the customer whose total revenue or margin is that large, fix or exclude its rows (for example with a view), and refresh again.")));
}

void
customer_state_merge(CustomerState *into, const CustomerState *from)
{
	if (from->purchase_rows > 0)
	{
		merge_instants(into, from->has_instants, from->first_ts, from->last_ts);
		note_first_day(into, from->first_day, from->first_day_spend);
		if (into->purchase_rows == 0 || from->first_at < into->first_at)
			into->first_at = from->first_at;
		if (into->purchase_rows == 0 || from->last_at > into->last_at)
			into->last_at = from->last_at;
	}
	into->rows += from->rows;
	into->skipped += from->skipped;
	into->purchase_rows += from->purchase_rows;
	into->refund_rows += from->refund_rows;
	into->unkeyed_orders += from->unkeyed_orders;
	into->margin_rows += from->margin_rows;
	add_or_overflow(&into->revenue, from->revenue);
	add_or_overflow(&into->margin, from->margin);

	if (from->ndays > 0)
	{
		reserve_days(into, from->ndays);
		if (into->days_sorted && from->days_sorted)
			merge_sorted_days(into->days, into->ndays, from->days, from->ndays);
		else
		{
			memcpy(into->days + into->ndays, from->days, from->ndays * sizeof(DayNumber));
			into->days_sorted = into->ndays == 0 && from->days_sorted;
		}
		into->ndays += from->ndays;
	}
	if (from->norders > 0)
	{
		reserve_keys(into, from->norders);
		if (into->orders_sorted && from->orders_sorted)
			merge_sorted_keys(into->orders, into->norders, from->orders, from->norders);
		else
		{
			memcpy(into->orders + into->norders, from->orders, from->norders * sizeof(int64));
			into->orders_sorted = into->norders == 0 && from->orders_sorted;
		}
		into->norders += from->norders;
	}
}

/* whether every element of the sorted set sub is in the sorted set of */
#define DEFINE_SORTED_WITHIN(name, type) \
static bool \
name(const type *sub, int32 nsub, const type *of, int32 nof) \
{ \
	int32		i, \
				j = 0; \
\
	for (i = 0; i < nsub; i++) \
	{ \
		while (j < nof && of[j] < sub[i]) \
			j++; \
		if (j == nof || of[j] != sub[i]) \
			return false; \
	} \
	return true; \
}
DEFINE_SORTED_WITHIN(days_within, DayNumber)
DEFINE_SORTED_WITHIN(keys_within, int64)

/*
 * Takes the rows r was built from out of s, when the rows that replaced
 * them (already merged into s) hold the same purchase facts
 * (customer_state_same_shape): an update of amounts or margins only.  Then
 * only counters and sums change; the sets, the first and last purchase and
 * the first purchase day stay.  False, s untouched, when r cannot be rows
 * of s: more rows of a kind, a day or order s lacks, a purchase before s's
 * first or after its last, a sum out of range, or counts no rows could
 * give (customer_state_problem).
 */
bool
customer_state_retract(CustomerState *s, CustomerState *r)
{
	int64		revenue,
				margin,
				first_day_spend = s->first_day_spend;
	CustomerState t;

	customer_state_compact(s);
	customer_state_compact(r);
	if (r->purchase_rows > 0)
	{
		if (r->first_at < s->first_at || r->last_at > s->last_at || r->first_day < s->first_day)
			return false;
		if (r->has_instants != s->has_instants ||
			(s->has_instants && (r->first_ts < s->first_ts || r->last_ts > s->last_ts)))
			return false;
		if (r->first_day == s->first_day &&
			pg_sub_s64_overflow(s->first_day_spend, r->first_day_spend, &first_day_spend))
			return false;
	}
	if (!days_within(r->days, r->ndays, s->days, s->ndays) ||
		!keys_within(r->orders, r->norders, s->orders, s->norders) ||
		pg_sub_s64_overflow(s->revenue, r->revenue, &revenue) ||
		pg_sub_s64_overflow(s->margin, r->margin, &margin))
		return false;
	t = *s;
	t.rows -= r->rows;
	t.skipped -= r->skipped;
	t.purchase_rows -= r->purchase_rows;
	t.refund_rows -= r->refund_rows;
	t.unkeyed_orders -= r->unkeyed_orders;
	t.margin_rows -= r->margin_rows;
	t.revenue = revenue;
	t.margin = margin;
	t.first_day_spend = first_day_spend;
	/*
	 * what no rows could give (more rows of a kind taken out than s has, a
	 * purchase day left without purchase rows): not s's rows
	 */
	if (customer_state_problem(&t) != NULL)
		return false;
	*s = t;
	return true;
}

/*
 * Whether a and b hold the same purchase facts: the same rows of each kind
 * (purchase, refund, skipped) and without an order key, the same first and
 * last purchase, the same purchase days and order keys; only sums and
 * margins may differ.  Rows replaced by rows of the same shape leave a
 * state's sets and times as they were (customer_state_retract).  Compacts
 * both.
 */
bool
customer_state_same_shape(CustomerState *a, CustomerState *b)
{
	customer_state_compact(a);
	customer_state_compact(b);
	if (a->rows != b->rows || a->skipped != b->skipped ||
		a->purchase_rows != b->purchase_rows || a->refund_rows != b->refund_rows ||
		a->unkeyed_orders != b->unkeyed_orders || a->ndays != b->ndays || a->norders != b->norders)
		return false;
	if (a->purchase_rows > 0 &&
		(a->first_at != b->first_at || a->last_at != b->last_at || a->first_day != b->first_day ||
		 a->has_instants != b->has_instants || a->first_ts != b->first_ts || a->last_ts != b->last_ts))
		return false;
	return (a->ndays == 0 || memcmp(a->days, b->days, a->ndays * sizeof(DayNumber)) == 0) &&
		(a->norders == 0 || memcmp(a->orders, b->orders, a->norders * sizeof(int64)) == 0);
}

CustomerState *
customer_state_copy(MemoryContext cxt, const CustomerState *from)
{
	CustomerState *s = customer_state_new(cxt);

	customer_state_merge(s, from);
	return s;
}

/* Sorts the sets and drops their duplicates. */
void
customer_state_compact(CustomerState *s)
{
	s->ndays = compact_days(s->days, s->ndays, &s->days_sorted);
	s->norders = compact_keys(s->orders, s->norders, &s->orders_sorted);
}

void
customer_state_summarize(CustomerState *s, CustomerSummary *out)
{
	customer_state_compact(s);
	customer_state_summarize_fields(s, out);
}

/*
 * The summary from the counters, times and set sizes alone (the sets
 * compacted): the first and last purchase days are those of first_at and
 * last_at.
 */
void
customer_state_summarize_fields(const CustomerState *s, CustomerSummary *out)
{
	memset(out, 0, sizeof(*out));
	out->orders = s->norders + s->unkeyed_orders;
	out->purchase_days = s->ndays;
	if (s->ndays == 0)
		return;
	out->frequency = s->ndays - 1;
	out->recency_days = day_of_local_timestamp(s->last_at) - s->first_day;
	if (out->frequency > 0)
		out->monetary_value = ((double) s->revenue - (double) s->first_day_spend) /
			HVC_AMOUNT_SCALE / out->frequency;
}
