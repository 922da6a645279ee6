/*
 * citus_rows.c — the per-customer steps of a snapshot built on the Citus
 * workers (96_citus_refresh.sql), row by row next to the shards:
 *
 *   hvc._citus_score(state bytea, m hvc._model_params, as_of_day date,
 *                    basis text, has_margin boolean) RETURNS hvc._citus_score
 *     what the global step (citus_globals.c) needs of a customer — the value
 *     in cents, first and last purchase day, orders, frequency, revenue, churn
 *     risk — and the predictions (citus_predict.h), which the row below reuses;
 *     NULL for a state without a purchase row.
 *
 *   hvc._citus_snapshot_row(the arguments of hvc._build_snapshot, move_reason
 *                           (NULL), customer anyelement, state bytea,
 *                           value_cents bigint, prediction float8[],
 *                           old_tier text, old_tier_rank integer,
 *                           old_previous_tier text, old_tier_since timestamptz,
 *                           shard_hash integer) RETURNS hvc._citus_snapshot_cols
 *     the customer's snapshot row, by the builder's own snapshot_row, with
 *     the value rank, share, scores and churn percentile from the globals
 *     of the refresh (the segment of the customer's shard, read once per
 *     shard's task from hvc.citus_globals of the node it runs on) and the
 *     tier from the value rank; every column but the key.
 *
 * Both keep what is the same for every row of a query (the parsed
 * arguments, the forecast cache, the opened globals) in fn_extra.
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "citus_globals.h"
#include "citus_predict.h"
#include "snapshot.h"
#include "version_guard.h"

PG_FUNCTION_INFO_V1(hvc_citus_score);
PG_FUNCTION_INFO_V1(hvc_citus_snapshot_row);

/* ---- hvc._citus_score ---- */

/* a value basis the workers rank by (not the score: it needs the coordinator's scores) */
static ValueBasis
score_basis(FunctionCallInfo fcinfo)
{
	ValueBasis	basis = snapshot_basis_of(text_to_cstring(PG_GETARG_TEXT_PP(3)));

	if (basis == BASIS_SCORE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hvc: the value basis score is not ranked on the Citus workers"),
				 errhint("hvc.refresh() builds such a snapshot on the coordinator; do not call hvc._citus_score directly.")));
	return basis;
}

Datum
hvc_citus_score(PG_FUNCTION_ARGS)
{
	bytea	   *b;
	ModelCache *mc;
	CustomerState *s;
	CustomerSummary sum;
	StageCustomer c;
	Prediction	p;
	SnapshotArgs a;
	TupleDesc	desc;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	int			i;

	for (i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("hvc._citus_score: argument %d must not be NULL", i + 1)));
	b = PG_GETARG_BYTEA_PP(0);
	memset(&a, 0, sizeof(a));
	a.basis = score_basis(fcinfo);
	a.has_margin = PG_GETARG_BOOL(4);
	mc = model_cache_get(fcinfo->flinfo, PG_GETARG_HEAPTUPLEHEADER(1), PG_GETARG_DATEADT(2));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "hvc._citus_score must return a record");
	hvc_require_columns(desc, 8, "hvc._citus_score");
	s = customer_state_deserialize(CurrentMemoryContext, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	if (s->purchase_rows == 0)
		PG_RETURN_NULL();		/* refunds only: not a customer */
	customer_state_summarize(s, &sum);
	stage_customer_fill(&c, (Datum) 0, s, &sum, mc->as_of_day);
	forecast_predict(mc->forecasts, &c, &p);
	values[0] = Int64GetDatum(snapshot_value_cents(&a, &c, &p, NAN));
	values[1] = Int32GetDatum(c.first_day);
	values[2] = Int32GetDatum(c.last_day);
	values[3] = Int64GetDatum(c.orders);
	values[4] = Int32GetDatum(c.frequency);
	values[5] = Int64GetDatum(c.revenue);
	values[6] = Float8GetDatum(p.churn_risk);
	nulls[6] = !isfinite(p.churn_risk);
	values[7] = PointerGetDatum(prediction_to_array(&p));
	desc = BlessTupleDesc(desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* ---- hvc._citus_snapshot_row ---- */

#define ROW_ARGS 13				/* hvc._build_snapshot's; then move_reason */
#define A_KEY 14
#define A_STATE 15
#define A_VALUE 16
#define A_PREDICTION 17
#define A_OLD_TIER 18
#define A_OLD_TIER_RANK 19
#define A_OLD_PREV 20
#define A_OLD_SINCE 21
#define A_SHARD_HASH 22
#define ROW_NARGS 23

typedef struct RowCache
{
	Datum		args[ROW_ARGS];	/* copies of arguments 2..13 the cache is for */
	int16		arglen[ROW_ARGS];
	bool		argbyval[ROW_ARGS];
	SnapshotArgs a;
	TupleDesc	desc;
	int16		typlen;
	bool		typbyval;
	const GlobalsHeader *h;		/* the opened segment (a copy of its own), or NULL */
	const uint32 *buckets;
	const char *entries;
} RowCache;

static void
bad_globals(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("hvc: the globals of a Citus refresh %s", msg),
			 errhint("hvc.refresh() computes them with hvc._citus_globals; do not write hvc.citus_globals by hand.")));
}

