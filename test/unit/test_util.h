/*
 * test_util.h — tiny test harness for the hvc core unit tests.
 */
#ifndef HVC_TEST_UTIL_H
#define HVC_TEST_UTIL_H

#include <stddef.h>

#include "hvc_core.h"

extern int	t_pass, t_fail, t_skip;

/* generic check with a printf-style description */
void		check(int ok, const char *file, int line, const char *fmt, ...);
#define CHECK(cond, ...) check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* |got - want| <= atol + rtol |want| (and both finite) */
void		check_close_at(const char *file, int line, const char *name,
						   double got, double want, double atol, double rtol);
#define CHECK_CLOSE(name, got, want, atol, rtol) \
	check_close_at(__FILE__, __LINE__, (name), (got), (want), (atol), (rtol))

/* agreement to `sf` significant digits of want: |got - want| <= 0.5 ulp_sf(want) */
void		check_sf_at(const char *file, int line, const char *name,
						double got, double want, int sf);
#define CHECK_SF(name, got, want, sf) \
	check_sf_at(__FILE__, __LINE__, (name), (got), (want), (sf))

void		skip(const char *fmt, ...);
void		note(const char *fmt, ...);

double		now_sec(void);

/* CDNOW data directory ($HVC_CDNOW_DIR or <repo>/../shared/data/cdnow) */
const char *cdnow_dir(void);

/*
 * Load cdnow_customers_summary.csv (x = frequency, t_x = recency, T, w = 1).
 * Returns 0 or -1 (file missing, SKIP already printed).  Caller frees *rows.
 */
int			load_cdnow_summary(btyd_row **rows, size_t *n);

/*
 * Load cdnow_customers_summary_with_transactions.csv: rows (x, t_x, T, w=1)
 * and zbar.  Returns 0 or -1.  Caller frees both.
 */
int			load_cdnow_with_tx(btyd_row **rows, double **zbar, size_t *n);

/* deterministic PRNG (splitmix64) and variates for synthetic data */
typedef struct
{
	unsigned long long s;
} test_rng;
double		rng_unif(test_rng *g);	/* (0,1) */
double		rng_gamma(test_rng *g, double shape, double rate);
double		rng_beta(test_rng *g, double a, double b);

/*
 * Purchases of a customer buying at rate lambda (Poisson) until time end
 * who drops out right after each purchase with probability p (p < 0: never,
 * and nothing drawn for it): their number, and the last one's time into
 * *last (0 without any).  Draws one exponential gap per purchase and the
 * one past end, and one uniform after each purchase when p >= 0.
 */
int			rng_purchases(test_rng *g, double lambda, double end, double p, double *last);

/* test suites */
void		test_specfun(void);
void		test_data_opt(void);
void		test_bgnbd(void);
void		test_mbgnbd(void);
void		test_pnbd(void);
void		test_pnbd_fit(void);
void		test_gg(void);
void		test_clv(void);
void		test_many(void);
void		test_rfm(void);
void		test_edges(void);
void		test_shops(void);
void		test_bench(void);
void		test_churn(void);



/*
 * Compare an analytic gradient with Richardson-extrapolated central
 * differences at theta: per component |ga - gn| <= rtol * max(|gn|, 1).
 */
typedef double (*test_llfn) (const double *theta, double *grad, void *ctx);
void		check_gradient(const char *name, test_llfn f, void *ctx, int n,
						   const double *theta, double rtol);

/*
 * check_gradient (rtol 1e-5) of a model's prepared-data log-likelihood f
 * (theta = ln(parameters), ctx = the prepared data) at npts points given on
 * the natural scale: pts[k * n + j] is parameter j of point k (n <= 8).
 * Each check is named "<model> <what> at (p0, p1, ...)".
 */
void		check_gradients_at(const char *model, const char *what, test_llfn f,
							   void *ctx, int n, const double *pts, int npts);

/*
 * The same for a BTYD model (4 parameters) on btyd_prep data built from
 * rows (a failing btyd_prep_init is a failed check).
 */
void		check_btyd_gradients(const char *model, const char *what,
								 test_llfn f, const btyd_row *rows, size_t n,
								 const double (*pts)[4], int npts);

/* small synthetic BTYD data set with edge cases (t_x = T, x = 0, large x) */
extern const btyd_row test_rows_small[];
extern const size_t test_rows_small_n;

#endif							/* HVC_TEST_UTIL_H */
