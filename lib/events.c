/* events.c - questions both sides ask of an events table */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "pgcopy.h"

bool
events_read_ends(slate_conn *c, events_ends *ends)
{
	static const char *sql =
		"SELECT (SELECT max(id) FROM events), f.id, f.ts, f.event "
		"FROM (SELECT 1) AS one LEFT JOIN "
		"(SELECT id, ts, event FROM events ORDER BY id LIMIT 1) AS f ON true";
	PGresult   *res;

	memset(ends, 0, sizeof(*ends));
	res = PQexecParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		conn_report(c, "could not read the first and last event ids", res);
		PQclear(res);
		return false;
	}
	ends->res = res;
	ends->max_id = PQgetisnull(res, 0, 0) ? 0 : (uint64_t) pg_get_int64(PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 1))
	{
		ends->has_first = true;
		ends->first.id = (uint64_t) pg_get_int64(PQgetvalue(res, 0, 1));
		ends->first.ts = pg_get_int64(PQgetvalue(res, 0, 2));
		/* jsonb's binary form: a version byte, then the text */
		ends->first.event = PQgetvalue(res, 0, 3) + 1;
		ends->first.event_len = (size_t) PQgetlength(res, 0, 3) - 1;
	}
	return true;
}

void
events_ends_clear(events_ends *ends)
{
	PQclear(ends->res);
	memset(ends, 0, sizeof(*ends));
}

bool
events_equal(const stream_event *a, const stream_event *b)
{
	return a->id == b->id && a->ts == b->ts && a->event_len == b->event_len &&
		memcmp(a->event, b->event, a->event_len) == 0;
}

int64_t
events_ts_to_ms(int64_t ts)
{
	/* floor, not C's truncation toward zero: before 2000 ts is negative */
	return ts - ((ts % 1000) + 1000) % 1000;
}

static bool
json_number_start(char ch)
{
	return ch == '-' || (ch >= '0' && ch <= '9');
}

static size_t
json_number_len(const char *s, size_t len)
{
	size_t		n = 0;

	while (n < len && (json_number_start(s[n]) || s[n] == '.' || s[n] == '+' || s[n] == 'e' || s[n] == 'E'))
		n++;
	return n;
}

/* the double JavaScript's JSON.parse makes of a number's text (strtod rounds to nearest, as it does) */
static double
json_number_value(const char *s, size_t len)
{
	char		small[64];
	char	   *buf = small;
	double		v;

	/* numeric allows 131072 digits; only such monsters need the heap */
	if (len >= sizeof(small) && (buf = malloc(len + 1)) == NULL)
		return NAN;				/* never equal: "differs" rather than a wrong "same" */
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtod(buf, NULL);
	if (buf != small)
		free(buf);
	return v;
}

/*
 * The text jsonb prints for what JavaScript's JSON.stringify writes for v:
 * the shortest digits that read back as v, in plain notation (jsonb keeps
 * 1e+21 as 1000000000000000000000), "0" for -0.  false for infinities, which
 * JSON.stringify writes as null.
 */
