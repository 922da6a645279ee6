/*
 * fit_driver.c — the model-independent steps of the maximum-likelihood fits
 * (see fit_driver.h).  gamma_gamma.c supplies only its objective, start
 * point / bounds and the mapping of the final log-parameters back to its
 * parameters; bgnbd.c and pareto_nbd.c only their log-likelihood.
 */
#include "fit_driver.h"

#include "specfun.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* a report before any optimisation: all zero, f, gnorm and SEs unknown */
static void
report_clear(hvc_opt_report *r)
{
	int			i;

	memset(r, 0, sizeof(*r));
	r->f = r->gnorm = NAN;
	for (i = 0; i < HVC_OPT_MAXDIM; i++)
		r->se[i] = NAN;
}

/*
 * A log-parameter beyond e^+-20 (within 3 of the box): -1 (towards 0), +1
 * (infinity), 0.  The likelihood is flat that far out (the convergence rule
 * may stop the optimiser before the box): the parameter is at an edge.
 */
#define EDGE_MARGIN	3.0

static int
at_edge(double theta)
{
	if (theta <= HVC_LOGPAR_MIN + EDGE_MARGIN)
		return -1;
	if (theta >= HVC_LOGPAR_MAX - EDGE_MARGIN)
		return 1;
	return 0;
}

/*
 * append "name->0" (dir < 0) / "name->inf" (dir > 0) / "name" (dir 0) to
 * edge (comma separated)
 */
static void
edge_append(char *edge, size_t size, const char *name, int dir)
{
	size_t		len = strlen(edge);

	snprintf(edge + len, size - len, "%s%s%s", len > 0 ? "," : "", name,
			 dir < 0 ? "->0" : dir > 0 ? "->inf" : "");
}

/*
 * rep->edge anew from the log-parameters theta[0..n-1] at an edge of the
 * box (names[i]->0 or ->inf), freev[i] = 1 for those that are not, and for
 * a converged fit at an edge the message that says so
 */
static void
name_edges(hvc_opt_report *rep, const double *theta, int n, const char *const *names,
		   int *freev)
{
	int			i;

	rep->edge[0] = '\0';
	for (i = 0; i < n; i++)
	{
		int			e = at_edge(theta[i]);

		freev[i] = (e == 0);
		if (e != 0)
			edge_append(rep->edge, sizeof(rep->edge), names[i], e);
	}
	if (rep->edge[0] != '\0' && rep->converged)
		snprintf(rep->message, sizeof(rep->message),
				 "converged at the edge %s: gradient norm %.2g", rep->edge, rep->gnorm);
}

/*
 * Invert the symmetric k x k matrix a in place (Cholesky); 0 if it is not
 * positive definite.
 */
static int
spd_invert(double a[HVC_OPT_MAXDIM][HVC_OPT_MAXDIM], int k)
{
	double		L[HVC_OPT_MAXDIM][HVC_OPT_MAXDIM] = {{0}};
	double		inv[HVC_OPT_MAXDIM][HVC_OPT_MAXDIM] = {{0}};
	int			i, j, m;

	for (j = 0; j < k; j++)
	{
		double		d = a[j][j];

		for (m = 0; m < j; m++)
			d -= L[j][m] * L[j][m];
		if (!(d > 0.0) || !isfinite(d))
			return 0;
		L[j][j] = sqrt(d);
		for (i = j + 1; i < k; i++)
		{
			double		v = a[i][j];

			for (m = 0; m < j; m++)
				v -= L[i][m] * L[j][m];
			L[i][j] = v / L[j][j];
		}
	}
	/* columns of inv: solve L L' x = e_c */
	for (m = 0; m < k; m++)
	{
		double		y[HVC_OPT_MAXDIM];

		for (i = 0; i < k; i++)
		{
			double		v = (i == m) ? 1.0 : 0.0;

			for (j = 0; j < i; j++)
				v -= L[i][j] * y[j];
			y[i] = v / L[i][i];
		}
		for (i = k - 1; i >= 0; i--)
		{
			double		v = y[i];

			for (j = i + 1; j < k; j++)
				v -= L[j][i] * inv[j][m];
			inv[i][m] = v / L[i][i];
		}
	}
	for (i = 0; i < k; i++)
		for (j = 0; j < k; j++)
			a[i][j] = inv[i][j];
	return 1;
}

