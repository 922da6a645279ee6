/*
 * test_pnbd.c — Pareto/NBD.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static double
ll_prep_fn(const double *th, double *grad, void *ctx)
{
	pnbd_params p;

	p.r = exp(th[0]);
	p.alpha = exp(th[1]);
	p.s = exp(th[2]);
	p.beta = exp(th[3]);
	return pnbd_loglik_prep((const btyd_prep *) ctx, &p, grad);
}

static void
gradient_checks(const btyd_row *rows, size_t n, const char *what)
{
	/* alpha < beta, alpha > beta, alpha == beta, extreme ratios */
	static const double pts[5][4] = {
		{0.55, 10.58, 0.61, 11.66}, {0.55, 12.0, 0.61, 10.0},
		{1.0, 1.0, 1.0, 1.0}, {2.0, 3.0, 0.3, 30.0}, {0.3, 40.0, 2.0, 5.0}
	};

	check_btyd_gradients("Pareto/NBD", what, ll_prep_fn, rows, n, pts, 5);
}

static void
cdnow_tests(void)
{
	btyd_row   *rows, *cp;
	size_t		n, m;
	pnbd_params p;
	double		ll, t0, t1, llraw;
	hvc_opt_report rep;
	int			rc;
	btyd_prep	d;

	if (load_cdnow_summary(&rows, &n) != 0)
		return;
	t0 = now_sec();
	rc = pnbd_fit(rows, n, NULL, &p, &ll, &rep);
	t1 = now_sec();
	note("Pareto/NBD fit on CDNOW: %.3f ms, %d iterations, %d evaluations, \"%s\"",
		 1e3 * (t1 - t0), rep.iterations, rep.nfev, rep.message);
	note("Pareto/NBD MLE: r %.10g alpha %.10g s %.10g beta %.10g LL %.8f",
		 p.r, p.alpha, p.s, p.beta, ll);
	CHECK(rc == HVC_OK && rep.converged, "Pareto/NBD fit converged (rc %d)", rc);
	CHECK_SF("Pareto/NBD r", p.r, 0.5533, 4);
	CHECK_SF("Pareto/NBD alpha", p.alpha, 10.578, 4);
	CHECK_SF("Pareto/NBD s", p.s, 0.6062, 4);
	CHECK_SF("Pareto/NBD beta", p.beta, 11.667, 4);
	CHECK_CLOSE("Pareto/NBD LL", ll, -9594.97, 0.01, 0);
	/* MLE confirmed independently with 30-digit mpmath arithmetic
	 * (gradient < 2e-10 there; the BTYD walkthrough's beta 11.656 is not it) */
	CHECK_CLOSE("Pareto/NBD beta = high-precision MLE", p.beta, 11.66791124, 0, 1e-6);
	CHECK_CLOSE("Pareto/NBD alpha = high-precision MLE", p.alpha, 10.57761224, 0, 1e-6);
	CHECK_CLOSE("Pareto/NBD LL = high-precision value", ll, -9594.97392982686, 1e-6, 0);

	/* BTYD walkthrough predictions at the fitted parameters */
	CHECK_CLOSE("walkthrough E[Y(52) | 26, 30.857, 31]",
				pnbd_expected_purchases(&p, 52, 26, 216.0 / 7.0, 31), 25.45647, 0, 1e-3);
	CHECK_CLOSE("walkthrough P(alive | 26, 30.857, 31)",
				pnbd_p_alive(&p, 26, 216.0 / 7.0, 31), 0.997874, 0, 1e-3);
	CHECK_CLOSE("walkthrough E[X(52)]", pnbd_expected_purchases_new(&p, 52), 1.473434, 0, 1e-3);

	llraw = pnbd_loglik(&p, rows, n);
	cp = (btyd_row *) malloc(n * sizeof(btyd_row));
	if (cp)
	{
		memcpy(cp, rows, n * sizeof(btyd_row));
		m = btyd_compress(cp, n);
		CHECK_CLOSE("Pareto/NBD LL compressed rows vs raw", pnbd_loglik(&p, cp, m),
					llraw, 0, 1e-12);
		free(cp);
	}
	if (btyd_prep_init(&d, rows, n, NULL) == HVC_OK)
	{
		CHECK_CLOSE("Pareto/NBD LL prepared vs raw", pnbd_loglik_prep(&d, &p, NULL),
					llraw, 0, 1e-12);
		btyd_prep_free(&d);
	}
	gradient_checks(rows, n, "CDNOW");
	free(rows);
}

void
test_pnbd(void)
{
	pnbd_params p = {0.55, 10.58, 0.61, 11.66};
	pnbd_params q = {0.55, 12.0, 0.61, 10.0};
	pnbd_params o;
	double		ll;
	hvc_opt_report rep;
	int			rc;

	printf("-- Pareto/NBD\n");
	/* reference values: mpmath, 40 digits, direct formula of clv-models.md §3.1 */
	CHECK_CLOSE("l(0, 0, 38.86), alpha < beta", pnbd_loglik_row(&p, 0, 0, 38.86),
				-0.5168965683498898, 0, 1e-12);
	CHECK_CLOSE("l(2, 30.43, 38.86), alpha < beta", pnbd_loglik_row(&p, 2, 30.43, 38.86),
				-9.562352932348193, 0, 1e-12);
	CHECK_CLOSE("l(2, 30.43, 38.86), alpha > beta", pnbd_loglik_row(&q, 2, 30.43, 38.86),
				-9.634395171528680, 0, 1e-12);
	CHECK_CLOSE("l(26, 30.857, 31), alpha > beta", pnbd_loglik_row(&q, 26, 30.857, 31),
				-40.04086698329150, 0, 1e-12);
	{
		double		pa = pnbd_p_alive(&p, 20000, 38, 39);
		double		ey = pnbd_expected_purchases(&p, 39, 20000, 38, 39);
		double		l = pnbd_loglik_row(&p, 20000, 38, 39);

		CHECK(isfinite(pa) && isfinite(ey) && isfinite(l),
			  "x = 20000: P(alive) %.4g, E[Y(39)] %.4g, l %.6g", pa, ey, l);
	}
	CHECK(pnbd_p_alive(&p, 3, 10, 10) == 1.0, "P(alive | t_x = T) = 1");
	CHECK(isfinite(pnbd_expected_purchases_new(&p, 52)) &&
		  pnbd_expected_purchases(&p, 0, 3, 2, 10) == 0.0, "E[X(52)] finite, E[Y(0)] = 0");
	{
		pnbd_params s1 = p;

		s1.s = 1.0;
		CHECK(isfinite(pnbd_expected_purchases(&s1, 52, 2, 30.43, 38.86)) &&
			  isfinite(pnbd_expected_purchases_new(&s1, 52)), "s = 1 handled");
	}
	gradient_checks(test_rows_small, test_rows_small_n, "synthetic");

	rc = pnbd_fit(test_rows_small, 0, NULL, &o, &ll, &rep);
	CHECK(rc == HVC_ENODATA && isnan(o.r), "Pareto/NBD fit without rows: rc %d", rc);
	{
		btyd_row	one[1] = {{2, 5, 10, 1}};

		rc = pnbd_fit(one, 1, NULL, &o, &ll, &rep);
		CHECK((rc == HVC_OK || rc == HVC_FIT_NOCONV) && pnbd_params_valid(&o) && isfinite(ll),
			  "Pareto/NBD fit on 1 customer: rc %d, finite (%.3g, %.3g, %.3g, %.3g), \"%s\"",
			  rc, o.r, o.alpha, o.s, o.beta, rep.message);
	}
	cdnow_tests();
}
