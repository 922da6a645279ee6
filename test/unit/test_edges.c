/*
 * test_edges.c — edges of the parameter space, standard errors and the
 * convergence rule (issue 8 items 1 and 5; clv-models.md §9.2, §9.3).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/*
 * A shop nobody leaves: n customers, purchase rate lambda ~ Gamma(r, alpha)
 * per week, first purchase uniform in the first 52 weeks of a 104-week
 * observation, Poisson repeat purchases until the end (no dropout); times
 * in weeks, recorded to the day.
 */
static btyd_row *
no_dropout_rows(size_t n, double r, double alpha, unsigned long long seed)
{
	btyd_row   *rows = (btyd_row *) malloc(n * sizeof(btyd_row));
	test_rng	g;
	size_t		i;

	g.s = seed;
	if (rows == NULL)
		return NULL;
	for (i = 0; i < n; i++)
	{
		double		lambda = rng_gamma(&g, r, alpha);
		double		T = 104.0 - floor(52.0 * rng_unif(&g)), tx;
		int			x = rng_purchases(&g, lambda, T, -1.0, &tx);

		rows[i].x = x;
		/* times recorded to the day, as a shop's log has them */
		rows[i].t_x = x > 0 ? floor(7.0 * tx) / 7.0 : 0.0;
		rows[i].T = T;
		rows[i].w = 1.0;
	}
	return rows;
}

/* the NBD (r, alpha) MLE by the same fit on a data set, as reference */
static void
edge_checks(void)
{
	const size_t n = 3000;
	btyd_row   *rows = no_dropout_rows(n, 0.8, 6.0, 12345);
	bgnbd_params bp;
	pnbd_params pp;
	hvc_opt_report rep;
	double		ll, llp, t0, t1, nll;
	int			rc;
	size_t		i;

	if (rows == NULL)
	{
		CHECK(0, "allocation");
		return;
	}
	t0 = now_sec();
	rc = bgnbd_fit(rows, n, NULL, &bp, &ll, &rep);
	t1 = now_sec();
	note("BG/NBD on %zu no-dropout customers: %.1f ms, \"%s\", edge \"%s\"",
		 n, 1e3 * (t1 - t0), rep.message, rep.edge);
	CHECK(rc == HVC_OK && rep.converged, "BG/NBD no-dropout fit converged (rc %d)", rc);
	CHECK(strcmp(rep.edge, "a->0") == 0, "BG/NBD no-dropout edge is a->0 (got \"%s\")", rep.edge);
	CHECK(bp.a == 0.0 && isnan(bp.b), "BG/NBD edge: a = 0, b not identified (NaN): a %g b %g",
		  bp.a, bp.b);
	CHECK(isfinite(rep.se[0]) && isfinite(rep.se[1]) && isnan(rep.se[2]) && isnan(rep.se[3]),
		  "BG/NBD edge: SEs of r, alpha only (%g %g %g %g)",
		  rep.se[0], rep.se[1], rep.se[2], rep.se[3]);
	CHECK_CLOSE("BG/NBD edge r near the generating 0.8", bp.r, 0.8, 0, 0.15);
	CHECK_CLOSE("BG/NBD edge alpha near the generating 6", bp.alpha, 6.0, 0, 0.15);
	nll = 0.0;
	for (i = 0; i < n; i++)
		nll += hvc_nbd_loglik_row(bp.r, bp.alpha, rows[i].x, rows[i].T);
	CHECK_CLOSE("BG/NBD edge LL = NBD LL", ll, nll, 1e-6, 0);
	/* dropout does not improve the likelihood significantly (LR test, 2 df) */
	{
		bgnbd_params q = {bp.r, bp.alpha, 1e-3, 1.0};

		CHECK(bgnbd_loglik(&q, rows, n) - ll < 2.9957,
			  "BG/NBD interior point not significantly better than the edge");
	}
	/* predictions = NBD closed forms */
	CHECK_CLOSE("BG/NBD edge P(alive) = 1", bgnbd_p_alive(&bp, 5, 20, 90), 1.0, 0, 0);
	CHECK_CLOSE("BG/NBD edge E[Y(52)] = (r+x) t/(alpha+T)",
				bgnbd_expected_purchases(&bp, 52, 5, 20, 90),
				(bp.r + 5) * 52 / (bp.alpha + 90), 0, 1e-14);
	CHECK_CLOSE("BG/NBD edge E[X(52)] = r t/alpha", bgnbd_expected_purchases_new(&bp, 52),
				bp.r * 52 / bp.alpha, 0, 1e-14);
	{
		hvc_purchase_model m;
		double		clv, want = 0.0, prev = 0.0;
		int			k;

		m.kind = HVC_MODEL_BGNBD;
		m.u.bgnbd = bp;
		for (k = 1; k <= 12; k++)
		{
			double		cur = (bp.r + 3) * k * 4.345 / (bp.alpha + 60);

			want += (cur - prev) / pow(1.01, k);
			prev = cur;
		}
		clv = hvc_clv(&m, 3, 30, 60, 10.0, 12, 0.01, 4.345);
		CHECK_CLOSE("BG/NBD edge CLV = spend * discounted NBD purchases", clv, 10.0 * want, 0, 1e-12);
	}

	t0 = now_sec();
	rc = pnbd_fit(rows, n, NULL, &pp, &llp, &rep);
	t1 = now_sec();
	note("Pareto/NBD on %zu no-dropout customers: %.1f ms, %d evaluations, \"%s\", edge \"%s\": r %g alpha %g s %g beta %g LL %.4f",
		 n, 1e3 * (t1 - t0), rep.nfev, rep.message, rep.edge, pp.r, pp.alpha, pp.s, pp.beta, llp);
	CHECK(rc == HVC_OK && rep.converged, "Pareto/NBD no-dropout fit converged (rc %d)", rc);
	CHECK(strcmp(rep.edge, "s->0") == 0, "Pareto/NBD no-dropout edge is s->0 (got \"%s\")", rep.edge);
	CHECK(pp.s == 0.0 && isnan(pp.beta), "Pareto/NBD edge: s = 0, beta NaN");
	CHECK_CLOSE("Pareto/NBD edge r = BG/NBD edge r", pp.r, bp.r, 0, 1e-5);
	CHECK_CLOSE("Pareto/NBD edge alpha = BG/NBD edge alpha", pp.alpha, bp.alpha, 0, 1e-5);
	CHECK_CLOSE("Pareto/NBD edge E[Y(52)] = NBD", pnbd_expected_purchases(&pp, 52, 5, 20, 90),
				(pp.r + 5) * 52 / (pp.alpha + 90), 0, 1e-14);
	CHECK_CLOSE("Pareto/NBD edge P(alive) = 1", pnbd_p_alive(&pp, 5, 20, 90), 1.0, 0, 0);
	free(rows);
}

