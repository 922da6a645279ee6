/*
 * bgnbd.c — BG/NBD likelihood, analytic gradient, fit and predictions.
 */
#include "bgnbd.h"

#include <math.h>

#include "fit_driver.h"
#include "specfun.h"

int
bgnbd_params_valid(const bgnbd_params *p)
{
	return p != NULL &&
		isfinite(p->r) && isfinite(p->alpha) && p->r > 0.0 && p->alpha > 0.0 &&
		(bgnbd_at_edge(p) ||
		 (isfinite(p->a) && isfinite(p->b) && p->a > 0.0 && p->b > 0.0));
}

int
bgnbd_at_edge(const bgnbd_params *p)
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
bgnbd_loglik_row(const bgnbd_params *p, double x, double t_x, double T)
{
	double		r, al, a, b, A1, A2, A3, A4;

	if (!bgnbd_params_valid(p) || !data_valid(x, t_x, T))
		return NAN;
	if (bgnbd_at_edge(p))
		return hvc_nbd_loglik_row(p->r, p->alpha, x, T);
	r = p->r;
	al = p->alpha;
	a = p->a;
	b = p->b;
	A1 = lgamma(r + x) - lgamma(r) + r * log(al);
	A2 = lgamma(a + b) + lgamma(b + x) - lgamma(b) - lgamma(a + b + x);
	A3 = -(r + x) * log(al + T);
	if (x <= 0.0)
		return A1 + A2 + A3;
	if (!(b + x - 1.0 > 0.0))
		return NAN;
	A4 = log(a) - log(b + x - 1.0) - (r + x) * log(al + t_x);
	return A1 + A2 + hvc_lse2(A3, A4);
}

double
bgnbd_loglik(const bgnbd_params *p, const btyd_row *rows, size_t n)
{
	double		s = 0.0;
	size_t		i;

	for (i = 0; i < n; i++)
		s += rows[i].w * bgnbd_loglik_row(p, rows[i].x,
										  rows[i].x > 0.0 ? rows[i].t_x : 0.0,
										  rows[i].T);
	return s;
}

/*
 * Total weighted LL on prepared data with all times multiplied by tscale;
 * gradient w.r.t. the log-parameters.
 */
