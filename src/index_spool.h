/*
 * index_spool.h — the index entries of many new row versions of one table
 * (inserted, or updated where HOT was not possible), sorted
 * per index and inserted in key order at the end (index_spool.c), for the
 * row writer (row_writer.c).
 */
#ifndef HVC_INDEX_SPOOL_H
#define HVC_INDEX_SPOOL_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"

typedef struct IndexSpool IndexSpool;

/*
 * A spool for the indexes rri has open on heap, or NULL when it has none or
 * one of them needs more than index_insert (anything but a plain btree: a
 * unique, partial, expression or exclusion index, or one not ready for
 * inserts): its entries must then go in row by row, as the executor's.
 * Allocated in the current memory context; the sorts spill beyond work_mem.
 */
extern IndexSpool *index_spool_begin(ResultRelInfo *rri, Relation heap);
/* the entries of the row just inserted or updated in slot (its tts_tid set) */
extern void index_spool_put(IndexSpool *sp, TupleTableSlot *slot, EState *estate);
/* every entry into its index in key order; frees the spool */
extern void index_spool_finish(IndexSpool *sp);

#endif
