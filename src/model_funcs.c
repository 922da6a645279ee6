/*
 * model_funcs.c — per-customer predictions from fitted models (API.md §5),
 * overloaded for hvc.bgnbd, hvc.pareto_nbd and hvc.mbgnbd models:
 *
 *   hvc.p_alive(m, frequency, recency, age)
 *   hvc.expected_purchases(m, t, frequency, recency, age)   purchases in (age, age+t]
 *   hvc.expected_purchases_new(m, t)                        E[X(t)] of a new customer
 *   hvc.customer_lifetime_value(m, g, frequency, recency, age, monetary,
 *                               horizon_months, monthly_discount_rate, units_per_month)
 *   hvc.time_to_next_purchase(m, frequency, age)            median wait if alive
 *   hvc.p_no_purchase(m, tau, frequency, recency, age)      P(no purchase in (age, age+tau])
 *   hvc.expected_order_value(g hvc.gamma_gamma, frequency, monetary)
 *   hvc.p_no_purchase(m, tau, frequency, recency, age)     P(no purchase in (age, age+tau])
 *
 * Model parameters are read from the composite by attribute name.  A model
 * whose parameters are NULL (a fit that did not produce any) gives NULL; a
 * model at its no-dropout edge (a = 0 or s = 0, b or beta NULL) predicts
 * with the NBD limit;
 * parameters that are not positive and finite, and customer arguments that
 * violate 0 <= recency <= age etc., are errors.  Results that are not finite
 * are returned as NULL.
 */
#include "postgres.h"

#include <math.h>

#include "executor/executor.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "core/bgnbd.h"
#include "core/churn.h"
#include "core/clv.h"
#include "core/gamma_gamma.h"
#include "core/pareto_nbd.h"
#include "models.h"
#include "version_guard.h"

PG_FUNCTION_INFO_V1(hvc_bgnbd_p_alive);
PG_FUNCTION_INFO_V1(hvc_pareto_nbd_p_alive);
PG_FUNCTION_INFO_V1(hvc_bgnbd_expected_purchases);
PG_FUNCTION_INFO_V1(hvc_pareto_nbd_expected_purchases);
PG_FUNCTION_INFO_V1(hvc_bgnbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(hvc_pareto_nbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(hvc_bgnbd_clv);
PG_FUNCTION_INFO_V1(hvc_pareto_nbd_clv);
PG_FUNCTION_INFO_V1(hvc_bgnbd_time_to_next_purchase);
PG_FUNCTION_INFO_V1(hvc_pareto_nbd_time_to_next_purchase);
PG_FUNCTION_INFO_V1(hvc_gamma_gamma_expected_order_value);
PG_FUNCTION_INFO_V1(hvc_bgnbd_p_no_purchase);
PG_FUNCTION_INFO_V1(hvc_pareto_nbd_p_no_purchase);
PG_FUNCTION_INFO_V1(hvc_mbgnbd_p_alive);
PG_FUNCTION_INFO_V1(hvc_mbgnbd_expected_purchases);
PG_FUNCTION_INFO_V1(hvc_mbgnbd_expected_purchases_new);
PG_FUNCTION_INFO_V1(hvc_mbgnbd_clv);
PG_FUNCTION_INFO_V1(hvc_mbgnbd_time_to_next_purchase);
PG_FUNCTION_INFO_V1(hvc_mbgnbd_p_no_purchase);

/* Longest CLV horizon accepted (100 years): one model evaluation per month. */
#define MAX_HORIZON_MONTHS	1200

#define SUMMARY_HINT \
	"frequency is the number of repeat purchases (0 or more), recency the time from the first to the last purchase (0 when frequency is 0) and age the time from the first purchase to the end of observation, so 0 <= recency <= age."

static void
bad_arg(const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s", msg),
			 errhint("%s", hint)));
}

static const char *
f8(double v)
{
	return float8out_internal(v);
}

