/*
 * test_mbgnbd.c — MBG/NBD.  Reference predictions are the lifetimes
 * (ModifiedBetaGeoFitter) formulas of clv-models.md §2 evaluated with mpmath
 * at 30 digits; the fit is checked against §8 (lifetimes' test, from BTYDplus).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static double
ll_prep_fn(const double *th, double *grad, void *ctx)
{
	mbgnbd_params p;

	p.r = exp(th[0]);
	p.alpha = exp(th[1]);
	p.a = exp(th[2]);
	p.b = exp(th[3]);
	return mbgnbd_loglik_prep((const btyd_prep *) ctx, &p, grad);
}

static void
gradient_checks(const btyd_row *rows, size_t n, const char *what)
{
	static const double pts[4][4] = {
		{0.25, 4.0, 0.8, 2.5}, {1.0, 1.0, 1.0, 1.0},
		{0.5, 20.0, 2.0, 0.5}, {3.0, 0.5, 0.3, 10.0}
	};

	check_btyd_gradients("MBG/NBD", what, ll_prep_fn, rows, n, pts, 4);
}

static void
cdnow_tests(void)
{
	btyd_row   *rows;
	size_t		n;
	mbgnbd_params p;
	mbgnbd_params ref = {0.525, 6.183, 0.891, 1.614};
	double		ll, t0, t1;
	hvc_opt_report rep;
	int			rc;
	btyd_prep	d;

	if (load_cdnow_summary(&rows, &n) != 0)
		return;
	t0 = now_sec();
	rc = mbgnbd_fit(rows, n, NULL, &p, &ll, &rep);
	t1 = now_sec();
	note("MBG/NBD fit on CDNOW: %.3f ms, %d iterations, \"%s\": r %.6f alpha %.6f a %.6f b %.6f LL %.4f",
		 1e3 * (t1 - t0), rep.iterations, rep.message, p.r, p.alpha, p.a, p.b, ll);
	CHECK(rc == HVC_OK && rep.converged, "MBG/NBD fit converged (rc %d)", rc);
	CHECK(rep.edge[0] == '\0', "MBG/NBD on CDNOW: interior optimum (edge \"%s\")", rep.edge);
	/*
	 * standard errors (inverse Hessian): central differences of the plain
	 * log-likelihood in Python (steps 1e-3 and 1e-4 relative agree to 2e-4)
	 * give 0.08327, 0.6956, 0.1548, 0.5375
	 */
	CHECK_CLOSE("MBG/NBD SE r", rep.se[0], 0.08327, 0, 3e-3);
	CHECK_CLOSE("MBG/NBD SE alpha", rep.se[1], 0.6956, 0, 3e-3);
	CHECK_CLOSE("MBG/NBD SE a", rep.se[2], 0.1548, 0, 3e-3);
	CHECK_CLOSE("MBG/NBD SE b", rep.se[3], 0.5375, 0, 3e-3);
	/* §8 to 3 decimals, i.e. within 0.001 relative */
	CHECK_CLOSE("MBG/NBD r", p.r, ref.r, 0, 1e-3);
	CHECK_CLOSE("MBG/NBD alpha", p.alpha, ref.alpha, 0, 1e-3);
	CHECK_CLOSE("MBG/NBD a", p.a, ref.a, 0, 1e-3);
	CHECK_CLOSE("MBG/NBD b", p.b, ref.b, 0, 1e-3);
	/* LL at the rounded reference point (mpmath): -9582.13280; the MLE is at least that */
	CHECK_CLOSE("MBG/NBD LL at the reference point", mbgnbd_loglik(&ref, rows, n),
				-9582.1327953, 1e-6, 0);
	CHECK(ll >= -9582.1327953 && ll < -9582.0, "MBG/NBD LL at the MLE %.5f >= LL at the reference", ll);
	CHECK_CLOSE("MBG/NBD LL returned by the fit = plain sum", ll, mbgnbd_loglik(&p, rows, n), 0, 1e-12);
	if (btyd_prep_init(&d, rows, n, NULL) == HVC_OK)
	{
		double		g[4], llprep;

		llprep = mbgnbd_loglik_prep(&d, &p, g);
		CHECK_CLOSE("MBG/NBD LL prepared (compressed) vs raw", llprep, ll, 0, 1e-12);
		CHECK(fabs(g[0]) + fabs(g[1]) + fabs(g[2]) + fabs(g[3]) < 1e-3,
			  "MBG/NBD gradient at the MLE ~ 0 (%.2g %.2g %.2g %.2g)",
			  g[0], g[1], g[2], g[3]);
		btyd_prep_free(&d);
	}
	gradient_checks(rows, n, "CDNOW");
	free(rows);
}

