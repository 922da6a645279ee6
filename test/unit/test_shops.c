/*
 * test_shops.c — fits on many small shops drawn from the models themselves,
 * with the parameters spread wide: each fit must converge (or give its
 * edge) and the share that does not is bounded.  The counts before the
 * fixes of stop 28 (likelihoods evaluated without cancellation) are in the
 * comments; every bound here fails on that code.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* log-uniform on [lo, hi] */
static double
log_unif(test_rng *g, double lo, double hi)
{
	return exp(log(lo) + rng_unif(g) * (log(hi) - log(lo)));
}

/*
 * 300 shops drawn from the model with steady spends: order values
 * Gamma(1 / cv^2) around each customer's mean, cv log-uniform in
 * [0.001, 0.8]; the customers' means the same (half the shops: the edge
 * q -> inf is the truth) or Gamma(10)-distributed (CV 0.32); 10-500
 * customers of 1-30 repeat orders.  Before the fix 17 % of such fits did not
 * converge (a line search failed or an iteration limit was reached beside
 * the optimum); now at most 2 % may (a fit whose likelihood-ratio test
 * rejects the edge by chance, 5 % of homogeneous shops, at q in the tens of
 * thousands).  A fit at the edge has the maximum-likelihood mean, total
 * spend / total orders.
 */
static void
gg_steady_spend_shops(void)
{
	test_rng	g;
	int			shop,
				failed = 0,
				edges = 0,
				bad_mean = 0;
	gg_row	   *rows = (gg_row *) malloc(500 * sizeof(gg_row));

	if (rows == NULL)
	{
		CHECK(0, "allocation");
		return;
	}
	g.s = 4242;
	for (shop = 0; shop < 300; shop++)
	{
		size_t		n = 10 + (size_t) (490.0 * rng_unif(&g)), i;
		double		cv = log_unif(&g, 0.001, 0.8),
					k = 1.0 / (cv * cv),
					base = 5.0 + 200.0 * rng_unif(&g),
					sx = 0.0,
					sxm = 0.0,
					ll,
					mean;
		int			hetero = shop % 2,
					rc;
		gg_params	o;
		hvc_opt_report rep;

		for (i = 0; i < n; i++)
		{
			double		x = 1.0 + floor(30.0 * rng_unif(&g)),
						mu = hetero ? base * rng_gamma(&g, 10.0, 10.0) : base;

			/* the mean of x order values Gamma(k, k / mu): Gamma(k x, k x / mu) */
			rows[i].x = x;
			rows[i].m = rng_gamma(&g, k * x, k * x / mu);
			rows[i].w = 1.0;
			sx += x;
			sxm += x * rows[i].m;
		}
		rc = gg_fit(rows, n, NULL, &o, &ll, &rep);
		if (rc != HVC_OK || !rep.converged)
			failed++;
		else if (strstr(rep.edge, "q->inf") != NULL)
		{
			edges++;
			if (gg_population_mean(&o, &mean) != HVC_OK || fabs(mean / (sxm / sx) - 1.0) > 1e-9)
				bad_mean++;
		}
	}
	note("Gamma-Gamma, 300 steady-spend shops: %d not converged, %d at the edge q->inf", failed, edges);
	CHECK(failed <= 6, "Gamma-Gamma, steady spends: at most 2 %% of 300 fits fail to converge (%d)", failed);
	CHECK(edges >= 100 && bad_mean == 0,
		  "Gamma-Gamma, steady spends: the %d fits at the edge have mean = total spend / total orders (%d do not)",
		  edges, bad_mean);
	free(rows);
}

/*
 * One BG/NBD shop: r, alpha, a, b log-uniform in [0.1, 5] x [0.5, 50] x
 * [0.05, 10] x [0.5, 50] (with homogeneous_rates r in [0.1, 2000] and
 * alpha scaled with it: everyone buys at about the same rate), 50-2 050
 * customers observed 20-100 % of 10-200 weeks, times recorded to the day.
 */
