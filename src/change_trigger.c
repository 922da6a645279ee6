/*
 * change_trigger.c — hvc._record_changes(), the statement trigger of
 * track_changes 'trigger' (AFTER INSERT / UPDATE / DELETE / TRUNCATE, with
 * transition tables hvc_new and hvc_old; 62_incremental.sql,
 * 63_row_log.sql).
 *
 * Per statement it checks the key column (the trigger's argument: its type
 * must be hvc.changed_customers.customer_id's or a domain directly over
 * it), then runs the statement that logs what changed: the inserted rows,
 * or an update's changed old and new rows, into hvc.inserted_rows (made by
 * hvc._row_log_insert and hvc._row_log_update, which check the table and
 * its column types), or else the keys into hvc.changed_customers.  Those
 * statements are planned once a session here and kept (SPI_keepplan);
 * the plpgsql trigger before parsed and planned them at every statement
 * (EXECUTE), about 125 us of a one-row INSERT statement and 235 us of a
 * one-row UPDATE.
 *
 * A kept statement serves while what it was made from stands: the
 * registration (the version of hvc.source's row), the row log (its oid) and
 * the catalog (any relcache invalidation, which every ALTER TABLE, trigger
 * change and re-registration sends, forgets every kept statement: it is
 * made again at the next statement).
 *
 * It never fails the write for a reason of hvc's: the work runs in a
 * subtransaction, and an error becomes a row of hvc.state_invalidations
 * (the next refresh is full) or, if even that fails, nothing.  A query
 * cancel still cancels the write, as plpgsql's WHEN OTHERS lets it through.
 * It runs as hvc's owner (SECURITY DEFINER, search_path pinned) and runs no
 * cast, operator or function the table's owner could define: the statements
 * copy columns of the log's own types (or domains over them) and compare
 * only built-in types (63_row_log.sql).
 */
#include "postgres.h"
#include "pg_compat.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

PG_FUNCTION_INFO_V1(hvc_record_changes);

/* a table with its INSERT, UPDATE and DELETE triggers needs three */
#define KEPT_MAX 8

typedef struct KeptStatement
{
	Oid			relid;
	TriggerEvent op;			/* TRIGGER_EVENT_INSERT, _UPDATE or _DELETE */
	NameData	key;			/* the trigger's key column */
	char	   *made_from;		/* the registration and log it was made for; NULL: a free slot */
	SPIPlanPtr	plan;			/* kept (SPI_keepplan) */
} KeptStatement;

static KeptStatement kept[KEPT_MAX];
static int	kept_next = 0;		/* the slot to reuse when all are taken */
static bool kept_stale = false; /* a relcache invalidation came since */
static bool callback_set = false;
static SPIPlanPtr check_plan = NULL;
static int	depth = 0;			/* calls under way (a write inside a write) */

/* per statement: the key column's type, and what the kept statements need */
static const char *const check_sql =
"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a, pg_catalog.pg_attribute k, pg_catalog.pg_type t"
"                WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped"
"                  AND t.oid = a.atttypid"
"                  AND k.attrelid = pg_catalog.to_regclass('hvc.changed_customers')"
"                  AND k.attname = 'customer_id' AND k.atttypid IN (a.atttypid, t.typbasetype)),"
"       pg_catalog.concat_ws('|', (SELECT s.xmin FROM hvc.source s LIMIT 1), l.log::pg_catalog.oid),"
"       l.log IS NOT NULL"
"  FROM (SELECT pg_catalog.to_regclass('hvc.inserted_rows') AS log) l";

static void
forget_on_invalidation(Datum arg, Oid relid)
{
	kept_stale = true;
}

/* every kept statement freed (only between calls: none is running) */
static void
forget_kept(void)
{
	int			i;

	for (i = 0; i < KEPT_MAX; i++)
	{
		if (kept[i].plan != NULL)
			SPI_freeplan(kept[i].plan);
		if (kept[i].made_from != NULL)
			pfree(kept[i].made_from);
		memset(&kept[i], 0, sizeof(kept[i]));
	}
	kept_stale = false;
}

static KeptStatement *
find_kept(Oid relid, TriggerEvent op, const char *key, const char *made_from)
{
	int			i;

	for (i = 0; i < KEPT_MAX; i++)
		if (kept[i].made_from != NULL && kept[i].relid == relid && kept[i].op == op &&
			strcmp(NameStr(kept[i].key), key) == 0 && strcmp(kept[i].made_from, made_from) == 0)
			return &kept[i];
	return NULL;
}

/*
 * The statement that logs a statement's rows, as the SQL functions make it,
 * or else (they return NULL, or the row log is gone) the one that records
 * its keys.
 */
