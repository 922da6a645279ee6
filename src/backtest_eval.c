/*
 * backtest_eval.c — the second half of a backtest, in one pass over the
 * calibration customers packed by hvc._backtest_collect (backtest.c):
 *
 *   hvc._backtest_eval(rows bytea, fit record, model text, unit float8,
 *                      tau float8, with_churn boolean)
 *     -> (customers, actual, predicted, predicted_n, mae, churn_auc,
 *         recency_auc, top20, bin_customers[], bin_actual[], bin_predicted[],
 *         bin_predicted_n[])
 *
 * Per customer: the prediction of the holdout purchases (E[X(tau)] of the
 * fitted model) and churn_risk for the holdout window (P(no purchase in
 * tau)); then the totals, the mean absolute error, the AUCs of churn_risk
 * and of recency (days from the last calibration purchase to the
 * calibration day) for "no purchase in the holdout", the share of the
 * holdout purchases of the top 20 % by prediction, and the totals by
 * calibration frequency 0 .. 6, 7+ (bins 0 .. 7) and all (bin 8).  A NULL
 * fit (the model did not converge) gives no predictions.  The SQL side
 * (65_backtest.sql) turns this into hvc.backtest / hvc.backtest_summary.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "backtest.h"
#include "core/churn.h"
#include "core/clv.h"
#include "models.h"

PG_FUNCTION_INFO_V1(hvc_backtest_eval);

#define NBINS 9					/* 0 .. 6, 7+, all */

/* a score and whether its customer made no holdout purchase */
typedef struct Scored
{
	double		score;
	bool		positive;
} Scored;

