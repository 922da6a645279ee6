/*
 * fit_driver.h — the steps every maximum-likelihood fit of the core shares
 * (BG/NBD, Pareto/NBD, Gamma-Gamma).
 *
 * Each model optimises its log-parameters theta = ln(parameters) with
 * hvc_fit_minimize() inside the box [HVC_LOGPAR_MIN, HVC_LOGPAR_MAX].  What
 * differs between the models is only the objective, the start point, the
 * bounds and how theta maps back to parameters on the caller's time scale;
 * everything around that lives here:
 *
 *   hvc_fit_start()     options (or defaults), report and outputs reset,
 *                       the "no data" early return, default start / box
 *   hvc_fit_objective() -mean log-likelihood + L2 penalty, with gradient
 *   hvc_fit_solve()     minimise, flag divergence to the box, map theta back
 *                       (model callback), recompute the log-likelihood,
 *                       report and return code
 *   hvc_fit_failed()    outputs of a fit whose data could not be prepared
 *
 * A model's fit therefore reads:
 *
 *   hvc_fit_run run;
 *   if (!hvc_fit_start(&run, n, opt, have_data, "no data", loglik, rep))
 *       return HVC_ENODATA;
 *   ... model context, run.theta / run.lo / run.hi adjustments ...
 *   return hvc_fit_solve(&run, objective, store, &ctx, out, loglik, rep);
 *
 * BG/NBD and Pareto/NBD share even the rest (btyd_prep data, four
 * parameters, start at all ones, time rescaling): hvc_btyd_fit_prep() and
 * hvc_btyd_fit() below are their whole fit, given the log-likelihood.
 */
#ifndef HVC_FIT_DRIVER_H
#define HVC_FIT_DRIVER_H

#include "btyd_data.h"
#include "optimizer.h"

#define HVC_LOGPAR_MIN	(-23.0)		/* box of the log-parameters */
#define HVC_LOGPAR_MAX	23.0

/* state of one fit between hvc_fit_start() and hvc_fit_solve() */
typedef struct
{
	int			n;				/* number of log-parameters */
	double		theta[HVC_OPT_MAXDIM];	/* start point (all 0, i.e. every
										 * parameter 1), best point after */
	double		lo[HVC_OPT_MAXDIM];	/* box, HVC_LOGPAR_MIN .. MAX */
	double		hi[HVC_OPT_MAXDIM];
	hvc_fit_options fo;			/* the caller's options or the defaults */
	double		penalizer;		/* fo.penalizer, or 0 if not positive */
	hvc_opt_report acc;			/* report under construction */
	/* set by the model before hvc_fit_solve() (defaults from hvc_fit_start) */
	double		wsum;			/* total weight the objective divides by (1) */
	double		scale[HVC_OPT_MAXDIM];	/* parameter i = e^theta_i * scale[i]
										 * on the caller's time scale (1) */
	const char *names[HVC_OPT_MAXDIM];	/* parameter names for the edge
										 * report ("p0", ...) */
} hvc_fit_run;

/*
 * Start a fit of n (<= HVC_OPT_MAXDIM) log-parameters: *loglik (if not NULL)
 * = NaN, run->fo = *opt (or the defaults when opt is NULL), report cleared,
 * theta = 0, box [HVC_LOGPAR_MIN, HVC_LOGPAR_MAX].  If have_data is 0, *rep
 * (if not NULL) gets an unconverged report with nodata_msg and 0 is returned
 * (the caller returns HVC_ENODATA); else 1.
 */
int			hvc_fit_start(hvc_fit_run *run, int n, const hvc_fit_options *opt,
						  int have_data, const char *nodata_msg,
						  double *loglik, hvc_opt_report *rep);

/*
 * The objective every fit minimises, from the weighted log-likelihood ll
 * (and, if grad != NULL, its gradient g w.r.t. theta) of the data of total
 * weight wsum:  -ll / wsum + penalizer * sum_i e^{2 theta_i}, and its
 * gradient in grad.  NaN when ll is not finite.
 */
double		hvc_fit_objective(double ll, const double *g, double wsum,
							  double penalizer, const double *theta, int n,
							  double *grad);

/*
 * Map the final log-parameters theta to the model's parameters on the
 * caller's time scale and compute their total weighted log-likelihood.  If
 * the parameters are valid and *loglik is finite, store them in *out and
 * return 1; otherwise leave *out alone and return 0.
 */
typedef int (*hvc_fit_store) (const double *theta, void *ctx, void *out,
							  double *loglik);

/*
 * Minimise f (with ctx) from run->theta within [run->lo, run->hi], then
 * store the result through store().  The verdict is the convergence rule
 * (hvc_fit_converged).  A log-parameter ending within 3 of the box
 * [HVC_LOGPAR_MIN, HVC_LOGPAR_MAX] (beyond e^+-20) is at an edge of the
 * parameter space:
 * the likelihood keeps increasing towards 0 or infinity, the point found is
 * the limiting model's answer; rep->edge names it ("q->inf", joined by ","
 * when several) and its standard error is NaN.  The standard errors of the
 * other parameters come from the inverse of the Hessian of the total
 * log-likelihood (central differences of f's analytic gradient, penalty
 * removed) over them.  *loglik (if not NULL) gets the log-likelihood, *rep
 * (if not NULL) the report.  Returns HVC_OK (converged), HVC_FIT_NOCONV
 * (best point stored, or non-finite result: *out left NaN) or HVC_EINVAL
 * (objective not finite at the start / bad arguments).
 */
