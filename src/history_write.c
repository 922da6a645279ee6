/*
 * history_write.c — the tier moves of a refresh straight into
 * hvc.tier_history as the snapshot builder forms the rows (see snapshot.h):
 * one history row for each output row whose tier_since is the refresh — a
 * new customer ('new', reason 'activity') or a move between tiers ('up' or
 * 'down', with the refresh's reason) — written in batches (row_writer.c)
 * instead of a scan of the new snapshot afterwards.  Lapsed customers (an
 * old row without a new one) are recorded by hvc._record_tier_changes after
 * the build.  The moves come in value order, so the builder also counts the
 * drops hvc._raise_alerts reports and keeps the keys of the ten most
 * valuable (history_put_move says which moves are drops; history_key_jsonb).
 *
 * Only for the table hvc._create_history_objects makes: its nine columns,
 * no triggers, rules or row-level security (its NOT NULL and CHECK
 * constraints are checked, row_writer.c).
 */
#include "postgres.h"
#include "pg_compat.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "row_writer.h"
#include "snapshot.h"

#define HISTORY_NATTS 9

/* the columns' types, the key (column 1) aside */
static const Oid history_types[HISTORY_NATTS] = {
	InvalidOid, INT8OID, TIMESTAMPTZOID, TEXTOID, INT4OID, TEXTOID, INT4OID, TEXTOID, TEXTOID
};

/* whether rel is hvc.tier_history as hvc makes it, for keys of key_type */
static bool
history_writable(Relation rel, Oid key_type)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (!row_writer_plain_table(rel, HISTORY_NATTS))
		return false;
	for (i = 0; i < HISTORY_NATTS; i++)
	{
		Oid			type = TupleDescAttr(desc, i)->atttypid;

		if (i == 0 ? getBaseType(type) != key_type : type != history_types[i])
			return false;
	}
	return true;
}

void
history_writer_open(RowWriter *w, Oid key_type)
{
	row_writer_open(w, hvc_source_table("tier_history"), "tier_history");
	if (!history_writable(w->rel, key_type))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hvc: hvc.tier_history cannot be written by the refresh"),
				 errdetail("It has triggers, rules, row-level security or other columns than hvc makes."),
				 errhint("Remove what was added to hvc.tier_history, or register the source again with hvc.register_source() (which recreates it empty).")));
}

bool
history_put_move(RowWriter *w, const SnapshotArgs *a, const PassRow *r,
				 const Datum *values, const bool *nulls)
{
	Datum		h[HISTORY_NATTS];
	bool		hn[HISTORY_NATTS] = {false, false, false, false, false, false, false, false, false};
	int32		to_rank = DatumGetInt32(values[32]);
	bool		drop = false;

	h[0] = values[0];
	h[1] = Int64GetDatum(a->refresh_id);
	h[2] = TimestampTzGetDatum(a->refreshed);
	h[5] = values[31];
	h[6] = values[32];
	if (nulls[34])
	{
		/* a new customer */
		hn[3] = hn[4] = true;
		h[7] = CStringGetTextDatum("new");
		h[8] = CStringGetTextDatum("activity");
	}
	else
	{
		int32		from_rank = snapshot_old_tier_rank(a, r);

		h[3] = values[34];
		h[4] = Int32GetDatum(from_rank);
		h[7] = CStringGetTextDatum(to_rank < from_rank ? "up" : "down");
		h[8] = a->move_reason;
		/* a drop out of a tier that is high-value under the current rules */
		drop = to_rank >= from_rank && a->moves_are_activity && snapshot_old_tier_high(a, r);
	}
	row_writer_put(w, h, hn, NULL);
	return drop;
}

/* to_jsonb(key) for a key of (base) type key_type, as SQL computes it */
Datum
history_key_jsonb(Datum key, Oid key_type)
{
	FmgrInfo	flinfo;
	FuncExpr   *expr;

	fmgr_info(F_TO_JSONB, &flinfo);
	/* to_jsonb(anyelement) reads its argument's type from the call */
	expr = makeFuncExpr(F_TO_JSONB, JSONBOID,
						list_make1(makeNullConst(key_type, -1, InvalidOid)),
						InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	fmgr_info_set_expr((Node *) expr, &flinfo);
	return FunctionCall1(&flinfo, key);
}
