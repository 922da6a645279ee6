/*
 * specfun.h — special functions for the hvc numerical core.
 *
 * Plain C99, no PostgreSQL dependencies.  All functions are pure and
 * thread-safe except that hvc_lgamma() calls the C library lgamma(), which
 * on some platforms writes the global `signgam` (harmless for hvc: it is only
 * called with positive arguments).
 */
#ifndef HVC_SPECFUN_H
#define HVC_SPECFUN_H

#include <stddef.h>

#define HVC_PI     3.14159265358979323846264338327950288
#define HVC_LN2    0.69314718055994530941723212145817657

/* ln(e^a + e^b) without overflow; -inf if both are -inf. */
double hvc_lse2(double a, double b);

/* ln(sum_i e^{v[i]}) for n >= 0 values (-inf for n == 0). */
double hvc_lse(const double *v, size_t n);

/*
 * Signed log-sum-exp: given magnitudes in log space la, lb and signs sa, sb
 * (+1 or -1), returns ln|sa e^la + sb e^lb| and stores its sign (+1, -1, or 0
 * for an exact zero, in which case -inf is returned) in *sign.
 */
double hvc_lse2_signed(double la, int sa, double lb, int sb, int *sign);

/* softplus: ln(1 + e^x), accurate for all x (x for large x, e^x for very negative x). */
double hvc_log1pexp(double x);

/* logistic function 1/(1+e^{-x}), accurate in both tails. */
double hvc_expit(double x);

/* ln|Gamma(x)| via the C library lgamma(). */
double hvc_lgamma(double x);

/*
 * Digamma psi(x) = d/dx ln Gamma(x): upward recurrence to x >= 10, then the
 * asymptotic (Stirling) series; reflection for x < 0.  NaN at the poles
 * x = 0, -1, -2, ...  Relative accuracy ~1e-15 away from the zero near 1.4616.
 */
double hvc_digamma(double x);

/*
 * Stirling's remainder lnGamma(y) - ((y - 1/2) ln y - y + ln(2 pi) / 2) and
 * ln y - psi(y), for y > 0: by their asymptotic series from y = 10 (no
 * cancellation: about 1 / (12 y) and 1 / (2 y), to ~1e-16 relative), else
 * from lgamma and hvc_digamma (whose sizes there are below 13).  NaN for
 * y <= 0 or NaN.
 */
double hvc_lgamma_stirling_rem(double y);
double hvc_log_minus_digamma(double y);

/*
 * lnGamma(y + x) - lnGamma(y) and psi(y + x) - psi(y) for y > 0, x >= 0,
 * without the cancellation of the two terms when y is large (a BTYD fit
 * whose a and b run to 10^10 at a fixed ratio: terms of 2e11 differing in
 * their units): from y = 10 by Stirling's series, (y - 1/2) ln(1 + x/y) +
 * x ln(y + x) - x + R(y + x) - R(y) and ln(1 + x/y) + x / (2 y (y + x)) plus
 * the difference of the series' tails; below, directly.  NaN outside.
 */
double hvc_lgamma_diff(double y, double x);
double hvc_digamma_diff(double y, double x);

/*
 * ln|2F1(a, b; c; z)| for 0 <= z < 1 (Gauss hypergeometric function).
 *
 * Computed in log space (the partial sums are rescaled, so huge intermediate
 * terms never overflow).  Strategy: the direct series sum_k (a)_k(b)_k/((c)_k k!) z^k
 * is used when it converges within a bounded number of terms without severe
 * cancellation; otherwise the Euler transformation
 *     ln 2F1(a,b;c;z) = ln 2F1(c-a, c-b; c; z) + (c-a-b) ln(1-z)
 * is used.  Terms of either sign are handled: the sign of 2F1 (+1 / -1, or 0
 * if it is exactly zero, then -inf is returned) is stored in *sign (which may
 * be NULL if the caller knows the result is positive).
 * Returns NaN (and *sign = 0) if z is outside [0,1), if c is a non-positive
 * integer, or if neither series converges.
 */
double hvc_log_hyp2f1(double a, double b, double c, double z, int *sign);
/*
 * hvc_log_hyp2f1 for n values of z with the same a, b, c: out[j] and
 * sign[j] are bit-identical to hvc_log_hyp2f1(a, b, c, z[j], &sign[j]);
 * the direct series shares its z-free factors between them.
 */
void hvc_log_hyp2f1_many(double a, double b, double c, const double *z, int n,
						 double *out, int *sign);

/*
 * G(b, c, z) = 2F1(1, b; c; z) = sum_k (b)_k/(c)_k z^k for 0 <= z < 1 and
 * 0 < b <= c (the case arising in the Pareto/NBD likelihood after the Euler
 * transformation; then every term is positive and the term ratio is < z).
 * On success returns 0 and fills out[0] = G, out[1] = dG/db, out[2] = dG/dc,
 * out[3] = dG/dz.  For z <= 1/2 (or c <= 1) by the series, differentiated
 * term by term; beyond by Gauss's continued fraction, which needs
 * O(1/sqrt(1-z)) levels where the series needs O(1/(1-z)) terms (relative
 * accuracy 1e-12 and dG/dz 1e-10 of |G| + |dG/dz| at 1-z = 1e-4).  Returns -1 if the
 * arguments are invalid or the series / fraction did not converge in
 * `maxterms` terms / levels (0 = default 200000).
 */
int hvc_hyp2f1_1bc(double b, double c, double z, long maxterms, double out[4]);

#endif /* HVC_SPECFUN_H */
