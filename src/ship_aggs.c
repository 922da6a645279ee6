/*
 * ship_aggs.c — the model-fitting aggregates with a bytea transition state
 * (hvc.bgnbd_fit_distributed and its siblings), for engines that ship
 * partial states between servers by their type's text form, like Citus:
 * Citus 12.1 combines an aggregate across shards only when its state type is
 * not a pseudo-type such as internal.  They compute exactly what the
 * internal-state aggregates compute (same transition, combine and final
 * functions of src/model_aggs.c, called through here).
 *
 * The bytea state is an expanded object (utils/expandeddatum.h) holding the
 * internal state: the executor (and Citus) keep a read-write expanded
 * transition value in place, so a row costs what it costs in the internal
 * aggregate; the state is serialised (model_aggs.c's format) only when it is
 * flattened — when it leaves the aggregate as a value (Citus's partial
 * aggregate on a worker, a parallel worker's partial state).  A flat bytea
 * coming back (Citus's coordinator, a parallel leader) goes through the
 * internal aggregate's validating deserialiser.
 */
#include "postgres.h"
#include "pg_compat.h"

#include "fmgr.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"

#include "row_state.h"

/* the state and at most three aggregate arguments */
#define SHIP_MAX_ARGS 4

typedef struct ShipKind
{
	bool		gg;				/* Gamma-Gamma rows, else BTYD rows */
	int			nargs;			/* aggregate arguments after the state */
	PGFunction	transfn;
	PGFunction	combinefn;
	PGFunction	deserialfn;
} ShipKind;

static const ShipKind btyd_ship = {false, 3, hvc_btyd_transfn, hvc_btyd_combinefn, hvc_btyd_deserialfn};
static const ShipKind gg_ship = {true, 2, hvc_gg_transfn, hvc_gg_combinefn, hvc_gg_deserialfn};

typedef struct ShipState
{
	ExpandedObjectHeader hdr;
	const ShipKind *kind;
	void	   *state;			/* the internal state (NULL: no rows yet) */
	bytea	   *flat;			/* its serialisation, while unchanged */
} ShipState;

static Size ship_get_flat_size(ExpandedObjectHeader *eohptr);
static void ship_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size);

static const ExpandedObjectMethods ship_methods = {ship_get_flat_size, ship_flatten_into};

static Size
ship_get_flat_size(ExpandedObjectHeader *eohptr)
{
	ShipState  *s = (ShipState *) eohptr;

	if (s->flat == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(s->hdr.eoh_context);

		s->flat = hvc_row_state_serialize(s->state, s->kind->gg);
		MemoryContextSwitchTo(old);
	}
	return VARSIZE(s->flat);
}

static void
ship_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	ShipState  *s = (ShipState *) eohptr;

	if (s->flat == NULL || allocated_size != VARSIZE(s->flat))
		elog(ERROR, "hvc: flattening a state of unexpected size");
	memcpy(result, s->flat, allocated_size);
}

/* an empty expanded state, its memory a child of the aggregate context */
static ShipState *
ship_new(FunctionCallInfo fcinfo, const ShipKind *k)
{
	MemoryContext aggcxt,
				cxt;
	ShipState  *s;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "hvc: shippable aggregate function called in non-aggregate context");
	cxt = AllocSetContextCreate(aggcxt, "hvc shippable state", ALLOCSET_SMALL_SIZES);
	s = MemoryContextAllocZero(cxt, sizeof(ShipState));
	EOH_init_header(&s->hdr, &ship_methods, cxt);
	s->kind = k;
	return s;
}

/* call an internal-state function of model_aggs.c with fcinfo's context */
static Datum
ship_call(FunctionCallInfo fcinfo, PGFunction fn, int nargs, NullableDatum *args, bool *isnull)
{
	LOCAL_FCINFO(inner, SHIP_MAX_ARGS);
	Datum		result;
	int			i;

	Assert(nargs <= SHIP_MAX_ARGS);
	InitFunctionCallInfoData(*inner, fcinfo->flinfo, nargs, fcinfo->fncollation,
							 fcinfo->context, NULL);
	for (i = 0; i < nargs; i++)
		inner->args[i] = args[i];
	result = fn(inner);
	*isnull = inner->isnull;
	return result;
}

/* the internal state of a flat (serialised) bytea, validated */
static void *
ship_deserialize(FunctionCallInfo fcinfo, const ShipKind *k, Datum flat)
{
	NullableDatum args[2];
	bool		isnull;
	Datum		d;

	args[0].value = flat;
	args[0].isnull = false;
	args[1].value = (Datum) 0;
	args[1].isnull = true;
	d = ship_call(fcinfo, k->deserialfn, 2, args, &isnull);
	return isnull ? NULL : DatumGetPointer(d);
}

