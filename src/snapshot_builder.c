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
#include "pg_compat.h"

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
#include "version_guard.h"

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
	double		churn_pct;		/* churn_risk percentile; NaN without churn_risk */
	int			tier_index;
} Computed;

/* A row of the current snapshot, for previous_tier / tier_since. */
typedef struct OldRow
{
	Datum		customer;
	Datum		tier;			/* text */
	int32		tier_rank;
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

/*
 * Whether a customer whose old row is `o` stays in tier t: the same tier
 * name, or a renamed tier — the old name is no longer a tier and the rank is
 * the same (renaming tiers in hvc.tier_rules is not a move).
 */
static bool
same_tier(const OldRow *o, int t, const Datum *tier_names, const Datum *tier_ranks, int ntiers)
{
	int			u;

	if (text_datums_equal(o->tier, tier_names[t]))
		return true;
	if (o->tier_rank != DatumGetInt32(tier_ranks[t]))
		return false;
	for (u = 0; u < ntiers; u++)
		if (text_datums_equal(o->tier, tier_names[u]))
			return false;
	return true;
}

static void
bad_arg(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("hvc._build_snapshot: %s", msg),
			 errhint("hvc.refresh() builds these arguments from hvc.config, hvc.rfm_segments and hvc.tier_rules; do not call hvc._build_snapshot directly.")));
}

/* the elements of a one-dimensional array argument without NULLs */
static Datum *
array_elems(ArrayType *a, Oid elemtype, const char *name, int *n)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			i;

	if (ARR_ELEMTYPE(a) != elemtype)
		elog(ERROR, "hvc._build_snapshot: %s has element type %s", name,
			 format_type_be(ARR_ELEMTYPE(a)));
	if (ARR_NDIM(a) > 1)
		bad_arg(psprintf("%s must be a one-dimensional array", name));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, &elems, &nulls, n);
	for (i = 0; i < *n; i++)
		if (nulls[i])
			bad_arg(psprintf("%s must not contain NULL", name));
	return elems;
}

/*
 * The tiers: tier_lo[t] is the first value rank of tier t, 1 for the first
 * tier and never decreasing; tier ranks grow; names are not empty.
 */
static void
check_tiers(Datum *lo, Datum *name, Datum *rank, int ntiers)
{
	int			t;

	if (ntiers < 1)
		bad_arg("there must be at least one tier");
	for (t = 0; t < ntiers; t++)
	{
		if (VARSIZE_ANY_EXHDR(DatumGetTextPP(name[t])) == 0)
			bad_arg("tier names must not be empty");
		if (t == 0 ? DatumGetInt64(lo[t]) != 1 : DatumGetInt64(lo[t]) < DatumGetInt64(lo[t - 1]))
			bad_arg("tier_lo must start at 1 and never decrease");
		if (t == 0 ? DatumGetInt32(rank[t]) < 1 : DatumGetInt32(rank[t]) <= DatumGetInt32(rank[t - 1]))
			bad_arg("tier_rank must start at 1 or more and increase");
	}
}

static ValueBasis
basis_of(const char *name)
{
	if (strcmp(name, "predicted_clv") == 0)
		return BASIS_PREDICTED_CLV;
	if (strcmp(name, "historic_clv") == 0)
		return BASIS_HISTORIC_CLV;
	if (strcmp(name, "revenue") == 0)
		return BASIS_REVENUE;
	if (strcmp(name, "margin") == 0)
		return BASIS_MARGIN;
	bad_arg(psprintf("basis must be predicted_clv, historic_clv, revenue or margin, got \"%s\"", name));
	return BASIS_REVENUE;		/* keep the compiler quiet */
}

static void
read_old_snapshot(Stage *st, SortCtx *sc, OldRow **rows_out, int64 *n_out)
{
	Portal		portal;
	SPIPlanPtr	plan;
	int64		n = 0,
				cap = 1024;
	OldRow	   *rows = palloc(cap * sizeof(OldRow));
	MemoryContext cxt = CurrentMemoryContext;

	plan = SPI_prepare("SELECT customer_id, tier, previous_tier, tier_since, tier_rank FROM hvc.customer_snapshot",
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "hvc: could not read the current snapshot: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	{
		TupleDesc	d = portal->tupDesc;

		if (getBaseType(TupleDescAttr(d, 0)->atttypid) != st->customer_type ||
			TupleDescAttr(d, 1)->atttypid != TEXTOID ||
			TupleDescAttr(d, 2)->atttypid != TEXTOID ||
			TupleDescAttr(d, 3)->atttypid != TIMESTAMPTZOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("hvc: hvc.customer_snapshot.customer_id has type %s, the stage %s",
							format_type_be(TupleDescAttr(d, 0)->atttypid),
							format_type_be(st->customer_type)),
					 errhint("Register the source again with hvc.register_source() and refresh.")));
	}
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
			CHECK_FOR_INTERRUPTS();
			r = &rows[n++];
			r->customer = datumCopy(SPI_getbinval(tup, desc, 1, &isnull), st->typbyval, st->typlen);
			r->tier = datumCopy(SPI_getbinval(tup, desc, 2, &isnull), false, -1);
			r->previous_tier = SPI_getbinval(tup, desc, 3, &r->prev_null);
			if (!r->prev_null)
				r->previous_tier = datumCopy(r->previous_tier, false, -1);
			r->tier_since = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
			r->tier_rank = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(cxt);
	qsort_arg(rows, n, sizeof(OldRow), cmp_old, sc);
	*rows_out = rows;
	*n_out = n;
}

