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
#include "nodes/makefuncs.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "amount.h"
#include "citus_predict.h"
#include "retention.h"
#include "row_writer.h"
#include "snapshot.h"
#include "version_guard.h"

PG_FUNCTION_INFO_V1(hvc_build_snapshot);
PG_FUNCTION_INFO_V1(hvc_snapshot_stats);
PG_FUNCTION_INFO_V1(hvc_write_snapshot);
PG_FUNCTION_INFO_V1(hvc_set_snapshot_stats);

/* the statistics of this backend's last build, for hvc._snapshot_stats */
static SnapshotStats last_stats;

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
	bool		precomputed;	/* column 9: pg_temp._hvc_predictions */
	CohortCounts *cohorts;		/* for hvc.cohort_retention */
} Pass1;

/*
 * The value a customer is ranked by, in cents (as shown: rounded to cents);
 * score is the customer's score in points (column 7 of the pass 1 query).
 */
int64
snapshot_value_cents(const SnapshotArgs *a, const StageCustomer *c, const Prediction *p, double score)
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
		case BASIS_SCORE:
			return isfinite(score) && fabs(score) < 1e15 ? (int64) llround(score * 100.0) : 0;
	}
	return 0;					/* keep the compiler quiet */
}

/*
 * pass 1, per customer: columns 3-6 and 8 (ctid) of the query are the old
 * snapshot's, 7 the score, 9 (when precomputed) the prediction
 */
static void
pass1_visit(void *arg, const StageCustomer *c, TupleTableSlot *slot)
{
	Pass1	   *p1 = arg;
	PassRow		r;
	bool		isnull,
				score_null;
	Datum		score = slot_getattr(slot, 7, &score_null);

	r.c = *c;					/* (row_sort_put does not keep c.state) */
	cohort_counts_add(p1->cohorts, c->state);
	/*
	 * computed on the Citus workers (citus_predict.c), or here: then the
	 * cache counts the churn risk (forecast_cache_count_churn)
	 */
	r.churn_slot = -1;
	if (p1->precomputed && !slot_attisnull(slot, 9))
	{
		prediction_from_array(DatumGetArrayTypeP(slot_getattr(slot, 9, &isnull)), &r.pred);
		if (isfinite(r.pred.churn_risk))
			cume_dist_add(p1->churn, r.pred.churn_risk);
	}
	else
		forecast_predict_slot(p1->forecasts, c, &r.pred, &r.churn_slot);
	if (p1->a->basis == BASIS_SCORE && score_null)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hvc: no value score for a customer of the stage"),
				 errhint("hvc.refresh() computes pg_temp._hvc_score (hvc._score_prepare) before the build; do not call hvc._build_snapshot directly.")));
	r.value_cents = snapshot_value_cents(p1->a, c, &r.pred, score_null ? NAN : DatumGetFloat8(score));
	p1->total += Max(r.value_cents, 0);
	r.old_tier = slot_getattr(slot, 3, &isnull);
	r.has_old = !isnull;
	r.old_tier_rank = r.has_old ? DatumGetInt32(slot_getattr(slot, 4, &isnull)) : 0;
	r.old_previous_tier = slot_getattr(slot, 5, &r.old_prev_null);
	r.old_tier_since = r.has_old ? DatumGetTimestampTz(slot_getattr(slot, 6, &isnull)) : 0;
	ItemPointerSetInvalid(&r.old_tid);
	if (r.has_old)
	{
		Datum		tid = slot_getattr(slot, 8, &isnull);

		/* (no ctid when the rows are on the Citus workers: a view) */
		if (!isnull)
			ItemPointerCopy((ItemPointer) DatumGetPointer(tid), &r.old_tid);
	}
	row_sort_put(&p1->rows, &r);

	break_sort_put(&p1->recency, -(double) (p1->a->as_of_day - c->last_day));
	break_sort_put(&p1->frequency, (double) c->orders);
	break_sort_put(&p1->monetary, (double) c->revenue);
	p1->n++;
}

/*
 * The stage joined to the current snapshot's tier columns and, for the
 * basis score, to the scores (pg_temp._hvc_score, 74_score.sql), by the key
 * type's own equality operator (schema-qualified: the search_path is
 * pinned).  The current snapshot's key must have the stage's type.
 */
