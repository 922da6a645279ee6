/*
 * bgnbd.h — BG/NBD model (Fader, Hardie & Lee 2005); see clv-models.md §1.
 *
 * Times (t_x, T, t) are in the caller's unit.  All functions return NaN for
 * invalid parameters (not all > 0 and finite) or invalid data
 * (x < 0, t_x < 0, t_x > T, t < 0).  For x == 0, t_x is ignored.
 */
#ifndef HVC_BGNBD_H
#define HVC_BGNBD_H

#include <stddef.h>

#include "btyd_data.h"
#include "optimizer.h"

typedef struct
{
	double		r, alpha, a, b;
} bgnbd_params;

/*
 * 1 if all four parameters are finite and > 0, or at the no-dropout edge
 * (r, alpha finite and > 0, a == 0, b ignored: not identified, may be NaN).
 */
int			bgnbd_params_valid(const bgnbd_params *p);

/*
 * 1 at the edge a = 0 (clv-models.md §9.2): every function then uses the
 * NBD limit: log-likelihood lnG(r+x) - lnG(r) + r ln alpha - (r+x) ln(alpha+T),
 * P(alive) = 1, E[Y(t)] = (r+x) t / (alpha+T), E[X(t)] = r t / alpha.
 */
int			bgnbd_at_edge(const bgnbd_params *p);

/* log-likelihood of one customer (stable log-sum-exp form, §1.1) */
double		bgnbd_loglik_row(const bgnbd_params *p, double x, double t_x, double T);

/* sum_i w_i * l_i over n rows (plain loop, no compression) */
double		bgnbd_loglik(const bgnbd_params *p, const btyd_row *rows, size_t n);

/*
 * Fast path on prepared data: total weighted log-likelihood; if grad is not
 * NULL it receives the analytic gradient w.r.t. (ln r, ln alpha, ln a, ln b).
 */
double		bgnbd_loglik_prep(const btyd_prep *d, const bgnbd_params *p,
							  double grad[4]);

/* P(alive | x, t_x, T)  (§1.2); 1 for x == 0 */
double		bgnbd_p_alive(const bgnbd_params *p, double x, double t_x, double T);

/*
 * E[Y(t) | x, t_x, T]: expected purchases in (T, T+t]  (§1.4).  Uses the
 * Euler-transformed 2F1 when the direct series does not converge, so stays
 * finite for very large x.
 */
double		bgnbd_expected_purchases(const bgnbd_params *p, double t,
									 double x, double t_x, double T);

/* E[X(t)] for a new customer (§1.3) */
/*
 * bgnbd_expected_purchases for n horizons t[0..n-1] at once (the months of
 * a CLV): out[j] is bit-identical to bgnbd_expected_purchases(p, t[j], ...).
 */
void		bgnbd_expected_purchases_many(const bgnbd_params *p, const double *t, int n,
										  double x, double t_x, double T, double *out);
/*
 * The 2F1 part of E[Y(t) | x, t_x, T] for n horizons t[] (at most
 * BGNBD_BRACKETS_MAX), which depends on x and T only: computed once per
 * (x, T) and finished per customer by bgnbd_expected_from_brackets, whose
 * out[j] is bit-identical to bgnbd_expected_purchases(p, t[j], x, t_x, T).
 * bgnbd_brackets_compute returns 0 (nothing computed) for invalid
 * parameters or data, the edges, or n out of range: use
 * bgnbd_expected_purchases then.
 */
#define BGNBD_BRACKETS_MAX 64
typedef struct bgnbd_brackets
{
	int			n;
	int			near_one;		/* a within 1e-6 of 1: lo (a = 1 - h) and hi (a = 1 + h) */
	double		lo[BGNBD_BRACKETS_MAX];
	double		hi[BGNBD_BRACKETS_MAX];
} bgnbd_brackets;
int			bgnbd_brackets_compute(const bgnbd_params *p, const double *t, int n, double x,
								   double T, bgnbd_brackets *out);
void		bgnbd_expected_from_brackets(const bgnbd_params *p, const double *t, int n, double x,
										 double t_x, double T, const bgnbd_brackets *br,
										 double *out);
double		bgnbd_expected_purchases_new(const bgnbd_params *p, double t);

/*
 * Maximum-likelihood fit.  rows are not modified (copied, validated and
 * compressed internally; every row must pass btyd_row_valid()).  Like
 * lifetimes, times are rescaled by 1/max(T) during the fit, starting from
 * r = alpha = a = b = 1, and alpha is scaled back.  On return *out holds the
 * parameters on the caller's time scale, *loglik (may be NULL) the total
 * weighted log-likelihood on the caller's time scale (the paper's LL), and
 * *rep (may be NULL) the optimiser report.  opt may be NULL (defaults).
 * Returns HVC_OK, HVC_FIT_NOCONV or a negative HVC_E* code.
 */
int			bgnbd_fit(const btyd_row *rows, size_t n, const hvc_fit_options *opt,
					  bgnbd_params *out, double *loglik, hvc_opt_report *rep);

/* same, on already prepared data */
int			bgnbd_fit_prep(const btyd_prep *d, const hvc_fit_options *opt,
						   bgnbd_params *out, double *loglik, hvc_opt_report *rep);

#endif							/* HVC_BGNBD_H */
