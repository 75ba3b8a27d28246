/* slate-load - append a slate msgpack stream from stdin to a destination events table */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "load.h"
#include "log.h"
#include "opts.h"
#include "pgcopy.h"
#include "repair.h"
#include "signals.h"
#include "stream.h"
#include "trace.h"
#include "version.h"

#define PROG "slate-load"

static void
usage(void)
{
	printf("%s appends a slate msgpack event stream from stdin to a destination.\n\n"
		   "Usage:\n  %s [OPTION]... [CONNINFO]\n\n"
		   "CONNINFO is a libpq connection string or URI; without it libpq's\n"
		   "environment (PGHOST, PGDATABASE, ~/.pgpass, services...) applies.\n\n"
		   "Options:\n"
		   "      --max-events-per-write=N  commit once a batch holds N events, at the next\n"
		   "                                transaction boundary (default 10000)\n"
		   "      --synchronous-commit=on|off  for the load session (default off: a lost\n"
		   "                                tail is copied again, see README)\n"
		   "      --restore                 fill an event source (made by sql/ or the original\n"
		   "                                slate-init-db) from a replica's stream, keeping\n"
		   "                                its id table at max(id) + 1 in every batch\n"
		   "      --check                   validate the destination against the stream's\n"
		   "                                header (and its ids for holes), then exit\n"
		   "                                without writing\n"
		   "      --repair                  rewrite the rows the original replicator wrote\n"
		   "                                (ts cut to the millisecond, JSON numbers\n"
		   "                                re-serialised) to the stream's exact bytes;\n"
		   "                                refuse any row that differs otherwise; append\n"
		   "                                nothing.  Takes the writer lock: stop the\n"
		   "                                replicator first.  Rerun to resume after a kill\n"
		   "      --no-original-warning     do not warn about the original replicator's rows\n"
		   "                                (pipeline.sh's start-up check already did)\n"
		   "      --position                print the destination's max(id) (0: empty),\n"
		   "                                where a slate-consume for it starts, and exit\n"
		   "      --lock-wait=S             wait up to S seconds for another writer of the\n"
		   "                                destination to go away (default 10)\n"
		   "      --connect-timeout=S       give up connecting after S seconds\n"
		   "      --log-format=FORMAT       json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose                 log every commit\n"
		   "  -V, --version                 output version information, then exit\n"
		   "  -?, --help                    show this help, then exit\n\n"
		   "Exit status: 0 done or stopped, 1 database error, 2 usage error,\n"
		   "3 bad input stream, 4 refused (gap, other source, destination ahead, locked,\n"
		   "--repair: a row that differs beyond the original's precision),\n"
		   "5 stdin could not be read.\n",
		   PROG, PROG);
}

/* ids within a stream rise by exactly 1; count the event */
static bool
stream_order_ok(load *l, stream_reader *in, const stream_event *e)
{
	if (l->stream_prev != 0 && e->id != l->stream_prev + 1)
	{
		log_error("stdin: byte offset %" PRIu64 ": event id %" PRIu64 " follows id %" PRIu64
				  " (ids must rise by 1); last good id %" PRIu64,
				  stream_reader_offset(in), e->id, l->stream_prev, l->stream_prev);
		l->status = EXIT_INPUT;
		return false;
	}
	l->stream_prev = e->id;
	l->stream_count++;
	return true;
}

static bool
on_event(load *l, stream_reader *in, const stream_event *e)
{
	uint64_t	accepted = l->hold_events > 0 ? l->hold_last : l->pos;

	if (!stream_order_ok(l, in, e))
		return false;
	/* a restore target is a source: its last event must be the stream's exactly */
	if (l->restore && e->id == l->dest_max && !restore_same_last(l, e))
		return false;
	if (e->id <= accepted)		/* already there: replays and overlaps are harmless */
		return l->last_res == NULL || e->id != l->last.id || check_last(l, e);
	if (e->id != accepted + 1)
	{
		log_error("gap: the stream's next event is id %" PRIu64 " but the destination (%s) ends at id %"
				  PRIu64 "; ids %" PRIu64 "..%" PRIu64 " are missing", e->id, l->dst.desc,
				  accepted, accepted + 1, e->id - 1);
		l->status = EXIT_REFUSED;
		return false;
	}
	return batch_event(l, e);
}

