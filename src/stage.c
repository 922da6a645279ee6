/*
 * stage.c — see stage.h.  The stage query runs into a DestReceiver that
 * takes each row's slot as it comes; each state is validated by the
 * deserialiser and summarised.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "stage.h"

#define STAGE_BATCH 10000

static void
count_rows(int64 *acc, int64 rows)
{
	if (pg_add_s64_overflow(*acc, rows, acc))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("hvc: the stage counts more than 2^63 rows")));
}

static void
bad_stage(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("hvc: %s", msg),
			 errdetail("pg_temp._hvc_stage must have the columns customer_id (the registered customer type) and state (bytea, from hvc.customer_state)."),
			 errhint("hvc.refresh() creates the stage; do not call hvc._fit_models or hvc._build_snapshot directly.")));
}

/* An as_of day the stage and the predictions can work with, or an error. */
void
stage_check_as_of_day(DateADT as_of_day)
{
	if (DATE_NOT_FINITE(as_of_day) || !IS_VALID_DATE(as_of_day) ||
		as_of_day >= TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("hvc: as_of day out of range"),
				 errhint("The as_of day must be a finite date within the timestamp range (4713 BC to 294276 AD).")));
}

/*
 * The stage as the refresh creates it: a temporary relation of this session
 * with customer_id of type key_type (any type when InvalidOid; domains count
 * as their base type) and state of type bytea.
 */
static void
check_stage_columns(TupleDesc desc, Oid key_type)
{
	Oid			t;

	if (desc == NULL || desc->natts < 2)
		bad_stage("the stage must have two columns");
	t = TupleDescAttr(desc, 1)->atttypid;
	if (getBaseType(t) != BYTEAOID)
		bad_stage(psprintf("the stage's state column has type %s, not bytea", format_type_be(t)));
	t = TupleDescAttr(desc, 0)->atttypid;
	if (OidIsValid(key_type) && getBaseType(t) != getBaseType(key_type))
		bad_stage(psprintf("the stage's customer_id column has type %s, not %s",
						   format_type_be(t), format_type_be(key_type)));
}

void
stage_check(Oid key_type)
{
	MemoryContext outer = CurrentMemoryContext;
	SPIPlanPtr	plan = SPI_prepare("SELECT customer_id, state FROM pg_temp._hvc_stage", 0, NULL);
	Portal		portal;

	if (plan == NULL)
		elog(ERROR, "hvc: could not prepare the stage query: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	MemoryContextSwitchTo(outer);
	check_stage_columns(portal->tupDesc, key_type);
	SPI_cursor_close(portal);
	SPI_freeplan(plan);
	MemoryContextSwitchTo(outer);
}

static void
append_customer(void *arg, const StageCustomer *c, TupleTableSlot *slot)
{
	Stage	   *stage = arg;

	if (stage->n == stage->cap)
	{
		stage->cap = Max(1024, stage->cap * 2);
		stage->customers = stage->customers == NULL
			? palloc(stage->cap * sizeof(StageCustomer))
			: repalloc_huge(stage->customers, stage->cap * sizeof(StageCustomer));
	}
	stage->customers[stage->n] = *c;
	stage->customers[stage->n].customer = datumCopy(c->customer, stage->typbyval, stage->typlen);
	stage->customers[stage->n].state = NULL;	/* freed with the batch */
	stage->n++;
}

/* Error when a customer's last purchase (a local timestamp) is after as_of_day. */
static void
check_last_purchase(int64 last_at, DateADT as_of_day)
{
	if (day_of_local_timestamp(last_at) > as_of_day)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: the stage has a purchase after the as_of day %s",
						DatumGetCString(DirectFunctionCall1(date_out,
															DateADTGetDatum(as_of_day)))),
				 errhint("hvc.refresh() builds the stage and the as_of day together; do not call hvc._fit_models or hvc._build_snapshot directly.")));
}

void
stage_customer_fill(StageCustomer *c, Datum key, const CustomerState *s,
					const CustomerSummary *sum, DateADT as_of_day)
{
	check_last_purchase(s->last_at, as_of_day);
	c->customer = key;
	c->state = s;
	c->orders = sum->orders;
	c->refunds = s->refund_rows;
	c->revenue = s->revenue;
	c->margin = s->margin;
	c->has_margin = s->margin_rows > 0;
	c->first_at = s->first_at;
	c->last_at = s->last_at;
	c->has_instants = s->has_instants;
	c->first_ts = s->first_ts;
	c->last_ts = s->last_ts;
	c->first_day = s->first_day;
	c->last_day = day_of_local_timestamp(s->last_at);
	c->purchase_days = sum->purchase_days;
	c->frequency = sum->frequency;
	c->monetary = sum->monetary_value;
}

void
stage_read(Stage *stage, Oid key_type, DateADT as_of_day)
{
	stage_scan(stage, "SELECT customer_id, state FROM pg_temp._hvc_stage", key_type, as_of_day,
			   append_customer, stage);
}

/* The receiver stage_scan runs its query into: one call per result row. */
typedef struct StageReceiver
{
	DestReceiver pub;
	Stage	   *stage;
	Oid			key_type;
	DateADT		as_of_day;
	stage_visit_fn visit;
	void	   *arg;
	bool		fields_only;	/* visits get states without their sets */
	MemoryContext outer;		/* the caller's: visit runs in it */
	MemoryContext scratch;		/* deserialised states, reset every STAGE_BATCH rows */
	int			pending;
} StageReceiver;

