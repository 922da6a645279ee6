/*
 * test_specfun.c — special functions.
 */
#include <math.h>
#include <stdio.h>

#include "test_util.h"

void
test_specfun(void)
{
	double		v, out[4], h = 1e-6;
	int			sg;

	printf("-- special functions\n");
	/* digamma: reference values from mpmath (30 digits) */
	CHECK_CLOSE("digamma(1)", hvc_digamma(1.0), -0.577215664901532860606512090082, 0, 1e-14);
	CHECK_CLOSE("digamma(0.5)", hvc_digamma(0.5), -1.963510026021423479440976333, 0, 1e-14);
	CHECK_CLOSE("digamma(0.01)", hvc_digamma(0.01), -100.560885457868672415475307272, 0, 1e-14);
	CHECK_CLOSE("digamma(7.3)", hvc_digamma(7.3), 1.91782033563798607229146772371, 0, 1e-14);
	CHECK_CLOSE("digamma(123456.7)", hvc_digamma(123456.7), 11.7236417162771905387003020321, 0, 1e-14);
	CHECK_CLOSE("digamma(-2.5)", hvc_digamma(-2.5), 1.10315664064524318722569033367, 0, 1e-13);
	CHECK(isnan(hvc_digamma(0.0)) && isnan(hvc_digamma(-3.0)), "digamma poles give NaN");
	/* digamma is the derivative of lgamma */
	v = (hvc_lgamma(3.7 + h) - hvc_lgamma(3.7 - h)) / (2 * h);
	CHECK_CLOSE("digamma(3.7) vs d lgamma", hvc_digamma(3.7), v, 0, 1e-8);
	/*
	 * Stirling's remainder and ln y - psi(y) (mpmath, 20 digits): both
	 * sides of the switch to the series at y = 10 and far out, where the
	 * direct forms cancel (lgamma(5527.3) is about 42 000)
	 */
	{
		static const double y[] = {0.5, 3.0, 9.75, 10.0, 10.25, 50.0, 5527.3};
		static const double rem[] = {0.15342640972002734529, 0.027677925684998339149,
			0.0085440205058485877043, 0.0083305634333628712565, 0.0081275088233059995857,
			0.0016666444469833655099, 0.000015076679978002066032};
		static const double lmd[] = {1.27036284546147817, 0.175827953569642552,
			0.052157749965179796636, 0.050832503927324576371, 0.049572914897693215731,
			0.010033332000253861665, 0.000090462807642057620571};
		int			i;

		for (i = 0; i < 7; i++)
		{
			char		name[64];

			snprintf(name, sizeof(name), "Stirling remainder at %g", y[i]);
			CHECK_CLOSE(name, hvc_lgamma_stirling_rem(y[i]), rem[i], 0, y[i] < 10.0 ? 1e-12 : 1e-14);
			snprintf(name, sizeof(name), "ln y - digamma(y) at %g", y[i]);
			CHECK_CLOSE(name, hvc_log_minus_digamma(y[i]), lmd[i], 0, y[i] < 10.0 ? 1e-12 : 1e-14);
		}
		CHECK(isnan(hvc_lgamma_stirling_rem(0.0)) && isnan(hvc_log_minus_digamma(-1.0)) &&
			  isnan(hvc_lgamma_stirling_rem(NAN)), "Stirling remainder, ln y - digamma: NaN for y <= 0");
	}
	/*
	 * lnG(y + x) - lnG(y) and psi(y + x) - psi(y) (mpmath, 22 digits), where
	 * the differences of lgamma or digamma values lose everything (y = 1e10:
	 * lgamma 2.2e11; psi's difference 3e-10 against psi 23)
	 */
	{
		static const double y[] = {3.0, 9.5, 12.5, 1000.0, 1e10, 2.5e11};
		static const double x[] = {5.0, 2.0, 0.7, 1000.0, 3.0, 0.25};
		static const double lgd[] = {7.832014180505468990748, 4.602667055769972837675,
			1.759656682629590970469, 7293.703024845083462122, 69.07755279012137052051,
			6.561181688701789397345};
		static const double dgd[] = {1.092857142857142857143, 0.2005012531328320802005,
			0.05666439665700304401323, 0.6933972430599374969211, 2.99999999970000000005e-10,
			1.0000000000015e-12};
		int			i;

		for (i = 0; i < 6; i++)
		{
			char		name[80];

			snprintf(name, sizeof(name), "lgamma(%g + %g) - lgamma(%g)", y[i], x[i], y[i]);
			CHECK_CLOSE(name, hvc_lgamma_diff(y[i], x[i]), lgd[i], 0, 1e-13);
			snprintf(name, sizeof(name), "digamma(%g + %g) - digamma(%g)", y[i], x[i], y[i]);
			CHECK_CLOSE(name, hvc_digamma_diff(y[i], x[i]), dgd[i], 0, 1e-13);
		}
		CHECK(hvc_lgamma_diff(5.0, 0.0) == 0.0 && hvc_digamma_diff(5.0, 0.0) == 0.0 &&
			  isnan(hvc_lgamma_diff(0.0, 1.0)) && isnan(hvc_digamma_diff(1.0, -1.0)),
			  "lgamma and digamma differences: 0 for x = 0, NaN outside");
	}

	/* log-sum-exp family */
	CHECK_CLOSE("lse2(1000, 1000)", hvc_lse2(1000.0, 1000.0), 1000.0 + log(2.0), 0, 1e-15);
	CHECK(hvc_lse2(-INFINITY, -INFINITY) == -INFINITY, "lse2(-inf,-inf) = -inf");
	{
		double		a[3] = {-1000.0, -1001.0, -999.0};

		CHECK_CLOSE("lse of 3", hvc_lse(a, 3),
					-999.0 + log(1.0 + exp(-1.0) + exp(-2.0)), 0, 1e-15);
	}
	v = hvc_lse2_signed(log(5.0), 1, log(3.0), -1, &sg);
	CHECK(sg == 1 && fabs(v - log(2.0)) < 1e-15, "signed lse: 5 - 3 = 2 (sign %d)", sg);
	v = hvc_lse2_signed(log(3.0), 1, log(5.0), -1, &sg);
	CHECK(sg == -1 && fabs(v - log(2.0)) < 1e-15, "signed lse: 3 - 5 = -2 (sign %d)", sg);
	CHECK_CLOSE("log1pexp(800)", hvc_log1pexp(800.0), 800.0, 0, 1e-15);
	CHECK_CLOSE("log1pexp(-800)", hvc_log1pexp(-800.0), exp(-800.0), 0, 1e-12);
	CHECK_CLOSE("log1pexp(0.3)", hvc_log1pexp(0.3), log1p(exp(0.3)), 0, 1e-15);
	CHECK_CLOSE("expit(-40)", hvc_expit(-40.0), exp(-40.0) / (1 + exp(-40.0)), 0, 1e-14);
	CHECK_CLOSE("expit(40)", hvc_expit(40.0), 1.0, 0, 1e-15);

	/* 2F1: closed forms */
	CHECK_CLOSE("2F1(1,1;2;0.7) = -ln(0.3)/0.7",
				exp(hvc_log_hyp2f1(1, 1, 2, 0.7, &sg)), -log(0.3) / 0.7, 0, 1e-14);
	CHECK_CLOSE("ln 2F1(2.5,b;b;0.99) = -2.5 ln(0.01)",
				hvc_log_hyp2f1(2.5, 3.3, 3.3, 0.99, &sg), -2.5 * log(0.01), 0, 1e-12);
	CHECK_CLOSE("ln 2F1(0.243,2.426;2.219;0.6)",
				hvc_log_hyp2f1(0.243, 2.426, 2.219, 0.6, &sg),
				0.25077774401361094715286960878, 0, 1e-13);
	/* huge parameters: direct series impractical, Euler transformation used */
	CHECK_CLOSE("ln 2F1 with x = 20000 (Euler)",
				hvc_log_hyp2f1(20000.243, 20002.426, 20002.219,
							   39.0 / (4.414 + 39 + 39), &sg),
				12819.7555415849181654158029619, 0, 1e-12);
	CHECK_CLOSE("ln 2F1(300.5,2.5;1.5;0.95)",
				hvc_log_hyp2f1(300.5, 2.5, 1.5, 0.95, &sg),
				908.462232513530724230347203643, 0, 1e-12);
	/* terms of both signs, negative result */
	v = hvc_log_hyp2f1(1, -1.5, 0.3, 0.9, &sg);
	CHECK(sg == -1 && fabs(exp(v) - 1.31618915237220607220416914512) < 1e-12,
		  "2F1(1,-1.5;0.3;0.9) = -1.3161891524 (sign %d, |value| %.12g)", sg, exp(v));
	v = hvc_log_hyp2f1(0.5, -0.207, -0.6, 0.7, &sg);
	CHECK(sg == 1 && fabs(exp(v) - 1.56266024422366391282660408848) < 1e-12,
		  "2F1(0.5,-0.207;-0.6;0.7) = 1.5626602442 (sign %d, value %.12g)", sg, exp(v));
	CHECK(isnan(hvc_log_hyp2f1(1, 1, -2.0, 0.5, &sg)) && sg == 0,
		  "2F1 with c a non-positive integer gives NaN");
	CHECK(isnan(hvc_log_hyp2f1(1, 1, 2, 1.0, &sg)), "2F1 at z = 1 gives NaN");

	/* G(b,c,z) = 2F1(1,b;c;z) and its analytic derivatives */
	CHECK(hvc_hyp2f1_1bc(2.3, 5.1, 0.8, 0, out) == 0, "hyp2f1_1bc converges");
	CHECK_CLOSE("G(2.3,5.1,0.8) vs 2F1", out[0],
				exp(hvc_log_hyp2f1(1, 2.3, 5.1, 0.8, NULL)), 0, 1e-13);
	{
		double		p[4], m[4], hh = 1e-5;

		hvc_hyp2f1_1bc(2.3 + hh, 5.1, 0.8, 0, p);
		hvc_hyp2f1_1bc(2.3 - hh, 5.1, 0.8, 0, m);
		CHECK_CLOSE("dG/db", out[1], (p[0] - m[0]) / (2 * hh), 0, 1e-7);
		hvc_hyp2f1_1bc(2.3, 5.1 + hh, 0.8, 0, p);
		hvc_hyp2f1_1bc(2.3, 5.1 - hh, 0.8, 0, m);
		CHECK_CLOSE("dG/dc", out[2], (p[0] - m[0]) / (2 * hh), 0, 1e-7);
		hvc_hyp2f1_1bc(2.3, 5.1, 0.8 + hh, 0, p);
		hvc_hyp2f1_1bc(2.3, 5.1, 0.8 - hh, 0, m);
		CHECK_CLOSE("dG/dz", out[3], (p[0] - m[0]) / (2 * hh), 0, 1e-7);
	}
	CHECK(hvc_hyp2f1_1bc(2.0, 1.0, 0.5, 0, out) == -1, "hyp2f1_1bc rejects b > c");
}
