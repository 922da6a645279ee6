/*
 * local_time.c — see local_time.h.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "local_time.h"

bool
local_zone_lookup(const char *name, pg_tz **zone)
{
	*zone = NULL;
	if (pg_strcasecmp(name, "UTC") == 0 || pg_strcasecmp(name, "Etc/UTC") == 0 ||
		pg_strcasecmp(name, "GMT") == 0)
		return true;
	*zone = pg_tzset(name);
	return *zone != NULL;
}

pg_tz *
local_zone(const char *name)
{
	pg_tz	   *zone;

	if (!local_zone_lookup(name, &zone))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Set hvc.config.timezone to a name from pg_timezone_names.")));
	return zone;
}

/*
 * hvc._is_valid_timezone(zone text) -> boolean, the CHECK of
 * hvc.config.timezone: exactly the names local_zone accepts, so a zone the
 * CHECK lets in never fails a refresh (time zone abbreviations such as PDT
 * name no zone and are refused).
 */
PG_FUNCTION_INFO_V1(hvc_is_valid_timezone);

Datum
hvc_is_valid_timezone(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	pg_tz	   *zone;

	PG_RETURN_BOOL(local_zone_lookup(name, &zone));
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
