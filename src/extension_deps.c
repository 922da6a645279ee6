/*
 * extension_deps.c — tie the objects hvc creates at run time to the extension.
 *
 * hvc.register_source creates the customer-typed tables and views (the
 * snapshot, tier history, the views over them) long after CREATE EXTENSION,
 * so they cannot be extension members: members are not dumped with their
 * data, and pg_extension_config_dump works only from extension scripts.
 * Instead each gets a NORMAL dependency on the extension, so that
 *   - DROP EXTENSION hvc refuses while they exist (naming them), and
 *   - DROP EXTENSION hvc CASCADE drops them (indexes, row types and
 *     dependent views go with their table),
 * while pg_dump still dumps them like any table or view (it only leaves out
 * members, deptype 'e'), ordered after CREATE EXTENSION because of the
 * dependency.  pg_restore does not recreate dependencies on extensions; the
 * restore of hvc.source re-attaches them (see hvc._attach_runtime_objects).
 */
#include "postgres.h"
#include "pg_compat.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(hvc_depend_on_extension);

/* The schema of extension extoid (get_extension_schema is static before 16). */
static Oid
extension_schema(Oid extoid)
{
	Relation	extRel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	extRel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(extRel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(extRel, AccessShareLock);
	if (!OidIsValid(nsp))
		elog(ERROR, "extension with OID %u has no schema", extoid);
	return nsp;
}

/* Does relation relid already depend on extension extoid (any deptype)? */
static bool
depends_on_extension(Oid relid, Oid extoid)
{
	Relation	depRel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	depRel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(depRel, DependDependerIndexId, true, NULL, 2, key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);

		CHECK_FOR_INTERRUPTS();
		found = d->refclassid == ExtensionRelationId && d->refobjid == extoid;
	}
	systable_endscan(scan);
	table_close(depRel, AccessShareLock);
	return found;
}

/*
 * hvc._depend_on_extension(rel regclass) RETURNS boolean
 *
 * Records that rel (a table, view, materialized view, foreign table,
 * sequence or composite type in schema hvc, owned by the caller) depends on
 * extension hvc.  Returns true when the dependency was added, false when it
 * was there already (or rel is a member of the extension).
 */
Datum
hvc_depend_on_extension(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			extoid = get_extension_oid("hvc", true);
	HeapTuple	tup;
	Form_pg_class cls;
	Oid			relnamespace;
	char		relkind;
	ObjectAddress object;
	ObjectAddress extension;

	if (!OidIsValid(extoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hvc: extension hvc is not installed in this database")));

	/* keep the relation and the extension from being dropped meanwhile */
	LockRelationOid(relid, AccessShareLock);
	LockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("hvc: relation with OID %u does not exist", relid)));
	cls = (Form_pg_class) GETSTRUCT(tup);
	relnamespace = cls->relnamespace;
	relkind = cls->relkind;
	ReleaseSysCache(tup);

	if (relnamespace != extension_schema(extoid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: %s is not in schema %s", get_rel_name(relid),
						get_namespace_name(extension_schema(extoid))),
				 errdetail("Only objects in hvc's own schema are tied to the extension.")));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW &&
		relkind != RELKIND_FOREIGN_TABLE && relkind != RELKIND_SEQUENCE &&
		relkind != RELKIND_COMPOSITE_TYPE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("hvc: %s is not a table, view, sequence or composite type",
						get_rel_name(relid)),
				 errdetail("Indexes go with their table.")));
	if (!hvc_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind), get_rel_name(relid));

	if (depends_on_extension(relid, extoid))
		PG_RETURN_BOOL(false);

	ObjectAddressSet(object, RelationRelationId, relid);
	ObjectAddressSet(extension, ExtensionRelationId, extoid);
	recordDependencyOn(&object, &extension, DEPENDENCY_NORMAL);
	PG_RETURN_BOOL(true);
}
