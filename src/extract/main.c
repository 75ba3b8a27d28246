/* slate-extract - write a source's events to stdout as a slate msgpack stream */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "events.h"
#include "exitcodes.h"
#include "io.h"
#include "log.h"
#include "opts.h"
#include "pgcopy.h"
#include "signals.h"
#include "stream.h"
#include "version.h"

#define PROG "slate-extract"
#define MAX_WAKE_MESSAGE 4096

typedef struct extract
{
	slate_conn	src;
	stream_writer *out;
	uint64_t	last_id;		/* last id written (or --after) */
	int64_t		last_ts;
	uint64_t	count;			/* events written */
	bool		torn;			/* stopped inside a source transaction: no end marker */
	bool		reader_gone;	/* stdout's reader went away (EPIPE): stop, exit 0 */
	double		started;
	double		last_progress;
	int			status;			/* exit status once something failed */
} extract;

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void
usage(void)
{
	printf("%s writes the events of a slate event source to stdout as a msgpack stream.\n\n"
		   "Usage:\n  %s [OPTION]... [CONNINFO]\n\n"
		   "CONNINFO is a libpq connection string or URI; without it libpq's\n"
		   "environment (PGHOST, PGDATABASE, ~/.pgpass, services...) applies.\n\n"
		   "Options:\n"
		   "      --after=ID            start after this id (default 0)\n"
		   "      --until=ID            stop after this id, extended to the end of its\n"
		   "                            source transaction\n"
		   "      --follow              after the first extract, read wake messages on\n"
		   "                            stdin and extract what is new after each\n"
		   "      --check               validate the source (events table, notify trigger,\n"
		   "                            no holes in the ids), write only a header and an\n"
		   "                            end marker, and exit\n"
		   "      --connect-timeout=S   give up connecting after S seconds\n"
		   "      --log-format=FORMAT   json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose             log each extract round\n"
		   "  -V, --version             output version information, then exit\n"
		   "  -?, --help                show this help, then exit\n\n"
		   "Exit status: 0 done or stopped, 1 database error, 2 usage error,\n"
		   "3 bad input on stdin, 4 hole in the source ids, 5 stdin or stdout error.\n",
		   PROG, PROG);
}

/* a write to stdout failed: the reader went away (a clean end), or an error to log */
static void
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
static bool
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
static bool
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

static void
progress(extract *x, bool final)
{
	double		t = now_s();
	double		rate = x->count / (t - x->started > 1e-6 ? t - x->started : 1e-6);
	char		fields[160];

	if (!final && t - x->last_progress < 10.0)
		return;
	x->last_progress = t;
	snprintf(fields, sizeof(fields), "\"events\":%" PRIu64 ",\"events_per_s\":%.0f,\"position\":%" PRIu64,
			 x->count, rate, x->last_id);
	log_kv(LOG_INFO, fields, "%s %" PRIu64 " events (%.0f events/s), position %" PRIu64,
		   final ? "extracted" : "extracting", x->count, rate, x->last_id);
}

/* how long a stop waits for the source transaction being copied to end */
#define STOP_FINISH_S 1.0

/*
 * Copy the events after x->last_id (through until, 0: no limit) to the stream.
 * Stops before a hole in the ids.  Returns false with x->status set on failure.
 *
 * A stop requested during the COPY ends the range at the next source-transaction
 * boundary (a change of ts, or the end of the snapshot), so that the stream can
 * end with an end marker and its reader keeps everything whole; only when the
 * source does not deliver the rest of the transaction within STOP_FINISH_S is
 * the stream left torn (x->torn).  Returns false then too, with status 0.
 */
