/* follow.c - slate-extract --follow: an extract per wake, a small one by a prepared query */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "extract.h"
#include "io.h"
#include "log.h"
#include "pgcopy.h"
#include "signals.h"
#include "trace.h"

#define MAX_WAKE_MESSAGE 4096
#define LIVE_ROWS 256			/* rows a wake's prepared query takes before a COPY goes on */
#define STR_(n) #n
#define STR(n) STR_(n)

/*
 * The first rows after a wake come from a prepared statement with binary
 * results: one round trip and no parsing or planning, where a COPY query is
 * parsed and planned every time.  A live stream's wake finds a few events;
 * one that finds LIVE_ROWS goes on with a COPY from where these end (a new
 * snapshot, which holds all of these: events are never changed).  Rows come
 * one at a time (single-row mode), so memory stays at one event, as with
 * COPY.  Returns 1 when the range is done, 0 when a COPY is to go on with it
 * (*written events written so far), -1 to stop (x->status tells whether on
 * a failure).
 */
static int
extract_live(extract *x, uint64_t *written)
{
	char		after[24];
	const char *params[1] = {after};
	PGresult   *res;
	int			rows = 0,
				r = 1;

	if (x->live == 0)
	{
		res = PQprepare(x->src.pg, "slate_live", "SELECT id, ts, event FROM events WHERE id > $1::bigint "
						"ORDER BY id LIMIT " STR(LIVE_ROWS), 0, NULL);
		x->live = PQresultStatus(res) == PGRES_COMMAND_OK ? 1 : -1;
		if (x->live < 0)
		{
			char		why[512];

			log_debug("no prepared live query (%s); every wake runs a COPY",
					  conn_why(&x->src, res, why, sizeof(why)));
		}
		PQclear(res);
	}
	if (x->live < 0)
		return 0;
	snprintf(after, sizeof(after), "%" PRIu64, x->last_id);
	if (!PQsendQueryPrepared(x->src.pg, "slate_live", 1, params, NULL, NULL, 1) ||
		!PQsetSingleRowMode(x->src.pg))
	{
		conn_report(&x->src, "could not query events", NULL);
		x->status = EXIT_DB;
		return -1;
	}
	/* read every result, even after a stop or failure, so the connection is free again */
	while ((res = PQgetResult(x->src.pg)) != NULL)
	{
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && r == 1)
		{
			stream_event e;

			if (PQnfields(res) != 3 || PQgetlength(res, 0, 0) != 8 || PQgetlength(res, 0, 1) != 8 ||
				PQgetlength(res, 0, 2) < 1 || PQgetvalue(res, 0, 2)[0] != 1)
			{
				log_error("source sent a row this program cannot read after id %" PRIu64, x->last_id);
				x->status = EXIT_DB;
				r = -1;
			}
			else
			{
				e.id = (uint64_t) pg_get_int64(PQgetvalue(res, 0, 0));
				e.ts = pg_get_int64(PQgetvalue(res, 0, 1));
				e.event = PQgetvalue(res, 0, 2) + 1;
				e.event_len = (size_t) PQgetlength(res, 0, 2) - 1;
				rows++;
				if (take_event(x, &e, written) <= 0)
					r = -1;
			}
		}
		else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && r == 1)
		{
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			/* the statement is gone (a pooler between us and the server): COPY from now on */
			if (rows == 0 && state != NULL && strcmp(state, "26000") == 0)
			{
				log_debug("the prepared live query is gone; every wake runs a COPY");
				x->live = -1;
				r = 0;
			}
			else
			{
				conn_report(&x->src, "could not query events", res);
				x->status = EXIT_DB;
				r = -1;
			}
		}
		PQclear(res);
	}
	if (r <= 0)
		return r;
	trace_mark("answered");
	return rows < LIVE_ROWS;
}

/*
 * Wait for a wake message on stdin and swallow the ones already queued behind it.
 * Returns 1 to extract again, 0 at EOF or stop (*eof tells which), -1 on bad input.
 */
static int
wait_wake(extract *x, stream_reader *in, bool *eof)
{
	stream_msg	m;
	int			woken = 0;

	for (;;)
	{
		stream_read_result r;

		if (woken && !stream_reader_buffered(in) && !io_readable(STDIN_FILENO, 0))
			return 1;
		r = stream_read(in, &m);
		if (r == STREAM_EOF)
		{
			*eof = true;
			return woken;
		}
		if (r == STREAM_STOP)
			return 0;
		if (r == STREAM_ERROR)
		{
			log_error("%s", stream_reader_error(in));
			x->status = stream_reader_read_failed(in) ? EXIT_IO : EXIT_INPUT;
			return -1;
		}
		if (m.type != MSG_WAKE)
		{
			log_error("stdin: byte offset %" PRIu64 ": expected a wake message, got %s",
					  stream_reader_offset(in), stream_msg_type_name(m.type));
			x->status = EXIT_INPUT;
			return -1;
		}
		woken = 1;
	}
}

/* the --follow loop: one extract per (coalesced) wake, each followed by a boundary */
void
follow(extract *x)
{
	stream_reader *in = stream_reader_new(STDIN_FILENO, "stdin", MAX_WAKE_MESSAGE);
	bool		eof = false;

	if (in == NULL)
	{
		log_error("out of memory");
		x->status = EXIT_IO;
		return;
	}
	while (!eof && !stop_requested)
	{
		uint64_t	before = x->last_id,
					written;
		int			w = wait_wake(x, in, &eof),
					r;

		if (w < 0 || (w == 0 && !eof))
			break;
		trace_mark("woken");
		written = 0;
		if (x->filter == NULL && (r = extract_live(x, &written)) != 0)
		{
			if (r < 0)
				break;
		}
		else if (!extract_range(x, 0, written))
			break;
		if (x->last_id != before || eof)
		{
			if (!stream_write_boundary(x->out, x->last_id) || !stream_flush(x->out))
			{
				output_failed(x);
				break;
			}
			trace_mark("sent");
			log_debug("extracted through id %" PRIu64, x->last_id);
		}
	}
	stream_reader_free(in);
}
