/*
 * index_spool.c — the index entries of many new rows, sorted and inserted
 * in key order (index_spool.h).
 *
 * The refresh writes its rows in value order, so their keys (customer ids)
 * arrive in random order: each entry goes to a random leaf page of each
 * btree.  Once an index is larger than shared_buffers, most of those
 * inserts read a page back and write another out: the first refresh of
 * 2 M customers at the default shared_buffers spent most of its write in
 * the indexes of the snapshot and the history (2.9x the time of 1 M).
 * Sorted first, the entries fill each leaf page in turn, as CREATE INDEX
 * does, and the cost stays linear.  Updated rows that did not fit on their
 * page (not HOT: rows that grew, e.g. the first refresh with a model after
 * one without) need new entries too, and come here the same way.  The
 * entries go in through index_insert,
 * WAL-logged, in the caller's transaction, before the writer closes; no
 * reader of the table can see its new rows until then.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "access/genam.h"
#include "access/itup.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplesort.h"

#include "index_spool.h"

struct IndexSpool
{
	ResultRelInfo *rri;
	Relation	heap;
	int			nindexes;
	Tuplesortstate **sorts;		/* one per index, in rri's order */
};

IndexSpool *
index_spool_begin(ResultRelInfo *rri, Relation heap)
{
	IndexSpool *sp;
	int			i;

	if (rri->ri_NumIndices == 0)
		return NULL;
	for (i = 0; i < rri->ri_NumIndices; i++)
	{
		Relation	ir = rri->ri_IndexRelationDescs[i];
		IndexInfo  *ii = rri->ri_IndexRelationInfo[i];

		/* what index_insert alone does for such an index: nothing to check */
		if (ir->rd_rel->relam != BTREE_AM_OID || ii->ii_Unique || ii->ii_Predicate != NIL ||
			ii->ii_Expressions != NIL || ii->ii_ExclusionOps != NULL || !ii->ii_ReadyForInserts)
			return NULL;
	}
	sp = palloc0(sizeof(IndexSpool));
	sp->rri = rri;
	sp->heap = heap;
	sp->nindexes = rri->ri_NumIndices;
	sp->sorts = palloc(sp->nindexes * sizeof(Tuplesortstate *));
	for (i = 0; i < sp->nindexes; i++)
		sp->sorts[i] = tuplesort_begin_index_btree(heap, rri->ri_IndexRelationDescs[i], false, false,
												   work_mem, NULL, TUPLESORT_NONE);
	return sp;
}

void
index_spool_put(IndexSpool *sp, TupleTableSlot *slot, EState *estate)
{
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	int			i;

	for (i = 0; i < sp->nindexes; i++)
	{
		FormIndexDatum(sp->rri->ri_IndexRelationInfo[i], slot, estate, values, isnull);
		tuplesort_putindextuplevalues(sp->sorts[i], sp->rri->ri_IndexRelationDescs[i], &slot->tts_tid,
									  values, isnull);
	}
}

void
index_spool_finish(IndexSpool *sp)
{
	MemoryContext entrycxt = AllocSetContextCreate(CurrentMemoryContext, "hvc index spool entry",
												   ALLOCSET_DEFAULT_SIZES);
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	int			i;

	for (i = 0; i < sp->nindexes; i++)
	{
		Relation	ir = sp->rri->ri_IndexRelationDescs[i];
		IndexInfo  *ii = sp->rri->ri_IndexRelationInfo[i];
		IndexTuple	itup;

		tuplesort_performsort(sp->sorts[i]);
		while ((itup = tuplesort_getindextuple(sp->sorts[i], true)) != NULL)
		{
			MemoryContext outer = MemoryContextSwitchTo(entrycxt);

			index_deform_tuple(itup, RelationGetDescr(ir), values, isnull);
			index_insert(ir, values, isnull, &itup->t_tid, sp->heap, UNIQUE_CHECK_NO, false, ii);
			MemoryContextSwitchTo(outer);
			MemoryContextReset(entrycxt);
			CHECK_FOR_INTERRUPTS();
		}
		tuplesort_end(sp->sorts[i]);
	}
	MemoryContextDelete(entrycxt);
	pfree(sp->sorts);
	pfree(sp);
}
