/*
 * test_util.c — harness, CSV loading, PRNG.
 */
#define _POSIX_C_SOURCE 199309L
#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef HVC_DEFAULT_CDNOW_DIR
#define HVC_DEFAULT_CDNOW_DIR "../../../shared/data/cdnow"
#endif

int			t_pass = 0, t_fail = 0, t_skip = 0;

void
check(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list		ap;

	printf("%s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok)
		printf("   [%s:%d]", file, line);
	printf("\n");
	if (ok)
		t_pass++;
	else
		t_fail++;
}

void
check_close_at(const char *file, int line, const char *name,
			   double got, double want, double atol, double rtol)
{
	int			ok = isfinite(got) && fabs(got - want) <= atol + rtol * fabs(want);

	check(ok, file, line, "%s: got %.10g want %.10g (atol %g, rtol %g)",
		  name, got, want, atol, rtol);
}

void
check_sf_at(const char *file, int line, const char *name,
			double got, double want, int sf)
{
	double		unit = pow(10.0, floor(log10(fabs(want))) - (sf - 1));
	int			ok = isfinite(got) && fabs(got - want) <= 0.5 * unit;

	check(ok, file, line, "%s: got %.8g want %.*g (%d s.f.)",
		  name, got, want, sf + 1, want, sf);
}

void
skip(const char *fmt, ...)
{
	va_list		ap;

	printf("SKIP: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	t_skip++;
}

void
note(const char *fmt, ...)
{
	va_list		ap;

	printf("     ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

const char *
cdnow_dir(void)
{
	const char *e = getenv("HVC_CDNOW_DIR");

	return (e && *e) ? e : HVC_DEFAULT_CDNOW_DIR;
}

static FILE *
open_data(const char *name, char *path, size_t len)
{
	FILE	   *f;

	snprintf(path, len, "%s/%s", cdnow_dir(), name);
	f = fopen(path, "r");
	return f;
}

static int
load_csv(const char *name, int with_z, btyd_row **rows, double **zbar, size_t *n)
{
	char		path[4096], line[512];
	FILE	   *f = open_data(name, path, sizeof(path));
	size_t		cap = 4096, k = 0;
	btyd_row   *r;
	double	   *z = NULL;

	*rows = NULL;
	if (zbar)
		*zbar = NULL;
	*n = 0;
	if (f == NULL)
	{
		skip("CDNOW data not found at %s", path);
		return -1;
	}
	r = (btyd_row *) malloc(cap * sizeof(btyd_row));
	if (with_z)
		z = (double *) malloc(cap * sizeof(double));
	if (!r || (with_z && !z))
	{
		fclose(f);
		free(r);
		free(z);
		return -1;
	}
	if (!fgets(line, sizeof(line), f))	/* header */
		line[0] = 0;
	while (fgets(line, sizeof(line), f))
	{
		long		id;
		double		a, b, c, d = 0.0;
		int			got;

		got = sscanf(line, "%ld,%lf,%lf,%lf,%lf", &id, &a, &b, &c, &d);
		if (got < (with_z ? 5 : 4))
			continue;
		if (k == cap)
		{
			cap *= 2;
			r = (btyd_row *) realloc(r, cap * sizeof(btyd_row));
			if (with_z)
				z = (double *) realloc(z, cap * sizeof(double));
			if (!r || (with_z && !z))
			{
				fclose(f);
				return -1;
			}
		}
		r[k].x = a;
		r[k].t_x = b;
		r[k].T = c;
		r[k].w = 1.0;
		if (with_z)
			z[k] = d;
		k++;
	}
	fclose(f);
	*rows = r;
	if (zbar)
		*zbar = z;
	*n = k;
	return 0;
}

int
load_cdnow_summary(btyd_row **rows, size_t *n)
{
	return load_csv("cdnow_customers_summary.csv", 0, rows, NULL, n);
}

int
load_cdnow_with_tx(btyd_row **rows, double **zbar, size_t *n)
{
	return load_csv("cdnow_customers_summary_with_transactions.csv", 1,
					rows, zbar, n);
}

/* splitmix64 */
static unsigned long long
rng_next(test_rng *g)
{
	unsigned long long z = (g->s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

double
rng_unif(test_rng *g)
{
	return ((double) (rng_next(g) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double
rng_norm(test_rng *g)
{
	/* Marsaglia polar method (one value per call, deterministic) */
	double		u, v, s;

	do
	{
		u = 2.0 * rng_unif(g) - 1.0;
		v = 2.0 * rng_unif(g) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	return u * sqrt(-2.0 * log(s) / s);
}

double
rng_gamma(test_rng *g, double shape, double rate)
{
	/* Marsaglia & Tsang (2000); shape < 1 via the U^(1/shape) boost */
	double		d, c, x, v, u, boost = 1.0;

	if (shape < 1.0)
	{
		boost = pow(rng_unif(g), 1.0 / shape);
		shape += 1.0;
	}
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		do
		{
			x = rng_norm(g);
			v = 1.0 + c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = rng_unif(g);
		if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return boost * d * v / rate;
	}
}

double
rng_beta(test_rng *g, double a, double b)
{
	double		x = rng_gamma(g, a, 1.0), y = rng_gamma(g, b, 1.0);

	return x / (x + y);
}

int
rng_purchases(test_rng *g, double lambda, double end, double p, double *last)
{
	double		t = 0.0;
	int			x = 0;

	*last = 0.0;
	for (;;)
	{
		t += -log(rng_unif(g)) / lambda;
		if (t > end)
			break;
		x++;
		*last = t;
		if (p >= 0.0 && rng_unif(g) < p)
			break;
	}
	return x;
}

void
check_gradient(const char *name, test_llfn f, void *ctx, int n,
			   const double *theta, double rtol)
{
	double		ga[8], th[8], worst = 0.0;
	int			i, j, ok = 1, wi = 0;

	f(theta, ga, ctx);
	for (i = 0; i < n; i++)
	{
		double		d[2], hs[2] = {1e-4, 5e-5}, gn, err;

		for (j = 0; j < 2; j++)
		{
			double		fp, fm;

			memcpy(th, theta, (size_t) n * sizeof(double));
			th[i] = theta[i] + hs[j];
			fp = f(th, NULL, ctx);
			th[i] = theta[i] - hs[j];
			fm = f(th, NULL, ctx);
			d[j] = (fp - fm) / (2.0 * hs[j]);
		}
		gn = (4.0 * d[1] - d[0]) / 3.0;
		err = fabs(ga[i] - gn) / (fabs(gn) > 1.0 ? fabs(gn) : 1.0);
		if (!(err <= rtol) || !isfinite(ga[i]))
			ok = 0;
		if (!(err <= worst))
		{
			worst = err;
			wi = i;
		}
	}
	check(ok, __FILE__, __LINE__,
		  "gradient %s: max rel. error %.2g (component %d, analytic %.8g)",
		  name, worst, wi, ga[wi]);
}

void
check_gradients_at(const char *model, const char *what, test_llfn f,
				   void *ctx, int n, const double *pts, int npts)
{
	double		th[8];			/* n <= 8, as in check_gradient */
	char		name[128];
	int			k, j;

	for (k = 0; k < npts; k++)
	{
		const double *pt = pts + (size_t) k * (size_t) n;
		int			len = snprintf(name, sizeof(name), "%s %s at (", model, what);

		for (j = 0; j < n; j++)
		{
			th[j] = log(pt[j]);
			if (len >= 0 && (size_t) len < sizeof(name))
				len += snprintf(name + len, sizeof(name) - (size_t) len, "%s%g",
								j > 0 ? ", " : "", pt[j]);
		}
		if (len >= 0 && (size_t) len < sizeof(name))
			snprintf(name + len, sizeof(name) - (size_t) len, ")");
		check_gradient(name, f, ctx, n, th, 1e-5);
	}
}

void
check_btyd_gradients(const char *model, const char *what, test_llfn f,
					 const btyd_row *rows, size_t n,
					 const double (*pts)[4], int npts)
{
	btyd_prep	d;

	if (btyd_prep_init(&d, rows, n, NULL) != HVC_OK)
	{
		CHECK(0, "btyd_prep_init for gradient check");
		return;
	}
	check_gradients_at(model, what, f, &d, 4, &pts[0][0], npts);
	btyd_prep_free(&d);
}

const btyd_row test_rows_small[] = {
	{0, 0, 10, 3}, {0, 0, 30, 1}, {1, 2, 10, 2}, {1, 9.99, 10, 1},
	{2, 30.43, 38.86, 1}, {3, 10, 10, 1}, {5, 9.5, 40, 1.5},
	{7, 0.5, 45, 1}, {26, 30.857, 31, 1}, {200, 38, 40, 1}, {12, 20, 52, 2}
};
const size_t test_rows_small_n = sizeof(test_rows_small) / sizeof(test_rows_small[0]);