/* the same rules as the fitting aggregates apply to their rows */
static void
check_customer(int64 x, double t_x, double T)
{
	if (x < 0)
		bad_arg(psprintf("frequency must not be negative, got frequency = %lld", (long long) x),
				SUMMARY_HINT);
	if (!isfinite(t_x) || !isfinite(T))
		bad_arg(psprintf("recency and age must be finite, got recency = %s, age = %s",
						 f8(t_x), f8(T)), SUMMARY_HINT);
	if (t_x < 0.0 || T < 0.0)
		bad_arg(psprintf("recency and age must not be negative, got recency = %s, age = %s",
						 f8(t_x), f8(T)), SUMMARY_HINT);
	if (t_x > T)
		bad_arg(psprintf("recency must not exceed age, got recency = %s > age = %s",
						 f8(t_x), f8(T)), SUMMARY_HINT);
	if (x == 0 && t_x > 0.0)
		bad_arg(psprintf("recency must be 0 for a customer without repeat purchases, got frequency = 0, recency = %s",
						 f8(t_x)), SUMMARY_HINT);
	if (x > 0 && T == 0.0)
		bad_arg(psprintf("a customer with repeat purchases must have a positive age, got frequency = %lld, age = 0",
						 (long long) x), SUMMARY_HINT);
}

static void
check_age(int64 x, double T)
{
	if (x < 0)
		bad_arg(psprintf("frequency must not be negative, got frequency = %lld", (long long) x),
				SUMMARY_HINT);
	if (!isfinite(T) || T < 0.0)
		bad_arg(psprintf("age must be finite and not negative, got age = %s", f8(T)),
				SUMMARY_HINT);
}

static void
check_horizon(double t)
{
	if (!isfinite(t) || t < 0.0)
		bad_arg(psprintf("t must be finite and not negative, got t = %s", f8(t)),
				"t is the prediction horizon in the time unit of recency and age (e.g. weeks).");
}

/* ---------------------------------------------------------------------
 * Reading models from their composites
 * --------------------------------------------------------------------- */

/*
 * Read the named float8 attributes.  Returns false if any is NULL (no
 * parameters: the caller returns NULL); errors if any is not positive and
 * finite.
 */
static bool
read_params(HeapTupleHeader t, const char *const *names, int n, double *out,
			const char *type)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = hvc_attribute(t, names[i], &isnull);

		if (isnull)
			return false;
		out[i] = DatumGetFloat8(d);
	}
	for (i = 0; i < n; i++)
		if (!isfinite(out[i]) || !(out[i] > 0.0))
			bad_arg(psprintf("%s model parameter %s must be positive and finite, got %s",
							 type, names[i], f8(out[i])),
					psprintf("Use a model fitted by hvc.%s_fit(), or build one with positive parameters.",
							 strcmp(type, "hvc.bgnbd") == 0 ? "bgnbd" :
							 strcmp(type, "hvc.pareto_nbd") == 0 ? "pareto_nbd" :
							 strcmp(type, "hvc.mbgnbd") == 0 ? "mbgnbd" :
							 "gamma_gamma"));
	return true;
}

/* whether a model composite's edge field is 'b->inf' (the first edge named) */
static bool
edge_is_b_inf(HeapTupleHeader t)
{
	bool		isnull;
	Datum		d = hvc_attribute(t, "edge", &isnull);

	return !isnull && strncmp(text_to_cstring(DatumGetTextPP(d)), "b->inf", 6) == 0;
}

/*
 * The purchase model: r and alpha, then the dropout parameters.  At the
 * no-dropout edge (a = 0 for BG/NBD, s = 0 for Pareto/NBD; clv-models.md
 * §9.2) the other one (b, beta) is not identified and may be NULL: the core
 * then predicts with the NBD limit.  The BG/NBD, MBG/NBD edge b->inf has a
 * and b NULL and edge 'b->inf' (the same limit).
 */
