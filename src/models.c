/*
 * models.c — reading hvc._model_params and predicting one customer.
 */
#include "postgres.h"

#include <math.h>

#include "executor/executor.h"
#include "utils/builtins.h"

#include "models.h"

static double
param_float(HeapTupleHeader t, const char *name)
{
	bool		isnull;
	Datum		d = GetAttributeByName(t, name, &isnull);

	return isnull ? NAN : DatumGetFloat8(d);
}

static bool
param_bool(HeapTupleHeader t, const char *name)
{
	bool		isnull;
	Datum		d = GetAttributeByName(t, name, &isnull);

	return !isnull && DatumGetBool(d);
}

void
model_set_from_params(HeapTupleHeader t, ModelSet *ms)
{
	bool		isnull;
	Datum		d;
	char	   *model;

	memset(ms, 0, sizeof(*ms));
	ms->usable = param_bool(t, "usable");
	ms->spend_usable = param_bool(t, "spend_usable");
	d = GetAttributeByName(t, "model", &isnull);
	model = isnull ? "none" : TextDatumGetCString(d);
	if (strcmp(model, "pareto_nbd") == 0)
	{
		ms->purchase.kind = HVC_MODEL_PARETO_NBD;
		ms->purchase.u.pnbd.r = param_float(t, "r");
		ms->purchase.u.pnbd.alpha = param_float(t, "alpha");
		ms->purchase.u.pnbd.s = param_float(t, "s");
		ms->purchase.u.pnbd.beta = param_float(t, "beta");
	}
	else if (strcmp(model, "bgnbd") == 0)
	{
		ms->purchase.kind = HVC_MODEL_BGNBD;
		ms->purchase.u.bgnbd.r = param_float(t, "r");
		ms->purchase.u.bgnbd.alpha = param_float(t, "alpha");
		ms->purchase.u.bgnbd.a = param_float(t, "a");
		ms->purchase.u.bgnbd.b = param_float(t, "b");
	}
	else
		ms->usable = false;
	ms->spend.p = param_float(t, "p");
	ms->spend.q = param_float(t, "q");
	ms->spend.v = param_float(t, "v");
	d = GetAttributeByName(t, "horizon_months", &isnull);
	ms->horizon_months = isnull ? 12 : DatumGetInt32(d);
	ms->monthly_discount_rate = param_float(t, "monthly_discount_rate");
	ms->units_per_month = param_float(t, "units_per_month");
}

void
model_set_forecast(const ModelSet *ms, double x, double t_x, double T, PurchaseForecast *out)
{
	out->p_alive = out->predicted_orders = out->discounted_purchases = out->next_order_in = NAN;
	if (!ms->usable)
		return;
	out->p_alive = hvc_model_p_alive(&ms->purchase, x, t_x, T);
	out->discounted_purchases =
		hvc_discounted_purchases(&ms->purchase, x, t_x, T, ms->horizon_months,
								 ms->monthly_discount_rate, ms->units_per_month,
								 &out->predicted_orders);
	out->next_order_in = hvc_model_next_order_median(&ms->purchase, x, T);
}

void
model_set_predict(const ModelSet *ms, const PurchaseForecast *fc, double x,
				  double monetary, Prediction *out)
{
	out->p_alive = fc->p_alive;
	out->predicted_orders = fc->predicted_orders;
	out->next_order_in = fc->next_order_in;
	out->expected_order_value = out->predicted_clv = NAN;
	if (!ms->usable || !ms->spend_usable)
		return;
	/* net repeat spend at or below zero gives no evidence of spending */
	out->expected_order_value = gg_expected_value(&ms->spend, x, x > 0 ? fmax(monetary, 0.0) : 0.0);
	if (isfinite(out->expected_order_value) && isfinite(fc->discounted_purchases))
		out->predicted_clv = out->expected_order_value * fc->discounted_purchases;
}
