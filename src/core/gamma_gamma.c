/*
 * gamma_gamma.c — Gamma-Gamma spend model: likelihood, analytic gradient,
 * fit, conditional expected order value.
 *
 *   l = lnG(px+q) - lnG(px) - lnG(q) + q ln v + (px-1) ln m + px ln x
 *       - (px+q) ln(x m + v)
 *
 * On prepared data everything except ln(x m + v) depends on x only (given
 * the sum of w ln m per x), so each evaluation costs one log and one
 * division per distinct (x, m) row plus a few lnGamma/digamma per distinct x.
 */
#include "gamma_gamma.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_driver.h"
#include "specfun.h"

int
gg_params_valid(const gg_params *g)
{
	return g != NULL && isfinite(g->p) && isfinite(g->q) && isfinite(g->v) &&
		g->p > 0.0 && g->q > 0.0 && g->v > 0.0;
}

static int
usable(double x, double m)
{
	return isfinite(x) && isfinite(m) && x > 0.0 && m > 0.0;
}

double
gg_loglik_row(const gg_params *g, double x, double m)
{
	double		px;

	if (!gg_params_valid(g) || !usable(x, m))
		return NAN;
	px = g->p * x;
	return lgamma(px + g->q) - lgamma(px) - lgamma(g->q) + g->q * log(g->v)
		+ (px - 1.0) * log(m) + px * log(x) - (px + g->q) * log(x * m + g->v);
}

double
gg_loglik(const gg_params *g, const gg_row *rows, size_t n)
{
	double		s = 0.0;
	size_t		i;

	if (!gg_params_valid(g))
		return NAN;
	for (i = 0; i < n; i++)
		if (usable(rows[i].x, rows[i].m))
			s += rows[i].w * gg_loglik_row(g, rows[i].x, rows[i].m);
	return s;
}

void
gg_prep_free(gg_prep *d)
{
	free(d->w);
	free(d->xm);
	free(d->ixm);
	free(d->gstart);
	free(d->gx);
	free(d->gw);
	free(d->glx);
	free(d->gslm);
	memset(d, 0, sizeof(*d));
}

int
gg_prep_init(gg_prep *d, const gg_row *rows, size_t n)
{
	gg_row	   *r;
	size_t		i, m, k, g;
	double		wm = 0.0;

	memset(d, 0, sizeof(*d));
	if (rows == NULL && n > 0)
		return HVC_EINVAL;
	for (i = 0; i < n; i++)
		if (!isfinite(rows[i].x) || !isfinite(rows[i].m) ||
			!isfinite(rows[i].w) || !(rows[i].w > 0.0))
			return HVC_EINVAL;
	r = (gg_row *) malloc((n > 0 ? n : 1) * sizeof(gg_row));
	if (r == NULL)
		return HVC_ENOMEM;
	k = 0;
	for (i = 0; i < n; i++)
	{
		if (usable(rows[i].x, rows[i].m))
			r[k++] = rows[i];
		else
			d->skipped++;
	}
	if (k == 0)
	{
		free(r);
		return HVC_ENODATA;
	}
	m = gg_compress(r, k);
	g = 1;
	for (i = 1; i < m; i++)
		if (r[i].x != r[i - 1].x)
			g++;
	d->n = m;
	d->ngroups = g;
	d->w = (double *) malloc(m * sizeof(double));
	d->xm = (double *) malloc(m * sizeof(double));
	d->ixm = (double *) malloc(m * sizeof(double));
	d->gstart = (size_t *) malloc((g + 1) * sizeof(size_t));
	d->gx = (double *) malloc(g * sizeof(double));
	d->gw = (double *) malloc(g * sizeof(double));
	d->glx = (double *) malloc(g * sizeof(double));
	d->gslm = (double *) malloc(g * sizeof(double));
	if (!d->w || !d->xm || !d->ixm || !d->gstart || !d->gx || !d->gw || !d->glx || !d->gslm)
	{
		size_t		skipped = d->skipped;

		free(r);
		gg_prep_free(d);
		d->skipped = skipped;
		return HVC_ENOMEM;
	}
	g = 0;
	for (i = 0; i < m; i++)
	{
		if (i == 0 || r[i].x != r[i - 1].x)
		{
			d->gstart[g] = i;
			d->gx[g] = r[i].x;
			d->glx[g] = log(r[i].x);
			d->gw[g] = 0.0;
			d->gslm[g] = 0.0;
			g++;
		}
		d->w[i] = r[i].w;
		d->xm[i] = r[i].x * r[i].m;
		d->ixm[i] = 1.0 / d->xm[i];
		d->gw[g - 1] += r[i].w;
		d->gslm[g - 1] += r[i].w * log(r[i].m);
		d->wsum += r[i].w;
		wm += r[i].w * r[i].m;
	}
	d->gstart[g] = m;
	d->mmean = wm / d->wsum;
	free(r);
	return HVC_OK;
}

