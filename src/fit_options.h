/*
 * fit_options.h — model-fit options for code running in a backend: the core
 * optimiser polls for a pending query cancel or termination once per
 * iteration, stops cleanly (after freeing its workspace), and the caller then
 * services the interrupt, so a long fit honours query cancel,
 * statement_timeout and pg_terminate_backend.  Other interrupts (parallel
 * worker messages, catch-up signals) must not stop a fit, so InterruptPending
 * alone is not enough.
 */
#ifndef HVC_FIT_OPTIONS_H
#define HVC_FIT_OPTIONS_H

#include "postgres.h"

#include "miscadmin.h"

#include "core/optimizer.h"

static inline int
hvc_backend_interrupted(void)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

static inline void
hvc_backend_fit_options(hvc_fit_options *opt)
{
	hvc_fit_default_options(opt);
	opt->interrupted = hvc_backend_interrupted;
}

/* After a fit: raise the pending cancel / timeout error, if that stopped it. */
static inline void
hvc_after_fit(const hvc_opt_report *rep)
{
	if (rep->status == HVC_OPT_INTERRUPTED)
		CHECK_FOR_INTERRUPTS();
}

#endif
