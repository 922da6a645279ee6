/*
 * amount.h — money values as exact fixed-point integers.
 *
 * hvc reckons every amount (revenue, margin) in units of 0.0001
 * ("ten-thousandths") held in an int64.  Sums of such integers are exact and
 * independent of the order of addition, so serial and parallel refreshes give
 * identical results.  A source value with more than four decimals is rounded
 * half away from zero to four.
 */
#ifndef HVC_AMOUNT_H
#define HVC_AMOUNT_H

#include "postgres.h"

#include "common/int.h"

#define HVC_AMOUNT_SCALE		10000	/* units per 1.0 */
#define HVC_AMOUNT_SCALE_LOG10	4
/* Largest absolute value accepted for one source row: 10^13 (ten trillion). */
#define HVC_AMOUNT_ROW_LIMIT	INT64CONST(100000000000000000)

typedef enum AmountKind
{
	AMOUNT_INT2,
	AMOUNT_INT4,
	AMOUNT_INT8,
	AMOUNT_FLOAT4,
	AMOUNT_FLOAT8,
	AMOUNT_NUMERIC
} AmountKind;

typedef enum AmountStatus
{
	AMOUNT_OK,
	AMOUNT_NOT_A_NUMBER,		/* NaN or +/-Infinity: the row is skipped */
	AMOUNT_OUT_OF_RANGE			/* |value| >= 10^13: an error */
} AmountStatus;

/* Map a (domain-stripped) type to its AmountKind; false if not a number type. */
extern bool amount_kind_for_type(Oid typid, AmountKind *kind);

/* Convert one datum to ten-thousandths. */
extern AmountStatus amount_from_datum(Datum value, AmountKind kind, int64 *units);

/* Add with overflow check; false on overflow. */
static inline bool
amount_add(int64 *acc, int64 units)
{
	return !pg_add_s64_overflow(*acc, units, acc);
}

/* ten-thousandths -> numeric with four decimals */
extern Datum amount_to_numeric(int64 units);

/* ten-thousandths -> cents, rounded half away from zero (exact, no overflow) */
extern int64 amount_to_cents(int64 units);

/* ten-thousandths -> numeric rounded (half away from zero) to cents */
extern Datum amount_to_cents_numeric(int64 units);

/*
 * ten-thousandths / n (n >= 1) -> numeric rounded (half away from zero) to
 * cents, exactly: an average ticket as numeric division rounds it
 */
extern Datum amount_mean_cents_numeric(int64 units, int64 n);

/* a money value computed in double -> numeric rounded to cents; false when
 * it is not finite or absurdly large (>= 10^15) */
extern bool money_to_cents_numeric(double v, Datum *out);

#endif
