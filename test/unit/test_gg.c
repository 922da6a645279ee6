/*
 * test_gg.c — Gamma-Gamma.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

static double
ll_prep_fn(const double *th, double *grad, void *ctx)
{
	gg_params g;

	g.p = exp(th[0]);
	g.q = exp(th[1]);
	g.v = exp(th[2]);
	return gg_loglik_prep((const gg_prep *) ctx, &g, grad);
}

static void
gradient_checks(const gg_row *rows, size_t n, const char *what)
{
	static const double pts[4][3] = {
		{6.25, 3.74, 15.44}, {1.0, 1.0, 1.0}, {0.5, 8.0, 100.0}, {20.0, 0.7, 3.0}
	};
	gg_prep		d;

	if (gg_prep_init(&d, rows, n) != HVC_OK)
	{
		CHECK(0, "gg_prep_init for gradient check");
		return;
	}
	check_gradients_at("Gamma-Gamma", what, ll_prep_fn, &d, 3, &pts[0][0], 4);
	gg_prep_free(&d);
}

static void
cdnow_tests(void)
{
	static const double em[10] = {24.65, 18.91, 35.17, 35.17, 35.17,
	71.46, 18.91, 35.17, 27.28, 35.17};
	btyd_row   *rows;
	double	   *z, ll, t0, t1;
	size_t		n, i, k = 0;
	gg_row	   *g;
	gg_params	p, h = {6.25, 3.74, 15.44};
	hvc_opt_report rep;
	gg_prep		d;
	int			rc;

	if (load_cdnow_with_tx(&rows, &z, &n) != 0)
		return;
	g = (gg_row *) malloc(n * sizeof(gg_row));
	if (!g)
	{
		free(rows);
		free(z);
		return;
	}
	for (i = 0; i < n; i++)
	{
		g[i].x = rows[i].x;
		g[i].m = z[i];
		g[i].w = 1.0;
		if (rows[i].x > 0 && z[i] > 0)
			k++;
	}
	CHECK(n == 2357 && k == 946, "CDNOW: %zu customers, %zu with x > 0", n, k);

	t0 = now_sec();
	rc = gg_fit(g, n, NULL, &p, &ll, &rep);
	t1 = now_sec();
	note("Gamma-Gamma fit on CDNOW: %.3f ms, %d iterations, %d evaluations, \"%s\"",
		 1e3 * (t1 - t0), rep.iterations, rep.nfev, rep.message);
	note("Gamma-Gamma MLE: p %.10g q %.10g v %.10g LL %.6f", p.p, p.q, p.v, ll);
	CHECK(rc == HVC_OK && rep.converged, "Gamma-Gamma fit converged (rc %d)", rc);
	CHECK_SF("Gamma-Gamma p", p.p, 6.249, 4);
	CHECK_SF("Gamma-Gamma q", p.q, 3.745, 4);
	CHECK_SF("Gamma-Gamma v", p.v, 15.45, 4);
	CHECK_CLOSE("Gamma-Gamma LL at (6.25, 3.74, 15.44)", gg_loglik(&h, g, n), -4055.92, 0.01, 0);

	for (i = 0; i < 10; i++)
	{
		char		name[64];

		snprintf(name, sizeof(name), "E[M] customer %zu", i + 1);
		CHECK_CLOSE(name, gg_expected_value(&h, rows[i].x, z[i]), em[i], 0.1, 0);
	}
	if (gg_prep_init(&d, g, n) == HVC_OK)
	{
		CHECK(d.skipped == n - 946 && d.wsum == 946.0,
			  "gg_prep: %zu rows skipped, %.0f used, %zu distinct", d.skipped, d.wsum, d.n);
		CHECK_CLOSE("Gamma-Gamma LL prepared (compressed) vs raw",
					gg_loglik_prep(&d, &p, NULL), gg_loglik(&p, g, n), 0, 1e-12);
		gg_prep_free(&d);
	}
	gradient_checks(g, n, "CDNOW");
	free(g);
	free(rows);
	free(z);
}

void
test_gg(void)
{
	gg_params	h = {6.25, 3.74, 15.44}, lowq = {2.0, 0.8, 10.0}, o;
	gg_row		none[3] = {{0, 0, 1}, {0, 0, 2}, {0, 5, 1}};
	gg_row		one[1] = {{2, 10.0, 1}};
	gg_row		small[5] = {{1, 10, 1}, {2, 12, 1}, {3, 30, 2}, {1, 8, 1}, {5, 22, 1}};
	double		mean, ll;
	hvc_opt_report rep;
	hvc_fit_options fo;
	int			rc;

	printf("-- Gamma-Gamma\n");
	rc = gg_population_mean(&h, &mean);
	CHECK(rc == HVC_OK && fabs(mean - 35.22) < 0.01 &&
		  fabs(gg_expected_value(&h, 0, 0) - mean) < 1e-12,
		  "population mean %.4f = E[M | x = 0]", mean);
	rc = gg_population_mean(&lowq, &mean);
	CHECK(rc == HVC_EINVAL && isnan(mean) &&
		  isnan(gg_expected_value(&lowq, 0, 0)),
		  "q <= 1: population mean reported invalid");
	CHECK(isnan(gg_loglik_row(&h, 0, 10)) && gg_loglik(&h, none, 3) == 0.0,
		  "rows with x = 0 or m = 0 carry no spend information");
	gradient_checks(small, 5, "synthetic");

	rc = gg_fit(none, 3, NULL, &o, &ll, &rep);
	CHECK(rc == HVC_ENODATA && !rep.converged && isnan(o.p) && isnan(ll),
		  "no repeat customers: rc %d, \"%s\"", rc, rep.message);
	rc = gg_fit(one, 1, NULL, &o, &ll, &rep);
	CHECK((rc == HVC_OK || rc == HVC_FIT_NOCONV) && gg_params_valid(&o) && isfinite(ll),
		  "1 customer: rc %d, finite (%.3g, %.3g, %.3g), \"%s\"",
		  rc, o.p, o.q, o.v, rep.message);
	hvc_fit_default_options(&fo);
	fo.q_constraint = 1;
	rc = gg_fit(one, 1, &fo, &o, &ll, &rep);
	CHECK((rc == HVC_OK || rc == HVC_FIT_NOCONV) && gg_params_valid(&o) && o.q >= 1.0,
		  "q_constraint keeps q >= 1 (q = %.4g), rc %d", o.q, rc);
	cdnow_tests();
}