static int
cmp_scored(const void *a, const void *b)
{
	double		x = ((const Scored *) a)->score,
				y = ((const Scored *) b)->score;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * AUC of the scores for the positives: the Mann-Whitney statistic with
 * mid-ranks for ties, (sum of the positives' ranks - P(P+1)/2) / (P N);
 * NaN without both outcomes.  Sorts s.
 */
static double
auc(Scored *s, int64 n)
{
	double		before = 0.0,
				p = 0.0,
				rs = 0.0;
	int64		i = 0;

	if (n > 1)
		qsort(s, (size_t) n, sizeof(Scored), cmp_scored);
	while (i < n)
	{
		int64		j = i;
		double		np = 0.0,
					cnt;

		while (j < n && s[j].score == s[i].score)
		{
			if (s[j].positive)
				np += 1.0;
			j++;
		}
		cnt = (double) (j - i);
		rs += np * (before + (cnt + 1.0) / 2.0);
		p += np;
		before += cnt;
		i = j;
		CHECK_FOR_INTERRUPTS();
	}
	if (p > 0.0 && before - p > 0.0)
		return (rs - p * (p + 1.0) / 2.0) / (p * (before - p));
	return NAN;
}

static int
cmp_scored_desc(const void *a, const void *b)
{
	return cmp_scored(b, a);
}

/*
 * Holdout purchases of the top 20 % of the customers by prediction (score =
 * prediction, positive unused; actual purchases in act): a tie that
 * straddles the 20 % line counts with the fraction of it that fits.
 */
static double
top20(Scored *s, const double *act, int64 n)
{
	double		line = (double) n / 5.0,
				before = 0.0,
				top = 0.0;
	int64		i = 0;

	/* act is in the order of s: sort the pairs together */
	typedef struct
	{
		Scored		s;
		double		a;
	} Pair;
	Pair	   *pr = palloc_extended(Max(n, 1) * sizeof(Pair), MCXT_ALLOC_HUGE);

	for (i = 0; i < n; i++)
		pr[i].s = s[i], pr[i].a = act[i];
	if (n > 1)
		qsort(pr, (size_t) n, sizeof(Pair), cmp_scored_desc);
	i = 0;
	while (i < n)
	{
		int64		j = i;
		double		a = 0.0,
					cnt;

		while (j < n && pr[j].s.score == pr[i].s.score)
			a += pr[j++].a;
		cnt = (double) (j - i);
		top += a * Max(0.0, Min(cnt, line - before)) / cnt;
		before += cnt;
		i = j;
		CHECK_FOR_INTERRUPTS();
	}
	pfree(pr);
	return top;
}

static Datum
array_of_float8(const double *v, const bool *nulls, int n)
{
	Datum		d[NBINS];
	int			dims[1] = {n},
				lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_md_array(d, (bool *) nulls, 1, dims, lbs,
											  FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static Datum
array_of_int8(const int64 *v, int n)
{
	Datum		d[NBINS];
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Int64GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static hvc_model_kind
model_kind(const char *model)
{
	if (strcmp(model, "bgnbd") == 0)
		return HVC_MODEL_BGNBD;
	if (strcmp(model, "pareto_nbd") == 0)
		return HVC_MODEL_PARETO_NBD;
	if (strcmp(model, "mbgnbd") == 0)
		return HVC_MODEL_MBGNBD;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("hvc: unknown purchase model \"%s\"", model),
			 errhint("Backtest bgnbd, mbgnbd or pareto_nbd.")));
	return HVC_MODEL_BGNBD;		/* not reached */
}

Datum
hvc_backtest_eval(PG_FUNCTION_ARGS)
{
	const BacktestRow *rows;
	int64		n,
				i,
				npred = 0,
				nchurn = 0,
				bin_n[NBINS] = {0},
				bin_np[NBINS] = {0};
	double		unit,
				tau,
				actual = 0.0,
				predicted = 0.0,
				abserr = 0.0,
				bin_a[NBINS] = {0},
				bin_p[NBINS] = {0};
	bool		bin_a_null[NBINS],
				bin_p_null[NBINS],
				have_model = false,
				with_churn;
	hvc_purchase_model m;
	Scored	   *churn,
			   *gap,
			   *pred;
	double	   *pred_act;
	TupleDesc	desc;
	Datum		values[12];
	bool		nulls[12];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4) || PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hvc: _backtest_eval needs the rows, the model, the unit, tau and with_churn")));
	unit = PG_GETARG_FLOAT8(3);
	tau = PG_GETARG_FLOAT8(4);
	with_churn = PG_GETARG_BOOL(5);
	if (!(unit > 0.0) || !isfinite(unit) || !(tau >= 0.0) || !isfinite(tau))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hvc: the unit of a backtest must be positive and its holdout tau finite and not negative")));
	if (!PG_ARGISNULL(1))
		have_model = read_purchase_model(PG_GETARG_HEAPTUPLEHEADER(1),
										 model_kind(text_to_cstring(PG_GETARG_TEXT_PP(2))), &m);
	else
		(void) model_kind(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != 12)
		elog(ERROR, "hvc._backtest_eval must return twelve columns");
	desc = BlessTupleDesc(desc);

	rows = backtest_rows_of(PG_GETARG_BYTEA_PP(0), &n);
	churn = palloc_extended(Max(n, 1) * sizeof(Scored), MCXT_ALLOC_HUGE);
	gap = palloc_extended(Max(n, 1) * sizeof(Scored), MCXT_ALLOC_HUGE);
	pred = palloc_extended(Max(n, 1) * sizeof(Scored), MCXT_ALLOC_HUGE);
	pred_act = palloc_extended(Max(n, 1) * sizeof(double), MCXT_ALLOC_HUGE);

	for (i = 0; i < n; i++)
	{
		const BacktestRow *r = &rows[i];
		double		x = r->frequency,
					t_x = r->frequency == 0 ? 0.0 : r->recency_days / unit,
					T = r->age_days / unit,
					a = r->holdout;
		int			k = Min(r->frequency, 7);
		bool		positive = r->holdout == 0;

		actual += a;
		bin_n[k]++;
		bin_a[k] += a;
		gap[i].score = (double) (r->age_days - r->recency_days);
		gap[i].positive = positive;
		if (have_model)
		{
			double		e = hvc_model_expected_purchases(&m, tau, x, t_x, T);

			if (isfinite(e))
			{
				predicted += e;
				abserr += fabs(a - e);
				bin_p[k] += e;
				bin_np[k]++;
				pred[npred].score = e;
				pred[npred].positive = positive;
				pred_act[npred++] = a;
			}
			if (with_churn)
			{
				double		c = hvc_model_p_no_purchase(&m, tau, x, t_x, T);

				if (isfinite(c))
				{
					churn[nchurn].score = c;
					churn[nchurn++].positive = positive;
				}
			}
		}
		CHECK_FOR_INTERRUPTS();
	}
	/* the all bin */
	for (i = 0; i < NBINS - 1; i++)
	{
		bin_n[NBINS - 1] += bin_n[i];
		bin_a[NBINS - 1] += bin_a[i];
		bin_p[NBINS - 1] += bin_p[i];
		bin_np[NBINS - 1] += bin_np[i];
	}
	for (i = 0; i < NBINS; i++)
	{
		bin_a_null[i] = bin_n[i] == 0;
		bin_p_null[i] = bin_np[i] == 0;
	}

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum(n);
	values[1] = Float8GetDatum(actual);
	values[2] = Float8GetDatum(predicted);
	nulls[2] = npred == 0;
	values[3] = Int64GetDatum(npred);
	values[4] = Float8GetDatum(npred > 0 ? abserr / (double) npred : 0.0);
	nulls[4] = npred == 0;
	{
		double		c = auc(churn, nchurn),
					g = auc(gap, n),
					t = top20(pred, pred_act, npred);

		values[5] = Float8GetDatum(c);
		nulls[5] = isnan(c);
		values[6] = Float8GetDatum(g);
		nulls[6] = isnan(g);
		values[7] = Float8GetDatum(t);
		nulls[7] = npred == 0;
	}
	values[8] = array_of_int8(bin_n, NBINS);
	values[9] = array_of_float8(bin_a, bin_a_null, NBINS);
	values[10] = array_of_float8(bin_p, bin_p_null, NBINS);
	values[11] = array_of_int8(bin_np, NBINS);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
