/*
 * test_data_opt.c — row compression, prepared data, optimiser.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static int
row_less(const btyd_row *a, const btyd_row *b)
{
	if (a->x != b->x)
		return a->x < b->x;
	if (a->t_x != b->t_x)
		return a->t_x < b->t_x;
	return a->T < b->T;
}

static void
test_compress(void)
{
	const size_t n = 20000;
	btyd_row   *r = (btyd_row *) malloc(n * sizeof(btyd_row));
	btyd_row   *orig = (btyd_row *) malloc(n * sizeof(btyd_row));
	gg_row	   *g = (gg_row *) malloc(n * sizeof(gg_row));
	test_rng	rng = {12345};
	double		wsum = 0.0, wsum2 = 0.0, gsum = 0.0, gsum2 = 0.0;
	size_t		i, m, mg, bad = 0, dup = 0;

	if (!r || !orig || !g)
	{
		CHECK(0, "allocation");
		free(r);
		free(orig);
		free(g);
		return;
	}
	for (i = 0; i < n; i++)
	{
		r[i].x = (double) (int) (rng_unif(&rng) * 4);
		r[i].t_x = (double) (int) (rng_unif(&rng) * 5);
		r[i].T = 5.0 + (double) (int) (rng_unif(&rng) * 7);
		r[i].w = 0.5 + (double) (int) (rng_unif(&rng) * 3);
		wsum += r[i].w;
		g[i].x = r[i].x;
		g[i].m = (double) (int) (rng_unif(&rng) * 50);
		g[i].w = r[i].w;
		gsum += g[i].w;
	}
	memcpy(orig, r, n * sizeof(btyd_row));
	m = btyd_compress(r, n);
	for (i = 0; i < m; i++)
		wsum2 += r[i].w;
	for (i = 1; i < m; i++)
		if (!row_less(&r[i - 1], &r[i]))
			bad++;
	CHECK(m < n && m == 4 * 5 * 7 && bad == 0,
		  "btyd_compress: %zu rows -> %zu distinct, strictly sorted", n, m);
	CHECK_CLOSE("btyd_compress keeps total weight", wsum2, wsum, 0, 1e-15);
	/* weight of one particular key equals the brute-force sum */
	{
		double		want = 0.0, got = 0.0;

		for (i = 0; i < n; i++)
			if (orig[i].x == 2 && orig[i].t_x == 3 && orig[i].T == 9)
				want += orig[i].w;
		for (i = 0; i < m; i++)
			if (r[i].x == 2 && r[i].t_x == 3 && r[i].T == 9)
			{
				got += r[i].w;
				dup++;
			}
		CHECK(dup == 1 && got == want, "merged weight of key (2,3,9): %g (want %g)", got, want);
	}
	mg = gg_compress(g, n);
	for (i = 0; i < mg; i++)
		gsum2 += g[i].w;
	bad = 0;
	for (i = 1; i < mg; i++)
		if (!(g[i - 1].x < g[i].x || (g[i - 1].x == g[i].x && g[i - 1].m < g[i].m)))
			bad++;
	CHECK(mg == 4 * 50 && bad == 0 && gsum2 == gsum,
		  "gg_compress: %zu rows -> %zu distinct, sorted, weight kept", n, mg);
	/* NaN rows are kept apart and sorted last */
	r[0].x = NAN;
	r[1].x = NAN;
	r[2].T = r[3].T;
	m = btyd_compress(r, 10);
	CHECK(m >= 2 && isnan(r[m - 1].x) && isnan(r[m - 2].x),
		  "NaN rows are sorted last and never merged");
	/* prepared data rejects invalid rows */
	{
		btyd_prep	d;
		btyd_row	rr[3] = {{1, 2, 3, 1}, {0, 0, 4, 1}, {2, 5, 3, 1}};
		size_t		badrow = 99;

		CHECK(btyd_prep_init(&d, rr, 3, &badrow) == HVC_EINVAL && badrow == 2,
			  "btyd_prep_init rejects t_x > T (row %zu)", badrow);
		CHECK(btyd_prep_init(&d, rr, 0, NULL) == HVC_ENODATA, "btyd_prep_init: no rows");
		CHECK(btyd_prep_init(&d, rr, 2, NULL) == HVC_OK && d.n == 2 &&
			  d.ngroups == 2 && d.nu == 4 && d.wsum == 2.0,
			  "btyd_prep_init: groups and distinct times");
		btyd_prep_free(&d);
	}
	free(r);
	free(orig);
	free(g);
}

