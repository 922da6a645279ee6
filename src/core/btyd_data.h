/*
 * btyd_data.h — per-customer summary rows for the BTYD models and row compression.
 *
 * A row carries a weight w (number of identical customers it stands for, or a
 * user-supplied case weight).  All likelihoods are weighted sums, so merging
 * identical rows and summing their weights leaves them unchanged while the
 * expensive per-row work is done once per distinct row.
 */
#ifndef HVC_BTYD_DATA_H
#define HVC_BTYD_DATA_H

#include <stddef.h>

/* x = repeat purchases, t_x = recency, T = age (same time unit), w = weight. */
typedef struct
{
	double		x, t_x, T, w;
} btyd_row;

/* Gamma-Gamma input: x = repeat purchases, m = mean repeat-purchase value. */
typedef struct
{
	double		x, m, w;
} gg_row;

/*
 * Sort rows by (x, t_x, T) and merge rows with identical (x, t_x, T),
 * summing w.  Works in place; returns the new number of rows (the first
 * `return value` entries of rows are valid).  NaN keys are sorted last and
 * never merged.  O(n log n), no allocation.
 */
size_t btyd_compress(btyd_row *rows, size_t n);

/* Same for Gamma-Gamma rows, keyed by (x, m). */
size_t gg_compress(gg_row *rows, size_t n);

/*
 * Validate one BTYD row: returns 1 if all fields are finite, x >= 0,
 * 0 <= t_x <= T, T > 0 and w > 0; 0 otherwise.  (For x == 0 every model
 * treats t_x as 0, whatever the row says.)
 */
int btyd_row_valid(const btyd_row *r);

/*
 * Prepared (compressed, indexed) BTYD data for fast likelihood evaluation.
 *
 * Rows are compressed and sorted by x; rows with equal x form a group (the
 * lnGamma / digamma parts of the likelihoods depend on x only and are
 * evaluated once per group).  Every distinct time value (T and t_x) is
 * stored once in u[]; rows refer to it by index, so per-evaluation
 * logarithms of (alpha + time) are computed once per distinct time.  For
 * x == 0 rows t_x is stored as 0.
 */
typedef struct
{
	size_t		n;				/* distinct rows */
	double	   *w;				/* [n] weights */
	unsigned   *iT;				/* [n] index of T in u[] */
	unsigned   *itx;			/* [n] index of t_x in u[] */
	size_t		ngroups;		/* distinct x values */
	size_t	   *gstart;			/* [ngroups+1] first row of each group */
	double	   *gx;				/* [ngroups] x of each group */
	double	   *gw;				/* [ngroups] total weight of each group */
	size_t		nu;				/* distinct time values */
	double	   *u;				/* [nu] time values (unordered) */
	double	   *work;			/* [8*nu] scratch for the models (written by
								 * the evaluations: one evaluation at a time) */
	double		wsum;			/* total weight (number of customers) */
	double		wxsum;			/* sum of w * x */
	double		tmax;			/* largest T */
} btyd_prep;

/* error codes shared by the core */
#define HVC_OK			0
#define HVC_EINVAL		(-1)	/* invalid argument / invalid data row */
#define HVC_ENOMEM		(-2)	/* allocation failed */
#define HVC_ENODATA		(-3)	/* nothing to fit */

/*
 * Build a btyd_prep from n rows (not modified: they are copied).  Every row
 * must satisfy btyd_row_valid(); otherwise HVC_EINVAL is returned and
 * *bad_row (if not NULL) receives the index of the first bad row.
 * Returns HVC_OK, HVC_EINVAL, HVC_ENOMEM or HVC_ENODATA (n == 0).
 * On error nothing needs to be freed; on success call btyd_prep_free().
 */
int			btyd_prep_init(btyd_prep *p, const btyd_row *rows, size_t n,
						   size_t *bad_row);
void		btyd_prep_free(btyd_prep *p);

#endif /* HVC_BTYD_DATA_H */
