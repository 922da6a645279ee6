/*
 * citus_globals.h — what the Citus workers need from the whole snapshot to
 * write their shards' rows (96_citus_refresh.sql): per customer its value
 * rank, cumulative value share, RFM scores and churn percentile, computed on
 * the coordinator in value order (citus_globals.c) and sent to every worker
 * as one bytea (a row of the reference table hvc.citus_globals), which the
 * workers read in place (citus_rows.c): an open-addressing hash table keyed
 * by the bytes of the customer key.
 *
 *   header | uint32 buckets[nbuckets] | entries
 *
 * A bucket holds 0 (empty) or 1 + the entry's offset in the entries region
 * divided by 8; an entry is a GlobalsEntry followed by its key's bytes,
 * padded to 8 bytes.  Every length and offset is checked when a worker
 * first reads the value (globals_open).
 */
#ifndef HVC_CITUS_GLOBALS_H
#define HVC_CITUS_GLOBALS_H

#include "postgres.h"

#define GLOBALS_MAGIC 0x47435648	/* "HVCG" */
#define GLOBALS_VERSION 1

typedef struct GlobalsHeader
{
	uint32		magic;
	uint32		version;
	int64		refresh_id;
	int64		n;				/* customers (entries) */
	uint32		nbuckets;		/* a power of 2, at least 2 n */
	uint32		pad;
	uint64		entries_size;	/* bytes of the entries region */
} GlobalsHeader;

typedef struct GlobalsEntry
{
	int64		value_rank;		/* 1 .. n */
	double		cum_share;		/* NaN when the total value is not positive */
	double		churn_pct;		/* NaN without a churn risk */
	uint32		hash;			/* hash_bytes of the key's bytes */
	uint32		keylen;
	uint8		r,
				f,
				m;				/* 1 .. 5 */
	uint8		pad[5];
	/* the key's bytes follow */
} GlobalsEntry;

/* the bytes a key is looked up by: see globals_key_bytes */
typedef struct KeyBytes
{
	const char *data;
	Size		len;
	char		buf[8];			/* a pass-by-value key's bytes */
} KeyBytes;

/* the key as bytes (a varlena's detoasted contents, a fixed-length value) */
extern void globals_key_bytes(Datum key, int16 typlen, bool typbyval, KeyBytes *kb);

#endif
