/*
 * row_writer.c — rows straight into one table, in batches (row_writer.h).
 */
#include "postgres.h"
#include "pg_compat.h"

#include "access/heapam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "index_spool.h"
#include "row_writer.h"

Oid
hvc_source_table(const char *name)
{
	Oid			nsp = get_namespace_oid("hvc", false);
	Oid			rel = get_relname_relid(name, nsp);

	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("hvc: hvc.%s is missing", name),
				 errhint("Register the source again with hvc.register_source() and refresh.")));
	return rel;
}

bool
row_writer_plain_table(Relation rel, int natts)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	/* the relcache's triggers and rules (pg_class's flags lag behind a DROP) */
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->trigdesc != NULL || rel->rd_rules != NULL ||
		rel->rd_rel->relrowsecurity || desc->natts != natts ||
		(desc->constr != NULL && desc->constr->has_generated_stored))
		return false;
	for (i = 0; i < natts; i++)
		if (TupleDescAttr(desc, i)->attisdropped)
			return false;
	return true;
}

void
row_writer_open(RowWriter *w, Oid relid, const char *name)
{
	AclResult	acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	TupleDesc	desc;
	int			i;

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, name);
	memset(w, 0, sizeof(*w));
	/* a role that may not update the table gets every row inserted */
	w->can_update = pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) == ACLCHECK_OK;
	w->cxt = CurrentMemoryContext;
	w->rel = table_open(relid, RowExclusiveLock);
	desc = RelationGetDescr(w->rel);
	w->natts = desc->natts;
	w->check_constraints = desc->constr != NULL &&
		(desc->constr->has_not_null || desc->constr->num_check > 0);
	w->estate = CreateExecutorState();
	w->rri = makeNode(ResultRelInfo);
	/*
	 * No range table entry (index 0): the executor then reads no column
	 * privileges of it, e.g. for the detail of a constraint's error.
	 */
	InitResultRelInfo(w->rri, w->rel, 0, NULL, 0);
	ExecOpenIndices(w->rri, false);
	w->bistate = GetBulkInsertState();
	w->cid = GetCurrentCommandId(true);
	for (i = 0; i < ROW_WRITER_BATCH; i++)
		w->slots[i] = table_slot_create(w->rel, NULL);
	w->update_slot = table_slot_create(w->rel, NULL);
}

/*
 * Many rows with index entries (inserted, or updated where the page had no
 * room: not HOT): the entries of the next ones go into the spool, sorted
 * and inserted in key order at the end.
 */
static void
writer_consider_spool(RowWriter *w)
{
	MemoryContext outer;

	if (w->indexed < ROW_WRITER_SPOOL_AFTER || w->spool_tried)
		return;
	outer = MemoryContextSwitchTo(w->cxt);
	w->spool = index_spool_begin(w->rri, w->rel);
	w->spool_tried = true;
	MemoryContextSwitchTo(outer);
}

/* the buffered rows into the table, then their index entries */
static void
writer_flush(RowWriter *w)
{
	MemoryContext outer;
	int			i;

	if (w->nslots == 0)
		return;
	outer = MemoryContextSwitchTo(GetPerTupleMemoryContext(w->estate));
	table_multi_insert(w->rel, w->slots, w->nslots, w->cid, 0, w->bistate);
	for (i = 0; i < w->nslots; i++)
	{
		if (w->spool != NULL)
			index_spool_put(w->spool, w->slots[i], w->estate);
		else if (w->rri->ri_NumIndices > 0)
		{
			List	   *recheck = hvc_insert_index_tuples(w->rri, w->slots[i], w->estate);

			list_free(recheck);
		}
		ExecClearTuple(w->slots[i]);
	}
	MemoryContextSwitchTo(outer);
	ResetPerTupleExprContext(w->estate);
	w->written += w->nslots;
	w->indexed += w->nslots;
	w->nslots = 0;
	writer_consider_spool(w);
}