bool
read_purchase_model(HeapTupleHeader t, hvc_model_kind kind, hvc_purchase_model *m)
{
	static const char *const bg[4] = {"r", "alpha", "a", "b"};
	static const char *const pn[4] = {"r", "alpha", "s", "beta"};
	const char *const *names = kind == HVC_MODEL_PARETO_NBD ? pn : bg;
	const char *type = kind == HVC_MODEL_PARETO_NBD ? "hvc.pareto_nbd" :
		kind == HVC_MODEL_MBGNBD ? "hvc.mbgnbd" : "hvc.bgnbd";
	double		v[4];
	bool		isnull;
	Datum		d;

	m->kind = kind;
	if (!read_params(t, names, 2, v, type))
		return false;
	d = hvc_attribute(t, names[2], &isnull);
	if (isnull)
	{
		/*
		 * BG/NBD, MBG/NBD edge b->inf: b infinite and a not identified, both
		 * NULL, the edge field says so
		 */
		if (kind == HVC_MODEL_PARETO_NBD || !edge_is_b_inf(t))
			return false;
		v[2] = NAN;
		v[3] = INFINITY;
	}
	else if ((v[2] = DatumGetFloat8(d)) == 0.0)
		v[3] = NAN;				/* the edge: names[3] not identified */
	else if (!read_params(t, names + 2, 1, v + 2, type) ||
			 !read_params(t, names + 3, 1, v + 3, type))
		return false;
	if (kind == HVC_MODEL_BGNBD)
	{
		m->u.bgnbd.r = v[0];
		m->u.bgnbd.alpha = v[1];
		m->u.bgnbd.a = v[2];
		m->u.bgnbd.b = v[3];
	}
	else if (kind == HVC_MODEL_MBGNBD)
	{
		m->u.mbgnbd.r = v[0];
		m->u.mbgnbd.alpha = v[1];
		m->u.mbgnbd.a = v[2];
		m->u.mbgnbd.b = v[3];
	}
	else
	{
		m->u.pnbd.r = v[0];
		m->u.pnbd.alpha = v[1];
		m->u.pnbd.s = v[2];
		m->u.pnbd.beta = v[3];
	}
	return true;
}

static bool
read_spend_model(HeapTupleHeader t, gg_params *g)
{
	static const char *const names[3] = {"p", "q", "v"};
	double		v[3];

	if (!read_params(t, names, 3, v, "hvc.gamma_gamma"))
		return false;
	g->p = v[0];
	g->q = v[1];
	g->v = v[2];
	return true;
}

#define RETURN_FINITE(v) \
	do { \
		double _v = (v); \
		if (!isfinite(_v)) \
			PG_RETURN_NULL(); \
		PG_RETURN_FLOAT8(_v); \
	} while (0)

/* ---------------------------------------------------------------------
 * Shared implementations (kind = which composite the first argument is)
 * --------------------------------------------------------------------- */

static Datum
p_alive_impl(FunctionCallInfo fcinfo, hvc_model_kind kind)
{
	hvc_purchase_model m;
	int64		x = hvc_frequency_arg(fcinfo, 1);
	double		t_x = PG_GETARG_FLOAT8(2),
				T = PG_GETARG_FLOAT8(3);

	check_customer(x, t_x, T);
	if (!read_purchase_model(PG_GETARG_HEAPTUPLEHEADER(0), kind, &m))
		PG_RETURN_NULL();
	RETURN_FINITE(hvc_model_p_alive(&m, x, x == 0 ? 0.0 : t_x, T));
}

static Datum
expected_purchases_impl(FunctionCallInfo fcinfo, hvc_model_kind kind)
{
	hvc_purchase_model m;
	double		t = PG_GETARG_FLOAT8(1);
	int64		x = hvc_frequency_arg(fcinfo, 2);
	double		t_x = PG_GETARG_FLOAT8(3),
				T = PG_GETARG_FLOAT8(4);

	check_horizon(t);
	check_customer(x, t_x, T);
	if (!read_purchase_model(PG_GETARG_HEAPTUPLEHEADER(0), kind, &m))
		PG_RETURN_NULL();
	RETURN_FINITE(hvc_model_expected_purchases(&m, t, x, x == 0 ? 0.0 : t_x, T));
}

/* P0(tau) = P(no purchase in (age, age + tau]) */
static Datum
p_no_purchase_impl(FunctionCallInfo fcinfo, hvc_model_kind kind)
{
	hvc_purchase_model m;
	double		tau = PG_GETARG_FLOAT8(1);
	int64		x = hvc_frequency_arg(fcinfo, 2);
	double		t_x = PG_GETARG_FLOAT8(3),
				T = PG_GETARG_FLOAT8(4);

	if (!isfinite(tau) || tau < 0.0)
		bad_arg(psprintf("tau must be finite and not negative, got tau = %s", f8(tau)),
				"tau is the length of the window after age, in the time unit of recency and age (e.g. weeks).");
	check_customer(x, t_x, T);
	if (!read_purchase_model(PG_GETARG_HEAPTUPLEHEADER(0), kind, &m))
		PG_RETURN_NULL();
	RETURN_FINITE(hvc_model_p_no_purchase(&m, tau, x, x == 0 ? 0.0 : t_x, T));
}

