/*
 * snapshot_rows.c — the row of hvc._build_snapshot between its two passes
 * (a tuplesort by value, descending, then customer key in C collation) and
 * the output row, every column of hvc.customer_snapshot (see snapshot.h).
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "amount.h"
#include "local_time.h"
#include "snapshot.h"

/* the columns of the sorted row */
enum
{
	R_NEG_VALUE = 1, R_KEY, R_FIRST_AT, R_LAST_AT, R_ORDERS, R_REFUNDS, R_REVENUE,
	R_MARGIN, R_HAS_MARGIN, R_FIRST_DAY, R_LAST_DAY, R_PURCHASE_DAYS, R_FREQUENCY,
	R_MONETARY, R_P_ALIVE, R_CHURN, R_PRED_ORDERS, R_EOV, R_CLV, R_NEXT_IN,
	R_OLD_TIER, R_OLD_TIER_RANK, R_OLD_PREV, R_OLD_SINCE, R_OLD_TID,
	R_NATTS = R_OLD_TID
};

static const Oid row_types[R_NATTS] = {
	INT8OID, InvalidOid, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
	INT8OID, BOOLOID, INT4OID, INT4OID, INT4OID, INT4OID,
	FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
	TEXTOID, INT4OID, TEXTOID, TIMESTAMPTZOID, TIDOID
};

void
row_sort_begin(RowSort *rs, Oid key_type)
{
	TypeCacheEntry *tce = lookup_type_cache(key_type, TYPECACHE_LT_OPR);
	AttrNumber	cols[2] = {R_NEG_VALUE, R_KEY};
	Oid			ops[2];
	Oid			colls[2];
	bool		nulls_first[2] = {false, false};
	int			i;

	if (!OidIsValid(tce->lt_opr))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("customer key type %s has no ordering", format_type_be(key_type))));
	rs->key_type = key_type;
	rs->desc = CreateTemplateTupleDesc(R_NATTS);
	for (i = 0; i < R_NATTS; i++)
		TupleDescInitEntry(rs->desc, i + 1, NULL, i + 1 == R_KEY ? key_type : row_types[i], -1, 0);
	ops[0] = Int8LessOperator;
	colls[0] = InvalidOid;
	ops[1] = tce->lt_opr;
	/* C collation for text keys: fast and total (ties of value in key order) */
	colls[1] = type_is_collatable(key_type) ? C_COLLATION_OID : InvalidOid;
	rs->sort = tuplesort_begin_heap(rs->desc, 2, cols, ops, colls, nulls_first,
									work_mem, NULL, TUPLESORT_NONE);
	rs->slot = MakeSingleTupleTableSlot(rs->desc, &TTSOpsMinimalTuple);
	rs->in = MakeSingleTupleTableSlot(rs->desc, &TTSOpsVirtual);
}

void
row_sort_put(RowSort *rs, const PassRow *r)
{
	Datum	   *v = rs->in->tts_values;
	bool	   *n = rs->in->tts_isnull;
	const StageCustomer *c = &r->c;

	ExecClearTuple(rs->in);
	memset(n, false, R_NATTS * sizeof(bool));
	v[R_NEG_VALUE - 1] = Int64GetDatum(-r->value_cents);
	v[R_KEY - 1] = c->customer;
	v[R_FIRST_AT - 1] = Int64GetDatum(c->first_at);
	v[R_LAST_AT - 1] = Int64GetDatum(c->last_at);
	v[R_ORDERS - 1] = Int64GetDatum(c->orders);
	v[R_REFUNDS - 1] = Int64GetDatum(c->refunds);
	v[R_REVENUE - 1] = Int64GetDatum(c->revenue);
	v[R_MARGIN - 1] = Int64GetDatum(c->margin);
	v[R_HAS_MARGIN - 1] = BoolGetDatum(c->has_margin);
	v[R_FIRST_DAY - 1] = Int32GetDatum(c->first_day);
	v[R_LAST_DAY - 1] = Int32GetDatum(c->last_day);
	v[R_PURCHASE_DAYS - 1] = Int32GetDatum(c->purchase_days);
	v[R_FREQUENCY - 1] = Int32GetDatum(c->frequency);
	v[R_MONETARY - 1] = Float8GetDatum(c->monetary);
	v[R_P_ALIVE - 1] = Float8GetDatum(r->pred.p_alive);
	v[R_CHURN - 1] = Float8GetDatum(r->pred.churn_risk);
	v[R_PRED_ORDERS - 1] = Float8GetDatum(r->pred.predicted_orders);
	v[R_EOV - 1] = Float8GetDatum(r->pred.expected_order_value);
	v[R_CLV - 1] = Float8GetDatum(r->pred.predicted_clv);
	v[R_NEXT_IN - 1] = Float8GetDatum(r->pred.next_order_in);
	n[R_OLD_TIER - 1] = n[R_OLD_TIER_RANK - 1] = n[R_OLD_SINCE - 1] = !r->has_old;
	n[R_OLD_PREV - 1] = !r->has_old || r->old_prev_null;
	v[R_OLD_TIER - 1] = r->old_tier;
	v[R_OLD_TIER_RANK - 1] = Int32GetDatum(r->old_tier_rank);
	v[R_OLD_PREV - 1] = r->old_previous_tier;
	v[R_OLD_SINCE - 1] = TimestampTzGetDatum(r->old_tier_since);
	v[R_OLD_TID - 1] = PointerGetDatum(&r->old_tid);
	n[R_OLD_TID - 1] = !r->has_old;
	ExecStoreVirtualTuple(rs->in);
	tuplesort_puttupleslot(rs->sort, rs->in);
}

