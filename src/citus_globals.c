/*
 * citus_globals.c — the global step of a snapshot built on the Citus
 * workers (96_citus_refresh.sql), on the coordinator:
 *
 *   hvc._citus_globals(customer_proto anyelement, as_of_day date,
 *                      refresh_id bigint, shard_min integer[],
 *                      packed boolean DEFAULT false,
 *                      OUT globals bytea[], OUT customers bigint,
 *                      OUT pareto float8[], OUT premium_ticket_from float8,
 *                      OUT median_repeat_gap_days float8,
 *                      OUT max_tenure_days integer)
 *
 * It reads hvc.citus_scored (one narrow row per customer, written on the
 * workers by hvc._citus_score) once, packed one bytea per shard on the
 * workers when packed (citus_pack.c), and computes what the one-server
 * builder computes over the whole stage (snapshot_builder.c): the RFM
 * quintile breaks, the churn risk's cumulative distribution, then in value
 * order (value descending, key ascending in C collation, as the builder's
 * sort) each customer's value rank and cumulative share; the Pareto curve
 * and the two percentiles of hvc.snapshot_info.  Per customer the result
 * goes into the globals (citus_globals.h) the workers read.
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplesort.h"
#include "utils/typcache.h"

#include "amount.h"
#include "citus_globals.h"
#include "snapshot.h"

PG_FUNCTION_INFO_V1(hvc_citus_globals);

/* the columns of the sort: negated value, key, then what pass 2 reads */
enum
{
	G_NEG_VALUE = 1, G_KEY, G_LAST_DAY, G_ORDERS, G_REVENUE, G_CHURN, G_SEGMENT, G_NATTS = G_SEGMENT
};

/* what the read of hvc.citus_scored accumulates */
typedef struct GlobalsRead
{
	DestReceiver pub;
	DateADT		as_of_day;
	Oid			key_type;
	TupleDesc	desc;
	Tuplesortstate *sort;
	TupleTableSlot *in;
	BreakSort	recency,
				frequency,
				monetary,
				tickets,
				gaps;
	CumeDist   *churn;
	int64		n;
	int32		max_tenure;
	bool		packed;			/* the read returns packed shards (citus_pack.c) */
	int			nseg;			/* shards: the globals go out one segment per shard */
	int32	   *seg_min;		/* each shard's first hash value, ascending */
	int64	   *seg_n;			/* customers per segment */
#ifdef HAVE_INT128
	int128		total;
#else
	double		total;
#endif
	MemoryContext rowcxt;
} GlobalsRead;

void
globals_key_bytes(Datum key, int16 typlen, bool typbyval, KeyBytes *kb)
{
	if (typbyval)
	{
		memset(kb->buf, 0, sizeof(kb->buf));
		store_att_byval(kb->buf, key, typlen);
		kb->data = kb->buf;
		kb->len = typlen;
	}
	else if (typlen == -1)
	{
		struct varlena *v = PG_DETOAST_DATUM_PACKED(key);

		kb->data = VARDATA_ANY(v);
		kb->len = VARSIZE_ANY_EXHDR(v);
	}
	else if (typlen == -2)
	{
		kb->data = DatumGetCString(key);
		kb->len = strlen(kb->data);
	}
	else
	{
		kb->data = DatumGetPointer(key);
		kb->len = typlen;
	}
}

static void
bad_scored(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("hvc: hvc.citus_scored %s", msg),
			 errhint("hvc.refresh() fills it with hvc._citus_score on the workers; do not write it by hand.")));
}

/* a column of hvc.citus_scored that is never NULL */
static Datum
scored_col(TupleTableSlot *slot, int att)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att, &isnull);

	if (isnull)
		bad_scored("has a NULL where a customer, its value, days or counts belong");
	return d;
}