static Datum
expected_purchases_new_impl(FunctionCallInfo fcinfo, hvc_model_kind kind)
{
	hvc_purchase_model m;
	double		t = PG_GETARG_FLOAT8(1);

	check_horizon(t);
	if (!read_purchase_model(PG_GETARG_HEAPTUPLEHEADER(0), kind, &m))
		PG_RETURN_NULL();
	if (kind == HVC_MODEL_BGNBD)
		RETURN_FINITE(bgnbd_expected_purchases_new(&m.u.bgnbd, t));
	if (kind == HVC_MODEL_MBGNBD)
		RETURN_FINITE(mbgnbd_expected_purchases_new(&m.u.mbgnbd, t));
	RETURN_FINITE(pnbd_expected_purchases_new(&m.u.pnbd, t));
}

static void
check_monetary(int64 x, double mon)
{
	if (!isfinite(mon))
		bad_arg(psprintf("monetary must be finite, got monetary = %s", f8(mon)),
				"monetary is the mean value of the repeat purchases (0 when frequency is 0).");
	if (x > 0 && mon < 0.0)
		bad_arg(psprintf("monetary must not be negative, got monetary = %s", f8(mon)),
				"The Gamma-Gamma model needs a non-negative mean repeat-purchase value; clamp net refunds, e.g. greatest(monetary, 0).");
}

/* E[M | x, m]; NaN when the spend model has q <= 1 (no population mean) */
static double
order_value(const gg_params *g, int64 x, double mon)
{
	if (!(g->q > 1.0))
		return NAN;
	return gg_expected_value(g, (double) x, x == 0 ? 0.0 : mon);
}

static Datum
clv_impl(FunctionCallInfo fcinfo, hvc_model_kind kind)
{
	hvc_purchase_model m;
	gg_params	g;
	int64		x = hvc_frequency_arg(fcinfo, 2);
	double		t_x = PG_GETARG_FLOAT8(3),
				T = PG_GETARG_FLOAT8(4),
				mon = PG_GETARG_FLOAT8(5);
	int32		months = PG_GETARG_INT32(6);
	double		d = PG_GETARG_FLOAT8(7),
				upm = PG_GETARG_FLOAT8(8),
				spend;
	bool		have_m,
				have_g;

	check_customer(x, t_x, T);
	check_monetary(x, mon);
	if (months < 0 || months > MAX_HORIZON_MONTHS)
		bad_arg(psprintf("horizon_months must be between 0 and %d, got %d",
						 MAX_HORIZON_MONTHS, months),
				"horizon_months is the number of future months summed (default 12).");
	if (!isfinite(d) || d < 0.0 || d >= 1.0)
		bad_arg(psprintf("monthly_discount_rate must be at least 0 and below 1, got %s", f8(d)),
				"monthly_discount_rate is the discount rate per month, e.g. 0.01 for 1 % a month.");
	if (!isfinite(upm) || !(upm > 0.0))
		bad_arg(psprintf("units_per_month must be positive and finite, got %s", f8(upm)),
				"units_per_month is the number of time units (of recency and age) in a month: 4.345 for weeks, 30 for days.");
	have_m = read_purchase_model(PG_GETARG_HEAPTUPLEHEADER(0), kind, &m);
	have_g = read_spend_model(PG_GETARG_HEAPTUPLEHEADER(1), &g);
	if (!have_m || !have_g)
		PG_RETURN_NULL();
	spend = order_value(&g, x, mon);
	if (!isfinite(spend))
		PG_RETURN_NULL();
	RETURN_FINITE(hvc_clv(&m, x, x == 0 ? 0.0 : t_x, T, spend, months, d, upm));
}

static Datum
time_to_next_purchase_impl(FunctionCallInfo fcinfo, hvc_model_kind kind)
{
	hvc_purchase_model m;
	int64		x = hvc_frequency_arg(fcinfo, 1);
	double		T = PG_GETARG_FLOAT8(2);

	check_age(x, T);
	if (!read_purchase_model(PG_GETARG_HEAPTUPLEHEADER(0), kind, &m))
		PG_RETURN_NULL();
	RETURN_FINITE(hvc_model_next_order_median(&m, x, T));
}

