/*
 * rfm.c — tie-preserving RFM quintile scores.  See rfm.h.
 */
#include "rfm.h"

#include <stdlib.h>

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

double
rfm_percentile_cont(const double *sorted, size_t n, double p)
{
	double		pos = p * (double) (n - 1);
	size_t		lo = (size_t) pos;
	double		frac = pos - (double) lo;

	if (n == 0)
		return 0.0;
	if (lo + 1 >= n)
		return sorted[n - 1];
	/* PostgreSQL: first + (second - first) * (pos - floor(pos)) */
	return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

void
rfm_breaks(double *values, size_t n, double breaks[RFM_BREAKS])
{
	int			i;

	if (n > 1)
		qsort(values, n, sizeof(double), cmp_double);
	for (i = 0; i < RFM_BREAKS; i++)
		breaks[i] = n > 0 ? rfm_percentile_cont(values, n, (i + 1) / 5.0) : 0.0;
}

int
rfm_score(double value, const double breaks[RFM_BREAKS])
{
	int			score = 1;
	int			i;

	for (i = 0; i < RFM_BREAKS; i++)
		if (value > breaks[i])
			score++;
	return score;
}

int
rfm_cell_index(int r, int f, int m)
{
	return (r - 1) * 25 + (f - 1) * 5 + (m - 1);
}
