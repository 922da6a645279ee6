/*
 * citus_predict.h — a customer's predictions as a float8[] (what
 * hvc._citus_predict returns on a Citus worker and the snapshot builder
 * reads back on the coordinator): one place for the order of the fields.
 */
#ifndef HVC_CITUS_PREDICT_H
#define HVC_CITUS_PREDICT_H

#include "postgres.h"

#include "utils/array.h"

#include "models.h"

/* p_alive, churn_risk, predicted_orders, expected_order_value, predicted_clv, next_order_in */
#define PREDICTION_FIELDS 6

extern ArrayType *prediction_to_array(const Prediction *p);

/* error (data_corrupted) unless a is a float8[PREDICTION_FIELDS] without NULLs */
extern void prediction_from_array(ArrayType *a, Prediction *p);

#endif
