/*
 * snapshot_args.c — the arguments of hvc._build_snapshot, validated (see
 * snapshot.h): errors, never a crash, whatever a caller passes.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "local_time.h"
#include "snapshot.h"

static void
bad_arg(const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("hvc._build_snapshot: %s", msg),
			 errhint("hvc.refresh() builds these arguments from hvc.config, hvc.rfm_segments and hvc.tier_rules; do not call hvc._build_snapshot directly.")));
}

/* the elements of a one-dimensional array argument without NULLs */
static Datum *
array_elems(ArrayType *a, Oid elemtype, const char *name, int *n)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			i;

	if (ARR_ELEMTYPE(a) != elemtype)
		elog(ERROR, "hvc._build_snapshot: %s has element type %s", name,
			 format_type_be(ARR_ELEMTYPE(a)));
	if (ARR_NDIM(a) > 1)
		bad_arg(psprintf("%s must be a one-dimensional array", name));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, &elems, &nulls, n);
	for (i = 0; i < *n; i++)
		if (nulls[i])
			bad_arg(psprintf("%s must not contain NULL", name));
	return elems;
}

/*
 * The tiers: tier_lo[t] is the first value rank of tier t, 1 for the first
 * tier and never decreasing; tier ranks grow; names are not empty.
 */
static void
check_tiers(Datum *lo, Datum *name, Datum *rank, int ntiers)
{
	int			t;

	if (ntiers < 1)
		bad_arg("there must be at least one tier");
	for (t = 0; t < ntiers; t++)
	{
		if (VARSIZE_ANY_EXHDR(DatumGetTextPP(name[t])) == 0)
			bad_arg("tier names must not be empty");
		if (t == 0 ? DatumGetInt64(lo[t]) != 1 : DatumGetInt64(lo[t]) < DatumGetInt64(lo[t - 1]))
			bad_arg("tier_lo must start at 1 and never decrease");
		if (t == 0 ? DatumGetInt32(rank[t]) < 1 : DatumGetInt32(rank[t]) <= DatumGetInt32(rank[t - 1]))
			bad_arg("tier_rank must start at 1 or more and increase");
	}
}

ValueBasis
snapshot_basis_of(const char *name)
{
	if (strcmp(name, "predicted_clv") == 0)
		return BASIS_PREDICTED_CLV;
	if (strcmp(name, "historic_clv") == 0)
		return BASIS_HISTORIC_CLV;
	if (strcmp(name, "revenue") == 0)
		return BASIS_REVENUE;
	if (strcmp(name, "margin") == 0)
		return BASIS_MARGIN;
	if (strcmp(name, "score") == 0)
		return BASIS_SCORE;
	bad_arg(psprintf("basis must be predicted_clv, historic_clv, revenue, margin or score, got \"%s\"", name));
	return BASIS_REVENUE;		/* keep the compiler quiet */
}

/* a->cells: the rfm_cell texts, by rfm_cell_index */
static void
snapshot_cell_names(SnapshotArgs *a)
{
	int			r,
				f,
				m;

	a->cells = palloc(sizeof(Datum) * RFM_CELLS);
	for (r = 1; r <= 5; r++)
		for (f = 1; f <= 5; f++)
			for (m = 1; m <= 5; m++)
			{
				char		cell[4];

				snprintf(cell, sizeof(cell), "%d%d%d", r, f, m);
				a->cells[rfm_cell_index(r, f, m)] = CStringGetTextDatum(cell);
			}
}

/*
 * (customer_proto anyelement, m hvc._model_params, as_of_day date,
 *  timezone text, has_margin boolean, basis text, segment_of_cell text[],
 *  tier_lo bigint[], tier_name text[], tier_rank integer[],
 *  tier_high boolean[], refreshed timestamptz, refresh_id bigint
 *  [, move_reason text DEFAULT NULL])
 *
 * move_reason (not in a 0.1.0 catalog): the reason of this refresh's tier
 * moves, which the build records in hvc.tier_history (history_write.c);
 * NULL records none (the first snapshot, or a caller that is not a refresh).
 */
void
snapshot_args(FunctionCallInfo fcinfo, SnapshotArgs *a)
{
	int			i,
				nseg,
				n2,
				n3,
				n4;

	/* every argument but the key prototype and the reason is required */
	for (i = 1; i < Min(PG_NARGS(), 13); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("hvc._build_snapshot: argument %d must not be NULL", i + 1)));
	memset(a, 0, sizeof(*a));
	a->as_of_day = PG_GETARG_DATEADT(2);
	a->has_margin = PG_GETARG_BOOL(4);
	a->refreshed = PG_GETARG_TIMESTAMPTZ(11);
	a->refresh_id = PG_GETARG_INT64(12);

	model_set_from_params(PG_GETARG_HEAPTUPLEHEADER(1), &a->ms);
	a->basis = snapshot_basis_of(text_to_cstring(PG_GETARG_TEXT_PP(5)));
	a->unit = a->ms.units_per_month == HVC_UNITS_PER_MONTH_WEEK ? 7.0 : 1.0;
	a->tz = local_zone(text_to_cstring(PG_GETARG_TEXT_PP(3)));
	if (TIMESTAMP_NOT_FINITE(a->refreshed))
		bad_arg("refreshed must be a finite time");

	a->segments = array_elems(PG_GETARG_ARRAYTYPE_P(6), TEXTOID, "segment_of_cell", &nseg);
	if (nseg != RFM_CELLS)
		bad_arg(psprintf("segment_of_cell must have %d cells, got %d", RFM_CELLS, nseg));
	snapshot_cell_names(a);
	a->tier_names = array_elems(PG_GETARG_ARRAYTYPE_P(8), TEXTOID, "tier_name", &a->ntiers);
	a->tier_lo = array_elems(PG_GETARG_ARRAYTYPE_P(7), INT8OID, "tier_lo", &n2);
	a->tier_ranks = array_elems(PG_GETARG_ARRAYTYPE_P(9), INT4OID, "tier_rank", &n3);
	a->tier_high = array_elems(PG_GETARG_ARRAYTYPE_P(10), BOOLOID, "tier_high", &n4);
	if (n2 != a->ntiers || n3 != a->ntiers || n4 != a->ntiers)
		bad_arg("tier_lo, tier_name, tier_rank and tier_high must have the same length");
	check_tiers(a->tier_lo, a->tier_names, a->tier_ranks, a->ntiers);

	a->record_moves = PG_NARGS() > 13 && !PG_ARGISNULL(13);
	if (a->record_moves)
	{
		char	   *reason = text_to_cstring(PG_GETARG_TEXT_PP(13));

		if (strcmp(reason, "activity") != 0 && strcmp(reason, "basis_change") != 0 &&
			strcmp(reason, "model_change") != 0 && strcmp(reason, "fallback") != 0)
			bad_arg("move_reason must be activity, basis_change, model_change or fallback");
		a->move_reason = CStringGetTextDatum(reason);
		a->moves_are_activity = strcmp(reason, "activity") == 0;
	}
}
