/* timestamp.c - PostgreSQL timestamps (microseconds since 2000) <-> msgpack (Unix s + ns) */
#include <stdio.h>
#include <time.h>

#include "stream.h"

#define USECS INT64_C(1000000)
#define PG_EPOCH_UNIX INT64_C(946684800)	/* 2000-01-01 in Unix seconds */

void
pg_ts_to_unix(int64_t pg_us, int64_t *sec, uint32_t *nsec)
{
	int64_t		s = pg_us / USECS;
	int64_t		us = pg_us % USECS;

	if (us < 0)					/* floor, so nanoseconds are never negative */
	{
		s -= 1;
		us += USECS;
	}
	*sec = s + PG_EPOCH_UNIX;
	*nsec = (uint32_t) (us * 1000);
}

bool
unix_to_pg_ts(int64_t sec, uint32_t nsec, int64_t *pg_us)
{
	int64_t		s;

	if (nsec >= 1000000000u || nsec % 1000 != 0)
		return false;
	if (sec < PG_TS_MIN / USECS || sec > PG_TS_END / USECS + PG_EPOCH_UNIX)
		return false;
	s = sec - PG_EPOCH_UNIX;
	if (s < PG_TS_MIN / USECS || s >= PG_TS_END / USECS)
		return false;
	*pg_us = s * USECS + nsec / 1000;
	return true;
}

void
pg_ts_format(int64_t pg_us, char *buf, size_t n)
{
	int64_t		sec;
	uint32_t	nsec;
	time_t		t;
	struct tm	tm;

	pg_ts_to_unix(pg_us, &sec, &nsec);
	t = (time_t) sec;
	if (gmtime_r(&t, &tm) == NULL)
	{
		snprintf(buf, n, "(out of range)");
		return;
	}
	snprintf(buf, n, "%04d-%02d-%02d %02d:%02d:%02d.%06u+00", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec / 1000);
}
