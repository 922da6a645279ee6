/*
 * citus_pack.c — the rows of hvc.citus_scored packed into one bytea per
 * shard on the Citus workers, so that the coordinator's global step
 * (citus_globals.c) receives one value per shard instead of a row per
 * customer:
 *
 *   hvc._citus_pack_scored(key bytea, value_cents bigint, first_day integer,
 *       last_day integer, orders bigint, frequency integer, revenue bigint,
 *       churn_risk float8, shard_hash integer) -> bytea
 *
 * an aggregate with a bytea state and a combine function, so that Citus
 * computes it on the workers next to the shards (worker_partial_agg) and
 * only combines on the coordinator, inside the refresh's transaction.  The
 * key comes as its bytes (hvc._citus_key_bytes, as citus_globals.h looks
 * keys up).  The state is an expanded object (utils/expandeddatum.h): the
 * executor keeps it in place, so a row costs an append; it is flattened
 * only when it leaves the aggregate.
 *
 *   magic | version | rows
 *
 * A row is a uint32 key length, the key's bytes, then the fixed part
 * below, all read with memcpy; every length is checked against what is left
 * (pack_rows, citus_pack_read).
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "access/tupmacs.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/expandeddatum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "citus_globals.h"

PG_FUNCTION_INFO_V1(hvc_citus_key_bytes);
PG_FUNCTION_INFO_V1(hvc_citus_pack_trans);
PG_FUNCTION_INFO_V1(hvc_citus_pack_combine);

#define PACK_MAGIC 0x50435648	/* "HVCP" */
#define PACK_VERSION 1
#define PACK_HEADER 8
/* value, first day, last day, orders, frequency, revenue, churn (NaN: NULL), hash */
#define PACK_FIXED (8 + 4 + 4 + 8 + 4 + 8 + 8 + 4)

/* the fixed part of a row, written and read in one layout */
static void
pack_fixed_write(char *p, const PackedScored *r)
{
	memcpy(p, &r->value, 8);
	memcpy(p + 8, &r->first_day, 4);
	memcpy(p + 12, &r->last_day, 4);
	memcpy(p + 16, &r->orders, 8);
	memcpy(p + 24, &r->frequency, 4);
	memcpy(p + 28, &r->revenue, 8);
	memcpy(p + 36, &r->churn, 8);
	memcpy(p + 44, &r->shard_hash, 4);
}

static void
pack_fixed_read(const char *p, PackedScored *r)
{
	memcpy(&r->value, p, 8);
	memcpy(&r->first_day, p + 8, 4);
	memcpy(&r->last_day, p + 12, 4);
	memcpy(&r->orders, p + 16, 8);
	memcpy(&r->frequency, p + 24, 4);
	memcpy(&r->revenue, p + 28, 8);
	memcpy(&r->churn, p + 36, 8);
	memcpy(&r->shard_hash, p + 44, 4);
}

static void
bad_pack(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("hvc: a packed shard of hvc.citus_scored %s", msg),
			 errhint("hvc.refresh() packs them with hvc._citus_pack_scored on the workers; do not build them by hand.")));
}

/*
 * hvc._citus_key_bytes(key anyelement) RETURNS bytea: the bytes a customer
 * key is looked up by (globals_key_bytes)
 */
Datum
hvc_citus_key_bytes(PG_FUNCTION_ARGS)
{
	Oid			t = getBaseType(get_fn_expr_argtype(fcinfo->flinfo, 0));
	int16		typlen;
	bool		typbyval;
	KeyBytes	kb;
	bytea	   *out;

	if (!OidIsValid(t))
		elog(ERROR, "hvc._citus_key_bytes: could not determine the key type");
	get_typlenbyval(t, &typlen, &typbyval);
	globals_key_bytes(PG_GETARG_DATUM(0), typlen, typbyval, &kb);
	out = palloc(VARHDRSZ + kb.len);
	SET_VARSIZE(out, VARHDRSZ + kb.len);
	memcpy(VARDATA(out), kb.data, kb.len);
	PG_RETURN_BYTEA_P(out);
}

/* ---------------------------------------------------------------------
 * The expanded state
 * --------------------------------------------------------------------- */

typedef struct PackObject
{
	ExpandedObjectHeader hdr;
	StringInfoData buf;			/* header and rows, in hdr's context */
} PackObject;

