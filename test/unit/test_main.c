/*
 * test_main.c — runs the hvc core unit tests; the last line of output is
 * "N passed, M failed" and the exit status is non-zero if M > 0.
 */
#include <stdio.h>

#include "test_util.h"

int
main(void)
{
	printf("hvc core unit tests (CDNOW data: %s)\n", cdnow_dir());
	test_specfun();
	test_data_opt();
	test_bgnbd();
	test_mbgnbd();
	test_pnbd();
	test_pnbd_fit();
	test_gg();
	test_clv();
	test_many();
	test_rfm();
	test_churn();
	test_edges();
	test_shops();
	test_bench();
	if (t_skip > 0)
		printf("%d skipped\n", t_skip);
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail > 0 ? 1 : 0;
}
