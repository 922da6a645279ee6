/*
 * test_rfm.c — RFM quintile breaks and scores (src/core/rfm.c), checked
 * against values worked out by hand with PostgreSQL's percentile_cont.
 */
#include "test_util.h"

#include "rfm.h"

void
test_rfm(void)
{
	double		v[5] = {-11, -6, -150, -30, -365};
	double		f[5] = {3, 1, 1, 5, 1};
	double		one[1] = {42};
	double		b[RFM_BREAKS];

	note("-- RFM scores");
	/* recency of the five-customer shop of test/sql/refresh.sql */
	rfm_breaks(v, 5, b);
	CHECK_CLOSE("R break 1", b[0], -193, 1e-12, 0);
	CHECK_CLOSE("R break 2", b[1], -78, 1e-12, 0);
	CHECK_CLOSE("R break 3", b[2], -22.4, 1e-12, 0);
	CHECK_CLOSE("R break 4", b[3], -10, 1e-12, 0);
	CHECK(rfm_score(-365, b) == 1 && rfm_score(-150, b) == 2 && rfm_score(-30, b) == 3 &&
		  rfm_score(-11, b) == 4 && rfm_score(-6, b) == 5, "R scores 1..5");
	/* heavy ties: most customers with one order all score 1 */
	rfm_breaks(f, 5, b);
	CHECK_CLOSE("F break 3", b[2], 1.8, 1e-12, 0);
	CHECK_CLOSE("F break 4", b[3], 3.4, 1e-12, 0);
	CHECK(rfm_score(1, b) == 1 && rfm_score(3, b) == 4 && rfm_score(5, b) == 5,
		  "F scores with ties");
	/* a single customer: every break is its value, score 1 */
	rfm_breaks(one, 1, b);
	CHECK(b[0] == 42 && b[3] == 42 && rfm_score(42, b) == 1, "single value scores 1");
	CHECK(rfm_cell_index(1, 1, 1) == 0 && rfm_cell_index(5, 5, 5) == 124 &&
		  rfm_cell_index(2, 3, 4) == 25 + 10 + 3, "cell index");
}
