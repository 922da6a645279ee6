/*
 * churn.c — P(no purchase in the next tau | x, t_x, T) for BG/NBD and
 * Pareto/NBD (see churn.h for the formulas).
 */
#include <math.h>

#include "churn.h"

double
btyd_p0_gamma_exp(double p_alive, double shape, double rate, double tau)
{
	double		buy;

	if (!(p_alive >= 0.0 && p_alive <= 1.0) || !(shape > 0.0) ||
		!(rate > 0.0) || !isfinite(shape) || !isfinite(rate) ||
		!(tau >= 0.0) || !isfinite(tau))
		return NAN;
	/* P(a purchase in (T, T+tau] | alive) = 1 - (1 + tau/rate)^-shape */
	buy = -expm1(-shape * log1p(tau / rate));
	return 1.0 - p_alive * buy;
}

double
bgnbd_p_no_purchase(const bgnbd_params *p, double tau, double x,
					double t_x, double T)
{
	double		pa = bgnbd_p_alive(p, x, t_x, T);

	if (isnan(pa))
		return NAN;
	return btyd_p0_gamma_exp(pa, p->r + x, p->alpha + T, tau);
}

/* ---------------------------------------------------------------------- */
/* Pareto/NBD: adaptive Gauss-Legendre on the transformed integral         */

typedef struct
{
	double		inv_a;			/* 1 / A */
	double		b_over_c;		/* B / C */
	double		s;
} pnbd_integrand;

static double
integrand(const pnbd_integrand *f, double w)
{
	return exp(-w - f->s * log1p(f->b_over_c * expm1(w * f->inv_a)));
}

/* 10-point Gauss-Legendre on [lo, hi] */
static double
gl10(const pnbd_integrand *f, double lo, double hi)
{
	static const double xs[5] = {
		0.1488743389816312, 0.4333953941292472, 0.6794095682990244,
		0.8650633666889845, 0.9739065285171717
	};
	static const double ws[5] = {
		0.2955242247147529, 0.2692667193099963, 0.2190863625159820,
		0.1494513491505806, 0.0666713443086881
	};
	double		mid = 0.5 * (lo + hi),
				half = 0.5 * (hi - lo),
				sum = 0.0;
	int			i;

	for (i = 0; i < 5; i++)
		sum += ws[i] * (integrand(f, mid - half * xs[i]) +
						integrand(f, mid + half * xs[i]));
	return half * sum;
}

/* the recursion depth is bounded (at most 2^depth panels) */
static double
adaptive(const pnbd_integrand *f, double lo, double hi, double whole,
		 double tol, int depth)
{
	double		mid = 0.5 * (lo + hi),
				left = gl10(f, lo, mid),
				right = gl10(f, mid, hi);

	/* a non-finite panel cannot converge: stop instead of splitting 2^depth times */
	if (depth <= 0 || !isfinite(left + right) || fabs(left + right - whole) <= tol)
		return left + right;
	return adaptive(f, lo, mid, left, 0.5 * tol, depth - 1) +
		adaptive(f, mid, hi, right, 0.5 * tol, depth - 1);
}

double
pnbd_p_no_purchase(const pnbd_params *p, double tau, double x,
				   double t_x, double T)
{
	pnbd_integrand f;
	double		pa, A, B, C, top, integral;

	pa = pnbd_p_alive(p, x, t_x, T);
	if (isnan(pa) || !(tau >= 0.0) || !isfinite(tau))
		return NAN;
	if (tau == 0.0)
		return 1.0;
	A = p->r + x;
	B = p->alpha + T;
	/* the edge s -> 0 (nobody drops out, beta not identified): the NBD limit */
	if (p->s == 0.0)
		return exp(-A * log1p(tau / B));
	C = p->beta + T;
	f.inv_a = 1.0 / A;
	f.b_over_c = B / C;
	f.s = p->s;
	top = A * log1p(tau / B);
	if (top > 60.0)
		top = 60.0;
	integral = adaptive(&f, 0.0, top, gl10(&f, 0.0, top), 1e-13, 20);
	if (!isfinite(integral))
		return NAN;
	if (integral > 1.0)
		integral = 1.0;
	return 1.0 - pa * integral;
}

double
hvc_model_p_no_purchase(const hvc_purchase_model *m, double tau, double x,
						double t_x, double T)
{
	if (m == NULL)
		return NAN;
	switch (m->kind)
	{
		case HVC_MODEL_BGNBD:
			return bgnbd_p_no_purchase(&m->u.bgnbd, tau, x, t_x, T);
		case HVC_MODEL_PARETO_NBD:
			return pnbd_p_no_purchase(&m->u.pnbd, tau, x, t_x, T);
		case HVC_MODEL_MBGNBD:
			return mbgnbd_p_no_purchase(&m->u.mbgnbd, tau, x, t_x, T);
	}
	return NAN;
}
