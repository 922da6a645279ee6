/*
 * test_bgnbd.c — BG/NBD.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static double
ll_prep_fn(const double *th, double *grad, void *ctx)
{
	bgnbd_params p;

	p.r = exp(th[0]);
	p.alpha = exp(th[1]);
	p.a = exp(th[2]);
	p.b = exp(th[3]);
	return bgnbd_loglik_prep((const btyd_prep *) ctx, &p, grad);
}

static void
gradient_checks(const btyd_row *rows, size_t n, const char *what)
{
	static const double pts[4][4] = {
		{0.25, 4.0, 0.8, 2.5}, {1.0, 1.0, 1.0, 1.0},
		{0.5, 20.0, 2.0, 0.5}, {3.0, 0.5, 0.3, 10.0}
	};

	check_btyd_gradients("BG/NBD", what, ll_prep_fn, rows, n, pts, 4);
}

static void
cdnow_tests(void)
{
	btyd_row   *rows, *cp;
	size_t		n, m;
	bgnbd_params p;
	double		ll, t0, t1, llraw, llcomp, llprep;
	hvc_opt_report rep;
	int			rc;
	btyd_prep	d;

	if (load_cdnow_summary(&rows, &n) != 0)
		return;
	CHECK(n == 2357, "CDNOW summary: %zu customers", n);

	t0 = now_sec();
	rc = bgnbd_fit(rows, n, NULL, &p, &ll, &rep);
	t1 = now_sec();
	note("BG/NBD fit on CDNOW: %.3f ms, %d iterations, %d evaluations, \"%s\"",
		 1e3 * (t1 - t0), rep.iterations, rep.nfev, rep.message);
	CHECK(rc == HVC_OK && rep.converged, "BG/NBD fit converged (rc %d)", rc);
	CHECK_SF("BG/NBD r", p.r, 0.2426, 4);
	CHECK_SF("BG/NBD alpha", p.alpha, 4.4135, 5);
	CHECK_SF("BG/NBD a", p.a, 0.7929, 4);
	CHECK_SF("BG/NBD b", p.b, 2.4258, 5);
	CHECK_CLOSE("BG/NBD LL", ll, -9582.43, 0.01, 0);

	/* dedup: compressed data give the same LL as the raw rows */
	llraw = bgnbd_loglik(&p, rows, n);
	cp = (btyd_row *) malloc(n * sizeof(btyd_row));
	if (cp)
	{
		memcpy(cp, rows, n * sizeof(btyd_row));
		m = btyd_compress(cp, n);
		llcomp = bgnbd_loglik(&p, cp, m);
		note("CDNOW: %zu rows compress to %zu distinct (x, t_x, T)", n, m);
		CHECK_CLOSE("BG/NBD LL compressed rows vs raw", llcomp, llraw, 0, 1e-12);
		free(cp);
	}
	if (btyd_prep_init(&d, rows, n, NULL) == HVC_OK)
	{
		double		g[4];

		llprep = bgnbd_loglik_prep(&d, &p, g);
		CHECK_CLOSE("BG/NBD LL prepared (compressed) vs raw", llprep, llraw, 0, 1e-12);
		CHECK(fabs(g[0]) + fabs(g[1]) + fabs(g[2]) + fabs(g[3]) < 1e-3,
			  "BG/NBD gradient at the MLE ~ 0 (%.2g %.2g %.2g %.2g)",
			  g[0], g[1], g[2], g[3]);
		btyd_prep_free(&d);
	}
	gradient_checks(rows, n, "CDNOW");
	free(rows);
}