/* argument n as a state of kind k: the expanded object itself, or a new one */
static ShipState *
ship_arg(FunctionCallInfo fcinfo, int n, const ShipKind *k)
{
	Datum		d;
	ShipState  *s;

	if (PG_ARGISNULL(n))
		return NULL;
	d = PG_GETARG_DATUM(n);
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		if (eoh->eoh_methods == &ship_methods && ((ShipState *) eoh)->kind == k)
			return (ShipState *) eoh;
	}
	s = ship_new(fcinfo, k);
	s->state = ship_deserialize(fcinfo, k, PointerGetDatum(PG_DETOAST_DATUM(d)));
	return s;
}

static Datum
ship_transfn(FunctionCallInfo fcinfo, const ShipKind *k)
{
	ShipState  *s = ship_arg(fcinfo, 0, k);
	NullableDatum args[SHIP_MAX_ARGS];
	bool		isnull;
	Datum		d;
	int			i;

	if (s == NULL)
		s = ship_new(fcinfo, k);
	args[0].value = PointerGetDatum(s->state);
	args[0].isnull = s->state == NULL;
	for (i = 1; i <= k->nargs; i++)
		args[i] = fcinfo->args[i];
	d = ship_call(fcinfo, k->transfn, k->nargs + 1, args, &isnull);
	s->state = isnull ? NULL : DatumGetPointer(d);
	s->flat = NULL;
	PG_RETURN_DATUM(EOHPGetRWDatum(&s->hdr));
}

static Datum
ship_combinefn(FunctionCallInfo fcinfo, const ShipKind *k)
{
	ShipState  *a = ship_arg(fcinfo, 0, k);
	ShipState  *b;
	NullableDatum args[2];
	bool		isnull;
	Datum		d;

	if (PG_ARGISNULL(1))
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_DATUM(EOHPGetRWDatum(&a->hdr));
	}
	b = ship_arg(fcinfo, 1, k);
	if (a == NULL)
	{
		/* b may be the caller's value: copy it into a state of our own */
		a = ship_new(fcinfo, k);
	}
	args[0].value = PointerGetDatum(a->state);
	args[0].isnull = a->state == NULL;
	args[1].value = PointerGetDatum(b->state);
	args[1].isnull = b->state == NULL;
	d = ship_call(fcinfo, k->combinefn, 2, args, &isnull);
	a->state = isnull ? NULL : DatumGetPointer(d);
	a->flat = NULL;
	PG_RETURN_DATUM(EOHPGetRWDatum(&a->hdr));
}

static Datum
ship_finalfn(FunctionCallInfo fcinfo, const ShipKind *k, PGFunction finalfn)
{
	ShipState  *s = ship_arg(fcinfo, 0, k);
	NullableDatum args[1];
	bool		isnull;
	Datum		d;

	args[0].value = PointerGetDatum(s != NULL ? s->state : NULL);
	args[0].isnull = s == NULL || s->state == NULL;
	d = ship_call(fcinfo, finalfn, 1, args, &isnull);
	if (s != NULL)
		s->flat = NULL;			/* the final function may have compressed it */
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

#define SHIP_FUNCTION(NAME, BODY) \
	PG_FUNCTION_INFO_V1(NAME); \
	Datum NAME(PG_FUNCTION_ARGS) { return BODY; }

SHIP_FUNCTION(hvc_btyd_ship_transfn, ship_transfn(fcinfo, &btyd_ship))
SHIP_FUNCTION(hvc_btyd_ship_combinefn, ship_combinefn(fcinfo, &btyd_ship))
SHIP_FUNCTION(hvc_gg_ship_transfn, ship_transfn(fcinfo, &gg_ship))
SHIP_FUNCTION(hvc_gg_ship_combinefn, ship_combinefn(fcinfo, &gg_ship))
SHIP_FUNCTION(hvc_bgnbd_ship_finalfn, ship_finalfn(fcinfo, &btyd_ship, hvc_bgnbd_finalfn))
SHIP_FUNCTION(hvc_pareto_nbd_ship_finalfn, ship_finalfn(fcinfo, &btyd_ship, hvc_pareto_nbd_finalfn))
SHIP_FUNCTION(hvc_mbgnbd_ship_finalfn, ship_finalfn(fcinfo, &btyd_ship, hvc_mbgnbd_finalfn))
SHIP_FUNCTION(hvc_gamma_gamma_ship_finalfn, ship_finalfn(fcinfo, &gg_ship, hvc_gamma_gamma_finalfn))
