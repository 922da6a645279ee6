/*
 * specfun.c — special functions for the hvc numerical core (own implementation).
 */
#include "specfun.h"

#include <math.h>

double
hvc_lse2(double a, double b)
{
	double m;

	if (isnan(a) || isnan(b))
		return NAN;
	m = a > b ? a : b;
	if (m == -INFINITY)
		return -INFINITY;
	if (m == INFINITY)
		return INFINITY;
	return m + log1p(exp(-fabs(a - b)));
}

double
hvc_lse(const double *v, size_t n)
{
	double m = -INFINITY, s = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
	{
		if (isnan(v[i]))
			return NAN;
		if (v[i] > m)
			m = v[i];
	}
	if (m == -INFINITY || m == INFINITY)
		return m;
	for (i = 0; i < n; i++)
		s += exp(v[i] - m);
	return m + log(s);
}

double
hvc_lse2_signed(double la, int sa, double lb, int sb, int *sign)
{
	double t, d;
	int ts;

	if (isnan(la) || isnan(lb))
	{
		*sign = 0;
		return NAN;
	}
	if (la < lb)
	{
		t = la; la = lb; lb = t;
		ts = sa; sa = sb; sb = ts;
	}
	if (la == -INFINITY)
	{
		*sign = 0;
		return -INFINITY;
	}
	d = lb - la;				/* <= 0 */
	if (sa == sb)
	{
		*sign = sa;
		return la + log1p(exp(d));
	}
	if (d == 0.0)
	{
		*sign = 0;
		return -INFINITY;
	}
	*sign = sa;
	return la + log(-expm1(d));
}

double
hvc_log1pexp(double x)
{
	if (x > 0.0)
		return x + log1p(exp(-x));
	return log1p(exp(x));
}

double
hvc_expit(double x)
{
	double e;

	if (x >= 0.0)
		return 1.0 / (1.0 + exp(-x));
	e = exp(x);
	return e / (1.0 + e);
}

double
hvc_lgamma(double x)
{
	return lgamma(x);
}

double
hvc_digamma(double x)
{
	double acc = 0.0, f, t;

	if (isnan(x) || x == -INFINITY)
		return NAN;
	if (x == INFINITY)
		return INFINITY;
	if (x <= 0.0)
	{
		if (x == floor(x))
			return NAN;			/* pole */
		/* reflection: psi(x) = psi(1-x) - pi / tan(pi x) */
		return hvc_digamma(1.0 - x) - HVC_PI / tan(HVC_PI * x);
	}
	while (x < 10.0)
	{
		acc -= 1.0 / x;
		x += 1.0;
	}
	f = 1.0 / (x * x);
	/* -sum_k B_{2k} / (2k x^{2k}), k = 1..6 */
	t = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240
			+ f * (-1.0 / 132 + f * (691.0 / 32760))))));
	return acc + log(x) - 0.5 / x + t;
}

double
hvc_lgamma_stirling_rem(double y)
{
	double		r, r2;

	if (!(y > 0.0))
		return NAN;
	if (y == INFINITY)
		return 0.0;
	if (y < 10.0)
		return lgamma(y) - ((y - 0.5) * log(y) - y + 0.5 * log(2.0 * HVC_PI));
	r = 1.0 / y;
	r2 = r * r;
	/* sum_k B_{2k} / (2k (2k-1) y^{2k-1}), k = 1..7 */
	return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680
			- r2 * (1.0 / 1188 - r2 * (691.0 / 360360 - r2 / 156))))));
}

double
hvc_log_minus_digamma(double y)
{
	double		f;

	if (!(y > 0.0))
		return NAN;
	if (y == INFINITY)
		return 0.0;
	if (y < 10.0)
		return log(y) - hvc_digamma(y);
	f = 1.0 / (y * y);
	/* 1 / (2y) + sum_k B_{2k} / (2k y^{2k}), k = 1..7 (hvc_digamma's series, one more term) */
	return 0.5 / y + f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240
			- f * (1.0 / 132 - f * (691.0 / 32760 - f / 12))))));
}