static bool
extract_range(extract *x, uint64_t until)
{
	char		sql[256];
	PGresult   *res;
	bool		header_seen = false;
	bool		ok = true;
	uint64_t	written = 0;	/* events of this range written */
	double		stop_deadline = 0;

	if (until > 0)
		snprintf(sql, sizeof(sql), "COPY (SELECT id, ts, event FROM events WHERE id > %" PRIu64
				 " AND id <= %" PRIu64 " ORDER BY id) TO STDOUT (FORMAT binary)", x->last_id, until);
	else
		snprintf(sql, sizeof(sql), "COPY (SELECT id, ts, event FROM events WHERE id > %" PRIu64
				 " ORDER BY id) TO STDOUT (FORMAT binary)", x->last_id);

	if (!PQsendQuery(x->src.pg, sql))
	{
		conn_report(&x->src, "could not start COPY", NULL);
		x->status = EXIT_DB;
		return false;
	}
	res = PQgetResult(x->src.pg);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		conn_report(&x->src, "could not start COPY", res);
		PQclear(res);
		while ((res = PQgetResult(x->src.pg)) != NULL)
			PQclear(res);
		x->status = EXIT_DB;
		return false;
	}
	PQclear(res);

	for (;;)
	{
		char	   *buf = NULL;
		int			n = PQgetCopyData(x->src.pg, &buf, 1);
		stream_event e;
		int			r;

		if (n == 0)
		{
			int			wait_ms = 1000;

			if (stop_requested)
			{
				/* nothing of this range written yet: the stream is on a boundary */
				if (written == 0)
					return false;
				if (stop_deadline == 0)
					stop_deadline = now_s() + STOP_FINISH_S;
				wait_ms = (int) ((stop_deadline - now_s()) * 1000);
				if (wait_ms <= 0)
				{
					log_warn("stopped inside the source transaction ending after id %" PRIu64
							 ": the source did not deliver the rest of it in time", x->last_id);
					x->torn = true;
					return false;
				}
			}
			if (conn_wait(&x->src, wait_ms) < 0 || !PQconsumeInput(x->src.pg))
			{
				conn_report(&x->src, "lost the connection during COPY", NULL);
				x->status = EXIT_DB;
				return false;
			}
			continue;
		}
		if (n == -1)
			break;
		if (n == -2)
		{
			conn_report(&x->src, "COPY failed", NULL);
			x->status = EXIT_DB;
			return false;
		}
		r = pgcopy_parse_row(buf, (size_t) n, &header_seen, &e);
		if (r < 0)
		{
			PQfreemem(buf);
			log_error("source sent a COPY row this program cannot read after id %" PRIu64, x->last_id);
			x->status = EXIT_DB;
			return false;
		}
		if (r == 1 && e.id != x->last_id + 1)
		{
			/* whatever came before is whole transactions only if the ts changes here */
			if (x->count > 0 && e.ts != x->last_ts && !stream_write_boundary(x->out, x->last_id))
				ok = false;
			stream_flush(x->out);
			log_error("hole in the source ids: id %" PRIu64 " follows id %" PRIu64
					  "; stopped before it", e.id, x->last_id);
			PQfreemem(buf);
			x->status = EXIT_REFUSED;
			return false;
		}
		/* stopping: end at the first change of ts, before writing that event */
		if (r == 1 && stop_requested && (written == 0 || e.ts != x->last_ts))
		{
			PQfreemem(buf);
			return false;
		}
		if (r == 1)
		{
			written++;
			if (!stream_write_event(x->out, &e))
				ok = false;
			x->last_id = e.id;
			x->last_ts = e.ts;
			x->count++;
			if ((x->count & 0xffff) == 0)
				progress(x, false);
		}
		PQfreemem(buf);
		if (!ok)
		{
			output_failed(x);
			return false;
		}
	}
	res = PQgetResult(x->src.pg);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		conn_report(&x->src, "COPY failed", res);
		ok = false;
		x->status = EXIT_DB;
	}
	PQclear(res);
	while ((res = PQgetResult(x->src.pg)) != NULL)
		PQclear(res);
	return ok;
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
static void
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
		uint64_t	before = x->last_id;
		int			w = wait_wake(x, in, &eof);

		if (w < 0 || (w == 0 && !eof))
			break;
		if (!extract_range(x, 0))
			break;
		if (x->last_id != before || eof)
		{
			if (!stream_write_boundary(x->out, x->last_id) || !stream_flush(x->out))
			{
				output_failed(x);
				break;
			}
			log_debug("extracted through id %" PRIu64, x->last_id);
		}
	}
	stream_reader_free(in);
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"after", required_argument, NULL, 'a'},
		{"until", required_argument, NULL, 'u'},
		{"follow", no_argument, NULL, 'f'},
		{"check", no_argument, NULL, 'c'},
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	extract		x;
	int64_t		after = 0,
				until = 0;
	bool		follow_mode = false;
	bool		check_only = false;
	opt_common common = {0, LOG_FORMAT_AUTO};
	int			r;
	const char *conninfo = NULL;
	int			c;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	memset(&x, 0, sizeof(x));
	while ((c = getopt_long(argc, argv, OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'a':
				if (!opt_int64(PROG, "after", optarg, 0, INT64_MAX, &after))
					return EXIT_USAGE;
				break;
			case 'u':
				if (!opt_int64(PROG, "until", optarg, 1, INT64_MAX, &until))
					return EXIT_USAGE;
				break;
			case 'f':
				follow_mode = true;
				break;
			case 'c':
				check_only = true;
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if ((r = opt_conninfo(PROG, argc, argv, &conninfo)) != OPT_GO_ON)
		return r;
	if (follow_mode && until > 0)
	{
		opt_usage_error(PROG, "--follow and --until cannot be used together");
		return EXIT_USAGE;
	}
	if (until > 0 && until <= after)
	{
		opt_usage_error(PROG, "--until must be greater than --after");
		return EXIT_USAGE;
	}

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	x.out = stream_writer_new(STDOUT_FILENO);
	if (x.out == NULL)
	{
		log_error("out of memory");
		return EXIT_IO;
	}
	if (!conn_open(&x.src, "source", conninfo, (int) common.connect_timeout))
	{
		stream_writer_free(x.out);
		return stop_requested ? EXIT_OK : EXIT_DB;
	}
	x.last_id = (uint64_t) after;
	x.started = x.last_progress = now_s();

	/* the header, the --until end and the first extract share one snapshot */
	if (!events_check_table(&x.src) ||
		((follow_mode || check_only) && !events_check_role(&x.src, true)) ||
		(check_only && !events_check_holes(&x.src)))
		x.status = x.src.sqlstate[0] ? EXIT_DB : EXIT_REFUSED;
	else if (!conn_command(&x.src, "could not start a transaction",
						   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
		x.status = EXIT_DB;
	else if (check_only)
	{
		if (!write_header(&x, (uint64_t) after) || !stream_write_end(x.out, x.last_id, 0))
		{
			if (x.status == EXIT_OK)
				output_failed(&x);
		}
		else
			log_info("source (%s) is valid", x.src.desc);
		stream_writer_free(x.out);
		conn_close(&x.src);
		return x.status;
	}
	else if (write_header(&x, (uint64_t) after))
	{
		bool		done = (until == 0 || extend_until(&x, (uint64_t *) &until)) &&
			extract_range(&x, (uint64_t) until) &&
			conn_command(&x.src, "could not end the transaction", "COMMIT");

		if (!done && x.status == EXIT_OK && !stop_requested && !x.reader_gone)
			x.status = EXIT_DB; /* COMMIT failed; conn_command logged it */
		if (done && follow_mode)
		{
			if (!stream_write_boundary(x.out, x.last_id) || !stream_flush(x.out))
				output_failed(&x);
			else
				follow(&x);
		}

		/*
		 * Done, or stopped on a source-transaction boundary: the stream is
		 * whole, so it ends properly and its reader logs no error.
		 */
		if (x.status == EXIT_OK && !x.torn && !x.reader_gone &&
			!stream_write_end(x.out, x.last_id, x.count))
			output_failed(&x);
	}

	if (x.status == EXIT_OK && !stop_requested)
		progress(&x, true);
	else if (stop_requested)
		log_info("stopped by signal at id %" PRIu64 ", %s", x.last_id,
				 x.torn ? "inside a source transaction (no end marker)" :
				 "on a source-transaction boundary");
	stream_flush(x.out);
	stream_writer_free(x.out);
	conn_close(&x.src);
	return x.status;
}