static int
cmp_churn_idx(const void *a, const void *b, void *arg)
{
	const Computed *c = arg;
	double		x = c[*(const int64 *) a].pred.churn_risk;
	double		y = c[*(const int64 *) b].pred.churn_risk;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * The churn_risk percentile of every customer with a churn_risk: the share
 * of those customers whose churn_risk is at most theirs (cume_dist; ties
 * share the highest), in (0, 1].  order is scratch space.
 */
static void
churn_percentiles(Computed *cp, int64 *order, int64 n)
{
	int64		m = 0,
				k,
				j;

	for (k = 0; k < n; k++)
	{
		cp[k].churn_pct = NAN;
		if (isfinite(cp[k].pred.churn_risk))
			order[m++] = k;
		CHECK_FOR_INTERRUPTS();
	}
	qsort_arg(order, m, sizeof(int64), cmp_churn_idx, cp);
	for (k = 0; k < m; k = j)
	{
		for (j = k + 1; j < m && cp[order[j]].pred.churn_risk == cp[order[k]].pred.churn_risk; j++)
			;
		for (; k < j; k++)
			cp[order[k]].churn_pct = (double) j / (double) m;
		CHECK_FOR_INTERRUPTS();
	}
}

#define OUT_NATTS 38

Datum
hvc_build_snapshot(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HeapTupleHeader params;
	DateADT		as_of_day;
	char	   *tzname;
	bool		has_margin;
	ArrayType  *seg_arr,
			   *lo_arr,
			   *name_arr,
			   *rank_arr,
			   *high_arr;
	TimestampTz refreshed;
	int64		refresh_id;
	Oid			key_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
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
	/* sums of up to 2^63 values of up to 10^17 cents: 128 bits where we have them */
#ifdef HAVE_INT128
	int128		total = 0,
				running = 0;
#else
	double		total = 0,
				running = 0;
#endif
	double		unit;
	Datum	   *segments,
			   *tier_names,
			   *tier_lo_d,
			   *tier_rank_d,
			   *tier_high_d;
	int			nseg,
				t,
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

	/* every argument but the key prototype is required */
	for (i = 1; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("hvc._build_snapshot: argument %d must not be NULL", (int) i + 1)));
	if (!OidIsValid(key_type))
		elog(ERROR, "hvc._build_snapshot: could not determine the customer key type");
	params = PG_GETARG_HEAPTUPLEHEADER(1);
	as_of_day = PG_GETARG_DATEADT(2);
	tzname = text_to_cstring(PG_GETARG_TEXT_PP(3));
	has_margin = PG_GETARG_BOOL(4);
	seg_arr = PG_GETARG_ARRAYTYPE_P(6);
	lo_arr = PG_GETARG_ARRAYTYPE_P(7);
	name_arr = PG_GETARG_ARRAYTYPE_P(8);
	rank_arr = PG_GETARG_ARRAYTYPE_P(9);
	high_arr = PG_GETARG_ARRAYTYPE_P(10);
	refreshed = PG_GETARG_TIMESTAMPTZ(11);
	refresh_id = PG_GETARG_INT64(12);

	InitMaterializedSRF(fcinfo, 0);
	/* a 0.1.0 catalog's result lacks churn_percentile (the last column) */
	if (rsinfo->setDesc->natts != OUT_NATTS - 1)
		hvc_require_columns(rsinfo->setDesc, OUT_NATTS, "the result of hvc._build_snapshot (hvc.customer_snapshot)");

	model_set_from_params(params, &ms);
	basis = basis_of(text_to_cstring(PG_GETARG_TEXT_PP(5)));
	unit = ms.units_per_month == HVC_UNITS_PER_MONTH_WEEK ? 7.0 : 1.0;
	tz = local_zone(tzname);
	if (TIMESTAMP_NOT_FINITE(refreshed))
		bad_arg("refreshed must be a finite time");

	segments = array_elems(seg_arr, TEXTOID, "segment_of_cell", &nseg);
	if (nseg != RFM_CELLS)
		bad_arg(psprintf("segment_of_cell must have %d cells, got %d", RFM_CELLS, nseg));
	tier_names = array_elems(name_arr, TEXTOID, "tier_name", &ntiers);
	tier_lo_d = array_elems(lo_arr, INT8OID, "tier_lo", &n2);
	tier_rank_d = array_elems(rank_arr, INT4OID, "tier_rank", &n3);
	tier_high_d = array_elems(high_arr, BOOLOID, "tier_high", &n4);
	if (n2 != ntiers || n3 != ntiers || n4 != ntiers)
		bad_arg("tier_lo, tier_name, tier_rank and tier_high must have the same length");
	check_tiers(tier_lo_d, tier_names, tier_rank_d, ntiers);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "hvc: SPI_connect failed");
	/* everything that outlives SPI_finish lives in callcxt */
	MemoryContextSwitchTo(callcxt);
	stage_read(&st, key_type, as_of_day);

	/* customer-key ordering (C collation for text keys: fast and total) */
	memset(&sc, 0, sizeof(sc));
	tce = lookup_type_cache(st.customer_type, TYPECACHE_LT_OPR);
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
	{
		work[i] = -(double) (as_of_day - st.customers[i].last_day);
		CHECK_FOR_INTERRUPTS();
	}
	rfm_breaks(work, st.n, rb);
	for (i = 0; i < st.n; i++)
	{
		work[i] = (double) st.customers[i].orders;
		CHECK_FOR_INTERRUPTS();
	}
	rfm_breaks(work, st.n, fb);
	for (i = 0; i < st.n; i++)
	{
		work[i] = (double) st.customers[i].revenue;
		CHECK_FOR_INTERRUPTS();
	}
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
			cp[i].pred.p_alive = cp[i].pred.churn_risk = cp[i].pred.predicted_orders =
				cp[i].pred.expected_order_value =
				cp[i].pred.predicted_clv = cp[i].pred.next_order_in = NAN;
	}

	churn_percentiles(cp, order, st.n);

	/* scores, value */
	for (i = 0; i < st.n; i++)
	{
		StageCustomer *c = &st.customers[i];
		Computed   *x = &cp[i];
		x->historic = has_margin ? (c->has_margin ? c->margin : 0) : c->revenue;
		x->r = rfm_score(-(double) (as_of_day - c->last_day), rb);
		x->f = rfm_score((double) c->orders, fb);
		x->m = rfm_score((double) c->revenue, mb);
		/* ranks and shares use the value as shown (rounded to cents) */
		switch (basis)
		{
			case BASIS_PREDICTED_CLV:
				x->value = isfinite(x->pred.predicted_clv) ? x->pred.predicted_clv : 0.0;
				if (!isfinite(x->value) || fabs(x->value) >= 1e15)
					x->value = 0.0;
				x->value_cents = (int64) llround(x->value * 100.0);
				break;
			case BASIS_HISTORIC_CLV:
				x->value_cents = amount_to_cents(x->historic);
				break;
			case BASIS_REVENUE:
				x->value_cents = amount_to_cents(c->revenue);
				break;
			case BASIS_MARGIN:
				x->value_cents = amount_to_cents(c->has_margin ? c->margin : 0);
				break;
		}
		x->value = x->value_cents / 100.0;
		order[i] = i;
		CHECK_FOR_INTERRUPTS();
	}

	/* value ranks, cumulative shares, tiers */
	qsort_arg(order, st.n, sizeof(int64), cmp_value_idx, &sc);
	/*
	 * Shares are of the total positive value: a customer with net value <= 0
	 * (refunds beyond purchases) adds nothing, so the cumulative share grows
	 * from 0 to 1 and never passes 1.  Exact: sums of cents, order-independent.
	 */
	for (i = 0; i < st.n; i++)
	{
		total += Max(cp[i].value_cents, 0);
		CHECK_FOR_INTERRUPTS();
	}
	t = 0;
	for (k = 0; k < st.n; k++)
	{
		Computed   *x = &cp[order[k]];

		running += Max(x->value_cents, 0);
		x->value_rank = k + 1;
		x->cum_share = total > 0 ? (double) running / (double) total : NAN;
		/* the last tier whose first rank is at most this rank (ranks grow) */
		while (t + 1 < ntiers && DatumGetInt64(tier_lo_d[t + 1]) <= x->value_rank)
			t++;
		x->tier_index = t;
		CHECK_FOR_INTERRUPTS();
	}

	/* emit in customer-key order, merging in the current snapshot */
	for (i = 0; i < st.n; i++)
		order[i] = i;
	qsort_arg(order, st.n, sizeof(int64), cmp_customer_idx, &sc);
	for (k = 0; k < st.n; k++)
	{
		StageCustomer *c = &st.customers[order[k]];
		Computed   *x = &cp[order[k]];
		OldRow	   *o = NULL;
		char		cell[4];

		t = x->tier_index;
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
		nulls[22] = !isfinite(x->pred.p_alive);
		values[22] = Float8GetDatum(x->pred.p_alive);
		nulls[23] = !isfinite(x->pred.churn_risk);
		values[23] = Float8GetDatum(x->pred.churn_risk);
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
		else if (same_tier(o, t, tier_names, tier_rank_d, ntiers))
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
		nulls[37] = !isfinite(x->churn_pct);	/* ignored by a 0.1.0 result */
		values[37] = Float8GetDatum(x->churn_pct);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	return (Datum) 0;
}