/* the table's NOT NULL and CHECK constraints on the row in slot */
static void
check_constraints(RowWriter *w, TupleTableSlot *slot)
{
	MemoryContext outer;

	if (!w->check_constraints)
		return;
	outer = MemoryContextSwitchTo(GetPerTupleMemoryContext(w->estate));
	ExecConstraints(w->rri, slot, w->estate);
	MemoryContextSwitchTo(outer);
	ResetPerTupleExprContext(w->estate);
}

/*
 * The new row in place of the old one (an UPDATE: HOT, no index entry, when
 * the page has room); false when the old row is gone or changed since the
 * caller read it, and the caller inserts the row instead.
 */
static bool
writer_update(RowWriter *w, TupleTableSlot *slot, ItemPointer otid)
{
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	hvc_update_indexes update_indexes;
	TM_Result	res;

	res = table_tuple_update(w->rel, otid, slot, w->cid, GetActiveSnapshot(), InvalidSnapshot,
							 true, &tmfd, &lockmode, &update_indexes);
	switch (res)
	{
		case TM_Ok:
			break;
		case TM_Updated:
		case TM_Deleted:
			w->update_failed++;
			return false;
		default:
			elog(ERROR, "hvc: unexpected result %d updating a row of %s", (int) res,
				 RelationGetRelationName(w->rel));
	}
	if (w->rri->ri_NumIndices > 0 && hvc_update_needs_indexes(update_indexes))
	{
		MemoryContext outer = MemoryContextSwitchTo(GetPerTupleMemoryContext(w->estate));

		/*
		 * The spool is only used when every index is a plain btree, so the
		 * update needs all of them (never the summarizing ones alone).
		 */
		if (w->spool != NULL)
			index_spool_put(w->spool, slot, w->estate);
		else
			list_free(hvc_update_index_tuples(w->rri, slot, w->estate, update_indexes));
		MemoryContextSwitchTo(outer);
		ResetPerTupleExprContext(w->estate);
		w->indexed++;
		writer_consider_spool(w);
	}
	w->updated++;
	return true;
}

static void
store_row(RowWriter *w, TupleTableSlot *slot, const Datum *values, const bool *nulls)
{
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, w->natts * sizeof(Datum));
	memcpy(slot->tts_isnull, nulls, w->natts * sizeof(bool));
	ExecStoreVirtualTuple(slot);
	check_constraints(w, slot);
}

void
row_writer_put(RowWriter *w, const Datum *values, const bool *nulls, ItemPointer replace)
{
	TupleTableSlot *slot;
	MemoryContext outer = MemoryContextSwitchTo(w->cxt);

	if (replace != NULL && w->can_update && ItemPointerIsValid(replace))
	{
		bool		done;

		store_row(w, w->update_slot, values, nulls);
		done = writer_update(w, w->update_slot, replace);
		ExecClearTuple(w->update_slot);
		if (done)
		{
			w->written++;
			MemoryContextSwitchTo(outer);
			return;
		}
	}
	slot = w->slots[w->nslots];
	store_row(w, slot, values, nulls);
	/* the values live in the caller's per-row context: copy them now */
	ExecMaterializeSlot(slot);
	if (++w->nslots == ROW_WRITER_BATCH)
		writer_flush(w);
	MemoryContextSwitchTo(outer);
}

int64
row_writer_close(RowWriter *w)
{
	int			i;

	writer_flush(w);
	if (w->spool != NULL)
	{
		MemoryContext outer = MemoryContextSwitchTo(GetPerTupleMemoryContext(w->estate));

		index_spool_finish(w->spool);
		w->spool = NULL;
		MemoryContextSwitchTo(outer);
		ResetPerTupleExprContext(w->estate);
	}
	for (i = 0; i < ROW_WRITER_BATCH; i++)
		ExecDropSingleTupleTableSlot(w->slots[i]);
	ExecDropSingleTupleTableSlot(w->update_slot);
	FreeBulkInsertState(w->bistate);
	table_finish_bulk_insert(w->rel, 0);
	ExecCloseIndices(w->rri);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
	return w->written;
}