/*
 * The globals of the refresh from hvc.citus_globals of this node, copied;
 * every length, offset and field checked once.
 */
static void
globals_open(RowCache *rc, int32 shard_hash)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		args[2] = {Int64GetDatum(rc->a.refresh_id), Int32GetDatum(shard_hash)};
	bytea	   *b;
	bool		isnull;
	Size		len;
	Size		head = MAXALIGN(sizeof(GlobalsHeader));
	const GlobalsHeader *h;
	Size		off;
	int64		n = 0;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "hvc: SPI_connect failed");
	if (SPI_execute_with_args("SELECT globals FROM hvc.citus_globals"
							  " WHERE refresh_id = $1 AND $2 BETWEEN hash_min AND hash_max",
							  2, argtypes, args, NULL, true, 2) != SPI_OK_SELECT)
		elog(ERROR, "hvc: reading hvc.citus_globals failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hvc: no globals of refresh " INT64_FORMAT " for shard hash %d on this node",
						rc->a.refresh_id, shard_hash),
				 errhint("hvc.refresh() sends them to every worker before it writes the rows; do not call hvc._citus_snapshot_row directly.")));
	b = (bytea *) PG_DETOAST_DATUM_PACKED(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		bad_globals("are NULL");
	len = VARSIZE_ANY_EXHDR(b);
	/* a copy of their own, in the caller's context: the entries are read in place, aligned */
	h = (const GlobalsHeader *) memcpy(MemoryContextAlloc(cxt, Max(len, 1)), VARDATA_ANY(b), len);
	SPI_finish();

	if (len < head)
		bad_globals("are too short");
	if (h->magic != GLOBALS_MAGIC || h->version != GLOBALS_VERSION)
		bad_globals("have an unknown format");
	if (h->n < 0 || h->customers < h->n || h->nbuckets < 2 || (h->nbuckets & (h->nbuckets - 1)) != 0 ||
		(uint64) h->n >= h->nbuckets ||
		len != head + MAXALIGN((Size) h->nbuckets * sizeof(uint32)) + h->entries_size)
		bad_globals("have inconsistent sizes");
	if (h->refresh_id != rc->a.refresh_id)
		bad_globals("are of another refresh");
	if (shard_hash < h->hash_min || shard_hash > h->hash_max)
		bad_globals("are of another shard");
	rc->buckets = (const uint32 *) ((const char *) h + head);
	rc->entries = (const char *) rc->buckets + MAXALIGN((Size) h->nbuckets * sizeof(uint32));
	for (off = 0; off < h->entries_size; n++)
	{
		GlobalsEntry e;

		if (h->entries_size - off < GLOBALS_ENTRY_SIZE)
			bad_globals("have a bad entry");
		globals_entry_read(rc->entries + off, &e);
		if (e.keylen > h->entries_size - off - GLOBALS_ENTRY_SIZE ||
			e.value_rank < 1 || e.value_rank > h->customers || e.rfm >= RFM_CELLS)
			bad_globals("have a bad entry");
		off += GLOBALS_ENTRY_SIZE + e.keylen;
		CHECK_FOR_INTERRUPTS();
	}
	if (n != h->n)
		bad_globals("do not have one entry per customer");
	for (i = 0; i < h->nbuckets; i++)
		if (rc->buckets[i] != 0 && (Size) (rc->buckets[i] - 1) >= h->entries_size)
			bad_globals("have a bad bucket");
	rc->h = h;					/* (only once every check passed) */
}

