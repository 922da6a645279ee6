/*
 * snapshot_forecast.c — per-customer predictions with the purchase model's
 * forecast computed once per distinct (frequency, recency, age) triple (see
 * snapshot.h).  The triples come in any order, so the forecasts are cached
 * in a hash table; when it reaches FORECAST_CACHE_MAX entries (about 70 MB)
 * it is emptied and filled again, so memory stays bounded whatever the
 * number of customers and a refresh with more distinct triples than that
 * only computes some forecasts twice.
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

struct ForecastCache
{
	const ModelSet *ms;
	DateADT		as_of_day;
	double		unit;
	MemoryContext cxt;
	HTAB	   *hash;
	long		entries;
};

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

ForecastCache *
forecast_cache_create(const ModelSet *ms, DateADT as_of_day, double unit)
{
	ForecastCache *fc = palloc0(sizeof(ForecastCache));

	fc->ms = ms;
	fc->as_of_day = as_of_day;
	fc->unit = unit;
	fc->cxt = AllocSetContextCreate(CurrentMemoryContext, "hvc forecast cache", ALLOCSET_DEFAULT_SIZES);
	if (ms->usable)
		forecast_cache_reset(fc);
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
		model_set_forecast(fc->ms, c->frequency, key.recency_days / fc->unit,
						   key.age_days / fc->unit, &e->fc);
		fc->entries++;
	}
	model_set_predict(fc->ms, &e->fc, c->frequency, c->monetary, out);
}
