/*
 * snapshot_builder.c — the per-customer step of a refresh:
 *
 *   hvc._build_snapshot(customer_proto anyelement, m hvc._model_params,
 *                       as_of_day date, timezone text, has_margin boolean,
 *                       basis text, segment_of_cell text[], tier_lo bigint[],
 *                       tier_name text[], tier_rank integer[],
 *                       tier_high boolean[], refreshed timestamptz,
 *                       refresh_id bigint)
 *     RETURNS TABLE (...every column of hvc.customer_snapshot...)
 *
 * It reads the stage (serialised per-customer states) once, computes
 * metrics, RFM scores (tie-preserving quintile breaks), segments,
 * predictions, the value basis, value ranks, cumulative shares and tiers,
 * carries previous_tier / tier_since over from the current snapshot, and
 * returns the rows in value-rank order.  It streams in two passes (see
 * snapshot.h): backend memory is a few work_mem-sized sorts and caches
 * bounded by the number of distinct (frequency, recency, age) triples,
 * whatever the number of customers; beyond work_mem the sorts spill to
 * temporary files.
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "amount.h"
#include "snapshot.h"
#include "version_guard.h"

PG_FUNCTION_INFO_V1(hvc_build_snapshot);

/* What pass 1 accumulates. */
typedef struct Pass1
{
	const SnapshotArgs *a;
	ForecastCache *forecasts;
	RowSort		rows;
	BreakSort	recency,
				frequency,
				monetary;
	CumeDist   *churn;
	/* sums of up to 2^63 values of up to 10^17 cents: 128 bits where we have them */
#ifdef HAVE_INT128
	int128		total;
#else
	double		total;
#endif
	int64		n;
} Pass1;

/* The value a customer is ranked by, in cents (as shown: rounded to cents). */
static int64
value_cents_of(const SnapshotArgs *a, const StageCustomer *c, const Prediction *p)
{
	double		v;

	switch (a->basis)
	{
		case BASIS_PREDICTED_CLV:
			v = isfinite(p->predicted_clv) ? p->predicted_clv : 0.0;
			if (!isfinite(v) || fabs(v) >= 1e15)
				v = 0.0;
			return (int64) llround(v * 100.0);
		case BASIS_HISTORIC_CLV:
			return amount_to_cents(a->has_margin ? (c->has_margin ? c->margin : 0) : c->revenue);
		case BASIS_REVENUE:
			return amount_to_cents(c->revenue);
		case BASIS_MARGIN:
			return amount_to_cents(c->has_margin ? c->margin : 0);
	}
	return 0;					/* keep the compiler quiet */
}

/* pass 1, per customer: columns 3-6 of the query are the old snapshot's */
static void
pass1_visit(void *arg, const StageCustomer *c, HeapTuple tup, TupleDesc desc)
{
	Pass1	   *p1 = arg;
	PassRow		r;
	bool		isnull;

	r.c = *c;
	forecast_predict(p1->forecasts, c, &r.pred);
	r.value_cents = value_cents_of(p1->a, c, &r.pred);
	p1->total += Max(r.value_cents, 0);
	r.old_tier = SPI_getbinval(tup, desc, 3, &isnull);
	r.has_old = !isnull;
	r.old_tier_rank = r.has_old ? DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull)) : 0;
	r.old_previous_tier = SPI_getbinval(tup, desc, 5, &r.old_prev_null);
	r.old_tier_since = r.has_old ? DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull)) : 0;
	row_sort_put(&p1->rows, &r);

	break_sort_put(&p1->recency, -(double) (p1->a->as_of_day - c->last_day));
	break_sort_put(&p1->frequency, (double) c->orders);
	break_sort_put(&p1->monetary, (double) c->revenue);
	if (isfinite(r.pred.churn_risk))
		cume_dist_add(p1->churn, r.pred.churn_risk);
	p1->n++;
}

/*
 * The stage joined to the current snapshot's tier columns, by the key
 * type's own equality operator (schema-qualified: the search_path is
 * pinned).  The current snapshot's key must have the stage's type.
 */