void
test_bgnbd(void)
{
	bgnbd_params p = {0.25, 4.0, 0.8, 2.5};
	bgnbd_params q = {0.243, 4.414, 0.793, 2.426};
	bgnbd_params w = {0.2425982, 4.413684, 0.7929899, 2.426167};
	bgnbd_params o;
	double		ll;
	hvc_opt_report rep;
	int			rc;

	printf("-- BG/NBD\n");
	CHECK_CLOSE("l(x=0, t_x=0, T=40)", bgnbd_loglik_row(&p, 0, 0, 40), -0.59947382, 1e-8, 0);
	CHECK_CLOSE("l(x=200, t_x=38, T=40)", bgnbd_loglik_row(&p, 200, 38, 40), 100.7957, 1e-4, 0);

	CHECK_SF("P(alive | 2, 30.43, 38.86)", bgnbd_p_alive(&q, 2, 30.43, 38.86), 0.7266, 4);
	CHECK_SF("E[Y(39) | 2, 30.43, 38.86]",
			 bgnbd_expected_purchases(&q, 39, 2, 30.43, 38.86), 1.226, 4);
	{
		double		pa = bgnbd_p_alive(&q, 20000, 38, 39);
		double		ey = bgnbd_expected_purchases(&q, 39, 20000, 38, 39);
		double		ey2 = bgnbd_expected_purchases(&q, 39, 20000, 39, 39);
		double		l = bgnbd_loglik_row(&q, 20000, 38, 39);
		double		med = hvc_next_order_median(q.r, q.alpha, 20000, 39);

		CHECK(isfinite(pa) && isfinite(ey) && isfinite(ey2) && isfinite(l) &&
			  isfinite(med) && ey >= 0 && ey2 > 0,
			  "x = 20000: P(alive) %.4g, E[Y(39)] %.4g (t_x = T: %.6g), l %.6g, median wait %.4g",
			  pa, ey, ey2, l, med);
	}
	/* BTYD walkthrough (t_x = 30.857 is 216/7 weeks) */
	CHECK_CLOSE("walkthrough E[Y(52) | 26, 30.857, 31]",
				bgnbd_expected_purchases(&w, 52, 26, 216.0 / 7.0, 31), 25.75659, 0, 1e-5);
	CHECK_CLOSE("walkthrough P(alive | 26, 30.857, 31)",
				bgnbd_p_alive(&w, 26, 216.0 / 7.0, 31), 0.9688523, 0, 1e-6);
	CHECK_CLOSE("walkthrough E[X(52)]", bgnbd_expected_purchases_new(&w, 52), 1.444004, 0, 1e-6);
	CHECK(bgnbd_p_alive(&q, 0, 0, 10) == 1.0 && bgnbd_expected_purchases(&q, 0, 3, 2, 10) == 0.0,
		  "P(alive | x = 0) = 1, E[Y(0)] = 0");
	{
		/* removable singularity at a = 1 */
		bgnbd_params a1 = q, a2 = q;
		double		e1, e2;

		a1.a = 1.0;
		a2.a = 1.0 + 1e-4;
		e1 = bgnbd_expected_purchases(&a1, 39, 2, 30.43, 38.86);
		e2 = bgnbd_expected_purchases(&a2, 39, 2, 30.43, 38.86);
		CHECK(isfinite(e1) && fabs(e1 - e2) < 1e-4 &&
			  isfinite(bgnbd_expected_purchases_new(&a1, 39)),
			  "a = 1 handled: E[Y] %.8g (a = 1.0001: %.8g)", e1, e2);
	}
	CHECK(isnan(bgnbd_p_alive(&q, 2, 40, 38)) && isnan(bgnbd_loglik_row(&q, -1, 0, 3)),
		  "invalid data give NaN");

	gradient_checks(test_rows_small, test_rows_small_n, "synthetic");

	/* failure / degenerate cases */
	rc = bgnbd_fit(test_rows_small, 0, NULL, &o, &ll, &rep);
	CHECK(rc == HVC_ENODATA && isnan(o.r) && isnan(ll), "BG/NBD fit without rows: rc %d, \"%s\"",
		  rc, rep.message);
	{
		btyd_row	bad[2] = {{1, 5, 3, 1}, {0, 0, 3, 1}};

		rc = bgnbd_fit(bad, 2, NULL, &o, &ll, &rep);
		CHECK(rc == HVC_EINVAL && isnan(o.r), "BG/NBD fit with t_x > T: rc %d, \"%s\"",
			  rc, rep.message);
	}
	{
		btyd_row	one[1] = {{2, 5, 10, 1}};

		rc = bgnbd_fit(one, 1, NULL, &o, &ll, &rep);
		CHECK((rc == HVC_OK || rc == HVC_FIT_NOCONV) && bgnbd_params_valid(&o) && isfinite(ll),
			  "BG/NBD fit on 1 customer: rc %d, finite (%.3g, %.3g, %.3g, %.3g), \"%s\"",
			  rc, o.r, o.alpha, o.a, o.b, rep.message);
	}
	cdnow_tests();
}