/*
 * Nobody leaves: purchase rate lambda ~ Gamma(r, alpha) per week, first
 * purchase in the first 52 of 104 weeks, Poisson repeat purchases to the end.
 */
static void
edge_checks(void)
{
	const size_t n = 3000;
	btyd_row   *rows = (btyd_row *) malloc(n * sizeof(btyd_row));
	test_rng	g;
	mbgnbd_params p;
	hvc_opt_report rep;
	double		ll, nll = 0.0;
	size_t		i;
	int			rc;

	if (rows == NULL)
	{
		CHECK(0, "allocation");
		return;
	}
	g.s = 777;
	for (i = 0; i < n; i++)
	{
		double		lambda = rng_gamma(&g, 0.8, 6.0);
		double		T = 104.0 - floor(52.0 * rng_unif(&g)), tx;
		int			x = rng_purchases(&g, lambda, T, -1.0, &tx);

		rows[i].x = x;
		rows[i].t_x = tx;
		rows[i].T = T;
		rows[i].w = 1.0;
	}
	rc = mbgnbd_fit(rows, n, NULL, &p, &ll, &rep);
	note("MBG/NBD on %zu no-dropout customers: \"%s\", edge \"%s\": r %g alpha %g",
		 n, rep.message, rep.edge, p.r, p.alpha);
	CHECK(rc == HVC_OK && strcmp(rep.edge, "a->0") == 0 && p.a == 0.0 && isnan(p.b),
		  "MBG/NBD no-dropout fit: the edge a->0 (NBD), b not identified (rc %d, edge \"%s\", a %g, b %g)",
		  rc, rep.edge, p.a, p.b);
	CHECK(isfinite(rep.se[0]) && isfinite(rep.se[1]) && isnan(rep.se[2]) && isnan(rep.se[3]),
		  "MBG/NBD edge: SEs of r, alpha only (%g %g %g %g)",
		  rep.se[0], rep.se[1], rep.se[2], rep.se[3]);
	for (i = 0; i < n; i++)
		nll += hvc_nbd_loglik_row(p.r, p.alpha, rows[i].x, rows[i].T);
	CHECK_CLOSE("MBG/NBD edge LL = NBD LL", ll, nll, 1e-6, 0);
	CHECK_CLOSE("MBG/NBD edge LL = plain sum", mbgnbd_loglik(&p, rows, n), nll, 1e-6, 0);
	CHECK(mbgnbd_p_alive(&p, 0, 0, 90) == 1.0 && mbgnbd_p_alive(&p, 5, 20, 90) == 1.0,
		  "MBG/NBD edge: P(alive) = 1, one-time buyers included");
	CHECK_CLOSE("MBG/NBD edge E[Y(52)] = (r+x) t/(alpha+T)",
				mbgnbd_expected_purchases(&p, 52, 5, 20, 90), (p.r + 5) * 52 / (p.alpha + 90), 0, 1e-14);
	CHECK_CLOSE("MBG/NBD edge E[X(52)] = r t/alpha", mbgnbd_expected_purchases_new(&p, 52),
				p.r * 52 / p.alpha, 0, 1e-14);
	CHECK_CLOSE("MBG/NBD edge P0(39) = ((alpha+T)/(alpha+T+39))^(r+x)",
				mbgnbd_p_no_purchase(&p, 39, 5, 20, 90),
				pow((p.alpha + 90) / (p.alpha + 129), p.r + 5), 0, 1e-12);
	free(rows);
}

