/*
 * refresh_fit.c — the model step of a refresh:
 *
 *   hvc._fit_models(cfg hvc.config, as_of_day date) -> hvc._model_params
 *
 * reads the stage once, fits the configured purchase model (BG/NBD,
 * Pareto/NBD or MBG/NBD) on (frequency, recency, age) of every customer and the
 * Gamma-Gamma spend model on the repeat customers, and says in plain words
 * why a model is not usable when it is not (too few customers, nobody with a
 * repeat purchase, no convergence, q <= 1).  Also returns the stage totals.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "fit_options.h"
#include "core/bgnbd.h"
#include "core/btyd_data.h"
#include "core/clv.h"
#include "core/gamma_gamma.h"
#include "core/mbgnbd.h"
#include "core/pareto_nbd.h"
#include "models.h"
#include "stage.h"
#include "version_guard.h"

PG_FUNCTION_INFO_V1(hvc_fit_models);

/* The fewest customers a purchase model is fitted on. */
#define MIN_FIT_CUSTOMERS	10
/* The fewest repeat customers the spend model is fitted on. */
#define MIN_SPEND_CUSTOMERS	3

typedef struct ResultBuilder
{
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;
} ResultBuilder;

static void
put(ResultBuilder *rb, const char *name, Datum v)
{
	int			i = SPI_fnumber(rb->desc, name);

	if (i <= 0)
		hvc_catalog_outdated(psprintf("hvc._model_params has no column \"%s\"", name));
	rb->values[i - 1] = v;
	rb->nulls[i - 1] = false;
}

static void
put_float(ResultBuilder *rb, const char *name, double v)
{
	if (isfinite(v))
		put(rb, name, Float8GetDatum(v));
}

static double
elapsed_seconds(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_DOUBLE(now);
}