static char *
pass1_query(Oid key_type, bool score, bool predictions)
{
	Oid			nsp = get_namespace_oid("hvc", false);
	Oid			rel = get_relname_relid("customer_snapshot", nsp);
	AttrNumber	att;
	TypeCacheEntry *tce;
	HeapTuple	optup;
	Form_pg_operator op;
	char	   *opname;
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
	opname = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	sql = psprintf("SELECT s.customer_id, s.state, o.tier, o.tier_rank, o.previous_tier, o.tier_since, %s, %s%s"
				   "  FROM pg_temp._hvc_stage s"
				   "  LEFT JOIN hvc.customer_snapshot o"
				   "    ON o.customer_id %s s.customer_id%s%s",
				   score ? "sc.score" : "NULL::pg_catalog.float8",
				   get_rel_relkind(rel) == RELKIND_VIEW ? "NULL::pg_catalog.tid" : "o.ctid",
				   predictions ? ", pr.prediction" : "", opname,
				   score ? psprintf("  LEFT JOIN pg_temp._hvc_score sc ON sc.customer_id %s s.customer_id",
									opname) : "",
				   predictions ? psprintf("  LEFT JOIN pg_temp._hvc_predictions pr ON pr.customer_id %s s.customer_id",
										  opname) : "");
	ReleaseSysCache(optup);
	return sql;
}

/*
 * A numeric as numeric_float8 gives it (the nearest double to the decimal):
 * decoded to units of 1/10000 (amount.c) and divided, which rounds the same
 * way while the units are exact in a double; numeric_float8 otherwise.
 */
double
snapshot_numeric_float8(Datum num)
{
	int64		units;

	if (amount_from_datum(num, AMOUNT_NUMERIC, &units) == AMOUNT_OK &&
		units > -(INT64CONST(1) << 53) && units < (INT64CONST(1) << 53))
		return (double) units / (double) HVC_AMOUNT_SCALE;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, num));
}

/* the statistics emptied, no build finished yet (what they held freed) */
static void
stats_reset(SnapshotStats *st)
{
	if (st->cohorts != NULL)
		pfree(st->cohorts);
	while (st->ndrop_ids > 0)
		pfree(DatumGetPointer(st->drop_ids[--st->ndrop_ids]));
	memset(st, 0, sizeof(*st));
	st->refresh_id = -1;
	st->max_tenure_days = -1;
}

/*
 * One more tier drop of the alert (pass 2 sees them in value order: the
 * first DROP_SAMPLES are the most valuable), its key kept as jsonb
 */
static void
count_drop(SnapshotStats *st, Datum key, Oid key_type)
{
	MemoryContext outer;
	Datum		j;

	st->drops++;
	if (st->ndrop_ids >= DROP_SAMPLES)
		return;
	j = history_key_jsonb(key, key_type);
	outer = MemoryContextSwitchTo(TopMemoryContext);
	st->drop_ids[st->ndrop_ids++] = datumCopy(j, false, -1);
	MemoryContextSwitchTo(outer);
}

/*
 * pass 2: ranks, shares, tiers, scores, in value order, out to sink; the
 * tier moves into history when given
 */
