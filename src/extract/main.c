/* slate-extract - write a source's events to stdout as a slate msgpack stream */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "exitcodes.h"
#include "extract.h"
#include "log.h"
#include "opts.h"
#include "signals.h"

/* the command line */
typedef struct options
{
	int64_t		after,
				until;
	bool		follow;
	bool		check_only;
	opt_common	common;
	filter_opts sel;
	int64_t		since_ts,
				before_ts;
	const char *conninfo;
} options;

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

/* the command line into *o, checked; returns OPT_GO_ON or the exit status to return now */
static int
parse_options(int argc, char **argv, options *o)
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
	const char **sel_slot[] = {&o->sel.since, &o->sel.before, &o->sel.entity_id, &o->sel.entity_name,
		&o->sel.operation, &o->sel.property_name, &o->sel.contains};
	int			r;
	int			c;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	memset(o, 0, sizeof(*o));
	o->common.log_format = LOG_FORMAT_AUTO;
	while ((c = getopt_long(argc, argv, OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'a':
				if (!opt_int64(PROG, "after", optarg, 0, INT64_MAX, &o->after))
					return EXIT_USAGE;
				break;
			case 'u':
				if (!opt_int64(PROG, "until", optarg, 1, INT64_MAX, &o->until))
					return EXIT_USAGE;
				break;
			case 'f':
				o->follow = true;
				break;
			case 'c':
				o->check_only = true;
				break;
			case 1000:
			case 1001:
				if (!pg_ts_parse(optarg, strlen(optarg), c == 1000 ? &o->since_ts : &o->before_ts))
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
				if ((r = opt_common_case(PROG, c, argv, &o->common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if ((r = opt_conninfo(PROG, argc, argv, &o->conninfo)) != OPT_GO_ON)
		return r;
	if (o->follow && o->until > 0)
	{
		opt_usage_error(PROG, "--follow and --until cannot be used together");
		return EXIT_USAGE;
	}
	if ((o->sel.since || o->sel.before || o->sel.entity_id || o->sel.entity_name || o->sel.operation ||
		 o->sel.property_name || o->sel.contains) && (o->follow || o->check_only))
	{
		opt_usage_error(PROG, "the selection options (--since, --entity-id...) make an extract for "
						"files and scripts: they cannot go with --follow or --check");
		return EXIT_USAGE;
	}
	if (o->sel.since && o->sel.before && o->before_ts <= o->since_ts)
	{
		opt_usage_error(PROG, "--before must be later than --since");
		return EXIT_USAGE;
	}
	if (o->until > 0 && o->until <= o->after)
	{
		opt_usage_error(PROG, "--until must be greater than --after");
		return EXIT_USAGE;
	}
	return OPT_GO_ON;
}

/* --check: the source is valid; a header and an end marker only */
static void
check_source(extract *x, const options *o)
{
	if (!write_header(x, (uint64_t) o->after) || !stream_write_end(x->out, x->last_id, 0))
	{
		if (x->status == EXIT_OK)
			output_failed(x);
	}
	else
		log_info("source (%s) is valid", x->src.desc);
}

/* the header, the events so far, with --follow what is new after each wake, the end marker */
static void
extract_all(extract *x, options *o)
{
	bool		done;

	if (((o->sel.since || o->sel.before) && !time_range(x, &o->sel, &o->after, &o->until)) ||
		!write_header(x, (uint64_t) o->after))
		return;
	done = (o->until == 0 || extend_until(x, (uint64_t *) &o->until)) &&
		extract_range(x, (uint64_t) o->until, 0) &&
		conn_command(&x->src, "could not end the transaction", "COMMIT");
	if (!done && x->status == EXIT_OK && !stop_requested && !x->reader_gone)
		x->status = EXIT_DB;	/* COMMIT failed; conn_command logged it */
	if (done && o->follow)
	{
		if (!stream_write_boundary(x->out, x->last_id) || !stream_flush(x->out))
			output_failed(x);
		else
			follow(x);
	}

	/*
	 * Done, or stopped on a source-transaction boundary: the stream is
	 * whole, so it ends properly and its reader logs no error.
	 */
	if (x->status == EXIT_OK && !x->torn && !x->reader_gone &&
		!stream_write_end(x->out, x->last_id, x->count))
		output_failed(x);
}

int
main(int argc, char **argv)
{
	options		o;
	extract		x;
	int			r;

	/* 1. the command line, checked before anything is opened */
	if ((r = parse_options(argc, argv, &o)) != OPT_GO_ON)
		return r;
	log_init(PROG, (enum log_format) o.common.log_format);
	signals_init();

	/* 2. stdout, the source, and the content selection as SQL */
	memset(&x, 0, sizeof(x));
	if ((x.out = stream_writer_new(STDOUT_FILENO)) == NULL)
	{
		log_error("out of memory");
		return EXIT_IO;
	}
	if (!conn_open(&x.src, "source", o.conninfo, (int) o.common.connect_timeout))
	{
		stream_writer_free(x.out);
		return stop_requested ? EXIT_OK : EXIT_DB;
	}
	if (!build_filter(&x, &o.sel))
	{
		stream_writer_free(x.out);
		conn_close(&x.src);
		return x.status;
	}
	x.last_id = (uint64_t) o.after;
	x.started = x.last_progress = now_s();

	/* 3. the source checked; one snapshot for the header, the --until end and the first extract */
	if (!events_check_table(&x.src) ||
		((o.follow || o.check_only) && !events_check_role(&x.src, true)) ||
		(o.check_only && !events_check_holes(&x.src)))
		x.status = x.src.sqlstate[0] ? EXIT_DB : EXIT_REFUSED;
	else if (!conn_command(&x.src, "could not start a transaction",
						   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
		x.status = EXIT_DB;
	else if (o.check_only)
	{
		/* 4. --check ends here */
		check_source(&x, &o);
		stream_writer_free(x.out);
		conn_close(&x.src);
		return x.status;
	}
	else
		/* 5. the events, then --follow's wakes, then the end marker */
		extract_all(&x, &o);

	/* 6. the last word: totals, or where a stop left the stream */
	if (x.status == EXIT_OK && !stop_requested)
		extract_progress(&x, true);
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
