/*
 * pareto_nbd.c — Pareto/NBD likelihood, analytic gradient, fit, predictions.
 *
 * Likelihood (clv-models.md §3.1), for one customer with rho = r+s+x:
 *   l  = K + LSE(B1, B2)
 *   K  = lnG(r+x) - lnG(r) + r ln alpha + s ln beta
 *   B1 = -(r+x) ln(alpha+T) - s ln(beta+T)
 *   B2 = ln s - ln rho + ln A0,  A0 = e^{L(t_x)} - e^{L(T)}
 *   L(t) = ln 2F1(rho, m2; rho+1; z(t)) - rho ln(M+t)
 * With the Euler transformation L(t) has the closed forms
 *   alpha >= beta:  L = ln G(r+x, rho+1, z) - s ln(beta+t) - (r+x) ln(alpha+t),
 *                   z = (alpha-beta)/(alpha+t)
 *   alpha <  beta:  L = ln G(s+1, rho+1, z) + (1-r-x) ln(alpha+t) - (s+1) ln(beta+t),
 *                   z = (beta-alpha)/(beta+t)
 * where G(b,c,z) = 2F1(1,b;c;z) (hvc_hyp2f1_1bc, with its partial
 * derivatives); both branches agree at alpha = beta.
 */
#include "pareto_nbd.h"

#include <math.h>

#include "fit_driver.h"
#include "specfun.h"

#define PNBD_FIT_MAX_RATIO	1000.0

int
pnbd_params_valid(const pnbd_params *p)
{
	return p != NULL &&
		isfinite(p->r) && isfinite(p->alpha) && p->r > 0.0 && p->alpha > 0.0 &&
		(pnbd_at_edge(p) ||
		 (isfinite(p->s) && isfinite(p->beta) && p->s > 0.0 && p->beta > 0.0));
}

int
pnbd_at_edge(const pnbd_params *p)
{
	return p != NULL && p->s == 0.0;
}

static int
data_valid(double x, double t_x, double T)
{
	return isfinite(x) && isfinite(t_x) && isfinite(T) &&
		x >= 0.0 && t_x >= 0.0 && t_x <= T;
}

/*
 * L(t) and (if dL != NULL) its partial derivatives w.r.t. (r, alpha, s, beta);
 * la = ln(alpha+t), lb = ln(beta+t).  Returns 0, or -1 if the series failed.
 */
static int
pnbd_L(const pnbd_params *p, double x, double t, double la, double lb,
	   double *L, double *dL)
{
	const double r = p->r, al = p->alpha, s = p->s, be = p->beta;
	const double c = r + s + x + 1.0;
	double		G[4];

	if (al >= be)
	{
		const double ia = 1.0 / (al + t);
		const double z = (al - be) * ia;

		if (hvc_hyp2f1_1bc(r + x, c, z, 0, G) != 0)
			return -1;
		*L = log(G[0]) - s * lb - (r + x) * la;
		if (dL)
		{
			const double gb = G[1] / G[0], gc = G[2] / G[0], gz = G[3] / G[0];

			dL[0] = gb + gc - la;
			dL[1] = gz * (be + t) * ia * ia - (r + x) * ia;
			dL[2] = gc - lb;
			dL[3] = -gz * ia - s / (be + t);
		}
	}
	else
	{
		const double ib = 1.0 / (be + t);
		const double z = (be - al) * ib;

		if (hvc_hyp2f1_1bc(s + 1.0, c, z, 0, G) != 0)
			return -1;
		*L = log(G[0]) + (1.0 - r - x) * la - (s + 1.0) * lb;
		if (dL)
		{
			const double gb = G[1] / G[0], gc = G[2] / G[0], gz = G[3] / G[0];

			dL[0] = gc - la;
			dL[1] = -gz * ib + (1.0 - r - x) / (al + t);
			dL[2] = gb + gc - lb;
			dL[3] = gz * (al + t) * ib * ib - (s + 1.0) * ib;
		}
	}
	return 0;
}