static void
pass2(const SnapshotArgs *a, Pass1 *p1, snapshot_sink_fn sink, void *sink_arg, RowWriter *history)
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
	bool		moved;
	ParetoCurve pareto;
	BreakSort	tickets,
				gaps;
	SnapshotStats *st = &last_stats;
	double		p80 = 0.8,
				p50 = 0.5;
	double	   *slot_pct;

	stats_reset(st);
	outer = MemoryContextSwitchTo(TopMemoryContext);
	st->cohorts = cohort_counts_bytes(p1->cohorts);
	MemoryContextSwitchTo(outer);
	/* the value rank of the top 1..100 percent (hvc.pareto_curve) */
	pareto_begin(&pareto, p1->n, st->pareto, st->pareto_null);
	break_sort_begin(&tickets);
	break_sort_begin(&gaps);
	break_sort_finish(&p1->recency, rb);
	break_sort_finish(&p1->frequency, fb);
	break_sort_finish(&p1->monetary, mb);
	cume_dist_finish(p1->churn);
	slot_pct = forecast_cache_churn_percentiles(p1->forecasts, p1->churn);
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
		/* (ranks grow: from the tier of the rank before) */
		t = snapshot_tier_of_rank(a, k.value_rank, t);
		k.tier = t;
		k.r = rfm_score(-(double) (a->as_of_day - r.c.last_day), rb);
		k.f = rfm_score((double) r.c.orders, fb);
		k.m = rfm_score((double) r.c.revenue, mb);
		if (!isfinite(r.pred.churn_risk))
			k.churn_pct = NAN;
		else if (slot_pct != NULL && r.churn_slot >= 0)
			k.churn_pct = slot_pct[r.churn_slot];
		else					/* no slot (Citus workers' predictions) or a refilled cache */
			k.churn_pct = cume_dist_of(p1->churn, r.pred.churn_risk);

		outer = MemoryContextSwitchTo(rowcxt);
		snapshot_row(a, &r, &k, values, nulls);
		moved = snapshot_row_moved(a, values);
		/* the new row replaces the old in place (tier moves included) */
		sink(sink_arg, values, nulls,
			 snapshot_replaces_old(a, &r, values) ? &r.old_tid : NULL);
		if (moved && history != NULL && history_put_move(history, a, &r, values, nulls))
			count_drop(st, values[0], p1->rows.key_type);
		/* what the statements after the build would otherwise scan for */
		if (!nulls[8])
			break_sort_put(&tickets, snapshot_numeric_float8(values[8]));
		if (!nulls[11])
			break_sort_put(&gaps, DatumGetFloat8(values[11]));
		if (!nulls[9])
			st->max_tenure_days = Max(st->max_tenure_days, DatumGetInt32(values[9]));
		MemoryContextSwitchTo(outer);
		MemoryContextReset(rowcxt);
		if (moved)
			st->moved++;
		if (!(moved && nulls[34]))
			st->kept++;
		if (DatumGetBool(values[33]))
			st->high_value++;	/* (is_high_value: hvc.at_risk's share) */
		pareto_put(&pareto, k.value_rank, k.cum_share);
	}
	row_sort_end(&p1->rows);
	MemoryContextDelete(rowcxt);
	st->has_premium = break_sort_percentiles(&tickets, &p80, 1, &st->premium_ticket_from);
	st->has_median_gap = break_sort_percentiles(&gaps, &p50, 1, &st->median_repeat_gap);
	st->customers = k.value_rank;
	st->refresh_id = a->refresh_id;
}

/*
 * hvc._snapshot_stats(refresh_id bigint, OUT customers bigint, OUT moved
 * bigint, OUT kept bigint, OUT premium_ticket_from float8,
 * OUT median_repeat_gap_days float8, OUT pareto float8[], OUT replaced
 * bigint, OUT cohorts bytea, OUT max_tenure_days integer, OUT drops bigint,
 * OUT drop_ids jsonb[], OUT table_was_empty boolean, OUT high_value_customers
 * bigint): what the last hvc._build_snapshot of this backend computed for
 * that refresh.
 */
Datum
hvc_snapshot_stats(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	SnapshotStats *st = &last_stats;
	TupleDesc	desc;
	Datum		values[13];
	bool		nulls[13] = {false, false, false, false, false, false, false, false, false, false, false, false, false};
	Datum		shares[PARETO_POINTS];
	int			dims[1] = {PARETO_POINTS};
	int			lbs[1] = {1};
	int			i;

	if (st->refresh_id != id || id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hvc: this session built no snapshot for refresh " INT64_FORMAT, id),
				 errhint("hvc.refresh() calls hvc._snapshot_stats right after hvc._build_snapshot; do not call it directly.")));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "hvc._snapshot_stats must return a record");
	desc = BlessTupleDesc(desc);
	values[0] = Int64GetDatum(st->customers);
	values[1] = Int64GetDatum(st->moved);
	values[2] = Int64GetDatum(st->kept);
	values[3] = Float8GetDatum(st->premium_ticket_from);
	nulls[3] = !st->has_premium;
	values[4] = Float8GetDatum(st->median_repeat_gap);
	nulls[4] = !st->has_median_gap;
	for (i = 0; i < PARETO_POINTS; i++)
		shares[i] = Float8GetDatum(st->pareto[i]);
	if (st->customers > 0)
		values[5] = PointerGetDatum(construct_md_array(shares, st->pareto_null, 1, dims, lbs,
													   FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
													   TYPALIGN_DOUBLE));
	else
		nulls[5] = true;
	values[6] = Int64GetDatum(st->replaced);
	values[7] = PointerGetDatum(st->cohorts);
	values[8] = Int32GetDatum(st->max_tenure_days);
	nulls[8] = st->max_tenure_days < 0;
	values[9] = Int64GetDatum(st->drops);
	values[10] = PointerGetDatum(construct_array(st->drop_ids, st->ndrop_ids, JSONBOID,
												 -1, false, TYPALIGN_INT));
	values[11] = BoolGetDatum(st->table_was_empty);
	values[12] = Int64GetDatum(st->high_value);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * Pass 1 and pass 2 of one build (see snapshot.h): the rows go to sink.
 * The pass 1 join is a hash join whatever the statistics say: a merge join
 * would sort the stage, states and all (a fast-start plan the planner
 * picks when the snapshot has no statistics yet); nested loops are off too.
 */