/* the entry of a key into *e; false when the globals have none */
static bool
globals_find(const RowCache *rc, const KeyBytes *kb, GlobalsEntry *e)
{
	uint32		hash = hash_bytes((const unsigned char *) kb->data, (int) kb->len);
	uint32		mask = rc->h->nbuckets - 1;
	uint32		i,
				probes;

	for (i = hash & mask, probes = 0; rc->buckets[i] != 0 && probes < rc->h->nbuckets;
		 i = (i + 1) & mask, probes++)
	{
		Size		off = rc->buckets[i] - 1;
		const char *p = rc->entries + off;

		/*
		 * (globals_open checked that every bucket lies within the region;
		 * an entry a bucket points to is checked here, where it is read)
		 */
		if (rc->h->entries_size - off < GLOBALS_ENTRY_SIZE)
			bad_globals("have a bad bucket");
		globals_entry_read(p, e);
		if (e->keylen > rc->h->entries_size - off - GLOBALS_ENTRY_SIZE)
			bad_globals("have a bad bucket");
		if (e->keylen == kb->len && memcmp(p + GLOBALS_ENTRY_SIZE, kb->data, kb->len) == 0)
		{
			if (e->value_rank < 1 || e->value_rank > rc->h->customers || e->rfm >= RFM_CELLS)
				bad_globals("have a bad entry");
			return true;
		}
	}
	return false;
}

/* whether argument i has the value the cache was built for */
static bool
same_arg(FunctionCallInfo fcinfo, const RowCache *rc, int i)
{
	Datum		d = PG_GETARG_DATUM(i);

	if (PG_ARGISNULL(i))
		return false;			/* (snapshot_args refuses it) */
	if (rc->argbyval[i])
		return d == rc->args[i];
	return datumIsEqual(d, rc->args[i], false, rc->arglen[i]);
}