static size_t
bgnbd_shop(test_rng *g, int homogeneous_rates, btyd_row *rows)
{
	double		r = homogeneous_rates ? log_unif(g, 0.1, 2000.0) : log_unif(g, 0.1, 5.0),
				alpha = homogeneous_rates ? r * log_unif(g, 0.5, 50.0) / log_unif(g, 0.1, 5.0)
				: log_unif(g, 0.5, 50.0),
				a = log_unif(g, 0.05, 10.0),
				b = log_unif(g, 0.5, 50.0),
				tmax = log_unif(g, 10.0, 200.0);
	size_t		n = 50 + (size_t) (2000.0 * rng_unif(g)),
				i;

	for (i = 0; i < n; i++)
	{
		double		lambda = rng_gamma(g, r, alpha),
					p = rng_beta(g, a, b),
					T = tmax * (0.2 + 0.8 * rng_unif(g)),
					tx;
		int			x = rng_purchases(g, lambda, T, p, &tx);

		rows[i].x = x;
		rows[i].T = floor(T * 7.0) / 7.0;
		rows[i].t_x = x > 0 ? fmin(floor(tx * 7.0) / 7.0, rows[i].T) : 0.0;
		rows[i].w = 1.0;
	}
	return n;
}

/*
 * 200 BG/NBD shops each way, fitted with BG/NBD and MBG/NBD.  Before stop
 * 28, of 600 such shops BG/NBD missed 6 and MBG/NBD 54 (a and b running
 * off together to 1e6-1e10, where lnG(a+b) and lnG(a+b+x) differ in their
 * units), and with homogeneous rates 39 and 91 (r and alpha running off:
 * r ln alpha - (r+x) ln(alpha+T) the same way).  With the likelihoods
 * evaluated without that cancellation 0, 3, 22 and 39; with the fits that
 * stall on such a ridge resumed on ln(alpha / r) and ln(b / a)
 * (fit_driver.c) 0 of all 2 400.  Here (200 each): 2, 12, 13 and 28 before,
 * 0 now.
 *
 * Pareto/NBD is fitted to six of the BG/NBD shops too, where a common
 * dropout rate took s and beta off together (s 300-6 000, beta/alpha just
 * short of its limit 1000): its line search failed there on all six, and
 * the resume on ln(s / beta) (fit_driver.c, btyd_pair_resume) converges on
 * the limit.  (Of 600 such shops Pareto/NBD missed 32 before, 17 after,
 * most of them shops where both pairs run off.)
 */
static const int pnbd_ridge_shops[] = {28, 59, 122, 132, 150, 157};

static void
btyd_shops(void)
{
	btyd_row   *rows = (btyd_row *) malloc(2050 * sizeof(btyd_row));
	test_rng	g;
	int			way,
				shop,
				ridge = 0,
				ridge_ok = 0,
				/* under valgrind (HVC_UNIT_QUICK) the first of them only */
				nridge = getenv("HVC_UNIT_QUICK") != NULL ? 1 : 6,
				failed[2][2] = {{0, 0}, {0, 0}};

	if (rows == NULL)
	{
		CHECK(0, "allocation");
		return;
	}
	g.s = 2812;
	for (way = 0; way < 2; way++)
		for (shop = 0; shop < 200; shop++)
		{
			size_t		n = bgnbd_shop(&g, way, rows);
			bgnbd_params bo;
			mbgnbd_params mo;
			hvc_opt_report rep;
			double		ll;

			if (bgnbd_fit(rows, n, NULL, &bo, &ll, &rep) != HVC_OK || !rep.converged)
				failed[way][0]++;
			if (mbgnbd_fit(rows, n, NULL, &mo, &ll, &rep) != HVC_OK || !rep.converged)
				failed[way][1]++;
			if (way == 0 && ridge < nridge && shop == pnbd_ridge_shops[ridge])
			{
				pnbd_params po;

				ridge++;
				if (pnbd_fit(rows, n, NULL, &po, &ll, &rep) == HVC_OK && rep.converged &&
					strcmp(rep.edge, "beta/alpha->inf") == 0 && po.s > 200.0)
					ridge_ok++;
				else
					note("Pareto/NBD on BG/NBD shop %d: r %.6g alpha %.6g s %.6g beta %.6g, edge '%s', %s",
						 shop, po.r, po.alpha, po.s, po.beta, rep.edge, rep.message);
			}
		}
	note("200 BG/NBD shops: BG/NBD %d, MBG/NBD %d not converged; with homogeneous rates %d and %d",
		 failed[0][0], failed[0][1], failed[1][0], failed[1][1]);
	CHECK(failed[0][0] <= 1 && failed[0][1] <= 1,
		  "BG/NBD and MBG/NBD converge on at least 199 of 200 BG/NBD shops (%d, %d do not)",
		  failed[0][0], failed[0][1]);
	CHECK(failed[1][0] <= 1 && failed[1][1] <= 1,
		  "with homogeneous purchase rates too (%d, %d do not)", failed[1][0], failed[1][1]);
	CHECK(ridge == nridge && ridge_ok == ridge,
		  "Pareto/NBD converges at beta/alpha->inf on the BG/NBD shops where s and beta ran off together (%d of %d)",
		  ridge_ok, ridge);
	free(rows);
}

