/*
 * snapshot_builder.c — the per-customer step of a refresh, in one pass over
 * memory:
 *
 *   hvc._build_snapshot(customer_proto anyelement, m hvc._model_params,
 *                       as_of_day date, timezone text, has_margin boolean,
 *                       basis text, segment_of_cell text[], tier_lo bigint[],
 *                       tier_name text[], tier_rank integer[],
 *                       tier_high boolean[], refreshed timestamptz,
 *                       refresh_id bigint)
 *     RETURNS TABLE (...every column of hvc.customer_snapshot...)
 *
 * It reads the stage (serialised per-customer states), computes metrics, RFM
 * scores (tie-preserving quintile breaks), segments, predictions, the value
 * basis, value ranks, cumulative shares and tiers, carries previous_tier /
 * tier_since over from the current snapshot, and returns the rows in
 * customer-key order (so the primary-key index is filled at its right edge).
 * Doing this in C instead of window functions keeps the whole refresh close
 * to the cost of reading the source once.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/sortsupport.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "amount.h"
#include "core/rfm.h"
#include "local_time.h"
#include "models.h"
#include "stage.h"

PG_FUNCTION_INFO_V1(hvc_build_snapshot);

typedef enum ValueBasis
{
	BASIS_PREDICTED_CLV,
	BASIS_HISTORIC_CLV,
	BASIS_REVENUE,
	BASIS_MARGIN
} ValueBasis;

/* Everything computed for one customer besides what the stage holds. */
typedef struct Computed
{
	int			r,
				f,
				m;
	Prediction	pred;
	int64		historic;		/* historic_clv, ten-thousandths */
	double		value;			/* rounded to cents */
	int64		value_cents;	/* the same, exactly: shares are sums of these */
	int64		value_rank;
	double		cum_share;		/* NaN when total value <= 0 */
	int			tier_index;
} Computed;

/* A row of the current snapshot, for previous_tier / tier_since. */
typedef struct OldRow
{
	Datum		customer;
	Datum		tier;			/* text */
	bool		prev_null;
	Datum		previous_tier;	/* text */
	TimestampTz tier_since;
} OldRow;

typedef struct SortCtx
{
	SortSupportData ssup;
	const StageCustomer *customers;
	const Computed *computed;
} SortCtx;

static int
cmp_customer_idx(const void *a, const void *b, void *arg)
{
	SortCtx    *sc = arg;

	return ApplySortComparator(sc->customers[*(const int64 *) a].customer, false,
							   sc->customers[*(const int64 *) b].customer, false, &sc->ssup);
}

static int
cmp_value_idx(const void *a, const void *b, void *arg)
{
	SortCtx    *sc = arg;
	int64		i = *(const int64 *) a;
	int64		j = *(const int64 *) b;
	double		vi = sc->computed[i].value;
	double		vj = sc->computed[j].value;

	if (vi > vj)
		return -1;
	if (vi < vj)
		return 1;
	return ApplySortComparator(sc->customers[i].customer, false,
							   sc->customers[j].customer, false, &sc->ssup);
}

/* customers with the same (frequency, recency, age) share a forecast */
typedef struct TripleCtx
{
	const StageCustomer *customers;
} TripleCtx;

static int
cmp_triple_idx(const void *a, const void *b, void *arg)
{
	const StageCustomer *c = ((TripleCtx *) arg)->customers;
	const StageCustomer *x = &c[*(const int64 *) a];
	const StageCustomer *y = &c[*(const int64 *) b];

	if (x->frequency != y->frequency)
		return x->frequency < y->frequency ? -1 : 1;
	if (x->first_day != y->first_day)
		return x->first_day < y->first_day ? -1 : 1;
	if (x->last_day != y->last_day)
		return x->last_day < y->last_day ? -1 : 1;
	return 0;
}

static int
cmp_old(const void *a, const void *b, void *arg)
{
	SortCtx    *sc = arg;

	return ApplySortComparator(((const OldRow *) a)->customer, false,
							   ((const OldRow *) b)->customer, false, &sc->ssup);
}

/* text equality whatever the varlena header form (short or 4-byte) */
static bool
text_datums_equal(Datum a, Datum b)
{
	text	   *x = DatumGetTextPP(a);
	text	   *y = DatumGetTextPP(b);

	return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
		memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
}

static Datum *
text_array_elems(ArrayType *a, int *n)
{
	Datum	   *elems;
	bool	   *nulls;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	return elems;
}