static void
se_checks(void)
{
	btyd_row   *rows;
	size_t		n;
	pnbd_params p;
	bgnbd_params b;
	hvc_opt_report rep;
	double		ll;

	if (load_cdnow_summary(&rows, &n) != 0)
		return;
	if (pnbd_fit(rows, n, NULL, &p, &ll, &rep) == HVC_OK)
	{
		note("Pareto/NBD CDNOW SEs: r %.7g alpha %.7g s %.7g beta %.7g",
			 rep.se[0], rep.se[1], rep.se[2], rep.se[3]);
		CHECK(rep.edge[0] == '\0', "CDNOW Pareto/NBD: interior optimum");
		/* CLVTools: r 0.0476264, alpha 0.8427222, s 0.1872594, beta 6.2105448 */
		CHECK_CLOSE("Pareto/NBD SE r", rep.se[0], 0.0476264, 0, 0.01);
		CHECK_CLOSE("Pareto/NBD SE alpha", rep.se[1], 0.8427222, 0, 0.01);
		CHECK_CLOSE("Pareto/NBD SE s", rep.se[2], 0.1872594, 0, 0.01);
		CHECK_CLOSE("Pareto/NBD SE beta", rep.se[3], 6.2105448, 0, 0.01);
	}
	else
		CHECK(0, "Pareto/NBD CDNOW fit");
	if (bgnbd_fit(rows, n, NULL, &b, &ll, &rep) == HVC_OK)
	{
		note("BG/NBD CDNOW SEs: r %.5g alpha %.5g a %.5g b %.5g",
			 rep.se[0], rep.se[1], rep.se[2], rep.se[3]);
		CHECK(rep.edge[0] == '\0' && isfinite(rep.se[0]) && isfinite(rep.se[1]) &&
			  isfinite(rep.se[2]) && isfinite(rep.se[3]) && rep.se[0] > 0 &&
			  rep.se[0] < b.r && rep.se[3] < b.b,
			  "BG/NBD CDNOW: four finite SEs, smaller than the parameters");
	}
	free(rows);
}

