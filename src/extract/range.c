/* range.c - slate-extract's events of an id range, from one COPY, and the stream's header */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copyout.h"
#include "events.h"
#include "exitcodes.h"
#include "extract.h"
#include "log.h"
#include "signals.h"
#include "trace.h"
#include "version.h"

/* a write to stdout failed: the reader went away (a clean end), or an error to log */
void
output_failed(extract *x)
{
	if (errno == EPIPE)
	{
		x->reader_gone = true;
		x->status = EXIT_OK;
		return;
	}
	log_error("could not write to stdout: %s", strerror(errno));
	x->status = EXIT_IO;
}

/* read the header facts (first event, max id) in the current snapshot and write the header */
bool
write_header(extract *x, uint64_t after)
{
	stream_header h;
	events_ends ends;
	char		producer[64];
	bool		ok;

	if (!events_read_ends(&x->src, &ends))
	{
		x->status = EXIT_DB;
		return false;
	}
	memset(&h, 0, sizeof(h));
	snprintf(producer, sizeof(producer), "%s %s", PROG, SLATE_VERSION);
	h.version = STREAM_VERSION;
	h.producer = producer;
	h.source = x->src.desc;
	h.after = after;
	h.source_max = ends.max_id;
	h.has_first = ends.has_first;
	h.first = ends.first;
	h.filter = x->filter;
	ok = stream_write_header(x->out, &h);
	events_ends_clear(&ends);
	if (!ok)
		output_failed(x);
	return ok;
}

/*
 * --until ID, moved to the last id of ID's source transaction (same ts),
 * so a finite stream never ends inside a transaction.
 */
bool
extend_until(extract *x, uint64_t *until)
{
	static const char *sql =
		"SELECT coalesce((SELECT n.id - 1 FROM events n WHERE n.id > u.id "
		"AND n.ts IS DISTINCT FROM u.ts ORDER BY n.id LIMIT 1), "
		"(SELECT max(id) FROM events)) FROM events u WHERE u.id = $1";
	char		id[24];
	const char *params[1] = {id};
	PGresult   *res;

	snprintf(id, sizeof(id), "%" PRIu64, *until);
	res = conn_exec(&x->src, "could not find the end of the --until transaction",
					PGRES_TUPLES_OK, sql, 1, params);
	if (res == NULL)
	{
		x->status = EXIT_DB;
		return false;
	}
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*until = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return true;
}

void
extract_progress(extract *x, bool final)
{
	log_progress(final ? "extracted" : "extracting", x->count, x->last_id, x->started,
				 &x->last_progress, final);
}

/*
 * One event of a range: it must follow the last one, then it is written.
 * Returns 1 to go on, -1 on failure (x->status set), 0 to stop before it:
 * a stop is asked for and the event starts a new source transaction, or
 * nothing of the range is written yet (*written counts what is).
 */
int
take_event(extract *x, const stream_event *e, uint64_t *written)
{
	/* a filtered stream's ids only rise; it makes no claim about holes */
	if (e->id != x->last_id + 1 && x->filter == NULL)
	{
		/* whatever came before is whole transactions only if the ts changes here */
		if (x->count > 0 && e->ts != x->last_ts)
			stream_write_boundary(x->out, x->last_id);
		stream_flush(x->out);
		log_error("hole in the source ids: id %" PRIu64 " follows id %" PRIu64
				  "; stopped before it", e->id, x->last_id);
		x->status = EXIT_REFUSED;
		return -1;
	}
	/* stopping: end at the first change of ts, before writing that event */
	if (stop_requested && (*written == 0 || e->ts != x->last_ts))
		return 0;
	(*written)++;
	if (!stream_write_event(x->out, e))
	{
		output_failed(x);
		return -1;
	}
	x->last_id = e->id;
	x->last_ts = e->ts;
	x->count++;
	if ((x->count & 0xffff) == 0)
		extract_progress(x, false);
	return 1;
}

/* how long a stop waits for the source transaction being copied to end */
#define STOP_FINISH_S 1.0

/*
 * Copy the events after x->last_id (through until, 0: no limit) to the stream;
 * written counts the events of the range already written (by extract_live).
 * Stops before a hole in the ids.  Returns false with x->status set on failure.
 *
 * A stop requested during the COPY ends the range at the next source-transaction
 * boundary (a change of ts, or the end of the snapshot), so that the stream can
 * end with an end marker and its reader keeps everything whole; only when the
 * source does not deliver the rest of the transaction within STOP_FINISH_S is
 * the stream left torn (x->torn).  Returns false then too, with status 0.
 */
bool
extract_range(extract *x, uint64_t until, uint64_t written)
{
	char		range[128];
	char	   *sql;
	copyout		co;
	bool		ok;
	double		stop_deadline = 0;
	size_t		sql_len;

	if (until > 0)
		snprintf(range, sizeof(range), "id > %" PRIu64 " AND id <= %" PRIu64, x->last_id, until);
	else
		snprintf(range, sizeof(range), "id > %" PRIu64, x->last_id);
	sql_len = strlen(range) + (x->filter ? strlen(x->filter) : 0) + 128;
	if ((sql = malloc(sql_len)) == NULL)
	{
		log_error("out of memory");
		x->status = EXIT_IO;
		return false;
	}
	snprintf(sql, sql_len, "COPY (SELECT id, ts, event FROM events WHERE %s%s%s ORDER BY id) "
			 "TO STDOUT (FORMAT binary)", range, x->filter ? " AND " : "", x->filter ? x->filter : "");
	log_debug("%s", sql);
	ok = copyout_start(&co, &x->src, sql);
	free(sql);
	if (!ok)
	{
		x->status = EXIT_DB;
		return false;
	}
	trace_mark("answered");

	for (;;)
	{
		int			wait_ms = 1000;
		stream_event e;
		copyout_result r;

		if (stop_requested)
		{
			/* nothing of this range written yet: the stream is on a boundary */
			if (written == 0)
				break;
			if (stop_deadline == 0)
				stop_deadline = now_s() + STOP_FINISH_S;
			wait_ms = (int) ((stop_deadline - now_s()) * 1000);
			if (wait_ms < 0)
				wait_ms = 0;
		}
		r = copyout_next(&co, &e, wait_ms);
		if (r == COPYOUT_WAITING)
		{
			if (stop_deadline > 0 && now_s() >= stop_deadline)
			{
				log_warn("stopped inside the source transaction ending after id %" PRIu64
						 ": the source did not deliver the rest of it in time", x->last_id);
				x->torn = true;
				break;
			}
			continue;
		}
		if (r == COPYOUT_DONE)
		{
			copyout_end(&co);
			return true;
		}
		if (r == COPYOUT_BAD_ROW)
			log_error("source sent a COPY row this program cannot read after id %" PRIu64, x->last_id);
		if (r != COPYOUT_ROW)
		{
			x->status = EXIT_DB;
			break;
		}
		if (take_event(x, &e, &written) <= 0)
			break;
	}
	copyout_end(&co);
	return false;
}