static RowCache *
row_cache(FunctionCallInfo fcinfo)
{
	RowCache   *rc = fcinfo->flinfo->fn_extra;
	MemoryContext old;
	Oid			key_type;
	int			i;

	LOCAL_FCINFO(copy, ROW_ARGS + 1);

	if (rc != NULL)
	{
		for (i = 1; i < ROW_ARGS && same_arg(fcinfo, rc, i); i++)
			;
		if (i == ROW_ARGS)
			return rc;
	}
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	rc = palloc0(sizeof(RowCache));
	/* the arguments parsed from copies that live as long as the cache */
	InitFunctionCallInfoData(*copy, fcinfo->flinfo, ROW_ARGS + 1, InvalidOid, NULL, NULL);
	for (i = 0; i <= ROW_ARGS; i++)
	{
		copy->args[i] = fcinfo->args[i];
		if (i == 0 || i == ROW_ARGS || PG_ARGISNULL(i))
			continue;
		get_typlenbyval(get_fn_expr_argtype(fcinfo->flinfo, i), &rc->arglen[i], &rc->argbyval[i]);
		rc->args[i] = datumCopy(PG_GETARG_DATUM(i), rc->argbyval[i], rc->arglen[i]);
		copy->args[i].value = rc->args[i];
	}
	snapshot_args(copy, &rc->a);
	if (get_call_result_type(fcinfo, NULL, &rc->desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "hvc._citus_snapshot_row must return a composite");
	rc->desc = BlessTupleDesc(CreateTupleDescCopy(rc->desc));
	/* every column of hvc.customer_snapshot but the key */
	hvc_require_columns(rc->desc, SNAPSHOT_NATTS - 1, "hvc._citus_snapshot_cols");
	key_type = get_fn_expr_argtype(fcinfo->flinfo, A_KEY);
	if (!OidIsValid(key_type))
		elog(ERROR, "hvc._citus_snapshot_row: could not determine the customer key type");
	get_typlenbyval(key_type, &rc->typlen, &rc->typbyval);
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = rc;
	return rc;
}

Datum
hvc_citus_snapshot_row(PG_FUNCTION_ARGS)
{
	RowCache   *rc;
	bytea	   *b;
	CustomerState *s;
	CustomerSummary sum;
	PassRow		r;
	Ranked		k;
	KeyBytes	kb;
	GlobalsEntry e;
	Datum		values[SNAPSHOT_NATTS];
	bool		nulls[SNAPSHOT_NATTS];
	int32		shard_hash;

	if (PG_NARGS() != ROW_NARGS)
		elog(ERROR, "hvc._citus_snapshot_row: wrong number of arguments");
	if (PG_ARGISNULL(A_KEY) || PG_ARGISNULL(A_STATE) || PG_ARGISNULL(A_VALUE) ||
		PG_ARGISNULL(A_PREDICTION) || PG_ARGISNULL(A_SHARD_HASH))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc._citus_snapshot_row needs the customer, its state, value, prediction and shard hash")));
	rc = row_cache(fcinfo);
	shard_hash = PG_GETARG_INT32(A_SHARD_HASH);
	/* a shard's task reads its own segment once (another when a row is of another shard) */
	if (rc->h == NULL || shard_hash < rc->h->hash_min || shard_hash > rc->h->hash_max)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (rc->h != NULL)
			pfree((void *) rc->h);
		rc->h = NULL;
		globals_open(rc, shard_hash);
		MemoryContextSwitchTo(old);
	}

	memset(&r, 0, sizeof(r));
	b = PG_GETARG_BYTEA_PP(A_STATE);
	s = customer_state_deserialize(CurrentMemoryContext, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	if (s->purchase_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("hvc._citus_snapshot_row: a state without a purchase is not a customer")));
	customer_state_summarize(s, &sum);
	stage_customer_fill(&r.c, PG_GETARG_DATUM(A_KEY), s, &sum, rc->a.as_of_day);
	prediction_from_array(PG_GETARG_ARRAYTYPE_P(A_PREDICTION), &r.pred);
	r.value_cents = PG_GETARG_INT64(A_VALUE);
	r.has_old = !PG_ARGISNULL(A_OLD_TIER);
	if (r.has_old)
	{
		if (PG_ARGISNULL(A_OLD_TIER_RANK) || PG_ARGISNULL(A_OLD_SINCE))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("hvc._citus_snapshot_row: an old row needs its tier rank and tier_since")));
		r.old_tier = PG_GETARG_DATUM(A_OLD_TIER);
		r.old_tier_rank = PG_GETARG_INT32(A_OLD_TIER_RANK);
		r.old_tier_since = PG_GETARG_TIMESTAMPTZ(A_OLD_SINCE);
	}
	r.old_prev_null = PG_ARGISNULL(A_OLD_PREV);
	r.old_previous_tier = r.old_prev_null ? (Datum) 0 : PG_GETARG_DATUM(A_OLD_PREV);
	ItemPointerSetInvalid(&r.old_tid);

	globals_key_bytes(r.c.customer, rc->typlen, rc->typbyval, &kb);
	if (!globals_find(rc, &kb, &e))
		bad_globals("have no entry for a customer of the stage");
	memset(&k, 0, sizeof(k));
	k.r = e.rfm / 25 + 1;
	k.f = e.rfm / 5 % 5 + 1;
	k.m = e.rfm % 5 + 1;
	k.value_rank = e.value_rank;
	k.cum_share = e.cum_share;
	k.churn_pct = e.churn_pct;
	k.tier = snapshot_tier_of_rank(&rc->a, k.value_rank, 0);
	snapshot_row(&rc->a, &r, &k, values, nulls);
	/* (the key is the caller's: column 1 of snapshot_row's) */
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(rc->desc, values + 1, nulls + 1)));
}
