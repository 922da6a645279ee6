/*
 * test_churn.c — P(no purchase in the next tau) (churn.c): hand cases, the
 * x = 0 case, an exact special case of the Pareto/NBD integral and Monte
 * Carlo simulations of the models.
 */
#include <math.h>
#include <stdio.h>

#include "test_util.h"

static const bgnbd_params bg = {0.243, 4.414, 0.793, 2.426};
static const pnbd_params pn = {0.553, 10.580, 0.606, 11.656};

static void
bgnbd_cases(void)
{
	double		p0, prev;
	int			k;

	/* x = 2, t_x = 30.43, T = 38.86, tau = 39: P(alive) 0.726578570 (§8) */
	p0 = bgnbd_p_no_purchase(&bg, 39.0, 2.0, 30.43, 38.86);
	CHECK_CLOSE("BG/NBD P0(39) x=2", p0, 0.44537286208, 1e-10, 0);
	/* x = 0: P(alive) = 1, P0 = ((alpha+T)/(alpha+T+tau))^r */
	p0 = bgnbd_p_no_purchase(&bg, 39.0, 0.0, 0.0, 38.86);
	CHECK_CLOSE("BG/NBD P0(39) x=0 T=38.86", p0, 0.85544945922, 1e-10, 0);
	p0 = bgnbd_p_no_purchase(&bg, 39.0, 0.0, 0.0, 10.0);
	CHECK_CLOSE("BG/NBD P0(39) x=0 T=10", p0, 0.72738517943, 1e-10, 0);
	/* one-time buyers: strictly between 0 and 1 and growing with T */
	prev = 0.0;
	for (k = 0; k <= 10; k++)
	{
		p0 = bgnbd_p_no_purchase(&bg, 13.0, 0.0, 0.0, 5.0 * k);
		CHECK(p0 > prev && p0 < 1.0, "BG/NBD x=0 P0 grows with T (T=%d: %.6f)",
			  5 * k, p0);
		prev = p0;
	}
	CHECK(bgnbd_p_no_purchase(&bg, 0.0, 3.0, 10.0, 20.0) == 1.0, "BG/NBD P0(0) = 1");
	{
		hvc_purchase_model m;

		m.kind = HVC_MODEL_BGNBD;
		m.u.bgnbd = bg;
		CHECK(hvc_model_p_no_purchase(&m, 39.0, 2.0, 30.43, 38.86) ==
			  bgnbd_p_no_purchase(&bg, 39.0, 2.0, 30.43, 38.86), "dispatch BG/NBD");
		m.kind = HVC_MODEL_PARETO_NBD;
		m.u.pnbd = pn;
		CHECK(hvc_model_p_no_purchase(&m, 39.0, 2.0, 30.43, 38.86) ==
			  pnbd_p_no_purchase(&pn, 39.0, 2.0, 30.43, 38.86), "dispatch Pareto/NBD");
	}
	CHECK(isnan(bgnbd_p_no_purchase(&bg, -1.0, 3.0, 10.0, 20.0)), "BG/NBD tau < 0 is NaN");
	CHECK(isnan(bgnbd_p_no_purchase(&bg, INFINITY, 3.0, 10.0, 20.0)), "BG/NBD tau inf is NaN");
	CHECK(isnan(bgnbd_p_no_purchase(&bg, 1.0, 3.0, 30.0, 20.0)), "BG/NBD t_x > T is NaN");
	/* large x stays finite: an active heavy buyer almost surely buys */
	p0 = bgnbd_p_no_purchase(&bg, 4.0, 20000.0, 100.0, 100.0);
	CHECK(p0 > 3.9e-5 && p0 < 4.0e-5, "BG/NBD x=20000 t_x=T P0 %.3g = its P(dead) a/(b+x-1+a)", p0);
	CHECK(isnan(btyd_p0_gamma_exp(1.5, 1.0, 1.0, 1.0)), "p0_gamma_exp p_alive > 1 is NaN");
	CHECK_CLOSE("p0_gamma_exp p_alive 0", btyd_p0_gamma_exp(0.0, 2.0, 3.0, 4.0), 1.0, 0, 0);
	CHECK_CLOSE("p0_gamma_exp", btyd_p0_gamma_exp(0.5, 2.0, 3.0, 4.0),
				0.5 + 0.5 * 9.0 / 49.0, 1e-15, 0);
}

/* (1 - P0) / P(alive): the integral I of churn.h */
static double
pnbd_integral(const pnbd_params *p, double tau, double x, double t_x, double T)
{
	return (1.0 - pnbd_p_no_purchase(p, tau, x, t_x, T)) /
		pnbd_p_alive(p, x, t_x, T);
}