/* the segment (shard) of a customer's shard hash: the last whose first hash is at most it */
static int
segment_of(const GlobalsRead *g, int32 hash)
{
	int			lo = 0,
				hi = g->nseg - 1;

	if (hash < g->seg_min[0])
		bad_scored("has a shard hash below the first shard's");
	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (g->seg_min[mid] <= hash)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * One customer of hvc.citus_scored, read from the table or from a packed
 * shard: what the builder's passes put into their sorts
 */
static void
globals_put(void *arg, const PackedScored *r)
{
	GlobalsRead *g = arg;
	MemoryContext outer = MemoryContextSwitchTo(g->rowcxt);
	int			seg = segment_of(g, r->shard_hash);
	Datum		ticket;
	Datum	   *v = g->in->tts_values;
	bool	   *nl = g->in->tts_isnull;

	CHECK_FOR_INTERRUPTS();
	if (r->orders < 1 || r->frequency < 0 || r->first_day > r->last_day || r->last_day > g->as_of_day ||
		r->value == PG_INT64_MIN)
		bad_scored("has a row out of range");
	break_sort_put(&g->recency, -(double) (g->as_of_day - r->last_day));
	break_sort_put(&g->frequency, (double) r->orders);
	break_sort_put(&g->monetary, (double) r->revenue);
	if (isfinite(r->churn))
		cume_dist_add(g->churn, r->churn);
	ticket = amount_mean_cents_numeric(r->revenue, r->orders);
	break_sort_put(&g->tickets, snapshot_numeric_float8(ticket));
	if (r->frequency > 0)
		break_sort_put(&g->gaps, (double) (r->last_day - r->first_day) / r->frequency);
	g->max_tenure = Max(g->max_tenure, g->as_of_day - r->first_day);
	g->total += Max(r->value, 0);
	g->n++;

	ExecClearTuple(g->in);
	v[G_NEG_VALUE - 1] = Int64GetDatum(-r->value);
	v[G_KEY - 1] = r->key;
	v[G_LAST_DAY - 1] = Int32GetDatum(r->last_day);
	v[G_ORDERS - 1] = Int64GetDatum(r->orders);
	v[G_REVENUE - 1] = Int64GetDatum(r->revenue);
	v[G_CHURN - 1] = Float8GetDatum(r->churn);
	v[G_SEGMENT - 1] = Int32GetDatum(seg);
	g->seg_n[seg]++;
	memset(nl, false, G_NATTS * sizeof(bool));
	ExecStoreVirtualTuple(g->in);
	MemoryContextSwitchTo(outer);
	tuplesort_puttupleslot(g->sort, g->in);
	MemoryContextReset(g->rowcxt);
}

/*
 * One row of hvc.citus_scored: (customer_id, value_cents, first_day,
 * last_day, orders, frequency, revenue, churn_risk, shard_hash); or, packed,
 * one shard's rows in one bytea (citus_pack.c)
 */
static bool
globals_receive(TupleTableSlot *slot, DestReceiver *self)
{
	GlobalsRead *g = (GlobalsRead *) self;
	PackedScored r;
	bool		isnull;
	Datum		d;

	if (g->packed)
	{
		d = slot_getattr(slot, 1, &isnull);
		if (!isnull)
			citus_pack_read(DatumGetByteaPP(d), g->key_type, globals_put, g);
		return true;
	}
	r.key = scored_col(slot, 1);
	r.value = DatumGetInt64(scored_col(slot, 2));
	r.first_day = DatumGetInt32(scored_col(slot, 3));
	r.last_day = DatumGetInt32(scored_col(slot, 4));
	r.orders = DatumGetInt64(scored_col(slot, 5));
	r.frequency = DatumGetInt32(scored_col(slot, 6));
	r.revenue = DatumGetInt64(scored_col(slot, 7));
	d = slot_getattr(slot, 8, &isnull);
	r.churn = isnull ? NAN : DatumGetFloat8(d);
	r.shard_hash = DatumGetInt32(scored_col(slot, 9));
	globals_put(g, &r);
	return true;
}

static void
globals_startup(DestReceiver *self, int operation, TupleDesc desc)
{
	GlobalsRead *g = (GlobalsRead *) self;

	if (g->packed)
	{
		if (desc->natts != 1 || TupleDescAttr(desc, 0)->atttypid != BYTEAOID)
			bad_scored("was not packed into one bytea per shard");
		return;
	}
	if (desc->natts != 9 || TupleDescAttr(desc, 8)->atttypid != INT4OID || getBaseType(TupleDescAttr(desc, 0)->atttypid) != g->key_type ||
		TupleDescAttr(desc, 1)->atttypid != INT8OID || TupleDescAttr(desc, 2)->atttypid != INT4OID ||
		TupleDescAttr(desc, 3)->atttypid != INT4OID || TupleDescAttr(desc, 4)->atttypid != INT8OID ||
		TupleDescAttr(desc, 5)->atttypid != INT4OID || TupleDescAttr(desc, 6)->atttypid != INT8OID ||
		TupleDescAttr(desc, 7)->atttypid != FLOAT8OID)
		bad_scored("does not have the columns hvc._citus_stage makes");
}

static void
globals_shutdown(DestReceiver *self)
{
}

static void
globals_destroy(DestReceiver *self)
{
}

/* the sort of the read: value descending, then key ascending (as row_sort_begin) */
static void
globals_sort_begin(GlobalsRead *g)
{
	AttrNumber	cols[2] = {G_NEG_VALUE, G_KEY};
	Oid			ops[2];
	Oid			colls[2];
	bool		nulls_first[2] = {false, false};

	value_order_keys(g->key_type, ops, colls);
	g->desc = CreateTemplateTupleDesc(G_NATTS);
	TupleDescInitEntry(g->desc, G_NEG_VALUE, NULL, INT8OID, -1, 0);
	TupleDescInitEntry(g->desc, G_KEY, NULL, g->key_type, -1, 0);
	TupleDescInitEntry(g->desc, G_LAST_DAY, NULL, INT4OID, -1, 0);
	TupleDescInitEntry(g->desc, G_ORDERS, NULL, INT8OID, -1, 0);
	TupleDescInitEntry(g->desc, G_REVENUE, NULL, INT8OID, -1, 0);
	TupleDescInitEntry(g->desc, G_CHURN, NULL, FLOAT8OID, -1, 0);
	TupleDescInitEntry(g->desc, G_SEGMENT, NULL, INT4OID, -1, 0);
	g->sort = tuplesort_begin_heap(g->desc, 2, cols, ops, colls, nulls_first,
								   work_mem, NULL, TUPLESORT_NONE);
	g->in = MakeSingleTupleTableSlot(g->desc, &TTSOpsVirtual);
}

/* The globals being written: the buckets, then the entries. */
typedef struct GlobalsOut
{
	bytea	   *b;
	GlobalsHeader *h;
	uint32	   *buckets;
	char	   *entries;
	Size		cap;			/* bytes allocated for the entries */
	Size		used;
} GlobalsOut;

static void
globals_out_begin(GlobalsOut *o, int64 n, int64 customers, int64 refresh_id, int32 hash_min, int32 hash_max)
{
	uint64		nb = 2;
	Size		head;

	while (nb * 3 < (uint64) n * 4)
		nb <<= 1;
	if (customers > PG_INT32_MAX || nb > PG_UINT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("hvc: too many customers (" INT64_FORMAT ") for a snapshot built on the Citus workers", customers)));
	head = VARHDRSZ + MAXALIGN(sizeof(GlobalsHeader)) + MAXALIGN(nb * sizeof(uint32));
	o->cap = Max(n, 1) * (GLOBALS_ENTRY_SIZE + 8);
	if (head + o->cap >= MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("hvc: too many customers (" INT64_FORMAT ") for a snapshot built on the Citus workers", n)));
	o->b = palloc0(head + o->cap);
	o->h = (GlobalsHeader *) VARDATA(o->b);
	o->h->magic = GLOBALS_MAGIC;
	o->h->version = GLOBALS_VERSION;
	o->h->refresh_id = refresh_id;
	o->h->n = n;
	o->h->customers = customers;
	o->h->nbuckets = (uint32) nb;
	o->h->hash_min = hash_min;
	o->h->hash_max = hash_max;
	o->buckets = (uint32 *) ((char *) o->h + MAXALIGN(sizeof(GlobalsHeader)));
	o->entries = (char *) o->buckets + MAXALIGN(nb * sizeof(uint32));
	o->used = 0;
}

