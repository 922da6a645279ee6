/*
 * rfm.h — RFM scoring with tie-preserving quintile breaks (the convention of
 * the R package rfm; see shared/reference/rfm.md).  PostgreSQL-free.
 */
#ifndef HVC_RFM_H
#define HVC_RFM_H

#include <stddef.h>

#define RFM_BREAKS 4
/* RFM cells (r, f, m) in 1..5 each: rfm_cell_index is below this */
#define RFM_CELLS 125

/* percentile_cont(p) of an ascending array of n >= 1 values, as PostgreSQL computes it */
double		rfm_percentile_cont(const double *sorted, size_t n, double p);

/*
 * Break points b_i = percentile_cont(i/5), i = 1..4, of the n values.
 * `values` is sorted in place.  n = 0 gives breaks of 0.
 */
void		rfm_breaks(double *values, size_t n, double breaks[RFM_BREAKS]);

/* score = 1 + #{ i : value > b_i }: 1..5, equal values always score alike */
int			rfm_score(double value, const double breaks[RFM_BREAKS]);

/* index 0..124 of an (r, f, m) cell: (r-1)*25 + (f-1)*5 + (m-1) */
int			rfm_cell_index(int r, int f, int m);

#endif