static void
build(FunctionCallInfo fcinfo, snapshot_sink_fn sink, void *sink_arg)
{
	Oid			key_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	MemoryContext callcxt = CurrentMemoryContext;
	SnapshotArgs a;
	Pass1		p1;
	Stage		st;
	char	   *query;
	int			gucs;

	snapshot_args(fcinfo, &a);
	if (!OidIsValid(key_type))
		elog(ERROR, "hvc._build_snapshot: could not determine the customer key type");
	key_type = getBaseType(key_type);

	memset(&p1, 0, sizeof(p1));
	p1.a = &a;
	p1.forecasts = forecast_cache_create(&a.ms, a.as_of_day, a.unit);
	p1.churn = cume_dist_create();
	forecast_cache_count_churn(p1.forecasts, p1.churn);
	p1.cohorts = cohort_counts_create(callcxt);
	row_sort_begin(&p1.rows, key_type);
	break_sort_begin(&p1.recency);
	break_sort_begin(&p1.frequency);
	break_sort_begin(&p1.monetary);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "hvc: SPI_connect failed");
	/* everything that outlives SPI_finish lives in callcxt */
	MemoryContextSwitchTo(callcxt);
	stage_check(key_type);
	/* the predictions of the Citus workers (96_citus_refresh.sql), when there */
	p1.precomputed = a.ms.usable &&
		OidIsValid(RangeVarGetRelid(makeRangeVar("pg_temp", "_hvc_predictions", -1), NoLock, true));
	query = pass1_query(key_type, a.basis == BASIS_SCORE, p1.precomputed);
	gucs = NewGUCNestLevel();
	(void) set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_nestloop", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/*
	 * The old snapshot's side of the join may be read by parallel workers
	 * (a Gather under the hash, the stage being this session's temporary
	 * table): they take its rows apart, about 0.2 s of 500 000 rows of 38
	 * columns, and hand on only the six columns the join needs.  At the
	 * default cost of a tuple through a Gather the planner never picks it.
	 */
	(void) set_config_option("parallel_tuple_cost", "0.001", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	stage_scan_parallel(&st, query, key_type, a.as_of_day, pass1_visit, &p1);
	forecast_cache_flush_churn(p1.forecasts);
	AtEOXact_GUC(true, gucs);
	SPI_finish();
	MemoryContextSwitchTo(callcxt);

	if (a.record_moves)
	{
		RowWriter	history;

		history_writer_open(&history, key_type);
		pass2(&a, &p1, sink, sink_arg, &history);
		(void) row_writer_close(&history);
	}
	else
		pass2(&a, &p1, sink, sink_arg, NULL);
}

typedef struct ResultSink
{
	ReturnSetInfo *rsinfo;
} ResultSink;

static void
result_sink(void *arg, const Datum *values, const bool *nulls, ItemPointer replace)
{
	ResultSink *rs = arg;

	tuplestore_putvalues(rs->rsinfo->setResult, rs->rsinfo->setDesc,
						 (Datum *) values, (bool *) nulls);
}

Datum
hvc_build_snapshot(PG_FUNCTION_ARGS)
{
	ResultSink	rs;

	rs.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	InitMaterializedSRF(fcinfo, 0);
	/* a 0.1.0 catalog's result lacks churn_percentile (the last column) */
	if (rs.rsinfo->setDesc->natts != SNAPSHOT_NATTS - 1)
		hvc_require_columns(rs.rsinfo->setDesc, SNAPSHOT_NATTS, "the result of hvc._build_snapshot (hvc.customer_snapshot)");
	build(fcinfo, result_sink, &rs);
	return (Datum) 0;
}

static void
writer_sink(void *arg, const Datum *values, const bool *nulls, ItemPointer replace)
{
	row_writer_put(arg, values, nulls, replace);
}