void
test_mbgnbd(void)
{
	mbgnbd_params q = {0.25, 4.0, 0.8, 2.5};
	mbgnbd_params m = {0.525, 6.183, 0.891, 1.614};
	mbgnbd_params s = {0.5, 3.0, 2.5, 4.0};
	mbgnbd_params bad_p = {0.5, 3.0, -1.0, 4.0};
	mbgnbd_params o;
	hvc_purchase_model hm;
	double		ll;
	hvc_opt_report rep;
	int			rc;

	printf("-- MBG/NBD\n");
	CHECK_CLOSE("l(x=0, t_x=0, T=40)", mbgnbd_loglik_row(&q, 0, 0, 40), -0.417928262045, 1e-10, 0);
	CHECK_CLOSE("l(x=200, t_x=38, T=40)", mbgnbd_loglik_row(&q, 200, 38, 40), 100.786909761, 1e-8, 0);
	CHECK_CLOSE("l(x=2, 30.43, 38.86)", mbgnbd_loglik_row(&m, 2, 30.43, 38.86), -9.48555131453, 1e-10, 0);

	/* predictions at the §8 parameters (mpmath) */
	CHECK_CLOSE("P(alive | 2, 30.43, 38.86)", mbgnbd_p_alive(&m, 2, 30.43, 38.86),
				0.706202265118, 0, 1e-10);
	CHECK_CLOSE("P(alive | 0, 0, 38.86) < 1", mbgnbd_p_alive(&m, 0, 0, 38.86),
				0.389735080919, 0, 1e-10);
	CHECK_CLOSE("P(alive | 26, 216/7, 31)", mbgnbd_p_alive(&m, 26, 216.0 / 7.0, 31),
				0.965498054768, 0, 1e-10);
	CHECK_CLOSE("E[Y(39) | 2, 30.43, 38.86]", mbgnbd_expected_purchases(&m, 39, 2, 30.43, 38.86),
				1.26296062327, 0, 1e-9);
	CHECK_CLOSE("E[Y(39) | 0, 0, 38.86]", mbgnbd_expected_purchases(&m, 39, 0, 0, 38.86),
				0.154012746675, 0, 1e-9);
	CHECK_CLOSE("E[Y(39) | 26, 216/7, 31]", mbgnbd_expected_purchases(&m, 39, 26, 216.0 / 7.0, 31),
				19.4493510345, 0, 1e-9);
	CHECK_CLOSE("E[Y(39) | 1, 1.71, 38.86]", mbgnbd_expected_purchases(&m, 39, 1, 1.71, 38.86),
				0.188836541364, 0, 1e-9);
	CHECK_CLOSE("E[X(52)]", mbgnbd_expected_purchases_new(&m, 52), 1.41972375771, 0, 1e-9);
	CHECK_CLOSE("E[X(39)]", mbgnbd_expected_purchases_new(&m, 39), 1.1829536656, 0, 1e-9);
	/* lifetimes' test_expectation_returns_same_value_Hardie_excel_sheet: E[X(78)] 1.8576 rtol 0.05 */
	CHECK_CLOSE("E[X(78)] ~ Hardie sheet (lifetimes, rtol 0.05)",
				mbgnbd_expected_purchases_new(&m, 78), 1.8576, 0, 0.05);
	CHECK_CLOSE("P0(39 | 2, 30.43, 38.86)", mbgnbd_p_no_purchase(&m, 39, 2, 30.43, 38.86),
				0.440005909178, 0, 1e-10);
	CHECK_CLOSE("P0(39 | 0, 0, 38.86)", mbgnbd_p_no_purchase(&m, 39, 0, 0, 38.86),
				0.891170601223, 0, 1e-10);
	CHECK_CLOSE("P0(39 | 26, 216/7, 31)", mbgnbd_p_no_purchase(&m, 39, 26, 216.0 / 7.0, 31),
				0.0345019505029, 0, 1e-9);
	CHECK(mbgnbd_p_no_purchase(&m, 0, 2, 30.43, 38.86) == 1.0 &&
		  mbgnbd_expected_purchases(&m, 0, 3, 2, 10) == 0.0,
		  "P0(0) = 1, E[Y(0)] = 0");
	/* a > 1 (no sign flip of 1/(a-1)) */
	CHECK_CLOSE("a > 1: P(alive | 3, 10, 20)", mbgnbd_p_alive(&s, 3, 10, 20), 0.27542147356, 0, 1e-10);
	CHECK_CLOSE("a > 1: E[Y(10) | 3, 10, 20]", mbgnbd_expected_purchases(&s, 10, 3, 10, 20),
				0.340413694889, 0, 1e-9);
	CHECK_CLOSE("a > 1: E[X(10)]", mbgnbd_expected_purchases_new(&s, 10), 0.602014774947, 0, 1e-9);
	{
		/* removable singularity at a = 1 */
		mbgnbd_params a1 = m, a2 = m;
		double		e1, e2;

		a1.a = 1.0;
		a2.a = 1.0 + 1e-4;
		e1 = mbgnbd_expected_purchases(&a1, 39, 2, 30.43, 38.86);
		e2 = mbgnbd_expected_purchases(&a2, 39, 2, 30.43, 38.86);
		CHECK(isfinite(e1) && fabs(e1 - e2) < 1e-4 &&
			  isfinite(mbgnbd_expected_purchases_new(&a1, 39)),
			  "a = 1 handled: E[Y] %.8g (a = 1.0001: %.8g)", e1, e2);
	}
	{
		double		pa = mbgnbd_p_alive(&m, 20000, 38, 39);
		double		ey = mbgnbd_expected_purchases(&m, 39, 20000, 39, 39);
		double		l = mbgnbd_loglik_row(&m, 20000, 38, 39);

		CHECK(isfinite(pa) && isfinite(ey) && isfinite(l) && ey > 0,
			  "x = 20000: P(alive) %.4g, E[Y(39)] %.6g, l %.6g", pa, ey, l);
	}
	CHECK(isnan(mbgnbd_p_alive(&m, 2, 40, 38)) && isnan(mbgnbd_loglik_row(&m, -1, 0, 3)) &&
		  isnan(mbgnbd_p_no_purchase(&m, -1, 2, 30, 38)) &&
		  isnan(mbgnbd_expected_purchases_new(&bad_p, 1)) &&
		  isnan(mbgnbd_p_alive(&bad_p, 2, 30, 38)),
		  "invalid data give NaN");

	/* the generic dispatch (clv.c) */
	hm.kind = HVC_MODEL_MBGNBD;
	hm.u.mbgnbd = m;
	CHECK(hvc_model_p_alive(&hm, 2, 30.43, 38.86) == mbgnbd_p_alive(&m, 2, 30.43, 38.86) &&
		  hvc_model_expected_purchases(&hm, 39, 2, 30.43, 38.86) ==
		  mbgnbd_expected_purchases(&m, 39, 2, 30.43, 38.86) &&
		  hvc_model_p_no_purchase(&hm, 39, 2, 30.43, 38.86) ==
		  mbgnbd_p_no_purchase(&m, 39, 2, 30.43, 38.86),
		  "model dispatch: MBG/NBD P(alive), E[Y], P0");
	CHECK_CLOSE("model dispatch: MBG/NBD median wait uses its r, alpha",
				hvc_model_next_order_median(&hm, 3, 20),
				(6.183 + 20) * (pow(2.0, 1.0 / 3.525) - 1.0), 0, 1e-13);
	CHECK_CLOSE("P0 = 1 - P(purchase within)", hvc_model_p_no_purchase(&hm, 10, 3, 10, 20),
				1.0 - hvc_model_prob_purchase_within(&hm, 10, 3, 10, 20), 1e-15, 0);

	gradient_checks(test_rows_small, test_rows_small_n, "synthetic");

	rc = mbgnbd_fit(test_rows_small, 0, NULL, &o, &ll, &rep);
	CHECK(rc == HVC_ENODATA && isnan(o.r) && isnan(ll), "MBG/NBD fit without rows: rc %d, \"%s\"",
		  rc, rep.message);
	{
		btyd_row	bad[2] = {{1, 5, 3, 1}, {0, 0, 3, 1}};

		rc = mbgnbd_fit(bad, 2, NULL, &o, &ll, &rep);
		CHECK(rc == HVC_EINVAL && isnan(o.r), "MBG/NBD fit with t_x > T: rc %d, \"%s\"",
			  rc, rep.message);
	}
	edge_checks();
	cdnow_tests();
}