/*
 * Per customer, with y = p x and a = ln(1 + v / (x m)):
 *   l = [lnG(y+q) - lnG(y)] - lnG(q) - (y+q) a - q (ln(x m) - ln v) - ln m
 * (the header's form rearranged, the bracket by hvc_lgamma_diff:
 * y ln(x m) - (y+q) ln(x m + v) + q ln v;
 * when spends hardly vary p runs into the thousands and the header's form
 * is a sum of terms near y ln y cancelling to a few units, whose rounding
 * hides the last steps of a fit from its line search).  Sums per x group:
 * sum w a (one log1p per row), sum w ln m (prepared).
 */
double
gg_loglik_prep(const gg_prep *d, const gg_params *g, double grad[3])
{
	const double p = g->p, q = g->q, v = g->v;
	double		ll = 0.0, gp = 0.0, gq = 0.0, gv = 0.0, lnv, lgq;
	size_t		gi;

	if (!gg_params_valid(g) || d == NULL)
		return NAN;
	lnv = log(v);
	lgq = lgamma(q);
	for (gi = 0; gi < d->ngroups; gi++)
	{
		const double x = d->gx[gi], W = d->gw[gi], y = p * x;
		const size_t i0 = d->gstart[gi], i1 = d->gstart[gi + 1];
		/* sum of w (ln(x m) - ln v) */
		const double slr = W * (d->glx[gi] - lnv) + d->gslm[gi];
		double		sa = 0.0, si = 0.0;
		size_t		i;

		for (i = i0; i < i1; i++)
		{
			const double t = v * d->ixm[i];

			/* (x m so small that v / (x m) overflows: ln v - ln(x m)) */
			sa += d->w[i] * (t < 1e300 ? log1p(t) : log(v) - log(d->xm[i]));
			if (grad)
				si += d->w[i] / (d->xm[i] + v);
		}
		ll += W * (hvc_lgamma_diff(y, q) - lgq) - (y + q) * sa - q * slr - d->gslm[gi];
		if (grad)
		{
			gp += x * (W * hvc_digamma_diff(y, q) - sa);
			gq += W * hvc_digamma_diff(q, y) - sa - slr;
			gv += W * q / v - (y + q) * si;
		}
	}
	if (grad)
	{
		grad[0] = gp * p;
		grad[1] = gq * q;
		grad[2] = gv * v;
	}
	return ll;
}

double
gg_expected_value(const gg_params *g, double x, double m)
{
	double		den;

	if (!gg_params_valid(g) || !isfinite(x) || !isfinite(m) || x < 0.0)
		return NAN;
	if (x == 0.0)
		m = 0.0;
	else if (!(m >= 0.0))
		return NAN;
	den = g->p * x + g->q - 1.0;
	if (!(den > 0.0))
		return NAN;
	return g->p * (g->v + x * m) / den;
}

int
gg_population_mean(const gg_params *g, double *mean)
{
	if (!gg_params_valid(g) || !(g->q > 1.0))
	{
		if (mean)
			*mean = NAN;
		return HVC_EINVAL;
	}
	if (mean)
		*mean = g->p * g->v / (g->q - 1.0);
	return HVC_OK;
}

