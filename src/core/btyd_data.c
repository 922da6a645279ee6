/*
 * btyd_data.c — row compression and prepared data for the BTYD /
 * Gamma-Gamma likelihoods.
 */
#include "btyd_data.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* total order on doubles with NaN last */
static int
cmp_dbl(double a, double b)
{
	if (a < b)
		return -1;
	if (a > b)
		return 1;
	if (a == b)
		return 0;
	if (isnan(a))
		return isnan(b) ? 0 : 1;
	return -1;
}

static int
cmp_btyd(const btyd_row *a, const btyd_row *b)
{
	int			c;

	if ((c = cmp_dbl(a->x, b->x)) != 0)
		return c;
	if ((c = cmp_dbl(a->t_x, b->t_x)) != 0)
		return c;
	return cmp_dbl(a->T, b->T);
}

static int
cmp_gg(const gg_row *a, const gg_row *b)
{
	int			c;

	if ((c = cmp_dbl(a->x, b->x)) != 0)
		return c;
	return cmp_dbl(a->m, b->m);
}

#define LESS_BTYD(a, b) (cmp_btyd((a), (b)) < 0)
#define LESS_GG(a, b)	(cmp_gg((a), (b)) < 0)

/*
 * In-place introsort: median-of-three quicksort with Hoare partitioning,
 * insertion sort for short runs and heapsort when the recursion gets too
 * deep (O(n log n) worst case, no allocation).  A macro so that the
 * comparison is inlined: several times faster than qsort() on 10^5..10^6
 * rows.
 */
#define HVC_DEFINE_SORT(FN, TYPE, LESS)										\
static void																	\
FN##_heap(TYPE *a, size_t n)												\
{																			\
	TYPE		tmp;														\
	size_t		start = n / 2, end = n, root, child;						\
	for (;;)																\
	{																		\
		if (start > 0)														\
			start--;														\
		else																\
		{																	\
			if (--end == 0)													\
				return;														\
			tmp = a[end]; a[end] = a[0]; a[0] = tmp;						\
		}																	\
		root = start;														\
		while ((child = 2 * root + 1) < end)								\
		{																	\
			if (child + 1 < end && LESS(&a[child], &a[child + 1]))			\
				child++;													\
			if (!LESS(&a[root], &a[child]))									\
				break;														\
			tmp = a[root]; a[root] = a[child]; a[child] = tmp;				\
			root = child;													\
		}																	\
	}																		\
}																			\
static void																	\
FN(TYPE *a, size_t n, int depth)											\
{																			\
	TYPE		tmp, piv;													\
	while (n > 16)															\
	{																		\
		size_t		mid = n / 2;											\
		ptrdiff_t	i = -1, j = (ptrdiff_t) n;								\
		if (depth-- <= 0)													\
		{																	\
			FN##_heap(a, n);												\
			return;															\
		}																	\
		if (LESS(&a[mid], &a[0]))											\
		{ tmp = a[mid]; a[mid] = a[0]; a[0] = tmp; }						\
		if (LESS(&a[n - 1], &a[mid]))										\
		{																	\
			tmp = a[n - 1]; a[n - 1] = a[mid]; a[mid] = tmp;				\
			if (LESS(&a[mid], &a[0]))										\
			{ tmp = a[mid]; a[mid] = a[0]; a[0] = tmp; }					\
		}																	\
		piv = a[mid];														\
		for (;;)															\
		{																	\
			do i++; while (LESS(&a[i], &piv));								\
			do j--; while (LESS(&piv, &a[j]));								\
			if (i >= j)														\
				break;														\
			tmp = a[i]; a[i] = a[j]; a[j] = tmp;							\
		}																	\
		/* [0, j] and [j+1, n) ; recurse on the smaller part */				\
		if ((size_t) (j + 1) < n - (size_t) (j + 1))						\
		{																	\
			FN(a, (size_t) (j + 1), depth);									\
			a += j + 1;														\
			n -= (size_t) (j + 1);											\
		}																	\
		else																\
		{																	\
			FN(a + j + 1, n - (size_t) (j + 1), depth);						\
			n = (size_t) (j + 1);											\
		}																	\
	}																		\
	{																		\
		size_t		k, m;													\
		for (k = 1; k < n; k++)												\
		{																	\
			tmp = a[k];														\
			for (m = k; m > 0 && LESS(&tmp, &a[m - 1]); m--)				\
				a[m] = a[m - 1];											\
			a[m] = tmp;														\
		}																	\
	}																		\
}