static void
read_old_snapshot(Stage *st, SortCtx *sc, OldRow **rows_out, int64 *n_out)
{
	Portal		portal;
	SPIPlanPtr	plan;
	int64		n = 0,
				cap = 1024;
	OldRow	   *rows;
	MemoryContext cxt = CurrentMemoryContext;

	/*
	 * With no customer now nothing is carried over, and an empty stage gives
	 * no key type to copy the old keys with.
	 */
	*rows_out = NULL;
	*n_out = 0;
	if (st->n == 0)
		return;
	rows = palloc(cap * sizeof(OldRow));
	plan = SPI_prepare("SELECT customer_id, tier, previous_tier, tier_since FROM hvc.customer_snapshot",
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "hvc: could not read the current snapshot: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, 10000);
		MemoryContextSwitchTo(cxt);		/* SPI left its own context current */
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			OldRow	   *r;

			if (n == cap)
			{
				cap *= 2;
				rows = repalloc_huge(rows, cap * sizeof(OldRow));
			}
			r = &rows[n++];
			r->customer = datumCopy(SPI_getbinval(tup, desc, 1, &isnull), st->typbyval, st->typlen);
			r->tier = datumCopy(SPI_getbinval(tup, desc, 2, &isnull), false, -1);
			r->previous_tier = SPI_getbinval(tup, desc, 3, &r->prev_null);
			if (!r->prev_null)
				r->previous_tier = datumCopy(r->previous_tier, false, -1);
			r->tier_since = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(cxt);
	qsort_arg(rows, n, sizeof(OldRow), cmp_old, sc);
	*rows_out = rows;
	*n_out = n;
}

#define OUT_NATTS 37

Datum
hvc_build_snapshot(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HeapTupleHeader params = PG_GETARG_HEAPTUPLEHEADER(1);
	DateADT		as_of_day = PG_GETARG_DATEADT(2);
	char	   *tzname = text_to_cstring(PG_GETARG_TEXT_PP(3));
	bool		has_margin = PG_GETARG_BOOL(4);
	char	   *basis_name = text_to_cstring(PG_GETARG_TEXT_PP(5));
	ArrayType  *seg_arr = PG_GETARG_ARRAYTYPE_P(6);
	ArrayType  *lo_arr = PG_GETARG_ARRAYTYPE_P(7);
	ArrayType  *name_arr = PG_GETARG_ARRAYTYPE_P(8);
	ArrayType  *rank_arr = PG_GETARG_ARRAYTYPE_P(9);
	ArrayType  *high_arr = PG_GETARG_ARRAYTYPE_P(10);
	TimestampTz refreshed = PG_GETARG_TIMESTAMPTZ(11);
	int64		refresh_id = PG_GETARG_INT64(12);
	MemoryContext callcxt = CurrentMemoryContext;
	ModelSet	ms;
	ValueBasis	basis;
	pg_tz	   *tz;
	Stage		st;
	Computed   *cp;
	int64	   *order;
	double	   *work;
	double		rb[RFM_BREAKS],
				fb[RFM_BREAKS],
				mb[RFM_BREAKS];
	int64		total = 0,
				running = 0;
	double		unit;
	Datum	   *segments,
			   *tier_names,
			   *tier_lo_d,
			   *tier_rank_d,
			   *tier_high_d;
	bool	   *dummy_nulls;
	int			nseg,
				ntiers,
				n2,
				n3,
				n4;
	SortCtx		sc;
	TypeCacheEntry *tce;
	OldRow	   *old_rows;
	int64		n_old,
				oi = 0,
				i,
				k;
	Datum		values[OUT_NATTS];
	bool		nulls[OUT_NATTS];

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != OUT_NATTS)
		elog(ERROR, "hvc._build_snapshot returns %d columns, expected %d",
			 rsinfo->setDesc->natts, OUT_NATTS);

	model_set_from_params(params, &ms);
	if (strcmp(basis_name, "predicted_clv") == 0)
		basis = BASIS_PREDICTED_CLV;
	else if (strcmp(basis_name, "historic_clv") == 0)
		basis = BASIS_HISTORIC_CLV;
	else if (strcmp(basis_name, "revenue") == 0)
		basis = BASIS_REVENUE;
	else
		basis = BASIS_MARGIN;
	unit = ms.units_per_month == HVC_UNITS_PER_MONTH_WEEK ? 7.0 : 1.0;
	tz = local_zone(tzname);

	segments = text_array_elems(seg_arr, &nseg);
	if (nseg != 125)
		elog(ERROR, "hvc: expected 125 segment cells, got %d", nseg);
	tier_names = text_array_elems(name_arr, &ntiers);
	deconstruct_array(lo_arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &tier_lo_d, &dummy_nulls, &n2);
	deconstruct_array(rank_arr, INT4OID, 4, true, TYPALIGN_INT, &tier_rank_d, &dummy_nulls, &n3);
	deconstruct_array(high_arr, BOOLOID, 1, true, TYPALIGN_CHAR, &tier_high_d, &dummy_nulls, &n4);
	if (ntiers < 1 || n2 != ntiers || n3 != ntiers || n4 != ntiers)
		elog(ERROR, "hvc: tier arrays do not match");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "hvc: SPI_connect failed");
	/* everything that outlives SPI_finish lives in callcxt */
	MemoryContextSwitchTo(callcxt);
	stage_read(&st);

	/* customer-key ordering (C collation for text keys: fast and total) */
	memset(&sc, 0, sizeof(sc));
	tce = lookup_type_cache(st.customer_type != InvalidOid ? st.customer_type :
							get_fn_expr_argtype(fcinfo->flinfo, 0), TYPECACHE_LT_OPR);
	if (!OidIsValid(tce->lt_opr))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("customer key type %s has no ordering", format_type_be(tce->type_id))));
	sc.ssup.ssup_cxt = callcxt;
	sc.ssup.ssup_collation = type_is_collatable(tce->type_id) ? C_COLLATION_OID : InvalidOid;
	PrepareSortSupportFromOrderingOp(tce->lt_opr, &sc.ssup);
	sc.customers = st.customers;

	read_old_snapshot(&st, &sc, &old_rows, &n_old);
	MemoryContextSwitchTo(callcxt);

	cp = palloc_extended(Max(st.n, 1) * sizeof(Computed), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	order = palloc_extended(Max(st.n, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	work = palloc_extended(Max(st.n, 1) * sizeof(double), MCXT_ALLOC_HUGE);
	sc.computed = cp;

	/* RFM breaks */
	for (i = 0; i < st.n; i++)
		work[i] = -(double) (as_of_day - st.customers[i].last_day);
	rfm_breaks(work, st.n, rb);
	for (i = 0; i < st.n; i++)
		work[i] = (double) st.customers[i].orders;
	rfm_breaks(work, st.n, fb);
	for (i = 0; i < st.n; i++)
		work[i] = (double) st.customers[i].revenue;
	rfm_breaks(work, st.n, mb);

	/* purchase-model forecasts, once per distinct (frequency, first, last day) */
	if (ms.usable && st.n > 0)
	{
		TripleCtx	tc = {st.customers};
		PurchaseForecast fc;
		int64		prev = -1;

		for (i = 0; i < st.n; i++)
			order[i] = i;
		qsort_arg(order, st.n, sizeof(int64), cmp_triple_idx, &tc);
		for (k = 0; k < st.n; k++)
		{
			StageCustomer *c = &st.customers[order[k]];

			if (prev < 0 || cmp_triple_idx(&order[prev], &order[k], &tc) != 0)
			{
				model_set_forecast(&ms, c->frequency, (c->last_day - c->first_day) / unit,
								   (as_of_day - c->first_day) / unit, &fc);
				prev = k;
				CHECK_FOR_INTERRUPTS();
			}
			model_set_predict(&ms, &fc, c->frequency, c->monetary, &cp[order[k]].pred);
		}
	}
	else
	{
		for (i = 0; i < st.n; i++)
			cp[i].pred.p_alive = cp[i].pred.predicted_orders = cp[i].pred.expected_order_value =
				cp[i].pred.predicted_clv = cp[i].pred.next_order_in = NAN;
	}

	/* scores, value */
	for (i = 0; i < st.n; i++)
	{
		StageCustomer *c = &st.customers[i];
		Computed   *x = &cp[i];
		x->historic = has_margin ? (c->has_margin ? c->margin : 0) : c->revenue;
		x->r = rfm_score(-(double) (as_of_day - c->last_day), rb);
		x->f = rfm_score((double) c->orders, fb);
		x->m = rfm_score((double) c->revenue, mb);
		switch (basis)
		{
			case BASIS_PREDICTED_CLV:
				x->value = isfinite(x->pred.predicted_clv) ? x->pred.predicted_clv : 0.0;
				break;
			case BASIS_HISTORIC_CLV:
				x->value = (double) x->historic / HVC_AMOUNT_SCALE;
				break;
			case BASIS_REVENUE:
				x->value = (double) c->revenue / HVC_AMOUNT_SCALE;
				break;
			case BASIS_MARGIN:
				x->value = (double) (c->has_margin ? c->margin : 0) / HVC_AMOUNT_SCALE;
				break;
		}
		/* ranks and shares use the value as shown (rounded to cents) */
		if (!isfinite(x->value) || fabs(x->value) >= 1e15)
			x->value = 0.0;
		x->value_cents = (int64) llround(x->value * 100.0);
		x->value = x->value_cents / 100.0;
		order[i] = i;
		CHECK_FOR_INTERRUPTS();
	}

	/* value ranks, cumulative shares, tiers */
	qsort_arg(order, st.n, sizeof(int64), cmp_value_idx, &sc);
	for (i = 0; i < st.n; i++)
		total += cp[i].value_cents;	/* exact: order-independent */
	for (k = 0; k < st.n; k++)
	{
		Computed   *x = &cp[order[k]];
		int			t;

		running += x->value_cents;
		x->value_rank = k + 1;
		x->cum_share = total > 0 ? (double) running / (double) total : NAN;
		x->tier_index = 0;
		for (t = 0; t < ntiers; t++)
			if (DatumGetInt64(tier_lo_d[t]) <= x->value_rank)
				x->tier_index = t;
	}

	/* emit in customer-key order, merging in the current snapshot */
	for (i = 0; i < st.n; i++)
		order[i] = i;
	qsort_arg(order, st.n, sizeof(int64), cmp_customer_idx, &sc);
	for (k = 0; k < st.n; k++)
	{
		StageCustomer *c = &st.customers[order[k]];
		Computed   *x = &cp[order[k]];
		int			t = x->tier_index;
		OldRow	   *o = NULL;
		char		cell[4];

		while (oi < n_old &&
			   ApplySortComparator(old_rows[oi].customer, false, c->customer, false, &sc.ssup) < 0)
			oi++;
		if (oi < n_old &&
			ApplySortComparator(old_rows[oi].customer, false, c->customer, false, &sc.ssup) == 0)
			o = &old_rows[oi];

		memset(nulls, false, sizeof(nulls));
		values[0] = c->customer;
		values[1] = TimestampTzGetDatum(local_to_timestamptz(c->first_at, tz));
		values[2] = TimestampTzGetDatum(local_to_timestamptz(c->last_at, tz));
		values[3] = Int64GetDatum(c->orders);
		values[4] = Int32GetDatum(c->purchase_days);
		values[5] = Int64GetDatum(c->refunds);
		values[6] = amount_to_cents_numeric(c->revenue);
		if (has_margin && c->has_margin)
			values[7] = amount_to_cents_numeric(c->margin);
		else
			nulls[7] = true;
		nulls[8] = !money_to_cents_numeric((double) c->revenue / HVC_AMOUNT_SCALE / c->orders, &values[8]);
		values[9] = Int32GetDatum(as_of_day - c->first_day);
		values[10] = Int32GetDatum(as_of_day - c->last_day);
		if (c->frequency > 0)
			values[11] = Float8GetDatum((double) (c->last_day - c->first_day) / c->frequency);
		else
			nulls[11] = true;
		values[12] = Int32GetDatum(c->frequency);
		values[13] = Float8GetDatum((c->last_day - c->first_day) / unit);
		values[14] = Float8GetDatum((as_of_day - c->first_day) / unit);
		values[15] = Float8GetDatum(c->monetary);
		values[16] = Int32GetDatum(x->r);
		values[17] = Int32GetDatum(x->f);
		values[18] = Int32GetDatum(x->m);
		snprintf(cell, sizeof(cell), "%d%d%d", x->r, x->f, x->m);
		values[19] = CStringGetTextDatum(cell);
		values[20] = segments[rfm_cell_index(x->r, x->f, x->m)];
		values[21] = amount_to_cents_numeric(x->historic);
		if (isfinite(x->pred.p_alive))
		{
			values[22] = Float8GetDatum(x->pred.p_alive);
			values[23] = Float8GetDatum(1.0 - x->pred.p_alive);
		}
		else
			nulls[22] = nulls[23] = true;
		nulls[24] = !isfinite(x->pred.predicted_orders);
		values[24] = Float8GetDatum(x->pred.predicted_orders);
		nulls[25] = !money_to_cents_numeric(x->pred.expected_order_value, &values[25]);
		nulls[26] = !money_to_cents_numeric(x->pred.predicted_clv, &values[26]);
		if (isfinite(x->pred.next_order_in) && x->pred.next_order_in * unit < 1e6)
			values[27] = DateADTGetDatum(as_of_day + (DateADT) llround(x->pred.next_order_in * unit));
		else
			nulls[27] = true;
		values[28] = NumericGetDatum(int64_div_fast_to_numeric(x->value_cents, 2));
		values[29] = Int64GetDatum(x->value_rank);
		nulls[30] = !isfinite(x->cum_share);
		values[30] = Float8GetDatum(x->cum_share);
		values[31] = tier_names[t];
		values[32] = tier_rank_d[t];
		values[33] = tier_high_d[t];
		if (o == NULL)
		{
			nulls[34] = true;
			values[35] = TimestampTzGetDatum(refreshed);
		}
		else if (text_datums_equal(o->tier, tier_names[t]))
		{
			nulls[34] = o->prev_null;
			values[34] = o->previous_tier;
			values[35] = TimestampTzGetDatum(o->tier_since);
		}
		else
		{
			values[34] = o->tier;
			values[35] = TimestampTzGetDatum(refreshed);
		}
		values[36] = Int64GetDatum(refresh_id);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	return (Datum) 0;
}