#define HESS_STEP	1e-4		/* central-difference step in log-parameters */

/*
 * Standard errors at run->theta of the parameters not at an edge (free[i]):
 * the Hessian of the total negative log-likelihood w.r.t. the free
 * log-parameters by central differences of f's analytic gradient (the L2
 * penalty's own Hessian removed, times run->wsum), inverted; se_i =
 * parameter_i * sqrt(cov_ii) (delta method; exact at a stationary point).
 * Leaves run->acc.se NaN where not available.
 */
static void
fit_standard_errors(hvc_fit_run *run, hvc_objective f, void *ctx,
					const int *freev)
{
	double		H[HVC_OPT_MAXDIM][HVC_OPT_MAXDIM];
	int			idx[HVC_OPT_MAXDIM];
	int			k = 0, a, b;

	for (a = 0; a < run->n; a++)
	{
		run->acc.se[a] = NAN;
		if (freev[a])
			idx[k++] = a;
	}
	if (k == 0)
		return;
	for (a = 0; a < k; a++)
	{
		double		th[HVC_OPT_MAXDIM], gp[HVC_OPT_MAXDIM], gm[HVC_OPT_MAXDIM];
		int			i = idx[a];

		memcpy(th, run->theta, sizeof(th));
		th[i] = run->theta[i] + HESS_STEP;
		if (!isfinite(f(th, gp, ctx)))
			return;
		th[i] = run->theta[i] - HESS_STEP;
		if (!isfinite(f(th, gm, ctx)))
			return;
		for (b = 0; b < k; b++)
			H[b][a] = (gp[idx[b]] - gm[idx[b]]) / (2.0 * HESS_STEP);
	}
	for (a = 0; a < k; a++)
	{
		for (b = 0; b < a; b++)
			H[a][b] = H[b][a] = 0.5 * (H[a][b] + H[b][a]);
		/* d2/dtheta2 of penalizer e^{2 theta} */
		H[a][a] -= 4.0 * run->penalizer * exp(2.0 * run->theta[idx[a]]);
	}
	for (a = 0; a < k; a++)
		for (b = 0; b < k; b++)
			H[a][b] *= run->wsum;
	if (!spd_invert(H, k))
		return;
	for (a = 0; a < k; a++)
	{
		int			i = idx[a];

		run->acc.se[i] = exp(run->theta[i]) * run->scale[i] * sqrt(H[a][a]);
	}
}