/*
 * The LSE(B1, B2) part of one row, given lsr = ln(s) - ln(rho), L(t_x), L(T) (and their gradients
 * dL1, dL2 if g is wanted; L2 is unused when same = (t_x == T)).  If
 * g != NULL, w * d(LSE)/d(r,alpha,s,beta) is added to g.  *pb2 (if not NULL)
 * receives B2 - B1 (for P(alive)).
 */
static double
lse_part(const pnbd_params *p, double x, double lsr, double T, double laT,
		 double lbT, double L1, const double *dL1, double L2, const double *dL2,
		 int same, double w, double *g, double *pb2)
{
	const double r = p->r, s = p->s, rho = r + s + x;
	double		B1, B2, d21, om, lnA0, res, pi2;
	int			i;

	B1 = -(r + x) * laT - s * lbT;
	if (same)
	{
		/* A0 = 0: the customer cannot have died between t_x and T */
		if (pb2)
			*pb2 = -INFINITY;
		if (g)
		{
			g[0] += w * (-laT);
			g[1] += w * (-(r + x) / (p->alpha + T));
			g[2] += w * (-lbT);
			g[3] += w * (-s / (p->beta + T));
		}
		return B1;
	}
	d21 = L2 - L1;				/* < 0 since A0 > 0 for t_x < T */
	if (!(d21 < 0.0))
		d21 = -0.0;				/* rounding: A0 underflows, B2 = -inf */
	om = -expm1(d21);			/* 1 - e^{L2-L1} */
	lnA0 = L1 + log(om);
	B2 = lsr + lnA0;
	if (pb2)
		*pb2 = B2 - B1;
	/* res = LSE(B1, B2), pi2 = e^{B2 - res} (weight of the B2 term) */
	if (B1 >= B2)
	{
		const double e = exp(B2 - B1);

		res = B1 + log1p(e);
		pi2 = e / (1.0 + e);
	}
	else
	{
		const double e = exp(B1 - B2);

		res = B2 + log1p(e);
		pi2 = 1.0 / (1.0 + e);
	}
	if (g && isfinite(res))
	{
		if (pi2 > 0.0)
		{
			const double wr = 1.0 - om;	/* e^{L2-L1} */
			double		dA[4];

			for (i = 0; i < 4; i++)
				dA[i] = (dL1[i] - wr * dL2[i]) / om;
			g[0] += w * pi2 * (-1.0 / rho + dA[0]);
			g[1] += w * pi2 * dA[1];
			g[2] += w * pi2 * (1.0 / s - 1.0 / rho + dA[2]);
			g[3] += w * pi2 * dA[3];
		}
		g[0] += w * (1.0 - pi2) * (-laT);
		g[1] += w * (1.0 - pi2) * (-(r + x) / (p->alpha + T));
		g[2] += w * (1.0 - pi2) * (-lbT);
		g[3] += w * (1.0 - pi2) * (-s / (p->beta + T));
	}
	return res;
}

/* L(t_x) and L(T) of one customer, no gradient; returns 0 or -1 */
static int
row_L(const pnbd_params *p, double x, double t_x, double T,
	  double *L1, double *L2, double *laT, double *lbT)
{
	*laT = log(p->alpha + T);
	*lbT = log(p->beta + T);
	if (pnbd_L(p, x, t_x, log(p->alpha + t_x), log(p->beta + t_x), L1, NULL) != 0)
		return -1;
	if (t_x == T)
	{
		*L2 = *L1;
		return 0;
	}
	return pnbd_L(p, x, T, *laT, *lbT, L2, NULL);
}

double
pnbd_loglik_row(const pnbd_params *p, double x, double t_x, double T)
{
	double		L1, L2, K, laT, lbT;

	if (!pnbd_params_valid(p) || !data_valid(x, t_x, T))
		return NAN;
	if (pnbd_at_edge(p))
		return hvc_nbd_loglik_row(p->r, p->alpha, x, T);
	if (x <= 0.0)
		t_x = 0.0;
	if (row_L(p, x, t_x, T, &L1, &L2, &laT, &lbT) != 0)
		return NAN;
	K = lgamma(p->r + x) - lgamma(p->r) + p->r * log(p->alpha) +
		p->s * log(p->beta);
	return K + lse_part(p, x, log(p->s) - log(p->r + p->s + x), T, laT, lbT,
						L1, NULL, L2, NULL, t_x == T, 1.0, NULL, NULL);
}