HVC_DEFINE_SORT(sort_btyd, btyd_row, LESS_BTYD)
HVC_DEFINE_SORT(sort_gg, gg_row, LESS_GG)

static int
depth_limit(size_t n)
{
	int			d = 0;

	while (n > 1)
	{
		n >>= 1;
		d++;
	}
	return 2 * d + 4;
}

size_t
btyd_compress(btyd_row *rows, size_t n)
{
	size_t		i, k;

	if (n < 2)
		return n;
	sort_btyd(rows, n, depth_limit(n));
	k = 0;
	for (i = 1; i < n; i++)
	{
		/* == is false for NaN, so NaN rows are never merged */
		if (rows[i].x == rows[k].x && rows[i].t_x == rows[k].t_x &&
			rows[i].T == rows[k].T)
			rows[k].w += rows[i].w;
		else
			rows[++k] = rows[i];
	}
	return k + 1;
}

size_t
gg_compress(gg_row *rows, size_t n)
{
	size_t		i, k;

	if (n < 2)
		return n;
	sort_gg(rows, n, depth_limit(n));
	k = 0;
	for (i = 1; i < n; i++)
	{
		if (rows[i].x == rows[k].x && rows[i].m == rows[k].m)
			rows[k].w += rows[i].w;
		else
			rows[++k] = rows[i];
	}
	return k + 1;
}

int
btyd_row_valid(const btyd_row *r)
{
	return isfinite(r->x) && isfinite(r->t_x) && isfinite(r->T) &&
		isfinite(r->w) && r->x >= 0.0 && r->t_x >= 0.0 && r->t_x <= r->T &&
		r->T > 0.0 && r->w > 0.0;
}

/*
 * Open-addressing hash tables (linear probing, power-of-two capacity) used by
 * btyd_prep_init to deduplicate rows and time values in O(n); only the
 * distinct rows are then sorted.
 */
static uint64_t
mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static uint64_t
dbl_bits(double v)
{
	uint64_t	u;

	v = v + 0.0;				/* -0 -> +0 */
	memcpy(&u, &v, sizeof(u));
	return u;
}

static size_t
pow2_at_least(size_t n)
{
	size_t		c = 16;

	while (c < n)
		c <<= 1;
	return c;
}

/*
 * Deduplicate rows (x, t_x, T) into out[] (capacity n), summing w; returns
 * the number of distinct rows, or (size_t) -1 if out of memory.
 */
static size_t
dedup_rows(const btyd_row *rows, size_t n, btyd_row *out)
{
	size_t		cap = pow2_at_least(2 * n), mask = cap - 1, m = 0, i;
	uint32_t   *slot = (uint32_t *) calloc(cap, sizeof(uint32_t));

	if (slot == NULL)
		return (size_t) -1;
	for (i = 0; i < n; i++)
	{
		btyd_row	r = rows[i];
		size_t		h;

		if (r.x == 0.0)
			r.t_x = 0.0;
		h = (size_t) mix64(dbl_bits(r.x) * 0x9E3779B97F4A7C15ULL ^
						   dbl_bits(r.t_x) * 0xC2B2AE3D27D4EB4FULL ^
						   dbl_bits(r.T)) & mask;
		for (;;)
		{
			uint32_t	k = slot[h];

			if (k == 0)
			{
				out[m] = r;
				slot[h] = (uint32_t) (++m);
				break;
			}
			if (out[k - 1].x == r.x && out[k - 1].t_x == r.t_x && out[k - 1].T == r.T)
			{
				out[k - 1].w += r.w;
				break;
			}
			h = (h + 1) & mask;
		}
	}
	free(slot);
	return m;
}

/* small hash map double -> index into u[], built incrementally */
typedef struct
{
	uint32_t   *slot;
	size_t		mask;
	double	   *u;
	size_t		nu;
} time_map;

