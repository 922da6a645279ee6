/*
 * customer_summary.c — the hvc.customer_summary aggregate: one pass over a
 * sales table, grouped by customer, builds each customer's summary.
 *
 *   hvc.customer_summary(ordered_at "any", amount "any", margin "any",
 *                        order_id "any", as_of timestamp, timezone text)
 *     -> hvc.customer_summary_result
 *
 * ordered_at is date, timestamp or timestamptz (reckoned in `timezone`),
 * amount and margin any integer, float or numeric type, order_id any hashable
 * type.  Rows with NULL ordered_at or amount, NaN/Infinity amounts, infinite
 * times or times after as_of are counted as skipped.  Follows the tdigest/hll
 * pattern: internal state in the aggregate context, non-strict combine,
 * strict serialise/deserialise that validates every byte.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "amount.h"
#include "customer_state.h"
#include "local_time.h"
#include "version_guard.h"

typedef enum TimeKind
{
	TIME_DATE,
	TIME_TIMESTAMP,
	TIME_TIMESTAMPTZ
} TimeKind;

typedef enum KeyKind
{
	KEY_NONE,					/* order_id not mapped (NULL constant) */
	KEY_INT,					/* int2/int4/int8: the value itself */
	KEY_HASH					/* anything else: its 64-bit extended hash */
} KeyKind;

/* Per-call-site facts, worked out once and kept in fn_extra. */
typedef struct SummaryCallCache
{
	TimeKind	time_kind;
	AmountKind	amount_kind;
	AmountKind	margin_kind;
	bool		has_margin;
	KeyKind		key_kind;
	Oid			key_type;
	FmgrInfo	key_hash;
	pg_tz	   *tz;				/* NULL for UTC: no conversion needed */
	char	   *tzname;			/* the zone argument tz was looked up for */
	int			tzlen;
} SummaryCallCache;

PG_FUNCTION_INFO_V1(hvc_customer_summary_transfn);
PG_FUNCTION_INFO_V1(hvc_customer_summary_combinefn);
PG_FUNCTION_INFO_V1(hvc_customer_summary_serialfn);
PG_FUNCTION_INFO_V1(hvc_customer_summary_deserialfn);
PG_FUNCTION_INFO_V1(hvc_customer_summary_finalfn);
PG_FUNCTION_INFO_V1(hvc_customer_state_finalfn);
PG_FUNCTION_INFO_V1(hvc_customer_state_summary);

static Oid
arg_base_type(FunctionCallInfo fcinfo, int argno)
{
	Oid			t = get_fn_expr_argtype(fcinfo->flinfo, argno);

	if (!OidIsValid(t))
		elog(ERROR, "could not determine argument %d type of hvc.customer_summary", argno);
	return getBaseType(t);
}

static SummaryCallCache *
summary_call_cache(FunctionCallInfo fcinfo)
{
	SummaryCallCache *c = fcinfo->flinfo->fn_extra;
	Oid			t;

	if (c != NULL)
		return c;

	c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SummaryCallCache));

	t = arg_base_type(fcinfo, 1);
	if (t == DATEOID)
		c->time_kind = TIME_DATE;
	else if (t == TIMESTAMPOID)
		c->time_kind = TIME_TIMESTAMP;
	else if (t == TIMESTAMPTZOID)
		c->time_kind = TIME_TIMESTAMPTZ;
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("ordered_at must be date, timestamp or timestamptz, not %s",
						format_type_be(t))));

	t = arg_base_type(fcinfo, 2);
	if (!amount_kind_for_type(t, &c->amount_kind))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("amount must be an integer, float or numeric type, not %s",
						format_type_be(t))));

	t = arg_base_type(fcinfo, 3);
	c->has_margin = !(PG_ARGISNULL(3) && get_fn_expr_arg_stable(fcinfo->flinfo, 3));
	if (!amount_kind_for_type(t, &c->margin_kind))
	{
		if (c->has_margin)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("margin must be an integer, float or numeric type, not %s",
							format_type_be(t))));
		c->margin_kind = AMOUNT_NUMERIC;
	}

	t = arg_base_type(fcinfo, 4);
	c->key_type = t;
	if (PG_ARGISNULL(4) && get_fn_expr_arg_stable(fcinfo->flinfo, 4))
		c->key_kind = KEY_NONE;
	else if (t == INT2OID || t == INT4OID || t == INT8OID)
		c->key_kind = KEY_INT;
	else
	{
		TypeCacheEntry *tce = lookup_type_cache(t, TYPECACHE_HASH_EXTENDED_PROC_FINFO);

		if (!OidIsValid(tce->hash_extended_proc))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("order_id type %s cannot be hashed", format_type_be(t))));
		fmgr_info_cxt(tce->hash_extended_proc, &c->key_hash, fcinfo->flinfo->fn_mcxt);
		c->key_kind = KEY_HASH;
	}

	fcinfo->flinfo->fn_extra = c;
	return c;
}

/*
 * The zone of this row's timezone argument.  It is an argument of every row,
 * so a later row may name another zone: the last zone looked up is kept and
 * looked up again only when the name changes.
 */
