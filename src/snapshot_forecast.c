/*
 * snapshot_forecast.c — per-customer predictions with the purchase model's
 * forecast computed once per distinct (frequency, recency, age) triple (see
 * snapshot.h).  The triples come in any order, so the forecasts are cached
 * in a hash table; when it reaches FORECAST_CACHE_MAX entries (about 70 MB)
 * it is emptied and filled again, so memory stays bounded whatever the
 * number of customers and a refresh with more distinct triples than that
 * only computes some forecasts twice.
 *
 * Under BG/NBD the expensive part of a forecast, the 2F1 of E[Y] at each
 * month of the CLV horizon, depends on (frequency, age) only, not on
 * recency: it is cached per pair (bgnbd_brackets; far fewer pairs than
 * triples, e.g. 16k against 120k at 200k customers) and finished per triple
 * (bgnbd_expected_from_brackets, model_set_forecast_expected): bit-identical
 * to model_set_forecast.  Same bound and reset as the triples' cache.
 */
#include "postgres.h"
#include "pg_compat.h"

#include <math.h>

#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "snapshot.h"

#define FORECAST_CACHE_MAX	(1 << 20)

typedef struct TripleKey
{
	int32		frequency;
	int32		recency_days;	/* last - first purchase day */
	int32		age_days;		/* as_of - first purchase day */
} TripleKey;

typedef struct TripleEntry
{
	TripleKey	key;
	PurchaseForecast fc;
} TripleEntry;

typedef struct PairKey
{
	int32		frequency;
	int32		age_days;		/* as_of - first purchase day */
} PairKey;

typedef struct PairEntry
{
	PairKey		key;
	bgnbd_brackets *br;			/* NULL: none, use model_set_forecast */
} PairEntry;

struct ForecastCache
{
	const ModelSet *ms;
	DateADT		as_of_day;
	double		unit;
	MemoryContext cxt;
	HTAB	   *hash;
	long		entries;
	/* BG/NBD: the brackets per (frequency, age) at the horizons */
	MemoryContext pair_cxt;		/* the pairs' hash and brackets */
	HTAB	   *pairs;
	long		pair_entries;
	int			nhorizons;		/* -1: not used */
	double		horizons[BGNBD_BRACKETS_MAX];
};

/* the pairs' cache holds up to this many entries (about 1 KB each: 34 MB) */
#define PAIR_CACHE_MAX	(1 << 15)

static void
forecast_cache_reset(ForecastCache *fc)
{
	HASHCTL		ctl;

	if (fc->hash != NULL)
		hash_destroy(fc->hash);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(TripleKey);
	ctl.entrysize = sizeof(TripleEntry);
	ctl.hcxt = fc->cxt;
	fc->hash = hash_create("hvc forecast cache", 4096, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	fc->entries = 0;
}

static void
pair_cache_reset(ForecastCache *fc)
{
	HASHCTL		ctl;

	if (fc->pair_cxt == NULL)
		fc->pair_cxt = AllocSetContextCreate(fc->cxt, "hvc forecast pair cache", ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(fc->pair_cxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(PairKey);
	ctl.entrysize = sizeof(PairEntry);
	ctl.hcxt = fc->pair_cxt;
	fc->pairs = hash_create("hvc forecast pair cache", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	fc->pair_entries = 0;
}

/* the forecast of a triple through its pair's brackets (BG/NBD) */
static void
forecast_via_pair(ForecastCache *fc, int32 frequency, int32 recency_days, int32 age_days,
				  PurchaseForecast *out)
{
	const ModelSet *ms = fc->ms;
	double		x = (double) frequency,
				t_x = recency_days / fc->unit,
				T = age_days / fc->unit;
	double		expected[BGNBD_BRACKETS_MAX];
	PairKey		key;
	PairEntry  *e;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.frequency = frequency;
	key.age_days = age_days;
	if (fc->pair_entries >= PAIR_CACHE_MAX)
		pair_cache_reset(fc);
	e = hash_search(fc->pairs, &key, HASH_ENTER, &found);
	if (!found)
	{
		bgnbd_brackets br;

		e->br = NULL;
		if (bgnbd_brackets_compute(&ms->purchase.u.bgnbd, fc->horizons, fc->nhorizons, x, T, &br))
		{
			e->br = MemoryContextAlloc(fc->pair_cxt, sizeof(bgnbd_brackets));
			memcpy(e->br, &br, sizeof(bgnbd_brackets));
		}
		fc->pair_entries++;
	}
	if (e->br == NULL)
	{
		model_set_forecast(ms, x, t_x, T, out);
		return;
	}
	bgnbd_expected_from_brackets(&ms->purchase.u.bgnbd, fc->horizons, fc->nhorizons,
								 x, t_x, T, e->br, expected);
	model_set_forecast_expected(ms, x, t_x, T, expected, out);
}

ForecastCache *
forecast_cache_create(const ModelSet *ms, DateADT as_of_day, double unit)
{
	ForecastCache *fc = palloc0(sizeof(ForecastCache));

	fc->ms = ms;
	fc->as_of_day = as_of_day;
	fc->unit = unit;
	fc->cxt = AllocSetContextCreate(CurrentMemoryContext, "hvc forecast cache", ALLOCSET_DEFAULT_SIZES);
	fc->nhorizons = -1;
	if (ms->usable)
	{
		forecast_cache_reset(fc);
		if (ms->purchase.kind == HVC_MODEL_BGNBD)
			fc->nhorizons = model_set_horizons(ms, fc->horizons, BGNBD_BRACKETS_MAX);
		if (fc->nhorizons > 0)
			pair_cache_reset(fc);
		else
			fc->nhorizons = -1;
	}
	return fc;
}

void
forecast_predict(ForecastCache *fc, const StageCustomer *c, Prediction *out)
{
	TripleKey	key;
	TripleEntry *e;
	bool		found;

	if (!fc->ms->usable)
	{
		out->p_alive = out->churn_risk = out->predicted_orders = out->expected_order_value =
			out->predicted_clv = out->next_order_in = NAN;
		return;
	}
	memset(&key, 0, sizeof(key));
	key.frequency = c->frequency;
	key.recency_days = c->last_day - c->first_day;
	key.age_days = fc->as_of_day - c->first_day;
	if (fc->entries >= FORECAST_CACHE_MAX)
		forecast_cache_reset(fc);
	e = hash_search(fc->hash, &key, HASH_ENTER, &found);
	if (!found)
	{
		if (fc->nhorizons > 0)
			forecast_via_pair(fc, c->frequency, key.recency_days, key.age_days, &e->fc);
		else
			model_set_forecast(fc->ms, c->frequency, key.recency_days / fc->unit,
							   key.age_days / fc->unit, &e->fc);
		fc->entries++;
	}
	model_set_predict(fc->ms, &e->fc, c->frequency, c->monetary, out);
}