/* the stream is bad at the reader's offset: say what and where, keep the whole transactions */
#define BAD_INPUT(l, fmt, ...) \
	do { \
		log_error("stdin: byte offset %" PRIu64 ": " fmt, stream_reader_offset((l)->in), __VA_ARGS__); \
		(l)->status = EXIT_INPUT; \
		batch_salvage(l); \
	} while (0)

/* a header: the first, or one starting a concatenated stream after an end marker */
static bool
on_header(load *l, const stream_header *h)
{
	if (l->have_header && !l->ended)
	{
		BAD_INPUT(l, "%s", "a header in the middle of a stream");
		return false;
	}
	if (!batch_end(l, NULL) || !check_header(l, h))
		return false;
	if (l->check_only)
	{
		log_info("destination (%s) is valid for source %s", l->dst.desc, h->source);
		return false;
	}
	if (l->repair_mode && l->rep == NULL &&
		(l->rep = repair_new(&l->dst, l->dest_max, l->max_per_write)) == NULL)
	{
		l->status = EXIT_IO;
		return false;
	}
	l->have_header = true;
	l->ended = false;
	l->stream_prev = 0;
	l->stream_after = h->after;
	l->stream_count = 0;
	log_debug("reading a stream from %s (%s) after id %" PRIu64, h->source, h->producer, h->after);
	return true;
}

/* a boundary or end marker: it must agree with the stream; then the transaction is whole */
static bool
on_marker(load *l, const stream_msg *m)
{
	uint64_t	at = l->stream_count > 0 ? l->stream_prev : l->stream_after;

	if (m->last_id != at)
	{
		BAD_INPUT(l, "%s marker says last_id %" PRIu64 " but the stream is at id %" PRIu64
				  "; last good id %" PRIu64, stream_msg_type_name(m->type), m->last_id, at, l->stream_prev);
		return false;
	}
	if (m->type == MSG_END && m->count != l->stream_count)
	{
		BAD_INPUT(l, "end marker says count %" PRIu64 " but the stream held %" PRIu64
				  " events; last good id %" PRIu64, m->count, l->stream_count, l->stream_prev);
		return false;
	}
	trace_mark("boundary");
	if (m->last_id > l->source_max)
		l->source_max = m->last_id;
	if (m->type == MSG_END)
	{
		l->ended = true;
		return batch_finish(l);
	}
	return batch_boundary(l, stream_reader_idle(l->in));
}

/* one message of the stream; false when the load ends here */
static bool
on_message(load *l, stream_msg *m)
{
	if (!l->have_header && m->type != MSG_HEADER)
	{
		BAD_INPUT(l, "expected a header, got %s", stream_msg_type_name(m->type));
		return false;
	}
	switch (m->type)
	{
		case MSG_HEADER:
			return on_header(l, &m->hdr);
		case MSG_EVENT:
			if (l->ended)
			{
				BAD_INPUT(l, "%s", "an event after the end marker");
				return false;
			}
			if (l->repair_mode)
				return stream_order_ok(l, l->in, &m->ev) &&
					(l->status = repair_event(l->rep, &m->ev)) == EXIT_OK;
			if (!on_event(l, l->in, &m->ev))
			{
				batch_salvage(l);
				return false;
			}
			return true;
		case MSG_BOUNDARY:
		case MSG_END:
			return on_marker(l, m);
		case MSG_WAKE:
			BAD_INPUT(l, "%s", "a wake message belongs on slate-extract's input");
			return false;
	}
	return true;
}

/* read and apply the stream; returns when it ends, fails or a stop is requested */
static void
run(load *l)
{
	stream_msg	m;

	for (;;)
	{
		stream_read_result r = stream_read(l->in, &m);

		if (r == STREAM_STOP || (r != STREAM_MSG && stop_requested))
		{
			batch_end(l, "stopped by signal");
			if (l->repair_mode)
				log_info("stopped by signal; the batch under way was not changed; rerun to resume");
			else
				log_info("stopped by signal; committed through id %" PRIu64, l->committed);
			return;
		}
		if (r == STREAM_EOF)
		{
			if (l->ended && l->rep != NULL)
				l->status = repair_finish(l->rep);
			if (l->ended)
				return;
			BAD_INPUT(l, "the stream ends without an end marker (cut?); last good id %" PRIu64,
					  l->stream_prev);
			return;
		}
		if (r == STREAM_ERROR)
		{
			log_error("%s; last good id %" PRIu64, stream_reader_error(l->in), l->stream_prev);
			l->status = stream_reader_read_failed(l->in) ? EXIT_IO : EXIT_INPUT;
			batch_salvage(l);
			return;
		}
		if (!on_message(l, &m))
			return;
	}
}