double
hvc_lgamma_diff(double y, double x)
{
	if (!(y > 0.0) || !(x >= 0.0) || isinf(y) || isinf(x))
		return NAN;
	if (x == 0.0)
		return 0.0;
	if (y < 10.0)
		return lgamma(y + x) - lgamma(y);
	return (y - 0.5) * log1p(x / y) + x * log(y + x) - x
		+ hvc_lgamma_stirling_rem(y + x) - hvc_lgamma_stirling_rem(y);
}

/* -sum_k B_{2k} / (2k z^{2k}), k = 1..7: hvc_digamma's tail and one more term, z >= 10 */
static double
digamma_tail(double z)
{
	const double f = 1.0 / (z * z);

	return f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240
			+ f * (-1.0 / 132 + f * (691.0 / 32760 - f / 12))))));
}

double
hvc_digamma_diff(double y, double x)
{
	if (!(y > 0.0) || !(x >= 0.0) || isinf(y) || isinf(x))
		return NAN;
	if (x == 0.0)
		return 0.0;
	if (y < 10.0)
		return hvc_digamma(y + x) - hvc_digamma(y);
	return log1p(x / y) + x / (2.0 * y * (y + x)) + (digamma_tail(y + x) - digamma_tail(y));
}

/* ---------------------------------------------------------------------- */
/* Gauss hypergeometric series                                             */

#define H2F1_OK          0
#define H2F1_NOCONV      1
#define H2F1_BAD         (-1)

/*
 * Sum the series of 2F1(a,b;c;z) with periodic rescaling (by 2^-800) so that
 * neither the terms nor the partial sum overflow.  On success stores
 * ln|sum|, its sign and the cancellation ratio max|term| / |sum|.
 */
static int
h2f1_series(double a, double b, double c, double z, long maxterms,
			double *lg, int *sg, double *cancel)
{
	const double big = 6.668014432879854e+240;	/* 2^800 */
	const double small = 1.499696813895631e-241;	/* 2^-800 */
	double sum = 1.0, term = 1.0, tmax = 1.0, lscale = 0.0;
	double kmin;
	long k;

	/* below this index the term ratio may still change sign / not be monotone */
	kmin = 0.0;
	if (-a > kmin) kmin = -a;
	if (-b > kmin) kmin = -b;
	if (-c > kmin) kmin = -c;
	kmin += 2.0;

	for (k = 0; k < maxterms; k++)
	{
		double ck = c + (double) k, ratio, R;

		if (ck == 0.0)
			return H2F1_BAD;	/* pole of (c)_k */
		ratio = ((a + (double) k) / ck) * ((b + (double) k) / ((double) k + 1.0)) * z;
		term *= ratio;
		sum += term;
		if (fabs(term) > tmax)
			tmax = fabs(term);
		if (term == 0.0)
			break;				/* terminating series or underflow */
		R = fabs(ratio);
		if (R < z)
			R = z;
		if ((double) k >= kmin && R < 1.0 &&
			fabs(term) * R <= 1e-17 * (1.0 - R) * fabs(sum))
			break;
		if (fabs(term) > big || fabs(sum) > big)
		{
			term *= small;
			sum *= small;
			tmax *= small;
			lscale += 800.0 * HVC_LN2;
		}
		if (!isfinite(sum) || !isfinite(term))
			return H2F1_NOCONV;
	}
	if (k >= maxterms)
		return H2F1_NOCONV;
	if (sum == 0.0)
	{
		*sg = 0;
		*lg = -INFINITY;
		*cancel = INFINITY;
		return H2F1_OK;
	}
	*sg = sum > 0.0 ? 1 : -1;
	*lg = log(fabs(sum)) + lscale;
	*cancel = tmax / fabs(sum);
	return H2F1_OK;
}

/*
 * Step 1 of hvc_log_hyp2f1 (the direct series, 5000 terms) for n values of
 * z at once: the z-free factor of each term ratio, ((a+k)/(c+k)) *
 * ((b+k)/(k+1)) (two divisions), is computed once per k for all of them;
 * every z then goes through exactly the operations of h2f1_series (same
 * order, same stopping rule, same rescaling), so each result is
 * bit-identical to h2f1_series(a, b, c, z[j], 5000, ...).  st[j] gets the
 * status, lg/sg/cancel[j] the results on H2F1_OK.  At most H2F1_MULTI_MAX.
 */
#define H2F1_MULTI_MAX 64