static void
globals_out_put(GlobalsOut *o, GlobalsEntry *e, const KeyBytes *kb)
{
	Size		size = GLOBALS_ENTRY_SIZE + kb->len;
	uint32		mask = o->h->nbuckets - 1;
	uint32		i;

	if (o->used + size > o->cap)
	{
		Size		head = (char *) o->entries - (char *) o->b;
		Size		cap = Max(o->cap * 2, o->used + size);

		if (head + cap >= MaxAllocSize || o->used + size >= PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("hvc: the customer keys are too long for a snapshot built on the Citus workers")));
		o->b = repalloc(o->b, head + cap);
		memset((char *) o->b + head + o->cap, 0, cap - o->cap);
		o->h = (GlobalsHeader *) VARDATA(o->b);
		o->buckets = (uint32 *) ((char *) o->h + MAXALIGN(sizeof(GlobalsHeader)));
		o->entries = (char *) o->b + head;
		o->cap = cap;
	}
	e->keylen = (uint32) kb->len;
	globals_entry_write(o->entries + o->used, e);
	memcpy(o->entries + o->used + GLOBALS_ENTRY_SIZE, kb->data, kb->len);
	for (i = hash_bytes((const unsigned char *) kb->data, (int) kb->len) & mask; o->buckets[i] != 0;
		 i = (i + 1) & mask)
		;
	o->buckets[i] = (uint32) o->used + 1;
	o->used += size;
}

