/*
 * snapshot.h — the per-customer step of a refresh (hvc._build_snapshot),
 * streamed in two passes so that backend memory does not grow with the
 * number of customers:
 *
 *   pass 1 (snapshot_builder.c): one read of the stage, joined in SQL to the
 *     current snapshot's tier columns; per customer the metrics, predictions
 *     (snapshot_forecast.c caches them per (frequency, recency, age)) and the
 *     value; the row goes into a tuplesort by value (snapshot_rows.c), the
 *     recency, frequency and revenue into break sorts for the RFM quintile
 *     breaks (histograms of few distinct values, else every value counted
 *     per radix bucket, in memory up to work_mem and beyond in a temporary
 *     file), and the churn risk, counted per triple, into a histogram of its
 *     distinct values (snapshot_rank.c).  Tuplesorts spill to disk beyond
 *     work_mem.
 *   pass 2: the sorted rows in value order get their value rank, cumulative
 *     share, tier (and tier carry-over), RFM scores, segment and churn
 *     percentile, and go out (snapshot_rows.c).
 *
 * The arguments are validated in snapshot_args.c.
 */
#ifndef HVC_SNAPSHOT_H
#define HVC_SNAPSHOT_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "pgtime.h"
#include "utils/date.h"
#include "utils/timestamp.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"
#include "utils/tuplesort.h"

#include "core/rfm.h"
#include "models.h"
#include "stage.h"

typedef enum ValueBasis
{
	BASIS_PREDICTED_CLV,
	BASIS_HISTORIC_CLV,
	BASIS_REVENUE,
	BASIS_MARGIN,
	BASIS_SCORE					/* pg_temp._hvc_score, 0-100 points (74_score.sql) */
} ValueBasis;

/* The validated arguments of hvc._build_snapshot. */
typedef struct SnapshotArgs
{
	ModelSet	ms;
	DateADT		as_of_day;
	pg_tz	   *tz;
	bool		has_margin;
	ValueBasis	basis;
	double		unit;			/* days per time unit */
	Datum	   *segments;		/* RFM_CELLS text */
	Datum	   *cells;			/* RFM_CELLS text: '111' .. '555' */
	Datum	   *tier_lo;		/* int8: first value rank of each tier */
	Datum	   *tier_names;		/* text */
	Datum	   *tier_ranks;		/* int4 */
	Datum	   *tier_high;		/* bool */
	int			ntiers;
	TimestampTz refreshed;
	int64		refresh_id;
	bool		record_moves;	/* write the tier moves into hvc.tier_history */
	Datum		move_reason;	/* text: the reason of the up and down moves */
	bool		moves_are_activity; /* move_reason is 'activity' */
} SnapshotArgs;

/* snapshot_args.c */
extern void snapshot_args(FunctionCallInfo fcinfo, SnapshotArgs *a);
/* a value basis by name, or an error */
extern ValueBasis snapshot_basis_of(const char *name);

/*
 * snapshot_builder.c: the value a customer is ranked by, in cents (score:
 * the customer's score in points, NaN without); a numeric as numeric_float8
 * gives it (the premium ticket's percentile reads avg_order_value so)
 */
extern int64 snapshot_value_cents(const SnapshotArgs *a, const StageCustomer *c,
								  const Prediction *p, double score);
extern double snapshot_numeric_float8(Datum num);

/* snapshot_rank.c: quantile breaks and cume_dist, streamed */
typedef struct BreakSort
{
	struct valcount_hash *hist;	/* distinct values and counts, while few */
	/* then every value, counted per radix bucket: in memory up to work_mem, beyond in a file */
	int64	   *buckets;
	double	   *values;			/* those not (yet) in the file */
	int			nvalues,
				cap;
	struct BufFile *file;		/* NULL while they fit */
	MemoryContext cxt;			/* where the file and the counts go */
	int64		n;
} BreakSort;
extern void break_sort_begin(BreakSort *bs);
extern void break_sort_put(BreakSort *bs, double v);
/* sorts, reads once, ends the sort: the RFM_BREAKS quintile breaks */
extern void break_sort_finish(BreakSort *bs, double breaks[RFM_BREAKS]);
/*
 * sorts, reads once, ends the sort: percentile_cont(ps[i]) as PostgreSQL
 * computes it, for np ascending ps; false (no values) when nothing was put
 */
