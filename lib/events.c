/* events.c - questions both sides ask of an events table */
#include <string.h>

#include "events.h"
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
