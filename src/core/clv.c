/*
 * clv.c — discounted CLV and next-order timing.
 */
#include "clv.h"

#include <math.h>

#include "specfun.h"

/* the most months computed in one pass */
#define HVC_CLV_MANY_MAX 64

double
hvc_model_p_alive(const hvc_purchase_model *m, double x, double t_x, double T)
{
	if (m == NULL)
		return NAN;
	switch (m->kind)
	{
		case HVC_MODEL_BGNBD:
			return bgnbd_p_alive(&m->u.bgnbd, x, t_x, T);
		case HVC_MODEL_PARETO_NBD:
			return pnbd_p_alive(&m->u.pnbd, x, t_x, T);
		case HVC_MODEL_MBGNBD:
			return mbgnbd_p_alive(&m->u.mbgnbd, x, t_x, T);
	}
	return NAN;
}

double
hvc_model_expected_purchases(const hvc_purchase_model *m, double t,
							 double x, double t_x, double T)
{
	if (m == NULL)
		return NAN;
	switch (m->kind)
	{
		case HVC_MODEL_BGNBD:
			return bgnbd_expected_purchases(&m->u.bgnbd, t, x, t_x, T);
		case HVC_MODEL_PARETO_NBD:
			return pnbd_expected_purchases(&m->u.pnbd, t, x, t_x, T);
		case HVC_MODEL_MBGNBD:
			return mbgnbd_expected_purchases(&m->u.mbgnbd, t, x, t_x, T);
	}
	return NAN;
}

static double
model_fn(const void *ctx, double t, double x, double t_x, double T)
{
	return hvc_model_expected_purchases((const hvc_purchase_model *) ctx,
										t, x, t_x, T);
}

double
hvc_discounted_purchases_fn(hvc_expected_fn fn, const void *ctx, double x, double t_x,
							double T, int months, double monthly_discount,
							double units_per_month, double *purchases)
{
	double		dep = 0.0,
				prev = 0.0,
				disc = 1.0;
	int			k;

	if (purchases != NULL)
		*purchases = NAN;
	if (fn == NULL || months < 0 ||
		!(units_per_month > 0.0) || !isfinite(units_per_month) ||
		!(monthly_discount > -1.0) || !isfinite(monthly_discount))
		return NAN;
	for (k = 1; k <= months; k++)
	{
		double		cur = fn(ctx, (double) k * units_per_month, x, t_x, T);

		if (!isfinite(cur))
			return NAN;
		disc /= 1.0 + monthly_discount;
		dep += (cur - prev) * disc;
		prev = cur;
	}
	if (purchases != NULL)
		*purchases = prev;
	return dep;
}

double
hvc_clv_fn(hvc_expected_fn fn, const void *ctx, double x, double t_x,
		   double T, double spend, int months, double monthly_discount,
		   double units_per_month)
{
	if (!isfinite(spend))
		return NAN;
	return spend * hvc_discounted_purchases_fn(fn, ctx, x, t_x, T, months,
											   monthly_discount, units_per_month, NULL);
}

double
hvc_discounted_purchases(const hvc_purchase_model *m, double x, double t_x, double T,
						 int months, double monthly_discount, double units_per_month,
						 double *purchases)
{
	double		t[HVC_CLV_MANY_MAX],
				cur[HVC_CLV_MANY_MAX];
	int			k;

	if (m == NULL)
		return NAN;
	if (m->kind != HVC_MODEL_BGNBD || months < 1 || months > HVC_CLV_MANY_MAX ||
		!(units_per_month > 0.0) || !isfinite(units_per_month) ||
		!(monthly_discount > -1.0) || !isfinite(monthly_discount))
		return hvc_discounted_purchases_fn(model_fn, m, x, t_x, T, months, monthly_discount,
										   units_per_month, purchases);
	/*
	 * BG/NBD: the months' E[Y] in one pass (bgnbd_expected_purchases_many,
	 * bit-identical to one call per month), then the loop of
	 * hvc_discounted_purchases_fn on them.
	 */
	if (purchases != NULL)
		*purchases = NAN;
	for (k = 1; k <= months; k++)
		t[k - 1] = (double) k * units_per_month;
	bgnbd_expected_purchases_many(&m->u.bgnbd, t, months, x, t_x, T, cur);
	return hvc_discount_expected(cur, months, monthly_discount, purchases);
}

