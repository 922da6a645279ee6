/*
 * state_format.c — the serialised per-customer state (see customer_state.h):
 * what hvc.customer_state returns, what parallel workers, Citus shards and
 * the stored states of incremental refreshes exchange, and its validation.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "common/int.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amount.h"
#include "customer_state.h"

#define STATE_FORMAT_VERSION	1
#define INITIAL_SET_CAPACITY	4

/* ---------------------------------------------------------------------
 * Serialisation: version byte, eleven int64 counters, three int32, then the
 * compacted day set and order-key set.
 * --------------------------------------------------------------------- */

#define N_INT64_FIELDS	11
#define FIXED_SIZE		(1 + N_INT64_FIELDS * sizeof(int64) + 3 * sizeof(int32))

bytea *
customer_state_serialize(CustomerState *s)
{
	Size		size;
	bytea	   *out;
	char	   *p;
	int64		f[N_INT64_FIELDS];
	int32		g[3];

	customer_state_compact(s);

	size = VARHDRSZ + FIXED_SIZE + s->ndays * sizeof(DayNumber) + s->norders * sizeof(int64);
	out = palloc(size);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	*p++ = STATE_FORMAT_VERSION;

	f[0] = s->rows;
	f[1] = s->skipped;
	f[2] = s->purchase_rows;
	f[3] = s->refund_rows;
	f[4] = s->unkeyed_orders;
	f[5] = s->revenue;
	f[6] = s->margin;
	f[7] = s->margin_rows;
	f[8] = s->first_at;
	f[9] = s->last_at;
	f[10] = s->first_day_spend;
	memcpy(p, f, sizeof(f));
	p += sizeof(f);
	g[0] = s->first_day;
	g[1] = s->ndays;
	g[2] = s->norders;
	memcpy(p, g, sizeof(g));
	p += sizeof(g);
	memcpy(p, s->days, s->ndays * sizeof(DayNumber));
	p += s->ndays * sizeof(DayNumber);
	memcpy(p, s->orders, s->norders * sizeof(int64));
	return out;
}

static void
corrupt(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid hvc customer summary state"),
			 errdetail("%s", why)));
}

/* count * (HVC_AMOUNT_ROW_LIMIT - 1), saturated at PG_INT64_MAX */
static int64
rows_times_limit(int64 count)
{
	int64		r;

	if (pg_mul_s64_overflow(count, HVC_AMOUNT_ROW_LIMIT - 1, &r))
		return PG_INT64_MAX;
	return r;
}

/*
 * The fixed fields of a state (f: the eleven int64 counters, g: first day and
 * set sizes) describe something hvc.customer_state can produce: every count
 * adds up, every sum is within what that many rows of at most 10^13 each can
 * give, and purchase facts exist exactly when there are purchase rows.
 */
static void
check_fixed_fields(const int64 *f, const int32 *g)
{
	int64		used,
				sum,
				upper,
				diff;
	int			i;

	for (i = 0; i < 5; i++)
		if (f[i] < 0)
			corrupt("negative row count");
	if (f[7] < 0)
		corrupt("negative margin row count");
	if (pg_add_s64_overflow(f[1], f[2], &sum) || pg_add_s64_overflow(sum, f[3], &sum) ||
		f[0] != sum)
		corrupt("row counts do not add up");
	used = f[2] + f[3];			/* no overflow: at most f[0] */
	if (f[7] > used)
		corrupt("more margin rows than rows used");
	/* purchases are >= 0 and refunds <= -0.0001, each below 10^13 in size */
	upper = rows_times_limit(f[2]);
	if (upper < PG_INT64_MAX)
		upper -= f[3];
	if (f[5] > upper || f[5] < -rows_times_limit(f[3]))
		corrupt("net revenue out of the range its purchase and refund rows allow");
	if (f[6] > rows_times_limit(f[7]) || f[6] < -rows_times_limit(f[7]))
		corrupt("margin out of the range its margin rows allow");
	if (f[2] == 0)
	{
		if (g[1] != 0 || g[2] != 0 || f[4] != 0 || f[10] != 0 ||
			f[8] != 0 || f[9] != 0 || g[0] != 0)
			corrupt("purchase facts without purchase rows");
		return;
	}
	if (g[1] < 1 || g[1] > f[2])
		corrupt("purchase days inconsistent with purchase rows");
	if (f[4] > f[2] || (int64) g[2] + f[4] > f[2] || (int64) g[2] + f[4] < 1)
		corrupt("orders inconsistent with purchase rows");
	if (!IS_VALID_TIMESTAMP(f[8]) || !IS_VALID_TIMESTAMP(f[9]) || f[8] > f[9])
		corrupt("first/last purchase times out of range");
	if (g[0] != day_of_local_timestamp(f[8]))
		corrupt("first purchase day does not match first purchase time");
	if (f[2] == 1 && f[8] != f[9])
		corrupt("one purchase row with two purchase times");
	if (f[10] < 0 || f[10] > rows_times_limit(f[2]))
		corrupt("first-day spend out of the range its purchase rows allow");
	/* first-day spend is part of the purchases = revenue + refunds */
	if (pg_sub_s64_overflow(f[10], f[5], &diff) ?
		rows_times_limit(f[3]) < PG_INT64_MAX : diff > rows_times_limit(f[3]))
		corrupt("first-day spend exceeds the purchases");
	if (g[1] == 1 && f[3] == 0 && f[10] != f[5])
		corrupt("one purchase day without refunds, but first-day spend differs from revenue");
}