double
pnbd_loglik(const pnbd_params *p, const btyd_row *rows, size_t n)
{
	double		s = 0.0;
	size_t		i;

	for (i = 0; i < n; i++)
		s += rows[i].w * pnbd_loglik_row(p, rows[i].x, rows[i].t_x, rows[i].T);
	return s;
}

/*
 * Total weighted LL on prepared data (times multiplied by tscale) and its
 * gradient w.r.t. the log-parameters.  L(t) depends on (x, t) only, so
 * within a group of equal x it is computed once per distinct time value
 * (cached in d->work, tagged with the group number).
 */
static double
eval_prep(const btyd_prep *d, const pnbd_params *p, double tscale, double *grad)
{
	const double r = p->r, al = p->alpha, s = p->s, be = p->beta;
	const size_t nu = d->nu;
	double	   *la = d->work, *lb = la + nu, *Lc = lb + nu, *tag = Lc + nu;
	double	   *dLc = tag + nu;	/* [4*nu] */
	double		ll = 0.0, g[4] = {0.0, 0.0, 0.0, 0.0};
	double		lnal, lnbe, lgr, psir = 0.0;
	size_t		k, gi;

	if (!pnbd_params_valid(p) || pnbd_at_edge(p) || !(tscale > 0.0))
		return NAN;
	/*
	 * Safety net behind the fit's limit on beta/alpha (hvc_pnbd_model): far
	 * beyond it 2F1 needs O(sqrt(ratio)) levels per customer; never go there.
	 */
	if (tscale * d->tmax <= 1.0 + 1e-12 &&
		(al > 2.0 * PNBD_FIT_MAX_RATIO * be || be > 2.0 * PNBD_FIT_MAX_RATIO * al))
		return NAN;
	for (k = 0; k < nu; k++)
	{
		la[k] = log(al + tscale * d->u[k]);
		lb[k] = log(be + tscale * d->u[k]);
		tag[k] = -1.0;
	}
	lnal = log(al);
	lnbe = log(be);
	lgr = lgamma(r);
	if (grad)
		psir = hvc_digamma(r);

	for (gi = 0; gi < d->ngroups; gi++)
	{
		const double x = d->gx[gi], W = d->gw[gi], gtag = (double) gi;
		const double lsr = log(s) - log(r + s + x);
		const size_t i0 = d->gstart[gi], i1 = d->gstart[gi + 1];
		double		sll = 0.0;
		size_t		i;

		ll += W * (lgamma(r + x) - lgr + r * lnal + s * lnbe);
		if (grad)
		{
			g[0] += W * (hvc_digamma(r + x) - psir + lnal);
			g[1] += W * r / al;
			g[2] += W * lnbe;
			g[3] += W * s / be;
		}
		for (i = i0; i < i1; i++)
		{
			const unsigned jt = d->itx[i], jT = d->iT[i];
			const unsigned js[2] = {jt, jT};
			int			q;

			for (q = 0; q < 2; q++)
			{
				const unsigned j = js[q];

				if (tag[j] != gtag)
				{
					if (pnbd_L(p, x, tscale * d->u[j], la[j], lb[j], &Lc[j],
							   grad ? &dLc[4 * (size_t) j] : NULL) != 0)
						return NAN;
					tag[j] = gtag;
				}
			}
			sll += d->w[i] * lse_part(p, x, lsr, tscale * d->u[jT], la[jT], lb[jT],
									  Lc[jt], &dLc[4 * (size_t) jt],
									  Lc[jT], &dLc[4 * (size_t) jT],
									  jt == jT, d->w[i], grad ? g : NULL, NULL);
		}
		ll += sll;
	}
	if (grad)
	{
		grad[0] = g[0] * r;
		grad[1] = g[1] * al;
		grad[2] = g[2] * s;
		grad[3] = g[3] * be;
	}
	return ll;
}