static pg_tz *
row_zone(FunctionCallInfo fcinfo, SummaryCallCache *c)
{
	text	   *t;
	int			len;

	if (PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("timezone must not be NULL"),
				 errhint("Pass a zone name from pg_timezone_names, e.g. 'UTC'.")));
	t = PG_GETARG_TEXT_PP(6);
	len = VARSIZE_ANY_EXHDR(t);
	if (c->tzname == NULL || len != c->tzlen || memcmp(VARDATA_ANY(t), c->tzname, len) != 0)
	{
		char	   *name = text_to_cstring(t);
		pg_tz	   *zone = local_zone(name);

		if (c->tzname != NULL)
			pfree(c->tzname);
		c->tzname = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, name);
		c->tzlen = len;
		c->tz = zone;
		pfree(name);
	}
	return c->tz;
}

/*
 * The row's time as a local timestamp in zone tz, and its instant when it
 * is one (timestamptz; *has_ts); false if it is infinite, cannot be
 * converted or is outside the timestamp range (dates go on to 5874897 AD,
 * timestamps stop in 294276 AD).
 */
static bool
local_time(SummaryCallCache *c, pg_tz *tz, Datum d, int64 *local, bool *has_ts, int64 *ts_out)
{
	*has_ts = false;
	*ts_out = 0;
	switch (c->time_kind)
	{
		case TIME_DATE:
			{
				DateADT		date = DatumGetDateADT(d);

				if (DATE_NOT_FINITE(date) ||
					date < DATETIME_MIN_JULIAN - POSTGRES_EPOCH_JDATE ||
					date >= TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE)
					return false;
				*local = (int64) date * USECS_PER_DAY;
				break;
			}
		case TIME_TIMESTAMP:
			*local = DatumGetTimestamp(d);
			break;
		case TIME_TIMESTAMPTZ:
			{
				TimestampTz ts = DatumGetTimestampTz(d);

				if (TIMESTAMP_NOT_FINITE(ts) || !local_from_timestamptz(ts, tz, local))
					return false;
				*has_ts = true;
				*ts_out = ts;
				break;
			}
	}
	return !TIMESTAMP_NOT_FINITE(*local) && IS_VALID_TIMESTAMP(*local);
}

static void
total_out_of_range(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("one customer's %s total out of range in the hvc source", what),
			 errdetail("hvc sums one customer's amounts and margins exactly in units of 0.0001; a total must stay within +/-922 337 203 685 477.5807."),
			 errhint("Find the customer with a query such as SELECT <customer>, sum(<%s column>) FROM <source> GROUP BY 1 ORDER BY abs(sum(<%s column>)) DESC LIMIT 1, fix or exclude its rows (for example with a view), and refresh again.",
					 what, what)));
}

static void
amount_out_of_range(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s out of range in the hvc source", what),
			 errdetail("hvc accepts amounts below 10 000 000 000 000 in absolute value."),
			 errhint("Find the row with a query such as SELECT * FROM <source> WHERE abs(%s) >= 1e13, fix or exclude it (for example with a view), and refresh again.",
					 what)));
}

Datum
hvc_customer_summary_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	CustomerState *s;
	SummaryCallCache *c;
	pg_tz	   *tz;
	int64		local_at,
				ts,
				as_of,
				units,
				margin_units;
	bool		has_ts;
	AmountStatus st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc_customer_summary_transfn called in non-aggregate context");

	c = summary_call_cache(fcinfo);
	s = PG_ARGISNULL(0) ? customer_state_new(aggcxt) : (CustomerState *) PG_GETARG_POINTER(0);
	s->rows++;

	tz = row_zone(fcinfo, c);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(5) ||
		!local_time(c, tz, PG_GETARG_DATUM(1), &local_at, &has_ts, &ts))
	{
		s->skipped++;
		PG_RETURN_POINTER(s);
	}
	as_of = PG_GETARG_TIMESTAMP(5);
	if (local_at > as_of)
	{
		s->skipped++;
		PG_RETURN_POINTER(s);
	}
	st = amount_from_datum(PG_GETARG_DATUM(2), c->amount_kind, &units);
	if (st == AMOUNT_NOT_A_NUMBER)
	{
		s->skipped++;
		PG_RETURN_POINTER(s);
	}
	if (st == AMOUNT_OUT_OF_RANGE)
		amount_out_of_range("amount");

	if (c->has_margin && !PG_ARGISNULL(3))
	{
		st = amount_from_datum(PG_GETARG_DATUM(3), c->margin_kind, &margin_units);
		if (st == AMOUNT_OUT_OF_RANGE)
			amount_out_of_range("margin");
		if (st == AMOUNT_OK)
		{
			if (!amount_add(&s->margin, margin_units))
				total_out_of_range("margin");
			s->margin_rows++;
		}
	}
	if (!amount_add(&s->revenue, units))
		total_out_of_range("revenue");

	if (units < 0)
		s->refund_rows++;
	else
	{
		bool		has_key = false;
		int64		key = 0;

		if (c->key_kind != KEY_NONE && !PG_ARGISNULL(4))
		{
			Datum		k = PG_GETARG_DATUM(4);

			has_key = true;
			if (c->key_kind == KEY_INT)
				key = c->key_type == INT8OID ? DatumGetInt64(k) :
					c->key_type == INT4OID ? DatumGetInt32(k) : DatumGetInt16(k);
			else
				key = DatumGetInt64(FunctionCall2Coll(&c->key_hash, C_COLLATION_OID,
													  k, Int64GetDatum(0)));
		}
		customer_state_add_purchase(s, local_at, has_ts, ts, units, has_key, key);
	}
	PG_RETURN_POINTER(s);
}

