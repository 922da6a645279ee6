/*
 * test_clv.c — discounted CLV and next-order timing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

static double
bg_fn(const void *ctx, double t, double x, double t_x, double T)
{
	return bgnbd_expected_purchases((const bgnbd_params *) ctx, t, x, t_x, T);
}

void
test_clv(void)
{
	static const double want[5] = {36.286, 4.6387, 8.3557, 8.3557, 8.3557};
	hvc_purchase_model m, pm;
	gg_params	g = {6.25, 3.74, 15.44};
	btyd_row   *rows = NULL, *rows2 = NULL;
	double	   *z = NULL, v, e;
	size_t		n, n2, i;

	printf("-- CLV and next-order timing\n");
	m.kind = HVC_MODEL_BGNBD;
	m.u.bgnbd.r = 0.2426;
	m.u.bgnbd.alpha = 4.4135;
	m.u.bgnbd.a = 0.7929;
	m.u.bgnbd.b = 2.4258;
	pm.kind = HVC_MODEL_PARETO_NBD;
	pm.u.pnbd.r = 0.5533;
	pm.u.pnbd.alpha = 10.578;
	pm.u.pnbd.s = 0.6062;
	pm.u.pnbd.beta = 11.668;

	/* generic interface = enum interface; no discount = spend * E[Y(12 f)] */
	v = hvc_clv(&m, 2, 30.43, 38.86, 20.0, 12, 0.01, HVC_UNITS_PER_MONTH_WEEK);
	e = hvc_clv_fn(bg_fn, &m.u.bgnbd, 2, 30.43, 38.86, 20.0, 12, 0.01,
				   HVC_UNITS_PER_MONTH_WEEK);
	CHECK(v == e && v > 0, "CLV via enum and via function pointer agree (%.6f)", v);
	CHECK_CLOSE("CLV without discount = spend E[Y(12 f)]",
				hvc_clv(&m, 2, 30.43, 38.86, 20.0, 12, 0.0, 4.345),
				20.0 * bgnbd_expected_purchases(&m.u.bgnbd, 12 * 4.345, 2, 30.43, 38.86),
				0, 1e-12);
	CHECK(hvc_clv(&m, 2, 30.43, 38.86, 20.0, 0, 0.01, 4.345) == 0.0 &&
		  isnan(hvc_clv(&m, 2, 30.43, 38.86, 20.0, -1, 0.01, 4.345)) &&
		  isnan(hvc_clv(&m, 2, 30.43, 38.86, 20.0, 12, -1.0, 4.345)) &&
		  isnan(hvc_clv(&m, 2, 30.43, 38.86, 20.0, 12, 0.01, 0.0)),
		  "CLV: months = 0 gives 0, invalid arguments give NaN");
	v = hvc_clv(&pm, 2, 30.43, 38.86, 20.0, 12, 0.01, 4.345);
	CHECK(isfinite(v) && v > 0, "CLV under Pareto/NBD: %.6f", v);
	v = hvc_clv(&m, 20000, 38, 39, 20.0, 12, 0.01, 4.345);
	CHECK(isfinite(v), "CLV at x = 20000 finite (%.4g)", v);

	/* next-order timing */
	CHECK_CLOSE("median wait (alpha+T)(2^(1/(r+x)) - 1)",
				hvc_next_order_median(0.2426, 4.4135, 2, 38.86),
				(4.4135 + 38.86) * (pow(2.0, 1.0 / 2.2426) - 1.0), 0, 1e-13);
	CHECK_CLOSE("median wait, Pareto/NBD uses its r, alpha",
				hvc_model_next_order_median(&pm, 3, 20),
				(10.578 + 20) * (pow(2.0, 1.0 / 3.5533) - 1.0), 0, 1e-13);
	CHECK(hvc_next_order_mean(0.2426, 4.4135, 0, 38.86) == INFINITY &&
		  fabs(hvc_next_order_mean(0.2426, 4.4135, 2, 38.86) - 43.2735 / 1.2426) < 1e-12,
		  "mean wait (alpha+T)/(r+x-1), infinite for r+x <= 1");
	{
		/* median: P(tau > median) = 1/2 */
		double		med = hvc_next_order_median(0.2426, 4.4135, 5, 30);

		CHECK_CLOSE("Lomax survival at the median",
					pow((4.4135 + 30) / (4.4135 + 30 + med), 5.2426), 0.5, 0, 1e-13);
		CHECK_CLOSE("P(purchase within median | alive) = 1/2",
					hvc_model_prob_purchase_within(&m, med, 5, 30, 30)
					/ hvc_model_p_alive(&m, 5, 30, 30), 0.5, 0, 1e-13);
	}

	if (load_cdnow_summary(&rows, &n) != 0)
		return;
	if (load_cdnow_with_tx(&rows2, &z, &n2) != 0 || n2 < 5 || n < 5)
	{
		free(rows);
		return;
	}
	for (i = 0; i < 5; i++)
	{
		char		name[64];
		double		spend = gg_expected_value(&g, rows2[i].x, z[i]);

		snprintf(name, sizeof(name), "CLV customer %zu (E[M] %.4f)", i + 1, spend);
		CHECK_CLOSE(name, hvc_clv(&m, rows[i].x, rows[i].t_x, rows[i].T, spend, 12, 0.01,
								  HVC_UNITS_PER_MONTH_WEEK), want[i], 0.001, 0);
	}
	free(rows);
	free(rows2);
	free(z);
}