static void
stage_receiver_startup(DestReceiver *self, int operation, TupleDesc desc)
{
	StageReceiver *r = (StageReceiver *) self;

	check_stage_columns(desc, r->key_type);
	r->stage->customer_type = getBaseType(TupleDescAttr(desc, 0)->atttypid);
	get_typlenbyval(r->stage->customer_type, &r->stage->typlen, &r->stage->typbyval);
}

/*
 * Count one stage row's source rows (a keyless row's all as skipped);
 * whether it is a customer: keyed, with a purchase row (refunds only: not).
 */
static bool
count_stage_row(Stage *stage, bool key_null, int64 rows, int64 skipped, int64 purchase_rows)
{
	count_rows(&stage->rows_read, rows);
	count_rows(&stage->rows_skipped, key_null ? rows : skipped);
	if (key_null || purchase_rows == 0)
		return false;
	stage->customers_seen++;
	return true;
}

static bool
stage_receiver_slot(TupleTableSlot *slot, DestReceiver *self)
{
	StageReceiver *r = (StageReceiver *) self;
	Stage	   *stage = r->stage;
	MemoryContext caller = MemoryContextSwitchTo(r->scratch);
	bool		key_null,
				state_null;
	Datum		key = slot_getattr(slot, 1, &key_null);
	Datum		sd = slot_getattr(slot, 2, &state_null);
	bytea	   *b;
	CustomerState *s,
				fixed;
	CustomerSummary sum;
	StageCustomer c;

	CHECK_FOR_INTERRUPTS();
	if (++r->pending == STAGE_BATCH)
	{
		MemoryContextReset(r->scratch);
		r->pending = 0;
	}
	if (state_null)
	{
		MemoryContextSwitchTo(caller);
		return true;
	}
	b = DatumGetByteaPP(sd);
	if (r->visit == NULL)
	{
		/* counting only: the state's fixed fields, its sets not decoded */
		StatePeek	h;

		customer_state_peek(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &h);
		if (count_stage_row(stage, key_null, h.rows, h.skipped, h.purchase_rows))
			check_last_purchase(h.last_at, r->as_of_day);
	}
	else
	{
		if (r->fields_only)
		{
			/* counts, sums, times and set sizes: the sets not decoded */
			s = &fixed;
			customer_state_fixed(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), s);
			customer_state_summarize_fields(s, &sum);
		}
		else
		{
			s = customer_state_deserialize(r->scratch, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			customer_state_summarize(s, &sum);
		}
		MemoryContextSwitchTo(r->outer);
		if (count_stage_row(stage, key_null, s->rows, s->skipped, s->purchase_rows))
		{
			stage_customer_fill(&c, key, s, &sum, r->as_of_day);
			r->visit(r->arg, &c, slot);
		}
	}
	MemoryContextSwitchTo(caller);
	return true;
}

static void
stage_receiver_shutdown(DestReceiver *self)
{
}

static void
stage_receiver_destroy(DestReceiver *self)
{
}

/*
 * The query runs into a receiver that hands each row's slot to visit: no
 * copy of the rows into an SPI tuple table, no forming of heap tuples.
 */
static void
scan(Stage *stage, const char *query, Oid key_type, DateADT as_of_day,
	 stage_visit_fn visit, void *arg, bool fields_only, bool parallel_ok)
{
	MemoryContext outer = CurrentMemoryContext;
	StageReceiver r;
	SPIExecuteOptions options;
	SPIPlanPtr	plan;
	int			rc;

	stage_check_as_of_day(as_of_day);
	memset(stage, 0, sizeof(*stage));
	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = stage_receiver_slot;
	r.pub.rStartup = stage_receiver_startup;
	r.pub.rShutdown = stage_receiver_shutdown;
	r.pub.rDestroy = stage_receiver_destroy;
	r.pub.mydest = DestTuplestore;	/* a receiver of the caller's, as PL/pgSQL's RETURN QUERY */
	r.stage = stage;
	r.key_type = key_type;
	r.as_of_day = as_of_day;
	r.visit = visit;
	r.arg = arg;
	r.fields_only = fields_only;
	r.outer = outer;
	r.scratch = AllocSetContextCreate(outer, "hvc stage batch", ALLOCSET_DEFAULT_SIZES);

	plan = SPI_prepare_cursor(query, 0, NULL, parallel_ok ? CURSOR_OPT_PARALLEL_OK : 0);
	if (plan == NULL)
		elog(ERROR, "hvc: could not prepare the stage query: %s",
			 SPI_result_code_string(SPI_result));
	memset(&options, 0, sizeof(options));
	options.read_only = true;
	options.dest = &r.pub;
	rc = SPI_execute_plan_extended(plan, &options);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "hvc: the stage query failed: %s", SPI_result_code_string(rc));
	SPI_freeplan(plan);
	MemoryContextSwitchTo(outer);
	MemoryContextDelete(r.scratch);
}

void
stage_scan(Stage *stage, const char *query, Oid key_type, DateADT as_of_day,
		   stage_visit_fn visit, void *arg)
{
	scan(stage, query, key_type, as_of_day, visit, arg, false, false);
}

void
stage_scan_parallel(Stage *stage, const char *query, Oid key_type, DateADT as_of_day,
					stage_visit_fn visit, void *arg)
{
	scan(stage, query, key_type, as_of_day, visit, arg, false, true);
}

void
stage_scan_fields(Stage *stage, const char *query, Oid key_type, DateADT as_of_day,
				  stage_visit_fn visit, void *arg)
{
	scan(stage, query, key_type, as_of_day, visit, arg, true, false);
}
