/*
 * optimizer.c — projected BFGS with box bounds (see optimizer.h).
 */
#include "optimizer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LS_MAX_TRIALS	40
#define LS_C1			1e-4	/* sufficient decrease */
#define LS_C2			0.9		/* slope reduction that stops extrapolation */
#define LS_EXPAND		4.0
#define AW_DELTA		0.1		/* approximate Wolfe (Hager-Zhang) */
#define AW_SIGMA		0.9
#define AW_EPS			1e-13	/* relative objective noise level */

void
hvc_opt_default_options(hvc_opt_options *o)
{
	o->max_iter = 200;
	o->max_fev = 2000;
	o->gtol = 1e-9;
	o->max_step = 4.0;
	o->lower = NULL;
	o->upper = NULL;
	o->interrupted = NULL;
}

void
hvc_fit_default_options(hvc_fit_options *o)
{
	o->penalizer = 0.0;
	o->max_iter = 200;
	o->gtol = 1e-9;
	o->q_constraint = 0;
	o->interrupted = NULL;
}

typedef struct
{
	int			n;
	double		lo[HVC_OPT_MAXDIM];
	double		hi[HVC_OPT_MAXDIM];
} box;

static double
clampd(double v, double lo, double hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return v;
}

static int
all_finite(const double *v, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/*
 * A variable within this share of its box's width of a bound, pushed out by
 * the gradient, is held there (and the line search puts it on the bound):
 * approached from inside, a bound is otherwise reached only asymptotically,
 * by ever shorter steps of all the variables.
 */
#define BOUND_EPS		1e-4

/*
 * projected gradient max-norm over the variables not held at a bound;
 * freev[i] = 0 if variable i is held (within eps times its box's width of a
 * bound it is pushed out of)
 */
static double
proj_grad(const box *b, const double *x, const double *g, int *freev,
		  double eps)
{
	double		m = 0.0;
	int			i;

	for (i = 0; i < b->n; i++)
	{
		double		w = b->hi[i] - b->lo[i],
					e = isfinite(w) ? eps * w : 0.0;
		int			held = (x[i] <= b->lo[i] + e && g[i] > 0.0) ||
		(x[i] >= b->hi[i] - e && g[i] < 0.0);

		if (freev)
			freev[i] = !held;
		if (!held && fabs(g[i]) > m)
			m = fabs(g[i]);
	}
	return m;
}

typedef struct
{
	double		t;
	double		f;
	double		x[HVC_OPT_MAXDIM];
	double		g[HVC_OPT_MAXDIM];
} trial;

/*
 * Line search along the projected path P(x + t d), the held variables
 * (freev[i] = 0) on the bound that holds them.  Returns 1 and fills *out on
 * success, 0 on failure.  *nfev is incremented per evaluation.
 */
static int
line_search(hvc_objective fn, void *ctx, const box *b, const double *x,
			double f, const double *g, const double *d, const int *freev,
			double t0, double tmax, int *nfev, int max_fev,
			int (*interrupted) (void), trial *out)
{
	trial		cur, acc;
	int			have_acc = 0, bracketed = 0, nextrap = 0, k, i, n = b->n;
	double		t = t0, dphi0 = 0.0;
	double		fnoise = AW_EPS * (fabs(f) > 1.0 ? fabs(f) : 1.0);

	for (i = 0; i < n; i++)
		dphi0 += g[i] * d[i];
	if (!(dphi0 < 0.0))
		return 0;

	for (k = 0; k < LS_MAX_TRIALS && *nfev < max_fev; k++)
	{
		double		lin = 0.0, slope = 0.0, moved = 0.0;
		int			armijo, approx;

		for (i = 0; i < n; i++)
		{
			cur.x[i] = freev[i] ? clampd(x[i] + t * d[i], b->lo[i], b->hi[i]) :
				g[i] > 0.0 ? b->lo[i] : b->hi[i];
			moved += fabs(cur.x[i] - x[i]);
		}
		if (moved == 0.0)
			break;				/* step underflow */
		if (interrupted != NULL && interrupted())
			return 0;			/* one evaluation may be slow: stop promptly */
		cur.t = t;
		cur.f = fn(cur.x, cur.g, ctx);
		(*nfev)++;
		if (isfinite(cur.f) && all_finite(cur.g, n))
		{
			for (i = 0; i < n; i++)
			{
				lin += g[i] * (cur.x[i] - x[i]);
				slope += cur.g[i] * (cur.x[i] - x[i]);
			}
			slope /= t;			/* slope along the path, per unit t */
			armijo = cur.f <= f + LS_C1 * lin && lin < 0.0;
			approx = cur.f <= f + fnoise &&
				slope >= AW_SIGMA * dphi0 && slope <= (2.0 * AW_DELTA - 1.0) * dphi0;
		}
		else
		{
			armijo = approx = 0;
			slope = NAN;
		}

		if (armijo || approx)
		{
			if (have_acc && cur.f >= acc.f)
				break;			/* extrapolation stopped paying off */
			acc = cur;
			have_acc = 1;
			if (armijo && !bracketed && slope < LS_C2 * dphi0 &&
				nextrap < 10 && t < tmax)
			{
				t = t * LS_EXPAND;
				if (t > tmax)
					t = tmax;
				nextrap++;
				continue;
			}
			break;
		}
		if (have_acc)
			break;				/* overshoot while extrapolating */
		bracketed = 1;
		{
			double		tn;

			if (isfinite(cur.f))
			{
				/* minimiser of the quadratic through phi(0), phi'(0), phi(t) */
				double		den = 2.0 * (cur.f - f - dphi0 * t);

				tn = den > 0.0 ? -dphi0 * t * t / den : 0.5 * t;
				tn = clampd(tn, 0.1 * t, 0.5 * t);
			}
			else
				tn = 0.2 * t;
			t = tn;
		}
	}
	if (!have_acc)
		return 0;
	*out = acc;
	return 1;
}

/*
 * BFGS update of the inverse Hessian H with the step x -> tr->x; a fresh H
 * is first set to the scaled identity (Nocedal & Wright (6.20)).  The
 * gradient change counts only for the free variables (held ones do not
 * move).  Skipped, H and *fresh unchanged, without positive curvature.
 */
static void
bfgs_update(int n, double H[HVC_OPT_MAXDIM][HVC_OPT_MAXDIM], const double *x,
			const double *g, const trial *tr, const int *freev, int *fresh)
{
	double		s[HVC_OPT_MAXDIM], y[HVC_OPT_MAXDIM], Hy[HVC_OPT_MAXDIM];
	double		sy = 0.0, yy = 0.0, ss = 0.0, yHy = 0.0;
	int			i, j;

	for (i = 0; i < n; i++)
	{
		s[i] = tr->x[i] - x[i];
		y[i] = freev[i] ? tr->g[i] - g[i] : 0.0;
		sy += s[i] * y[i];
		yy += y[i] * y[i];
		ss += s[i] * s[i];
	}
	if (!(sy > 1e-12 * sqrt(ss * yy)))
		return;
	if (*fresh)
	{
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				H[i][j] = (i == j) ? sy / yy : 0.0;
		*fresh = 0;
	}
	/* H <- (I - rho s y') H (I - rho y s') + rho s s' */
	for (i = 0; i < n; i++)
	{
		Hy[i] = 0.0;
		for (j = 0; j < n; j++)
			Hy[i] += H[i][j] * y[j];
		yHy += y[i] * Hy[i];
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			H[i][j] += ((sy + yHy) * s[i] * s[j]) / (sy * sy)
				- (Hy[i] * s[j] + s[i] * Hy[j]) / sy;
}

/* The options with every unset limit at its default. */
static hvc_opt_options
normalized_options(const hvc_opt_options *opt)
{
	hvc_opt_options o;

	if (opt)
		o = *opt;
	else
		hvc_opt_default_options(&o);
	if (o.max_iter <= 0)
		o.max_iter = 200;
	if (o.max_fev <= 0)
		o.max_fev = 2000;
	if (!(o.gtol > 0.0))
		o.gtol = 1e-9;
	if (!(o.max_step > 0.0))
		o.max_step = 4.0;
	return o;
}

/*
 * The box of o and the start point theta clamped into it; 0 (with a
 * message) when the arguments, the bounds or the start point are invalid.
 */
static int
start_in_box(const hvc_opt_options *o, int n, const double *theta, box *b,
			 double *x, hvc_opt_report *r)
{
	int			i;

	if (theta == NULL || n < 1 || n > HVC_OPT_MAXDIM)
	{
		snprintf(r->message, sizeof(r->message), "invalid arguments");
		return 0;
	}
	b->n = n;
	for (i = 0; i < n; i++)
	{
		b->lo[i] = o->lower ? o->lower[i] : -INFINITY;
		b->hi[i] = o->upper ? o->upper[i] : INFINITY;
		if (isnan(b->lo[i]) || isnan(b->hi[i]) || b->lo[i] > b->hi[i] ||
			!isfinite(theta[i]))
		{
			snprintf(r->message, sizeof(r->message), "invalid bounds or start point");
			return 0;
		}
		x[i] = clampd(theta[i], b->lo[i], b->hi[i]);
	}
	return 1;
}

/*
 * Why the iteration stops before its next step (a status, with its message
 * in r), or -1 to go on.
 */
static int
stop_reason(const hvc_opt_options *o, double f, double gnorm, int iter,
			int nfev, hvc_opt_report *r)
{
	if (o->interrupted != NULL && o->interrupted())
	{
		snprintf(r->message, sizeof(r->message), "interrupted");
		return HVC_OPT_INTERRUPTED;
	}
	if (gnorm <= o->gtol * (fabs(f) > 1.0 ? fabs(f) : 1.0))
	{
		snprintf(r->message, sizeof(r->message),
				 "converged: gradient norm %.2g", gnorm);
		return HVC_OPT_CONVERGED;
	}
	if (iter >= o->max_iter)
	{
		snprintf(r->message, sizeof(r->message),
				 "iteration limit %d reached (gradient norm %.2g)",
				 o->max_iter, gnorm);
		return HVC_OPT_MAXITER;
	}
	if (nfev >= o->max_fev)
	{
		snprintf(r->message, sizeof(r->message),
				 "evaluation limit %d reached (gradient norm %.2g)",
				 o->max_fev, gnorm);
		return HVC_OPT_MAXFEV;
	}
	return -1;
}

/*
 * The search direction d on the free variables (-H g, or steepest descent
 * with a fresh H); returns its largest absolute component.
 */
static double
search_direction(int n, double H[HVC_OPT_MAXDIM][HVC_OPT_MAXDIM],
				 const double *g, const int *freev, int fresh, double *d)
{
	double		dmax = 0.0;
	int			i, j;

	for (i = 0; i < n; i++)
	{
		d[i] = 0.0;
		if (!freev[i])
			continue;
		if (fresh)
			d[i] = -g[i];
		else
			for (j = 0; j < n; j++)
				if (freev[j])
					d[i] -= H[i][j] * g[j];
	}
	for (i = 0; i < n; i++)
		if (fabs(d[i]) > dmax)
			dmax = fabs(d[i]);
	return dmax;
}

int
hvc_minimize(hvc_objective fn, void *ctx, int n, double *theta,
			 const hvc_opt_options *opt, hvc_opt_report *rep)
{
	hvc_opt_options o = normalized_options(opt);
	hvc_opt_report r;
	box			b;
	double		H[HVC_OPT_MAXDIM][HVC_OPT_MAXDIM];
	double		x[HVC_OPT_MAXDIM], g[HVC_OPT_MAXDIM], d[HVC_OPT_MAXDIM];
	double		f, gnorm = INFINITY;
	int			freev[HVC_OPT_MAXDIM], pfree[HVC_OPT_MAXDIM];
	int			i, iter = 0, fresh = 1, nfev = 0, status;

	memset(&r, 0, sizeof(r));
	r.f = NAN;
	r.gnorm = NAN;

	if (fn == NULL || !start_in_box(&o, n, theta, &b, x, &r))
	{
		status = HVC_OPT_BADARG;
		if (fn == NULL)
			snprintf(r.message, sizeof(r.message), "invalid arguments");
		goto done;
	}

	f = fn(x, g, ctx);
	nfev = 1;
	if (!isfinite(f) || !all_finite(g, n))
	{
		status = HVC_OPT_NONFINITE;
		snprintf(r.message, sizeof(r.message), "objective not finite at start point");
		goto done;
	}

	for (;;)
	{
		trial		tr;
		double		dmax, t0, tmax;

		gnorm = proj_grad(&b, x, g, NULL, 0.0);
		proj_grad(&b, x, g, freev, BOUND_EPS);
		/*
		 * The BFGS matrix approximates the inverse Hessian of the free
		 * variables only: when a variable is caught by (or released from) a
		 * bound it starts afresh.  Its free block is not the inverse of the
		 * free variables' Hessian once a bound holds one of them: keeping it
		 * zig-zagged along the bound for hundreds of iterations.
		 */
		if (iter > 0 && memcmp(freev, pfree, sizeof(int) * n) != 0)
			fresh = 1;
		memcpy(pfree, freev, sizeof(int) * n);
		status = stop_reason(&o, f, gnorm, iter, nfev, &r);
		if (status >= 0)
			break;

		dmax = search_direction(n, H, g, freev, fresh, d);
		tmax = o.max_step / dmax;
		t0 = tmax < 1.0 ? tmax : 1.0;
		if (fresh && t0 > 1.0 / dmax)
			t0 = 1.0 / dmax;	/* first step: at most 1 in any coordinate */

		if (!line_search(fn, ctx, &b, x, f, g, d, freev, t0, tmax, &nfev,
						 o.max_fev, o.interrupted, &tr))
		{
			if (o.interrupted != NULL && o.interrupted())
			{
				status = HVC_OPT_INTERRUPTED;
				snprintf(r.message, sizeof(r.message), "interrupted");
				break;
			}
			if (!fresh)
			{
				fresh = 1;		/* retry once along steepest descent */
				continue;
			}
			status = HVC_OPT_LINESEARCH;
			snprintf(r.message, sizeof(r.message),
					 "line search failed (gradient norm %.2g)", gnorm);
			break;
		}

		bfgs_update(n, H, x, g, &tr, freev, &fresh);
		for (i = 0; i < n; i++)
		{
			x[i] = tr.x[i];
			g[i] = tr.g[i];
		}
		f = tr.f;
		iter++;
	}

	for (i = 0; i < n; i++)
	{
		theta[i] = x[i];
		if (x[i] <= b.lo[i] || x[i] >= b.hi[i])
			r.n_at_bound++;
	}
	r.f = f;
	r.gnorm = gnorm;

done:
	r.status = status;
	r.converged = (status == HVC_OPT_CONVERGED);
	r.iterations = iter;
	r.nfev = nfev;
	if (rep)
		*rep = r;
	return status;
}

int
hvc_fit_minimize(hvc_objective fn, void *ctx, int n, double *theta,
				 const double *lo, const double *hi,
				 const hvc_fit_options *fo, hvc_opt_report *rep)
{
	hvc_opt_options oo;
	hvc_opt_report r;
	int			attempt, st = HVC_OPT_BADARG, iters = 0, nfev = 0;
	int			max_iter, max_fev;

	hvc_opt_default_options(&oo);
	max_iter = (fo && fo->max_iter > 0) ? fo->max_iter : 200;
	max_fev = 3 * max_iter;		/* total budget over all attempts */
	if (fo && fo->gtol > 0.0)
		oo.gtol = fo->gtol;
	oo.lower = lo;
	oo.upper = hi;
	oo.interrupted = fo ? fo->interrupted : NULL;
	memset(&r, 0, sizeof(r));
	for (attempt = 0; attempt < 3; attempt++)
	{
		oo.max_iter = max_iter - iters;
		oo.max_fev = max_fev - nfev;
		if (oo.max_iter <= 0 || oo.max_fev <= 0)
			break;
		st = hvc_minimize(fn, ctx, n, theta, &oo, &r);
		iters += r.iterations;
		nfev += r.nfev;
		if (st == HVC_OPT_CONVERGED || st == HVC_OPT_NONFINITE ||
			st == HVC_OPT_BADARG || st == HVC_OPT_INTERRUPTED)
			break;
	}
	r.iterations = iters;
	r.nfev = nfev;
	/* one verdict, whatever stopped the optimiser */
	r.converged = hvc_fit_converged(&r);
	if (r.converged)
		snprintf(r.message, sizeof(r.message), "converged: gradient norm %.2g",
				 r.gnorm);
	else if (st == HVC_OPT_MAXITER || st == HVC_OPT_MAXFEV)
		snprintf(r.message, sizeof(r.message),
				 "%s limit %d reached (gradient norm %.2g)",
				 st == HVC_OPT_MAXITER ? "iteration" : "evaluation",
				 st == HVC_OPT_MAXITER ? max_iter : max_fev, r.gnorm);
	if (r.n_at_bound > 0)
	{
		size_t		len = strlen(r.message);

		snprintf(r.message + len, sizeof(r.message) - len,
				 "; %d parameter(s) at bound", r.n_at_bound);
	}
	if (rep)
		*rep = r;
	return st;
}

int
hvc_fit_converged(const hvc_opt_report *rep)
{
	if (rep->status == HVC_OPT_NONFINITE || rep->status == HVC_OPT_BADARG ||
		rep->status == HVC_OPT_INTERRUPTED)
		return 0;
	return isfinite(rep->f) && isfinite(rep->gnorm) &&
		rep->gnorm <= HVC_FIT_CONV_RTOL * (fabs(rep->f) > 1.0 ? fabs(rep->f) : 1.0);
}
