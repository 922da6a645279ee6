/*
 * citus_globals.h — what the Citus workers need from the whole snapshot to
 * write their shards' rows (96_citus_refresh.sql): per customer its value
 * rank, cumulative value share, RFM scores and churn percentile, computed on
 * the coordinator in value order (citus_globals.c) and sent to every worker
 * one segment per shard (rows of hvc.citus_globals on the shard's worker),
 * which the shard's task reads in place (citus_rows.c): an open-addressing
 * hash table keyed by the bytes of the customer key.
 *
 *   header | uint32 buckets[nbuckets] | entries
 *
 * An entry is a packed GlobalsEntry followed by its key's bytes.  Every
 * length and offset is checked when a worker first reads the value
 * (globals_open).
 */
#ifndef HVC_CITUS_GLOBALS_H
#define HVC_CITUS_GLOBALS_H

#include "postgres.h"

#define GLOBALS_MAGIC 0x47435648	/* "HVCG" */
#define GLOBALS_VERSION 2

typedef struct GlobalsHeader
{
	uint32		magic;
	uint32		version;
	int64		refresh_id;
	int64		n;				/* customers of the segment (entries) */
	int64		customers;		/* of the whole snapshot: value ranks are 1 .. customers */
	uint32		nbuckets;		/* a power of 2, at least 4/3 n */
	int32		hash_min;		/* the shard hashes of this segment's customers */
	int32		hash_max;
	uint32		pad;
	uint64		entries_size;	/* bytes of the entries region */
} GlobalsHeader;

/*
 * An entry, packed (read with memcpy): what a customer's row needs of the
 * whole snapshot, then its key's bytes.  A bucket holds 0 (empty) or 1 +
 * the entry's byte offset in the entries region.
 */
typedef struct GlobalsEntry
{
	uint32		value_rank;		/* 1 .. customers */
	double		cum_share;		/* NaN when the total value is not positive */
	double		churn_pct;		/* NaN without a churn risk */
	uint8		rfm;			/* (r - 1) * 25 + (f - 1) * 5 + (m - 1) */
	uint32		keylen;
} GlobalsEntry;

#define GLOBALS_ENTRY_SIZE (4 + 8 + 8 + 1 + 4)

static inline void
globals_entry_write(char *p, const GlobalsEntry *e)
{
	memcpy(p, &e->value_rank, 4);
	memcpy(p + 4, &e->cum_share, 8);
	memcpy(p + 12, &e->churn_pct, 8);
	memcpy(p + 20, &e->rfm, 1);
	memcpy(p + 21, &e->keylen, 4);
}

static inline void
globals_entry_read(const char *p, GlobalsEntry *e)
{
	memcpy(&e->value_rank, p, 4);
	memcpy(&e->cum_share, p + 4, 8);
	memcpy(&e->churn_pct, p + 12, 8);
	memcpy(&e->rfm, p + 20, 1);
	memcpy(&e->keylen, p + 21, 4);
}

/* the bytes a key is looked up by: see globals_key_bytes */
typedef struct KeyBytes
{
	const char *data;
	Size		len;
	char		buf[8];			/* a pass-by-value key's bytes */
} KeyBytes;

/* the key as bytes (a varlena's detoasted contents, a fixed-length value) */
extern void globals_key_bytes(Datum key, int16 typlen, bool typbyval, KeyBytes *kb);

/*
 * One row of hvc.citus_scored, as citus_pack.c packs a shard's rows into one
 * bytea on its worker (churn NaN for NULL)
 */
typedef struct PackedScored
{
	Datum		key;
	int64		value;
	int32		first_day;
	int32		last_day;
	int64		orders;
	int32		frequency;
	int64		revenue;
	double		churn;
	int32		shard_hash;
} PackedScored;

typedef void (*pack_row_fn) (void *arg, const PackedScored *r);

/* every row of a pack with keys of key_type, to fn; XX001 when it is not one */
extern void citus_pack_read(bytea *pack, Oid key_type, pack_row_fn fn, void *arg);

#endif
