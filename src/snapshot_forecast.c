/*
 * snapshot_forecast.c — per-customer predictions with the purchase model's
 * forecast computed once per distinct (frequency, recency, age) triple (see
 * snapshot.h).  The triples come in any order, so the forecasts are cached
 * in a hash table; when it reaches FORECAST_CACHE_MAX entries (about 90 MB)
 * it is emptied and filled again, so memory stays bounded whatever the
 * number of customers and a refresh with more distinct triples than that
 * only computes some forecasts twice.  The table's entries are small (the
 * key and the number of the triple's forecast): it holds about twice as
 * many slots as triples and is zeroed at each growth, while the forecasts
 * go to an array in chunks, written once each.
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

#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "snapshot.h"

/*
 * HVC_SMALL_CACHES (the assertion-enabled test build, test/cassert/run.sh):
 * caches so small that every refresh of the test suites empties them over
 * and over; the results must not change.
 */
#ifdef HVC_SMALL_CACHES
#define FORECAST_CACHE_MAX	16
#define FORECAST_CHUNK_BITS 2	/* four chunks of four forecasts */
#else
#define FORECAST_CACHE_MAX	(1 << 20)
#define FORECAST_CHUNK_BITS 13
#endif

typedef struct TripleKey
{
	int32		frequency;
	int32		recency_days;	/* last - first purchase day */
	int32		age_days;		/* as_of - first purchase day */
} TripleKey;

typedef struct TripleEntry
{
	TripleKey	key;
	char		status;			/* simplehash's */
	uint32		slot;			/* its TripleForecast */
} TripleEntry;

typedef struct TripleForecast
{
	PurchaseForecast fc;
	int64		customers;		/* seen since the churn risks were last handed on */
} TripleForecast;

/* the forecasts' array: chunks of FORECAST_CHUNK, allocated as they fill */
#define FORECAST_CHUNK (1 << FORECAST_CHUNK_BITS)
#define FORECAST_NCHUNKS ((FORECAST_CACHE_MAX + FORECAST_CHUNK - 1) / FORECAST_CHUNK)

typedef struct PairKey
{
	int32		frequency;
	int32		age_days;		/* as_of - first purchase day */
} PairKey;

typedef struct PairEntry
{
	PairKey		key;
	char		status;			/* simplehash's */
	bgnbd_brackets *br;			/* NULL: none, use model_set_forecast */
} PairEntry;

/*
 * Both caches are open-addressing hash tables (lib/simplehash.h): one probe
 * per lookup in the common case, where a dynahash lookup cost about as much
 * as the forecast it saved for a customer whose triple was seen before.
 */
static inline uint32
triple_hash(TripleKey k)
{
	return hash_combine(hash_combine(murmurhash32((uint32) k.frequency),
									 murmurhash32((uint32) k.recency_days)),
						murmurhash32((uint32) k.age_days));
}

#define SH_PREFIX triples
#define SH_ELEMENT_TYPE TripleEntry
#define SH_KEY_TYPE TripleKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) triple_hash(k)
#define SH_EQUAL(tb, a, b) ((a).frequency == (b).frequency && (a).recency_days == (b).recency_days && \
							(a).age_days == (b).age_days)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static inline uint32
pair_hash(PairKey k)
{
	return hash_combine(murmurhash32((uint32) k.frequency), murmurhash32((uint32) k.age_days));
}

#define SH_PREFIX pairs
#define SH_ELEMENT_TYPE PairEntry
#define SH_KEY_TYPE PairKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) pair_hash(k)
#define SH_EQUAL(tb, a, b) ((a).frequency == (b).frequency && (a).age_days == (b).age_days)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

struct ForecastCache
{
	const ModelSet *ms;
	DateADT		as_of_day;
	double		unit;
	MemoryContext cxt;
	triples_hash *hash;
	long		entries;
	MemoryContext chunk_cxt;	/* the forecasts' chunks */
	TripleForecast **chunks;	/* [FORECAST_NCHUNKS] */
	/* BG/NBD: the brackets per (frequency, age) at the horizons */
	MemoryContext pair_cxt;		/* the pairs' hash and brackets */
	pairs_hash *pairs;
	long		pair_entries;
	int			nhorizons;		/* -1: not used */
	double		horizons[BGNBD_BRACKETS_MAX];
	CumeDist   *churn;			/* NULL, or where the customers' churn risks go */
	bool		refilled;		/* emptied once full: a slot held several triples */
};

/* the pairs' cache holds up to this many entries (at most about 1 KB each: 34 MB) */
#ifdef HVC_SMALL_CACHES
#define PAIR_CACHE_MAX	4
#else
#define PAIR_CACHE_MAX	(1 << 15)
#endif

/* the forecast in slot of the array */
static inline TripleForecast *
triple_forecast(ForecastCache *fc, uint32 slot)
{
	return &fc->chunks[slot >> FORECAST_CHUNK_BITS][slot & (FORECAST_CHUNK - 1)];
}

/*
 * Each cached triple's churn risk, as many times as customers had the triple
 * since the last hand-over: one histogram insert per triple instead of one
 * per customer (a churn risk is a function of the triple).
 */
