/*
 * models.c — reading hvc._model_params and predicting one customer.
 */
#include "postgres.h"

#include <math.h>

#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/typcache.h"

#include "core/churn.h"
#include "models.h"
#include "version_guard.h"

static void
bad_param(const char *what, const char *msg)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("hvc: %s: %s", what, msg),
			 errhint("hvc.refresh() passes hvc.config and the fitted models; do not call hvc._fit_models or hvc._build_snapshot directly.")));
}

/* a composite's attribute that must not be NULL */
static Datum
required_attr(HeapTupleHeader t, const char *name, const char *what)
{
	bool		isnull;
	Datum		d = hvc_attribute(t, name, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc: %s.%s must not be NULL", what, name)));
	return d;
}

char *
model_required_text(HeapTupleHeader t, const char *name, const char *what)
{
	return TextDatumGetCString(required_attr(t, name, what));
}

static double
param_float(HeapTupleHeader t, const char *name)
{
	bool		isnull;
	Datum		d = hvc_attribute(t, name, &isnull);

	return isnull ? NAN : DatumGetFloat8(d);
}

/* the BG/NBD, MBG/NBD edge b->inf: a and b NULL, purchase_edge 'b->inf' */
static bool
purchase_edge_is_b_inf(HeapTupleHeader t)
{
	bool		isnull;
	Datum		d = hvc_attribute(t, "purchase_edge", &isnull);

	return !isnull && strncmp(text_to_cstring(DatumGetTextPP(d)), "b->inf", 6) == 0;
}

static bool
param_bool(HeapTupleHeader t, const char *name)
{
	bool		isnull;
	Datum		d = hvc_attribute(t, name, &isnull);

	return !isnull && DatumGetBool(d);
}

/*
 * Whether the composite has the attribute: a 0.1.0 catalog's
 * hvc._model_params lacks the ones 0.2.0 added, and a database between
 * `make install` and ALTER EXTENSION hvc UPDATE still refreshes as 0.1.0 did.
 */
static bool
has_attribute(HeapTupleHeader t, const char *name)
{
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(t),
											  HeapTupleHeaderGetTypMod(t));
	bool		found = false;
	int			i;

	for (i = 0; i < desc->natts && !found; i++)
		found = !TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), name) == 0;
	ReleaseTupleDesc(desc);
	return found;
}

void
model_check_settings(const char *what, const char *model, int32 horizon_months,
					 double monthly_discount_rate)
{
	if (strcmp(model, "bgnbd") != 0 && strcmp(model, "pareto_nbd") != 0 &&
		strcmp(model, "mbgnbd") != 0 && strcmp(model, "none") != 0)
		bad_param(what, psprintf("model must be bgnbd, pareto_nbd, mbgnbd or none, got \"%s\"", model));
	if (horizon_months < HVC_MIN_HORIZON_MONTHS || horizon_months > HVC_MAX_HORIZON_MONTHS)
		bad_param(what, psprintf("horizon_months must be between %d and %d, got %d",
								 HVC_MIN_HORIZON_MONTHS, HVC_MAX_HORIZON_MONTHS, horizon_months));
	if (!(monthly_discount_rate >= 0.0 && monthly_discount_rate < 1.0))
		bad_param(what, psprintf("monthly_discount_rate must be at least 0 and below 1, got %g",
								 monthly_discount_rate));
}

static void
check_positive(const char *what, const char *name, double v)
{
	if (!isfinite(v) || !(v > 0.0))
		bad_param(what, psprintf("a usable model needs %s positive and finite, got %g", name, v));
}

