/*
 * snapshot_write.c — the rows of a refresh straight into
 * hvc.customer_snapshot (hvc._write_snapshot, see snapshot.h), instead of
 * INSERT ... SELECT * FROM hvc._build_snapshot(...):
 *
 *   - a customer already in the snapshot (who stays in the tier or moves,
 *     snapshot_replaces_old): the old row is updated in place
 *     (table_tuple_update).  The table keeps half of each page free
 *     (fillfactor 50), so the update is HOT: same page, no new index entry,
 *     and no DELETE of the old row afterwards.  The new row carries what
 *     the tier history needs of the old (previous_tier);
 *   - a new customer, or a move out of a tier renamed or dropped since: the
 *     row is inserted, in batches through table_multi_insert with a
 *     BulkInsertState (one WAL record per heap page instead of one per row,
 *     as COPY does), with its index entries through ExecInsertIndexTuples.
 *     The old row of such a move stays until the refresh's DELETE: the tier
 *     history reads the old tier's rank from it.
 *
 * Every write is WAL-logged like any insert or update and belongs to the
 * refresh's transaction: readers see the old rows until it commits.
 *
 * Only for the table register_source creates: a plain table whose columns
 * are exactly those of the snapshot, without triggers (foreign keys and
 * deferrable constraints are triggers), rules, row-level security, CHECK
 * constraints or a publication of updates — the executor's work this path
 * does not do.  For any other
 * table hvc._snapshot_writable() is false and the refresh takes the INSERT.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "access/heapam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_publication.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "snapshot.h"

PG_FUNCTION_INFO_V1(hvc_snapshot_writable);

#define NUMERIC_20_2 ((int32) (((20 << 16) | 2) + VARHDRSZ))

/* the type of each column of hvc.customer_snapshot but the key (column 1) */
static const Oid column_types[SNAPSHOT_NATTS] = {
	InvalidOid, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT4OID, INT8OID,
	NUMERICOID, NUMERICOID, NUMERICOID, INT4OID, INT4OID, FLOAT8OID,
	INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT4OID, INT4OID, INT4OID,
	TEXTOID, TEXTOID, NUMERICOID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
	NUMERICOID, NUMERICOID, DATEOID, NUMERICOID, INT8OID, FLOAT8OID,
	TEXTOID, INT4OID, BOOLOID, TEXTOID, TIMESTAMPTZOID, INT8OID, FLOAT8OID
};

static Oid
snapshot_relid(void)
{
	Oid			nsp = get_namespace_oid("hvc", false);
	Oid			rel = get_relname_relid("customer_snapshot", nsp);

	if (!OidIsValid(rel))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("hvc: hvc.customer_snapshot is missing"),
				 errhint("Register the source again with hvc.register_source() and refresh.")));
	return rel;
}

/*
 * Whether the rows may go straight into rel: the columns the builder makes
 * (the key of type key_type, or any type when InvalidOid), nothing the
 * executor would have to run.  Numeric columns of type numeric(20,2) take
 * the builder's values as they are: they have two decimals and fewer than
 * 18 digits before the point (sums of int64 cents), so the INSERT's
 * coercion would leave them bit for bit the same.
 */
static bool
relation_writable(Relation rel, Oid key_type)
{
	TupleDesc	desc = RelationGetDescr(rel);
	PublicationDesc pub;
	int			i;

	/* the relcache's triggers and rules (pg_class's flags lag behind a DROP) */
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->trigdesc != NULL || rel->rd_rules != NULL ||
		rel->rd_rel->relrowsecurity || desc->natts != SNAPSHOT_NATTS ||
		(desc->constr != NULL && (desc->constr->num_check > 0 || desc->constr->has_generated_stored)))
		return false;
	/* the executor checks a published table's replica identity for updates */
	RelationBuildPublicationDesc(rel, &pub);
	if (pub.pubactions.pubupdate)
		return false;
	for (i = 0; i < SNAPSHOT_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			want = i == 0 ? key_type : column_types[i];

		if (att->attisdropped)
			return false;
		if (i == 0 && !OidIsValid(key_type))
			continue;
		if (att->atttypid != want)
			return false;
		if (want == NUMERICOID && att->atttypmod != -1 && att->atttypmod != NUMERIC_20_2)
			return false;
	}
	return true;
}

/*
 * hvc._snapshot_writable() RETURNS boolean: whether hvc._write_snapshot can
 * write hvc.customer_snapshot (a key column of a domain type takes the
 * INSERT, which checks the domain's constraints).
 */
Datum
hvc_snapshot_writable(PG_FUNCTION_ARGS)
{
	Relation	rel = table_open(snapshot_relid(), AccessShareLock);
	bool		ok = relation_writable(rel, getBaseType(TupleDescAttr(RelationGetDescr(rel), 0)->atttypid)) &&
		TupleDescAttr(RelationGetDescr(rel), 0)->atttypid ==
		getBaseType(TupleDescAttr(RelationGetDescr(rel), 0)->atttypid);

	table_close(rel, AccessShareLock);
	PG_RETURN_BOOL(ok);
}

