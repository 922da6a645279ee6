/*
 * local_time.h — the configured zone (hvc.config.timezone) and conversions
 * between instants (timestamptz) and local timestamps in that zone, in which
 * purchase days are reckoned.  One place for both directions.
 */
#ifndef HVC_LOCAL_TIME_H
#define HVC_LOCAL_TIME_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "pgtime.h"

/* Whether a zone of that name exists; *zone as local_zone returns it. */
extern bool local_zone_lookup(const char *name, pg_tz **zone);

/* The zone of that name; NULL for UTC (no conversion); an error if unknown. */
extern pg_tz *local_zone(const char *name);

/* instant -> local timestamp; false if it cannot be converted */
extern bool local_from_timestamptz(TimestampTz ts, pg_tz *zone, int64 *local);

/* local timestamp -> instant (an error when out of range) */
extern TimestampTz local_to_timestamptz(int64 local, pg_tz *zone);

#endif