static void
h2f1_series_multi(double a, double b, double c, const double *z, int n,
				  int *st, double *lg, int *sg, double *cancel)
{
	const double big = 6.668014432879854e+240;	/* 2^800 */
	const double small = 1.499696813895631e-241;	/* 2^-800 */
	const long	maxterms = 5000;
	double		sum[H2F1_MULTI_MAX], term[H2F1_MULTI_MAX], tmax[H2F1_MULTI_MAX],
				lscale[H2F1_MULTI_MAX];
	int			active[H2F1_MULTI_MAX];
	double		kmin;
	long		k;
	int			j, left = 0;

	kmin = 0.0;
	if (-a > kmin) kmin = -a;
	if (-b > kmin) kmin = -b;
	if (-c > kmin) kmin = -c;
	kmin += 2.0;
	for (j = 0; j < n; j++)
	{
		sum[j] = term[j] = tmax[j] = 1.0;
		lscale[j] = 0.0;
		active[j] = 1;
		st[j] = H2F1_NOCONV;
		left++;
	}
	for (k = 0; k < maxterms && left > 0; k++)
	{
		double		ck = c + (double) k, q;

		if (ck == 0.0)
		{
			for (j = 0; j < n; j++)
				if (active[j])
					st[j] = H2F1_BAD;
			return;
		}
		q = ((a + (double) k) / ck) * ((b + (double) k) / ((double) k + 1.0));
		for (j = 0; j < n; j++)
		{
			double		ratio, R;

			if (!active[j])
				continue;
			ratio = q * z[j];
			term[j] *= ratio;
			sum[j] += term[j];
			if (fabs(term[j]) > tmax[j])
				tmax[j] = fabs(term[j]);
			R = fabs(ratio);
			if (R < z[j])
				R = z[j];
			if (term[j] == 0.0 ||
				((double) k >= kmin && R < 1.0 &&
				 fabs(term[j]) * R <= 1e-17 * (1.0 - R) * fabs(sum[j])))
			{
				st[j] = H2F1_OK;
				active[j] = 0;
				left--;
				continue;
			}
			if (fabs(term[j]) > big || fabs(sum[j]) > big)
			{
				term[j] *= small;
				sum[j] *= small;
				tmax[j] *= small;
				lscale[j] += 800.0 * HVC_LN2;
			}
			if (!isfinite(sum[j]) || !isfinite(term[j]))
			{
				st[j] = H2F1_NOCONV;
				active[j] = 0;
				left--;
			}
		}
	}
	for (j = 0; j < n; j++)
	{
		if (st[j] != H2F1_OK)
			continue;
		if (sum[j] == 0.0)
		{
			sg[j] = 0;
			lg[j] = -INFINITY;
			cancel[j] = INFINITY;
			continue;
		}
		sg[j] = sum[j] > 0.0 ? 1 : -1;
		lg[j] = log(fabs(sum[j])) + lscale[j];
		cancel[j] = tmax[j] / fabs(sum[j]);
	}
}

void
hvc_log_hyp2f1_many(double a, double b, double c, const double *z, int n,
					double *out, int *sign)
{
	int			st[H2F1_MULTI_MAX], sg[H2F1_MULTI_MAX], idx[H2F1_MULTI_MAX];
	double		lg[H2F1_MULTI_MAX], can[H2F1_MULTI_MAX], zz[H2F1_MULTI_MAX];
	int			j, m = 0;

	/* the z that step 1 of hvc_log_hyp2f1 sums (the others: one by one) */
	for (j = 0; j < n; j++)
	{
		if (isnan(a) || isnan(b) || isnan(c) || !(z[j] > 0.0 && z[j] < 1.0) ||
			(c <= 0.0 && c == floor(c)) || m >= H2F1_MULTI_MAX)
			out[j] = hvc_log_hyp2f1(a, b, c, z[j], &sign[j]);
		else
		{
			idx[m] = j;
			zz[m++] = z[j];
		}
	}
	if (m == 0)
		return;
	h2f1_series_multi(a, b, c, zz, m, st, lg, sg, can);
	for (j = 0; j < m; j++)
	{
		if (st[j] == H2F1_OK && can[j] <= 1e4 && isfinite(lg[j]))
		{
			out[idx[j]] = lg[j];
			sign[idx[j]] = sg[j];
		}
		else
			out[idx[j]] = hvc_log_hyp2f1(a, b, c, zz[j], &sign[idx[j]]);
	}
}