/*
 * hvc._write_snapshot(the arguments of hvc._build_snapshot) RETURNS bigint:
 * builds the same rows and writes them into hvc.customer_snapshot itself
 * (snapshot_write.c); the rows written.
 */
Datum
hvc_write_snapshot(PG_FUNCTION_ARGS)
{
	Oid			key_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	RowWriter  *w = palloc(sizeof(RowWriter));
	int64		written;
	bool		was_empty;

	if (!OidIsValid(key_type))
		elog(ERROR, "hvc._write_snapshot: could not determine the customer key type");
	snapshot_writer_open(w, getBaseType(key_type));
	/* no pages: no row of an earlier snapshot for the swap to delete */
	was_empty = RelationGetNumberOfBlocks(w->rel) == 0;
	build(fcinfo, writer_sink, w);
	written = row_writer_close(w);
	last_stats.replaced = w->updated;
	last_stats.table_was_empty = was_empty;
	PG_RETURN_INT64(written);
}

/*
 * hvc._set_snapshot_stats(refresh_id, customers, moved, kept,
 * premium_ticket_from, median_repeat_gap_days, pareto float8[], cohorts
 * bytea, max_tenure_days, drops, drop_ids jsonb[], high_value_customers):
 * what hvc._snapshot_stats returns after a snapshot built on the Citus
 * workers (97_citus_snapshot.sql).
 */
Datum
hvc_set_snapshot_stats(PG_FUNCTION_ARGS)
{
	SnapshotStats *st = &last_stats;
	MemoryContext outer;
	int			i;

	for (i = 0; i < 12; i++)
		if (PG_ARGISNULL(i) && i != 4 && i != 5 && i != 6 && i != 8)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("hvc._set_snapshot_stats: argument %d must not be NULL", i + 1)));
	stats_reset(st);
	st->customers = PG_GETARG_INT64(1);
	st->moved = PG_GETARG_INT64(2);
	st->kept = PG_GETARG_INT64(3);
	st->has_premium = !PG_ARGISNULL(4);
	st->premium_ticket_from = st->has_premium ? PG_GETARG_FLOAT8(4) : 0;
	st->has_median_gap = !PG_ARGISNULL(5);
	st->median_repeat_gap = st->has_median_gap ? PG_GETARG_FLOAT8(5) : 0;
	memset(st->pareto_null, true, sizeof(st->pareto_null));
	if (!PG_ARGISNULL(6))
	{
		ArrayType  *a = PG_GETARG_ARRAYTYPE_P(6);
		Datum	   *d;
		bool	   *n;
		int			k;

		if (ARR_ELEMTYPE(a) != FLOAT8OID || ARR_NDIM(a) != 1)
			elog(ERROR, "hvc._set_snapshot_stats: pareto must be a float8[]");
		deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &d, &n, &k);
		if (k != PARETO_POINTS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hvc._set_snapshot_stats: pareto must have %d points", PARETO_POINTS)));
		for (i = 0; i < PARETO_POINTS; i++)
		{
			st->pareto_null[i] = n[i];
			st->pareto[i] = n[i] ? 0 : DatumGetFloat8(d[i]);
		}
	}
	st->max_tenure_days = PG_ARGISNULL(8) ? -1 : PG_GETARG_INT32(8);
	st->drops = PG_GETARG_INT64(9);
	st->high_value = PG_GETARG_INT64(11);
	if (st->customers < 0 || st->high_value < 0 || st->high_value > st->customers)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc._set_snapshot_stats: " INT64_FORMAT " high-value customers of " INT64_FORMAT,
						st->high_value, st->customers)));
	outer = MemoryContextSwitchTo(TopMemoryContext);
	st->cohorts = (bytea *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(7));
	{
		ArrayType  *a = PG_GETARG_ARRAYTYPE_P(10);
		Datum	   *d;
		bool	   *n;
		int			k;

		if (ARR_ELEMTYPE(a) != JSONBOID || ARR_NDIM(a) > 1)
			elog(ERROR, "hvc._set_snapshot_stats: drop_ids must be a jsonb[]");
		deconstruct_array(a, JSONBOID, -1, false, TYPALIGN_INT, &d, &n, &k);
		for (i = 0; i < k && st->ndrop_ids < DROP_SAMPLES; i++)
			if (!n[i])
				st->drop_ids[st->ndrop_ids++] = datumCopy(d[i], false, -1);
	}
	MemoryContextSwitchTo(outer);
	st->refresh_id = PG_GETARG_INT64(0);
	PG_RETURN_VOID();
}
