/*
 * optimizer.h — small dense quasi-Newton minimiser with box bounds.
 *
 * Projected BFGS (inverse-Hessian form) for problems of up to
 * HVC_OPT_MAXDIM variables, intended for the 3-4 log-parameters of the CLV
 * models.  Line search: backtracking with safeguarded quadratic
 * interpolation plus extrapolation while the slope is still steep (Armijo /
 * weak Wolfe), and the approximate-Wolfe test of Hager & Zhang when the
 * objective has reached rounding-noise level.  Bounds are enforced by
 * projecting every trial point onto the box; variables held at a bound by
 * the gradient are frozen for the iteration.  Fully deterministic; no
 * allocation (all workspace on the stack).
 */
#ifndef HVC_OPTIMIZER_H
#define HVC_OPTIMIZER_H

#define HVC_OPT_MAXDIM 8

/*
 * Objective: returns f(theta) and, if grad != NULL, stores the gradient.
 * Must return a non-finite value (NaN/inf) for points where it cannot be
 * evaluated; the minimiser then backtracks.
 */
typedef double (*hvc_objective) (const double *theta, double *grad, void *ctx);

typedef struct
{
	int			max_iter;		/* iteration limit (default 200) */
	int			max_fev;		/* function-evaluation limit (default 2000) */
	double		gtol;			/* converged when max_i |projected gradient_i| <=
								 * gtol * max(1, |f|)  (default 1e-9) */
	double		max_step;		/* largest change of one coordinate per
								 * iteration (default 4) */
	const double *lower;		/* per-variable bounds, NULL = unbounded */
	const double *upper;
	int			(*interrupted) (void);	/* polled before every evaluation; nonzero
										 * stops with HVC_OPT_INTERRUPTED.
										 * NULL = never. */
} hvc_opt_options;

typedef enum
{
	HVC_OPT_CONVERGED = 0,
	HVC_OPT_MAXITER = 1,
	HVC_OPT_MAXFEV = 2,
	HVC_OPT_LINESEARCH = 3,		/* no acceptable step found */
	HVC_OPT_NONFINITE = 4,		/* objective not finite at the start point */
	HVC_OPT_BADARG = 5,
	HVC_OPT_INTERRUPTED = 6		/* the interrupted() callback asked to stop */
} hvc_opt_status;

typedef struct
{
	int			converged;		/* 1 iff status == HVC_OPT_CONVERGED */
	int			status;			/* hvc_opt_status */
	int			iterations;
	int			nfev;			/* objective (+gradient) evaluations */
	double		f;				/* final objective */
	double		gnorm;			/* final max-norm of the projected gradient */
	int			n_at_bound;		/* variables ending on a bound */
	char		message[128];	/* e.g. "converged: gradient norm 3.1e-10" */
	/*
	 * Filled by the model fits (fit_driver.c), not by hvc_minimize():
	 * se[i] = standard error of model parameter i (inverse Hessian of the
	 * log-likelihood at the optimum, natural scale, caller's time unit; NaN
	 * when not available: parameter at an edge or not identified, Hessian
	 * not positive definite); edge = "" for an interior optimum, else which
	 * parameter went to which edge of its space, e.g. "a->0" or "q->inf".
	 */
	double		se[HVC_OPT_MAXDIM];
	char		edge[48];
} hvc_opt_report;

/* Fill *o with the defaults (no bounds). */
void		hvc_opt_default_options(hvc_opt_options *o);

/*
 * Minimise f over the box starting at theta[0..n-1] (clamped into the box);
 * on return theta holds the best point found (always one where f is
 * finite, unless status == HVC_OPT_NONFINITE/BADARG).  opt may be NULL
 * (defaults); rep may be NULL.  Returns the status.
 */
int			hvc_minimize(hvc_objective f, void *ctx, int n, double *theta,
						 const hvc_opt_options *opt, hvc_opt_report *rep);

/*
 * Options shared by the model fits (bgnbd_fit, pnbd_fit, gg_fit).
 */
typedef struct
{
	double		penalizer;		/* L2 penalty on the natural-scale parameters,
								 * as lifetimes' penalizer_coef: objective =
								 * -sum(w l)/sum(w) + penalizer * sum(theta^2)
								 * (BG/NBD, Pareto/NBD: on the time-rescaled
								 * parameters, like lifetimes).  Default 0. */
	int			max_iter;		/* iteration budget, default 200 (evaluation
								 * budget: 3 * max_iter) */
	double		gtol;			/* default 1e-9 (see hvc_opt_options) */
	int			q_constraint;	/* Gamma-Gamma only: keep q >= 1 */
	int			(*interrupted) (void);	/* see hvc_opt_options; default NULL */
} hvc_fit_options;

void		hvc_fit_default_options(hvc_fit_options *o);

/*
 * Driver used by the model fits: hvc_minimize() from theta within [lo, hi]
 * with the fit options (gtol), restarted (fresh BFGS memory) from the last
 * point up to twice if it stopped without converging.  max_iter iterations
 * and 3 * max_iter evaluations are the budget of all attempts together.
 * rep gets the summed iterations / evaluations and a message noting
 * parameters ending on a bound.  Returns the final hvc_opt_status.
 */
int			hvc_fit_minimize(hvc_objective f, void *ctx, int n, double *theta,
							 const double *lo, const double *hi,
							 const hvc_fit_options *fo, hvc_opt_report *rep);

/*
 * The convergence rule of every fit: converged iff the max-norm of the
 * projected gradient of the objective (mean negative log-likelihood) is at
 * most HVC_FIT_CONV_RTOL * max(1, |objective|) at the point returned,
 * whatever stopped the optimiser (its own gtol, a failed line search, the
 * iteration or evaluation limit).  hvc_fit_minimize() applies it.
 */
#define HVC_FIT_CONV_RTOL	1e-5
int			hvc_fit_converged(const hvc_opt_report *rep);

/*
 * Return values of the fits: HVC_OK (0) when converged (in the interior or
 * at an edge of the parameter space: rep->edge says which), HVC_FIT_NOCONV
 * (1) when the optimiser stopped without converging (the output parameters
 * then hold the best point found, or NaN in the should-not-happen case that
 * it is not finite; the report message says which), or a negative HVC_E*
 * code from btyd_data.h (nothing fitted, outputs NaN).
 */
#define HVC_FIT_NOCONV	1

#endif							/* HVC_OPTIMIZER_H */
