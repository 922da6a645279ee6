/*
 * test_pnbd_fit.c — the cost of a Pareto/NBD fit: the 2F1(1,b;c;z) continued
 * fraction near z = 1, the bounded BFGS at an active bound, and the number of
 * likelihood evaluations of a fit whose optimum has beta >> alpha
 * (deterministic counts; no timing assertion).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* 2F1(1,b;c;z) and its partials by the power series in long double */
static void
ref_1bc(double b, double c, double z, long double out[4])
{
	long double G = 1, Gb = 0, Gc = 0, Gz = 0, term = 1, hb = 0, hc = 0;
	long		k;

	for (k = 1; k < 50000000; k++)
	{
		long double bk = b + k - 1, ck = c + k - 1, q = bk / ck;

		Gz += k * term * q;
		term *= q * z;
		hb += 1 / bk;
		hc += 1 / ck;
		G += term;
		Gb += term * hb;
		Gc -= term * hc;
		if (k > 100 && term * (k + 1) < 1e-21L * G * (1 - z))
			break;
	}
	out[0] = G;
	out[1] = Gb;
	out[2] = Gc;
	out[3] = Gz;
}

static void
cf_checks(void)
{
	/* (b, c, z): both Pareto/NBD branches, z up to beta/alpha = 10^4 */
	static const double pts[][3] = {
		{0.7, 1.9, 0.6}, {0.7, 1.9, 0.99}, {5.6, 6.5, 0.999}, {1.3, 13.5, 0.9999},
		{0.3, 1.25, 0.9999}, {200.5, 201.2, 0.99}, {1.0, 200.0, 0.999}, {6.1, 9.2, 0.95}
	};
	size_t		i;

	for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
	{
		double		got[4], err = 0.0, errz;
		long double want[4];
		int			k, rc;

		rc = hvc_hyp2f1_1bc(pts[i][0], pts[i][1], pts[i][2], 0, got);
		ref_1bc(pts[i][0], pts[i][1], pts[i][2], want);
		for (k = 0; k < 3; k++)
		{
			double		e = (double) fabsl((got[k] - want[k]) /
										   (fabsl(want[k]) + (k > 0 ? fabsl(want[0]) : 0)));

			if (e > err)
				err = e;
		}
		/* dG/dz comes from G by a formula that cancels O(1/(1-z)) */
		errz = (double) fabsl((got[3] - want[3]) / (fabsl(want[3]) + fabsl(want[0])));
		CHECK(rc == 0 && err < 1e-11 && errz < 1e-9,
			  "2F1(1,%g;%g;%g) and partials = long-double series (rc %d, max rel. error %.2g, of dG/dz %.2g)",
			  pts[i][0], pts[i][1], pts[i][2], rc, err, errz);
	}
}

static double
bounded_quad(const double *x, double *g, void *ctx)
{
	/* strongly coupled convex quadratic whose minimum lies beyond x1 <= 0 */
	static const double A[3][3] = {{1.0, 0.95, 0.3}, {0.95, 1.0, 0.5}, {0.3, 0.5, 1.0}};
	static const double b[3] = {-1.0, 3.0, 0.5};
	double		f = 0.0;
	int			i, j;

	(void) ctx;
	for (i = 0; i < 3; i++)
	{
		double		Ax = 0.0;

		for (j = 0; j < 3; j++)
			Ax += A[i][j] * x[j];
		f += 0.5 * x[i] * Ax - b[i] * x[i];
		if (g)
			g[i] = Ax - b[i];
	}
	return f;
}

