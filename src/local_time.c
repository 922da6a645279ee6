/*
 * local_time.c — see local_time.h.
 */
#include "postgres.h"

#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "local_time.h"

pg_tz *
local_zone(const char *name)
{
	pg_tz	   *zone;

	if (pg_strcasecmp(name, "UTC") == 0 || pg_strcasecmp(name, "Etc/UTC") == 0 ||
		pg_strcasecmp(name, "GMT") == 0)
		return NULL;
	zone = pg_tzset(name);
	if (zone == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Set hvc.config.timezone to a name from pg_timezone_names.")));
	return zone;
}

bool
local_from_timestamptz(TimestampTz ts, pg_tz *zone, int64 *local)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (zone == NULL)
	{
		*local = ts;
		return true;
	}
	if (timestamp2tm(ts, &tzoff, &tm, &fsec, NULL, zone) != 0)
		return false;
	/* tzoff is seconds west of Greenwich */
	*local = ts - (int64) tzoff * USECS_PER_SEC;
	return true;
}

TimestampTz
local_to_timestamptz(int64 local, pg_tz *zone)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	TimestampTz result;

	if (zone == NULL)
		return local;
	if (timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						errmsg("timestamp out of range")));
	offset = DetermineTimeZoneOffset(&tm, zone);
	if (tm2timestamp(&tm, fsec, &offset, &result) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						errmsg("timestamp out of range")));
	return result;
}