double
hvc_discount_expected(const double *cur, int months, double monthly_discount, double *purchases)
{
	double		dep = 0.0,
				prev = 0.0,
				disc = 1.0;
	int			k;

	if (purchases != NULL)
		*purchases = NAN;
	if (months < 0 || !(monthly_discount > -1.0) || !isfinite(monthly_discount))
		return NAN;
	for (k = 1; k <= months; k++)
	{
		if (!isfinite(cur[k - 1]))
			return NAN;
		disc /= 1.0 + monthly_discount;
		dep += (cur[k - 1] - prev) * disc;
		prev = cur[k - 1];
	}
	if (purchases != NULL)
		*purchases = prev;
	return dep;
}

double
hvc_clv(const hvc_purchase_model *m, double x, double t_x, double T,
		double spend, int months, double monthly_discount,
		double units_per_month)
{
	if (m == NULL)
		return NAN;
	return hvc_clv_fn(model_fn, m, x, t_x, T, spend, months,
					  monthly_discount, units_per_month);
}

static int
timing_valid(double r, double alpha, double x, double T)
{
	return isfinite(r) && isfinite(alpha) && isfinite(x) && isfinite(T) &&
		r > 0.0 && alpha > 0.0 && x >= 0.0 && T >= 0.0;
}

double
hvc_next_order_median(double r, double alpha, double x, double T)
{
	if (!timing_valid(r, alpha, x, T))
		return NAN;
	/* 2^(1/(r+x)) - 1 without cancellation for large r+x */
	return (alpha + T) * expm1(HVC_LN2 / (r + x));
}

double
hvc_next_order_mean(double r, double alpha, double x, double T)
{
	if (!timing_valid(r, alpha, x, T))
		return NAN;
	if (r + x <= 1.0)
		return INFINITY;
	return (alpha + T) / (r + x - 1.0);
}

static int
model_r_alpha(const hvc_purchase_model *m, double *r, double *alpha)
{
	if (m == NULL)
		return 0;
	switch (m->kind)
	{
		case HVC_MODEL_BGNBD:
			*r = m->u.bgnbd.r;
			*alpha = m->u.bgnbd.alpha;
			return 1;
		case HVC_MODEL_PARETO_NBD:
			*r = m->u.pnbd.r;
			*alpha = m->u.pnbd.alpha;
			return 1;
		case HVC_MODEL_MBGNBD:
			*r = m->u.mbgnbd.r;
			*alpha = m->u.mbgnbd.alpha;
			return 1;
	}
	return 0;
}

double
hvc_model_next_order_median(const hvc_purchase_model *m, double x, double T)
{
	double		r, alpha;

	if (!model_r_alpha(m, &r, &alpha))
		return NAN;
	return hvc_next_order_median(r, alpha, x, T);
}

double
hvc_model_prob_purchase_within(const hvc_purchase_model *m, double t,
							   double x, double t_x, double T)
{
	double		r, alpha, pa;

	if (!model_r_alpha(m, &r, &alpha) || !(t >= 0.0) || !isfinite(t))
		return NAN;
	pa = hvc_model_p_alive(m, x, t_x, T);
	if (isnan(pa))
		return NAN;
	/* 1 - ((alpha+T)/(alpha+T+t))^(r+x) = -expm1(-(r+x) log1p(t/(alpha+T))) */
	return pa * -expm1(-(r + x) * log1p(t / (alpha + T)));
}
