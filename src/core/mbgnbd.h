/*
 * mbgnbd.h — MBG/NBD model (Batislam, Denizel & Filiztekin 2007; lifetimes'
 * ModifiedBetaGeoFitter); see clv-models.md §2, §9.1.
 *
 * Like BG/NBD, but a customer may also drop out right after the first
 * purchase, so P(alive) < 1 even for frequency 0.  Times (t_x, T, t) are in
 * the caller's unit.  All functions return NaN for invalid parameters (not
 * all > 0 and finite) or invalid data (x < 0, t_x < 0, t_x > T, t < 0).  For
 * x == 0, t_x is ignored (taken as 0).
 */
#ifndef HVC_MBGNBD_H
#define HVC_MBGNBD_H

#include <stddef.h>

#include "btyd_data.h"
#include "optimizer.h"

typedef struct
{
	double		r, alpha, a, b;
} mbgnbd_params;

/*
 * 1 if all four parameters are finite and > 0, or at the no-dropout edge
 * (r, alpha finite and > 0, a == 0, b ignored: not identified, may be NaN).
 */
int			mbgnbd_params_valid(const mbgnbd_params *p);

/*
 * 1 at the edge a = 0 (clv-models.md §9.2): no dropout at all, every
 * function then uses the NBD limit (log-likelihood lnG(r+x) - lnG(r) +
 * r ln alpha - (r+x) ln(alpha+T), P(alive) = 1, E[Y(t)] = (r+x) t/(alpha+T),
 * E[X(t)] = r t/alpha), as bgnbd.c does.
 */
int			mbgnbd_at_edge(const mbgnbd_params *p);

/*
 * log-likelihood of one customer (§2, log-sum-exp form):
 *   lnG(r+x) - lnG(r) + r ln alpha + lnG(a+b) + lnG(b+x+1) - lnG(b)
 *   - lnG(a+b+x+1) + LSE(-(r+x) ln(alpha+T), ln a - ln(b+x) - (r+x) ln(alpha+t_x))
 */
double		mbgnbd_loglik_row(const mbgnbd_params *p, double x, double t_x, double T);

/* sum_i w_i * l_i over n rows (plain loop) */
double		mbgnbd_loglik(const mbgnbd_params *p, const btyd_row *rows, size_t n);

/*
 * Total weighted log-likelihood on prepared data; if grad is not NULL it
 * receives the analytic gradient w.r.t. (ln r, ln alpha, ln a, ln b).
 */
double		mbgnbd_loglik_prep(const btyd_prep *d, const mbgnbd_params *p,
							   double grad[4]);

/* P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) */
double		mbgnbd_p_alive(const mbgnbd_params *p, double x, double t_x, double T);

/* E[Y(t) | x, t_x, T]: expected purchases in (T, T+t] */
double		mbgnbd_expected_purchases(const mbgnbd_params *p, double t,
									  double x, double t_x, double T);

/* E[X(t)] for a new customer: b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))] */
double		mbgnbd_expected_purchases_new(const mbgnbd_params *p, double t);

/*
 * P0(tau) = P(no purchase in (T, T+tau] | x, t_x, T)  (§9.1)
 *         = (1 - P(alive)) + P(alive) ((alpha+T)/(alpha+T+tau))^(r+x)
 */
double		mbgnbd_p_no_purchase(const mbgnbd_params *p, double tau,
								 double x, double t_x, double T);

/*
 * Maximum-likelihood fit through hvc_btyd_fit() (fit_driver.c), exactly as
 * bgnbd_fit(): times rescaled by 1/max(T), start at all ones, alpha scaled
 * back; *loglik is on the caller's time scale.  Returns HVC_OK,
 * HVC_FIT_NOCONV or a negative HVC_E* code (parameters NaN).  When the
 * data show no dropout the answer is the edge a = 0, b NaN (rep->edge
 * "a->0"); rep->se holds the standard errors (fit_driver.c).
 */
int			mbgnbd_fit(const btyd_row *rows, size_t n, const hvc_fit_options *opt,
					   mbgnbd_params *out, double *loglik, hvc_opt_report *rep);

#endif							/* HVC_MBGNBD_H */