static void
bound_checks(void)
{
	const double lo[3] = {-10.0, -10.0, -10.0}, hi[3] = {10.0, 0.0, 10.0};
	hvc_opt_options o;
	hvc_opt_report rep;
	double		x[3] = {0.0, -5.0, 0.0};
	int			st;

	hvc_opt_default_options(&o);
	o.lower = lo;
	o.upper = hi;
	o.gtol = 1e-12;
	st = hvc_minimize(bounded_quad, NULL, 3, x, &o, &rep);
	/*
	 * x1 = 0 at the bound; then (x0, x2) minimise the quadratic in the other
	 * two: [1 .3; .3 1] (x0, x2) = (-1, .5) -> x0 = -1.15/0.91, x2 = 0.8/0.91
	 */
	note("bounded quadratic: %d iterations, %d evaluations, \"%s\"",
		 rep.iterations, rep.nfev, rep.message);
	CHECK(st == HVC_OPT_CONVERGED, "bounded quadratic converged (%d)", st);
	CHECK_CLOSE("bounded quadratic x0", x[0], -1.15 / 0.91, 1e-9, 0);
	CHECK_CLOSE("bounded quadratic x1 at its bound", x[1], 0.0, 0, 0);
	CHECK_CLOSE("bounded quadratic x2", x[2], 0.8 / 0.91, 1e-9, 0);
	/* BFGS on the free variables only once the bound holds x1 */
	CHECK(rep.iterations <= 20, "bounded quadratic in <= 20 iterations (%d)", rep.iterations);
}

/*
 * Uniform synthetic customers (the bug report's shape): x uniform 0..10,
 * age 10..99 and recency uniform in [0, age], recorded to whole days.  Its
 * optimum has beta/alpha ~ 190 on the rescaled times (s ~ 7): the series
 * needed thousands of terms per customer there and the fit, stopped by a
 * box at beta/alpha = 100, zig-zagged along it (311 evaluations, LL
 * -41391.07 at the box, against -41388.57 at the optimum).
 */
static void
uniform_fit_checks(void)
{
	const size_t n = 3000;
	btyd_row   *rows = (btyd_row *) malloc(n * sizeof(btyd_row));
	test_rng	g;
	pnbd_params p;
	hvc_opt_report rep;
	double		ll, t0, t1;
	int			rc;
	size_t		i;

	if (rows == NULL)
	{
		CHECK(0, "allocation");
		return;
	}
	g.s = 20261202;
	for (i = 0; i < n; i++)
	{
		double		T = 10.0 + floor(90.0 * rng_unif(&g));
		double		x = floor(11.0 * rng_unif(&g));

		rows[i].x = x;
		rows[i].t_x = x > 0 ? floor(T * rng_unif(&g)) : 0.0;
		rows[i].T = T;
		rows[i].w = 1.0;
	}
	t0 = now_sec();
	rc = pnbd_fit(rows, n, NULL, &p, &ll, &rep);
	t1 = now_sec();
	note("Pareto/NBD on %zu uniform customers: %.1f ms, %d iterations, %d evaluations, \"%s\", edge \"%s\": r %.6g alpha %.6g s %.6g beta %.6g LL %.6f",
		 n, 1e3 * (t1 - t0), rep.iterations, rep.nfev, rep.message, rep.edge,
		 p.r, p.alpha, p.s, p.beta, ll);
	CHECK(rc == HVC_OK && rep.converged, "uniform Pareto/NBD fit converged (rc %d)", rc);
	CHECK(rep.nfev <= 60, "uniform Pareto/NBD fit in <= 60 evaluations (%d)", rep.nfev);
	/* the fit stopped at the old box reached LL -41391.0656 */
	CHECK(ll > -41389.0, "uniform Pareto/NBD: LL %.4f above the old box's -41391.07", ll);
	CHECK(rep.edge[0] == '\0', "uniform Pareto/NBD: interior optimum (edge \"%s\")", rep.edge);
	CHECK(p.beta / p.alpha > 110.0, "uniform Pareto/NBD: beta/alpha beyond the old box at 100 (%g)",
		  p.beta / p.alpha);
	free(rows);
}

void
test_pnbd_fit(void)
{
	printf("-- Pareto/NBD fit cost\n");
	cf_checks();
	bound_checks();
	uniform_fit_checks();
}
