/*
 * models.h — the fitted models a refresh predicts with, and the per-customer
 * prediction, shared by the refresh's fit step and the snapshot builder.
 */
#ifndef HVC_MODELS_H
#define HVC_MODELS_H

#include "postgres.h"

#include "access/htup.h"

#include "core/clv.h"
#include "core/gamma_gamma.h"

typedef struct ModelSet
{
	bool		usable;			/* purchase model fitted and converged */
	bool		spend_usable;	/* Gamma-Gamma fitted, converged, q > 1 */
	hvc_purchase_model purchase;
	gg_params	spend;
	int			horizon_months;
	double		monthly_discount_rate;
	double		units_per_month;	/* 4.345 weeks or 30 days */
} ModelSet;

typedef struct Prediction
{
	double		p_alive;
	double		predicted_orders;
	double		expected_order_value;
	double		predicted_clv;
	double		next_order_in;	/* median time to next purchase, time units */
} Prediction;

/* Fill from an hvc._model_params value. */
extern void model_set_from_params(HeapTupleHeader params, ModelSet *ms);

/* Predictions for one customer; fields that cannot be computed are NaN. */
extern void model_set_predict(const ModelSet *ms, double x, double t_x, double T,
							  double monetary, Prediction *out);

#endif