/* fit (the shared steps are in fit_driver.c) */

#define GG_NODATA	"no customers with repeat purchases (x > 0 and m > 0)"

typedef struct
{
	const gg_prep *d;
	double		penalizer;
	double		lmu0;			/* the limit fit's ln mu at theta[1] = 0 */
} fit_ctx;

/* theta = ln(p, q, v) */
static void
params_from_theta(const double *th, gg_params *g)
{
	g->p = exp(th[0]);
	g->q = exp(th[1]);
	g->v = exp(th[2]);
}

static double
objective(const double *th, double *grad, void *vctx)
{
	const fit_ctx *c = (const fit_ctx *) vctx;
	gg_params	g;
	double		gr[3], ll;

	params_from_theta(th, &g);
	ll = gg_loglik_prep(c->d, &g, grad ? gr : NULL);
	return hvc_fit_objective(ll, gr, c->d->wsum, c->penalizer, th, 3, grad);
}

/* hvc_fit_store (no time rescaling in this model) */
static int
store(const double *th, void *vctx, void *out, double *loglik)
{
	const fit_ctx *c = (const fit_ctx *) vctx;
	gg_params	g;

	params_from_theta(th, &g);
	*loglik = gg_loglik_prep(c->d, &g, NULL);
	if (!gg_params_valid(&g) || !isfinite(*loglik))
		return 0;
	*(gg_params *) out = g;
	return 1;
}

/*
 * The edge q -> inf with q / v -> nu fixed: every customer has the same
 * spend scale nu, each order value is Gamma(p, nu), of mean mu = p / nu.
 * Log-likelihood of one customer (x orders of mean m; the same Jacobian as
 * gg_loglik_row), with y = p x, s = m / mu and R Stirling's remainder:
 *   y ln nu - lnG(y) + y ln x + (y-1) ln m - nu x m
 *     = y (ln s + 1 - s) + ln(y) / 2 - ln(2 pi) / 2 - R(y) - ln m
 * The second form is the one evaluated: the first's terms are about y ln y
 * each and cancel to a few units, so when spends hardly vary (y in the
 * thousands) its rounding hid the last steps of the fit from the line
 * search, which then failed short of the tolerance.  Fitted on
 * theta = (ln p, ln mu), which the likelihood separates (a gamma's shape
 * and mean are orthogonal), where (ln p, ln nu) made a ridge; the gradient
 * comes back in (ln p, ln mu): d/d ln p = sum y (ln s + 1 - s + ln y -
 * psi(y)), d/d ln mu = sum y (s - 1).
 */
static double
limit_loglik(const gg_prep *d, double p, double mu, double *grad)
{
	double		ll = 0.0, gp = 0.0, gmu = 0.0;
	const double half_ln_2pi = 0.5 * log(2.0 * HVC_PI);
	size_t		gi, i;

	for (gi = 0; gi < d->ngroups; gi++)
	{
		const double x = d->gx[gi], W = d->gw[gi], y = p * x, xmu = x * mu;
		double		dev = 0.0, excess = 0.0;

		for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
		{
			const double sr = d->xm[i] / xmu;

			dev += d->w[i] * (log(sr) + (1.0 - sr));
			excess += d->w[i] * (sr - 1.0);
		}
		ll += y * dev + W * (0.5 * log(y) - half_ln_2pi - hvc_lgamma_stirling_rem(y)) - d->gslm[gi];
		if (grad)
		{
			gp += y * (dev + W * hvc_log_minus_digamma(y));
			gmu += y * excess;
		}
	}
	if (grad)
	{
		grad[0] = gp;
		grad[1] = gmu;
	}
	return ll;
}

