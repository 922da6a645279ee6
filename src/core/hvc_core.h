/*
 * hvc_core.h — umbrella header of the PostgreSQL-free numerical core of hvc.
 */
#ifndef HVC_CORE_H
#define HVC_CORE_H

#include "specfun.h"
#include "btyd_data.h"
#include "optimizer.h"
#include "bgnbd.h"
#include "mbgnbd.h"
#include "pareto_nbd.h"
#include "gamma_gamma.h"
#include "clv.h"
#include "fit_driver.h"
#include "churn.h"

#endif							/* HVC_CORE_H */