Datum
hvc_customer_summary_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	CustomerState *a;
	CustomerState *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc_customer_summary_combinefn called in non-aggregate context");

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	/*
	 * b lives in the input row's memory (hvc_customer_summary_deserialfn):
	 * the group's first partial state is copied into the aggregate context
	 */
	b = (CustomerState *) PG_GETARG_POINTER(1);
	if (PG_ARGISNULL(0))
		PG_RETURN_POINTER(customer_state_copy(aggcxt, b));
	a = (CustomerState *) PG_GETARG_POINTER(0);
	customer_state_merge(a, b);
	PG_RETURN_POINTER(a);
}

Datum
hvc_customer_summary_serialfn(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_customer_summary_serialfn called in non-aggregate context");
	PG_RETURN_BYTEA_P(customer_state_serialize((CustomerState *) PG_GETARG_POINTER(0)));
}

/*
 * A partial state in the current (per-input-row) memory, where PostgreSQL
 * runs deserialisation functions: it is gone with the input row.  In the
 * aggregate's context, as it was made until stop 38, every partial state a
 * hashed combine read stayed until the end, those of the rows it spilled
 * too: 355 MB at 500 000 customers whatever work_mem, now 2.7 MB (test
 * parallel).
 */
Datum
hvc_customer_summary_deserialfn(PG_FUNCTION_ARGS)
{
	bytea	   *b;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_customer_summary_deserialfn called in non-aggregate context");
	b = PG_GETARG_BYTEA_PP(0);
	PG_RETURN_POINTER(customer_state_deserialize(CurrentMemoryContext, VARDATA_ANY(b),
												 VARSIZE_ANY_EXHDR(b)));
}

/*
 * Result columns (hvc.customer_summary_result):
 *  rows_read, rows_skipped, orders, purchase_rows, refund_rows, purchase_days,
 *  frequency, recency_days, first_order_local, last_order_local, revenue,
 *  margin, monetary_value
 */
#define SUMMARY_NATTS 13

static Datum
summary_result(FunctionCallInfo fcinfo, CustomerState *s)
{
	CustomerSummary sum;
	TupleDesc	tupdesc;
	Datum		values[SUMMARY_NATTS];
	bool		nulls[SUMMARY_NATTS];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "hvc customer summary must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);
	hvc_require_columns(tupdesc, SUMMARY_NATTS, "hvc.customer_summary_result");

	customer_state_summarize(s, &sum);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum(s->rows);
	values[1] = Int64GetDatum(s->skipped);
	values[2] = Int64GetDatum(sum.orders);
	values[3] = Int64GetDatum(s->purchase_rows);
	values[4] = Int64GetDatum(s->refund_rows);
	values[5] = Int32GetDatum(sum.purchase_days);
	values[6] = Int32GetDatum(sum.frequency);
	values[7] = Int32GetDatum(sum.recency_days);
	values[8] = TimestampGetDatum(s->first_at);
	values[9] = TimestampGetDatum(s->last_at);
	values[10] = amount_to_numeric(s->revenue);
	values[11] = amount_to_numeric(s->margin);
	values[12] = Float8GetDatum(sum.monetary_value);
	if (s->purchase_rows == 0)
		nulls[6] = nulls[7] = nulls[8] = nulls[9] = nulls[12] = true;
	if (s->margin_rows == 0)
		nulls[11] = true;
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

Datum
hvc_customer_summary_finalfn(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_customer_summary_finalfn called in non-aggregate context");
	PG_RETURN_DATUM(summary_result(fcinfo, (CustomerState *) PG_GETARG_POINTER(0)));
}

/*
 * hvc.customer_state(...) returns the serialised state itself: a portable,
 * mergeable per-customer summary (for incremental refresh, sharded sources
 * and tests of the deserialiser).
 */
Datum
hvc_customer_state_finalfn(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hvc_customer_state_finalfn called in non-aggregate context");
	PG_RETURN_BYTEA_P(customer_state_serialize((CustomerState *) PG_GETARG_POINTER(0)));
}

/* hvc.customer_state_summary(bytea): validate a state and summarise it. */
Datum
hvc_customer_state_summary(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	CustomerState *s = customer_state_deserialize(CurrentMemoryContext, VARDATA_ANY(b),
												  VARSIZE_ANY_EXHDR(b));

	PG_RETURN_DATUM(summary_result(fcinfo, s));
}
