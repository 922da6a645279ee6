/*
 * gamma_gamma.h — Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader &
 * Hardie note 025); see clv-models.md §5.  Parameters p, q, v (v = gamma).
 *
 * Only customers with x > 0 and m > 0 carry information on spend: rows with
 * x <= 0 or m <= 0 are skipped by the likelihood functions and the fit.
 */
#ifndef HVC_GAMMA_GAMMA_H
#define HVC_GAMMA_GAMMA_H

#include <stddef.h>

#include "btyd_data.h"
#include "optimizer.h"

typedef struct
{
	double		p, q, v;
} gg_params;

int			gg_params_valid(const gg_params *g);

/* log-likelihood of one customer (NaN unless x > 0 and m > 0) */
double		gg_loglik_row(const gg_params *g, double x, double m);

/* sum_i w_i l_i over rows with x > 0 and m > 0 (plain loop) */
double		gg_loglik(const gg_params *g, const gg_row *rows, size_t n);

/* prepared (compressed, grouped by x) Gamma-Gamma data */
typedef struct
{
	size_t		n;				/* distinct usable rows */
	double	   *w;				/* [n] weights */
	double	   *xm;				/* [n] x * m */
	double	   *ixm;			/* [n] 1 / (x * m) */
	size_t		ngroups;
	size_t	   *gstart;			/* [ngroups+1] */
	double	   *gx;				/* [ngroups] x */
	double	   *gw;				/* [ngroups] total weight */
	double	   *glx;			/* [ngroups] ln x */
	double	   *gslm;			/* [ngroups] sum of w ln m */
	double		wsum;			/* total weight of usable rows */
	double		mmean;			/* weighted mean of m */
	size_t		skipped;		/* input rows skipped (x <= 0 or m <= 0) */
} gg_prep;

/*
 * Build from n rows (copied; rows with x <= 0 or m <= 0 are skipped, rows
 * with non-finite values or w <= 0 are an error: HVC_EINVAL).  Returns
 * HVC_OK, HVC_EINVAL, HVC_ENOMEM or HVC_ENODATA (no usable row).
 */
int			gg_prep_init(gg_prep *d, const gg_row *rows, size_t n);
void		gg_prep_free(gg_prep *d);

/* total weighted LL and (grad != NULL) its gradient w.r.t. (ln p, ln q, ln v) */
double		gg_loglik_prep(const gg_prep *d, const gg_params *g, double grad[3]);

/*
 * Conditional expected average order value E[M | x, m] =
 * p (v + x m) / (p x + q - 1); for x == 0 this is the population mean.
 * NaN if the denominator is not positive (q <= 1 and x small) or the input
 * is invalid.
 */
double		gg_expected_value(const gg_params *g, double x, double m);

/*
 * Population mean spend p v / (q - 1).  Returns HVC_OK and stores it, or
 * HVC_EINVAL (and stores NaN) when it does not exist (q <= 1 or invalid
 * parameters).
 */
int			gg_population_mean(const gg_params *g, double *mean);

/*
 * Maximum-likelihood fit, start p = q = 1, v = weighted mean of m.
 * opt->q_constraint keeps q >= 1 (lifetimes' q_constraint).  Returns
 * HVC_OK, HVC_FIT_NOCONV, or HVC_ENODATA when there is no row with x > 0 and
 * m > 0 (outputs NaN, message says so), or another negative HVC_E* code.
 */
int			gg_fit(const gg_row *rows, size_t n, const hvc_fit_options *opt,
				   gg_params *out, double *loglik, hvc_opt_report *rep);
int			gg_fit_prep(const gg_prep *d, const hvc_fit_options *opt,
						gg_params *out, double *loglik, hvc_opt_report *rep);

#endif							/* HVC_GAMMA_GAMMA_H */