static char *
logging_sql(Oid relid, TriggerEvent op, const char *key, bool has_log)
{
	const char *fn = NULL;
	const char *k = quote_identifier(key);

	if (op == TRIGGER_EVENT_INSERT && has_log)
		fn = "SELECT hvc._row_log_insert($1)";
	else if (op == TRIGGER_EVENT_UPDATE)
		fn = "SELECT hvc._row_log_update($1)";
	if (fn != NULL)
	{
		Oid			argtypes[1] = {OIDOID};
		Datum		args[1] = {ObjectIdGetDatum(relid)};
		bool		isnull;
		Datum		q;

		if (SPI_execute_with_args(fn, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "hvc: %s returned no row", fn);
		q = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			return TextDatumGetCString(q);
	}
	switch (op)
	{
		case TRIGGER_EVENT_INSERT:
			return psprintf("INSERT INTO hvc.changed_customers (customer_id) SELECT n.%s FROM hvc_new n", k);
		case TRIGGER_EVENT_UPDATE:
			return psprintf("INSERT INTO hvc.changed_customers (customer_id) SELECT n.%s FROM hvc_new n"
							" UNION ALL SELECT o.%s FROM hvc_old o", k, k);
		default:
			return psprintf("INSERT INTO hvc.changed_customers (customer_id) SELECT o.%s FROM hvc_old o", k);
	}
}

/* the kept statement for this table, event and key, made when missing */
static SPIPlanPtr
statement_for(TriggerData *td, TriggerEvent op, const char *key, const char *made_from, bool has_log)
{
	Oid			relid = RelationGetRelid(td->tg_relation);
	KeptStatement *ks = find_kept(relid, op, key, made_from);
	char	   *sql;
	SPIPlanPtr	plan;

	if (ks != NULL)
		return ks->plan;
	sql = logging_sql(relid, op, key, has_log);
	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "hvc: could not prepare the change log statement: %s", SPI_result_code_string(SPI_result));
	/*
	 * Inside another call (a write inside a write) a kept statement may be
	 * running: none is freed then, and this one lives as long as its SPI
	 * connection.
	 */
	if (depth > 1)
		return plan;
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "hvc: could not keep the change log statement");
	ks = &kept[kept_next];
	kept_next = (kept_next + 1) % KEPT_MAX;
	if (ks->plan != NULL)
		SPI_freeplan(ks->plan);
	if (ks->made_from != NULL)
		pfree(ks->made_from);
	ks->relid = relid;
	ks->op = op;
	namestrcpy(&ks->key, key);
	ks->made_from = MemoryContextStrdup(TopMemoryContext, made_from);
	ks->plan = plan;
	return plan;
}

/* a row of hvc.state_invalidations: the next refresh reads the whole source */
static void
invalidate_states(const char *reason)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(reason)};

	if (SPI_execute_with_args("INSERT INTO hvc.state_invalidations (reason) VALUES ($1)",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "hvc: could not record an invalidation of the stored states");
}

/* what one statement of the table changed, into hvc's logs (in SPI) */
static void
record_statement(TriggerData *td)
{
	TriggerEvent op = td->tg_event & TRIGGER_EVENT_OPMASK;
	Oid			argtypes[2] = {OIDOID, NAMEOID};
	Datum		args[2];
	NameData	key;
	bool		key_ok,
				has_log,
				isnull;
	char	   *made_from;
	SPIPlanPtr	plan;

	if (op == TRIGGER_EVENT_TRUNCATE)
	{
		invalidate_states("TRUNCATE of the source");
		return;
	}
	namestrcpy(&key, td->tg_trigger->tgnargs > 0 ? td->tg_trigger->tgargs[0] : "");
	if (check_plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(check_sql, 2, argtypes);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "hvc: could not prepare the change triggers' check");
		check_plan = p;
	}
	args[0] = ObjectIdGetDatum(RelationGetRelid(td->tg_relation));
	args[1] = NameGetDatum(&key);
	if (SPI_execute_plan(check_plan, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "hvc: the change triggers' check returned no row");
	/* (EXISTS, concat_ws and IS NOT NULL are never NULL) */
	key_ok = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	made_from = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	has_log = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (!key_ok)
	{
		invalidate_states("the change triggers found no key column of the type of hvc.changed_customers");
		return;
	}
	plan = statement_for(td, op, NameStr(key), made_from, has_log);
	if (SPI_execute_plan(plan, NULL, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "hvc: the change log statement did not insert");
}

/* the work of one call in a subtransaction of its own; errors swallowed but a cancel */
static bool
in_subtransaction(void (*work) (TriggerData *, const char *), TriggerData *td, const char *arg,
				  int *sqlstate)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "hvc: SPI_connect failed");
		if (td != NULL && SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
			elog(ERROR, "hvc: could not register the transition tables");
		work(td, arg);
		SPI_finish();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);
		*sqlstate = edata->sqlerrcode;
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

static void
record_work(TriggerData *td, const char *arg)
{
	record_statement(td);
}

static void
invalidate_work(TriggerData *td, const char *arg)
{
	invalidate_states(arg);
}

/*
 * hvc._record_changes() RETURNS trigger: see the header.  Anything but an
 * AFTER ... FOR EACH STATEMENT trigger is an error (39P01).
 */
Datum
hvc_record_changes(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	int			sqlstate = 0;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) ||
		!TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("hvc._record_changes() runs only as an AFTER ... FOR EACH STATEMENT trigger"),
				 errhint("hvc.register_source(..., track_changes => 'trigger') creates the triggers.")));
	if (!callback_set)
	{
		CacheRegisterRelcacheCallback(forget_on_invalidation, (Datum) 0);
		callback_set = true;
	}
	if (depth == 0 && kept_stale)
		forget_kept();
	depth++;
	PG_TRY();
	{
		if (!in_subtransaction(record_work, td, NULL, &sqlstate))
		{
			char	   *reason = psprintf("the change triggers could not record a change (SQLSTATE %s)",
										  unpack_sql_state(sqlstate));

			(void) in_subtransaction(invalidate_work, NULL, reason, &sqlstate);
		}
	}
	PG_FINALLY();
	{
		depth--;
	}
	PG_END_TRY();
	return PointerGetDatum(NULL);
}