/* a non-NULL attribute of the hvc.config row */
static Datum
config_attr(HeapTupleHeader cfg, const char *name)
{
	bool		isnull;
	Datum		d = hvc_attribute(cfg, name, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc: hvc.config.%s must not be NULL", name)));
	return d;
}

/*
 * The edge (NULL for an interior optimum) and the standard errors of a fit.
 * These columns are new in 0.2.0: a 0.1.0 catalog's hvc._model_params lacks
 * them and its refresh (which never reads them) goes on without them.
 */
static void
put_edge_se(ResultBuilder *rb, const char *edge_col, const hvc_opt_report *rep,
			const char *const *se_cols, int n)
{
	int			i;

	if (SPI_fnumber(rb->desc, edge_col) <= 0)
		return;
	if (rep->edge[0] != '\0')
		put(rb, edge_col, CStringGetTextDatum(rep->edge));
	for (i = 0; i < n; i++)
		put_float(rb, se_cols[i], rep->se[i]);
}

/* the _model_params columns of each purchase model's four parameters */
static const char *const bg_columns[4] = {"r", "alpha", "a", "b"};
static const char *const bg_se_columns[4] = {"r_se", "alpha_se", "a_se", "b_se"};
static const char *const pnbd_columns[4] = {"r", "alpha", "s", "beta"};
static const char *const pnbd_se_columns[4] = {"r_se", "alpha_se", "s_se", "beta_se"};

/*
 * Fit the purchase model named `model` (bgnbd, mbgnbd or pareto_nbd; the
 * caller checked the name): its four parameters in the order of the columns
 * above, and whether they are valid for predictions.
 */
static int
fit_btyd_model(const char *model, const btyd_row *rows, int64 n, const hvc_fit_options *opt,
			   double par[4], double *loglik, hvc_opt_report *rep, bool *valid)
{
	int			rc;

	if (strcmp(model, "bgnbd") == 0)
	{
		bgnbd_params p;

		rc = bgnbd_fit(rows, (size_t) n, opt, &p, loglik, rep);
		par[0] = p.r, par[1] = p.alpha, par[2] = p.a, par[3] = p.b;
		*valid = bgnbd_params_valid(&p);
	}
	else if (strcmp(model, "mbgnbd") == 0)
	{
		mbgnbd_params p;

		rc = mbgnbd_fit(rows, (size_t) n, opt, &p, loglik, rep);
		par[0] = p.r, par[1] = p.alpha, par[2] = p.a, par[3] = p.b;
		*valid = mbgnbd_params_valid(&p);
	}
	else
	{
		pnbd_params p;

		rc = pnbd_fit(rows, (size_t) n, opt, &p, loglik, rep);
		par[0] = p.r, par[1] = p.alpha, par[2] = p.s, par[3] = p.beta;
		*valid = pnbd_params_valid(&p);
	}
	return rc;
}

static void
fit_purchase_model(ResultBuilder *rb, const char *model, int64 customers, btyd_row *rows,
				   int64 nrows, int64 repeaters, StringInfo msg)
{
	hvc_fit_options opt;
	hvc_opt_report rep;
	double		loglik = NAN;
	double		par[4];
	bool		valid;
	int			rc,
				i;
	instr_time	start;
	bool		pareto = strcmp(model, "pareto_nbd") == 0;
	const char *const *names = pareto ? pnbd_columns : bg_columns;
	const char *const *se = pareto ? pnbd_se_columns : bg_se_columns;

	put(rb, "purchase_customers", Int64GetDatum(customers));
	if (nrows < MIN_FIT_CUSTOMERS || repeaters == 0)
	{
		char	   *why = nrows < MIN_FIT_CUSTOMERS ?
			psprintf("%s not fitted: %lld customers before the as_of day, at least %d needed",
					 model, (long long) nrows, MIN_FIT_CUSTOMERS) :
			psprintf("%s not fitted: no customer has a repeat purchase", model);

		appendStringInfoString(msg, why);
		put(rb, "purchase_message", CStringGetTextDatum(why));
		return;
	}
	hvc_backend_fit_options(&opt);
	memset(&rep, 0, sizeof(rep));
	INSTR_TIME_SET_CURRENT(start);
	rc = fit_btyd_model(model, rows, nrows, &opt, par, &loglik, &rep, &valid);
	hvc_after_fit(&rep);
	/*
	 * The edge b->inf (a NaN, b infinite) is told by purchase_edge; a 0.1.0
	 * catalog has no such column and stores the same NBD limit as a = 0.
	 */
	if (!pareto && isnan(par[2]) && isinf(par[3]) && SPI_fnumber(rb->desc, "purchase_edge") <= 0)
		par[2] = 0.0;
	for (i = 0; i < 4; i++)
		put_float(rb, names[i], par[i]);
	if (rc == HVC_OK || rc == HVC_FIT_NOCONV)
		put_edge_se(rb, "purchase_edge", &rep, se, 4);
	rc = (rc == HVC_OK && valid) ? HVC_OK : (rc == HVC_OK ? HVC_FIT_NOCONV : rc);
	if (rc == HVC_ENOMEM)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("out of memory while fitting the %s model", model)));
	put_float(rb, "purchase_log_likelihood", loglik);
	put(rb, "purchase_converged", BoolGetDatum(rc == HVC_OK));
	put(rb, "purchase_iterations", Int32GetDatum(rep.iterations));
	put(rb, "purchase_message", CStringGetTextDatum(rep.message));
	put(rb, "usable", BoolGetDatum(rc == HVC_OK));
	if (rc == HVC_OK)
	{
		appendStringInfo(msg, "%s fitted on %lld customers in %.3f s (%d iterations, LL %.2f)",
						 model, (long long) customers, elapsed_seconds(start), rep.iterations, loglik);
		if (rep.edge[0] != '\0')
			appendStringInfo(msg, " at the edge %s%s", rep.edge,
							 strcmp(rep.edge, pareto ? "s->0" : "a->0") == 0 ||
							 (!pareto && strcmp(rep.edge, "b->inf") == 0) ?
							 " (nobody drops out: predictions use the NBD limit)" :
							 " (predictions use the limiting model)");
	}
	else
		appendStringInfo(msg, "%s did not converge (%s); predictions left NULL", model, rep.message);
}