static Size
pack_flat_size(ExpandedObjectHeader *eoh)
{
	return VARHDRSZ + ((PackObject *) eoh)->buf.len;
}

static void
pack_flatten(ExpandedObjectHeader *eoh, void *result, Size allocated)
{
	PackObject *po = (PackObject *) eoh;

	if (allocated != VARHDRSZ + (Size) po->buf.len)
		elog(ERROR, "hvc: flattening a pack of unexpected size");
	SET_VARSIZE(result, allocated);
	memcpy(VARDATA(result), po->buf.data, po->buf.len);
}

static const ExpandedObjectMethods pack_methods = {pack_flat_size, pack_flatten};

static PackObject *
pack_new(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt,
				cxt,
				old;
	PackObject *po;
	uint32		head[2] = {PACK_MAGIC, PACK_VERSION};

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hvc: hvc._citus_pack_trans and hvc._citus_pack_combine run only inside the aggregate hvc._citus_pack_scored")));
	cxt = AllocSetContextCreate(aggcxt, "hvc packed scores", ALLOCSET_DEFAULT_SIZES);
	po = MemoryContextAllocZero(cxt, sizeof(PackObject));
	EOH_init_header(&po->hdr, &pack_methods, cxt);
	old = MemoryContextSwitchTo(cxt);
	initStringInfo(&po->buf);
	appendBinaryStringInfo(&po->buf, (char *) head, PACK_HEADER);
	MemoryContextSwitchTo(old);
	return po;
}

/*
 * The rows of a flat pack, checked: a pointer to them and their length (an
 * error unless the header is ours and the rows are whole).  An empty bytea
 * has no rows.
 */
static const char *
pack_rows(bytea *pack, Size *len)
{
	const char *p = VARDATA_ANY(pack);
	Size		left = VARSIZE_ANY_EXHDR(pack);
	uint32		head[2];
	const char *rows;
	Size		rows_len;

	if (left == 0)
	{
		*len = 0;
		return p;
	}
	if (left < PACK_HEADER)
		bad_pack("is truncated");
	memcpy(head, p, PACK_HEADER);
	if (head[0] != PACK_MAGIC || head[1] != PACK_VERSION)
		bad_pack("is not a pack of this version of hvc");
	rows = p + PACK_HEADER;
	rows_len = left - PACK_HEADER;
	p = rows;
	left = rows_len;
	while (left > 0)
	{
		uint32		keylen;

		CHECK_FOR_INTERRUPTS();
		if (left < 4)
			bad_pack("is truncated");
		memcpy(&keylen, p, 4);
		if (left - 4 < keylen || left - 4 - keylen < PACK_FIXED)
			bad_pack("is truncated");
		p += 4 + keylen + PACK_FIXED;
		left -= 4 + keylen + PACK_FIXED;
	}
	*len = rows_len;
	return rows;
}

/* argument n as our expanded object: itself, or a new one holding its rows */
static PackObject *
pack_arg(FunctionCallInfo fcinfo, int n)
{
	Datum		d = PG_GETARG_DATUM(n);
	PackObject *po;
	const char *rows;
	Size		len;
	MemoryContext old;

	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)) &&
		DatumGetEOHP(d)->eoh_methods == &pack_methods)
		return (PackObject *) DatumGetEOHP(d);
	po = pack_new(fcinfo);
	rows = pack_rows(PG_GETARG_BYTEA_PP(n), &len);
	old = MemoryContextSwitchTo(po->hdr.eoh_context);
	appendBinaryStringInfo(&po->buf, rows, len);
	MemoryContextSwitchTo(old);
	return po;
}

/*
 * Transition: one row of hvc.citus_scored appended (key bytes, value_cents,
 * first_day, last_day, orders, frequency, revenue, churn_risk, shard_hash)
 */
