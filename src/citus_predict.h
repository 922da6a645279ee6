/*
 * citus_predict.h — a customer's predictions as a float8[] (what
 * hvc._citus_predict returns on a Citus worker and the snapshot builder
 * reads back on the coordinator): one place for the order of the fields.
 */
#ifndef HVC_CITUS_PREDICT_H
#define HVC_CITUS_PREDICT_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/date.h"

#include "models.h"

/* p_alive, churn_risk, predicted_orders, expected_order_value, predicted_clv, next_order_in */
#define PREDICTION_FIELDS 6

extern ArrayType *prediction_to_array(const Prediction *p);

/* What one call site's calls share: the models and their forecast cache. */
typedef struct ModelCache
{
	bytea	   *params;			/* the hvc._model_params value the cache is for */
	DateADT		as_of_day;
	ModelSet	ms;
	struct ForecastCache *forecasts;	/* snapshot_forecast.c */
} ModelCache;

/* the cache in flinfo->fn_extra, (re)built when the models or the day change */
extern ModelCache *model_cache_get(FmgrInfo *flinfo, HeapTupleHeader params, DateADT as_of_day);

/* error (data_corrupted) unless a is a float8[PREDICTION_FIELDS] without NULLs */
extern void prediction_from_array(ArrayType *a, Prediction *p);

#endif