double
hvc_log_hyp2f1(double a, double b, double c, double z, int *sign)
{
	double lg1 = NAN, lg2 = NAN, can1 = INFINITY, can2 = INFINITY;
	int s1 = 0, s2 = 0, st1, st2, dummy;
	double l1mz;

	if (sign == NULL)
		sign = &dummy;
	*sign = 0;
	if (isnan(a) || isnan(b) || isnan(c) || !(z >= 0.0 && z < 1.0))
		return NAN;
	if (c <= 0.0 && c == floor(c))
		return NAN;
	if (z == 0.0)
	{
		*sign = 1;
		return 0.0;
	}

	/* 1. direct series, bounded effort */
	st1 = h2f1_series(a, b, c, z, 5000, &lg1, &s1, &can1);
	if (st1 == H2F1_OK && can1 <= 1e4 && isfinite(lg1))
	{
		*sign = s1;
		return lg1;
	}

	/* 2. Euler transformation */
	l1mz = log1p(-z);
	st2 = h2f1_series(c - a, c - b, c, z, 200000, &lg2, &s2, &can2);
	if (st2 == H2F1_OK)
		lg2 += (c - a - b) * l1mz;
	if (st2 == H2F1_OK && can2 <= 1e4 && isfinite(lg2))
	{
		*sign = s2;
		return lg2;
	}

	/* 3. direct series with a large budget if it merely ran out of terms */
	if (st1 == H2F1_NOCONV)
		st1 = h2f1_series(a, b, c, z, 200000, &lg1, &s1, &can1);

	/* best effort: the converged candidate with less cancellation */
	if (st1 == H2F1_OK && (st2 != H2F1_OK || can1 <= can2) && !isnan(lg1))
	{
		*sign = s1;
		return lg1;
	}
	if (st2 == H2F1_OK && !isnan(lg2))
	{
		*sign = s2;
		return lg2;
	}
	return NAN;
}

/*
 * G(b,c,z) = 2F1(1,b;c;z) and its partials by Gauss's continued fraction
 * (DLMF 15.7.5 with a = b, b = 0, c = c-1):  c' / G = D,
 *   D = t0 - u1 z / (t1 - u2 z / (t2 - ...)),  c' = c - 1, t_n = c' + n,
 *   u_{2m+1} = (b+m)(c'+m),  u_{2m} = m(c'-b+m).
 * For c > b > 0 all u_n are positive (a Stieltjes fraction), and it converges
 * at the rate 1 - sqrt(1-z) per level: O(1/sqrt(1-z)) levels where the
 * power series needs O(1/(1-z)) terms.  The convergents A_n/B_n and their
 * partials by (b, c) come from the forward (Wallis) recurrences; dG/dz from
 * G (below).
 */
#define HYP2F1_CF_FROM	0.5