/*
 * The fixed fields of a serialised state, checked with its length: what
 * customer_state_deserialize and customer_state_peek read first.
 */
static void
read_fixed_fields(const char *data, Size len, int64 *f, int32 *g)
{
	if (len < FIXED_SIZE)
		corrupt("state is shorter than its fixed header");
	if (*data != STATE_FORMAT_VERSION)
		corrupt("unknown state format version");
	memcpy(f, data + 1, N_INT64_FIELDS * sizeof(int64));
	memcpy(g, data + 1 + N_INT64_FIELDS * sizeof(int64), 3 * sizeof(int32));
	if (g[1] < 0 || g[2] < 0 || g[1] > MaxAllocSize / sizeof(DayNumber) ||
		g[2] > MaxAllocSize / sizeof(int64))
		corrupt("negative or huge set size");
	if (len != FIXED_SIZE + (Size) g[1] * sizeof(DayNumber) + (Size) g[2] * sizeof(int64))
		corrupt("state length does not match its set sizes");
	check_fixed_fields(f, g);
}

CustomerState *
customer_state_deserialize(MemoryContext cxt, const char *data, Size len)
{
	CustomerState *s;
	int64		f[N_INT64_FIELDS];
	int32		g[3];
	const char *p = data + FIXED_SIZE;
	int32		i;

	read_fixed_fields(data, len, f, g);

	s = MemoryContextAllocZero(cxt, sizeof(CustomerState));
	s->rows = f[0];
	s->skipped = f[1];
	s->purchase_rows = f[2];
	s->refund_rows = f[3];
	s->unkeyed_orders = f[4];
	s->revenue = f[5];
	s->margin = f[6];
	s->margin_rows = f[7];
	s->first_at = f[8];
	s->last_at = f[9];
	s->first_day_spend = f[10];
	s->first_day = g[0];
	s->ndays = g[1];
	s->norders = g[2];
	s->days_cap = Max(g[1], INITIAL_SET_CAPACITY);
	s->orders_cap = Max(g[2], INITIAL_SET_CAPACITY);
	s->days = MemoryContextAlloc(cxt, s->days_cap * sizeof(DayNumber));
	s->orders = MemoryContextAlloc(cxt, s->orders_cap * sizeof(int64));
	memcpy(s->days, p, g[1] * sizeof(DayNumber));
	p += g[1] * sizeof(DayNumber);
	memcpy(s->orders, p, g[2] * sizeof(int64));

	for (i = 1; i < s->ndays; i++)
	{
		if (s->days[i] <= s->days[i - 1])
			corrupt("purchase days are not strictly increasing");
		CHECK_FOR_INTERRUPTS();
	}
	if (s->ndays > 0 &&
		(s->days[0] != s->first_day ||
		 s->days[s->ndays - 1] != day_of_local_timestamp(s->last_at)))
		corrupt("purchase days do not match first/last purchase times");
	for (i = 1; i < s->norders; i++)
	{
		if (s->orders[i] <= s->orders[i - 1])
			corrupt("order keys are not strictly increasing");
		CHECK_FOR_INTERRUPTS();
	}
	return s;
}

/* The format version byte that customer_state_serialize writes. */
int
customer_state_format_version(void)
{
	return STATE_FORMAT_VERSION;
}

/*
 * The counters of a serialised state without decoding the rest: what the
 * stored-state table keeps beside each state, and what a refresh without a
 * model counts.  Checks the fixed fields and the length (as
 * customer_state_deserialize does), not the sets' contents, which it
 * validates when the state is used.
 */
void
customer_state_peek(const char *data, Size len, StatePeek *out)
{
	int64		f[N_INT64_FIELDS];
	int32		g[3];

	read_fixed_fields(data, len, f, g);
	out->rows = f[0];
	out->skipped = f[1];
	out->purchase_rows = f[2];
	out->last_at = f[9];
}