int			hvc_fit_solve(hvc_fit_run *run, hvc_objective f, hvc_fit_store store,
						  void *ctx, void *out, double *loglik,
						  hvc_opt_report *rep);

/*
 * Outputs of a fit whose data could not be prepared (rc is the negative
 * HVC_E* code of the prep step): *loglik (if not NULL) = NaN and *rep (if
 * not NULL) a cleared report whose message explains rc (nodata_msg for
 * HVC_ENODATA).  Returns rc.  The caller sets its parameters to NaN.
 */
int			hvc_fit_failed(int rc, const char *nodata_msg, double *loglik,
						   hvc_opt_report *rep);

/* ---------------------------------------------------------------------
 * The fit of the two BTYD models (BG/NBD, Pareto/NBD)
 * --------------------------------------------------------------------- */

/*
 * A BTYD model's total weighted log-likelihood on prepared data with every
 * time multiplied by tscale, at the parameters par[0..3] (natural scale, in
 * the model's order); if grad != NULL, its gradient w.r.t. ln(par).  NaN for
 * invalid parameters.
 */
typedef double (*hvc_btyd_loglik) (const btyd_prep *d, const double *par,
								   double tscale, double *grad);

typedef struct
{
	hvc_btyd_loglik loglik;
	int			time_unit[4];	/* 1 for a parameter in units of time
								 * (alpha, beta): scaled back after the fit */
	const char *names[4];		/* parameter names, e.g. "r", "alpha", "a", "b" */
	/*
	 * The no-dropout edge: the model's limit is the NBD model with the same
	 * r, alpha (clv-models.md §9.2) when parameter edge_zero goes to 0; it
	 * is then reported as 0, parameter edge_unid (not identified) as NaN,
	 * and rep->edge = "<name of edge_zero>->0".
	 */
	int			edge_zero;
	int			edge_unid;
	/*
	 * > 0: the fit keeps par[3] / par[1] (on the rescaled times) within
	 * [1/max_ratio, max_ratio] (a box on ln(par[3]/par[1]), the fit's own
	 * log-parameter there).  Pareto/NBD (1000): beyond it the 2F1 of its
	 * likelihood needs O(sqrt(ratio)) continued-fraction levels per
	 * customer, and the likelihood is that of the limits the fit compares
	 * with.  0 = no such limit.
	 */
	double		max_ratio;
} hvc_btyd_model;

/*
 * Like lifetimes: fit on times rescaled by 1/max(T), starting from all four
 * parameters 1, then divide the time-unit parameters by that scale.  The
 * NBD limit (r, alpha) is fitted too; when the full model does not reach a
 * higher likelihood in the interior, the answer is that edge (see
 * hvc_btyd_model.edge_zero; its r, alpha, log-likelihood and SEs).  par
 * gets the parameters on the caller's time scale (all NaN unless the fit
 * produced valid ones), *loglik (may be NULL) the total weighted
 * log-likelihood there, *rep (may be NULL) the report.  Returns HVC_OK,
 * HVC_FIT_NOCONV, HVC_ENODATA (no row, no weight or max(T) = 0) or
 * HVC_EINVAL (see hvc_fit_solve).
 */
int			hvc_btyd_fit_prep(const hvc_btyd_model *m, const btyd_prep *d,
							  const hvc_fit_options *opt, double par[4],
							  double *loglik, hvc_opt_report *rep);

/* the same from n rows (copied and prepared with btyd_prep_init) */
int			hvc_btyd_fit(const hvc_btyd_model *m, const btyd_row *rows,
						 size_t n, const hvc_fit_options *opt, double par[4],
						 double *loglik, hvc_opt_report *rep);

/*
 * The two models (bgnbd.c, pareto_nbd.c): bgnbd_fit() is
 * hvc_btyd_fit(&hvc_bgnbd_model, ...) with par = (r, alpha, a, b), and
 * pnbd_fit() hvc_btyd_fit(&hvc_pnbd_model, ...) with (r, alpha, s, beta).
 */
extern const hvc_btyd_model hvc_bgnbd_model;
extern const hvc_btyd_model hvc_pnbd_model;
/* MBG/NBD (mbgnbd.c): par = (r, alpha, a, b) */
extern const hvc_btyd_model hvc_mbgnbd_model;

/*
 * The NBD model (gamma-Poisson, no dropout): log-likelihood of one customer
 *   lnG(r+x) - lnG(r) + r ln alpha - (r+x) ln(alpha+T)
 * (t_x drops out), the limit of all three BTYD models at their no-dropout
 * edge.  NaN unless r, alpha > 0 and finite and the data valid.
 */
double		hvc_nbd_loglik_row(double r, double alpha, double x, double T);

/* NBD E[Y(t) | x, T] = (r+x) t / (alpha+T); NaN on invalid input */
double		hvc_nbd_expected_purchases(double r, double alpha, double t,
									   double x, double T);

#endif							/* HVC_FIT_DRIVER_H */