static void
pnbd_cases(void)
{
	pnbd_params eq = {0.7, 8.0, 1.3, 8.0};
	double		A, B, p0, prev;
	int			k;

	/* I by composite Simpson (2e5 panels, Python) */
	CHECK_CLOSE("Pareto/NBD I(39) x=0 T=31", pnbd_integral(&pn, 39.0, 0.0, 0.0, 31.0),
				0.256449179795, 1e-10, 0);
	CHECK_CLOSE("Pareto/NBD I(52) x=26", pnbd_integral(&pn, 52.0, 26.0, 30.857, 31.0),
				0.978218440098, 1e-10, 0);
	/* with the BTYD walkthrough's P(alive) 0.997874 (its parameters differ in the 4th digit) */
	CHECK_CLOSE("Pareto/NBD P0(52) x=26", pnbd_p_no_purchase(&pn, 52.0, 26.0, 30.857, 31.0),
				0.0238612523, 1e-5, 0);
	/* alpha == beta: I = A/(A+s) (1 - (B/(B+tau))^(A+s)) exactly */
	A = eq.r + 3.0;
	B = eq.alpha + 20.0;
	CHECK_CLOSE("Pareto/NBD I alpha=beta", pnbd_integral(&eq, 15.0, 3.0, 12.0, 20.0),
				A / (A + eq.s) * (1.0 - pow(B / (B + 15.0), A + eq.s)), 1e-12, 0);
	CHECK_CLOSE("Pareto/NBD I alpha=beta x=5000",
				pnbd_integral(&eq, 15.0, 5000.0, 20.0, 20.0),
				(eq.r + 5000.0) / (eq.r + 5000.0 + eq.s) *
				(1.0 - pow(B / (B + 15.0), eq.r + 5000.0 + eq.s)), 1e-12, 0);
	prev = 0.0;
	for (k = 0; k <= 10; k++)
	{
		p0 = pnbd_p_no_purchase(&pn, 13.0, 0.0, 0.0, 5.0 * k);
		CHECK(p0 > prev && p0 < 1.0, "Pareto/NBD x=0 P0 grows with T (T=%d: %.6f)",
			  5 * k, p0);
		prev = p0;
	}
	CHECK(pnbd_p_no_purchase(&pn, 0.0, 3.0, 10.0, 20.0) == 1.0, "Pareto/NBD P0(0) = 1");
	CHECK(isnan(pnbd_p_no_purchase(&pn, -2.0, 3.0, 10.0, 20.0)), "Pareto/NBD tau < 0 is NaN");
	CHECK(isnan(pnbd_p_no_purchase(&pn, NAN, 3.0, 10.0, 20.0)), "Pareto/NBD tau NaN is NaN");
	/* huge tau: P0 -> P(dead) + P(alive) E[mu/(lambda+mu)] stays in (0,1) */
	p0 = pnbd_p_no_purchase(&pn, 1e9, 1.0, 5.0, 20.0);
	CHECK(p0 > 0.0 && p0 < 1.0, "Pareto/NBD tau 1e9 P0 %.6f", p0);
}

/*
 * Monte Carlo: (1) Pareto/NBD E[q | data, alive] over the posterior
 * lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T); (2) the full
 * Pareto/NBD and BG/NBD processes simulated from the population for
 * one-time buyers (conditioning on no purchase in (0, T]).
 */
static void
monte_carlo(void)
{
	test_rng	g = {20260412ULL};
	const int	n = 400000;
	double		x = 2.0, tx = 20.0, T = 35.0, tau = 26.0;
	double		sum = 0.0, want, se;
	long		acc = 0, hit = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		double		lam = rng_gamma(&g, pn.r + x, pn.alpha + T),
					mu = rng_gamma(&g, pn.s, pn.beta + T);

		sum += mu / (lam + mu) + lam / (lam + mu) * exp(-(lam + mu) * tau);
	}
	want = 1.0 - pnbd_integral(&pn, tau, x, tx, T);
	/* q in [0,1]: standard error <= 0.5/sqrt(n) */
	CHECK_CLOSE("Pareto/NBD E[q|alive] vs Monte Carlo", sum / n, want,
				4.0 * 0.5 / sqrt((double) n), 0);

	/* full Pareto/NBD, x = 0 */
	for (i = 0; i < n; i++)
	{
		double		lam = rng_gamma(&g, pn.r, pn.alpha),
					mu = rng_gamma(&g, pn.s, pn.beta),
					death = -log(rng_unif(&g)) / mu,
					next = -log(rng_unif(&g)) / lam;
		int			bought = next < death;	/* a next purchase happens */

		if (bought && next <= T)
			continue;			/* not a one-time buyer at T */
		acc++;
		if (!bought || next > T + tau)
			hit++;
	}
	want = pnbd_p_no_purchase(&pn, tau, 0.0, 0.0, T);
	se = sqrt(want * (1.0 - want) / (double) acc);
	note("Pareto/NBD x=0 simulation: %ld accepted, P0 %.5f, model %.5f",
		 acc, (double) hit / acc, want);
	CHECK_CLOSE("Pareto/NBD P0 x=0 vs simulation", (double) hit / acc, want, 4.0 * se, 0);

	/* full BG/NBD, x = 0: no dropout before the first repeat purchase */
	acc = hit = 0;
	for (i = 0; i < n; i++)
	{
		double		lam = rng_gamma(&g, bg.r, bg.alpha),
					next = -log(rng_unif(&g)) / lam;

		if (next <= T)
			continue;
		acc++;
		if (next > T + tau)
			hit++;
	}
	want = bgnbd_p_no_purchase(&bg, tau, 0.0, 0.0, T);
	se = sqrt(want * (1.0 - want) / (double) acc);
	CHECK_CLOSE("BG/NBD P0 x=0 vs simulation", (double) hit / acc, want, 4.0 * se, 0);
}

void
test_churn(void)
{
	bgnbd_cases();
	pnbd_cases();
	monte_carlo();
}