void
row_sort_performsort(RowSort *rs)
{
	tuplesort_performsort(rs->sort);
}

bool
row_sort_next(RowSort *rs, PassRow *r)
{
	Datum	   *v;
	bool	   *n;
	StageCustomer *c = &r->c;

	if (!tuplesort_gettupleslot(rs->sort, true, false, rs->slot, NULL))
		return false;
	slot_getallattrs(rs->slot);
	v = rs->slot->tts_values;
	n = rs->slot->tts_isnull;
	r->value_cents = -DatumGetInt64(v[R_NEG_VALUE - 1]);
	c->customer = v[R_KEY - 1];
	c->first_at = DatumGetInt64(v[R_FIRST_AT - 1]);
	c->last_at = DatumGetInt64(v[R_LAST_AT - 1]);
	c->orders = DatumGetInt64(v[R_ORDERS - 1]);
	c->refunds = DatumGetInt64(v[R_REFUNDS - 1]);
	c->revenue = DatumGetInt64(v[R_REVENUE - 1]);
	c->margin = DatumGetInt64(v[R_MARGIN - 1]);
	c->has_margin = DatumGetBool(v[R_HAS_MARGIN - 1]);
	c->first_day = DatumGetInt32(v[R_FIRST_DAY - 1]);
	c->last_day = DatumGetInt32(v[R_LAST_DAY - 1]);
	c->purchase_days = DatumGetInt32(v[R_PURCHASE_DAYS - 1]);
	c->frequency = DatumGetInt32(v[R_FREQUENCY - 1]);
	c->monetary = DatumGetFloat8(v[R_MONETARY - 1]);
	r->pred.p_alive = DatumGetFloat8(v[R_P_ALIVE - 1]);
	r->pred.churn_risk = DatumGetFloat8(v[R_CHURN - 1]);
	r->pred.predicted_orders = DatumGetFloat8(v[R_PRED_ORDERS - 1]);
	r->pred.expected_order_value = DatumGetFloat8(v[R_EOV - 1]);
	r->pred.predicted_clv = DatumGetFloat8(v[R_CLV - 1]);
	r->pred.next_order_in = DatumGetFloat8(v[R_NEXT_IN - 1]);
	r->has_old = !n[R_OLD_TIER - 1];
	r->old_tier = v[R_OLD_TIER - 1];
	r->old_tier_rank = r->has_old ? DatumGetInt32(v[R_OLD_TIER_RANK - 1]) : 0;
	r->old_prev_null = n[R_OLD_PREV - 1];
	r->old_previous_tier = v[R_OLD_PREV - 1];
	r->old_tier_since = r->has_old ? DatumGetTimestampTz(v[R_OLD_SINCE - 1]) : 0;
	if (r->has_old)
		ItemPointerCopy((ItemPointer) DatumGetPointer(v[R_OLD_TID - 1]), &r->old_tid);
	else
		ItemPointerSetInvalid(&r->old_tid);
	return true;
}