extern bool break_sort_percentiles(BreakSort *bs, const double *ps, int np, double *out);

typedef struct CumeDist CumeDist;
extern CumeDist *cume_dist_create(void);
extern void cume_dist_add(CumeDist *cd, double v);
extern void cume_dist_finish(CumeDist *cd);
extern void cume_dist_add_n(CumeDist *cd, double v, int64 n);
/* share of the added values at most v (v must have been added) */
extern double cume_dist_of(CumeDist *cd, double v);

/* snapshot_forecast.c: purchase-model forecasts cached per triple */
typedef struct ForecastCache ForecastCache;
extern ForecastCache *forecast_cache_create(const ModelSet *ms, DateADT as_of_day, double unit);
extern void forecast_predict(ForecastCache *fc, const StageCustomer *c, Prediction *out);
/* the same; *slot: the cache's slot of the customer's triple (-1 without a model) */
extern void forecast_predict_slot(ForecastCache *fc, const StageCustomer *c, Prediction *out,
								  int32 *slot);
/*
 * After the churn risks were handed on and churn finished (cume_dist_finish):
 * the churn percentile of each slot's triple, or NULL when the cache was
 * emptied and refilled (slots then stand for more than one triple)
 */
extern double *forecast_cache_churn_percentiles(ForecastCache *fc, CumeDist *churn);
/* the churn risks of the customers predicted for go to churn, counted per triple */
extern void forecast_cache_count_churn(ForecastCache *fc, CumeDist *churn);
extern void forecast_cache_flush_churn(ForecastCache *fc);

/* snapshot_rows.c: the row between the passes, and the output row */
/* a field added here (or to StageCustomer) is packed too: pack_row in snapshot_rows.c */
typedef struct PassRow
{
	StageCustomer c;			/* c.customer is the key */
	Prediction	pred;
	int64		value_cents;
	bool		has_old;		/* the customer is in the current snapshot */
	Datum		old_tier;		/* text */
	int32		old_tier_rank;
	bool		old_prev_null;
	Datum		old_previous_tier;	/* text */
	TimestampTz old_tier_since;
	ItemPointerData old_tid;	/* the old row's ctid (when has_old) */
	int32		churn_slot;		/* the forecast cache's slot of its triple (-1: none) */
} PassRow;

typedef struct RowSort
{
	TupleDesc	desc;
	Tuplesortstate *sort;
	TupleTableSlot *slot;		/* out of the sort */
	TupleTableSlot *in;			/* into the sort */
	Oid			key_type;
	struct PackedRow *packed;	/* a PassRow as a bytea, into the sort */
} RowSort;

/*
 * the sort operators and collations of the value order (negated value in
 * cents, int8; then the key ascending, text keys in C collation): the
 * builder's row sort and the Citus global step (citus_globals.c) share it
 */
extern void value_order_keys(Oid key_type, Oid ops[2], Oid colls[2]);
extern void row_sort_begin(RowSort *rs, Oid key_type);
extern void row_sort_put(RowSort *rs, const PassRow *r);
extern void row_sort_performsort(RowSort *rs);
/* the next row in value order (Datums valid until the next call); false at the end */
extern bool row_sort_next(RowSort *rs, PassRow *r);
extern void row_sort_end(RowSort *rs);

/*
 * The Pareto curve (hvc.pareto_curve) as the rows go by in value order: the
 * cumulative share at the value rank of the top 1..PARETO_POINTS percent
 * (greatest(1, ceil(pct * customers / 100))).  The builder's pass 2 and the
 * Citus global step (citus_globals.c) share it (snapshot_rank.c).
 */
#define PARETO_POINTS 100
typedef struct ParetoCurve
{
	int64		rank_at[PARETO_POINTS];
	int			next;			/* the first point not reached yet */
	double	   *share;			/* [PARETO_POINTS], the caller's */
	bool	   *isnull;			/* [PARETO_POINTS]: NaN shares are NULL */
} ParetoCurve;
extern void pareto_begin(ParetoCurve *pc, int64 customers, double *share, bool *isnull);
/* the row of value rank rank (ranks 1, 2, ... in turn) and its cumulative share */
extern void pareto_put(ParetoCurve *pc, int64 rank, double cum_share);