/*
 * The convergence rule: the same data give the same verdict whatever
 * stopped the optimiser.  A tight iteration budget stops the CDNOW fit at
 * the limit after it reached the optimum; it still converged.
 */
static void
rule_checks(void)
{
	btyd_row   *rows;
	size_t		n;
	bgnbd_params b1, b2;
	hvc_opt_report r1, r2;
	hvc_fit_options o;
	double		l1, l2;
	int			rc1, rc2;

	if (load_cdnow_summary(&rows, &n) != 0)
		return;
	rc1 = bgnbd_fit(rows, n, NULL, &b1, &l1, &r1);
	hvc_fit_default_options(&o);
	o.max_iter = 21;			/* the iteration limit stops the optimiser */
	rc2 = bgnbd_fit(rows, n, &o, &b2, &l2, &r2);
	note("default: status %d \"%s\"; max_iter 21: status %d \"%s\"",
		 r1.status, r1.message, r2.status, r2.message);
	CHECK(r2.status != HVC_OPT_CONVERGED, "the iteration limit stops the optimiser (status %d)",
		  r2.status);
	CHECK(rc1 == HVC_OK && rc2 == HVC_OK && r1.converged && r2.converged,
		  "same data, same verdict: converged both times");
	CHECK_CLOSE("same optimum", l2, l1, 1e-6, 0);
	{
		hvc_opt_report r;

		memset(&r, 0, sizeof(r));
		r.status = HVC_OPT_MAXFEV;
		r.f = 4.0;
		r.gnorm = 1.1e-7;
		CHECK(hvc_fit_converged(&r), "evaluation limit with gradient 1.1e-7: converged");
		r.status = HVC_OPT_LINESEARCH;
		r.gnorm = 1.2e-7;
		CHECK(hvc_fit_converged(&r), "line search failed with gradient 1.2e-7: converged");
		r.gnorm = 1e-3;
		CHECK(!hvc_fit_converged(&r), "line search failed with gradient 1e-3: not converged");
		r.status = HVC_OPT_INTERRUPTED;
		r.gnorm = 0.0;
		CHECK(!hvc_fit_converged(&r), "interrupted: not converged");
	}
	free(rows);
}

/*
 * Gamma-Gamma with every customer on the same spend scale nu: q -> inf with
 * v / q -> nu (clv-models.md §9.2).  The fit converges at that edge, names
 * it, and the expected order value stays finite: p (v + x m) / (p x + q - 1)
 * tends to the common mean p / nu.
 */
static void
gg_edge_checks(void)
{
	const size_t n = 2000;
	gg_row	   *rows = (gg_row *) malloc(n * sizeof(gg_row));
	test_rng	g;
	gg_params	o;
	hvc_opt_report rep;
	double		ll, mean;
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
		double		x = 1 + floor(6.0 * rng_unif(&g));

		rows[i].x = x;
		rows[i].m = rng_gamma(&g, 4.0 * x, 0.2) / x;	/* p = 4, nu = 0.2: mean 20 */
		rows[i].w = 1.0;
	}
	rc = gg_fit(rows, n, NULL, &o, &ll, &rep);
	note("Gamma-Gamma, one spend scale for all: p %g q %g v %g, \"%s\", edge \"%s\", SE p %g q %g v %g",
		 o.p, o.q, o.v, rep.message, rep.edge, rep.se[0], rep.se[1], rep.se[2]);
	CHECK(rc == HVC_OK && rep.converged, "Gamma-Gamma common scale: converged (rc %d)", rc);
	CHECK(strstr(rep.edge, "q->inf") != NULL, "Gamma-Gamma common scale: edge names q->inf (\"%s\")", rep.edge);
	CHECK(isnan(rep.se[1]) && isfinite(rep.se[0]), "Gamma-Gamma common scale: no SE for q, one for p");
	CHECK(gg_population_mean(&o, &mean) == HVC_OK, "population mean exists at the edge");
	CHECK_CLOSE("population mean = p / nu", mean, 20.0, 0, 0.02);
	CHECK_CLOSE("E[M | x = 3, m = 50] = common mean (no shrinkage needed)",
				gg_expected_value(&o, 3, 50), mean, 0, 1e-3);
	free(rows);
}