static char *
pass1_query(Oid key_type)
{
	Oid			nsp = get_namespace_oid("hvc", false);
	Oid			rel = get_relname_relid("customer_snapshot", nsp);
	AttrNumber	att;
	TypeCacheEntry *tce;
	HeapTuple	optup;
	Form_pg_operator op;
	char	   *sql;

	if (!OidIsValid(rel) || (att = get_attnum(rel, "customer_id")) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("hvc: hvc.customer_snapshot is missing"),
				 errhint("Register the source again with hvc.register_source() and refresh.")));
	if (getBaseType(get_atttype(rel, att)) != key_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("hvc: hvc.customer_snapshot.customer_id has type %s, the stage %s",
						format_type_be(get_atttype(rel, att)), format_type_be(key_type)),
				 errhint("Register the source again with hvc.register_source() and refresh.")));
	tce = lookup_type_cache(key_type, TYPECACHE_EQ_OPR);
	if (!OidIsValid(tce->eq_opr))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("customer key type %s has no equality", format_type_be(key_type))));
	optup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tce->eq_opr));
	if (!HeapTupleIsValid(optup))
		elog(ERROR, "cache lookup failed for operator %u", tce->eq_opr);
	op = (Form_pg_operator) GETSTRUCT(optup);
	sql = psprintf("SELECT s.customer_id, s.state, o.tier, o.tier_rank, o.previous_tier, o.tier_since"
				   "  FROM pg_temp._hvc_stage s"
				   "  LEFT JOIN hvc.customer_snapshot o"
				   "    ON o.customer_id OPERATOR(%s.%s) s.customer_id",
				   quote_identifier(get_namespace_name(op->oprnamespace)),
				   NameStr(op->oprname));
	ReleaseSysCache(optup);
	return sql;
}

/* pass 2: ranks, shares, tiers, scores, in value order, out */
static void
pass2(const SnapshotArgs *a, Pass1 *p1, ReturnSetInfo *rsinfo)
{
	double		rb[RFM_BREAKS],
				fb[RFM_BREAKS],
				mb[RFM_BREAKS];
#ifdef HAVE_INT128
	int128		running = 0;
#else
	double		running = 0;
#endif
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "hvc snapshot row",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext outer;
	Datum		values[SNAPSHOT_NATTS];
	bool		nulls[SNAPSHOT_NATTS];
	PassRow		r;
	Ranked		k;
	int			t = 0;

	break_sort_finish(&p1->recency, rb);
	break_sort_finish(&p1->frequency, fb);
	break_sort_finish(&p1->monetary, mb);
	cume_dist_finish(p1->churn);
	row_sort_performsort(&p1->rows);

	memset(&k, 0, sizeof(k));
	while (row_sort_next(&p1->rows, &r))
	{
		CHECK_FOR_INTERRUPTS();
		/*
		 * Shares are of the total positive value: a customer with net value
		 * <= 0 (refunds beyond purchases) adds nothing, so the cumulative
		 * share grows from 0 to 1 and never passes 1.  Exact: sums of cents.
		 */
		running += Max(r.value_cents, 0);
		k.value_rank++;
		k.cum_share = p1->total > 0 ? (double) running / (double) p1->total : NAN;
		/* the last tier whose first rank is at most this rank (ranks grow) */
		while (t + 1 < a->ntiers && DatumGetInt64(a->tier_lo[t + 1]) <= k.value_rank)
			t++;
		k.tier = t;
		k.r = rfm_score(-(double) (a->as_of_day - r.c.last_day), rb);
		k.f = rfm_score((double) r.c.orders, fb);
		k.m = rfm_score((double) r.c.revenue, mb);
		k.churn_pct = isfinite(r.pred.churn_risk) ? cume_dist_of(p1->churn, r.pred.churn_risk) : NAN;

		outer = MemoryContextSwitchTo(rowcxt);
		snapshot_row(a, &r, &k, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(outer);
		MemoryContextReset(rowcxt);
	}
	row_sort_end(&p1->rows);
	MemoryContextDelete(rowcxt);
}

Datum
hvc_build_snapshot(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			key_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	MemoryContext callcxt = CurrentMemoryContext;
	SnapshotArgs a;
	Pass1		p1;
	Stage		st;
	char	   *query;

	snapshot_args(fcinfo, &a);
	if (!OidIsValid(key_type))
		elog(ERROR, "hvc._build_snapshot: could not determine the customer key type");
	key_type = getBaseType(key_type);
	InitMaterializedSRF(fcinfo, 0);
	/* a 0.1.0 catalog's result lacks churn_percentile (the last column) */
	if (rsinfo->setDesc->natts != SNAPSHOT_NATTS - 1)
		hvc_require_columns(rsinfo->setDesc, SNAPSHOT_NATTS, "the result of hvc._build_snapshot (hvc.customer_snapshot)");

	memset(&p1, 0, sizeof(p1));
	p1.a = &a;
	p1.forecasts = forecast_cache_create(&a.ms, a.as_of_day, a.unit);
	p1.churn = cume_dist_create();
	row_sort_begin(&p1.rows, key_type);
	break_sort_begin(&p1.recency);
	break_sort_begin(&p1.frequency);
	break_sort_begin(&p1.monetary);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "hvc: SPI_connect failed");
	/* everything that outlives SPI_finish lives in callcxt */
	MemoryContextSwitchTo(callcxt);
	stage_check(key_type);
	query = pass1_query(key_type);
	stage_scan(&st, query, key_type, a.as_of_day, pass1_visit, &p1);
	SPI_finish();
	MemoryContextSwitchTo(callcxt);

	pass2(&a, &p1, rsinfo);
	return (Datum) 0;
}
