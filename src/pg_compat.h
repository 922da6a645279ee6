/*
 * pg_compat.h — the one place for what differs between the PostgreSQL major
 * versions hvc supports (15, 17 and 18).  Every glue file that touches
 * varlena internals includes it right after postgres.h.
 */
#ifndef HVC_PG_COMPAT_H
#define HVC_PG_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "hvc needs PostgreSQL 15 or later"
#endif

/* VARDATA, VARSIZE and SET_VARSIZE moved from postgres.h to varatt.h in 16. */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * pg_class_ownercheck(relid, role) became object_ownercheck(RelationRelationId,
 * relid, role) in 16 (callers include utils/acl.h and catalog/pg_class.h).
 */
#if PG_VERSION_NUM >= 160000
#define hvc_class_ownercheck(relid, roleid) object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#define hvc_class_ownercheck(relid, roleid) pg_class_ownercheck((relid), (roleid))
#endif

/*
 * A function that does not return: PostgreSQL 18 spells it with a prefix
 * (pg_noreturn, C11 _Noreturn), earlier versions with a suffix
 * (pg_attribute_noreturn(), gone in 18).  Declare such functions as
 *     HVC_NORETURN_PRE void f(...) HVC_NORETURN_POST;
 */
#ifdef pg_noreturn
#define HVC_NORETURN_PRE pg_noreturn
#define HVC_NORETURN_POST
#else
#define HVC_NORETURN_PRE
#define HVC_NORETURN_POST pg_attribute_noreturn()
#endif

/*
 * tuplesort_getdatum() gained a "copy" argument in 16 (callers include
 * utils/tuplesort.h); hvc only sorts by-value datums, which need no copy.
 */
#if PG_VERSION_NUM >= 160000
#define hvc_tuplesort_getdatum(state, forward, val, isnull) \
	tuplesort_getdatum((state), (forward), false, (val), (isnull), NULL)
#else
#define hvc_tuplesort_getdatum(state, forward, val, isnull) \
	tuplesort_getdatum((state), (forward), (val), (isnull), NULL)
#endif

/*
 * ExecInsertIndexTuples() gained an "onlySummarizing" argument in 16
 * (callers include executor/executor.h): the index entries of a new row,
 * no speculative insertion, no arbiter indexes.
 */
#if PG_VERSION_NUM >= 160000
#define hvc_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#define hvc_insert_index_tuples(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

/*
 * table_tuple_update() tells which indexes need entries for the new version
 * as a bool in 15 and as a TU_UpdateIndexes in 16 (TU_None for a HOT
 * update, TU_Summarizing for BRIN-like indexes only), and
 * ExecInsertIndexTuples() takes "onlySummarizing" from 16.  Its "update"
 * hint (index_unchanged_by_update) reads the executor's range table, which
 * the direct writer has not got: the entries go in as an insert's.
 */
#if PG_VERSION_NUM >= 160000
#define hvc_update_indexes TU_UpdateIndexes	/* access/tableam.h */
#define hvc_update_needs_indexes(u) ((u) != TU_None)
#define hvc_update_index_tuples(rri, slot, estate, u) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, (u) == TU_Summarizing)
#else
#define hvc_update_indexes bool
#define hvc_update_needs_indexes(u) (u)
#define hvc_update_index_tuples(rri, slot, estate, u) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

/*
 * numeric's on-disk format (src/backend/utils/adt/numeric.c), which
 * src/amount.c decodes directly instead of calling numeric functions per row.
 * It is the same in 15, 16, 17 and 18 (pg_upgrade keeps numeric data as it
 * is); the regression test "amounts" compares the decoder with round(v, 4) for
 * every scale, weight and sign, on every supported version.
 */
#define NUM_SIGN_MASK			0xC000
#define NUM_NEG					0x4000
#define NUM_SHORT				0x8000
#define NUM_SPECIAL				0xC000
#define NUM_SHORT_SIGN_MASK		0x2000
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_NBASE				10000

#endif							/* HVC_PG_COMPAT_H */
