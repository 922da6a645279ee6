/*
 * amount.c — converting source amounts to exact ten-thousandths.
 *
 * numeric values are decoded straight from their on-disk form (a stable,
 * pg_upgrade-preserved format: base-10000 digits with a weight), which is an
 * order of magnitude faster than numeric arithmetic or a text round trip and
 * exact.  The regression test "amounts" checks this decoder against
 * round(amount * 10000) for a wide range of values.
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "utils/numeric.h"

#include "amount.h"

/* numeric's on-disk header bits (NUM_*) come from pg_compat.h */

bool
amount_kind_for_type(Oid typid, AmountKind *kind)
{
	switch (typid)
	{
		case INT2OID:
			*kind = AMOUNT_INT2;
			return true;
		case INT4OID:
			*kind = AMOUNT_INT4;
			return true;
		case INT8OID:
			*kind = AMOUNT_INT8;
			return true;
		case FLOAT4OID:
			*kind = AMOUNT_FLOAT4;
			return true;
		case FLOAT8OID:
			*kind = AMOUNT_FLOAT8;
			return true;
		case NUMERICOID:
			*kind = AMOUNT_NUMERIC;
			return true;
		default:
			return false;
	}
}

static AmountStatus
amount_from_integer(int64 v, int64 *units)
{
	if (v >= HVC_AMOUNT_ROW_LIMIT / HVC_AMOUNT_SCALE ||
		v <= -HVC_AMOUNT_ROW_LIMIT / HVC_AMOUNT_SCALE)
		return AMOUNT_OUT_OF_RANGE;
	*units = v * HVC_AMOUNT_SCALE;
	return AMOUNT_OK;
}

static AmountStatus
amount_from_double(double v, int64 *units)
{
	double		scaled;

	if (isnan(v) || isinf(v))
		return AMOUNT_NOT_A_NUMBER;
	scaled = round(v * HVC_AMOUNT_SCALE);
	if (fabs(scaled) >= (double) HVC_AMOUNT_ROW_LIMIT)
		return AMOUNT_OUT_OF_RANGE;
	*units = (int64) scaled;
	return AMOUNT_OK;
}

static AmountStatus
amount_from_numeric(Datum value, int64 *units)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(value);
	const char *data = VARDATA_ANY(v);
	Size		len = VARSIZE_ANY_EXHDR(v);
	uint16		header;
	int			weight;
	bool		negative;
	Size		hdrsz;
	int			ndigits;
	int64		acc = 0;
	int			i;

	if (len < sizeof(uint16))
		elog(ERROR, "corrupt numeric datum");
	memcpy(&header, data, sizeof(uint16));

	if ((header & NUM_SIGN_MASK) == NUM_SPECIAL)
		return AMOUNT_NOT_A_NUMBER; /* NaN, Infinity, -Infinity */

	if ((header & NUM_SIGN_MASK) == NUM_SHORT)
	{
		negative = (header & NUM_SHORT_SIGN_MASK) != 0;
		/* 7-bit two's complement weight: sign bit 0x40, magnitude 0x3F */
		weight = (header & NUM_SHORT_WEIGHT_SIGN) ?
			(int) (header | ~NUM_SHORT_WEIGHT_MASK) : (int) (header & NUM_SHORT_WEIGHT_MASK);
		hdrsz = sizeof(uint16);
	}
	else
	{
		int16		w;

		if (len < 2 * sizeof(uint16))
			elog(ERROR, "corrupt numeric datum");
		negative = (header & NUM_SIGN_MASK) == NUM_NEG;
		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		weight = w;
		hdrsz = 2 * sizeof(uint16);
	}
	ndigits = (int) ((len - hdrsz) / sizeof(int16));

	/*
	 * value = sum_i digit[i] * NBASE^(weight - i); in ten-thousandths that is
	 * digit[i] * NBASE^(weight - i + 1).  Digit weight + 2 decides rounding.
	 */
	for (i = 0; i < ndigits; i++)
	{
		int			e = weight - i + 1;
		int16		d;

		memcpy(&d, data + hdrsz + i * sizeof(int16), sizeof(int16));
		if (e < 0)
		{
			if (e == -1 && d >= NUM_NBASE / 2)
				acc++;
			break;
		}
		if (d != 0)
		{
			int64		term = d;
			int			k;

			for (k = 0; k < e; k++)
				if (pg_mul_s64_overflow(term, NUM_NBASE, &term))
					return AMOUNT_OUT_OF_RANGE;
			if (pg_add_s64_overflow(acc, term, &acc))
				return AMOUNT_OUT_OF_RANGE;
		}
	}
	if (acc >= HVC_AMOUNT_ROW_LIMIT)
		return AMOUNT_OUT_OF_RANGE;
	*units = negative ? -acc : acc;
	return AMOUNT_OK;
}

AmountStatus
amount_from_datum(Datum value, AmountKind kind, int64 *units)
{
	switch (kind)
	{
		case AMOUNT_INT2:
			return amount_from_integer(DatumGetInt16(value), units);
		case AMOUNT_INT4:
			return amount_from_integer(DatumGetInt32(value), units);
		case AMOUNT_INT8:
			return amount_from_integer(DatumGetInt64(value), units);
		case AMOUNT_FLOAT4:
			return amount_from_double((double) DatumGetFloat4(value), units);
		case AMOUNT_FLOAT8:
			return amount_from_double(DatumGetFloat8(value), units);
		case AMOUNT_NUMERIC:
			return amount_from_numeric(value, units);
	}
	elog(ERROR, "unexpected amount kind %d", (int) kind);
	return AMOUNT_NOT_A_NUMBER;	/* keep compiler quiet */
}

Datum
amount_to_numeric(int64 units)
{
	return NumericGetDatum(int64_div_fast_to_numeric(units, HVC_AMOUNT_SCALE_LOG10));
}

/*
 * units / d (d >= 1), rounded half away from zero, without overflow next to
 * the int64 limits: the quotient truncated, then moved one away from zero
 * when the remainder (of units' sign, |r| < d) is at least half of d
 */
static int64
div_half_away(int64 units, int64 d)
{
	int64		q = units / d;
	int64		r = units % d;

	if (r >= d - r)
		q++;
	else if (-r >= d + r)
		q--;
	return q;
}

int64
amount_to_cents(int64 units)
{
	return div_half_away(units, 100);
}

Datum
amount_to_cents_numeric(int64 units)
{
	int64		cents = amount_to_cents(units);

	return NumericGetDatum(int64_div_fast_to_numeric(cents, 2));
}

Datum
amount_mean_cents_numeric(int64 units, int64 n)
{
	if (n < 1)
		elog(ERROR, "hvc: a mean over %lld values", (long long) n);
	/* units / (100 n); 100 n beyond int64: 0 cents */
	if (n > PG_INT64_MAX / 100)
		return NumericGetDatum(int64_div_fast_to_numeric(0, 2));
	return NumericGetDatum(int64_div_fast_to_numeric(div_half_away(units, n * 100), 2));
}

bool
money_to_cents_numeric(double v, Datum *out)
{
	if (!isfinite(v) || fabs(v) >= 1e15)
		return false;
	*out = NumericGetDatum(int64_div_fast_to_numeric((int64) llround(v * 100.0), 2));
	return true;
}
