/*
 * state_store.c — helpers of the stored per-customer states that incremental
 * refresh keeps between refreshes (sql/parts/62_incremental.sql): the state
 * format version this build writes, a state's row counters, the merge of
 * a stored state with the state of rows logged since, the retraction of
 * rows an update replaced and whether the rows that replaced them have the
 * same shape (what decides whether an update only changed amounts), the
 * number of an update statement, and the state of the rows without a
 * customer key.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "fmgr.h"

#include "customer_state.h"

PG_FUNCTION_INFO_V1(hvc_state_format_version);
PG_FUNCTION_INFO_V1(hvc_state_rows);
PG_FUNCTION_INFO_V1(hvc_state_skipped);
PG_FUNCTION_INFO_V1(hvc_state_merge);
PG_FUNCTION_INFO_V1(hvc_guest_state);
PG_FUNCTION_INFO_V1(hvc_state_retract);
PG_FUNCTION_INFO_V1(hvc_state_same_shape);
PG_FUNCTION_INFO_V1(hvc_statement_number);

/* hvc._state_format_version(): the version byte of the states this build writes. */
Datum
hvc_state_format_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(customer_state_format_version());
}

/* hvc._state_rows(bytea): source rows a state was built from (skipped ones included). */
Datum
hvc_state_rows(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StatePeek	h;

	customer_state_peek(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &h);
	PG_RETURN_INT64(h.rows);
}

/* hvc._state_skipped(bytea): rows the state skipped (NULL or bad values, after as_of). */
Datum
hvc_state_skipped(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StatePeek	h;

	customer_state_peek(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &h);
	PG_RETURN_INT64(h.skipped);
}

/* the first two arguments (bytea) as states, each validated whole */
static void
state_args(FunctionCallInfo fcinfo, CustomerState **a, CustomerState **b)
{
	bytea	   *x = PG_GETARG_BYTEA_PP(0);
	bytea	   *y = PG_GETARG_BYTEA_PP(1);

	*a = customer_state_deserialize(CurrentMemoryContext, VARDATA_ANY(x), VARSIZE_ANY_EXHDR(x));
	*b = customer_state_deserialize(CurrentMemoryContext, VARDATA_ANY(y), VARSIZE_ANY_EXHDR(y));
}

/*
 * hvc._state_merge(bytea, bytea): the state of the union of the rows two
 * states were built from (both validated whole; the merge is the
 * aggregate's own combine step, so it is exact: sets united, counters and
 * exact sums added, with the same overflow error as the aggregate).
 */
Datum
hvc_state_merge(PG_FUNCTION_ARGS)
{
	CustomerState *into;
	CustomerState *from;

	state_args(fcinfo, &into, &from);
	customer_state_merge(into, from);
	PG_RETURN_BYTEA_P(customer_state_serialize(into));
}

/*
 * hvc._state_retract(state bytea, retract bytea): state without the rows
 * retract was built from, where an update replaced them by rows of the same
 * purchase facts (hvc._state_same_shape) that state already holds (trigger
 * mode logs updates as retracted and added rows: 63_row_log.sql).  Both are
 * validated whole; NULL when retract cannot be rows of state
 * (customer_state_retract).
 */
Datum
hvc_state_retract(PG_FUNCTION_ARGS)
{
	CustomerState *s;
	CustomerState *r;

	state_args(fcinfo, &s, &r);
	if (!customer_state_retract(s, r))
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(customer_state_serialize(s));
}

/*
 * hvc._state_same_shape(a bytea, b bytea): whether two states hold the same
 * purchase facts (customer_state_same_shape): the rows an update statement
 * replaced and the rows that replaced them, when only amounts or margins
 * changed.  Both validated whole.
 */
Datum
hvc_state_same_shape(PG_FUNCTION_ARGS)
{
	CustomerState *x;
	CustomerState *y;

	state_args(fcinfo, &x, &y);
	PG_RETURN_BOOL(customer_state_same_shape(x, y));
}

/*
 * hvc._statement_number(): a number this backend has not returned before
 * (1, 2, ...).  With the transaction id, which only this backend uses, it
 * names the UPDATE statement whose rows the trigger logs, so that a refresh
 * can compare each statement's old and new rows.
 */
Datum
hvc_statement_number(PG_FUNCTION_ARGS)
{
	static int64 statements = 0;

	PG_RETURN_INT64(++statements);
}

/*
 * hvc._guest_state(rows bigint): the stored state of the rows whose customer
 * key is NULL.  A refresh only counts those rows (read and skipped), so an
 * incremental refresh that recomputes them needs their number, not their
 * contents: a state of that many skipped rows, from count(*) (an index-only
 * scan), instead of aggregating every guest row scattered over the table.
 */
Datum
hvc_guest_state(PG_FUNCTION_ARGS)
{
	int64		rows = PG_GETARG_INT64(0);
	CustomerState *s;

	if (rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: a row count cannot be negative (%lld)", (long long) rows)));
	s = customer_state_new(CurrentMemoryContext);
	s->rows = rows;
	s->skipped = rows;
	PG_RETURN_BYTEA_P(customer_state_serialize(s));
}
