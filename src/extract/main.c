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
#include "trace.h"
#include "version.h"

#define PROG "slate-extract"
#define MAX_WAKE_MESSAGE 4096
#define LIVE_ROWS 256			/* rows a wake's prepared query takes before a COPY goes on */
#define STR_(n) #n
#define STR(n) STR_(n)

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
	char	   *filter;			/* SQL condition of --since, --entity-id...; NULL: none */
	int			live;			/* the prepared live query: 0 not yet, 1 ready, -1 off */
} extract;

/* the selection options: each adds one condition (see build_filter) */
typedef struct filter_opts
{
	const char *since,
			   *before,
			   *entity_id,
			   *entity_name,
			   *operation,
			   *property_name,
			   *contains;
} filter_opts;


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
		   "                            end marker, and exit\n\n"
		   "Selection (for files and scripts; combinable, all must hold):\n"
		   "      --since=TS            start at the first event with ts >= TS\n"
		   "      --before=TS           end with the last event with ts < TS\n"
		   "      --entity-id=ID        events whose top-level \"entityId\" is ID\n"
		   "      --entity-name=NAME    ... whose \"entityName\" is NAME\n"
		   "      --operation=OP        ... whose \"operation\" is OP\n"
		   "      --property-name=NAME  ... whose \"propertyName\" is NAME\n"
		   "      --contains=JSON       events containing JSON (jsonb @>), any shape\n"
		   "  TS is ISO 8601, e.g. 2026-12-04T18:00, 2026-12-04 18:00:00.5+01:00; without\n"
		   "  an offset it is UTC.  --since and --before make an id range of whole source\n"
		   "  transactions, a stream slate-load appends like any other.  The others\n"
		   "  select events by content (through the indexes slate-init-db creates, but\n"
		   "  --contains): such a stream is no prefix of the source, its header says so\n"
		   "  (\"filter\") and slate-load refuses it; read it with slate-cat.\n\n"
		   "Other options:\n"
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
	h.filter = x->filter;
	ok = stream_write_header(x->out, &h);
	events_ends_clear(&ends);
	if (!ok)
		output_failed(x);
	return ok;
}

/*
 * --since/--before as an id range, read in the extract's snapshot: from the
 * first event with ts >= since to the last with ts < before (through the
 * events_ts index).  A source transaction's events share one ts and occupy
 * consecutive ids, so both ends fall on transaction boundaries and the
 * stream is an ordinary slice of the source: a file of one day loads after
 * the day before.  Narrows *after and *until; nothing matching makes both
 * the source's max(id), an empty stream.  False with x->status set.
 */
static bool
time_range(extract *x, const filter_opts *f, int64_t *after, int64_t *until)
{
	char		sql[512],
				lo[160] = "0",
				hi[160] = "(SELECT max(id) FROM events)",
				iso[PG_TS_ISO_LEN + 1];
	int64_t		ts,
				lo_id,
				hi_id,
				max_id;
	PGresult   *res;
	bool		empty;

	if (f->since != NULL && pg_ts_parse(f->since, strlen(f->since), &ts))
	{
		iso[pg_ts_format_iso(ts, iso)] = '\0';
		snprintf(lo, sizeof(lo), "(SELECT min(id) - 1 FROM events WHERE ts >= '%s')", iso);
	}
	if (f->before != NULL && pg_ts_parse(f->before, strlen(f->before), &ts))
	{
		iso[pg_ts_format_iso(ts, iso)] = '\0';
		snprintf(hi, sizeof(hi), "(SELECT max(id) FROM events WHERE ts < '%s')", iso);
	}
	snprintf(sql, sizeof(sql), "SELECT %s, %s, (SELECT coalesce(max(id), 0) FROM events)", lo, hi);
	log_debug("%s", sql);
	if ((res = conn_exec(&x->src, "could not find the --since/--before ids", PGRES_TUPLES_OK,
						 sql, 0, NULL)) == NULL)
	{
		x->status = EXIT_DB;
		return false;
	}
	empty = PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1);
	lo_id = empty ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	hi_id = empty ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	max_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	if (lo_id > *after)
		*after = lo_id;
	if (*until == 0 || hi_id < *until)
		*until = hi_id;
	if (empty || *until <= *after)
		*after = *until = max_id;
	x->last_id = (uint64_t) *after;
	log_debug("--since/--before: ids %" PRId64 "..%" PRId64, *after + 1, *until);
	return true;
}

/*
 * The SQL condition of the content selections into x->filter (NULL when
 * none was given): one clause per option, each in the very form of the
 * index slate-init-db made for it (events_event_entityid: (event #>>
 * '{entityId}'), ...) so the planner can use it; values quoted by libpq.
 * The same text is the header's "filter": the stream says what it holds.
 * False with x->status set (2 for a value the server will not take).
 */
