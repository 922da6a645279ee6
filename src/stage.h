/*
 * stage.h — reading the refresh's stage table (_hvc_stage: one row per
 * customer key with its serialised hvc.customer_state) into memory.
 */
#ifndef HVC_STAGE_H
#define HVC_STAGE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "utils/date.h"

#include "customer_state.h"

/* One customer with at least one purchase, as the later steps need it. */
typedef struct StageCustomer
{
	Datum		customer;		/* key, copied into the stage's context */
	int64		orders;
	int64		refunds;
	int64		revenue;		/* ten-thousandths */
	int64		margin;			/* ten-thousandths */
	bool		has_margin;
	int64		first_at;		/* local timestamps */
	int64		last_at;
	bool		has_instants;	/* and instants, when known (customer_state.h) */
	int64		first_ts;
	int64		last_ts;
	DayNumber	first_day;
	DayNumber	last_day;
	int32		purchase_days;
	int32		frequency;		/* purchase_days - 1 */
	double		monetary;		/* mean spend of repeat purchase days */
	const CustomerState *state; /* the decoded state: during a visit only */
} StageCustomer;

typedef struct Stage
{
	StageCustomer *customers;
	int64		n;				/* customers in the array (stage_read) */
	int64		cap;
	int64		customers_seen; /* customers visited (stage_scan) */
	int64		rows_read;
	int64		rows_skipped;	/* skipped rows, NULL-customer rows included */
	Oid			customer_type;
	int16		typlen;
	bool		typbyval;
} Stage;

/*
 * Stream a stage query: its first two columns are customer_id (of type
 * key_type, any type if InvalidOid) and state (bytea); further columns are
 * the caller's.  visit is called once per customer with a purchase, with the
 * summary (c->customer points into the row: copy it to keep it) and the
 * row's slot (slot_getattr for the caller's columns; valid during the call),
 * in the caller's memory context; rows read and skipped are counted in
 * *stage (whose customers array stays NULL).  Without a visit (NULL) only
 * the counts are taken, from each state's fixed fields (the sets are not
 * decoded).  Needs SPI connected; the caller's CurrentMemoryContext is
 * current again on return.  Memory: the states of up to STAGE_BATCH rows,
 * whatever the stage's size.
 */
/*
 * The summary of a customer with at least one purchase row (s->purchase_rows
 * > 0) from its deserialised state: error when a purchase lies after
 * as_of_day.  Shared by stage_scan and the row-wise hvc._citus_predict.
 */
extern void stage_check_as_of_day(DateADT as_of_day);
extern void stage_customer_fill(StageCustomer *c, Datum key, const CustomerState *s,
								const CustomerSummary *sum, DateADT as_of_day);

/* Error unless _hvc_stage has the columns the refresh creates (SPI connected). */
extern void stage_check(Oid key_type);

typedef void (*stage_visit_fn) (void *arg, const StageCustomer *c, TupleTableSlot *slot);

extern void stage_scan(Stage *stage, const char *query, Oid key_type, DateADT as_of_day,
					   stage_visit_fn visit, void *arg);
/*
 * The same, with a plan that may use parallel workers (a query run to its
 * end, as stage_scan's are): visit runs in the leader while the query is in
 * parallel mode, so it must not write to the database.
 */
extern void stage_scan_parallel(Stage *stage, const char *query, Oid key_type, DateADT as_of_day,
								stage_visit_fn visit, void *arg);
/*
 * The same, each state read without its sets (customer_state_fixed): the
 * visit's c->state has no days or orders (NULL), only their counts.  For
 * readers of the summary alone: the model fits.  A state whose sets are
 * corrupt passes here; the builder's decode of the same stage rejects it.
 */
extern void stage_scan_fields(Stage *stage, const char *query, Oid key_type, DateADT as_of_day,
							  stage_visit_fn visit, void *arg);

/*
 * Read all of _hvc_stage (needs SPI connected), checking that its columns
 * are customer_id of type key_type (any type if InvalidOid) and state bytea,
 * and that no purchase lies after as_of_day (a date in the timestamp range).  Everything is allocated in
 * the caller's CurrentMemoryContext, which is current again on return (SPI
 * calls leave SPI's procedure context current, which SPI_finish frees).
 */
extern void stage_read(Stage *stage, Oid key_type, DateADT as_of_day);

#endif
