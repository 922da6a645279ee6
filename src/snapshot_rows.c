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

/*
 * The columns of the sorted row: the two sort keys, the rest of the PassRow
 * packed into one binary column (pack_row), and the two text Datums of the
 * old row.  Five columns instead of one per field: forming and deforming
 * the sort's tuples is most of its cost; beyond work_mem the rows spill, so
 * the packed form keeps only what pass 2 reads, without padding, Datums or
 * predictions a model did not make (about 90 bytes with model none, 144
 * with a model and its forecast slot, against 216 for the struct).
 */
enum
{
	R_NEG_VALUE = 1, R_KEY, R_PACKED, R_OLD_TIER, R_OLD_PREV,
	R_NATTS = R_OLD_PREV
};

/* the flags byte of a packed row */
#define PACK_HAS_MARGIN		0x01
#define PACK_HAS_OLD		0x02
#define PACK_OLD_PREV_NULL	0x04
#define PACK_NO_PREDICTION	0x08	/* every prediction NaN (none made) */
#define PACK_HAS_INSTANTS	0x10	/* the first and last purchase instants follow */

/* the largest packed row: flags, 7 eight-byte and 4 four-byte fields of
 * the customer, its 2 instants, the prediction and its forecast slot, the
 * old row's rank, time and ctid */
#define PACKED_MAX	(1 + 7 * 8 + 4 * 4 + 2 * 8 + sizeof(Prediction) + 4 + 4 + 8 + sizeof(ItemPointerData))

typedef struct PackedRow
{
	int32		vl_len_;
	char		data[PACKED_MAX];
} PackedRow;

static inline char *
put_bytes(char *p, const void *v, size_t n)
{
	memcpy(p, v, n);
	return p + n;
}

static inline const char *
get_bytes(const char *p, void *v, size_t n)
{
	memcpy(v, p, n);
	return p + n;
}

static bool
prediction_made(const Prediction *pred)
{
	return !(isnan(pred->p_alive) && isnan(pred->churn_risk) && isnan(pred->predicted_orders) &&
			 isnan(pred->expected_order_value) && isnan(pred->predicted_clv) &&
			 isnan(pred->next_order_in));
}

/* r without its Datums (columns of their own) and value (the sort key) */
static Size
pack_row(const PassRow *r, char *out)
{
	char	   *p = out + 1;
	uint8		flags = 0;

	if (r->c.has_margin)
		flags |= PACK_HAS_MARGIN;
	p = put_bytes(p, &r->c.orders, 8);
	p = put_bytes(p, &r->c.refunds, 8);
	p = put_bytes(p, &r->c.revenue, 8);
	p = put_bytes(p, &r->c.margin, 8);
	p = put_bytes(p, &r->c.first_at, 8);
	p = put_bytes(p, &r->c.last_at, 8);
	p = put_bytes(p, &r->c.monetary, 8);
	p = put_bytes(p, &r->c.first_day, 4);
	p = put_bytes(p, &r->c.last_day, 4);
	p = put_bytes(p, &r->c.purchase_days, 4);
	p = put_bytes(p, &r->c.frequency, 4);
	if (r->c.has_instants)
	{
		flags |= PACK_HAS_INSTANTS;
		p = put_bytes(p, &r->c.first_ts, 8);
		p = put_bytes(p, &r->c.last_ts, 8);
	}
	if (prediction_made(&r->pred))
	{
		p = put_bytes(p, &r->pred, sizeof(Prediction));
		p = put_bytes(p, &r->churn_slot, 4);
	}
	else
		flags |= PACK_NO_PREDICTION;
	if (r->has_old)
	{
		flags |= PACK_HAS_OLD | (r->old_prev_null ? PACK_OLD_PREV_NULL : 0);
		p = put_bytes(p, &r->old_tier_rank, 4);
		p = put_bytes(p, &r->old_tier_since, 8);
		p = put_bytes(p, &r->old_tid, sizeof(ItemPointerData));
	}
	out[0] = (char) flags;
	return p - out;
}