/* ---------------------------------------------------------------------
 * SQL-callable entry points
 * --------------------------------------------------------------------- */

Datum
hvc_bgnbd_p_alive(PG_FUNCTION_ARGS)
{
	return p_alive_impl(fcinfo, HVC_MODEL_BGNBD);
}

Datum
hvc_pareto_nbd_p_alive(PG_FUNCTION_ARGS)
{
	return p_alive_impl(fcinfo, HVC_MODEL_PARETO_NBD);
}

Datum
hvc_bgnbd_expected_purchases(PG_FUNCTION_ARGS)
{
	return expected_purchases_impl(fcinfo, HVC_MODEL_BGNBD);
}

Datum
hvc_pareto_nbd_expected_purchases(PG_FUNCTION_ARGS)
{
	return expected_purchases_impl(fcinfo, HVC_MODEL_PARETO_NBD);
}

Datum
hvc_bgnbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	return expected_purchases_new_impl(fcinfo, HVC_MODEL_BGNBD);
}

Datum
hvc_pareto_nbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	return expected_purchases_new_impl(fcinfo, HVC_MODEL_PARETO_NBD);
}

Datum
hvc_bgnbd_clv(PG_FUNCTION_ARGS)
{
	return clv_impl(fcinfo, HVC_MODEL_BGNBD);
}

Datum
hvc_pareto_nbd_clv(PG_FUNCTION_ARGS)
{
	return clv_impl(fcinfo, HVC_MODEL_PARETO_NBD);
}

Datum
hvc_bgnbd_time_to_next_purchase(PG_FUNCTION_ARGS)
{
	return time_to_next_purchase_impl(fcinfo, HVC_MODEL_BGNBD);
}

Datum
hvc_pareto_nbd_time_to_next_purchase(PG_FUNCTION_ARGS)
{
	return time_to_next_purchase_impl(fcinfo, HVC_MODEL_PARETO_NBD);
}

Datum
hvc_mbgnbd_p_alive(PG_FUNCTION_ARGS)
{
	return p_alive_impl(fcinfo, HVC_MODEL_MBGNBD);
}

Datum
hvc_mbgnbd_expected_purchases(PG_FUNCTION_ARGS)
{
	return expected_purchases_impl(fcinfo, HVC_MODEL_MBGNBD);
}

Datum
hvc_mbgnbd_expected_purchases_new(PG_FUNCTION_ARGS)
{
	return expected_purchases_new_impl(fcinfo, HVC_MODEL_MBGNBD);
}

Datum
hvc_mbgnbd_clv(PG_FUNCTION_ARGS)
{
	return clv_impl(fcinfo, HVC_MODEL_MBGNBD);
}

Datum
hvc_mbgnbd_time_to_next_purchase(PG_FUNCTION_ARGS)
{
	return time_to_next_purchase_impl(fcinfo, HVC_MODEL_MBGNBD);
}

Datum
hvc_mbgnbd_p_no_purchase(PG_FUNCTION_ARGS)
{
	return p_no_purchase_impl(fcinfo, HVC_MODEL_MBGNBD);
}

Datum
hvc_gamma_gamma_expected_order_value(PG_FUNCTION_ARGS)
{
	gg_params	g;
	int64		x = hvc_frequency_arg(fcinfo, 1);
	double		mon = PG_GETARG_FLOAT8(2);

	if (x < 0)
		bad_arg(psprintf("frequency must not be negative, got frequency = %lld", (long long) x),
				"frequency is the number of repeat purchases (0 or more).");
	check_monetary(x, mon);
	if (!read_spend_model(PG_GETARG_HEAPTUPLEHEADER(0), &g))
		PG_RETURN_NULL();
	RETURN_FINITE(order_value(&g, x, mon));
}

Datum
hvc_bgnbd_p_no_purchase(PG_FUNCTION_ARGS)
{
	return p_no_purchase_impl(fcinfo, HVC_MODEL_BGNBD);
}

Datum
hvc_pareto_nbd_p_no_purchase(PG_FUNCTION_ARGS)
{
	return p_no_purchase_impl(fcinfo, HVC_MODEL_PARETO_NBD);
}