static bool
build_filter(extract *x, const filter_opts *f)
{
	const char *const keys[][2] = {
		{f->entity_id, "entityId"}, {f->entity_name, "entityName"},
		{f->operation, "operation"}, {f->property_name, "propertyName"}
	};
	char		buf[STREAM_FILTER_MAX];
	size_t		len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < 4 + 1 && len < sizeof(buf); i++)
	{
		const char *v = i < 4 ? keys[i][0] : f->contains;
		char	   *lit;

		if (v == NULL)
			continue;
		if ((lit = PQescapeLiteral(x->src.pg, v, strlen(v))) == NULL)
		{
			conn_report(&x->src, "could not quote a selection value", NULL);
			x->status = EXIT_DB;
			return false;
		}
		if (i < 4)
			len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s(event #>> '{%s}') = %s",
									 len ? " AND " : "", keys[i][1], lit);
		else
			len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%sevent @> %s::jsonb",
									 len ? " AND " : "", lit);
		PQfreemem(lit);
	}
	if (len == 0)
		return true;
	if (len >= sizeof(buf) - 1)
	{
		log_error("the selection is too long: a stream header holds at most %d bytes of it",
				  STREAM_FILTER_MAX - 1);
		x->status = EXIT_USAGE;
		return false;
	}
	if (f->contains != NULL)
	{
		const char *params[1] = {f->contains};
		PGresult   *res = PQexecParams(x->src.pg, "SELECT $1::jsonb", 1, NULL, params, NULL, NULL, 0);
		bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

		if (!ok)
		{
			char	   *nl,
					   *msg = strdup(PQresultErrorMessage(res));

			if (msg && (nl = strchr(msg, '\n')) != NULL)
				*nl = '\0';
			log_error("invalid value for --contains: %s", msg ? msg : "not JSON");
			free(msg);
			x->status = EXIT_USAGE;
		}
		PQclear(res);
		if (!ok)
			return false;
	}
	if ((x->filter = strdup(buf)) == NULL)
	{
		log_error("out of memory");
		x->status = EXIT_IO;
		return false;
	}
	log_debug("selection: %s", x->filter);
	return true;
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
	log_progress(final ? "extracted" : "extracting", x->count, x->last_id, x->started,
				 &x->last_progress, final);
}

/*
 * One event of a range: it must follow the last one, then it is written.
 * Returns 1 to go on, -1 on failure (x->status set), 0 to stop before it:
 * a stop is asked for and the event starts a new source transaction, or
 * nothing of the range is written yet (*written counts what is).
 */
static int
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
		progress(x, false);
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
static bool
extract_range(extract *x, uint64_t until, uint64_t written)
{
	char		range[128];
	char	   *sql;
	PGresult   *res;
	bool		header_seen = false;
	bool		ok = true;
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
	ok = PQsendQuery(x->src.pg, sql);
	free(sql);
	if (!ok)
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
	trace_mark("answered");

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
		if (r == 1 && take_event(x, &e, &written) <= 0)
		{
			PQfreemem(buf);
			return false;
		}
		PQfreemem(buf);
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
			log_debug("no prepared live query (%s); every wake runs a COPY",
					  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
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

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"after", required_argument, NULL, 'a'},
		{"until", required_argument, NULL, 'u'},
		{"follow", no_argument, NULL, 'f'},
		{"check", no_argument, NULL, 'c'},
		{"since", required_argument, NULL, 1000},
		{"before", required_argument, NULL, 1001},
		{"entity-id", required_argument, NULL, 1002},
		{"entity-name", required_argument, NULL, 1003},
		{"operation", required_argument, NULL, 1004},
		{"property-name", required_argument, NULL, 1005},
		{"contains", required_argument, NULL, 1006},
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	extract		x;
	int64_t		after = 0,
				until = 0;
	bool		follow_mode = false;
	bool		check_only = false;
	opt_common common = {0, LOG_FORMAT_AUTO};
	filter_opts sel = {0};
	const char **sel_slot[] = {&sel.since, &sel.before, &sel.entity_id, &sel.entity_name,
		&sel.operation, &sel.property_name, &sel.contains};
	int64_t		since_ts = 0,
				before_ts = 0;
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
			case 1000:
			case 1001:
				if (!pg_ts_parse(optarg, strlen(optarg), c == 1000 ? &since_ts : &before_ts))
				{
					opt_usage_error(PROG, "invalid value \"%s\" for --%s: not an ISO 8601 time within "
									"PostgreSQL's range (e.g. 2026-12-04T18:00:00Z)",
									optarg, c == 1000 ? "since" : "before");
					return EXIT_USAGE;
				}
				/* fall through */
			case 1002:
			case 1003:
			case 1004:
			case 1005:
			case 1006:
				*sel_slot[c - 1000] = optarg;
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
	if ((sel.since || sel.before || sel.entity_id || sel.entity_name || sel.operation ||
		 sel.property_name || sel.contains) && (follow_mode || check_only))
	{
		opt_usage_error(PROG, "the selection options (--since, --entity-id...) make an extract for "
						"files and scripts: they cannot go with --follow or --check");
		return EXIT_USAGE;
	}
	if (sel.since && sel.before && before_ts <= since_ts)
	{
		opt_usage_error(PROG, "--before must be later than --since");
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
	if (!build_filter(&x, &sel))
	{
		stream_writer_free(x.out);
		conn_close(&x.src);
		return x.status;
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
	else if ((!(sel.since || sel.before) || time_range(&x, &sel, &after, &until)) &&
			 write_header(&x, (uint64_t) after))
	{
		bool		done = (until == 0 || extend_until(&x, (uint64_t *) &until)) &&
			extract_range(&x, (uint64_t) until, 0) &&
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
	free(x.filter);
	return x.status;
}