void
model_set_from_params(HeapTupleHeader t, ModelSet *ms)
{
	const char *what = "hvc._model_params";
	char	   *model = model_required_text(t, "model", what);

	memset(ms, 0, sizeof(*ms));
	ms->usable = param_bool(t, "usable");
	ms->spend_usable = param_bool(t, "spend_usable");
	ms->horizon_months = DatumGetInt32(required_attr(t, "horizon_months", what));
	ms->monthly_discount_rate = DatumGetFloat8(required_attr(t, "monthly_discount_rate", what));
	ms->units_per_month = DatumGetFloat8(required_attr(t, "units_per_month", what));
	model_check_settings(what, model, ms->horizon_months, ms->monthly_discount_rate);
	ms->legacy_churn = !has_attribute(t, "churn_window");
	ms->churn_window = ms->legacy_churn ? NAN : param_float(t, "churn_window");
	ms->horizon_units = ms->legacy_churn ? NAN : param_float(t, "horizon_units");
	if (!isnan(ms->churn_window))
		check_positive(what, "churn_window", ms->churn_window);
	if (!isnan(ms->horizon_units))
		check_positive(what, "horizon_units", ms->horizon_units);
	if (ms->units_per_month != HVC_UNITS_PER_MONTH_WEEK &&
		ms->units_per_month != HVC_UNITS_PER_MONTH_DAY)
		bad_param(what, psprintf("units_per_month must be %g (weeks) or %g (days), got %g",
								 HVC_UNITS_PER_MONTH_WEEK, HVC_UNITS_PER_MONTH_DAY,
								 ms->units_per_month));
	if (strcmp(model, "pareto_nbd") == 0)
	{
		ms->purchase.kind = HVC_MODEL_PARETO_NBD;
		ms->purchase.u.pnbd.r = param_float(t, "r");
		ms->purchase.u.pnbd.alpha = param_float(t, "alpha");
		ms->purchase.u.pnbd.s = param_float(t, "s");
		ms->purchase.u.pnbd.beta = param_float(t, "beta");
		if (ms->usable)
		{
			check_positive(what, "r", ms->purchase.u.pnbd.r);
			check_positive(what, "alpha", ms->purchase.u.pnbd.alpha);
			/* at the no-dropout edge s = 0 and beta is not identified (NULL) */
			if (!pnbd_at_edge(&ms->purchase.u.pnbd))
			{
				check_positive(what, "s", ms->purchase.u.pnbd.s);
				check_positive(what, "beta", ms->purchase.u.pnbd.beta);
			}
		}
	}
	else if (strcmp(model, "bgnbd") == 0)
	{
		ms->purchase.kind = HVC_MODEL_BGNBD;
		ms->purchase.u.bgnbd.r = param_float(t, "r");
		ms->purchase.u.bgnbd.alpha = param_float(t, "alpha");
		ms->purchase.u.bgnbd.a = param_float(t, "a");
		ms->purchase.u.bgnbd.b = param_float(t, "b");
		if (ms->usable && isnan(ms->purchase.u.bgnbd.a) && purchase_edge_is_b_inf(t))
			ms->purchase.u.bgnbd.b = INFINITY;	/* edge b->inf: a not identified */
		if (ms->usable)
		{
			check_positive(what, "r", ms->purchase.u.bgnbd.r);
			check_positive(what, "alpha", ms->purchase.u.bgnbd.alpha);
			/* at the no-dropout edge a = 0 and b is not identified (NULL) */
			if (!bgnbd_at_edge(&ms->purchase.u.bgnbd))
			{
				check_positive(what, "a", ms->purchase.u.bgnbd.a);
				check_positive(what, "b", ms->purchase.u.bgnbd.b);
			}
		}
	}
	else if (strcmp(model, "mbgnbd") == 0)
	{
		ms->purchase.kind = HVC_MODEL_MBGNBD;
		ms->purchase.u.mbgnbd.r = param_float(t, "r");
		ms->purchase.u.mbgnbd.alpha = param_float(t, "alpha");
		ms->purchase.u.mbgnbd.a = param_float(t, "a");
		ms->purchase.u.mbgnbd.b = param_float(t, "b");
		if (ms->usable && isnan(ms->purchase.u.mbgnbd.a) && purchase_edge_is_b_inf(t))
			ms->purchase.u.mbgnbd.b = INFINITY;	/* edge b->inf: a not identified */
		if (ms->usable)
		{
			check_positive(what, "r", ms->purchase.u.mbgnbd.r);
			check_positive(what, "alpha", ms->purchase.u.mbgnbd.alpha);
			/* at the no-dropout edge a = 0 and b is not identified (NULL) */
			if (!mbgnbd_at_edge(&ms->purchase.u.mbgnbd))
			{
				check_positive(what, "a", ms->purchase.u.mbgnbd.a);
				check_positive(what, "b", ms->purchase.u.mbgnbd.b);
			}
		}
	}
	else
		ms->usable = false;
	ms->spend.p = param_float(t, "p");
	ms->spend.q = param_float(t, "q");
	ms->spend.v = param_float(t, "v");
	if (ms->usable && ms->spend_usable)
	{
		check_positive(what, "p", ms->spend.p);
		check_positive(what, "q", ms->spend.q);
		check_positive(what, "v", ms->spend.v);
		if (!(ms->spend.q > 1.0))
			bad_param(what, psprintf("a usable spend model needs q > 1, got %g", ms->spend.q));
	}
}

/*
 * Discounted expected purchases over a horizon of H time units (horizon_days
 * converted): months of f = 30.4375 days (in time units), the K = floor(H/f)
 * whole months discounted as with horizon_months, and the purchases of the
 * last, partial month (K f, H] discounted like a month, by (1+d)^-(K+1).
 * So the CLV of horizon_days = 30.4375 k equals k whole months, and a
 * horizon means the same in days and in weeks.  *purchases gets E[Y(H)].
 */
