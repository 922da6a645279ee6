/*
 * mbgnbd.c — MBG/NBD likelihood, analytic gradient, fit and predictions.
 *
 * The likelihood has the BG/NBD form with b + x - 1 replaced by b + x, the
 * Beta terms shifted by one purchase (B(a, b+x+1)/B(a, b)) and the
 * "dropped out after the last purchase" term present for x = 0 too.
 */
#include "mbgnbd.h"

#include <math.h>

#include "churn.h"
#include "fit_driver.h"
#include "specfun.h"

int
mbgnbd_params_valid(const mbgnbd_params *p)
{
	return p != NULL &&
		isfinite(p->r) && isfinite(p->alpha) && p->r > 0.0 && p->alpha > 0.0 &&
		(mbgnbd_at_edge(p) ||
		 (isfinite(p->a) && isfinite(p->b) && p->a > 0.0 && p->b > 0.0));
}

int
mbgnbd_at_edge(const mbgnbd_params *p)
{
	/* a = 0 (a->0), or b = +infinity with a not identified (b->inf) */
	return p != NULL && (p->a == 0.0 || (isinf(p->b) && p->b > 0.0));
}

static int
data_valid(double x, double t_x, double T)
{
	return isfinite(x) && isfinite(t_x) && isfinite(T) &&
		x >= 0.0 && t_x >= 0.0 && t_x <= T;
}

double
mbgnbd_loglik_row(const mbgnbd_params *p, double x, double t_x, double T)
{
	double		r, al, a, b, A1, A2, A3, A4;

	if (!mbgnbd_params_valid(p) || !data_valid(x, t_x, T))
		return NAN;
	if (mbgnbd_at_edge(p))
		return hvc_nbd_loglik_row(p->r, p->alpha, x, T);
	if (x <= 0.0)
		t_x = 0.0;
	r = p->r;
	al = p->alpha;
	a = p->a;
	b = p->b;
	A1 = lgamma(r + x) - lgamma(r) + r * log(al);
	A2 = lgamma(a + b) + lgamma(b + x + 1.0) - lgamma(b) - lgamma(a + b + x + 1.0);
	A3 = -(r + x) * log(al + T);
	A4 = log(a) - log(b + x) - (r + x) * log(al + t_x);
	return A1 + A2 + hvc_lse2(A3, A4);
}

double
mbgnbd_loglik(const mbgnbd_params *p, const btyd_row *rows, size_t n)
{
	double		s = 0.0;
	size_t		i;

	for (i = 0; i < n; i++)
		s += rows[i].w * mbgnbd_loglik_row(p, rows[i].x, rows[i].t_x, rows[i].T);
	return s;
}

/*
 * Total weighted LL on prepared data with all times multiplied by tscale;
 * gradient w.r.t. the log-parameters.  Per row, with L3 = ln(alpha+T),
 * dL = ln(alpha+t_x) - L3 and D = ln a - ln(b+x) - (r+x) dL:
 *   row part = -(r+x) L3 + softplus(D),  pi = expit(D) = d softplus / dD.
 */
