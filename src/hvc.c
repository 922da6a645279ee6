/*
 * hvc.c — module entry point.
 *
 * The PostgreSQL glue lives in the src/ top level; the PostgreSQL-free numerical core
 * (special functions, likelihoods, optimiser, predictions) lives in src/core/.
 */
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;
