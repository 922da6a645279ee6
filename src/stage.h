/*
 * stage.h — reading the refresh's stage table (_hvc_stage: one row per
 * customer key with its serialised hvc.customer_state) into memory.
 */
#ifndef HVC_STAGE_H
#define HVC_STAGE_H

#include "postgres.h"

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
	DayNumber	first_day;
	DayNumber	last_day;
	int32		purchase_days;
	int32		frequency;		/* purchase_days - 1 */
	double		monetary;		/* mean spend of repeat purchase days */
} StageCustomer;

typedef struct Stage
{
	StageCustomer *customers;
	int64		n;
	int64		rows_read;
	int64		rows_skipped;	/* skipped rows, NULL-customer rows included */
	Oid			customer_type;
	int16		typlen;
	bool		typbyval;
} Stage;

/*
 * Read all of _hvc_stage (needs SPI connected), checking that its columns
 * are customer_id of type key_type (any type if InvalidOid) and state bytea,
 * and that no purchase lies after as_of_day (a date in the timestamp range).  Everything is allocated in
 * the caller's CurrentMemoryContext, which is current again on return (SPI
 * calls leave SPI's procedure context current, which SPI_finish frees).
 */
extern void stage_read(Stage *stage, Oid key_type, DateADT as_of_day);

#endif