/*
 * The same edge when spends hardly vary (a regression case: 50 customers of
 * 18-20 repeat orders whose mean spends lie within 5 % of 16; 2 identical
 * refreshes gave "converged at the edge" and "evaluation limit 600 reached"
 * after one row changed).  The common-scale fit's log-likelihood was the sum
 * of terms near y ln y (y = p x, about 5 500 here) cancelling to 5.86: its
 * rounding hid the last steps from the line search.  The optimum (mpmath, 40
 * digits): mu = total spend / total orders, p from sum y (ln s + 1 - s +
 * ln y - psi(y)) = 0.
 */
static void
gg_steady_spend_edge(void)
{
	static const double num19[13] = {298, 299, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310};
	static const double w19[13] = {2, 3, 4, 4, 4, 3, 3, 4, 4, 4, 4, 4, 4};
	gg_row		rows[16];
	gg_params	o;
	hvc_opt_report rep;
	double		ll, mean = NAN;
	size_t		n = 0, i;
	int			rc;

	rows[n++] = (gg_row) {18, 278.0 / 18, 1};
	rows[n++] = (gg_row) {18, 281.0 / 18, 1};
	for (i = 0; i < 13; i++)
		rows[n++] = (gg_row) {19, num19[i] / 19, w19[i]};
	rows[n++] = (gg_row) {20, 313.0 / 20, 1};
	rc = gg_fit(rows, n, NULL, &o, &ll, &rep);
	note("Gamma-Gamma, steady spends: p %.10g nu %.10g, \"%s\", %d iterations", o.p, o.q / o.v,
		 rep.message, rep.iterations);
	CHECK(rc == HVC_OK && rep.converged && strstr(rep.edge, "q->inf") != NULL,
		  "Gamma-Gamma, steady spends: converged at the edge q->inf (rc %d, \"%s\")", rc, rep.message);
	CHECK_CLOSE("Gamma-Gamma, steady spends: p", o.p, 290.91206839128648276, 0, 1e-7);
	CHECK(gg_population_mean(&o, &mean) == HVC_OK, "steady spends: population mean exists");
	CHECK_CLOSE("Gamma-Gamma, steady spends: mean = total spend / total orders", mean,
				15.99367755532139, 0, 1e-9);
	CHECK_CLOSE("Gamma-Gamma, steady spends: log-likelihood", ll, 5.8564626795190796567, 1e-8, 0);
}


/*
 * A shop whose dropout is negligible and nearly the same for everyone: BG/NBD
 * with p ~ Beta(20, 40000) (mean 0.0005), purchase rate lambda ~ Gamma(0.8,
 * 6) per week, first purchase uniform in the first 52 weeks of a 104-week
 * observation; times recorded to the day.  The full model's optimum runs to
 * b -> infinity (a grows too, a/(a+b) -> 0), not to a -> 0.
 */
static btyd_row *
rare_dropout_rows(size_t n, unsigned long long seed)
{
	btyd_row   *rows = (btyd_row *) malloc(n * sizeof(btyd_row));
	test_rng	g;
	size_t		i;

	g.s = seed;
	if (rows == NULL)
		return NULL;
	for (i = 0; i < n; i++)
	{
		double		lambda = rng_gamma(&g, 0.8, 6.0),
					p = rng_beta(&g, 20.0, 40000.0);
		double		T = 104.0 - floor(52.0 * rng_unif(&g)), tx;
		int			x = rng_purchases(&g, lambda, T, p, &tx);

		rows[i].x = x;
		rows[i].t_x = x > 0 ? floor(7.0 * tx) / 7.0 : 0.0;
		rows[i].T = T;
		rows[i].w = 1.0;
	}
	return rows;
}

/*
 * The no-dropout limit reached with b -> infinity (clv-models.md §9.2):
 * edge "b->inf", b = +infinity, a not identified (NaN), standard errors of
 * r and alpha only, and every prediction the NBD closed form.
 */