static int
hyp2f1_1bc_cf(double b, double c, double z, long maxterms, double out[4])
{
	const double cp = c - 1.0;
	/*
	 * Stop when two successive levels change D by less than tolv (its
	 * partials by less than told): with a per-level ratio of about
	 * 1 - sqrt(1-z) the remaining error is about the step / sqrt(1-z).  The
	 * floors stay above the rounding noise of the recurrences (which slowly
	 * random-walks once converged).
	 */
	const double tolv = fmax(1e-15 * sqrt(1.0 - z), 2e-15), told = 10.0 * tolv;
	/* convergents A/B (value) and their partials by b (Ab, Bb) and c (Ac, Bc) */
	double		A = cp, Ab = 0.0, Ac = 1.0, B = 1.0, Bb = 0.0, Bc = 0.0;
	double		Am = 1.0, Abm = 0.0, Acm = 0.0, Bm = 0.0, Bbm = 0.0, Bcm = 0.0;
	double		D = cp, Db = 0.0, Dc = 1.0;
	long		n;
	int			quiet = 0;

	for (n = 1; n <= maxterms; n++)
	{
		const double m = (double) (n / 2), tn = cp + (double) n;
		double		w, wb, wc, t, inv, Dp = D, Dbp = Db, Dcp = Dc;

		if (n & 1)
		{
			w = (b + m) * (cp + m) * z;
			wb = (cp + m) * z;	/* d(u z)/db */
			wc = (b + m) * z;	/* d(u z)/dc */
		}
		else
		{
			w = m * (cp - b + m) * z;
			wb = -m * z;
			wc = m * z;
		}
		/* X_n = t_n X_{n-1} - w X_{n-2}, differentiated (dt_n/dc = 1) */
		t = tn * Ab - w * Abm - wb * Am;
		Abm = Ab;
		Ab = t;
		t = tn * Ac - w * Acm - wc * Am + A;
		Acm = Ac;
		Ac = t;
		t = tn * A - w * Am;
		Am = A;
		A = t;
		t = tn * Bb - w * Bbm - wb * Bm;
		Bbm = Bb;
		Bb = t;
		t = tn * Bc - w * Bcm - wc * Bm + B;
		Bcm = Bc;
		Bc = t;
		t = tn * B - w * Bm;
		Bm = B;
		B = t;
		if (!(B > 0.0) || !isfinite(A))
			return -1;
		if (B > 1e150)
		{
			A *= 1e-150;
			Ab *= 1e-150;
			Ac *= 1e-150;
			B *= 1e-150;
			Bb *= 1e-150;
			Bc *= 1e-150;
			Am *= 1e-150;
			Abm *= 1e-150;
			Acm *= 1e-150;
			Bm *= 1e-150;
			Bbm *= 1e-150;
			Bcm *= 1e-150;
		}
		inv = 1.0 / B;
		D = A * inv;
		Db = (Ab - D * Bb) * inv;
		Dc = (Ac - D * Bc) * inv;
		if (fabs(D - Dp) <= tolv * D &&
			fabs(Db - Dbp) <= told * (fabs(Db) + D) &&
			fabs(Dc - Dcp) <= told * (fabs(Dc) + D))
		{
			if (++quiet >= 2)
				break;
		}
		else
			quiet = 0;
	}
	if (n > maxterms || !(D > 0.0) || !isfinite(D))
		return -1;
	out[0] = cp / D;
	out[1] = -out[0] * Db / D;
	out[2] = out[0] * (1.0 / cp - Dc / D);
	/*
	 * dG/dz from G itself (G = (c-1) z^{1-c} (1-z)^{c-b-1} B_z(c-1, b-c+1)):
	 * the z-partial of the convergents is badly conditioned.
	 */
	out[3] = (cp * (1.0 - out[0] * (1.0 - z)) - out[0] * (cp - b) * z) /
		(z * (1.0 - z));
	return 0;
}

int
hvc_hyp2f1_1bc(double b, double c, double z, long maxterms, double out[4])
{
	double G = 1.0, Gb = 0.0, Gc = 0.0, Gz = 0.0, term = 1.0;
	double hb = 0.0, hc = 0.0, omz;
	long k;

	if (maxterms <= 0)
		maxterms = 200000;
	if (!(z >= 0.0 && z < 1.0) || !(b > 0.0) || !(c >= b) || !isfinite(c))
		return -1;
	omz = 1.0 - z;
	/*
	 * Near z = 1 the series needs O(1/(1-z)) terms (thousands per customer
	 * at beta/alpha ~ 100 in the Pareto/NBD); the continued fraction
	 * O(1/sqrt(1-z)).
	 */
	if (z > HYP2F1_CF_FROM && c > b && c > 1.0)
		return hyp2f1_1bc_cf(b, c, z, maxterms, out);
	for (k = 1; k <= maxterms; k++)
	{
		double bk = b + (double) (k - 1), ck = c + (double) (k - 1);
		double q = bk / ck, hm;

		Gz += (double) k * term * q;	/* d/dz T_k = k T_{k-1} (b+k-1)/(c+k-1) */
		term *= q * z;
		hb += 1.0 / bk;
		hc += 1.0 / ck;
		G += term;
		Gb += term * hb;
		Gc -= term * hc;
		if (term == 0.0)
			break;
		hm = hb > hc ? hb : hc;
		/* tail bound: later ratios are <= z (b <= c) */
		if (term * (((double) k + 1.0) / omz + hm + 1.0) <= 1e-17 * omz * G)
			break;
	}
	if (k > maxterms)
		return -1;
	out[0] = G;
	out[1] = Gb;
	out[2] = Gc;
	out[3] = Gz;
	return 0;
}