static double
discounted_purchases_days(const ModelSet *ms, double x, double t_x, double T,
						  double *purchases)
{
	double		unit_days = ms->units_per_month == HVC_UNITS_PER_MONTH_WEEK ? 7.0 : 1.0;
	double		f = HVC_DAYS_PER_MONTH / unit_days,
				H = ms->horizon_units,
				whole = floor(H / f + 1e-9),
				e_whole,
				e_all,
				dep;

	dep = hvc_discounted_purchases(&ms->purchase, x, t_x, T, (int) whole,
								   ms->monthly_discount_rate, f, &e_whole);
	*purchases = e_whole;
	if (!isfinite(dep) || H <= whole * f)
		return dep;
	e_all = hvc_model_expected_purchases(&ms->purchase, H, x, t_x, T);
	*purchases = e_all;
	return dep + (e_all - e_whole) / pow(1.0 + ms->monthly_discount_rate, whole + 1.0);
}

/*
 * The horizons (in time units) whose E[Y] a forecast needs, in the order
 * model_set_forecast_expected takes them: the whole months of the CLV
 * (k * units per month, k = 1..), then, with horizon_days, the horizon H
 * itself.  -1 when there are more than max (or the settings are out of
 * range): use model_set_forecast.
 */
int
model_set_horizons(const ModelSet *ms, double *t, int max)
{
	int			k,
				n;

	if (!isnan(ms->horizon_units))
	{
		double		unit_days = ms->units_per_month == HVC_UNITS_PER_MONTH_WEEK ? 7.0 : 1.0;
		double		f = HVC_DAYS_PER_MONTH / unit_days,
					whole = floor(ms->horizon_units / f + 1e-9);

		if (!(whole >= 0.0) || whole + 1.0 > (double) max || !isfinite(ms->horizon_units))
			return -1;
		n = (int) whole;
		for (k = 1; k <= n; k++)
			t[k - 1] = (double) k * f;
		t[n] = ms->horizon_units;
		return n + 1;
	}
	if (ms->horizon_months < 0 || ms->horizon_months > max ||
		!(ms->units_per_month > 0.0) || !isfinite(ms->units_per_month))
		return -1;
	for (k = 1; k <= ms->horizon_months; k++)
		t[k - 1] = (double) k * ms->units_per_month;
	return ms->horizon_months;
}

/*
 * The start of a forecast: every field NaN, then (with a usable model)
 * p_alive and churn_risk; false when the model is not usable.
 */
static bool
forecast_alive(const ModelSet *ms, double x, double t_x, double T, PurchaseForecast *out)
{
	out->p_alive = out->churn_risk = out->predicted_orders = out->discounted_purchases =
		out->next_order_in = NAN;
	if (!ms->usable)
		return false;
	out->p_alive = hvc_model_p_alive(&ms->purchase, x, t_x, T);
	if (!isnan(ms->churn_window))
		out->churn_risk = hvc_model_p_no_purchase(&ms->purchase, ms->churn_window, x, t_x, T);
	else if (ms->legacy_churn)
		out->churn_risk = 1.0 - out->p_alive;
	return true;
}

/*
 * model_set_forecast with E[Y] at the horizons of model_set_horizons given
 * (expected[i], computed by the caller): the same operations on the same
 * values, so the same result.
 */
void
model_set_forecast_expected(const ModelSet *ms, double x, double t_x, double T,
							const double *expected, PurchaseForecast *out)
{
	if (!forecast_alive(ms, x, t_x, T, out))
		return;
	if (!isnan(ms->horizon_units))
	{
		/* discounted_purchases_days on the given values */
		double		unit_days = ms->units_per_month == HVC_UNITS_PER_MONTH_WEEK ? 7.0 : 1.0;
		double		f = HVC_DAYS_PER_MONTH / unit_days,
					H = ms->horizon_units,
					whole = floor(H / f + 1e-9),
					e_whole,
					dep;

		dep = hvc_discount_expected(expected, (int) whole, ms->monthly_discount_rate, &e_whole);
		out->predicted_orders = e_whole;
		if (isfinite(dep) && H > whole * f)
		{
			out->predicted_orders = expected[(int) whole];
			dep = dep + (expected[(int) whole] - e_whole) / pow(1.0 + ms->monthly_discount_rate, whole + 1.0);
		}
		out->discounted_purchases = dep;
	}
	else
		out->discounted_purchases =
			hvc_discount_expected(expected, ms->horizon_months, ms->monthly_discount_rate,
								  &out->predicted_orders);
	out->next_order_in = hvc_model_next_order_median(&ms->purchase, x, T);
}

void
model_set_forecast(const ModelSet *ms, double x, double t_x, double T, PurchaseForecast *out)
{
	if (!forecast_alive(ms, x, t_x, T, out))
		return;
	if (!isnan(ms->horizon_units))
		out->discounted_purchases = discounted_purchases_days(ms, x, t_x, T, &out->predicted_orders);
	else
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
	out->churn_risk = fc->churn_risk;
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
