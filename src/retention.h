/*
 * retention.h — the cohort counts of a refresh (retention.c): per
 * first-purchase month and month offset, the customers with a purchase day
 * in that month.  The builder's pass 1 adds every customer's state as it
 * streams by (snapshot_builder.c); hvc._snapshot_stats hands the counts, as
 * (key, customers) pairs sorted by key, to hvc._cohort_rows.
 */
#ifndef HVC_RETENTION_H
#define HVC_RETENTION_H

#include "postgres.h"

#include "customer_state.h"

typedef struct CohortCounts CohortCounts;

extern CohortCounts *cohort_counts_create(MemoryContext cxt);
extern void cohort_counts_add(CohortCounts *cc, const CustomerState *s);
/* the counts as hvc._cohort_rows reads them, in CurrentMemoryContext */
extern bytea *cohort_counts_bytes(CohortCounts *cc);

#endif