/*
 * theta = (ln p, ln mu - lmu0): centred on mu's maximum-likelihood value
 * (limit_start), where the likelihood is so sharp in mu (curvature p times
 * the orders) that a step of ln mu's last bit near 4.8 moved the gradient
 * by more than the optimiser's tolerance, and the fit ran to its iteration
 * limit beside the optimum.  The penalizer, like the full model's, on p and
 * on the scale nu (ln nu = ln p - ln mu), so the chain rule both ways.
 */
static double
limit_objective(const double *th, double *grad, void *vctx)
{
	const fit_ctx *c = (const fit_ctx *) vctx;
	double		g[2], gn[2], thn[2], f;

	thn[0] = th[0];
	thn[1] = th[0] - (c->lmu0 + th[1]);
	f = limit_loglik(c->d, exp(th[0]), exp(c->lmu0 + th[1]), grad ? g : NULL);
	if (grad)
	{
		g[0] += g[1];			/* ll's gradient in (ln p, ln nu) */
		g[1] = -g[1];
	}
	f = hvc_fit_objective(f, g, c->d->wsum, c->penalizer, thn, 2, grad ? gn : NULL);
	if (grad)
	{
		grad[0] = gn[0] + gn[1];	/* back to (ln p, ln mu) */
		grad[1] = -gn[1];
	}
	return f;
}

/* out: p and nu */
static int
limit_store(const double *th, void *vctx, void *out, double *loglik)
{
	const fit_ctx *c = (const fit_ctx *) vctx;
	double	   *pn = (double *) out;

	pn[0] = exp(th[0]);
	pn[1] = exp(th[0] - (c->lmu0 + th[1]));
	*loglik = limit_loglik(c->d, pn[0], exp(c->lmu0 + th[1]), NULL);
	return isfinite(pn[0]) && isfinite(pn[1]) && isfinite(*loglik);
}

/*
 * Where the limit fit starts: mu at its maximum-likelihood value, total
 * spend / total orders (d/d ln mu = p sum w x (m / mu - 1) = 0 whatever p),
 * and p at the moments' value: a customer's mean of x orders has variance
 * mu^2 / (p x), so p = sum w / sum w x (m / mu - 1)^2.  (From p = 1 a fit of
 * spends within 0.1 % of each other, p near 10^6, ran out of iterations.)
 */
static void
limit_start(const gg_prep *d, hvc_fit_run *run, double *lmu0)
{
	double	   *theta = run->theta;
	double		sx = 0.0, sxm = 0.0, dev = 0.0, mu;
	size_t		gi, i;

	for (gi = 0; gi < d->ngroups; gi++)
		sx += d->gw[gi] * d->gx[gi];
	for (i = 0; i < d->n; i++)
		sxm += d->w[i] * d->xm[i];
	mu = sxm / sx;
	for (gi = 0; gi < d->ngroups; gi++)
		for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
		{
			const double e = d->xm[i] / (d->gx[gi] * mu) - 1.0;

			dev += d->w[i] * d->gx[gi] * e * e;
		}
	theta[0] = dev > 0.0 ? log(d->wsum / dev) : HVC_LOGPAR_MAX;
	if (!(theta[0] >= HVC_LOGPAR_MIN))
		theta[0] = 0.0;			/* NaN, or spends as unlike as can be */
	else if (theta[0] > HVC_LOGPAR_MAX)
		theta[0] = HVC_LOGPAR_MAX;
	*lmu0 = log(mu);
	if (!(*lmu0 >= HVC_LOGPAR_MIN && *lmu0 <= HVC_LOGPAR_MAX))
		*lmu0 = 0.0;
	/* mu in the usual box */
	theta[1] = 0.0;
	run->lo[1] = HVC_LOGPAR_MIN - *lmu0;
	run->hi[1] = HVC_LOGPAR_MAX - *lmu0;
}

/* half the 95 % quantile of chi-square with 1 degree of freedom */
#define GG_LR_HALF_CRIT	1.9207
/* q reported at the edge q -> inf (v = q / nu): E[M] exact to ~1e-9 */
#define GG_EDGE_Q		1e10

