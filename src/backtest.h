/*
 * backtest.h — a backtest's calibration customers, packed by
 * hvc._backtest_collect (backtest.c) and read by hvc._backtest_rows and
 * hvc._backtest_eval (backtest_eval.c).
 */
#ifndef HVC_BACKTEST_H
#define HVC_BACKTEST_H

#include "postgres.h"

typedef struct BacktestRow
{
	int32		frequency;		/* repeat purchase days up to the calibration day */
	int32		recency_days;	/* first -> last of them */
	int32		age_days;		/* first purchase day -> calibration day */
	int32		holdout;		/* purchase days in the holdout */
} BacktestRow;

/* The rows of a hvc._backtest_collect result (an aligned copy), validated. */
extern const BacktestRow *backtest_rows_of(bytea *b, int64 *n);

#endif
