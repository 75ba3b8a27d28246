/* timestamp.c - PostgreSQL timestamps (microseconds since 2000) <-> msgpack (Unix s + ns) */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
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

/*
 * Days since 1970-01-01 of a proleptic Gregorian date and back, by the
 * 400-year era arithmetic: exact over PostgreSQL's whole range, where
 * gmtime() and time_t may not be.
 */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		era;
	unsigned	yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t		era;
	unsigned	doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned) (z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t) yoe + era * 400 + (*m <= 2);
}

/* write v as exactly n decimal digits */
static void
put_digits(char *p, unsigned v, int n)
{
	while (n-- > 0)
	{
		p[n] = (char) ('0' + v % 10);
		v /= 10;
	}
}

size_t
pg_ts_format_iso(int64_t pg_us, char *buf)
{
	int64_t		sec,
				days,
				y;
	uint32_t	nsec;
	unsigned	m,
				d,
				sod;
	size_t		n;

	pg_ts_to_unix(pg_us, &sec, &nsec);
	days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
	sod = (unsigned) (sec - days * 86400);
	civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999)
	{
		put_digits(buf, (unsigned) y, 4);
		n = 4;
	}
	else
		n = (size_t) snprintf(buf, 16, "%+05" PRId64, y);
	/* the rest by hand: this runs once per event in slate-cat */
	memcpy(buf + n, "-MM-DDTHH:MM:SS.uuuuuu+00:00", 29);
	put_digits(buf + n + 1, m, 2);
	put_digits(buf + n + 4, d, 2);
	put_digits(buf + n + 7, sod / 3600, 2);
	put_digits(buf + n + 10, sod / 60 % 60, 2);
	put_digits(buf + n + 13, sod % 60, 2);
	put_digits(buf + n + 16, nsec / 1000, 6);
	return n + 28;
}

/* parse exactly n digits at *p; false if any is not a digit */
static bool
get_digits(const char **p, const char *end, int n, unsigned *v)
{
	*v = 0;
	if (end - *p < n)
		return false;
	for (int i = 0; i < n; i++, (*p)++)
	{
		if (**p < '0' || **p > '9')
			return false;
		*v = *v * 10 + (unsigned) (**p - '0');
	}
	return true;
}

bool
pg_ts_parse(const char *s, size_t len, int64_t *pg_us)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s,
			   *end = s + len;
	int64_t		y = 0,
				sec,
				us = 0;
	int			sign = 1,
				ydigits = 0;
	unsigned	mo,
				d,
				h = 0,
				mi = 0,
				se = 0,
				oh = 0,
				om = 0;
	int			osign = 0;

	if (p < end && (*p == '+' || *p == '-'))
		sign = *p++ == '-' ? -1 : 1;
	while (p < end && *p >= '0' && *p <= '9' && ydigits < 7)
	{
		y = y * 10 + (*p++ - '0');
		ydigits++;
	}
	if (ydigits < 4 || p >= end || *p++ != '-' || !get_digits(&p, end, 2, &mo) ||
		p >= end || *p++ != '-' || !get_digits(&p, end, 2, &d))
		return false;
	y *= sign;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
		(mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return false;
	if (p < end && (*p == 'T' || *p == ' '))
	{
		p++;
		if (!get_digits(&p, end, 2, &h) || p >= end || *p++ != ':' || !get_digits(&p, end, 2, &mi))
			return false;
		if (p < end && *p == ':')
		{
			p++;
			if (!get_digits(&p, end, 2, &se))
				return false;
			if (p < end && *p == '.')
			{
				int			digits = 0;

				p++;
				while (p < end && *p >= '0' && *p <= '9')
				{
					if (++digits > 6)
						return false;	/* finer than PostgreSQL keeps */
					us = us * 10 + (*p++ - '0');
				}
				if (digits == 0)
					return false;
				while (digits++ < 6)
					us *= 10;
			}
		}
		if (h > 23 || mi > 59 || se > 59)
			return false;
	}
	if (p < end && *p == 'Z')
		p++;
	else if (p < end && (*p == '+' || *p == '-'))
	{
		osign = *p++ == '-' ? -1 : 1;
		if (!get_digits(&p, end, 2, &oh))
			return false;
		if (p < end && *p == ':')
			p++;
		if (p < end && !get_digits(&p, end, 2, &om))
			return false;
		if (oh > 15 || om > 59)
			return false;
	}
	if (p != end)
		return false;
	sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
		osign * (int64_t) (oh * 3600 + om * 60);
	return unix_to_pg_ts(sec, (uint32_t) (us * 1000), pg_us);
}