void
row_sort_end(RowSort *rs)
{
	ExecDropSingleTupleTableSlot(rs->slot);
	ExecDropSingleTupleTableSlot(rs->in);
	tuplesort_end(rs->sort);
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
 * Whether a customer whose old row is in r stays in tier t: the same tier
 * name, or a renamed tier — the old name is no longer a tier and the rank is
 * the same (renaming tiers in hvc.tier_rules is not a move).
 */
static bool
same_tier(const SnapshotArgs *a, const PassRow *r, int t)
{
	int			u;

	if (text_datums_equal(r->old_tier, a->tier_names[t]))
		return true;
	if (r->old_tier_rank != DatumGetInt32(a->tier_ranks[t]))
		return false;
	for (u = 0; u < a->ntiers; u++)
		if (text_datums_equal(r->old_tier, a->tier_names[u]))
			return false;
	return true;
}

void
snapshot_row(const SnapshotArgs *a, const PassRow *r, const Ranked *k, Datum *values, bool *nulls)
{
	const StageCustomer *c = &r->c;
	const Prediction *p = &r->pred;
	int64		historic = a->has_margin ? (c->has_margin ? c->margin : 0) : c->revenue;
	DateADT		as_of_day = a->as_of_day;
	int			t = k->tier;
	char		cell[4];

	memset(nulls, false, SNAPSHOT_NATTS * sizeof(bool));
	values[0] = c->customer;
	values[1] = TimestampTzGetDatum(local_to_timestamptz(c->first_at, a->tz));
	values[2] = TimestampTzGetDatum(local_to_timestamptz(c->last_at, a->tz));
	values[3] = Int64GetDatum(c->orders);
	values[4] = Int32GetDatum(c->purchase_days);
	values[5] = Int64GetDatum(c->refunds);
	values[6] = amount_to_cents_numeric(c->revenue);
	if (a->has_margin && c->has_margin)
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
	values[13] = Float8GetDatum((c->last_day - c->first_day) / a->unit);
	values[14] = Float8GetDatum((as_of_day - c->first_day) / a->unit);
	values[15] = Float8GetDatum(c->monetary);
	values[16] = Int32GetDatum(k->r);
	values[17] = Int32GetDatum(k->f);
	values[18] = Int32GetDatum(k->m);
	snprintf(cell, sizeof(cell), "%d%d%d", k->r, k->f, k->m);
	values[19] = CStringGetTextDatum(cell);
	values[20] = a->segments[rfm_cell_index(k->r, k->f, k->m)];
	values[21] = amount_to_cents_numeric(historic);
	nulls[22] = !isfinite(p->p_alive);
	values[22] = Float8GetDatum(p->p_alive);
	nulls[23] = !isfinite(p->churn_risk);
	values[23] = Float8GetDatum(p->churn_risk);
	nulls[24] = !isfinite(p->predicted_orders);
	values[24] = Float8GetDatum(p->predicted_orders);
	nulls[25] = !money_to_cents_numeric(p->expected_order_value, &values[25]);
	nulls[26] = !money_to_cents_numeric(p->predicted_clv, &values[26]);
	if (isfinite(p->next_order_in) && p->next_order_in * a->unit < 1e6)
		values[27] = DateADTGetDatum(as_of_day + (DateADT) llround(p->next_order_in * a->unit));
	else
		nulls[27] = true;
	values[28] = NumericGetDatum(int64_div_fast_to_numeric(r->value_cents, 2));
	values[29] = Int64GetDatum(k->value_rank);
	nulls[30] = !isfinite(k->cum_share);
	values[30] = Float8GetDatum(k->cum_share);
	values[31] = a->tier_names[t];
	values[32] = a->tier_ranks[t];
	values[33] = a->tier_high[t];
	if (!r->has_old)
	{
		nulls[34] = true;
		values[35] = TimestampTzGetDatum(a->refreshed);
	}
	else if (same_tier(a, r, t))
	{
		nulls[34] = r->old_prev_null;
		values[34] = r->old_previous_tier;
		values[35] = TimestampTzGetDatum(r->old_tier_since);
	}
	else
	{
		values[34] = r->old_tier;
		values[35] = TimestampTzGetDatum(a->refreshed);
	}
	values[36] = Int64GetDatum(a->refresh_id);
	nulls[37] = !isfinite(k->churn_pct);	/* ignored by a 0.1.0 result */
	values[37] = Float8GetDatum(k->churn_pct);
}
