/*
 * test_many.c — the batched 2F1 and BG/NBD CLV months (one series pass for
 * all the months of a horizon) give exactly the same bits as one call per
 * value.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

static double
bg_fn(const void *ctx, double t, double x, double t_x, double T)
{
	return bgnbd_expected_purchases((const bgnbd_params *) ctx, t, x, t_x, T);
}

static int
same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(double)) == 0 || (isnan(a) && isnan(b));
}

void
test_many(void)
{
	/* z from 0 to very near 1 (the last ones fall back to the Euler series) */
	static const double zs[] = {0.0, 1e-9, 0.01, 0.2, 0.5, 0.77, 0.9, 0.97, 0.995, 0.99999, 0.3, 0.6};
	static const double abc[][3] = {{0.55, 3.5, 1.7}, {2.2426, 12.4258, 13.2}, {30.0, 5.0, 2.5},
									{0.3, -2.5, 1.5}, {150.0, 153.2, 4.2}, {1.0, 1.0, 2.0}};
	/* (r, alpha, a, b): typical, a near 1, a at the edge (a = 0), b infinite */
	static const double ps[][4] = {{0.2426, 4.4135, 0.7929, 2.4258}, {0.55, 1.079, 1.0 + 3e-7, 3.5},
								   {0.55, 1.079, 0.0, 3.5}, {0.9, 7.0, 2.5, INFINITY}, {-1.0, 1.0, 1.0, 1.0}};
	static const double xs[][3] = {{0, 0, 10}, {2, 30.43, 38.86}, {40, 100, 104}, {1, 0.5, 0.5},
								   {3, 5, 2}, {150, 103, 104}};
	const int	nz = (int) (sizeof(zs) / sizeof(zs[0]));
	double		out[16];
	int			sg[16], i, j, bad = 0, total = 0;

	printf("-- batched 2F1 and CLV months: bit-identical to one call each\n");
	for (i = 0; i < (int) (sizeof(abc) / sizeof(abc[0])); i++)
	{
		hvc_log_hyp2f1_many(abc[i][0], abc[i][1], abc[i][2], zs, nz, out, sg);
		for (j = 0; j < nz; j++)
		{
			int			s1;
			double		one = hvc_log_hyp2f1(abc[i][0], abc[i][1], abc[i][2], zs[j], &s1);

			total++;
			if (!same_bits(one, out[j]) || (!isnan(one) && s1 != sg[j]))
			{
				bad++;
				note("2F1(%g,%g;%g;%g): one %.17g (%d), many %.17g (%d)", abc[i][0], abc[i][1],
					 abc[i][2], zs[j], one, s1, out[j], sg[j]);
			}
		}
	}
	CHECK(bad == 0 && total == 72, "hvc_log_hyp2f1_many = hvc_log_hyp2f1 bit for bit (%d of %d differ)", bad, total);

	bad = total = 0;
	for (i = 0; i < (int) (sizeof(ps) / sizeof(ps[0])); i++)
	{
		hvc_purchase_model m;

		m.kind = HVC_MODEL_BGNBD;
		m.u.bgnbd.r = ps[i][0];
		m.u.bgnbd.alpha = ps[i][1];
		m.u.bgnbd.a = ps[i][2];
		m.u.bgnbd.b = ps[i][3];
		for (j = 0; j < (int) (sizeof(xs) / sizeof(xs[0])); j++)
		{
			static const double units[2] = {HVC_UNITS_PER_MONTH_WEEK, HVC_UNITS_PER_MONTH_DAY};
			static const int months[3] = {1, 12, 60};
			int			u, k;

			for (u = 0; u < 2; u++)
				for (k = 0; k < 3; k++)
				{
					double		p1, p2,
								d1 = hvc_discounted_purchases(&m, xs[j][0], xs[j][1], xs[j][2],
															 months[k], 0.01, units[u], &p1),
								d2 = hvc_discounted_purchases_fn(bg_fn, &m.u.bgnbd, xs[j][0], xs[j][1],
																 xs[j][2], months[k], 0.01, units[u], &p2);

					total++;
					if (!same_bits(d1, d2) || !same_bits(p1, p2))
					{
						bad++;
						note("BG/NBD %d: x %g months %d: batched %.17g %.17g, one by one %.17g %.17g",
							 i, xs[j][0], months[k], d1, p1, d2, p2);
					}
				}
		}
	}
	CHECK(bad == 0 && total == 180, "BG/NBD discounted purchases batched = month by month bit for bit (%d of %d differ)",
		  bad, total);

	/* brackets per (x, T), finished per t_x = bgnbd_expected_purchases */
	bad = total = 0;
	{
		static const double ts[13] = {4.348, 8.696, 13.044, 17.392, 21.74, 26.088, 30.436, 34.784,
									  39.132, 43.48, 47.828, 52.176, 0.0};
		static const double txs[4] = {0.0, 0.5, 3.0, 9.5};
		int			k, computed = 0;

		for (i = 0; i < (int) (sizeof(ps) / sizeof(ps[0])); i++)
			for (j = 0; j < (int) (sizeof(xs) / sizeof(xs[0])); j++)
			{
				bgnbd_params p = {ps[i][0], ps[i][1], ps[i][2], ps[i][3]};
				bgnbd_brackets br;
				double		got[13];
				int			u;

				if (!bgnbd_brackets_compute(&p, ts, 13, xs[j][0], xs[j][2], &br))
					continue;	/* invalid or at an edge: the caller calls bgnbd_expected_purchases */
				computed++;
				for (u = 0; u < 4; u++)
				{
					bgnbd_expected_from_brackets(&p, ts, 13, xs[j][0], txs[u], xs[j][2], &br, got);
					for (k = 0; k < 13; k++)
					{
						double		want = bgnbd_expected_purchases(&p, ts[k], xs[j][0], txs[u], xs[j][2]);

						total++;
						if (!same_bits(want, got[k]))
						{
							bad++;
							note("brackets %d x %g t_x %g t %g: %.17g, direct %.17g", i, xs[j][0], txs[u],
								 ts[k], got[k], want);
						}
					}
				}
			}
		CHECK(bad == 0 && computed == 12 && total == 624,
			  "BG/NBD E[Y] from brackets per (x, T) = bgnbd_expected_purchases bit for bit (%d of %d differ, %d pairs)",
			  bad, total, computed);
	}
}
