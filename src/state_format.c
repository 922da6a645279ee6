/*
 * state_format.c — the serialised per-customer state (see customer_state.h):
 * what hvc.customer_state returns, what parallel workers, Citus shards and
 * the stored states of incremental refreshes exchange, and its validation.
 *
 * Format 3 (written since 0.2.0): the version byte, then thirteen numbers
 * as variable-length integers (7 bits a byte, low bits first; signed ones
 * zigzag-mapped so small magnitudes take one byte):
 *
 *   rows, skipped, purchase_rows, refund_rows, unkeyed_orders, revenue,
 *   margin, margin_rows, first_at, last_at - first_at, first_day_spend
 *                                                      (signed)
 *   ndays, norders                                     (unsigned)
 *
 * then the first and last purchase instants (customer_state.h), as a kind
 * and their distances to first_at and last_at: kind 0, none (not known, or
 * no purchase rows); kind 1, two signed numbers of whole seconds (the
 * zone's offsets, mostly); kind 2, two signed numbers of microseconds;
 * then the purchase days after the first (the first is the day of
 * first_at), each as its distance to the one before minus one, and the
 * order keys: the first signed, each other as its distance to the one
 * before minus one.  Both sets are strictly increasing by construction.
 * A typical state takes a third of format 1's bytes (157 -> about 60 at
 * ten lines per customer): less to write into the stage, to sort, to send
 * between processes and to store.
 *
 * Format 2 (0.2.0 before format 3) is format 3 without the instants; read
 * as states that do not know them.
 *
 * Format 1 (0.1.0): the version byte, eleven int64 counters, three int32
 * (first day, set sizes), then the sets as plain int32 days and int64 keys.
 * It is still read: states a user stored with 0.1.0 keep working.
 *
 * Every number is checked: the varints end inside the state and are in
 * their shortest form, the sets fit the bytes left, nothing follows them,
 * and the decoded fields pass the same checks in both formats.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "common/int.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "amount.h"
#include "customer_state.h"

#define STATE_FORMAT_V1			1
#define STATE_FORMAT_V2			2
#define STATE_FORMAT_V3			3
#define STATE_FORMAT_VERSION	STATE_FORMAT_V3
/* format 3's kinds of purchase instants */
#define INSTANTS_NONE			0
#define INSTANTS_SECONDS		1
#define INSTANTS_MICROSECONDS	2
/* an instant is within two days of its local time (zone offsets are below one) */
#define INSTANT_MAX_DISTANCE	(2 * USECS_PER_DAY)
#define INITIAL_SET_CAPACITY	4

/*
 * the fields of a state: f the eleven counters (as in format 1), g first day
 * and set sizes, and its purchase instants (format 3)
 */
typedef struct Instants
{
	bool		known;
	int64		first_ts;
	int64		last_ts;
} Instants;

#define N_INT64_FIELDS	11
#define V1_FIXED_SIZE	(1 + N_INT64_FIELDS * sizeof(int64) + 3 * sizeof(int32))
#define VARINT_MAX		10		/* bytes of a 64-bit varint */

/* ---------------------------------------------------------------------
 * Writing (format 3)
 * --------------------------------------------------------------------- */