static double
eval_prep(const btyd_prep *d, const mbgnbd_params *p, double tscale, double *grad)
{
	const double r = p->r, al = p->alpha, a = p->a, b = p->b;
	double	   *lq = d->work, *ju = d->work + d->nu;
	double		ll = 0.0, gr = 0.0, gal = 0.0, ga = 0.0, gb = 0.0;
	double		lnal, lna;
	size_t		k, gi;

	if (!mbgnbd_params_valid(p) || mbgnbd_at_edge(p) || !(tscale > 0.0))
		return NAN;
	/* ln(1 + t/alpha) and t / (alpha + t) per distinct time (bgnbd.c) */
	for (k = 0; k < d->nu; k++)
	{
		const double t = tscale * d->u[k];

		lq[k] = log1p(t / al);
		ju[k] = t / (al + t);
	}
	lnal = log(al);
	lna = log(a);

	for (gi = 0; gi < d->ngroups; gi++)
	{
		const double x = d->gx[gi], W = d->gw[gi], rx = r + x, bx = b + x;
		const double K = lna - log(bx);
		const size_t i0 = d->gstart[gi], i1 = d->gstart[gi + 1];
		double		sll = 0.0, sr = 0.0, sal = 0.0, spi = 0.0;
		size_t		i;

		/* lnG differences, not lnG values (bgnbd.c: a, b at 1e10) */
		ll += W * (hvc_lgamma_diff(r, x) - x * lnal + hvc_lgamma_diff(b, x + 1.0)
				   - hvc_lgamma_diff(a + b, x + 1.0));
		if (grad)
		{
			const double dab = hvc_digamma_diff(a + b, x + 1.0);

			gr += W * hvc_digamma_diff(r, x);
			gal -= W * x;		/* d/d ln alpha, like every gal term */
			ga -= W * dab;
			gb += W * (hvc_digamma_diff(b, x + 1.0) - dab);
		}
		for (i = i0; i < i1; i++)
		{
			const double w = d->w[i];
			const unsigned jT = d->iT[i], jt = d->itx[i];
			/* L3 = ln(1 + T/alpha), dL = ln((alpha+t_x)/(alpha+T)) */
			const double L3 = lq[jT], dL = lq[jt] - L3;
			const double D = K - rx * dL;
			double		e, sp, pi;

			if (D > 0.0)
			{
				e = exp(-D);
				sp = D + log1p(e);
				pi = 1.0 / (1.0 + e);
			}
			else
			{
				e = exp(D);
				sp = log1p(e);
				pi = e / (1.0 + e);
			}
			sll += w * (sp - rx * L3);
			sr += w * (L3 + pi * dL);
			sal += w * (ju[jT] - pi * (ju[jT] - ju[jt]));
			spi += w * pi;
		}
		ll += sll;
		gr -= sr;
		gal += rx * sal;
		ga += spi / a;
		gb -= spi / bx;
	}
	if (grad)
	{
		grad[0] = gr * r;
		grad[1] = gal;
		grad[2] = ga * a;
		grad[3] = gb * b;
	}
	return ll;
}

double
mbgnbd_loglik_prep(const btyd_prep *d, const mbgnbd_params *p, double grad[4])
{
	return eval_prep(d, p, 1.0, grad);
}

/* ---------------------------------------------------------------------- */
/* predictions                                                             */

/* D = ln(a/(b+x)) + (r+x) ln((alpha+T)/(alpha+t_x)): P(alive) = expit(-D) */
static double
dead_logit(const mbgnbd_params *p, double x, double t_x, double T)
{
	if (x <= 0.0)
		t_x = 0.0;
	return (p->r + x) * log1p((T - t_x) / (p->alpha + t_x))
		+ log(p->a) - log(p->b + x);
}

double
mbgnbd_p_alive(const mbgnbd_params *p, double x, double t_x, double T)
{
	if (!mbgnbd_params_valid(p) || !data_valid(x, t_x, T))
		return NAN;
	if (mbgnbd_at_edge(p))
		return 1.0;
	return hvc_expit(-dead_logit(p, x, t_x, T));
}

/* the form MBG/NBD shares with BG/NBD (churn.c), with its own P(alive) */
double
mbgnbd_p_no_purchase(const mbgnbd_params *p, double tau, double x, double t_x, double T)
{
	double		pa = mbgnbd_p_alive(p, x, t_x, T);

	if (isnan(pa))
		return NAN;
	return btyd_p0_gamma_exp(pa, p->r + x, p->alpha + T, tau);
}

/* 1 - sign * e^u, without cancellation for sign > 0 */
static double
one_minus_signed_exp(int sign, double u)
{
	if (sign > 0)
		return -expm1(u);
	if (sign < 0)
		return 1.0 + exp(u);
	return 1.0;
}