int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"max-events-per-write", required_argument, NULL, 'm'},
		{"synchronous-commit", required_argument, NULL, 's'},
		{"restore", no_argument, NULL, 'R'},
		{"lock-wait", required_argument, NULL, 'w'},
		{"check", no_argument, NULL, 'c'},
		{"repair", no_argument, NULL, 'r'},
		{"no-original-warning", no_argument, NULL, 'o'},
		{"position", no_argument, NULL, 'p'},
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	load		l;
	int64_t		lock_wait = 10;
	opt_common common = {0, LOG_FORMAT_AUTO};
	int			r;
	const char *conninfo = NULL;
	int			c;
	bool		position_only = false;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	memset(&l, 0, sizeof(l));
	l.max_per_write = 10000;
	while ((c = getopt_long(argc, argv, OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'm':
				if (!opt_int64(PROG, "max-events-per-write", optarg, 1, INT32_MAX, &l.max_per_write))
					return EXIT_USAGE;
				break;
			case 's':
				if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
				{
					opt_usage_error(PROG, "invalid value \"%s\" for --synchronous-commit: use on or off", optarg);
					return EXIT_USAGE;
				}
				l.sync_commit = strcmp(optarg, "on") == 0;
				break;
			case 'R':
				l.restore = true;
				break;
			case 'w':
				if (!opt_int64(PROG, "lock-wait", optarg, 0, 3600, &lock_wait))
					return EXIT_USAGE;
				break;
			case 'c':
				l.check_only = true;
				break;
			case 'r':
				l.repair_mode = true;
				break;
			case 'o':
				l.first_warned = true;
				break;
			case 'p':
				position_only = true;
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if ((r = opt_conninfo(PROG, argc, argv, &conninfo)) != OPT_GO_ON)
		return r;
	if (l.check_only + l.repair_mode + l.restore + position_only > 1)
	{
		opt_usage_error(PROG, "--check, --repair, --restore and --position cannot be used together");
		return EXIT_USAGE;
	}
	l.lock_wait_s = (int) lock_wait;

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	l.in = stream_reader_new(STDIN_FILENO, "stdin", MAX_MESSAGE);
	if (l.in == NULL)
	{
		log_error("out of memory");
		return EXIT_IO;
	}
	if (!conn_open(&l.dst, "destination", conninfo, (int) common.connect_timeout))
	{
		stream_reader_free(l.in);
		return stop_requested ? EXIT_OK : EXIT_DB;
	}
	l.started = l.last_log = now_s();
	if (position_only)
	{
		/* the position is the destination's own max(id), as for a load */
		events_ends ends;

		if (!events_check_table(&l.dst) || !events_read_ends(&l.dst, &ends))
			l.status = l.dst.sqlstate[0] ? EXIT_DB : EXIT_REFUSED;
		else
		{
			printf("%" PRIu64 "\n", ends.max_id);
			events_ends_clear(&ends);
			if (fflush(stdout) != 0)
				l.status = EXIT_IO;
		}
	}
	else if (!events_check_table(&l.dst) ||
		!(l.restore ? restore_check(&l) : events_check_role(&l.dst, false)) ||
		(l.check_only && !events_check_holes(&l.dst)))
		l.status = l.dst.sqlstate[0] ? EXIT_DB : EXIT_REFUSED;
	else if (l.check_only)
		run(&l);				/* returns after checking the header */
	else if ((l.sync_commit || conn_command(&l.dst, "could not set synchronous_commit",
											"SET synchronous_commit = off")) &&
			 take_lock(&l))
		run(&l);
	else if (l.status == EXIT_OK)
		l.status = EXIT_DB;

	if (l.status == EXIT_OK && !stop_requested && !l.check_only && !l.repair_mode && !position_only)
		log_commit(&l, true);
	repair_free(l.rep);
	PQclear(l.last_res);
	free(l.hold);
	free(l.arrays);
	stream_reader_free(l.in);
	PQclear(l.restore_last);
	conn_close(&l.dst);
	return l.status;
}