Datum
hvc_citus_pack_trans(PG_FUNCTION_ARGS)
{
	PackObject *po = PG_ARGISNULL(0) ? pack_new(fcinfo) : pack_arg(fcinfo, 0);
	bytea	   *key;
	PackedScored r;
	char		fixed[PACK_FIXED];
	uint32		keylen;
	int			i;
	MemoryContext old;

	for (i = 1; i <= 9; i++)
		if (PG_ARGISNULL(i) && i != 8)
			bad_pack("has a NULL where a customer, its value, days or counts belong");
	key = PG_GETARG_BYTEA_PP(1);
	keylen = VARSIZE_ANY_EXHDR(key);
	r.value = PG_GETARG_INT64(2);
	r.first_day = PG_GETARG_INT32(3);
	r.last_day = PG_GETARG_INT32(4);
	r.orders = PG_GETARG_INT64(5);
	r.frequency = PG_GETARG_INT32(6);
	r.revenue = PG_GETARG_INT64(7);
	r.churn = PG_ARGISNULL(8) ? NAN : PG_GETARG_FLOAT8(8);
	r.shard_hash = PG_GETARG_INT32(9);
	pack_fixed_write(fixed, &r);
	old = MemoryContextSwitchTo(po->hdr.eoh_context);
	appendBinaryStringInfo(&po->buf, (char *) &keylen, 4);
	appendBinaryStringInfo(&po->buf, VARDATA_ANY(key), keylen);
	appendBinaryStringInfo(&po->buf, fixed, PACK_FIXED);
	MemoryContextSwitchTo(old);
	PG_RETURN_DATUM(EOHPGetRWDatum(&po->hdr));
}

/* Combine: the rows of the second appended to the first's */
Datum
hvc_citus_pack_combine(PG_FUNCTION_ARGS)
{
	PackObject *po;
	const char *rows;
	Size		len;
	MemoryContext old;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(EOHPGetRWDatum(&pack_arg(fcinfo, 0)->hdr));
	}
	po = PG_ARGISNULL(0) ? pack_new(fcinfo) : pack_arg(fcinfo, 0);
	rows = pack_rows(PG_GETARG_BYTEA_PP(1), &len);
	old = MemoryContextSwitchTo(po->hdr.eoh_context);
	appendBinaryStringInfo(&po->buf, rows, len);
	MemoryContextSwitchTo(old);
	PG_RETURN_DATUM(EOHPGetRWDatum(&po->hdr));
}

/*
 * Every row of a pack to fn, in order, with keys of key_type (the key as a
 * Datum in CurrentMemoryContext); an error (XX001) for anything that is not
 * a whole pack of such keys.
 */
void
citus_pack_read(bytea *pack, Oid key_type, pack_row_fn fn, void *arg)
{
	Size		left;
	const char *p = pack_rows(pack, &left);
	int16		typlen;
	bool		typbyval;

	get_typlenbyval(key_type, &typlen, &typbyval);
	while (left > 0)
	{
		PackedScored r;
		uint32		keylen;
		const char *keydata;

		CHECK_FOR_INTERRUPTS();
		memcpy(&keylen, p, 4);	/* (lengths checked by pack_rows) */
		keydata = p + 4;
		p += 4 + keylen;
		left -= 4 + keylen;
		if (typlen > 0 && keylen != (uint32) typlen)
			bad_pack("has a key of another type");
		if (typbyval)
		{
			char		buf[8];

			memset(buf, 0, sizeof(buf));
			memcpy(buf, keydata, keylen);
			r.key = fetch_att(buf, true, typlen);
		}
		else if (typlen == -1)
		{
			struct varlena *v;

			if (keylen > MaxAllocSize - VARHDRSZ)
				bad_pack("has a key too long");
			v = palloc(VARHDRSZ + keylen);
			SET_VARSIZE(v, VARHDRSZ + keylen);
			memcpy(VARDATA(v), keydata, keylen);
			r.key = PointerGetDatum(v);
		}
		else if (typlen == -2)
		{
			char	   *s;

			if (keylen > MaxAllocSize - 1 || memchr(keydata, '\0', keylen) != NULL)
				bad_pack("has a key that is not a string");
			s = palloc(keylen + 1);
			memcpy(s, keydata, keylen);
			s[keylen] = '\0';
			r.key = CStringGetDatum(s);
		}
		else
		{
			char	   *b = palloc(keylen);

			memcpy(b, keydata, keylen);
			r.key = PointerGetDatum(b);
		}
		pack_fixed_read(p, &r);
		p += PACK_FIXED;
		left -= PACK_FIXED;
		fn(arg, &r);
	}
}