void
forecast_cache_flush_churn(ForecastCache *fc)
{
	long		i;

	if (fc->churn == NULL || fc->hash == NULL)
		return;
	for (i = 0; i < fc->entries; i++)
	{
		TripleForecast *t = triple_forecast(fc, (uint32) i);

		if (t->customers > 0 && isfinite(t->fc.churn_risk))
			cume_dist_add_n(fc->churn, t->fc.churn_risk, t->customers);
		t->customers = 0;
		CHECK_FOR_INTERRUPTS();
	}
}

static void
forecast_cache_reset(ForecastCache *fc)
{
	if (fc->entries > 0)
		fc->refilled = true;
	forecast_cache_flush_churn(fc);
	if (fc->hash != NULL)
		triples_destroy(fc->hash);
	if (fc->chunk_cxt == NULL)
	{
		fc->chunk_cxt = AllocSetContextCreate(fc->cxt, "hvc forecast chunks", ALLOCSET_DEFAULT_SIZES);
		fc->chunks = MemoryContextAllocZero(fc->cxt, sizeof(TripleForecast *) * FORECAST_NCHUNKS);
	}
	else
	{
		MemoryContextReset(fc->chunk_cxt);
		memset(fc->chunks, 0, sizeof(TripleForecast *) * FORECAST_NCHUNKS);
	}
	fc->hash = triples_create(fc->cxt, 4096, NULL);
	fc->entries = 0;
}

/* a new triple's forecast: the next slot of the array */
static uint32
triple_forecast_new(ForecastCache *fc)
{
	uint32		slot = (uint32) fc->entries;

	if (fc->chunks[slot >> FORECAST_CHUNK_BITS] == NULL)
		fc->chunks[slot >> FORECAST_CHUNK_BITS] =
			MemoryContextAlloc(fc->chunk_cxt, sizeof(TripleForecast) * FORECAST_CHUNK);
	fc->entries++;
	return slot;
}

static void
pair_cache_reset(ForecastCache *fc)
{
	if (fc->pair_cxt == NULL)
		fc->pair_cxt = AllocSetContextCreate(fc->cxt, "hvc forecast pair cache", ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(fc->pair_cxt);
	fc->pairs = pairs_create(fc->pair_cxt, 1024, NULL);
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
	e = pairs_insert(fc->pairs, key, &found);
	if (!found)
	{
		bgnbd_brackets br;

		e->br = NULL;
		if (bgnbd_brackets_compute(&ms->purchase.u.bgnbd, fc->horizons, fc->nhorizons, x, T, &br))
		{
			/*
			 * only the brackets in use: lo[0..n) (and hi[] when near_one,
			 * the only case bgnbd_expected_from_brackets reads it), not the
			 * whole struct of BGNBD_BRACKETS_MAX each (1 KB a pair)
			 */
			Size		len = br.near_one ? sizeof(bgnbd_brackets) :
				offsetof(bgnbd_brackets, lo) + sizeof(double) * br.n;

			e->br = MemoryContextAlloc(fc->pair_cxt, len);
			memcpy(e->br, &br, len);
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

/*
 * From now on the cache hands the churn risks of the customers it predicts
 * for to churn (cume_dist_add_n), on each reset and at
 * forecast_cache_flush_churn; the caller adds none itself.
 */
void
forecast_cache_count_churn(ForecastCache *fc, CumeDist *churn)
{
	fc->churn = churn;
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
	int32		slot;

	forecast_predict_slot(fc, c, out, &slot);
}

void
forecast_predict_slot(ForecastCache *fc, const StageCustomer *c, Prediction *out, int32 *slot)
{
	TripleKey	key;
	TripleEntry *e;
	TripleForecast *t;
	bool		found;

	*slot = -1;
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
	e = triples_insert(fc->hash, key, &found);
	if (!found)
	{
		e->slot = triple_forecast_new(fc);
		t = triple_forecast(fc, e->slot);
		if (fc->nhorizons > 0)
			forecast_via_pair(fc, c->frequency, key.recency_days, key.age_days, &t->fc);
		else
			model_set_forecast(fc->ms, c->frequency, key.recency_days / fc->unit,
							   key.age_days / fc->unit, &t->fc);
		t->customers = 0;
	}
	else
		t = triple_forecast(fc, e->slot);
	t->customers++;
	*slot = (int32) e->slot;
	model_set_predict(fc->ms, &t->fc, c->frequency, c->monetary, out);
}

/*
 * One lookup per triple instead of one per customer in pass 2 (3.4 % of a
 * BG/NBD refresh's build went to looking every customer's churn risk up in
 * the histogram's hash table): a customer's churn risk is its triple's
 * (model_set_predict), so the percentile of its slot is its own.
 */
double *
forecast_cache_churn_percentiles(ForecastCache *fc, CumeDist *churn)
{
	double	   *pct;
	long		i;

	if (fc->refilled || fc->hash == NULL || fc->entries == 0)
		return NULL;
	pct = palloc(sizeof(double) * fc->entries);
	for (i = 0; i < fc->entries; i++)
	{
		TripleForecast *t = triple_forecast(fc, (uint32) i);

		pct[i] = isfinite(t->fc.churn_risk) ? cume_dist_of(churn, t->fc.churn_risk) : NAN;
		CHECK_FOR_INTERRUPTS();
	}
	return pct;
}