double
pnbd_loglik_prep(const btyd_prep *d, const pnbd_params *p, double grad[4])
{
	return eval_prep(d, p, 1.0, grad);
}

/* ---------------------------------------------------------------------- */
/* predictions                                                             */

double
pnbd_p_alive(const pnbd_params *p, double x, double t_x, double T)
{
	double		L1, L2, laT, lbT, b2;

	if (!pnbd_params_valid(p) || !data_valid(x, t_x, T))
		return NAN;
	if (pnbd_at_edge(p))
		return 1.0;
	if (x <= 0.0)
		t_x = 0.0;
	if (row_L(p, x, t_x, T, &L1, &L2, &laT, &lbT) != 0)
		return NAN;
	if (isnan(lse_part(p, x, log(p->s) - log(p->r + p->s + x), T, laT, lbT,
					   L1, NULL, L2, NULL, t_x == T, 1.0, NULL, &b2)))
		return NAN;
	return hvc_expit(-b2);		/* 1 / (1 + e^{B2 - B1}) */
}

/* [1 - (1 + t/c)^{-(s-1)}] / (s-1), continuous at s = 1 */
static double
decay_term(double s, double t, double c)
{
	double		l = log1p(t / c);

	if (s == 1.0)
		return l;
	return -expm1(-(s - 1.0) * l) / (s - 1.0);
}

double
pnbd_expected_purchases(const pnbd_params *p, double t, double x,
						double t_x, double T)
{
	double		pa;

	if (!pnbd_params_valid(p) || !data_valid(x, t_x, T) || !(t >= 0.0) ||
		!isfinite(t))
		return NAN;
	if (t == 0.0)
		return 0.0;
	if (pnbd_at_edge(p))
		return hvc_nbd_expected_purchases(p->r, p->alpha, t, x, T);
	pa = pnbd_p_alive(p, x, t_x, T);
	if (isnan(pa))
		return NAN;
	return pa * (p->r + x) * (p->beta + T) / (p->alpha + T) *
		decay_term(p->s, t, p->beta + T);
}

double
pnbd_expected_purchases_new(const pnbd_params *p, double t)
{
	if (!pnbd_params_valid(p) || !(t >= 0.0) || !isfinite(t))
		return NAN;
	if (pnbd_at_edge(p))
		return p->r / p->alpha * t;
	return p->r * p->beta / p->alpha * decay_term(p->s, t, p->beta);
}

/* ---------------------------------------------------------------------- */
/* fit: hvc_btyd_fit_prep() (fit_driver.c) with this log-likelihood        */

/* eval_prep with the parameters (r, alpha, s, beta) as an array */
static double
eval_par(const btyd_prep *d, const double *par, double tscale, double *grad)
{
	const pnbd_params p = {par[0], par[1], par[2], par[3]};

	return eval_prep(d, &p, tscale, grad);
}

/* alpha and beta in units of time */
const hvc_btyd_model hvc_pnbd_model = {eval_par, {0, 1, 0, 1}, {"r", "alpha", "s", "beta"}, 2, 3,
PNBD_FIT_MAX_RATIO};

static void
set_params(pnbd_params *out, const double *par)
{
	out->r = par[0];
	out->alpha = par[1];
	out->s = par[2];
	out->beta = par[3];
}

int
pnbd_fit_prep(const btyd_prep *d, const hvc_fit_options *opt,
			  pnbd_params *out, double *loglik, hvc_opt_report *rep)
{
	double		par[4];
	int			rc = hvc_btyd_fit_prep(&hvc_pnbd_model, d, opt, par, loglik, rep);

	set_params(out, par);
	return rc;
}

int
pnbd_fit(const btyd_row *rows, size_t n, const hvc_fit_options *opt,
		 pnbd_params *out, double *loglik, hvc_opt_report *rep)
{
	double		par[4];
	int			rc = hvc_btyd_fit(&hvc_pnbd_model, rows, n, opt, par, loglik, rep);

	set_params(out, par);
	return rc;
}