static bytea *
globals_out_end(GlobalsOut *o)
{
	o->h->entries_size = o->used;
	SET_VARSIZE(o->b, ((char *) o->entries - (char *) o->b) + o->used);
	return o->b;
}

/*
 * Pass 2 of the global step: in value order, the ranks, shares, scores and
 * churn percentiles, into the globals; the Pareto curve as the builder
 * computes it.
 */
static bytea **
globals_walk(GlobalsRead *g, int64 refresh_id, double *pareto, bool *pareto_null)
{
	double		rb[RFM_BREAKS],
				fb[RFM_BREAKS],
				mb[RFM_BREAKS];
	TupleTableSlot *slot = MakeSingleTupleTableSlot(g->desc, &TTSOpsMinimalTuple);
	int16		typlen;
	bool		typbyval;
	GlobalsOut *o = palloc(sizeof(GlobalsOut) * g->nseg);
	bytea	  **out = palloc(sizeof(bytea *) * g->nseg);
	GlobalsEntry e;
	KeyBytes	kb;
	ParetoCurve pc;
	int64		rank = 0;
	int			k;
#ifdef HAVE_INT128
	int128		running = 0;
#else
	double		running = 0;
#endif

	get_typlenbyval(g->key_type, &typlen, &typbyval);
	pareto_begin(&pc, g->n, pareto, pareto_null);
	break_sort_finish(&g->recency, rb);
	break_sort_finish(&g->frequency, fb);
	break_sort_finish(&g->monetary, mb);
	cume_dist_finish(g->churn);
	tuplesort_performsort(g->sort);
	for (k = 0; k < g->nseg; k++)
		globals_out_begin(&o[k], g->seg_n[k], g->n, refresh_id, g->seg_min[k],
						  k + 1 < g->nseg ? g->seg_min[k + 1] - 1 : PG_INT32_MAX);
	memset(&e, 0, sizeof(e));
	while (tuplesort_gettupleslot(g->sort, true, false, slot, NULL))
	{
		bool		isnull;
		int64		value = -DatumGetInt64(slot_getattr(slot, G_NEG_VALUE, &isnull));
		double		risk = DatumGetFloat8(slot_getattr(slot, G_CHURN, &isnull));
		int			r = rfm_score(-(double) (g->as_of_day - DatumGetInt32(slot_getattr(slot, G_LAST_DAY, &isnull))), rb);
		int			f = rfm_score((double) DatumGetInt64(slot_getattr(slot, G_ORDERS, &isnull)), fb);
		int			m = rfm_score((double) DatumGetInt64(slot_getattr(slot, G_REVENUE, &isnull)), mb);

		CHECK_FOR_INTERRUPTS();

		running += Max(value, 0);
		e.value_rank = (uint32) ++rank;
		e.cum_share = g->total > 0 ? (double) running / (double) g->total : NAN;
		e.rfm = (uint8) ((r - 1) * 25 + (f - 1) * 5 + (m - 1));
		e.churn_pct = isfinite(risk) ? cume_dist_of(g->churn, risk) : NAN;
		globals_key_bytes(slot_getattr(slot, G_KEY, &isnull), typlen, typbyval, &kb);
		globals_out_put(&o[DatumGetInt32(slot_getattr(slot, G_SEGMENT, &isnull))], &e, &kb);
		pareto_put(&pc, rank, e.cum_share);
	}
	tuplesort_end(g->sort);
	ExecDropSingleTupleTableSlot(slot);
	if (rank != g->n)
		elog(ERROR, "hvc: the value order has " INT64_FORMAT " customers, not " INT64_FORMAT,
			 rank, g->n);
	for (k = 0; k < g->nseg; k++)
		out[k] = globals_out_end(&o[k]);
	return out;
}

