/*
 * stage.c — see stage.h.  The stage is read through an SPI cursor in
 * batches; each state is validated by the deserialiser and summarised.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "executor/spi.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "stage.h"

#define STAGE_BATCH 10000

void
stage_read(Stage *stage)
{
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext scratch;
	Portal		portal;
	SPIPlanPtr	plan;
	int64		cap = 1024;

	memset(stage, 0, sizeof(*stage));
	stage->customers = palloc(cap * sizeof(StageCustomer));

	plan = SPI_prepare("SELECT customer_id, state FROM pg_temp._hvc_stage", 0, NULL);
	if (plan == NULL)
		elog(ERROR, "hvc: could not prepare the stage query: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	scratch = AllocSetContextCreate(outer, "hvc stage batch", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		uint64		i;
		TupleDesc	desc;

		SPI_cursor_fetch(portal, true, STAGE_BATCH);
		/* SPI calls return in SPI's own context, freed by SPI_finish */
		MemoryContextSwitchTo(outer);
		if (SPI_processed == 0)
			break;
		desc = SPI_tuptable->tupdesc;
		if (stage->customer_type == InvalidOid)
		{
			stage->customer_type = SPI_gettypeid(desc, 1);
			get_typlenbyval(stage->customer_type, &stage->typlen, &stage->typbyval);
		}
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		key_null,
						state_null;
			Datum		key = SPI_getbinval(tup, desc, 1, &key_null);
			Datum		sd = SPI_getbinval(tup, desc, 2, &state_null);
			bytea	   *b;
			CustomerState *s;
			CustomerSummary sum;
			StageCustomer *c;

			if (state_null)
				continue;
			MemoryContextSwitchTo(scratch);
			b = DatumGetByteaPP(sd);
			s = customer_state_deserialize(scratch, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			customer_state_summarize(s, &sum);
			MemoryContextSwitchTo(outer);

			stage->rows_read += s->rows;
			if (key_null)
			{
				stage->rows_skipped += s->rows;		/* guest rows */
				continue;
			}
			stage->rows_skipped += s->skipped;
			if (s->purchase_rows == 0)
				continue;		/* refunds only: not a customer */

			if (stage->n == cap)
			{
				cap *= 2;
				stage->customers = repalloc_huge(stage->customers, cap * sizeof(StageCustomer));
			}
			c = &stage->customers[stage->n++];
			c->customer = datumCopy(key, stage->typbyval, stage->typlen);
			c->orders = sum.orders;
			c->refunds = s->refund_rows;
			c->revenue = s->revenue;
			c->margin = s->margin;
			c->has_margin = s->margin_rows > 0;
			c->first_at = s->first_at;
			c->last_at = s->last_at;
			c->first_day = s->first_day;
			c->last_day = day_of_local_timestamp(s->last_at);
			c->purchase_days = sum.purchase_days;
			c->frequency = sum.frequency;
			c->monetary = sum.monetary_value;
		}
		MemoryContextReset(scratch);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	MemoryContextSwitchTo(outer);
	MemoryContextDelete(scratch);
}
