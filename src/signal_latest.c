/*
 * signal_latest.c — hvc._signal_latest(value float8, observed_at timestamptz):
 * the latest observation (the latest NPS answer of a customer), in one pass
 * and PARALLEL SAFE.  The result is a float8[2] {observed_at in microseconds
 * since 2000-01-01 UTC, value}, NULL when there was no observation.
 *
 * The state is a float8[3] {observed_at in microseconds, value, seen (0/1)}:
 * a plain array, so partial states travel between parallel workers without
 * serialisation functions.  Microseconds since 2000 stay exact in a float8
 * for about 285 years either way.  Rows with a NULL value or time are not
 * observations (the refresh counts them as skipped).  Ties in time keep the
 * larger value, so the result does not depend on the order rows arrive in
 * or on how parallel workers split them.
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(hvc_signal_latest_trans);
PG_FUNCTION_INFO_V1(hvc_signal_latest_combine);
PG_FUNCTION_INFO_V1(hvc_signal_latest_final);

#define LATEST_N 3

static float8 *
latest_values(ArrayType *a)
{
	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != LATEST_N || ARR_HASNULL(a) ||
		ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: not a state of hvc._signal_latest"),
				 errdetail("The state is a float8[3] without NULLs.")));
	return (float8 *) ARR_DATA_PTR(a);
}

/* Does (at, value) beat the state's observation? */
static bool
later(const float8 *s, float8 at, float8 value)
{
	if (s[2] == 0)
		return true;
	if (at != s[0])
		return at > s[0];
	return value > s[1];
}

/* The state to write: in place inside an aggregate, else a copy. */
static ArrayType *
writable_state(FunctionCallInfo fcinfo, int argno)
{
	if (AggCheckCallContext(fcinfo, NULL))
		return PG_GETARG_ARRAYTYPE_P(argno);
	return PG_GETARG_ARRAYTYPE_P_COPY(argno);
}

Datum
hvc_signal_latest_trans(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	float8	   *s;
	float8		value;
	float8		at;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc: the state of hvc._signal_latest must not be NULL")));
	state = writable_state(fcinfo, 0);
	s = latest_values(state);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_ARRAYTYPE_P(state);
	value = PG_GETARG_FLOAT8(1);
	if (isnan(value))
		PG_RETURN_ARRAYTYPE_P(state);
	at = (float8) PG_GETARG_TIMESTAMPTZ(2);
	if (later(s, at, value))
	{
		s[0] = at;
		s[1] = value;
		s[2] = 1;
	}
	PG_RETURN_ARRAYTYPE_P(state);
}

Datum
hvc_signal_latest_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	float8	   *s;
	const float8 *o;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc: the states of hvc._signal_latest must not be NULL")));
	state = writable_state(fcinfo, 0);
	s = latest_values(state);
	o = latest_values(PG_GETARG_ARRAYTYPE_P(1));
	if (o[2] != 0 && later(s, o[0], o[1]))
	{
		s[0] = o[0];
		s[1] = o[1];
		s[2] = 1;
	}
	PG_RETURN_ARRAYTYPE_P(state);
}

Datum
hvc_signal_latest_final(PG_FUNCTION_ARGS)
{
	const float8 *s;
	Datum		out[2];

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = latest_values(PG_GETARG_ARRAYTYPE_P(0));
	if (s[2] == 0)
		PG_RETURN_NULL();
	out[0] = Float8GetDatum(s[0]);
	out[1] = Float8GetDatum(s[1]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, 2, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
