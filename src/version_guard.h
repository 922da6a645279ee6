/*
 * version_guard.h — one clear error when the hvc library installed on the
 * server and hvc's SQL objects in a database do not match (between `make
 * install` of a new version and ALTER EXTENSION hvc UPDATE).
 */
#ifndef HVC_VERSION_GUARD_H
#define HVC_VERSION_GUARD_H

#include "postgres.h"
#include "pg_compat.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"

/* Raise object_not_in_prerequisite_state: "hvc: <what>", with the
 * database's hvc version and the hint to run ALTER EXTENSION hvc UPDATE. */
extern HVC_NORETURN_PRE void hvc_catalog_outdated(const char *what) HVC_NORETURN_POST;

/* The catalog's composite type (a function's result or argument type) must
 * have exactly natts columns; type names it in the message. */
extern void hvc_require_columns(TupleDesc desc, int natts, const char *type);

/* GetAttributeByName for a composite hvc defines (hvc.config, a model
 * type): a column this library needs but the catalog's type lacks is the
 * error above, not an internal "attribute does not exist". */
extern Datum hvc_attribute(HeapTupleHeader t, const char *name, bool *isnull);

/* The frequency argument n of a model function or fit aggregate: bigint
 * since 0.2.0; a 0.1.0 catalog still declares it integer (and smallint calls
 * resolve to it), so its Datum is read by the declared type. */
extern int64 hvc_frequency_arg(FunctionCallInfo fcinfo, int n);

#endif