/* Rosenbrock in 2-D */
static double
rosen(const double *x, double *g, void *ctx)
{
	double		a = 1.0 - x[0], b = x[1] - x[0] * x[0];

	(void) ctx;
	if (g)
	{
		g[0] = -2.0 * a - 400.0 * x[0] * b;
		g[1] = 200.0 * b;
	}
	return a * a + 100.0 * b * b;
}

static double
quad(const double *x, double *g, void *ctx)
{
	(void) ctx;
	if (g)
	{
		g[0] = 2.0 * (x[0] - 3.0);
		g[1] = 2.0 * (x[1] + 2.0);
		g[2] = 2.0 * (x[2] - 0.5);
	}
	return (x[0] - 3) * (x[0] - 3) + (x[1] + 2) * (x[1] + 2) + (x[2] - 0.5) * (x[2] - 0.5);
}

static double
bad_start(const double *x, double *g, void *ctx)
{
	(void) ctx;
	if (g)
		g[0] = 1.0;
	return x[0] < 10.0 ? NAN : x[0];
}

static void
test_optimizer(void)
{
	hvc_opt_options o;
	hvc_opt_report rep;
	double		x[3];
	double		lo[3] = {0, -1, -5}, hi[3] = {1, 1, 5};
	int			st;

	hvc_opt_default_options(&o);
	x[0] = -1.2;
	x[1] = 1.0;
	st = hvc_minimize(rosen, NULL, 2, x, &o, &rep);
	CHECK(st == HVC_OPT_CONVERGED && rep.converged && fabs(x[0] - 1) < 1e-8 &&
		  fabs(x[1] - 1) < 1e-8,
		  "Rosenbrock: (%.10f, %.10f) in %d iterations, %d evaluations; \"%s\"",
		  x[0], x[1], rep.iterations, rep.nfev, rep.message);

	o.lower = lo;
	o.upper = hi;
	x[0] = 0.5;
	x[1] = 0.0;
	x[2] = 4.0;
	st = hvc_minimize(quad, NULL, 3, x, &o, &rep);
	CHECK(st == HVC_OPT_CONVERGED && x[0] == 1.0 && x[1] == -1.0 &&
		  fabs(x[2] - 0.5) < 1e-9 && rep.n_at_bound == 2,
		  "bounded quadratic: (%g, %g, %.10f), %d at bound; \"%s\"",
		  x[0], x[1], x[2], rep.n_at_bound, rep.message);

	hvc_opt_default_options(&o);
	o.max_iter = 3;
	x[0] = -1.2;
	x[1] = 1.0;
	st = hvc_minimize(rosen, NULL, 2, x, &o, &rep);
	CHECK(st == HVC_OPT_MAXITER && !rep.converged && isfinite(rep.f) &&
		  strstr(rep.message, "iteration limit") != NULL,
		  "iteration limit reported: \"%s\"", rep.message);

	x[0] = 0.0;
	st = hvc_minimize(bad_start, NULL, 1, x, NULL, &rep);
	CHECK(st == HVC_OPT_NONFINITE && !rep.converged,
		  "non-finite start reported: \"%s\"", rep.message);
	st = hvc_minimize(rosen, NULL, 0, x, NULL, &rep);
	CHECK(st == HVC_OPT_BADARG, "bad dimension reported: \"%s\"", rep.message);
}

void
test_data_opt(void)
{
	printf("-- row compression and optimiser\n");
	test_compress();
	test_optimizer();
}
