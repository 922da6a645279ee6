/*
 * row_writer.h — rows straight into one table, as COPY writes them
 * (row_writer.c): inserts in batches through table_multi_insert with a
 * BulkInsertState (one WAL record per heap page instead of one per row) and
 * their index entries through ExecInsertIndexTuples (past
 * ROW_WRITER_SPOOL_AFTER rows, sorted and inserted in key order at the end,
 * those of updates that could not be HOT too);
 * optionally an old row updated in place.  Every write is WAL-logged like any insert or update and
 * belongs to the caller's transaction.
 *
 * Only for tables whose shape the caller has checked (row_writer_plain_table:
 * no triggers, rules or row-level security, the executor's work this path
 * does not do).  NOT NULL
 * and CHECK constraints are checked (ExecConstraints) when the table has any.
 * Users: the refresh's snapshot rows (snapshot_write.c) and tier moves
 * (history_write.c).
 */
#ifndef HVC_ROW_WRITER_H
#define HVC_ROW_WRITER_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#define ROW_WRITER_BATCH 1000

/*
 * After this many rows with index entries (inserted, or updated without
 * HOT), the index entries of the rest are spooled and inserted in key order
 * when the writer closes (index_spool.h), when every index of the table
 * allows it.
 */
#define ROW_WRITER_SPOOL_AFTER 10000

typedef struct RowWriter
{
	Relation	rel;
	int			natts;
	bool		check_constraints;	/* the table has NOT NULL or CHECK constraints */
	struct EState *estate;
	struct ResultRelInfo *rri;
	struct BulkInsertStateData *bistate;
	TupleTableSlot *slots[ROW_WRITER_BATCH];
	TupleTableSlot *update_slot;
	bool		can_update;		/* UPDATE privilege on the table */
	int64		updated;
	int64		update_failed;
	int			nslots;
	CommandId	cid;
	MemoryContext cxt;
	int64		written;
	int64		indexed;		/* rows inserted or updated with new index entries */
	struct IndexSpool *spool;	/* the index entries of later rows */
	bool		spool_tried;
} RowWriter;

/*
 * The oid of hvc.<name>, one of the tables register_source creates: an
 * error (42P01, re-register) when it is missing
 */
extern Oid	hvc_source_table(const char *name);

/*
 * Whether rel is a table this writer may write without the executor's work
 * it does not do: a plain table (no partitions, views or foreign tables)
 * without triggers, rules, row-level security or stored generated columns,
 * with natts columns and none dropped.  The caller checks the columns' types.
 */
extern bool row_writer_plain_table(Relation rel, int natts);

/*
 * Opens relid (RowExclusiveLock) for writing by the current user: an error
 * without INSERT privilege; updates only with UPDATE privilege (can_update).
 * name is the table's name for the privilege error.
 */
extern void row_writer_open(RowWriter *w, Oid relid, const char *name);
/*
 * One row (natts values, copied): it updates the row at replace in place
 * when replace is given, the role may update and that row is still the
 * one the caller read; else it is inserted (batched).
 */
extern void row_writer_put(RowWriter *w, const Datum *values, const bool *nulls,
						   ItemPointer replace);
/* flushes the batch, closes the table (lock kept); the rows written */
extern int64 row_writer_close(RowWriter *w);

#endif