static bool
js_number_text(double v, char *out, size_t size)
{
	char		sci[40],
				digits[20];
	int			nd = 0,
				exp10,
				prec;
	size_t		len = 0;
	const char *p;

	if (!isfinite(v))
		return false;
	if (v == 0)
		return snprintf(out, size, "0") < (int) size;
	for (prec = 1; prec <= 17; prec++)
	{
		snprintf(sci, sizeof(sci), "%.*e", prec - 1, v);
		if (strtod(sci, NULL) == v)
			break;
	}
	/* sci is [-]d[.ddd]e(+|-)XX */
	for (p = sci; *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (size < (size_t) nd + (size_t) (exp10 < 0 ? -exp10 : exp10) + 4)
		return false;
	if (v < 0)
		out[len++] = '-';
	if (exp10 < 0)
	{
		out[len++] = '0';
		out[len++] = '.';
		for (int k = 0; k < -exp10 - 1; k++)
			out[len++] = '0';
		for (int k = 0; k < nd; k++)
			out[len++] = digits[k];
	}
	else
	{
		for (int k = 0; k <= exp10; k++)
			out[len++] = k < nd ? digits[k] : '0';
		if (nd > exp10 + 1)
		{
			out[len++] = '.';
			for (int k = exp10 + 1; k < nd; k++)
				out[len++] = digits[k];
		}
	}
	out[len] = '\0';
	return true;
}

/*
 * Does number b stand for number a?  loose: the same IEEE double (JavaScript's
 * ===).  Otherwise b must be what the original replicator wrote for a.
 */
static bool
json_number_match(const char *a, size_t na, const char *b, size_t nb, bool loose)
{
	char		js[400];

	if (na == nb && memcmp(a, b, na) == 0)
		return true;
	if (loose)
		return json_number_value(a, na) == json_number_value(b, nb);
	return js_number_text(json_number_value(a, na), js, sizeof(js)) &&
		strlen(js) == nb && memcmp(js, b, nb) == 0;
}

/*
 * Both texts come from jsonb_out, which writes one canonical form (keys in
 * jsonb's order, the same spacing and string escapes for equal values), so a
 * walk in step compares everything but numbers to the byte.
 */
static bool
json_walk(const char *a, size_t alen, const char *b, size_t blen, bool loose)
{
	size_t		i = 0,
				j = 0;
	bool		in_string = false;

	while (i < alen && j < blen)
	{
		if (!in_string && json_number_start(a[i]) && json_number_start(b[j]))
		{
			size_t		na = json_number_len(a + i, alen - i);
			size_t		nb = json_number_len(b + j, blen - j);

			if (!json_number_match(a + i, na, b + j, nb, loose))
				return false;
			i += na;
			j += nb;
			continue;
		}
		if (a[i] != b[j])
			return false;
		if (in_string && a[i] == '\\')
		{
			/* the escaped character belongs to the string, whatever it is */
			if (i + 1 >= alen || j + 1 >= blen || a[i + 1] != b[j + 1])
				return false;
			i += 2;
			j += 2;
			continue;
		}
		if (a[i] == '"')
			in_string = !in_string;
		i++;
		j++;
	}
	return i == alen && j == blen;
}

bool
events_json_equal_js(const char *a, size_t alen, const char *b, size_t blen)
{
	return json_walk(a, alen, b, blen, true);
}

bool
events_json_as_original(const char *source, size_t slen, const char *copy, size_t clen)
{
	return json_walk(source, slen, copy, clen, false);
}

events_comparison
events_compare(const stream_event *source, const stream_event *copy)
{
	events_comparison c;

	c.same_id = source->id == copy->id;
	if (source->ts == copy->ts)
		c.ts = MATCH_SAME;
	else if (events_ts_to_ms(source->ts) == copy->ts)
		c.ts = MATCH_ORIGINAL;
	else
		c.ts = MATCH_DIFFERENT;
	if (source->event_len == copy->event_len && memcmp(source->event, copy->event, copy->event_len) == 0)
		c.event = MATCH_SAME;
	else if (events_json_as_original(source->event, source->event_len, copy->event, copy->event_len))
		c.event = MATCH_ORIGINAL;
	else
		c.event = MATCH_DIFFERENT;
	return c;
}

events_match
events_comparison_verdict(const events_comparison *c)
{
	if (!c->same_id)
		return MATCH_DIFFERENT;
	return c->ts > c->event ? c->ts : c->event;
}

const char *
events_comparison_differs(const events_comparison *c)
{
	if (!c->same_id)
		return "id differs";
	if (c->ts == MATCH_DIFFERENT && c->event == MATCH_DIFFERENT)
		return "ts and event differ";
	if (c->ts == MATCH_DIFFERENT)
		return "ts differs";
	if (c->event == MATCH_DIFFERENT)
		return "event differs";
	return "";
}

const char *
events_comparison_original(const events_comparison *c)
{
	if (c->ts == MATCH_ORIGINAL && c->event == MATCH_ORIGINAL)
		return "ts cut to the millisecond, JSON numbers re-serialised";
	if (c->ts == MATCH_ORIGINAL)
		return "ts cut to the millisecond";
	if (c->event == MATCH_ORIGINAL)
		return "JSON numbers re-serialised";
	return "";
}

bool
events_check_table(slate_conn *c)
{
	static const char *sql =
		"SELECT to_regclass('events') IS NOT NULL, "
		"(SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
		" FROM pg_attribute WHERE attrelid = to_regclass('events') AND attnum > 0 AND NOT attisdropped)";
	static const char *want = "id bigint, ts timestamp with time zone, event jsonb";
	PGresult   *res = conn_exec(c, "could not inspect the events table", PGRES_TUPLES_OK, sql, 0, NULL);
	bool		ok = false;

	if (res == NULL)
		return false;
	if (PQgetvalue(res, 0, 0)[0] != 't')
		log_error("%s (%s) has no events table", c->role, c->desc);
	else if (strcmp(PQgetvalue(res, 0, 1), want) != 0)
		log_error("%s (%s): events has columns (%s), expected (%s)", c->role, c->desc,
				  PQgetvalue(res, 0, 1), want);
	else
		ok = true;
	PQclear(res);
	return ok;
}

bool
events_check_role(slate_conn *c, bool source)
{
	static const char *sql =
		"SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('events') "
		"  AND (tgname = 'notify_insert' OR tgfoid = to_regproc('notify_event_insert'))), "
		"to_regclass('id') IS NOT NULL";
	PGresult   *res = conn_exec(c, "could not inspect triggers", PGRES_TUPLES_OK, sql, 0, NULL);
	bool		trigger,
				id_table,
				ok = true;

	if (res == NULL)
		return false;
	trigger = PQgetvalue(res, 0, 0)[0] == 't';
	id_table = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (source && !trigger)
	{
		log_error("source (%s) has no notify_insert trigger on events: nothing would wake the replicator",
				  c->desc);
		ok = false;
	}
	else if (!source && (trigger || id_table))
	{
		log_error("destination (%s) is itself an event source (it has %s); refusing to write to it",
				  c->desc, trigger ? "the notify_insert trigger" : "an id table");
		ok = false;
	}
	return ok;
}

bool
events_check_holes(slate_conn *c)
{
	static const char *sql = "SELECT count(*), coalesce(min(id), 1), coalesce(max(id), 0) FROM events";
	PGresult   *res = conn_exec(c, "could not count events", PGRES_TUPLES_OK, sql, 0, NULL);
	long long	n,
				lo,
				hi;
	bool		ok;

	if (res == NULL)
		return false;
	n = atoll(PQgetvalue(res, 0, 0));
	lo = atoll(PQgetvalue(res, 0, 1));
	hi = atoll(PQgetvalue(res, 0, 2));
	PQclear(res);
	ok = n == hi - lo + 1 && (n == 0 || lo == 1);
	if (!ok)
		log_error("%s (%s): ids have holes: %lld events with ids %lld..%lld", c->role, c->desc, n, lo, hi);
	return ok;
}