int
hvc_fit_start(hvc_fit_run *run, int n, const hvc_fit_options *opt,
			  int have_data, const char *nodata_msg,
			  double *loglik, hvc_opt_report *rep)
{
	int			i;

	if (loglik)
		*loglik = NAN;
	run->n = n;
	report_clear(&run->acc);
	if (opt)
		run->fo = *opt;
	else
		hvc_fit_default_options(&run->fo);
	if (!have_data)
	{
		snprintf(run->acc.message, sizeof(run->acc.message), "%s", nodata_msg);
		if (rep)
			*rep = run->acc;
		return 0;
	}
	run->penalizer = run->fo.penalizer > 0.0 ? run->fo.penalizer : 0.0;
	/* n > HVC_OPT_MAXDIM is rejected by hvc_minimize (HVC_OPT_BADARG) */
	run->wsum = 1.0;
	for (i = 0; i < HVC_OPT_MAXDIM; i++)
	{
		static const char *const dflt[HVC_OPT_MAXDIM] =
		{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"};

		run->theta[i] = 0.0;
		run->lo[i] = HVC_LOGPAR_MIN;
		run->hi[i] = HVC_LOGPAR_MAX;
		run->scale[i] = 1.0;
		run->names[i] = dflt[i];
	}
	return 1;
}

double
hvc_fit_objective(double ll, const double *g, double wsum, double penalizer,
				  const double *theta, int n, double *grad)
{
	double		f;
	int			i;

	if (!isfinite(ll))
		return NAN;
	f = -ll / wsum;
	for (i = 0; i < n; i++)
	{
		double		e2 = exp(2.0 * theta[i]);

		f += penalizer * e2;
		if (grad)
			grad[i] = -g[i] / wsum + 2.0 * penalizer * e2;
	}
	return f;
}

int
hvc_fit_solve(hvc_fit_run *run, hvc_objective f, hvc_fit_store store,
			  void *ctx, void *out, double *loglik, hvc_opt_report *rep)
{
	double		ll;
	int			st,
				rc;

	st = hvc_fit_minimize(f, ctx, run->n, run->theta, run->lo, run->hi,
						  &run->fo, &run->acc);
	{
		int			i;

		for (i = 0; i < HVC_OPT_MAXDIM; i++)
			run->acc.se[i] = NAN;
		run->acc.edge[0] = '\0';
	}
	if (st == HVC_OPT_NONFINITE || st == HVC_OPT_BADARG)
		rc = HVC_EINVAL;
	else
	{
		int			freev[HVC_OPT_MAXDIM];

		name_edges(&run->acc, run->theta, run->n, run->names, freev);
		if (store(run->theta, ctx, out, &ll))
		{
			if (loglik)
				*loglik = ll;
			fit_standard_errors(run, f, ctx, freev);
			rc = run->acc.converged ? HVC_OK : HVC_FIT_NOCONV;
		}
		else
		{
			snprintf(run->acc.message, sizeof(run->acc.message),
					 "fit produced non-finite parameters or log-likelihood");
			run->acc.converged = 0;
			rc = HVC_FIT_NOCONV;
		}
	}
	if (rep)
		*rep = run->acc;
	return rc;
}

int
hvc_fit_failed(int rc, const char *nodata_msg, double *loglik,
			   hvc_opt_report *rep)
{
	if (loglik)
		*loglik = NAN;
	if (rep)
	{
		report_clear(rep);
		snprintf(rep->message, sizeof(rep->message), "%s",
				 rc == HVC_ENOMEM ? "out of memory" :
				 rc == HVC_ENODATA ? nodata_msg : "invalid data row");
	}
	return rc;
}

/* ---------------------------------------------------------------------- */
/* BG/NBD and Pareto/NBD                                                   */

typedef struct
{
	const hvc_btyd_model *m;
	const btyd_prep *d;
	double		tscale;			/* 1 / max(T) */
	double		penalizer;
	int			ratio;			/* th[3] = ln(par[3]/par[1]) (m->max_ratio) */
	int			rate;			/* th[1] = ln(par[1]/par[0]) (btyd_pair_resume) */
	int			odds;			/* th[3] = ln(par[3]/par[2]) (btyd_pair_resume) */
	int			spread;			/* th[2] = ln(par[2]/par[3]) (btyd_pair_resume, with ratio) */
} btyd_fit_ctx;

/*
 * The fit's log-parameters th -> the model's log-parameters ph: the same,
 * except th[3] = ln(par[3] / par[1]) when the model limits that ratio, and
 * in a resumed fit th[1] = ln(par[1] / par[0]) (rate: alpha / r) and
 * th[3] = ln(par[3] / par[2]) (odds: b / a) or, beside the ratio,
 * th[2] = ln(par[2] / par[3]) (spread: s / beta).
 */
static void
btyd_logpar(const btyd_fit_ctx *c, const double *th, double *ph)
{
	int			i;

	for (i = 0; i < 4; i++)
		ph[i] = th[i];
	if (c->rate)
		ph[1] = th[0] + th[1];
	if (c->ratio)
		ph[3] = ph[1] + th[3];
	if (c->odds)
		ph[3] = th[2] + th[3];
	if (c->spread)
		ph[2] = th[2] + ph[3];
}

static double
btyd_objective(const double *th, double *grad, void *vctx)
{
	const btyd_fit_ctx *c = (const btyd_fit_ctx *) vctx;
	double		ph[4], par[4], g[4], ll, f;
	int			i;

	btyd_logpar(c, th, ph);
	for (i = 0; i < 4; i++)
		par[i] = exp(ph[i]);
	ll = c->m->loglik(c->d, par, c->tscale, grad ? g : NULL);
	f = hvc_fit_objective(ll, g, c->d->wsum, c->penalizer, ph, 4, grad);
	if (grad && c->spread)
		grad[3] += grad[2];		/* ph[2] = th[2] + ph[3] */
	if (grad && c->ratio)
		grad[1] += grad[3];		/* chain rule: ph[3] = ph[1] + th[3] */
	if (grad && c->odds)
		grad[2] += grad[3];		/* ph[3] = th[2] + th[3] */
	if (grad && c->rate)
		grad[0] += grad[1];		/* and ph[1] = th[0] + th[1] */
	return f;
}

/* hvc_fit_store: parameters back on the caller's time scale */
static int
btyd_store(const double *th, void *vctx, void *out, double *loglik)
{
	const btyd_fit_ctx *c = (const btyd_fit_ctx *) vctx;
	double		ph[4], par[4];
	int			i;

	btyd_logpar(c, th, ph);
	for (i = 0; i < 4; i++)
	{
		par[i] = exp(ph[i]);
		if (c->m->time_unit[i])
			par[i] /= c->tscale;
	}
	*loglik = c->m->loglik(c->d, par, 1.0, NULL);
	for (i = 0; i < 4; i++)
		if (!isfinite(par[i]) || !(par[i] > 0.0))
			return 0;
	if (!isfinite(*loglik))
		return 0;
	memcpy(out, par, sizeof(par));
	return 1;
}

double
hvc_nbd_loglik_row(double r, double alpha, double x, double T)
{
	if (!(isfinite(r) && isfinite(alpha) && r > 0.0 && alpha > 0.0 &&
		  isfinite(x) && isfinite(T) && x >= 0.0 && T >= 0.0))
		return NAN;
	return lgamma(r + x) - lgamma(r) + r * log(alpha) - (r + x) * log(alpha + T);
}

double
hvc_nbd_expected_purchases(double r, double alpha, double t, double x, double T)
{
	if (!(isfinite(r) && isfinite(alpha) && r > 0.0 && alpha > 0.0 &&
		  isfinite(x) && isfinite(T) && isfinite(t) && x >= 0.0 && T >= 0.0 &&
		  t >= 0.0))
		return NAN;
	return (r + x) * t / (alpha + T);
}

/*
 * NBD total weighted log-likelihood on prepared data (times * tscale) at
 * (r, alpha), and its gradient w.r.t. (ln r, ln alpha) if grad != NULL.
 */
static double
nbd_loglik_prep(const btyd_prep *d, double r, double al, double tscale,
				double *grad)
{
	double		ll = 0.0, gr = 0.0, gal = 0.0, lnal, lgr, psir = 0.0;
	size_t		gi;

	if (!(isfinite(r) && isfinite(al) && r > 0.0 && al > 0.0))
		return NAN;
	lnal = log(al);
	lgr = lgamma(r);
	if (grad)
		psir = hvc_digamma(r);
	for (gi = 0; gi < d->ngroups; gi++)
	{
		const double x = d->gx[gi], W = d->gw[gi], rx = r + x;
		double		sl = 0.0, si = 0.0;
		size_t		i;

		for (i = d->gstart[gi]; i < d->gstart[gi + 1]; i++)
		{
			const double v = al + tscale * d->u[d->iT[i]];

			sl += d->w[i] * log(v);
			si += d->w[i] / v;
		}
		ll += W * (lgamma(rx) - lgr + r * lnal) - rx * sl;
		if (grad)
		{
			gr += W * (hvc_digamma(rx) - psir + lnal) - sl;
			gal += W * r / al - rx * si;
		}
	}
	if (grad)
	{
		grad[0] = gr * r;
		grad[1] = gal * al;
	}
	return ll;
}

static double
nbd_objective(const double *th, double *grad, void *vctx)
{
	const btyd_fit_ctx *c = (const btyd_fit_ctx *) vctx;
	double		g[2], ll;

	ll = nbd_loglik_prep(c->d, exp(th[0]), exp(th[1]), c->tscale,
						 grad ? g : NULL);
	return hvc_fit_objective(ll, g, c->d->wsum, c->penalizer, th, 2, grad);
}

static int
nbd_store(const double *th, void *vctx, void *out, double *loglik)
{
	const btyd_fit_ctx *c = (const btyd_fit_ctx *) vctx;
	double	   *par = (double *) out;
	double		r = exp(th[0]), al = exp(th[1]) / c->tscale;

	*loglik = nbd_loglik_prep(c->d, r, al, 1.0, NULL);
	if (!isfinite(r) || !isfinite(al) || !isfinite(*loglik))
		return 0;
	par[0] = r;
	par[1] = al;
	return 1;
}

/* a fit run on the btyd data: n parameters, names, scales */
static int
btyd_run_start(hvc_fit_run *run, int n, const hvc_btyd_model *m,
			   const btyd_prep *d, const hvc_fit_options *opt,
			   double *loglik, hvc_opt_report *rep)
{
	int			i;

	if (!hvc_fit_start(run, n, opt,
					   d != NULL && d->n > 0 && d->wsum > 0.0 && d->tmax > 0.0,
					   "no data to fit", loglik, rep))
		return 0;
	run->wsum = d->wsum;
	for (i = 0; i < n; i++)
	{
		run->names[i] = m->names[i];
		run->scale[i] = m->time_unit[i] ? d->tmax : 1.0;
	}
	return 1;
}

/*
 * After a fit on reparametrised log-parameters (how: ratio, rate, odds,
 * spread): the model's own log-parameters into ph and their standard errors
 * into se (NaN for those at an edge of the box), c's reparametrisations off
 * meanwhile
 */
static void
btyd_model_se(const hvc_fit_run *run, const btyd_fit_ctx *c, const btyd_fit_ctx *how,
			  double *ph, double *se)
{
	hvc_fit_run pr = *run;
	btyd_fit_ctx own = *c;
	int			freev[HVC_OPT_MAXDIM], i;

	own.ratio = own.rate = own.odds = own.spread = 0;
	btyd_logpar(how, run->theta, pr.theta);
	for (i = 0; i < 4; i++)
		freev[i] = (at_edge(pr.theta[i]) == 0);
	fit_standard_errors(&pr, btyd_objective, &own, freev);
	memcpy(ph, pr.theta, 4 * sizeof(double));
	memcpy(se, pr.acc.se, sizeof(pr.acc.se));
}

/*
 * After a fit in (ln r, ln alpha, ln s, ln(beta/alpha)): the standard errors
 * again in the model's own log-parameters, and a ratio ending on its limit
 * reported as an edge of the fit ("beta/alpha->inf" or "->0").
 */
static void
btyd_ratio_report(hvc_fit_run *run, btyd_fit_ctx *c, hvc_opt_report *rep)
{
	double		ph[4];

	btyd_model_se(run, c, &(btyd_fit_ctx) {.ratio = 1}, ph, rep->se);
	if (run->theta[3] <= run->lo[3] + 1e-6 || run->theta[3] >= run->hi[3] - 1e-6)
	{
		char		buf[32];

		snprintf(buf, sizeof(buf), "%s/%s->%s", c->m->names[3], c->m->names[1],
				 run->theta[3] > 0.0 ? "inf" : "0");
		edge_append(rep->edge, sizeof(rep->edge), buf, 0);
		rep->se[1] = rep->se[3] = NAN;
	}
}

/*
 * A fit on a limited ratio that stopped short of the limit without
 * converging (its line search failing within a hundredth of the box, in
 * ln(par[3]/par[1])): the optimum is on the limit.  Resume from there with
 * the ratio on it, where the optimiser holds it as an active bound; keep
 * whichever run converged, else the first.  (Pareto/NBD, 1 % of shops drawn
 * from the model: a common dropout rate, s and beta large at beta/alpha
 * 999.x.)
 */
static int
btyd_ratio_resume(hvc_fit_run *run, btyd_fit_ctx *c, double *par, double *fll,
				  hvc_opt_report *frep)
{
	hvc_fit_run again = *run;
	hvc_opt_report rep2;
	double		par2[4],
				ll2 = NAN;
	int			rc2;

	if (run->theta[3] >= run->hi[3] - 1e-2)
		again.theta[3] = run->hi[3];
	else if (run->theta[3] <= run->lo[3] + 1e-2)
		again.theta[3] = run->lo[3];
	else
		return HVC_FIT_NOCONV;
	rc2 = hvc_fit_solve(&again, btyd_objective, btyd_store, c, par2, &ll2, &rep2);
	if (rc2 != HVC_OK)
		return HVC_FIT_NOCONV;
	rep2.iterations += frep->iterations;
	rep2.nfev += frep->nfev;
	*run = again;
	memcpy(par, par2, sizeof(par2));
	*fll = ll2;
	*frep = rep2;
	return HVC_OK;
}

/*
 * A fit that stopped without converging with a pair of parameters run off
 * together: r and alpha (beyond e^15) when everyone buys at nearly the same
 * rate; under BG/NBD and MBG/NBD a and b (beyond e^15) when everyone drops
 * out with nearly the same probability, under Pareto/NBD s and beta (s
 * beyond e^PNBD_SPREAD_MIN, about 150: its fits stalled with s from 200 on)
 * when everyone drops out at nearly the same rate.
 * There a step of the last bit of those log-parameters moved the gradient
 * by more than the tolerance (the likelihood is that sharp in r / alpha, in
 * a / b, in s / beta), so the line search failed beside the ridge.  Resume
 * from there on ln(alpha / r), ln(b / a) or ln(s / beta) (beside Pareto/NBD's
 * ln(beta / alpha), which keeps its limit), numbers of moderate size, and
 * keep that run when it converges: its parameters, log-likelihood, edges and
 * standard errors in the model's own log-parameters (run->theta in those,
 * or in the ratio's for btyd_ratio_report).  (Before: 22 and 39 of 600
 * shops with homogeneous rates, BG/NBD and MBG/NBD; MBG/NBD's same-dropout
 * ridge too; Pareto/NBD 32 of 600 BG/NBD shops.)
 */
#define PNBD_SPREAD_MIN	5.0

static int
btyd_pair_resume(hvc_fit_run *run, btyd_fit_ctx *c, double *par, double *fll,
				 hvc_opt_report *frep)
{
	hvc_fit_run again = *run;
	hvc_opt_report rep2;
	btyd_fit_ctx how = {0};
	double		par2[4],
				ph[4],
				ll2 = NAN;
	int			freev[HVC_OPT_MAXDIM],
				rc2;

	how.ratio = c->ratio;
	how.rate = run->theta[0] > 15.0;
	how.odds = !c->ratio && run->theta[2] > 15.0 && run->theta[3] > 15.0;
	how.spread = c->ratio && run->theta[2] > PNBD_SPREAD_MIN;
	if (!how.rate && !how.odds && !how.spread)
		return HVC_FIT_NOCONV;
	if (how.rate)
		again.theta[1] = run->theta[1] - run->theta[0];
	if (how.odds)
		again.theta[3] = run->theta[3] - run->theta[2];
	if (how.spread)				/* ln beta = ln alpha + ln(beta / alpha) */
		again.theta[2] = run->theta[2] - (run->theta[1] + run->theta[3]);
	c->rate = how.rate;
	c->odds = how.odds;
	c->spread = how.spread;
	rc2 = hvc_fit_solve(&again, btyd_objective, btyd_store, c, par2, &ll2, &rep2);
	c->rate = c->odds = c->spread = 0;
	if (rc2 != HVC_OK)
		return HVC_FIT_NOCONV;
	btyd_model_se(&again, c, &how, ph, rep2.se);
	name_edges(&rep2, ph, 4, c->m->names, freev);
	rep2.iterations += frep->iterations;
	rep2.nfev += frep->nfev;
	memcpy(run->theta, ph, sizeof(ph));
	if (c->ratio)
		run->theta[3] = ph[3] - ph[1];
	memcpy(par, par2, sizeof(par2));
	*fll = ll2;
	*frep = rep2;
	return HVC_OK;
}

/*
 * After a full BG/NBD or MBG/NBD fit whose b ran to infinity while a grew
 * too (from its start 1) but stayed inside the box: a and b go to infinity
 * together with a/(a+b) fixed, everyone has the same dropout probability,
 * and only that ratio is identified.  Report the edge as "a->inf,b->inf"
 * (not "b->inf", which names the no-dropout limit) with no SE for a.
 */
static void
btyd_same_dropout_report(const hvc_fit_run *run, const hvc_btyd_model *m, hvc_opt_report *rep)
{
	int			i;

	if (at_edge(run->theta[m->edge_unid]) <= 0 || at_edge(run->theta[m->edge_zero]) != 0 ||
		!(run->theta[m->edge_zero] > 0.0))
		return;
	rep->edge[0] = '\0';
	for (i = 0; i < run->n; i++)
	{
		int			e = i == m->edge_zero ? 1 : at_edge(run->theta[i]);

		if (e != 0)
			edge_append(rep->edge, sizeof(rep->edge), m->names[i], e);
	}
	rep->se[m->edge_zero] = NAN;
	if (rep->converged)
		snprintf(rep->message, sizeof(rep->message),
				 "converged at the edge %s (the same dropout probability for everyone): gradient norm %.2g",
				 rep->edge, rep->gnorm);
}

/*
 * Relative tolerance on the log-likelihood below which the full model is no
 * better than its no-dropout limit.
 */
#define EDGE_LL_RTOL	1e-9
/* half the 95 % quantile of chi-square with 2 degrees of freedom */
#define EDGE_LR_HALF_CRIT	2.9957

int
hvc_btyd_fit_prep(const hvc_btyd_model *m, const btyd_prep *d,
				  const hvc_fit_options *opt, double par[4],
				  double *loglik, hvc_opt_report *rep)
{
	hvc_fit_run run, nrun;
	hvc_opt_report frep, nrep;
	btyd_fit_ctx c;
	double		fll = NAN, nll = NAN, npar[2] = {NAN, NAN};
	int			rc, nrc, i;

	par[0] = par[1] = par[2] = par[3] = NAN;
	if (!btyd_run_start(&run, 4, m, d, opt, loglik, rep))
		return HVC_ENODATA;
	c.m = m;
	c.d = d;
	c.tscale = 1.0 / d->tmax;
	c.penalizer = run.penalizer;
	c.ratio = 0;
	c.rate = 0;
	c.odds = 0;
	c.spread = 0;
	/* the no-dropout limit, the NBD model with (r, alpha), first */
	btyd_run_start(&nrun, 2, m, d, opt, NULL, NULL);
	nrc = hvc_fit_solve(&nrun, nbd_objective, nbd_store, &c, npar, &nll, &nrep);
	c.ratio = m->max_ratio > 1.0;
	if (c.ratio)
	{
		run.lo[3] = -log(m->max_ratio);
		run.hi[3] = log(m->max_ratio);
		/*
		 * An expensive model starts from the limit's purchase process
		 * (dropout parameters 1, on the rescaled times).
		 */
		if (nrc == HVC_OK && nrun.acc.edge[0] == '\0')
		{
			run.theta[0] = nrun.theta[0];
			run.theta[1] = nrun.theta[1];
			run.theta[3] = -nrun.theta[1];
		}
	}
	rc = hvc_fit_solve(&run, btyd_objective, btyd_store, &c, par, &fll, &frep);
	if (rc == HVC_FIT_NOCONV && c.ratio)
		rc = btyd_ratio_resume(&run, &c, par, &fll, &frep);
	if (rc == HVC_FIT_NOCONV)
		rc = btyd_pair_resume(&run, &c, par, &fll, &frep);
	if (rc == HVC_EINVAL)
		goto full;
	if (c.ratio)
		btyd_ratio_report(&run, &c, &frep);
	else
		btyd_same_dropout_report(&run, m, &frep);
	if (nrc != HVC_OK || !isfinite(nll))
		goto full;
	/*
	 * The full model wins when its two dropout parameters improve the
	 * likelihood significantly over the limit (likelihood-ratio test, 2
	 * degrees of freedom, 5 %); otherwise the data show no dropout and the
	 * answer is the edge.
	 */
	if (isfinite(fll) && fll - nll > EDGE_LR_HALF_CRIT &&
		fll > nll + EDGE_LL_RTOL * fabs(nll))
		goto full;
	/* the edge: NBD limit */
	par[0] = npar[0];
	par[1] = npar[1];
	nrep.iterations += frep.iterations;
	nrep.nfev += frep.nfev;
	{
		char		edge[sizeof(nrep.edge)];

		/*
		 * Which way the full model went to its limit: the mean dropout
		 * a/(a+b) of BG/NBD and MBG/NBD vanishes with a -> 0 or with
		 * b -> infinity (clv-models.md §9.2).  When b grew more (in log
		 * scale, from the start 1) than a shrank, the answer is b -> inf:
		 * b = +infinity and a not identified (NaN); else a = 0 and b not
		 * identified.  A model fitted on a ratio (Pareto/NBD) always
		 * reports edge_zero -> 0.
		 */
		if (!c.ratio && isfinite(run.theta[m->edge_zero]) && isfinite(run.theta[m->edge_unid]) &&
			run.theta[m->edge_zero] + run.theta[m->edge_unid] > 0.0)
		{
			par[m->edge_zero] = NAN;
			par[m->edge_unid] = INFINITY;
			snprintf(edge, sizeof(edge), "%.8s->inf%s%.32s", m->names[m->edge_unid],
					 nrep.edge[0] ? "," : "", nrep.edge);
		}
		else
		{
			par[m->edge_zero] = 0.0;
			par[m->edge_unid] = NAN;
			snprintf(edge, sizeof(edge), "%.8s->0%s%.34s", m->names[m->edge_zero],
					 nrep.edge[0] ? "," : "", nrep.edge);
		}
		snprintf(nrep.edge, sizeof(nrep.edge), "%s", edge);
	}
	snprintf(nrep.message, sizeof(nrep.message),
			 "converged at the edge %s (no dropout: NBD limit): gradient norm %.2g",
			 nrep.edge, nrep.gnorm);
	for (i = 2; i < HVC_OPT_MAXDIM; i++)
		nrep.se[i] = NAN;
	if (loglik)
		*loglik = nll;
	if (rep)
		*rep = nrep;
	return HVC_OK;

full:
	if (loglik)
		*loglik = fll;
	if (rep)
		*rep = frep;
	return rc;
}

int
hvc_btyd_fit(const hvc_btyd_model *m, const btyd_row *rows, size_t n,
			 const hvc_fit_options *opt, double par[4], double *loglik,
			 hvc_opt_report *rep)
{
	btyd_prep	d;
	int			rc;

	rc = btyd_prep_init(&d, rows, n, NULL);
	if (rc != HVC_OK)
	{
		par[0] = par[1] = par[2] = par[3] = NAN;
		return hvc_fit_failed(rc, "no data to fit", loglik, rep);
	}
	rc = hvc_btyd_fit_prep(m, &d, opt, par, loglik, rep);
	btyd_prep_free(&d);
	return rc;
}
