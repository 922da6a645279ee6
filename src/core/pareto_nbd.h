/*
 * pareto_nbd.h — Pareto/NBD model (Schmittlein, Morrison & Colombo 1987;
 * Fader & Hardie note 009); see clv-models.md §3.
 *
 * Times (t_x, T, t) are in the caller's unit.  Functions return NaN for
 * invalid parameters or data (see bgnbd.h).  For x == 0, t_x is taken as 0.
 *
 * Numerical notes: both 2F1 values of the likelihood are evaluated through
 * the Euler transformation, 2F1(rho, m2; rho+1; z) = (1-z)^(1-m2) *
 * 2F1(1, rho+1-m2; rho+1; z), z = |alpha-beta| / (max(alpha,beta) + t),
 * with fully analytic partial derivatives (no finite differences): by its
 * series (positive terms, O(1/(1-z)) of them) for z <= 1/2, beyond by
 * Gauss's continued fraction (a Stieltjes fraction here, O(1/sqrt(1-z))
 * levels: about 500 at beta/alpha = 1000).  Evaluation fails (NaN) only
 * when max/min of (alpha, beta) is beyond ~1e8.
 */
#ifndef HVC_PARETO_NBD_H
#define HVC_PARETO_NBD_H

#include <stddef.h>

#include "btyd_data.h"
#include "optimizer.h"

typedef struct
{
	double		r, alpha, s, beta;
} pnbd_params;

/*
 * 1 if all four parameters are finite and > 0, or at the no-dropout edge
 * s == 0 (beta ignored: not identified, may be NaN).
 */
int			pnbd_params_valid(const pnbd_params *p);

/*
 * 1 at the edge s = 0 (clv-models.md §9.2): every function then uses the
 * NBD limit (see bgnbd_at_edge).
 */
int			pnbd_at_edge(const pnbd_params *p);

/* log-likelihood of one customer (§3.1) */
double		pnbd_loglik_row(const pnbd_params *p, double x, double t_x, double T);

/* sum_i w_i * l_i (plain loop) */
double		pnbd_loglik(const pnbd_params *p, const btyd_row *rows, size_t n);

/*
 * Fast path on prepared data: total weighted LL; if grad != NULL the
 * analytic gradient w.r.t. (ln r, ln alpha, ln s, ln beta).
 */
double		pnbd_loglik_prep(const btyd_prep *d, const pnbd_params *p,
							 double grad[4]);

/* P(alive | x, t_x, T) (§3.2) */
double		pnbd_p_alive(const pnbd_params *p, double x, double t_x, double T);

/* E[Y(t) | x, t_x, T] (§3.3) */
double		pnbd_expected_purchases(const pnbd_params *p, double t,
									double x, double t_x, double T);

/* E[X(t)] for a new customer (§3.3) */
double		pnbd_expected_purchases_new(const pnbd_params *p, double t);

/*
 * Maximum-likelihood fit (times rescaled by 1/max(T) during the fit, start
 * r = alpha = s = beta = 1; alpha and beta scaled back).  Same contract as
 * bgnbd_fit().
 */
int			pnbd_fit(const btyd_row *rows, size_t n, const hvc_fit_options *opt,
					 pnbd_params *out, double *loglik, hvc_opt_report *rep);
int			pnbd_fit_prep(const btyd_prep *d, const hvc_fit_options *opt,
						  pnbd_params *out, double *loglik, hvc_opt_report *rep);

#endif							/* HVC_PARETO_NBD_H */
