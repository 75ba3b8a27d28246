/* restore.c - slate-load --restore: a replica's stream into an event source */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "load.h"
#include "log.h"
#include "pgcopy.h"

/*
 * --restore: fill a source's events from a replica's stream.  The target
 * must be a source (notify trigger and id table) whose id table says max(id)
 * + 1, with no holes: a fresh one, or one a killed restore left, which the
 * same command resumes.  Its notify trigger must not fire for every restored
 * row (millions of queued notifications, and an event over 8000 bytes fails
 * with the full-event payload): the session runs with session_replication_role
 * = replica, which needs superuser, or on PostgreSQL 15 and later
 * GRANT SET ON PARAMETER session_replication_role.  Logs, sets the status and
 * returns false when the target is refused; nothing has been written then.
 */
bool
restore_check(load *l)
{
	static const char *sql =
		"SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = 'id'::regclass AND attnum > 0 "
		"  AND NOT attisdropped), (SELECT count(*) FROM id), (SELECT min(id) FROM id), "
		"  (SELECT coalesce(max(id), 0) + 1 FROM events), "
		"  EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'events'::regclass AND tgenabled = 'A')";
	PGresult   *res;
	bool		ok = false;

	l->status = EXIT_REFUSED;
	if (!events_check_role(&l->dst, true))
		return false;
	res = PQexec(l->dst.pg, "SELECT to_regclass('id') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQgetvalue(res, 0, 0)[0] != 't')
	{
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			log_error("restore target (%s) is not an event source: it has no id table", l->dst.desc);
		else
			conn_report(&l->dst, "could not inspect the id table", res);
		PQclear(res);
		return false;
	}
	PQclear(res);
	if ((res = conn_exec(&l->dst, "could not read the id table", PGRES_TUPLES_OK, sql, 0, NULL)) == NULL)
		return false;
	if (strcmp(PQgetvalue(res, 0, 0), "1") != 0 || strcmp(PQgetvalue(res, 0, 1), "1") != 0)
		log_error("restore target (%s): its id table should hold one bigint, the next id; it has %s "
				  "column(s) and %s row(s)", l->dst.desc, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	else if (strcmp(PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3)) != 0)
		log_error("restore target (%s): its id table says the next id is %s but its events end at %lld: "
				  "insert_events() has been used on it, or it was changed by hand; refusing to restore into it",
				  l->dst.desc, PQgetvalue(res, 0, 2), atoll(PQgetvalue(res, 0, 3)) - 1);
	else if (PQgetvalue(res, 0, 4)[0] == 't')
		log_error("restore target (%s): a trigger on events is enabled ALWAYS and would fire for every "
				  "restored row; refusing", l->dst.desc);
	else
		ok = true;
	PQclear(res);
	if (!ok || !events_check_holes(&l->dst))
		return false;

	res = PQexec(l->dst.pg, "SET session_replication_role = replica");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (state != NULL && strcmp(state, "42501") == 0)
			log_error("restore target (%s): a restore must keep the notify trigger from firing for every "
					  "row, which needs permission to set session_replication_role: run it as a superuser, "
					  "or GRANT SET ON PARAMETER session_replication_role TO the role (PostgreSQL 15+)",
					  l->dst.desc);
		else
			conn_report(&l->dst, "could not set session_replication_role", res);
		PQclear(res);
		return false;
	}
	PQclear(res);

	/* the last event, to check the stream agrees with it before appending (restore_same_last) */
	res = PQexecParams(l->dst.pg, "SELECT id, ts, event FROM events ORDER BY id DESC LIMIT 1",
					   0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		conn_report(&l->dst, "could not read its last event", res);
		PQclear(res);
		l->status = EXIT_DB;
		return false;
	}
	l->restore_last = res;
	l->status = EXIT_OK;
	return true;
}

/* the id table moves with the events, so each batch is an explicit transaction */
bool
restore_batch_begin(load *l)
{
	/* insert_events() takes the same lock: a writer let in too early waits, then sees the right id */
	if (conn_command(&l->dst, "could not begin a restore batch", "BEGIN") &&
		conn_command(&l->dst, "could not lock the id table", "LOCK TABLE id IN ACCESS EXCLUSIVE MODE"))
		return true;
	l->status = EXIT_DB;
	return false;
}

/*
 * The batch's COPY is over: with commit, set the id table to the batch's last
 * id + 1 and commit both; otherwise (or when that fails) roll back.
 */
bool
restore_batch_end(load *l, bool commit)
{
	char		next[24];
	const char *params[1] = {next};
	PGresult   *res;

	if (commit)
	{
		snprintf(next, sizeof(next), "%" PRIu64, l->pos + 1);
		res = conn_exec(&l->dst, "could not update the id table", PGRES_COMMAND_OK,
						"UPDATE id SET id = $1", 1, params);
		PQclear(res);
		if (res != NULL && conn_command(&l->dst, "could not commit a restore batch", "COMMIT"))
			return true;
		l->status = EXIT_DB;
	}
	PQclear(PQexec(l->dst.pg, "ROLLBACK"));
	return false;
}

/* the stream's event at the target's last id must be the target's last event */
bool
restore_same_last(load *l, const stream_event *e)
{
	stream_event last;

	if (l->restore_last == NULL || PQntuples(l->restore_last) != 1)
		return true;
	last.id = (uint64_t) pg_get_int64(PQgetvalue(l->restore_last, 0, 0));
	last.ts = pg_get_int64(PQgetvalue(l->restore_last, 0, 1));
	/* jsonb's binary form: a version byte, then the text */
	last.event = PQgetvalue(l->restore_last, 0, 2) + 1;
	last.event_len = (size_t) PQgetlength(l->restore_last, 0, 2) - 1;
	if (events_equal(&last, e))
		return true;
	log_error("restore target (%s): its events are not a prefix of the stream: its event %" PRIu64
			  " differs from the stream's; nothing written", l->dst.desc, e->id);
	l->status = EXIT_REFUSED;
	return false;
}