static void
b_inf_checks(void)
{
	const size_t n = 1000;
	btyd_row   *rows = rare_dropout_rows(n, 2);
	bgnbd_params bp;
	mbgnbd_params mp;
	hvc_opt_report rep;
	double		ll, nll = 0.0, r, al;
	int			rc;
	size_t		i;

	if (rows == NULL)
	{
		CHECK(0, "allocation");
		return;
	}
	rc = bgnbd_fit(rows, n, NULL, &bp, &ll, &rep);
	note("BG/NBD on %zu rare-dropout customers: \"%s\", edge \"%s\"", n, rep.message, rep.edge);
	CHECK(rc == HVC_OK && rep.converged, "BG/NBD rare-dropout fit converged (rc %d)", rc);
	CHECK(strcmp(rep.edge, "b->inf") == 0, "BG/NBD rare-dropout edge is b->inf (got \"%s\")", rep.edge);
	CHECK(isnan(bp.a) && isinf(bp.b) && bp.b > 0, "BG/NBD edge b->inf: b = +inf, a not identified (NaN): a %g b %g",
		  bp.a, bp.b);
	CHECK(bgnbd_params_valid(&bp) && bgnbd_at_edge(&bp), "BG/NBD b->inf parameters valid and at the edge");
	CHECK(isfinite(rep.se[0]) && isfinite(rep.se[1]) && isnan(rep.se[2]) && isnan(rep.se[3]),
		  "BG/NBD b->inf: SEs of r, alpha only (%g %g %g %g)", rep.se[0], rep.se[1], rep.se[2], rep.se[3]);
	for (i = 0; i < n; i++)
		nll += hvc_nbd_loglik_row(bp.r, bp.alpha, rows[i].x, rows[i].T);
	CHECK_CLOSE("BG/NBD b->inf LL = NBD LL", ll, nll, 1e-9, 0);
	CHECK_CLOSE("BG/NBD b->inf loglik function = NBD", bgnbd_loglik(&bp, rows, n), nll, 1e-9, 0);
	r = bp.r, al = bp.alpha;
	CHECK_CLOSE("BG/NBD b->inf P(alive) = 1", bgnbd_p_alive(&bp, 5, 20, 90), 1.0, 0, 0);
	CHECK_CLOSE("BG/NBD b->inf E[Y(52)] = (r+x) t/(alpha+T)", bgnbd_expected_purchases(&bp, 52, 5, 20, 90),
				(r + 5) * 52 / (al + 90), 0, 1e-14);
	CHECK_CLOSE("BG/NBD b->inf E[X(52)] = r t/alpha", bgnbd_expected_purchases_new(&bp, 52), r * 52 / al, 0, 1e-14);
	CHECK_CLOSE("BG/NBD b->inf P0(13) = ((alpha+T)/(alpha+T+tau))^(r+x)", bgnbd_p_no_purchase(&bp, 13, 5, 20, 90),
				pow((al + 90) / (al + 90 + 13), r + 5), 0, 1e-12);

	rc = mbgnbd_fit(rows, n, NULL, &mp, &ll, &rep);
	note("MBG/NBD on %zu rare-dropout customers: \"%s\", edge \"%s\"", n, rep.message, rep.edge);
	CHECK(rc == HVC_OK && rep.converged, "MBG/NBD rare-dropout fit converged (rc %d)", rc);
	CHECK(strcmp(rep.edge, "b->inf") == 0, "MBG/NBD rare-dropout edge is b->inf (got \"%s\")", rep.edge);
	CHECK(isnan(mp.a) && isinf(mp.b) && mp.b > 0 && mbgnbd_at_edge(&mp),
		  "MBG/NBD edge b->inf: b = +inf, a NaN: a %g b %g", mp.a, mp.b);
	CHECK(isnan(rep.se[2]) && isnan(rep.se[3]), "MBG/NBD b->inf: no SEs of a, b");
	CHECK_CLOSE("MBG/NBD b->inf LL = NBD LL", ll, nll, 1e-9, 0);
	CHECK_CLOSE("MBG/NBD b->inf P(alive) = 1", mbgnbd_p_alive(&mp, 5, 20, 90), 1.0, 0, 0);
	CHECK_CLOSE("MBG/NBD b->inf E[Y(52)] = (r+x) t/(alpha+T)", mbgnbd_expected_purchases(&mp, 52, 5, 20, 90),
				(mp.r + 5) * 52 / (mp.alpha + 90), 0, 1e-14);
	CHECK_CLOSE("MBG/NBD b->inf P0(13) = NBD", mbgnbd_p_no_purchase(&mp, 13, 5, 20, 90),
				pow((mp.alpha + 90) / (mp.alpha + 90 + 13), mp.r + 5), 0, 1e-12);
	free(rows);
}

void
test_edges(void)
{
	printf("-- edges, standard errors, convergence rule\n");
	edge_checks();
	b_inf_checks();
	gg_edge_checks();
	gg_steady_spend_edge();
	se_checks();
	rule_checks();
}
