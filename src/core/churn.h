/*
 * churn.h — P(no purchase in the next tau | x, t_x, T): the churn risk of
 * the BTYD models (clv-models.md §9.1; README "Churn risk").
 *
 * tau, t_x and T are in the model's time unit.  The functions return NaN for
 * invalid parameters or data (see bgnbd.h) and for tau < 0 or not finite;
 * P0(0) = 1.  For x == 0, t_x is ignored.
 */
#ifndef HVC_CHURN_H
#define HVC_CHURN_H

#include "bgnbd.h"
#include "clv.h"
#include "pareto_nbd.h"

/*
 * The common form of the models whose customers can only drop out right
 * after a purchase (BG/NBD, MBG/NBD): a customer alive at T waits an
 * exponential time with rate lambda for the next purchase, lambda | data,
 * alive ~ Gamma(shape, rate) with shape = r + x and rate = alpha + T, so
 *     P0(tau) = (1 - p_alive) + p_alive * (rate / (rate + tau))^shape.
 * Computed as 1 - p_alive * (1 - (1 + tau/rate)^-shape) without
 * cancellation.  NaN unless 0 <= p_alive <= 1, shape > 0, rate > 0.
 */
double		btyd_p0_gamma_exp(double p_alive, double shape, double rate, double tau);

/* BG/NBD: btyd_p0_gamma_exp(P(alive), r + x, alpha + T, tau) */
double		bgnbd_p_no_purchase(const bgnbd_params *p, double tau,
								double x, double t_x, double T);

/*
 * Pareto/NBD: P0(tau) = 1 - P(alive) * I with
 *     I = E[ lambda/(lambda+mu) (1 - e^{-(lambda+mu) tau}) | data, alive ]
 *       = int_0^tau E[lambda e^{-lambda u}] E[e^{-mu u}] du
 *       = int_0^tau A/B (B/(B+u))^(A+1) (C/(C+u))^s du,
 * A = r + x, B = alpha + T, C = beta + T (lambda ~ Gamma(A, B) and
 * mu ~ Gamma(s, C) independent given the data and being alive).  With
 * u = B (e^{w/A} - 1) the integral is
 *     I = int_0^{A ln(1+tau/B)} e^{-w} (1 + (B/C) expm1(w/A))^-s dw,
 * a smooth integrand bounded by e^{-w}; it is evaluated by adaptive
 * 10-point Gauss-Legendre to an absolute error of about 1e-13 (the range
 * is cut at w = 60, where e^{-w} < 1e-26).
 */
double		pnbd_p_no_purchase(const pnbd_params *p, double tau,
							   double x, double t_x, double T);

/* model dispatch (NaN for an unknown kind) */
double		hvc_model_p_no_purchase(const hvc_purchase_model *m, double tau,
									double x, double t_x, double T);

#endif							/* HVC_CHURN_H */
