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
	double		churn_window;	/* churn_risk window, time units; NaN: no churn_risk */
	double		horizon_units;	/* horizon_days in time units; NaN: horizon_months */
	bool		legacy_churn;	/* 0.1.0 catalog (no churn_window): 1 - p_alive */
} ModelSet;

typedef struct Prediction
{
	double		p_alive;
	double		churn_risk;		/* P(no purchase in the churn window) */
	double		predicted_orders;
	double		expected_order_value;
	double		predicted_clv;
	double		next_order_in;	/* median time to next purchase, time units */
} Prediction;

/*
 * What the purchase model says about a (frequency, recency, age) triple; the
 * expensive part of a prediction, shared by every customer with that triple.
 */
typedef struct PurchaseForecast
{
	double		p_alive;
	double		churn_risk;
	double		predicted_orders;	/* E[Y(horizon)] */
	double		discounted_purchases;	/* CLV per unit of spend */
	double		next_order_in;
} PurchaseForecast;

/*
 * With hvc.config.horizon_days, CLV is discounted per average calendar
 * month of 365.25 / 12 days, whatever the time unit.
 */
#define HVC_DAYS_PER_MONTH	30.4375

/* The ranges of the hvc.config CHECKs. */
#define HVC_MIN_HORIZON_MONTHS	1
#define HVC_MAX_HORIZON_MONTHS	240

/* A text attribute of a composite (what names it in errors); NULL is an error. */
extern char *model_required_text(HeapTupleHeader t, const char *name, const char *what);

/* Error unless model, horizon and discount are within the hvc.config CHECKs. */
extern void model_check_settings(const char *what, const char *model,
								 int32 horizon_months, double monthly_discount_rate);

/* Fill from an hvc._model_params value, validating it (errors, never a crash). */
extern void model_set_from_params(HeapTupleHeader params, ModelSet *ms);

/* Forecast for a triple; NaN fields when the model is unusable. */
extern void model_set_forecast(const ModelSet *ms, double x, double t_x, double T,
							   PurchaseForecast *out);

/*
 * The same forecast in two steps, for callers that share the expensive E[Y]
 * values (snapshot_forecast.c): the horizons whose E[Y] it needs (-1: more
 * than max, use model_set_forecast), then the forecast from E[Y] at them.
 */
extern int	model_set_horizons(const ModelSet *ms, double *t, int max);
extern void model_set_forecast_expected(const ModelSet *ms, double x, double t_x, double T,
										const double *expected, PurchaseForecast *out);

/* Predictions for one customer from its triple's forecast and its spend. */
extern void model_set_predict(const ModelSet *ms, const PurchaseForecast *fc, double x,
							  double monetary, Prediction *out);

/*
 * Read a purchase model composite (hvc.bgnbd, hvc.pareto_nbd, hvc.mbgnbd):
 * false when its parameters are NULL; errors when one is not positive
 * (model_funcs.c).
 */
extern bool read_purchase_model(HeapTupleHeader t, hvc_model_kind kind, hvc_purchase_model *m);

#endif
