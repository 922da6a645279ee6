/*
 * source_check.c — SQL-callable checks used when registering a sales table
 * and when a refresh starts.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(hvc_type_is_groupable);
PG_FUNCTION_INFO_V1(hvc_prevent_transaction_block);

/*
 * True when values of the type can be hashed and sorted (customer keys are
 * grouped by hash and ordered for deterministic tie-breaks).  Domains,
 * arrays, enums, ranges and composites are answered by the type cache.
 */
Datum
hvc_type_is_groupable(PG_FUNCTION_ARGS)
{
	Oid			typid = PG_GETARG_OID(0);
	TypeCacheEntry *tce;

	tce = lookup_type_cache(typid, TYPECACHE_HASH_PROC | TYPECACHE_EQ_OPR | TYPECACHE_LT_OPR);
	PG_RETURN_BOOL(OidIsValid(tce->hash_proc) && OidIsValid(tce->eq_opr) &&
				   OidIsValid(tce->lt_opr));
}

/*
 * A refresh commits its progress row before building the snapshot, so it
 * cannot run inside an explicit transaction block.
 */
Datum
hvc_prevent_transaction_block(PG_FUNCTION_ARGS)
{
	if (IsTransactionBlock() || IsSubTransaction())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("CALL hvc.refresh() cannot run inside a transaction block"),
				 errdetail("The procedure commits as it goes: it records its start in hvc.refresh_log, then swaps the snapshot in a transaction of its own. This error aborts the transaction: statements sent with it in the same transaction or string are rolled back."),
				 errhint("Send CALL hvc.refresh() alone, with autocommit on (psycopg2: conn.autocommit = True; JDBC: setAutoCommit(true)) and not in a multi-statement string; "
						 "or run SELECT hvc.refresh_now(), which refreshes inside your transaction.")));
	PG_RETURN_VOID();
}