static void
unpack_row(const char *in, Size len, PassRow *r)
{
	const char *p = in + 1;
	uint8		flags;

	if (len < 1 + 7 * 8 + 4 * 4)
		elog(ERROR, "hvc: a sorted snapshot row has %zu bytes", (size_t) len);
	flags = (uint8) in[0];
	memset(r, 0, sizeof(*r));
	r->c.has_margin = (flags & PACK_HAS_MARGIN) != 0;
	p = get_bytes(p, &r->c.orders, 8);
	p = get_bytes(p, &r->c.refunds, 8);
	p = get_bytes(p, &r->c.revenue, 8);
	p = get_bytes(p, &r->c.margin, 8);
	p = get_bytes(p, &r->c.first_at, 8);
	p = get_bytes(p, &r->c.last_at, 8);
	p = get_bytes(p, &r->c.monetary, 8);
	p = get_bytes(p, &r->c.first_day, 4);
	p = get_bytes(p, &r->c.last_day, 4);
	p = get_bytes(p, &r->c.purchase_days, 4);
	p = get_bytes(p, &r->c.frequency, 4);
	r->c.has_instants = (flags & PACK_HAS_INSTANTS) != 0;
	if (r->c.has_instants)
	{
		p = get_bytes(p, &r->c.first_ts, 8);
		p = get_bytes(p, &r->c.last_ts, 8);
	}
	if (flags & PACK_NO_PREDICTION)
	{
		r->pred.p_alive = r->pred.churn_risk = r->pred.predicted_orders =
			r->pred.expected_order_value = r->pred.predicted_clv = r->pred.next_order_in = NAN;
		r->churn_slot = -1;
	}
	else
	{
		p = get_bytes(p, &r->pred, sizeof(Prediction));
		p = get_bytes(p, &r->churn_slot, 4);
	}
	r->has_old = (flags & PACK_HAS_OLD) != 0;
	r->old_prev_null = (flags & PACK_OLD_PREV_NULL) != 0;
	if (r->has_old)
	{
		p = get_bytes(p, &r->old_tier_rank, 4);
		p = get_bytes(p, &r->old_tier_since, 8);
		p = get_bytes(p, &r->old_tid, sizeof(ItemPointerData));
	}
	else
		ItemPointerSetInvalid(&r->old_tid);
	if ((Size) (p - in) != len)
		elog(ERROR, "hvc: a sorted snapshot row has %zu bytes, not %zu",
			 (size_t) len, (size_t) (p - in));
}

void
value_order_keys(Oid key_type, Oid ops[2], Oid colls[2])
{
	TypeCacheEntry *tce = lookup_type_cache(key_type, TYPECACHE_LT_OPR);

	if (!OidIsValid(tce->lt_opr))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("customer key type %s has no ordering", format_type_be(key_type))));
	ops[0] = Int8LessOperator;
	colls[0] = InvalidOid;
	ops[1] = tce->lt_opr;
	/* C collation for text keys: fast and total (ties of value in key order) */
	colls[1] = type_is_collatable(key_type) ? C_COLLATION_OID : InvalidOid;
}

void
row_sort_begin(RowSort *rs, Oid key_type)
{
	AttrNumber	cols[2] = {R_NEG_VALUE, R_KEY};
	Oid			ops[2];
	Oid			colls[2];
	bool		nulls_first[2] = {false, false};

	value_order_keys(key_type, ops, colls);
	rs->key_type = key_type;
	rs->desc = CreateTemplateTupleDesc(R_NATTS);
	TupleDescInitEntry(rs->desc, R_NEG_VALUE, NULL, INT8OID, -1, 0);
	TupleDescInitEntry(rs->desc, R_KEY, NULL, key_type, -1, 0);
	TupleDescInitEntry(rs->desc, R_PACKED, NULL, BYTEAOID, -1, 0);
	TupleDescInitEntry(rs->desc, R_OLD_TIER, NULL, TEXTOID, -1, 0);
	TupleDescInitEntry(rs->desc, R_OLD_PREV, NULL, TEXTOID, -1, 0);
	rs->sort = tuplesort_begin_heap(rs->desc, 2, cols, ops, colls, nulls_first,
									work_mem, NULL, TUPLESORT_NONE);
	rs->slot = MakeSingleTupleTableSlot(rs->desc, &TTSOpsMinimalTuple);
	rs->in = MakeSingleTupleTableSlot(rs->desc, &TTSOpsVirtual);
	rs->packed = palloc0(sizeof(PackedRow));
}