static double
cond_expected(const mbgnbd_params *p, double t, double x, double t_x, double T)
{
	const double r = p->r, al = p->alpha, a = p->a, b = p->b;
	const double A = r + x, B = b + x + 1.0, C = a + b + x;
	double		lnH, pal;
	int			sg;

	pal = hvc_expit(-dead_logit(p, x, t_x, T));
	/* 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t)) */
	lnH = hvc_log_hyp2f1(A, B, C, t / (al + T + t), &sg);
	if (isnan(lnH))
		return NAN;
	/* times ((alpha+T)/(alpha+T+t))^(r+x) */
	return pal * (C / (a - 1.0)) *
		one_minus_signed_exp(sg, lnH - A * log1p(t / (al + T)));
}

static double
uncond_expected(const mbgnbd_params *p, double t)
{
	const double r = p->r, al = p->alpha, a = p->a, b = p->b;
	double		lnH;
	int			sg;

	lnH = hvc_log_hyp2f1(r, b + 1.0, a + b, t / (al + t), &sg);
	if (isnan(lnH))
		return NAN;
	return b / (a - 1.0) * one_minus_signed_exp(sg, lnH - r * log1p(t / al));
}

/*
 * Both expectations have a removable singularity at a = 1 (1/(a-1) times a
 * bracket that vanishes there); near it, average the values at a = 1 -/+ h
 * (accurate to O(h^2)), as bgnbd.c does.
 */
#define A_ONE_EPS 1e-6

double
mbgnbd_expected_purchases(const mbgnbd_params *p, double t, double x,
						  double t_x, double T)
{
	if (!mbgnbd_params_valid(p) || !data_valid(x, t_x, T) || !(t >= 0.0) ||
		!isfinite(t))
		return NAN;
	if (x <= 0.0)
		t_x = 0.0;
	if (t == 0.0)
		return 0.0;
	if (mbgnbd_at_edge(p))
		return hvc_nbd_expected_purchases(p->r, p->alpha, t, x, T);
	if (fabs(p->a - 1.0) < A_ONE_EPS)
	{
		mbgnbd_params lo = *p, hi = *p;

		lo.a = 1.0 - A_ONE_EPS;
		hi.a = 1.0 + A_ONE_EPS;
		return 0.5 * (cond_expected(&lo, t, x, t_x, T) +
					  cond_expected(&hi, t, x, t_x, T));
	}
	return cond_expected(p, t, x, t_x, T);
}

double
mbgnbd_expected_purchases_new(const mbgnbd_params *p, double t)
{
	if (!mbgnbd_params_valid(p) || !(t >= 0.0) || !isfinite(t))
		return NAN;
	if (t == 0.0)
		return 0.0;
	if (mbgnbd_at_edge(p))
		return p->r / p->alpha * t;
	if (fabs(p->a - 1.0) < A_ONE_EPS)
	{
		mbgnbd_params lo = *p, hi = *p;

		lo.a = 1.0 - A_ONE_EPS;
		hi.a = 1.0 + A_ONE_EPS;
		return 0.5 * (uncond_expected(&lo, t) + uncond_expected(&hi, t));
	}
	return uncond_expected(p, t);
}

/* ---------------------------------------------------------------------- */
/* fit: hvc_btyd_fit() (fit_driver.c) with this log-likelihood            */

static double
eval_par(const btyd_prep *d, const double *par, double tscale, double *grad)
{
	const mbgnbd_params p = {par[0], par[1], par[2], par[3]};

	return eval_prep(d, &p, tscale, grad);
}

/*
 * alpha in units of time; at a -> 0 the dropout after purchases and at time
 * 0 both vanish: the NBD limit, b not identified (clv-models.md §9.2)
 */
const hvc_btyd_model hvc_mbgnbd_model = {eval_par, {0, 1, 0, 0}, {"r", "alpha", "a", "b"}, 2, 3, 0.0};

int
mbgnbd_fit(const btyd_row *rows, size_t n, const hvc_fit_options *opt,
		   mbgnbd_params *out, double *loglik, hvc_opt_report *rep)
{
	double		par[4];
	int			rc = hvc_btyd_fit(&hvc_mbgnbd_model, rows, n, opt, par, loglik, rep);

	out->r = par[0];
	out->alpha = par[1];
	out->a = par[2];
	out->b = par[3];
	return rc;
}
