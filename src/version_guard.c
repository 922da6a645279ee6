/*
 * version_guard.c — the library is newer (or older) than the catalog.
 *
 * After `make install` of a new hvc, every database that still has the old
 * version's SQL objects calls the new C functions with the old argument
 * lists and result types until ALTER EXTENSION hvc UPDATE runs there.  C code
 * that depends on a shape the SQL defines (the columns of a composite type it
 * returns or reads) checks it here, so the DBA gets one clear error that says
 * what to do instead of an internal error or a misread value.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_type.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "version_guard.h"

/* The version of hvc's SQL objects in this database (for the message). */
static char *
installed_version(void)
{
	Oid			ext = get_extension_oid("hvc", true);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	if (!OidIsValid(ext))
		return pstrdup("(not installed)");
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version ? version : pstrdup("(unknown)");
}

void
hvc_catalog_outdated(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("hvc: %s", what),
			 errdetail("hvc's SQL objects in this database are version %s and do not match the hvc library installed on the server.",
					   installed_version()),
			 errhint("Run ALTER EXTENSION hvc UPDATE in this database.")));
}

void
hvc_require_columns(TupleDesc desc, int natts, const char *type)
{
	if (desc->natts != natts)
		hvc_catalog_outdated(psprintf("%s has %d columns where this hvc library needs %d",
									  type, desc->natts, natts));
}

Datum
hvc_attribute(HeapTupleHeader t, const char *name, bool *isnull)
{
	Oid			typid = HeapTupleHeaderGetTypeId(t);
	TupleDesc	desc = lookup_rowtype_tupdesc(typid, HeapTupleHeaderGetTypMod(t));
	HeapTupleData tuple;
	Datum		d;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			break;
	}
	if (i == desc->natts)
	{
		ReleaseTupleDesc(desc);
		hvc_catalog_outdated(psprintf("%s has no column \"%s\", which this hvc library needs",
									  format_type_be(typid), name));
	}
	tuple.t_len = HeapTupleHeaderGetDatumLength(t);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = t;
	d = heap_getattr(&tuple, i + 1, desc, isnull);
	ReleaseTupleDesc(desc);
	return d;
}

int64
hvc_frequency_arg(FunctionCallInfo fcinfo, int n)
{
	Oid			t = get_fn_expr_argtype(fcinfo->flinfo, n);

	if (t == INT4OID)
		return (int64) PG_GETARG_INT32(n);
	if (t == INT2OID)
		return (int64) PG_GETARG_INT16(n);
	return PG_GETARG_INT64(n);
}
