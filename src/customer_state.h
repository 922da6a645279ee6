/*
 * customer_state.h — the per-customer summary state built in one pass over a
 * sales table (transition state of the hvc.customer_summary aggregate).
 *
 * It holds only order-independent facts (counts, exact integer sums, minima,
 * maxima and sets), so rows may arrive in any order, partial states from
 * parallel workers (or, later, from Citus shards or earlier incremental
 * refreshes) combine exactly, and the result never depends on the plan.
 */
#ifndef HVC_CUSTOMER_STATE_H
#define HVC_CUSTOMER_STATE_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* Day numbers are days since 2000-01-01 in the configured zone. */
typedef int32 DayNumber;

typedef struct CustomerState
{
	int64		rows;			/* rows fed to this state, skipped ones included */
	int64		skipped;		/* rows ignored: NULL time/amount, NaN, after as_of */
	int64		purchase_rows;	/* rows with amount >= 0 */
	int64		refund_rows;	/* rows with amount < 0 */
	int64		unkeyed_orders; /* purchase rows whose order id is NULL or unmapped */
	int64		revenue;		/* net amount, ten-thousandths */
	int64		margin;			/* net margin, ten-thousandths */
	int64		margin_rows;	/* rows that carried a non-NULL margin */
	int64		first_at;		/* local timestamp of the first purchase row */
	int64		last_at;		/* local timestamp of the last purchase row */
	/*
	 * The first and last purchase instants, when every purchase row came
	 * with one (timestamptz sources; not dates, timestamps or states of
	 * formats 1 and 2): within the hour a daylight-saving change repeats,
	 * one local time is two instants.
	 */
	bool		has_instants;
	int64		first_ts;
	int64		last_ts;
	DayNumber	first_day;		/* first purchase day */
	int64		first_day_spend;	/* purchases on first_day, ten-thousandths */

	/*
	 * purchase days (a set, possibly with duplicates until compacted);
	 * days_sorted: known to be in non-decreasing order (false: unknown)
	 */
	int32		ndays;
	int32		days_cap;
	DayNumber  *days;
	bool		days_sorted;

	/* order ids of purchase rows (a set of 64-bit keys), likewise */
	int32		norders;
	int32		orders_cap;
	int64	   *orders;
	bool		orders_sorted;
} CustomerState;

/* What a finished state says about one customer. */
typedef struct CustomerSummary
{
	int64		orders;
	int32		purchase_days;
	int32		frequency;		/* purchase_days - 1 */
	int32		recency_days;	/* last purchase day - first purchase day */
	double		monetary_value; /* mean spend of repeat purchase days (0 if none) */
} CustomerSummary;

extern CustomerState *customer_state_new(MemoryContext cxt);
/* a purchase row at local_at; at instant ts when has_ts */
extern void customer_state_add_purchase(CustomerState *s, int64 local_at,
										bool has_ts, int64 ts, int64 units,
										bool has_order_key, int64 order_key);
extern void customer_state_merge(CustomerState *into, const CustomerState *from);
extern CustomerState *customer_state_copy(MemoryContext cxt, const CustomerState *from);
/*
 * r's rows out of s, when the rows replacing them (merged into s) hold the
 * same purchase facts (customer_state_same_shape); false (s untouched) when
 * r cannot be rows of s.  Compacts both.
 */
extern bool customer_state_retract(CustomerState *s, CustomerState *r);
/* the same rows of each kind, first and last purchase, days and orders; compacts both */
extern bool customer_state_same_shape(CustomerState *a, CustomerState *b);
extern void customer_state_compact(CustomerState *s);
extern void customer_state_summarize(CustomerState *s, CustomerSummary *out);
extern void customer_state_summarize_fields(const CustomerState *s, CustomerSummary *out);
extern bytea *customer_state_serialize(CustomerState *s);
extern CustomerState *customer_state_deserialize(MemoryContext cxt,
												 const char *data, Size len);
extern int	customer_state_format_version(void);
/* what is wrong with s's counters, sums, times and set sizes, or NULL */
extern const char *customer_state_problem(const CustomerState *s);

/* The header of a serialised state (customer_state_peek). */
typedef struct StatePeek
{
	int64		rows;
	int64		skipped;
	int64		purchase_rows;
	int64		last_at;		/* local timestamp of the last purchase row */
} StatePeek;
extern void customer_state_peek(const char *data, Size len, StatePeek *out);
extern void customer_state_fixed(const char *data, Size len, CustomerState *out);

static inline DayNumber
day_of_local_timestamp(int64 local_at)
{
	/* floor division: timestamps before 2000 are negative */
	int64		d = local_at / USECS_PER_DAY;

	if (local_at < 0 && d * USECS_PER_DAY != local_at)
		d--;
	return (DayNumber) d;
}

#endif
