/* probe.c - slate-status's questions to the databases: index lookups only, never a scan */
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "io.h"
#include "log.h"
#include "status.h"

/* max(id) reads one entry at the end of the primary key index */
static bool
read_position(slate_conn *c, uint64_t *pos)
{
	PGresult   *res = conn_exec(c, "could not read max(id)", PGRES_TUPLES_OK,
								"SELECT max(id) FROM events", 0, NULL);

	if (res == NULL)
		return false;
	*pos = PQgetisnull(res, 0, 0) ? 0 : strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return true;
}

/*
 * A connection left open by the last round, if the server has not ended it,
 * else a new one.  libpq learns of an end only by reading: a server that
 * ended the session (restarted, terminated it, idle_session_timeout) has
 * said so on the socket, so read what is there before trusting it.
 */
static bool
reopen(slate_conn *c, const char *role, const char *conninfo, int timeout_s)
{
	if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK &&
		(!io_readable(PQsocket(c->pg), 0) || PQconsumeInput(c->pg)) && PQstatus(c->pg) == CONNECTION_OK)
		return true;
	if (c->pg != NULL)
		log_info("%s (%s): the server ended the session; connecting again", role, c->desc);
	conn_close(c);
	return conn_open(c, role, conninfo, timeout_s);
}

void
probe_source(source_status *s, const char *conninfo, int timeout_s)
{
	s->up = reopen(&s->conn, "source", conninfo, timeout_s) &&
		read_position(&s->conn, &s->position);
	snprintf(s->desc, sizeof(s->desc), "%s", s->conn.desc);
	if (!s->up)
		conn_close(&s->conn);
}

/*
 * Whether a slate-load holds the destination's writer lock now.  pg_locks
 * reads the lock table in shared memory; it needs no privilege.
 */
static bool
read_writer(slate_conn *c, bool *written)
{
	PGresult   *res = conn_exec(c, "could not read pg_locks", PGRES_TUPLES_OK,
								"SELECT EXISTS (SELECT 1 FROM pg_locks k WHERE " EVENTS_WRITER_LOCKED ")",
								0, NULL);

	if (res == NULL)
		return false;
	*written = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return true;
}

/*
 * Seconds behind: the age, on the source's clock, of the oldest source event
 * the destination lacks (id position + 1, found by primary key).  *found is
 * false when the source has no such event.
 */
static bool
read_age(slate_conn *src, uint64_t position, double *age, bool *found)
{
	char		id[24];
	const char *params[1] = {id};
	PGresult   *res;

	snprintf(id, sizeof(id), "%llu", (unsigned long long) position + 1);
	res = conn_exec(src, "could not read the age of an event", PGRES_TUPLES_OK,
					"SELECT extract(epoch FROM clock_timestamp() - ts)::float8 FROM events WHERE id = $1",
					1, params);
	if (res == NULL)
		return false;
	*found = PQntuples(res) == 1;
	*age = *found ? strtod(PQgetvalue(res, 0, 0), NULL) : 0;
	PQclear(res);
	return true;
}

void
probe_destination(dest_status *d, int timeout_s, bool keep)
{
	slate_conn *c = &d->conn;

	d->up = reopen(c, "destination", d->conninfo, timeout_s) &&
		read_position(c, &d->position) && read_writer(c, &d->written);
	snprintf(d->desc, sizeof(d->desc), "%s", c->desc);
	if (!d->up)
		snprintf(d->reason, sizeof(d->reason), "could not be read%s%s%s",
				 c->sqlstate[0] ? " (SQLSTATE " : "", c->sqlstate, c->sqlstate[0] ? ")" : "");
	if (!d->up || !keep)
		conn_close(c);
}

void
probe_lag(dest_status *d, source_status *s)
{
	bool		found = false;

	if (!d->up || !s->up)
		return;
	if (d->position > s->position)
	{
		d->ahead = true;
		d->behind_known = true;
		return;
	}
	d->behind_events = s->position - d->position;
	if (d->behind_events > 0)
	{
		if (!read_age(&s->conn, d->position, &d->behind_seconds, &found))
		{
			/* the source went away between two questions */
			s->up = false;
			conn_close(&s->conn);
			return;
		}
		if (!found)
		{
			snprintf(d->reason, sizeof(d->reason), "the source has no event %llu (a hole?)",
					 (unsigned long long) d->position + 1);
			return;
		}
		if (d->behind_seconds < 0)
			d->behind_seconds = 0;	/* an event from the source's future: clock set back */
	}
	d->behind_known = true;
}
