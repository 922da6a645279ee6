/*
 * fit_driver.c — the model-independent steps of the maximum-likelihood fits
 * (see fit_driver.h).  gamma_gamma.c supplies only its objective, start
 * point / bounds and the mapping of the final log-parameters back to its
 * parameters; bgnbd.c and pareto_nbd.c only their log-likelihood.
 */
#include "fit_driver.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* a report before any optimisation: all zero, f and gnorm unknown */
static void
report_clear(hvc_opt_report *r)
{
	memset(r, 0, sizeof(*r));
	r->f = r->gnorm = NAN;
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
	for (i = 0; i < HVC_OPT_MAXDIM; i++)
	{
		run->theta[i] = 0.0;
		run->lo[i] = HVC_LOGPAR_MIN;
		run->hi[i] = HVC_LOGPAR_MAX;
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
	if (st == HVC_OPT_NONFINITE || st == HVC_OPT_BADARG)
		rc = HVC_EINVAL;
	else
	{
		hvc_fit_flag_divergence(run->theta, run->n, HVC_LOGPAR_MAX, &run->acc);
		if (store(run->theta, ctx, out, &ll))
		{
			if (loglik)
				*loglik = ll;
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
} btyd_fit_ctx;

static double
btyd_objective(const double *th, double *grad, void *vctx)
{
	const btyd_fit_ctx *c = (const btyd_fit_ctx *) vctx;
	double		par[4], g[4], ll;
	int			i;

	for (i = 0; i < 4; i++)
		par[i] = exp(th[i]);
	ll = c->m->loglik(c->d, par, c->tscale, grad ? g : NULL);
	return hvc_fit_objective(ll, g, c->d->wsum, c->penalizer, th, 4, grad);
}

/* hvc_fit_store: parameters back on the caller's time scale */
static int
btyd_store(const double *th, void *vctx, void *out, double *loglik)
{
	const btyd_fit_ctx *c = (const btyd_fit_ctx *) vctx;
	double		par[4];
	int			i;

	for (i = 0; i < 4; i++)
	{
		par[i] = exp(th[i]);
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

int
hvc_btyd_fit_prep(const hvc_btyd_model *m, const btyd_prep *d,
				  const hvc_fit_options *opt, double par[4],
				  double *loglik, hvc_opt_report *rep)
{
	hvc_fit_run run;
	btyd_fit_ctx c;

	par[0] = par[1] = par[2] = par[3] = NAN;
	if (!hvc_fit_start(&run, 4, opt,
					   d != NULL && d->n > 0 && d->wsum > 0.0 && d->tmax > 0.0,
					   "no data to fit", loglik, rep))
		return HVC_ENODATA;
	c.m = m;
	c.d = d;
	c.tscale = 1.0 / d->tmax;
	c.penalizer = run.penalizer;
	return hvc_fit_solve(&run, btyd_objective, btyd_store, &c, par, loglik, rep);
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