void
snapshot_writer_open(SnapshotWriter *w, Oid key_type)
{
	Oid			relid = snapshot_relid();
	AclResult	acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	int			i;

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, "customer_snapshot");
	memset(w, 0, sizeof(*w));
	/* a role that may not update the table gets every row inserted */
	w->can_update = pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) == ACLCHECK_OK;
	w->cxt = CurrentMemoryContext;
	w->rel = table_open(relid, RowExclusiveLock);
	if (!relation_writable(w->rel, key_type))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hvc: hvc.customer_snapshot cannot be written directly"),
				 errdetail("It has triggers, rules, row-level security, CHECK constraints or other columns than the builder makes."),
				 errhint("hvc.refresh() checks hvc._snapshot_writable() and inserts hvc._build_snapshot's rows otherwise; do not call hvc._write_snapshot directly.")));
	w->estate = CreateExecutorState();
	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, w->rel, 1, NULL, 0);
	ExecOpenIndices(w->rri, false);
	w->bistate = GetBulkInsertState();
	w->cid = GetCurrentCommandId(true);
	for (i = 0; i < SNAPSHOT_WRITE_BATCH; i++)
		w->slots[i] = table_slot_create(w->rel, NULL);
	w->update_slot = table_slot_create(w->rel, NULL);
}

/* the buffered rows into the table, then their index entries */
static void
writer_flush(SnapshotWriter *w)
{
	MemoryContext outer;
	int			i;

	if (w->nslots == 0)
		return;
	outer = MemoryContextSwitchTo(GetPerTupleMemoryContext(w->estate));
	table_multi_insert(w->rel, w->slots, w->nslots, w->cid, 0, w->bistate);
	for (i = 0; i < w->nslots; i++)
	{
		if (w->rri->ri_NumIndices > 0)
		{
			List	   *recheck = hvc_insert_index_tuples(w->rri, w->slots[i], w->estate);

			list_free(recheck);
		}
		ExecClearTuple(w->slots[i]);
	}
	MemoryContextSwitchTo(outer);
	ResetPerTupleExprContext(w->estate);
	w->written += w->nslots;
	w->nslots = 0;
}

static void
check_not_null(SnapshotWriter *w, const bool *nulls)
{
	TupleDesc	desc = RelationGetDescr(w->rel);
	int			i;

	for (i = 0; i < SNAPSHOT_NATTS; i++)
		if (nulls[i] && TupleDescAttr(desc, i)->attnotnull)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
							NameStr(TupleDescAttr(desc, i)->attname), RelationGetRelationName(w->rel))));
}

/*
 * The new row in place of the old one (an UPDATE: HOT, no index entry, when
 * the page has room, as it has once the previous refresh's dead rows are
 * pruned); false when the old row is gone or changed since pass 1 read it
 * (nothing else writes the snapshot under the refresh lock; hvc.forget
 * takes the lock too), and the caller inserts the row instead.
 */
static bool
writer_update(SnapshotWriter *w, const Datum *values, const bool *nulls, ItemPointer otid)
{
	TupleTableSlot *slot = w->update_slot;
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	hvc_update_indexes update_indexes;
	TM_Result	res;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, SNAPSHOT_NATTS * sizeof(Datum));
	memcpy(slot->tts_isnull, nulls, SNAPSHOT_NATTS * sizeof(bool));
	ExecStoreVirtualTuple(slot);
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
			elog(ERROR, "hvc: unexpected result %d updating a row of hvc.customer_snapshot", (int) res);
	}
	if (w->rri->ri_NumIndices > 0 && hvc_update_needs_indexes(update_indexes))
	{
		MemoryContext outer = MemoryContextSwitchTo(GetPerTupleMemoryContext(w->estate));

		list_free(hvc_update_index_tuples(w->rri, slot, w->estate, update_indexes));
		MemoryContextSwitchTo(outer);
		ResetPerTupleExprContext(w->estate);
	}
	ExecClearTuple(slot);
	w->updated++;
	return true;
}

void
snapshot_writer_put(SnapshotWriter *w, const Datum *values, const bool *nulls, ItemPointer replace)
{
	TupleTableSlot *slot;
	MemoryContext outer = MemoryContextSwitchTo(w->cxt);

	check_not_null(w, nulls);
	if (replace != NULL && w->can_update && ItemPointerIsValid(replace) &&
		writer_update(w, values, nulls, replace))
	{
		w->written++;
		MemoryContextSwitchTo(outer);
		return;
	}
	slot = w->slots[w->nslots];
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, SNAPSHOT_NATTS * sizeof(Datum));
	memcpy(slot->tts_isnull, nulls, SNAPSHOT_NATTS * sizeof(bool));
	ExecStoreVirtualTuple(slot);
	/* the values live in the caller's per-row context: copy them now */
	ExecMaterializeSlot(slot);
	if (++w->nslots == SNAPSHOT_WRITE_BATCH)
		writer_flush(w);
	MemoryContextSwitchTo(outer);
}

int64
snapshot_writer_close(SnapshotWriter *w)
{
	int			i;

	writer_flush(w);
	for (i = 0; i < SNAPSHOT_WRITE_BATCH; i++)
		ExecDropSingleTupleTableSlot(w->slots[i]);
	ExecDropSingleTupleTableSlot(w->update_slot);
	FreeBulkInsertState(w->bistate);
	table_finish_bulk_insert(w->rel, 0);
	ExecCloseIndices(w->rri);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
	return w->written;
}