/* the shards' first hash values: strictly ascending, at least one */
static void
shard_mins(GlobalsRead *g, ArrayType *a)
{
	Datum	   *d;
	bool	   *nulls;
	int			n,
				i;

	if (ARR_ELEMTYPE(a) != INT4OID || ARR_NDIM(a) > 1)
		elog(ERROR, "hvc._citus_globals: shard_min must be an integer[]");
	deconstruct_array(a, INT4OID, sizeof(int32), true, TYPALIGN_INT, &d, &nulls, &n);
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc._citus_globals needs at least one shard")));
	g->seg_min = palloc(sizeof(int32) * n);
	g->seg_n = palloc0(sizeof(int64) * n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i] || (i > 0 && DatumGetInt32(d[i]) <= g->seg_min[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hvc._citus_globals: the shards' first hash values must ascend, without NULL")));
		g->seg_min[i] = DatumGetInt32(d[i]);
	}
	g->nseg = n;
}

/*
 * The read of hvc.citus_scored packed one bytea per shard: grouped by the
 * shard of each row's hash (the shards' first hashes), so that Citus packs
 * each shard on its worker (hvc._citus_pack_scored has a combine function)
 * and the coordinator receives one value per shard.
 */
static char *
globals_pack_query(GlobalsRead *g)
{
	StringInfoData q;
	int			i;

	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT hvc._citus_pack_scored(hvc._citus_key_bytes(customer_id), value_cents, first_day,"
						   " last_day, orders, frequency, revenue, churn_risk, shard_hash)"
						   "  FROM hvc.citus_scored GROUP BY pg_catalog.width_bucket(shard_hash, '{");
	for (i = 0; i < g->nseg; i++)
		appendStringInfo(&q, "%s%d", i > 0 ? "," : "", g->seg_min[i]);
	appendStringInfoString(&q, "}'::pg_catalog.int4[])");
	return q.data;
}

Datum
hvc_citus_globals(PG_FUNCTION_ARGS)
{
	Oid			key_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	MemoryContext callcxt = CurrentMemoryContext;
	GlobalsRead g;
	SPIExecuteOptions options;
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};
	double		pareto[PARETO_POINTS];
	bool		pareto_null[PARETO_POINTS];
	bytea	  **segs;
	Datum	   *seg_datums;
	Datum		shares[PARETO_POINTS];
	int			dims[1] = {PARETO_POINTS};
	int			lbs[1] = {1};
	double		p80 = 0.8,
				p50 = 0.5,
				ticket,
				gap;
	int			i;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc._citus_globals needs the as_of day, the refresh id and the shards' first hash values")));
	if (!OidIsValid(key_type))
		elog(ERROR, "hvc._citus_globals: could not determine the customer key type");
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "hvc._citus_globals must return a record");
	memset(&g, 0, sizeof(g));
	g.key_type = getBaseType(key_type);
	g.as_of_day = PG_GETARG_DATEADT(1);
	g.packed = PG_NARGS() > 4 && !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	shard_mins(&g, PG_GETARG_ARRAYTYPE_P(3));
	stage_check_as_of_day(g.as_of_day);
	g.max_tenure = -1;
	g.churn = cume_dist_create();
	break_sort_begin(&g.recency);
	break_sort_begin(&g.frequency);
	break_sort_begin(&g.monetary);
	break_sort_begin(&g.tickets);
	break_sort_begin(&g.gaps);
	globals_sort_begin(&g);
	g.rowcxt = AllocSetContextCreate(callcxt, "hvc citus globals row", ALLOCSET_DEFAULT_SIZES);
	g.pub.receiveSlot = globals_receive;
	g.pub.rStartup = globals_startup;
	g.pub.rShutdown = globals_shutdown;
	g.pub.rDestroy = globals_destroy;
	g.pub.mydest = DestTuplestore;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "hvc: SPI_connect failed");
	MemoryContextSwitchTo(callcxt);
	memset(&options, 0, sizeof(options));
	options.read_only = true;
	options.dest = &g.pub;
	if (SPI_execute_extended(g.packed ? globals_pack_query(&g) :
							 "SELECT customer_id, value_cents, first_day, last_day, orders, frequency, revenue, churn_risk, shard_hash"
							 "  FROM hvc.citus_scored", &options) != SPI_OK_SELECT)
		elog(ERROR, "hvc: reading hvc.citus_scored failed");
	SPI_finish();
	MemoryContextSwitchTo(callcxt);

	seg_datums = palloc(sizeof(Datum) * g.nseg);
	segs = globals_walk(&g, PG_GETARG_INT64(2), pareto, pareto_null);
	for (i = 0; i < g.nseg; i++)
		seg_datums[i] = PointerGetDatum(segs[i]);
	values[0] = PointerGetDatum(construct_array(seg_datums, g.nseg, BYTEAOID, -1, false, TYPALIGN_INT));
	pfree(seg_datums);
	values[1] = Int64GetDatum(g.n);
	for (i = 0; i < PARETO_POINTS; i++)
		shares[i] = Float8GetDatum(pareto[i]);
	if (g.n > 0)
		values[2] = PointerGetDatum(construct_md_array(shares, pareto_null, 1, dims, lbs, FLOAT8OID,
													   sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	else
		nulls[2] = true;
	nulls[3] = !break_sort_percentiles(&g.tickets, &p80, 1, &ticket);
	values[3] = Float8GetDatum(ticket);
	nulls[4] = !break_sort_percentiles(&g.gaps, &p50, 1, &gap);
	values[4] = Float8GetDatum(gap);
	values[5] = Int32GetDatum(g.max_tenure);
	nulls[5] = g.max_tenure < 0;
	desc = BlessTupleDesc(desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(hvc_hash_function);

/*
 * hvc._hash_function(t regtype) RETURNS regprocedure: the standard hash
 * function of a type (its default hash operator class's), by which Citus
 * places a distribution column's values into shards (its worker_hash); NULL
 * when the type has none.
 */
Datum
hvc_hash_function(PG_FUNCTION_ARGS)
{
	TypeCacheEntry *tce = lookup_type_cache(PG_GETARG_OID(0), TYPECACHE_HASH_PROC);

	if (!OidIsValid(tce->hash_proc))
		PG_RETURN_NULL();
	PG_RETURN_OID(tce->hash_proc);
}
