/*
 * pg_compat.h — the one place for what differs between the PostgreSQL major
 * versions hvc supports (15, 17 and 18).  Every glue file that touches
 * varlena internals includes it right after postgres.h.
 */
#ifndef HVC_PG_COMPAT_H
#define HVC_PG_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "hvc needs PostgreSQL 15 or later"
#endif

/* VARDATA, VARSIZE and SET_VARSIZE moved from postgres.h to varatt.h in 16. */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * pg_class_ownercheck(relid, role) became object_ownercheck(RelationRelationId,
 * relid, role) in 16 (callers include utils/acl.h and catalog/pg_class.h).
 */
#if PG_VERSION_NUM >= 160000
#define hvc_class_ownercheck(relid, roleid) object_ownercheck(RelationRelationId, (relid), (roleid))
#else
#define hvc_class_ownercheck(relid, roleid) pg_class_ownercheck((relid), (roleid))
#endif

/*
 * A function that does not return: PostgreSQL 18 spells it with a prefix
 * (pg_noreturn, C11 _Noreturn), earlier versions with a suffix
 * (pg_attribute_noreturn(), gone in 18).  Declare such functions as
 *     HVC_NORETURN_PRE void f(...) HVC_NORETURN_POST;
 */
#ifdef pg_noreturn
#define HVC_NORETURN_PRE pg_noreturn
#define HVC_NORETURN_POST
#else
#define HVC_NORETURN_PRE
#define HVC_NORETURN_POST pg_attribute_noreturn()
#endif

#endif							/* HVC_PG_COMPAT_H */