static unsigned
time_index(time_map *tm, double v)
{
	size_t		h = (size_t) mix64(dbl_bits(v)) & tm->mask;

	for (;;)
	{
		uint32_t	k = tm->slot[h];

		if (k == 0)
		{
			tm->u[tm->nu] = v;
			tm->slot[h] = (uint32_t) (++tm->nu);
			return (unsigned) (tm->nu - 1);
		}
		if (tm->u[k - 1] == v)
			return (unsigned) (k - 1);
		h = (h + 1) & tm->mask;
	}
}

void
btyd_prep_free(btyd_prep *p)
{
	free(p->w);
	free(p->iT);
	free(p->itx);
	free(p->gstart);
	free(p->gx);
	free(p->gw);
	free(p->u);
	free(p->work);
	memset(p, 0, sizeof(*p));
}

int
btyd_prep_init(btyd_prep *p, const btyd_row *rows, size_t n, size_t *bad_row)
{
	btyd_row   *r = NULL;
	size_t		i, m, g;
	time_map	tm;

	memset(p, 0, sizeof(*p));
	memset(&tm, 0, sizeof(tm));
	if (n == 0)
		return HVC_ENODATA;
	if (rows == NULL || n >= (size_t) 0x3fffffff)
		return HVC_EINVAL;
	for (i = 0; i < n; i++)
		if (!btyd_row_valid(&rows[i]))
		{
			if (bad_row)
				*bad_row = i;
			return HVC_EINVAL;
		}

	/* distinct rows (t_x := 0 for x == 0), sorted by (x, t_x, T) */
	r = (btyd_row *) malloc(n * sizeof(btyd_row));
	if (r == NULL)
		return HVC_ENOMEM;
	m = dedup_rows(rows, n, r);
	if (m == (size_t) -1)
	{
		free(r);
		return HVC_ENOMEM;
	}
	sort_btyd(r, m, depth_limit(m));

	p->n = m;
	p->w = (double *) malloc(m * sizeof(double));
	p->iT = (unsigned *) malloc(m * sizeof(unsigned));
	p->itx = (unsigned *) malloc(m * sizeof(unsigned));
	g = 1;
	for (i = 1; i < m; i++)
		if (r[i].x != r[i - 1].x)
			g++;
	p->ngroups = g;
	p->gstart = (size_t *) malloc((g + 1) * sizeof(size_t));
	p->gx = (double *) malloc(g * sizeof(double));
	p->gw = (double *) malloc(g * sizeof(double));
	tm.mask = pow2_at_least(4 * m) - 1;
	tm.slot = (uint32_t *) calloc(tm.mask + 1, sizeof(uint32_t));
	tm.u = (double *) malloc(2 * m * sizeof(double));
	if (!p->w || !p->iT || !p->itx || !p->gstart || !p->gx || !p->gw ||
		!tm.slot || !tm.u)
		goto nomem;

	g = 0;
	p->wsum = p->wxsum = p->tmax = 0.0;
	for (i = 0; i < m; i++)
	{
		if (i == 0 || r[i].x != r[i - 1].x)
		{
			p->gstart[g] = i;
			p->gx[g] = r[i].x;
			p->gw[g] = 0.0;
			g++;
		}
		p->gw[g - 1] += r[i].w;
		p->w[i] = r[i].w;
		p->iT[i] = time_index(&tm, r[i].T);
		/* t_x is nondecreasing within a group: reuse the previous index */
		if (i > 0 && r[i].x == r[i - 1].x && r[i].t_x == r[i - 1].t_x)
			p->itx[i] = p->itx[i - 1];
		else
			p->itx[i] = time_index(&tm, r[i].t_x);
		p->wsum += r[i].w;
		p->wxsum += r[i].w * r[i].x;
		if (r[i].T > p->tmax)
			p->tmax = r[i].T;
	}
	p->gstart[g] = m;
	p->nu = tm.nu;
	p->u = (double *) realloc(tm.u, tm.nu * sizeof(double));
	if (p->u == NULL)
		p->u = tm.u;			/* shrinking failed: keep the larger block */
	tm.u = NULL;
	p->work = (double *) malloc(8 * p->nu * sizeof(double));
	if (p->work == NULL)
		goto nomem;
	free(tm.slot);
	free(r);
	return HVC_OK;

nomem:
	free(r);
	free(tm.slot);
	free(tm.u);
	btyd_prep_free(p);
	return HVC_ENOMEM;
}