/*
 * After the full fit (rc, log-likelihood fll): fit the common-scale limit;
 * unless q improves the likelihood significantly over it (likelihood-ratio
 * test, 1 degree of freedom, 5 %), the answer is that edge: p and nu of the
 * limit, q = GG_EDGE_Q, v = q / nu, rep->edge "q->inf", SE of p only.
 */
static int
common_scale_edge(const gg_prep *d, const hvc_fit_options *opt, int rc,
				  double fll, gg_params *out, double *loglik,
				  hvc_opt_report *rep)
{
	hvc_fit_run run;
	hvc_opt_report lrep;
	fit_ctx		c;
	double		pn[2], lll = NAN;
	int			lrc;

	if (opt && opt->q_constraint)
		return rc;				/* the caller keeps q bounded anyway */
	hvc_fit_start(&run, 2, opt, 1, GG_NODATA, NULL, NULL);
	c.d = d;
	c.penalizer = run.penalizer;
	run.wsum = d->wsum;
	run.names[0] = "p";
	run.names[1] = "mu";
	limit_start(d, &run, &c.lmu0);
	lrc = hvc_fit_solve(&run, limit_objective, limit_store, &c, pn, &lll, &lrep);
	if (lrc != HVC_OK || lrep.edge[0] != '\0' || !isfinite(lll) ||
		(isfinite(fll) && fll - lll > GG_LR_HALF_CRIT))
		return rc;
	out->p = pn[0];
	out->q = GG_EDGE_Q;
	out->v = GG_EDGE_Q / pn[1];
	if (loglik)
		*loglik = lll;
	if (rep)
	{
		lrep.iterations += rep->iterations;
		lrep.nfev += rep->nfev;
		snprintf(lrep.edge, sizeof(lrep.edge), "q->inf");
		snprintf(lrep.message, sizeof(lrep.message),
				 "converged at the edge q->inf (one spend scale for all): gradient norm %.2g",
				 lrep.gnorm);
		lrep.se[1] = lrep.se[2] = NAN;
		*rep = lrep;
	}
	return HVC_OK;
}

int
gg_fit_prep(const gg_prep *d, const hvc_fit_options *opt,
			gg_params *out, double *loglik, hvc_opt_report *rep)
{
	hvc_fit_run run;
	fit_ctx		c;
	double		ll = NAN;
	int			rc;

	out->p = out->q = out->v = NAN;
	if (!hvc_fit_start(&run, 3, opt, d != NULL && d->n > 0 && d->wsum > 0.0,
					   GG_NODATA, loglik, rep))
		return HVC_ENODATA;
	c.d = d;
	c.penalizer = run.penalizer;
	c.lmu0 = 0.0;				/* (the limit fit's) */
	run.wsum = d->wsum;
	run.names[0] = "p";
	run.names[1] = "q";
	run.names[2] = "v";
	if (run.fo.q_constraint)
		run.lo[1] = 0.0;		/* q >= 1 */
	/* start at p = q = 1, v = the weighted mean of m */
	run.theta[2] = log(d->mmean);
	if (run.theta[2] < HVC_LOGPAR_MIN || run.theta[2] > HVC_LOGPAR_MAX)
		run.theta[2] = 0.0;
	rc = hvc_fit_solve(&run, objective, store, &c, out, &ll, rep);
	if (loglik)
		*loglik = ll;
	if (rc == HVC_OK || rc == HVC_FIT_NOCONV)
		rc = common_scale_edge(d, opt, rc, ll, out, loglik, rep);
	return rc;
}

int
gg_fit(const gg_row *rows, size_t n, const hvc_fit_options *opt,
	   gg_params *out, double *loglik, hvc_opt_report *rep)
{
	gg_prep		d;
	int			rc;

	rc = gg_prep_init(&d, rows, n);
	if (rc != HVC_OK)
	{
		out->p = out->q = out->v = NAN;
		return hvc_fit_failed(rc, GG_NODATA, loglik, rep);
	}
	rc = gg_fit_prep(&d, opt, out, loglik, rep);
	gg_prep_free(&d);
	return rc;
}