static void
fit_spend_model(ResultBuilder *rb, gg_row *rows, int64 n, StringInfo msg)
{
	hvc_fit_options opt;
	hvc_opt_report rep;
	gg_params	g;
	double		loglik = NAN,
				mean;
	int			rc;
	instr_time	start;

	put(rb, "spend_customers", Int64GetDatum(n));
	if (n < MIN_SPEND_CUSTOMERS)
	{
		char	   *why = psprintf("gamma_gamma not fitted: %lld repeat customers with positive spend, at least %d needed",
								   (long long) n, MIN_SPEND_CUSTOMERS);

		appendStringInfo(msg, "; %s", why);
		put(rb, "spend_message", CStringGetTextDatum(why));
		return;
	}
	hvc_backend_fit_options(&opt);
	memset(&rep, 0, sizeof(rep));
	INSTR_TIME_SET_CURRENT(start);
	rc = gg_fit(rows, (size_t) n, &opt, &g, &loglik, &rep);
	hvc_after_fit(&rep);
	if (rc == HVC_ENOMEM)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("out of memory while fitting the gamma_gamma model")));
	put_float(rb, "p", g.p);
	put_float(rb, "q", g.q);
	put_float(rb, "v", g.v);
	if (rc == HVC_OK || rc == HVC_FIT_NOCONV)
	{
		static const char *const se[3] = {"p_se", "q_se", "v_se"};

		put_edge_se(rb, "spend_edge", &rep, se, 3);
	}
	put_float(rb, "spend_log_likelihood", loglik);
	put(rb, "spend_converged", BoolGetDatum(rc == HVC_OK));
	put(rb, "spend_iterations", Int32GetDatum(rep.iterations));
	put(rb, "spend_message", CStringGetTextDatum(rep.message));
	if (rc != HVC_OK)
	{
		appendStringInfo(msg, "; gamma_gamma did not converge (%s): expected_order_value and predicted_clv left NULL",
						 rep.message);
		return;
	}
	if (gg_population_mean(&g, &mean) != HVC_OK)
	{
		appendStringInfo(msg, "; gamma_gamma q = %.4g <= 1 (mean spend undefined): expected_order_value and predicted_clv left NULL",
						 g.q);
		put(rb, "spend_message", CStringGetTextDatum("q <= 1: the population mean spend does not exist"));
		return;
	}
	put(rb, "spend_usable", BoolGetDatum(true));
	appendStringInfo(msg, "; gamma_gamma fitted on %lld repeat customers in %.3f s (%d iterations)",
					 (long long) n, elapsed_seconds(start), rep.iterations);
	if (rep.edge[0] != '\0')
		appendStringInfo(msg, " at the edge %s (predictions use the limiting model)", rep.edge);
}

/* The fit's rows, collected while the stage streams by. */
typedef struct FitRows
{
	DateADT		as_of_day;
	double		unit;
	bool		keep;			/* false with model none: nothing to fit */
	btyd_row   *rows;
	gg_row	   *grows;
	int64		nrows,
				cap,
				gcap,
				repeaters,
				ng;
} FitRows;

static void
collect_fit_row(void *arg, const StageCustomer *c, TupleTableSlot *slot)
{
	FitRows    *fr = arg;

	/*
	 * A customer whose first purchase is on the as_of day (age 0) has a
	 * likelihood of exactly 1 under every purchase model: leaving the row out
	 * changes nothing, and the core requires age > 0.
	 */
	if (fr->as_of_day == c->first_day)
		return;
	if (fr->nrows == fr->cap)
	{
		fr->cap = Max(1024, fr->cap * 2);
		fr->rows = fr->rows == NULL ? palloc(fr->cap * sizeof(btyd_row))
			: repalloc_huge(fr->rows, fr->cap * sizeof(btyd_row));
	}
	fr->rows[fr->nrows].x = c->frequency;
	fr->rows[fr->nrows].t_x = (c->last_day - c->first_day) / fr->unit;
	fr->rows[fr->nrows].T = (fr->as_of_day - c->first_day) / fr->unit;
	fr->rows[fr->nrows].w = 1.0;
	fr->nrows++;
	if (c->frequency > 0)
	{
		fr->repeaters++;
		if (c->monetary > 0)
		{
			if (fr->ng == fr->gcap)
			{
				fr->gcap = Max(1024, fr->gcap * 2);
				fr->grows = fr->grows == NULL ? palloc(fr->gcap * sizeof(gg_row))
					: repalloc_huge(fr->grows, fr->gcap * sizeof(gg_row));
			}
			fr->grows[fr->ng].x = c->frequency;
			fr->grows[fr->ng].m = c->monetary;
			fr->grows[fr->ng].w = 1.0;
			fr->ng++;
		}
	}
}

