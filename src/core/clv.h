/*
 * clv.h — discounted customer lifetime value (as lifetimes'
 * _customer_lifetime_value, clv-models.md §6) and next-order timing (§7),
 * generic over the purchase model.
 */
#ifndef HVC_CLV_H
#define HVC_CLV_H

#include "bgnbd.h"
#include "mbgnbd.h"
#include "pareto_nbd.h"

/* time units per month, as in lifetimes */
#define HVC_UNITS_PER_MONTH_DAY		30.0
#define HVC_UNITS_PER_MONTH_WEEK	4.345

typedef enum
{
	HVC_MODEL_BGNBD = 1,
	HVC_MODEL_PARETO_NBD = 2,
	HVC_MODEL_MBGNBD = 3
} hvc_model_kind;

typedef struct
{
	hvc_model_kind kind;
	union
	{
		bgnbd_params bgnbd;
		pnbd_params pnbd;
		mbgnbd_params mbgnbd;
	}			u;
} hvc_purchase_model;

/* model dispatch: NaN for an unknown kind or invalid input */
double		hvc_model_p_alive(const hvc_purchase_model *m,
							  double x, double t_x, double T);
double		hvc_model_expected_purchases(const hvc_purchase_model *m, double t,
										 double x, double t_x, double T);

/* E[Y(t) | x, t_x, T] of some model; ctx is the model's parameters */
typedef double (*hvc_expected_fn) (const void *ctx, double t,
								   double x, double t_x, double T);

/*
 * CLV = sum_{k=1..months} spend * [E[Y(k f)] - E[Y((k-1) f)]] / (1+d)^k,
 * f = units_per_month (time units of t_x, T per month), d = monthly
 * discount rate (> -1).  spend is the expected value per order (e.g.
 * gg_expected_value()).  Returns NaN on invalid input (months < 0,
 * units_per_month <= 0, d <= -1, non-finite spend, model failure); 0 for
 * months == 0.
 */
double		hvc_clv_fn(hvc_expected_fn fn, const void *ctx, double x, double t_x,
					   double T, double spend, int months,
					   double monthly_discount, double units_per_month);
/*
 * Discounted expected purchases: sum_k [E[Y(k f)] - E[Y((k-1) f)]] / (1+d)^k,
 * so CLV = spend * this (lifetimes' monthly loop with spend factored out).
 * *purchases (may be NULL) gets E[Y(months f)], the undiscounted total.
 */
double		hvc_discounted_purchases_fn(hvc_expected_fn fn, const void *ctx, double x,
										double t_x, double T, int months,
										double monthly_discount, double units_per_month,
										double *purchases);
double		hvc_discounted_purchases(const hvc_purchase_model *m, double x, double t_x,
									 double T, int months, double monthly_discount,
									 double units_per_month, double *purchases);
/*
 * The discounting loop of hvc_discounted_purchases_fn on precomputed
 * cur[k - 1] = E[Y(k f)], k = 1..months (same operations, same result).
 */
double		hvc_discount_expected(const double *cur, int months, double monthly_discount,
								  double *purchases);
double		hvc_clv(const hvc_purchase_model *m, double x, double t_x, double T,
					double spend, int months, double monthly_discount,
					double units_per_month);

/*
 * Next-order timing [derived, §7]: given alive at T, the purchase rate is
 * Gamma(r+x, alpha+T), so the waiting time to the next purchase (ignoring
 * death) is Lomax: P(tau > t) = ((alpha+T)/(alpha+T+t))^(r+x).
 *   median = (alpha+T) (2^(1/(r+x)) - 1)
 *   mean   = (alpha+T) / (r+x-1)      (+inf if r+x <= 1)
 * Valid for BG/NBD and Pareto/NBD (both use their r, alpha).  NaN on
 * invalid input.
 */
double		hvc_next_order_median(double r, double alpha, double x, double T);
double		hvc_next_order_mean(double r, double alpha, double x, double T);
double		hvc_model_next_order_median(const hvc_purchase_model *m,
										double x, double T);

/*
 * P(at least one purchase in (T, T+t]) ignoring death after T:
 * P(alive) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)]   (§7)
 */
double		hvc_model_prob_purchase_within(const hvc_purchase_model *m, double t,
										   double x, double t_x, double T);

#endif							/* HVC_CLV_H */
