/*
 * test_bench.c — synthetic 500 000-customer data set simulated from the
 * BG/NBD and Gamma-Gamma models (deterministic PRNG): checks that the fits
 * recover the generating parameters and reports the fit times for information
 * only (production target: BG/NBD + Gamma-Gamma together under 1 s; timings
 * are asserted nowhere: speed belongs in bench/).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

/*
 * 500 000 customers; HVC_UNIT_BENCH_CUSTOMERS sets another number (the
 * valgrind run uses fewer: the same checks, on a smaller sample).
 */
static size_t
bench_customers(void)
{
	const char *e = getenv("HVC_UNIT_BENCH_CUSTOMERS");
	long		n = e ? strtol(e, NULL, 10) : 0;

	return n >= 1000 ? (size_t) n : 500000;
}

/*
 * One customer: age T uniform on 1..730 days (in weeks); purchase times are
 * simulated in continuous time and the last one is recorded to the day
 * (floor), as a summary built from dated orders would have it.
 */
static void
simulate(test_rng *g, const bgnbd_params *bp, const gg_params *gp,
		 btyd_row *row, gg_row *grow)
{
	double		Tdays = 1.0 + floor(rng_unif(g) * 730.0);
	double		T = Tdays / 7.0;
	double		lambda = rng_gamma(g, bp->r, bp->alpha);	/* per week */
	double		pdrop = rng_beta(g, bp->a, bp->b);
	double		last;
	double		x = rng_purchases(g, lambda, T, pdrop, &last);	/* drops out after a purchase */

	row->x = x;
	row->t_x = floor(last * 7.0) / 7.0;
	row->T = T;
	row->w = 1.0;
	grow->x = x;
	grow->w = 1.0;
	if (x > 0)
	{
		double		nu = rng_gamma(g, gp->q, gp->v);

		grow->m = rng_gamma(g, gp->p * x, nu) / x;
	}
	else
		grow->m = 0.0;
}

void
test_bench(void)
{
	bgnbd_params bp = {0.243, 4.414, 0.793, 2.426}, bf;
	gg_params	gp = {6.25, 3.74, 15.44}, gf;
	const size_t NCUST = bench_customers();
	btyd_row   *rows = (btyd_row *) malloc(NCUST * sizeof(btyd_row));
	gg_row	   *grows = (gg_row *) malloc(NCUST * sizeof(gg_row));
	test_rng	g = {20240601};
	hvc_opt_report rb, rg;
	double		llb, llg, t0, t1, t2, tb, tg;
	size_t		i, nrep = 0;
	int			rcb, rcg;
	btyd_prep	d;

	printf("-- synthetic benchmark: %zu customers\n", NCUST);
	if (!rows || !grows)
	{
		skip("benchmark: out of memory");
		free(rows);
		free(grows);
		return;
	}
	for (i = 0; i < NCUST; i++)
	{
		simulate(&g, &bp, &gp, &rows[i], &grows[i]);
		if (rows[i].x > 0)
			nrep++;
	}
	t0 = now_sec();
	rcb = bgnbd_fit(rows, NCUST, NULL, &bf, &llb, &rb);
	t1 = now_sec();
	rcg = gg_fit(grows, NCUST, NULL, &gf, &llg, &rg);
	t2 = now_sec();
	tb = 1e3 * (t1 - t0);
	tg = 1e3 * (t2 - t1);
	if (btyd_prep_init(&d, rows, NCUST, NULL) == HVC_OK)
	{
		note("%zu customers with repeat purchases; %zu distinct (x, t_x, T) rows, %zu distinct times",
			 nrep, d.n, d.nu);
		btyd_prep_free(&d);
	}
	note("BG/NBD fit: %.1f ms (%d iterations, %d evaluations) -> r %.4f alpha %.4f a %.4f b %.4f",
		 tb, rb.iterations, rb.nfev, bf.r, bf.alpha, bf.a, bf.b);
	note("Gamma-Gamma fit: %.1f ms (%d iterations, %d evaluations) -> p %.4f q %.4f v %.4f",
		 tg, rg.iterations, rg.nfev, gf.p, gf.q, gf.v);
	note("BG/NBD + Gamma-Gamma on %zu customers: %.1f ms (target < 1000 ms)",
		 NCUST, tb + tg);
	CHECK(rcb == HVC_OK && rcg == HVC_OK, "synthetic fits converged (%d, %d)", rcb, rcg);
	CHECK(fabs(bf.r / bp.r - 1) < 0.05 && fabs(bf.alpha / bp.alpha - 1) < 0.05 &&
		  fabs(bf.a / bp.a - 1) < 0.05 && fabs(bf.b / bp.b - 1) < 0.05,
		  "BG/NBD recovers the generating parameters within 5%%");
	CHECK(fabs(gf.p / gp.p - 1) < 0.05 && fabs(gf.q / gp.q - 1) < 0.05 &&
		  fabs(gf.v / gp.v - 1) < 0.05,
		  "Gamma-Gamma recovers the generating parameters within 5%%");
	{
		pnbd_params pf;
		double		llp;
		hvc_opt_report rp;
		int			rcp;

		t0 = now_sec();
		rcp = pnbd_fit(rows, NCUST, NULL, &pf, &llp, &rp);
		t1 = now_sec();
		note("Pareto/NBD fit (informational; BG/NBD-generated data): %.1f ms (%d iterations, %d evaluations) -> r %.4f alpha %.4f s %.4f beta %.4f, LL %.1f vs BG/NBD %.1f",
			 1e3 * (t1 - t0), rp.iterations, rp.nfev, pf.r, pf.alpha, pf.s, pf.beta, llp, llb);
		CHECK(rcp == HVC_OK && isfinite(llp), "Pareto/NBD fit on %zu customers converged (rc %d)", NCUST, rcp);
	}
	free(rows);
	free(grows);
}