void
row_sort_put(RowSort *rs, const PassRow *r)
{
	Datum	   *v = rs->in->tts_values;
	bool	   *n = rs->in->tts_isnull;
	PackedRow  *packed = rs->packed;

	ExecClearTuple(rs->in);
	SET_VARSIZE(packed, VARHDRSZ + pack_row(r, packed->data));
	v[R_NEG_VALUE - 1] = Int64GetDatum(-r->value_cents);
	n[R_NEG_VALUE - 1] = false;
	v[R_KEY - 1] = r->c.customer;
	n[R_KEY - 1] = false;
	v[R_PACKED - 1] = PointerGetDatum(packed);
	n[R_PACKED - 1] = false;
	v[R_OLD_TIER - 1] = r->old_tier;
	n[R_OLD_TIER - 1] = !r->has_old;
	v[R_OLD_PREV - 1] = r->old_previous_tier;
	n[R_OLD_PREV - 1] = !r->has_old || r->old_prev_null;
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
	bytea	   *packed;

	if (!tuplesort_gettupleslot(rs->sort, true, false, rs->slot, NULL))
		return false;
	slot_getallattrs(rs->slot);
	v = rs->slot->tts_values;
	n = rs->slot->tts_isnull;
	packed = DatumGetByteaPP(v[R_PACKED - 1]);
	unpack_row(VARDATA_ANY(packed), VARSIZE_ANY_EXHDR(packed), r);
	r->value_cents = -DatumGetInt64(v[R_NEG_VALUE - 1]);
	/* the Datums, valid until the next call */
	r->c.customer = v[R_KEY - 1];
	r->old_tier = n[R_OLD_TIER - 1] ? (Datum) 0 : v[R_OLD_TIER - 1];
	r->old_previous_tier = n[R_OLD_PREV - 1] ? (Datum) 0 : v[R_OLD_PREV - 1];
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

/* the index of the current tier named name (a text Datum), or -1 */
static int
tier_index(const SnapshotArgs *a, Datum name)
{
	int			u;

	for (u = 0; u < a->ntiers; u++)
		if (text_datums_equal(name, a->tier_names[u]))
			return u;
	return -1;
}

/* whether name (a text Datum) is one of the current tiers' names */
static bool
tier_named(const SnapshotArgs *a, Datum name)
{
	return tier_index(a, name) >= 0;
}

/*
 * Whether a customer whose old row is in r stays in tier t: the same tier
 * name, or a renamed tier — the old name is no longer a tier and the rank is
 * the same (renaming tiers in hvc.tier_rules is not a move).
 */
static bool
same_tier(const SnapshotArgs *a, const PassRow *r, int t)
{
	if (text_datums_equal(r->old_tier, a->tier_names[t]))
		return true;
	if (r->old_tier_rank != DatumGetInt32(a->tier_ranks[t]))
		return false;
	return !tier_named(a, r->old_tier);
}

int32
snapshot_old_tier_rank(const SnapshotArgs *a, const PassRow *r)
{
	int			u = tier_index(a, r->old_tier);

	return u >= 0 ? DatumGetInt32(a->tier_ranks[u]) : r->old_tier_rank;
}

int
snapshot_tier_of_rank(const SnapshotArgs *a, int64 rank, int from)
{
	int			t = from;

	while (t + 1 < a->ntiers && DatumGetInt64(a->tier_lo[t + 1]) <= rank)
		t++;
	return t;
}

bool
snapshot_old_tier_high(const SnapshotArgs *a, const PassRow *r)
{
	int			u = tier_index(a, r->old_tier);

	return u >= 0 && DatumGetBool(a->tier_high[u]);
}

bool
snapshot_row_moved(const SnapshotArgs *a, const Datum *values)
{
	return DatumGetTimestampTz(values[35]) == a->refreshed;
}

/*
 * Whether the output row of a customer with an old row replaces it in place
 * (hvc._write_snapshot updates it): a customer who stays in the tier, and one
 * who moves out of a tier that still exists under its name.  A move out of a
 * tier renamed or dropped since keeps its old row until the swap's DELETE
 * (the history takes the rank that tier had from pass 1's copy of it,
 * snapshot_old_tier_rank).
 */
bool
snapshot_replaces_old(const SnapshotArgs *a, const PassRow *r, const Datum *values)
{
	if (!r->has_old)
		return false;
	return !snapshot_row_moved(a, values) || tier_named(a, r->old_tier);
}

void
snapshot_row(const SnapshotArgs *a, const PassRow *r, const Ranked *k, Datum *values, bool *nulls)
{
	const StageCustomer *c = &r->c;
	const Prediction *p = &r->pred;
	int64		historic = a->has_margin ? (c->has_margin ? c->margin : 0) : c->revenue;
	DateADT		as_of_day = a->as_of_day;
	int			t = k->tier;

	memset(nulls, false, SNAPSHOT_NATTS * sizeof(bool));
	values[0] = c->customer;
	/* the instants when known (a local time of a repeated hour is two) */
	values[1] = TimestampTzGetDatum(c->has_instants ? c->first_ts : local_to_timestamptz(c->first_at, a->tz));
	values[2] = TimestampTzGetDatum(c->has_instants ? c->last_ts : local_to_timestamptz(c->last_at, a->tz));
	values[3] = Int64GetDatum(c->orders);
	values[4] = Int32GetDatum(c->purchase_days);
	values[5] = Int64GetDatum(c->refunds);
	values[6] = amount_to_cents_numeric(c->revenue);
	if (a->has_margin && c->has_margin)
		values[7] = amount_to_cents_numeric(c->margin);
	else
		nulls[7] = true;
	values[8] = amount_mean_cents_numeric(c->revenue, c->orders);
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
	values[19] = a->cells[rfm_cell_index(k->r, k->f, k->m)];
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