static inline uint64
zigzag(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

static inline int64
unzigzag(uint64 u)
{
	return (int64) (u >> 1) ^ -(int64) (u & 1);
}

static inline char *
put_varint(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) ((v & 0x7F) | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

bytea *
customer_state_serialize(CustomerState *s)
{
	Size		max;
	bytea	   *out;
	char	   *p;
	int32		i;

	customer_state_compact(s);
	max = VARHDRSZ + 1 + 16 * VARINT_MAX + (Size) s->ndays * 5 + (Size) s->norders * VARINT_MAX;
	out = palloc(max);
	p = VARDATA(out);
	*p++ = STATE_FORMAT_VERSION;
	p = put_varint(p, zigzag(s->rows));
	p = put_varint(p, zigzag(s->skipped));
	p = put_varint(p, zigzag(s->purchase_rows));
	p = put_varint(p, zigzag(s->refund_rows));
	p = put_varint(p, zigzag(s->unkeyed_orders));
	p = put_varint(p, zigzag(s->revenue));
	p = put_varint(p, zigzag(s->margin));
	p = put_varint(p, zigzag(s->margin_rows));
	p = put_varint(p, zigzag(s->first_at));
	/* first_at <= last_at, both valid timestamps: no overflow */
	p = put_varint(p, zigzag(s->last_at - s->first_at));
	p = put_varint(p, zigzag(s->first_day_spend));
	p = put_varint(p, (uint64) s->ndays);
	p = put_varint(p, (uint64) s->norders);
	if (!s->has_instants || s->purchase_rows == 0)
		p = put_varint(p, INSTANTS_NONE);
	else
	{
		/* both within INSTANT_MAX_DISTANCE of their local times: no overflow */
		int64		d1 = s->first_ts - s->first_at,
					d2 = s->last_ts - s->last_at;

		if (d1 % USECS_PER_SEC == 0 && d2 % USECS_PER_SEC == 0)
		{
			p = put_varint(p, INSTANTS_SECONDS);
			d1 /= USECS_PER_SEC;
			d2 /= USECS_PER_SEC;
		}
		else
			p = put_varint(p, INSTANTS_MICROSECONDS);
		p = put_varint(p, zigzag(d1));
		p = put_varint(p, zigzag(d2));
	}
	for (i = 1; i < s->ndays; i++)
		p = put_varint(p, (uint64) ((int64) s->days[i] - s->days[i - 1] - 1));
	if (s->norders > 0)
		p = put_varint(p, zigzag(s->orders[0]));
	for (i = 1; i < s->norders; i++)
		p = put_varint(p, (uint64) s->orders[i] - (uint64) s->orders[i - 1] - 1);
	SET_VARSIZE(out, p - (char *) out);
	return out;
}

/* ---------------------------------------------------------------------
 * Validation
 * --------------------------------------------------------------------- */

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
 * The first and last purchase instants (f: the counters): none without
 * purchase rows; else, when known, in order, within INSTANT_MAX_DISTANCE of
 * the first and last local times, and one instant for one purchase row.
 */
static const char *
instants_problem(const int64 *f, const Instants *in)
{
	if (!in->known)
		return in->first_ts == 0 && in->last_ts == 0 ? NULL : "purchase instants not marked known";
	if (f[2] == 0)
		return "purchase instants without purchase rows";
	if (!IS_VALID_TIMESTAMP(in->first_ts) || !IS_VALID_TIMESTAMP(in->last_ts) ||
		in->first_ts > in->last_ts ||
		in->first_ts < f[8] - INSTANT_MAX_DISTANCE || in->first_ts > f[8] + INSTANT_MAX_DISTANCE ||
		in->last_ts < f[9] - INSTANT_MAX_DISTANCE || in->last_ts > f[9] + INSTANT_MAX_DISTANCE)
		return "first/last purchase instants out of range";
	if (f[2] == 1 && in->first_ts != in->last_ts)
		return "one purchase row with two purchase instants";
	return NULL;
}

/*
 * The fixed fields of a state (f: the eleven int64 counters, g: first day and
 * set sizes, in: the purchase instants) describe something hvc.customer_state
 * can produce: every count adds up, every sum is within what that many rows
 * of at most 10^13 each can give, and purchase facts exist exactly when there
 * are purchase rows.
 */
static const char *
fixed_fields_problem(const int64 *f, const int32 *g, const Instants *in)
{
	int64		used,
				sum,
				upper,
				diff;
	int			i;

	for (i = 0; i < 5; i++)
		if (f[i] < 0)
			return "negative row count";
	if (f[7] < 0)
		return "negative margin row count";
	if (pg_add_s64_overflow(f[1], f[2], &sum) || pg_add_s64_overflow(sum, f[3], &sum) ||
		f[0] != sum)
		return "row counts do not add up";
	used = f[2] + f[3];			/* no overflow: at most f[0] */
	if (f[7] > used)
		return "more margin rows than rows used";
	/* purchases are >= 0 and refunds <= -0.0001, each below 10^13 in size */
	upper = rows_times_limit(f[2]);
	if (upper < PG_INT64_MAX)
		upper -= f[3];
	if (f[5] > upper || f[5] < -rows_times_limit(f[3]))
		return "net revenue out of the range its purchase and refund rows allow";
	if (f[6] > rows_times_limit(f[7]) || f[6] < -rows_times_limit(f[7]))
		return "margin out of the range its margin rows allow";
	if (f[2] == 0)
	{
		if (g[1] != 0 || g[2] != 0 || f[4] != 0 || f[10] != 0 ||
			f[8] != 0 || f[9] != 0 || g[0] != 0)
			return "purchase facts without purchase rows";
		return instants_problem(f, in);
	}
	if (g[1] < 1 || g[1] > f[2])
		return "purchase days inconsistent with purchase rows";
	if (f[4] > f[2] || (int64) g[2] + f[4] > f[2] || (int64) g[2] + f[4] < 1)
		return "orders inconsistent with purchase rows";
	if (!IS_VALID_TIMESTAMP(f[8]) || !IS_VALID_TIMESTAMP(f[9]) || f[8] > f[9])
		return "first/last purchase times out of range";
	if (g[0] != day_of_local_timestamp(f[8]))
		return "first purchase day does not match first purchase time";
	if (f[2] == 1 && f[8] != f[9])
		return "one purchase row with two purchase times";
	if (f[10] < 0 || f[10] > rows_times_limit(f[2]))
		return "first-day spend out of the range its purchase rows allow";
	/* first-day spend is part of the purchases = revenue + refunds */
	if (pg_sub_s64_overflow(f[10], f[5], &diff) ?
		rows_times_limit(f[3]) < PG_INT64_MAX : diff > rows_times_limit(f[3]))
		return "first-day spend exceeds the purchases";
	if (g[1] == 1 && f[3] == 0 && f[10] != f[5])
		return "one purchase day without refunds, but first-day spend differs from revenue";
	return instants_problem(f, in);
}

static void
check_fixed_fields(const int64 *f, const int32 *g, const Instants *in)
{
	const char *why = fixed_fields_problem(f, g, in);

	if (why != NULL)
		corrupt(why);
}

/*
 * What is wrong with the fixed fields of s (counters, sums, times, first day
 * and set sizes) as a state hvc.customer_state could produce, or NULL: the
 * checks every state read passes, for a state worked out in memory (the
 * retraction of rows, customer_state.c).
 */
const char *
customer_state_problem(const CustomerState *s)
{
	int64		f[N_INT64_FIELDS] = {s->rows, s->skipped, s->purchase_rows, s->refund_rows,
		s->unkeyed_orders, s->revenue, s->margin, s->margin_rows, s->first_at, s->last_at,
	s->first_day_spend};
	int32		g[3] = {s->first_day, s->ndays, s->norders};
	Instants	in = {s->has_instants, s->first_ts, s->last_ts};

	return fixed_fields_problem(f, g, &in);
}

/* ---------------------------------------------------------------------
 * Reading
 * --------------------------------------------------------------------- */

typedef struct Reader
{
	const unsigned char *p;
	const unsigned char *end;
} Reader;

/* one varint, in its shortest form, ending inside the state */
static pg_noinline uint64
get_varint_slow(Reader *r)
{
	uint64		v = 0;
	int			shift = 0;

	for (;;)
	{
		unsigned char b;

		if (r->p >= r->end)
			corrupt("state ends inside a number");
		b = *r->p++;
		if (shift == 63 && b > 1)
			corrupt("number out of range");
		v |= (uint64) (b & 0x7F) << shift;
		if ((b & 0x80) == 0)
		{
			if (b == 0 && shift > 0)
				corrupt("number not in its shortest form");
			return v;
		}
		shift += 7;
	}
}

/* the same, a one-byte number (most of a state's) read inline */
static inline uint64
get_varint(Reader *r)
{
	if (likely(r->p < r->end && *r->p < 0x80))
		return *r->p++;
	return get_varint_slow(r);
}

/* format 3's purchase instants, after the set sizes (f: the counters, read) */
static void
read_instants(Reader *r, const int64 *f, Instants *in)
{
	uint64		kind = get_varint(r);
	int64		d1,
				d2;

	memset(in, 0, sizeof(*in));
	if (kind == INSTANTS_NONE)
		return;
	if (kind != INSTANTS_SECONDS && kind != INSTANTS_MICROSECONDS)
		corrupt("unknown kind of purchase instants");
	d1 = unzigzag(get_varint(r));
	d2 = unzigzag(get_varint(r));
	if (kind == INSTANTS_SECONDS &&
		(pg_mul_s64_overflow(d1, USECS_PER_SEC, &d1) || pg_mul_s64_overflow(d2, USECS_PER_SEC, &d2)))
		corrupt("first/last purchase instants out of range");
	/* the counters are not checked yet: their times may be anything */
	if (d1 < -INSTANT_MAX_DISTANCE || d1 > INSTANT_MAX_DISTANCE ||
		d2 < -INSTANT_MAX_DISTANCE || d2 > INSTANT_MAX_DISTANCE ||
		pg_add_s64_overflow(f[8], d1, &in->first_ts) || pg_add_s64_overflow(f[9], d2, &in->last_ts))
		corrupt("first/last purchase instants out of range");
	in->known = true;
}

/*
 * The fields of a format 2 or 3 state (f, g, in as check_fixed_fields takes
 * them), checked; r is left at the sets, whose sizes fit the bytes left (a
 * day or key takes at least one byte).
 */
static void
read_v2_fields(Reader *r, int version, int64 *f, int32 *g, Instants *in)
{
	uint64		u;
	int			i;

	for (i = 0; i < N_INT64_FIELDS; i++)
		f[i] = unzigzag(get_varint(r));
	if (pg_add_s64_overflow(f[8], f[9], &f[9]))
		corrupt("first/last purchase times out of range");
	for (i = 1; i <= 2; i++)
	{
		u = get_varint(r);
		if (u > (uint64) (r->end - r->p) + (i == 1 ? 1 : 0))
			corrupt("set size larger than the state");
		g[i] = (int32) u;
	}
	if (version == STATE_FORMAT_V3)
		read_instants(r, f, in);
	else
		memset(in, 0, sizeof(*in));
	if ((int64) g[1] - (g[1] > 0 ? 1 : 0) + g[2] > r->end - r->p)
		corrupt("set sizes larger than the state");
	g[0] = f[2] > 0 ? day_of_local_timestamp(f[8]) : 0;
	check_fixed_fields(f, g, in);
}

/* The same of a format 1 state, whose length it checks too. */
static void
read_v1_fields(const char *data, Size len, int64 *f, int32 *g, Instants *in)
{
	if (len < V1_FIXED_SIZE)
		corrupt("state is shorter than its fixed header");
	memcpy(f, data + 1, N_INT64_FIELDS * sizeof(int64));
	memcpy(g, data + 1 + N_INT64_FIELDS * sizeof(int64), 3 * sizeof(int32));
	if (g[1] < 0 || g[2] < 0 || g[1] > MaxAllocSize / sizeof(DayNumber) ||
		g[2] > MaxAllocSize / sizeof(int64))
		corrupt("negative or huge set size");
	if (len != V1_FIXED_SIZE + (Size) g[1] * sizeof(DayNumber) + (Size) g[2] * sizeof(int64))
		corrupt("state length does not match its set sizes");
	memset(in, 0, sizeof(*in));
	check_fixed_fields(f, g, in);
}

/* the version byte of a non-empty state, format 1, 2 or 3 */
static int
state_version(const char *data, Size len)
{
	if (len < 1)
		corrupt("state is shorter than its fixed header");
	if (*data != STATE_FORMAT_V1 && *data != STATE_FORMAT_V2 && *data != STATE_FORMAT_V3)
		corrupt("unknown state format version");
	return *data;
}

/*
 * format 2's and 3's sets into s (sized for them), up to the state's last byte:
 * each element is the one before plus its distance (at least 1), range
 * checked, so both sets come out strictly increasing
 */
static void
read_v2_sets(Reader *r, CustomerState *s)
{
	uint64		u;
	int64		d;
	int32		i;

	if (s->ndays > 0)
		s->days[0] = s->first_day;
	for (i = 1; i < s->ndays; i++)
	{
		u = get_varint(r);
		d = (int64) s->days[i - 1] + 1;
		if (u > (uint64) (PG_INT32_MAX - d))
			corrupt("purchase day out of range");
		s->days[i] = (DayNumber) (d + (int64) u);
		CHECK_FOR_INTERRUPTS();
	}
	if (s->norders > 0)
		s->orders[0] = unzigzag(get_varint(r));
	for (i = 1; i < s->norders; i++)
	{
		uint64		room = (uint64) PG_INT64_MAX - (uint64) s->orders[i - 1];

		u = get_varint(r);
		if (u >= room)
			corrupt("order key out of range");
		s->orders[i] = (int64) ((uint64) s->orders[i - 1] + u + 1);
		CHECK_FOR_INTERRUPTS();
	}
	if (r->p != r->end)
		corrupt("state length does not match its set sizes");
}

/* the checked fields f, g, in (as check_fixed_fields takes them) into s; its sets untouched */
static void
state_from_fields(const int64 *f, const int32 *g, const Instants *in, CustomerState *s)
{
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
	s->has_instants = in->known;
	s->first_ts = in->first_ts;
	s->last_ts = in->last_ts;
}

CustomerState *
customer_state_deserialize(MemoryContext cxt, const char *data, Size len)
{
	CustomerState *s;
	int64		f[N_INT64_FIELDS];
	int32		g[3];
	Instants	in;
	Reader		r;
	int32		i;
	int			version = state_version(data, len);

	r.p = (const unsigned char *) data + 1;
	r.end = (const unsigned char *) data + len;
	if (version == STATE_FORMAT_V1)
		read_v1_fields(data, len, f, g, &in);
	else
		read_v2_fields(&r, version, f, g, &in);

	s = MemoryContextAllocZero(cxt, sizeof(CustomerState));
	state_from_fields(f, g, &in, s);
	s->days_cap = Max(g[1], INITIAL_SET_CAPACITY);
	s->orders_cap = Max(g[2], INITIAL_SET_CAPACITY);
	s->days = MemoryContextAlloc(cxt, s->days_cap * sizeof(DayNumber));
	s->orders = MemoryContextAlloc(cxt, s->orders_cap * sizeof(int64));
	if (version != STATE_FORMAT_V1)
		read_v2_sets(&r, s);	/* strictly increasing by construction */
	else
	{
		const char *p = data + V1_FIXED_SIZE;

		memcpy(s->days, p, g[1] * sizeof(DayNumber));
		p += g[1] * sizeof(DayNumber);
		memcpy(s->orders, p, g[2] * sizeof(int64));
		for (i = 1; i < s->ndays; i++)
		{
			if (s->days[i] <= s->days[i - 1])
				corrupt("purchase days are not strictly increasing");
			CHECK_FOR_INTERRUPTS();
		}
		for (i = 1; i < s->norders; i++)
		{
			if (s->orders[i] <= s->orders[i - 1])
				corrupt("order keys are not strictly increasing");
			CHECK_FOR_INTERRUPTS();
		}
	}
	if (s->ndays > 0 &&
		(s->days[0] != s->first_day ||
		 s->days[s->ndays - 1] != day_of_local_timestamp(s->last_at)))
		corrupt("purchase days do not match first/last purchase times");
	s->days_sorted = s->orders_sorted = true;	/* strictly increasing */
	return s;
}

/* The format version byte that customer_state_serialize writes. */
int
customer_state_format_version(void)
{
	return STATE_FORMAT_VERSION;
}

/*
 * The fixed fields of a serialised state without decoding the sets, checked
 * as customer_state_deserialize checks them, and the length (in formats 2 and 3,
 * that the rest is exactly as many numbers as the sets hold); the sets'
 * contents are validated when the state is decoded.
 */
static void
peek_fields(const char *data, Size len, int64 *f, int32 *g, Instants *in)
{
	int			version = state_version(data, len);

	if (version == STATE_FORMAT_V1)
		read_v1_fields(data, len, f, g, in);
	else
	{
		Reader		r;
		int64		numbers = 0;

		r.p = (const unsigned char *) data + 1;
		r.end = (const unsigned char *) data + len;
		read_v2_fields(&r, version, f, g, in);
		for (; r.p < r.end; r.p++)
			numbers += (*r.p & 0x80) == 0;
		if (len > 1 && (((const unsigned char *) data)[len - 1] & 0x80) != 0)
			corrupt("state ends inside a number");
		if (numbers != (int64) g[1] - (g[1] > 0 ? 1 : 0) + g[2])
			corrupt("state length does not match its set sizes");
	}
}

/*
 * The counters of a serialised state: what the stored-state table keeps
 * beside each state, and what a refresh without a model counts.
 */
void
customer_state_peek(const char *data, Size len, StatePeek *out)
{
	int64		f[N_INT64_FIELDS];
	int32		g[3];
	Instants	in;

	peek_fields(data, len, f, g, &in);
	out->rows = f[0];
	out->skipped = f[1];
	out->purchase_rows = f[2];
	out->last_at = f[9];
}

/*
 * A serialised state without its sets (days and orders NULL; ndays and
 * norders their sizes, which are exact: both formats store strictly
 * increasing sets): what a reader of counts, sums, times and set sizes needs
 * (customer_state_summarize_fields), for a fraction of a decode.
 */
void
customer_state_fixed(const char *data, Size len, CustomerState *out)
{
	int64		f[N_INT64_FIELDS];
	int32		g[3];
	Instants	in;

	peek_fields(data, len, f, g, &in);
	memset(out, 0, sizeof(*out));
	state_from_fields(f, g, &in, out);
}