Datum
hvc_fit_models(PG_FUNCTION_ARGS)
{
	HeapTupleHeader cfg = PG_GETARG_HEAPTUPLEHEADER(0);
	DateADT		as_of_day = PG_GETARG_DATEADT(1);
	const char *model = model_required_text(cfg, "model", "hvc.config");
	const char *time_unit = model_required_text(cfg, "time_unit", "hvc.config");
	Datum		horizon = config_attr(cfg, "horizon_months");
	Datum		discount = config_attr(cfg, "monthly_discount_rate");
	double		unit = strcmp(time_unit, "week") == 0 ? 7.0 : 1.0;
	MemoryContext callcxt = CurrentMemoryContext;
	ResultBuilder rb;
	TupleDesc	desc;
	Stage		st;
	FitRows		fr;
	StringInfoData msg;
	HeapTuple	result;

	model_check_settings("hvc.config", model, DatumGetInt32(horizon), DatumGetFloat8(discount));
	if (strcmp(time_unit, "week") != 0 && strcmp(time_unit, "day") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: hvc.config: time_unit must be day or week, got \"%s\"", time_unit)));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "hvc._fit_models must return hvc._model_params");
	desc = BlessTupleDesc(desc);
	rb.desc = desc;
	rb.values = palloc0(desc->natts * sizeof(Datum));
	rb.nulls = palloc(desc->natts * sizeof(bool));
	memset(rb.nulls, true, desc->natts * sizeof(bool));
	initStringInfo(&msg);

	put(&rb, "model", CStringGetTextDatum(model));
	put(&rb, "usable", BoolGetDatum(false));
	put(&rb, "spend_usable", BoolGetDatum(false));
	put(&rb, "horizon_months", horizon);
	put(&rb, "monthly_discount_rate", discount);
	put(&rb, "units_per_month", Float8GetDatum(unit == 7.0 ? HVC_UNITS_PER_MONTH_WEEK
											   : HVC_UNITS_PER_MONTH_DAY));

	/*
	 * The stage is streamed through SPI (stage_scan_fields: the states'
	 * fixed fields, their sets not decoded): only the fit's rows are kept,
	 * 32 bytes per customer (and 24 per repeat buyer for the spend model);
	 * with model none only the totals.  The result tuple is formed after
	 * SPI_finish, so everything it points to lives in callcxt.
	 */
	memset(&fr, 0, sizeof(fr));
	fr.as_of_day = as_of_day;
	fr.unit = unit;
	fr.keep = strcmp(model, "none") != 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "hvc: SPI_connect failed");
	MemoryContextSwitchTo(callcxt);
	stage_scan_fields(&st, "SELECT customer_id, state FROM pg_temp._hvc_stage", InvalidOid, as_of_day,
					  fr.keep ? collect_fit_row : NULL, &fr);
	SPI_finish();
	MemoryContextSwitchTo(callcxt);
	put(&rb, "rows_read", Int64GetDatum(st.rows_read));
	put(&rb, "rows_skipped", Int64GetDatum(st.rows_skipped));
	put(&rb, "customers", Int64GetDatum(st.customers_seen));

	if (!fr.keep)
		appendStringInfoString(&msg, "model none: predictions not computed");
	else
	{
		if (fr.rows == NULL)
			fr.rows = palloc(sizeof(btyd_row));
		if (fr.grows == NULL)
			fr.grows = palloc(sizeof(gg_row));
		fit_purchase_model(&rb, model, st.customers_seen, fr.rows, fr.nrows, fr.repeaters, &msg);
		fit_spend_model(&rb, fr.grows, fr.ng, &msg);
	}
	put(&rb, "message", CStringGetTextDatum(msg.data));

	result = heap_form_tuple(desc, rb.values, rb.nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(result));
}