/* What pass 2 adds to a row. */
typedef struct Ranked
{
	int			r,
				f,
				m;
	int64		value_rank;
	double		cum_share;		/* NaN when total value <= 0 */
	double		churn_pct;		/* NaN without churn_risk */
	int			tier;			/* index into the tier arrays */
} Ranked;

#define SNAPSHOT_NATTS 38
#define DROP_SAMPLES 10			/* the tier drops an alert names */

/*
 * What a build knows about the whole snapshot, for the statements after it
 * (hvc._snapshot_stats): the Pareto curve, the two percentiles of
 * hvc.snapshot_info, and whether any tier moved.
 */
typedef struct SnapshotStats
{
	int64		refresh_id;
	int64		customers;
	int64		moved;			/* rows whose tier_since is this refresh */
	int64		kept;			/* rows not new (as hvc._record_tier_changes counts) */
	int64		replaced;		/* old rows updated in place (hvc._write_snapshot) */
	bool		table_was_empty;	/* hvc._write_snapshot found the table without pages */
	bool		has_premium,
				has_median_gap;
	int32		max_tenure_days;	/* the oldest customer's tenure_days (-1: none) */
	int64		high_value;		/* rows of a high-value tier (is_high_value) */
	int64		drops;			/* tier drops of hvc._raise_alerts (history_put_move) */
	int			ndrop_ids;
	Datum		drop_ids[DROP_SAMPLES];	/* jsonb keys of the most valuable, in TopMemoryContext */
	double		premium_ticket_from;	/* percentile_cont(0.8) of avg_order_value */
	double		median_repeat_gap;	/* percentile_cont(0.5) of avg_days_between_orders */
	bool		pareto_null[PARETO_POINTS];
	double		pareto[PARETO_POINTS];	/* cumulative share at each percentile's rank */
	bytea	   *cohorts;		/* cohort counts (retention.h), in TopMemoryContext */
} SnapshotStats;

/* The output row (every column of hvc.customer_snapshot). */
extern void snapshot_row(const SnapshotArgs *a, const PassRow *r, const Ranked *k,
						 Datum *values, bool *nulls);
/*
 * The rank the old tier of r has under the current rules (by name), or the
 * rank it had (a tier renamed or dropped since)
 */
extern int32 snapshot_old_tier_rank(const SnapshotArgs *a, const PassRow *r);
/*
 * The tier of a value rank: the last whose first rank is at most it,
 * searched from tier from (0, or the tier of a smaller rank)
 */
extern int	snapshot_tier_of_rank(const SnapshotArgs *a, int64 rank, int from);
/* whether the old tier of r is a high-value tier under the current rules (by name) */
extern bool snapshot_old_tier_high(const SnapshotArgs *a, const PassRow *r);
/*
 * Whether that row is a tier move of this refresh (a new customer or a move
 * between tiers: its tier_since is the refresh)
 */
extern bool snapshot_row_moved(const SnapshotArgs *a, const Datum *values);
/* whether that row replaces the customer's old row in place */
extern bool snapshot_replaces_old(const SnapshotArgs *a, const PassRow *r, const Datum *values);

/*
 * Where pass 2 puts each output row: the result of hvc._build_snapshot (a
 * tuplestore) or hvc.customer_snapshot itself (hvc._write_snapshot).
 * replace is the old row the output row replaces (snapshot_replaces_old;
 * NULL for new customers): the writer updates it in place.
 */
typedef void (*snapshot_sink_fn) (void *arg, const Datum *values, const bool *nulls,
								  ItemPointer replace);

/*
 * snapshot_write.c: the rows straight into hvc.customer_snapshot, in batches
 * (row_writer.h); an error unless the table is as register_source made it
 */
struct RowWriter;
extern void snapshot_writer_open(struct RowWriter *w, Oid key_type);

/*
 * history_write.c: the tier moves straight into hvc.tier_history (a
 * RowWriter), as pass 2 forms the rows: the history row of an output row
 * that is a move (snapshot_row_moved; values, nulls: snapshot_row's); true
 * when the move is a drop the tier-drop alert counts (down, out of a
 * high-value tier, reason activity)
 */
extern void history_writer_open(struct RowWriter *w, Oid key_type);
extern bool history_put_move(struct RowWriter *w, const SnapshotArgs *a, const PassRow *r,
							 const Datum *values, const bool *nulls);
/* to_jsonb(key) of a key of (base) type key_type */
extern Datum history_key_jsonb(Datum key, Oid key_type);

#endif