/*
 * 300 Pareto/NBD shops of its own: r, alpha, s, beta log-uniform in
 * [0.1, 5] x [0.5, 50] x [0.1, 5] x [1, 500], 50-2 050 customers observed
 * 20-100 % of 10-200 weeks, times to the day.  Where everyone drops out at
 * about the same rate the fit heads for s, beta -> infinity and stops at
 * its limit beta/alpha = 1000 (fit_driver.c); before stop 28 its line search
 * failed a few steps short (beta/alpha 998.8-999.5) on 4 of these shops, now
 * the fit resumes on the limit and 1 failed there (s near 200: the ridge)
 * until stop 29; resumed on ln(s / beta) it converges too: 0 fail.
 */
static void
pnbd_shops(void)
{
	btyd_row   *rows = (btyd_row *) malloc(2050 * sizeof(btyd_row));
	test_rng	g;
	int			shop,
				failed = 0,
				at_limit = 0;

	if (getenv("HVC_UNIT_QUICK") != NULL)
	{
		/* (8 s of fits here, minutes under valgrind; the paths run above) */
		skip("300 Pareto/NBD shops: HVC_UNIT_QUICK is set (make valgrind)");
		free(rows);
		return;
	}
	if (rows == NULL)
	{
		CHECK(0, "allocation");
		return;
	}
	g.s = 6170;
	for (shop = 0; shop < 300; shop++)
	{
		double		r = log_unif(&g, 0.1, 5.0),
					alpha = log_unif(&g, 0.5, 50.0),
					s = log_unif(&g, 0.1, 5.0),
					beta = log_unif(&g, 1.0, 500.0),
					tmax = log_unif(&g, 10.0, 200.0),
					ll;
		size_t		n = 50 + (size_t) (2000.0 * rng_unif(&g)),
					i;
		pnbd_params o;
		hvc_opt_report rep;

		for (i = 0; i < n; i++)
		{
			double		lambda = rng_gamma(&g, r, alpha),
						mu = rng_gamma(&g, s, beta),
						T = tmax * (0.2 + 0.8 * rng_unif(&g)),
						end = fmin(T, -log(rng_unif(&g)) / mu),
						tx;
			int			x = rng_purchases(&g, lambda, end, -1.0, &tx);

			rows[i].x = x;
			rows[i].T = floor(T * 7.0) / 7.0;
			rows[i].t_x = x > 0 ? fmin(floor(tx * 7.0) / 7.0, rows[i].T) : 0.0;
			rows[i].w = 1.0;
		}
		if (pnbd_fit(rows, n, NULL, &o, &ll, &rep) != HVC_OK || !rep.converged)
		{
			failed++;
			note("Pareto/NBD shop %d (%zu customers, r %.3g alpha %.3g s %.3g beta %.3g): r %.6g alpha %.6g s %.6g beta %.6g, %s",
				 shop, n, r, alpha, s, beta, o.r, o.alpha, o.s, o.beta, rep.message);
		}
		else if (strstr(rep.edge, "beta/alpha->inf") != NULL)
			at_limit++;
	}
	note("300 Pareto/NBD shops: %d not converged, %d at the limit beta/alpha", failed, at_limit);
	CHECK(failed <= 1 && at_limit > 0,
		  "Pareto/NBD converges on at least 299 of 300 shops of its own, some at its beta/alpha limit (%d do not, %d there)",
		  failed, at_limit);
	free(rows);
}

void
test_shops(void)
{
	printf("-- fits on shops drawn from the models\n");
	gg_steady_spend_shops();
	btyd_shops();
	pnbd_shops();
}
