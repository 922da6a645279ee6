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
 *     row is inserted, in batches (row_writer.c: one WAL record per heap
 *     page instead of one per row, as COPY does), with its index entries.
 *     The old row of such a move stays until the refresh's DELETE (the
 *     tier history takes the rank that tier had from pass 1's copy of the
 *     old row, snapshot_old_tier_rank).
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

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_publication.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "row_writer.h"
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

	if (!row_writer_plain_table(rel, SNAPSHOT_NATTS) ||
		(desc->constr != NULL && desc->constr->num_check > 0))
		return false;
	/* the executor checks a published table's replica identity for updates */
	RelationBuildPublicationDesc(rel, &pub);
	if (pub.pubactions.pubupdate)
		return false;
	for (i = 0; i < SNAPSHOT_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			want = i == 0 ? key_type : column_types[i];

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
	Relation	rel = table_open(hvc_source_table("customer_snapshot"), AccessShareLock);
	bool		ok = relation_writable(rel, getBaseType(TupleDescAttr(RelationGetDescr(rel), 0)->atttypid)) &&
		TupleDescAttr(RelationGetDescr(rel), 0)->atttypid ==
		getBaseType(TupleDescAttr(RelationGetDescr(rel), 0)->atttypid);

	table_close(rel, AccessShareLock);
	PG_RETURN_BOOL(ok);
}

void
snapshot_writer_open(RowWriter *w, Oid key_type)
{
	row_writer_open(w, hvc_source_table("customer_snapshot"), "customer_snapshot");
	if (!relation_writable(w->rel, key_type))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hvc: hvc.customer_snapshot cannot be written directly"),
				 errdetail("It has triggers, rules, row-level security, CHECK constraints or other columns than the builder makes."),
				 errhint("hvc.refresh() checks hvc._snapshot_writable() and inserts hvc._build_snapshot's rows otherwise; do not call hvc._write_snapshot directly.")));
}