static double
eval_prep(const btyd_prep *d, const bgnbd_params *p, double tscale, double *grad)
{
	const double r = p->r, al = p->alpha, a = p->a, b = p->b;
	double	   *lq = d->work, *ju = d->work + d->nu;
	double		ll = 0.0, gr = 0.0, gal = 0.0, ga = 0.0, gb = 0.0;
	double		lnal, lna;
	size_t		k, gi;

	if (!bgnbd_params_valid(p) || bgnbd_at_edge(p) || !(tscale > 0.0))
		return NAN;
	/*
	 * Per distinct time t: ln(1 + t/alpha) and t / (alpha + t), so that
	 * r ln alpha - (r+x) ln(alpha+T) is -x ln alpha - (r+x) ln(1 + T/alpha)
	 * and no difference of logs near r ln alpha is taken: when r and alpha
	 * run off together (everyone buys at the same rate) those are 2e11
	 * differing in their units.  The same for a and b (hvc_lgamma_diff).
	 */
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
		const double x = d->gx[gi], W = d->gw[gi], rx = r + x;
		const size_t i0 = d->gstart[gi], i1 = d->gstart[gi + 1];
		double		sll = 0.0, sr = 0.0, sal = 0.0, spi = 0.0;
		size_t		i;

		ll += W * (hvc_lgamma_diff(r, x) - x * lnal + hvc_lgamma_diff(b, x) - hvc_lgamma_diff(a + b, x));
		if (grad)
		{
			const double dab = hvc_digamma_diff(a + b, x);

			gr += W * hvc_digamma_diff(r, x);
			gal -= W * x;		/* d/d ln alpha, like every gal term */
			ga -= W * dab;
			gb += W * (hvc_digamma_diff(b, x) - dab);
		}

		if (x <= 0.0)
		{
			for (i = i0; i < i1; i++)
			{
				sll += d->w[i] * lq[d->iT[i]];
				sal += d->w[i] * ju[d->iT[i]];
			}
			ll -= r * sll;
			gr -= sll;
			gal += r * sal;
			continue;
		}
		else
		{
			const double bx1 = b + x - 1.0;
			const double K = lna - log(bx1);

			if (!(bx1 > 0.0))
				return NAN;
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
			gb -= spi / bx1;
		}
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
bgnbd_loglik_prep(const btyd_prep *d, const bgnbd_params *p, double grad[4])
{
	return eval_prep(d, p, 1.0, grad);
}

/* ---------------------------------------------------------------------- */
/* predictions                                                             */

double
bgnbd_p_alive(const bgnbd_params *p, double x, double t_x, double T)
{
	double		D;

	if (!bgnbd_params_valid(p) || !data_valid(x, t_x, T))
		return NAN;
	if (x <= 0.0 || bgnbd_at_edge(p))
		return 1.0;
	if (!(p->b + x - 1.0 > 0.0))
		return NAN;
	/* D = (r+x) ln((alpha+T)/(alpha+t_x)) + ln(a/(b+x-1)) */
	D = (p->r + x) * log1p((T - t_x) / (p->alpha + t_x))
		+ log(p->a) - log(p->b + x - 1.0);
	return hvc_expit(-D);
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
cond_expected(const bgnbd_params *p, double t, double x, double t_x, double T)
{
	const double r = p->r, al = p->alpha, a = p->a, b = p->b;
	double		A = r + x, B = b + x, C = a + b + x - 1.0;
	double		z, l1mz, lnH, bracket, pal;
	int			sg;

	pal = bgnbd_p_alive(p, x, t_x, T);
	if (isnan(pal))
		return NAN;
	z = t / (al + T + t);
	l1mz = -log1p(t / (al + T));	/* ln((alpha+T)/(alpha+T+t)) = ln(1-z) */
	lnH = hvc_log_hyp2f1(A, B, C, z, &sg);
	if (isnan(lnH))
		return NAN;
	bracket = one_minus_signed_exp(sg, lnH + A * l1mz);
	return pal * (C / (a - 1.0)) * bracket;
}

/*
 * The formulas have a removable singularity at a = 1 ((a+b+x-1)/(a-1) times a
 * bracket that vanishes); near it, average the values at a = 1 -/+ h, which is
 * accurate to O(h^2).
 */
#define A_ONE_EPS 1e-6

double
bgnbd_expected_purchases(const bgnbd_params *p, double t, double x,
						 double t_x, double T)
{
	if (!bgnbd_params_valid(p) || !data_valid(x, t_x, T) || !(t >= 0.0) ||
		!isfinite(t))
		return NAN;
	if (x <= 0.0)
		t_x = 0.0;
	if (t == 0.0)
		return 0.0;
	if (bgnbd_at_edge(p))
		return hvc_nbd_expected_purchases(p->r, p->alpha, t, x, T);
	if (fabs(p->a - 1.0) < A_ONE_EPS)
	{
		bgnbd_params lo = *p, hi = *p;

		lo.a = 1.0 - A_ONE_EPS;
		hi.a = 1.0 + A_ONE_EPS;
		return 0.5 * (cond_expected(&lo, t, x, t_x, T) +
					  cond_expected(&hi, t, x, t_x, T));
	}
	return cond_expected(p, t, x, t_x, T);
}

/*
 * cond_expected for n horizons t[] (each > 0 and finite) at once: the same
 * operations per t, the 2F1 of all of them in one hvc_log_hyp2f1_many call
 * (bit-identical to n cond_expected calls).
 */
#define BGNBD_MANY_MAX 64

static void
cond_expected_many(const bgnbd_params *p, const double *t, int n, double x,
				   double t_x, double T, double *out)
{
	const double r = p->r, al = p->alpha, a = p->a, b = p->b;
	double		A = r + x, B = b + x, C = a + b + x - 1.0;
	double		z[BGNBD_MANY_MAX], lnH[BGNBD_MANY_MAX], pal;
	int			sg[BGNBD_MANY_MAX], j;

	pal = bgnbd_p_alive(p, x, t_x, T);
	for (j = 0; j < n; j++)
		z[j] = t[j] / (al + T + t[j]);
	if (isnan(pal))
	{
		for (j = 0; j < n; j++)
			out[j] = NAN;
		return;
	}
	hvc_log_hyp2f1_many(A, B, C, z, n, lnH, sg);
	for (j = 0; j < n; j++)
	{
		double		l1mz = -log1p(t[j] / (al + T));

		if (isnan(lnH[j]))
			out[j] = NAN;
		else
			out[j] = pal * (C / (a - 1.0)) * one_minus_signed_exp(sg[j], lnH[j] + A * l1mz);
	}
}

void
bgnbd_expected_purchases_many(const bgnbd_params *p, const double *t, int n,
							  double x, double t_x, double T, double *out)
{
	double		tt[BGNBD_MANY_MAX], lo_out[BGNBD_MANY_MAX], hi_out[BGNBD_MANY_MAX];
	int			idx[BGNBD_MANY_MAX];
	int			j, m = 0;
	int			ok = bgnbd_params_valid(p) && data_valid(x, t_x, T);

	if (n > BGNBD_MANY_MAX || (ok && bgnbd_at_edge(p)))
	{
		for (j = 0; j < n; j++)
			out[j] = bgnbd_expected_purchases(p, t[j], x, t_x, T);
		return;
	}
	if (x <= 0.0)
		t_x = 0.0;
	for (j = 0; j < n; j++)
	{
		if (!ok || !(t[j] >= 0.0) || !isfinite(t[j]))
			out[j] = NAN;
		else if (t[j] == 0.0)
			out[j] = 0.0;
		else
		{
			idx[m] = j;
			tt[m++] = t[j];
		}
	}
	if (m == 0)
		return;
	if (fabs(p->a - 1.0) < A_ONE_EPS)
	{
		bgnbd_params lo = *p, hi = *p;

		lo.a = 1.0 - A_ONE_EPS;
		hi.a = 1.0 + A_ONE_EPS;
		cond_expected_many(&lo, tt, m, x, t_x, T, lo_out);
		cond_expected_many(&hi, tt, m, x, t_x, T, hi_out);
		for (j = 0; j < m; j++)
			out[idx[j]] = 0.5 * (lo_out[j] + hi_out[j]);
	}
	else
	{
		cond_expected_many(p, tt, m, x, t_x, T, lo_out);
		for (j = 0; j < m; j++)
			out[idx[j]] = lo_out[j];
	}
}

/*
 * The t_x-free part of cond_expected for n horizons: E[Y(t)] is
 * P(alive | x, t_x, T) * (C / (a - 1)) * bracket(x, T, t), and the bracket
 * (the 2F1) depends on x and T only, so it can be shared by every customer
 * with the same (x, T) whatever the recency.  bgnbd_expected_from_brackets
 * finishes the products exactly as cond_expected does (bit-identical).
 */
static void
brackets_of(const bgnbd_params *p, const double *t, int n, double x, double T, double *br)
{
	const double r = p->r, al = p->alpha, a = p->a, b = p->b;
	double		A = r + x, B = b + x, C = a + b + x - 1.0;
	double		z[BGNBD_MANY_MAX] = {0}, lnH[BGNBD_MANY_MAX];
	int			sg[BGNBD_MANY_MAX], j;

	for (j = 0; j < n; j++)
		z[j] = t[j] > 0.0 && isfinite(t[j]) ? t[j] / (al + T + t[j]) : 0.0;
	hvc_log_hyp2f1_many(A, B, C, z, n, lnH, sg);
	for (j = 0; j < n; j++)
	{
		double		l1mz = -log1p(t[j] / (al + T));

		br[j] = isnan(lnH[j]) ? NAN : one_minus_signed_exp(sg[j], lnH[j] + A * l1mz);
	}
}

int
bgnbd_brackets_compute(const bgnbd_params *p, const double *t, int n, double x, double T,
					   bgnbd_brackets *out)
{
	out->n = 0;
	if (n < 1 || n > BGNBD_MANY_MAX || !bgnbd_params_valid(p) || bgnbd_at_edge(p) ||
		!data_valid(x, 0.0, T))
		return 0;
	out->n = n;
	out->near_one = fabs(p->a - 1.0) < A_ONE_EPS;
	if (out->near_one)
	{
		bgnbd_params lo = *p, hi = *p;

		lo.a = 1.0 - A_ONE_EPS;
		hi.a = 1.0 + A_ONE_EPS;
		brackets_of(&lo, t, n, x, T, out->lo);
		brackets_of(&hi, t, n, x, T, out->hi);
	}
	else
		brackets_of(p, t, n, x, T, out->lo);
	return 1;
}

/* cond_expected from its bracket and p_alive (the same at every horizon) */
static double
expected_of_bracket(const bgnbd_params *p, double x, double pal, double bracket)
{
	const double a = p->a, b = p->b;
	double		C = a + b + x - 1.0;

	if (isnan(pal))
		return NAN;
	return pal * (C / (a - 1.0)) * bracket;
}

void
bgnbd_expected_from_brackets(const bgnbd_params *p, const double *t, int n, double x,
							 double t_x, double T, const bgnbd_brackets *br, double *out)
{
	int			j;
	int			ok = bgnbd_params_valid(p) && data_valid(x, t_x, T);
	bgnbd_params lo = *p,
				hi = *p;
	double		pal = NAN,
				pal_hi = NAN;

	if (x <= 0.0)
		t_x = 0.0;
	/* p_alive depends on neither the horizon nor the bracket: once */
	if (ok && br->near_one)
	{
		lo.a = 1.0 - A_ONE_EPS;
		hi.a = 1.0 + A_ONE_EPS;
		pal = bgnbd_p_alive(&lo, x, t_x, T);
		pal_hi = bgnbd_p_alive(&hi, x, t_x, T);
	}
	else if (ok)
		pal = bgnbd_p_alive(p, x, t_x, T);
	for (j = 0; j < n; j++)
	{
		if (!ok || !(t[j] >= 0.0) || !isfinite(t[j]))
			out[j] = NAN;
		else if (t[j] == 0.0)
			out[j] = 0.0;
		else if (br->near_one)
			out[j] = 0.5 * (expected_of_bracket(&lo, x, pal, br->lo[j]) +
							expected_of_bracket(&hi, x, pal_hi, br->hi[j]));
		else
			out[j] = expected_of_bracket(p, x, pal, br->lo[j]);
	}
}

static double
uncond_expected(const bgnbd_params *p, double t)
{
	const double r = p->r, al = p->alpha, a = p->a, b = p->b;
	double		lnH, u;
	int			sg;

	lnH = hvc_log_hyp2f1(r, b, a + b - 1.0, t / (al + t), &sg);
	if (isnan(lnH))
		return NAN;
	u = lnH - r * log1p(t / al);	/* + r ln(alpha/(alpha+t)) */
	return (a + b - 1.0) / (a - 1.0) * one_minus_signed_exp(sg, u);
}

double
bgnbd_expected_purchases_new(const bgnbd_params *p, double t)
{
	if (!bgnbd_params_valid(p) || !(t >= 0.0) || !isfinite(t))
		return NAN;
	if (t == 0.0)
		return 0.0;
	if (bgnbd_at_edge(p))
		return p->r / p->alpha * t;
	if (fabs(p->a - 1.0) < A_ONE_EPS)
	{
		bgnbd_params lo = *p, hi = *p;

		lo.a = 1.0 - A_ONE_EPS;
		hi.a = 1.0 + A_ONE_EPS;
		return 0.5 * (uncond_expected(&lo, t) + uncond_expected(&hi, t));
	}
	return uncond_expected(p, t);
}

/* ---------------------------------------------------------------------- */
/* fit: hvc_btyd_fit_prep() (fit_driver.c) with this log-likelihood        */

/* eval_prep with the parameters (r, alpha, a, b) as an array */
static double
eval_par(const btyd_prep *d, const double *par, double tscale, double *grad)
{
	const bgnbd_params p = {par[0], par[1], par[2], par[3]};

	return eval_prep(d, &p, tscale, grad);
}

/* alpha in units of time */
const hvc_btyd_model hvc_bgnbd_model = {eval_par, {0, 1, 0, 0}, {"r", "alpha", "a", "b"}, 2, 3, 0.0};

static void
set_params(bgnbd_params *out, const double *par)
{
	out->r = par[0];
	out->alpha = par[1];
	out->a = par[2];
	out->b = par[3];
}

int
bgnbd_fit_prep(const btyd_prep *d, const hvc_fit_options *opt,
			   bgnbd_params *out, double *loglik, hvc_opt_report *rep)
{
	double		par[4];
	int			rc = hvc_btyd_fit_prep(&hvc_bgnbd_model, d, opt, par, loglik, rep);

	set_params(out, par);
	return rc;
}

int
bgnbd_fit(const btyd_row *rows, size_t n, const hvc_fit_options *opt,
		  bgnbd_params *out, double *loglik, hvc_opt_report *rep)
{
	double		par[4];
	int			rc = hvc_btyd_fit(&hvc_bgnbd_model, rows, n, opt, par, loglik, rep);

	set_params(out, par);
	return rc;
}
