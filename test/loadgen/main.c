/* slate-loadgen - write realistic slate event series into a source, or into a stream file */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "exitcodes.h"
#include "gen.h"
#include "log.h"
#include "opts.h"
#include "signals.h"
#include "stream.h"
#include "version.h"

#define PROG "slate-loadgen"

/* --output: the first transaction's ts, 2020-01-01 00:00:00 UTC; transaction n gets base + n us */
#define OUTPUT_BASE_PG_TS INT64_C(631152000000000)
#define PG_EPOCH_UNIX_S INT64_C(946684800)
#define MAX_PIPELINE 64

typedef struct loadgen
{
	generator	gen;
	slate_conn	src;
	strbuf		values;			/* the VALUES text of one insert_events call */
	int64_t		txns;			/* transactions committed or written */
	int64_t		events;			/* events committed or written */
	double		started;
	double		last_progress;
	int			pipeline;		/* calls in flight at most */
	int			inflight[MAX_PIPELINE];	/* events of each call in flight, a ring */
	int			inflight_head;
	int			inflight_count;
	int			status;
	const char *source_desc;	/* --dry-run with -c: the config's source, no password */
} loadgen;


static int64_t
wall_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t) t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void
usage(void)
{
	printf("%s writes realistic slate event series (people and filler) into a source\n"
		   "through insert_events(), or into a slate stream file.\n\n"
		   "Usage:\n  %s [OPTION]... [CONNINFO]\n\n"
		   "CONNINFO is a libpq connection string or URI; without it the -c file's\n"
		   "eventSource, else libpq's environment (PGHOST, PGDATABASE, ~/.pgpass...).\n\n"
		   "Options:\n"
		   "  -c, --config=FILE            the original loadPersonData's (or\n"
		   "                               loadPerfTestData's) config file: eventSource and\n"
		   "                               connectTimeout; options given here win\n"
		   "                               (--config-filename too)\n"
		   "The person series (the original's loadPersonData):\n"
		   "      --count-person=N         people to create, 3 events each (default 1000)\n"
		   "      --count-filler=N         filler events (default 10000)\n"
		   "      --count-person-delete=N  deletions of earlier people, at most one per\n"
		   "                               person (default 50)\n"
		   "The perf series (the original's loadPerfTestData), chosen by either option:\n"
		   "      --filler-events-between=N  filler events between consecutive user events\n"
		   "                               (default 10000): 3 users x 4 events, 11*N+12\n"
		   "                               events, data.entityId the entity's UUID\n"
		   "      --max-events-per-insert=N  events per insert_events call (default 25)\n"
		   "Both:\n"
		   "      --seed=N                 make the data reproducible (default: random)\n"
		   "      --output=FILE            write a slate stream to FILE (\"-\": stdout)\n"
		   "                               instead of connecting\n"
		   "      --dry-run                print the counts and sample events, write nothing\n"
		   "      --pipeline=N             keep up to N calls in flight (default 4; 1 waits\n"
		   "                               for each commit before sending the next)\n"
		   "      --connect-timeout=S      give up connecting after S seconds\n"
		   "      --log-format=FORMAT      json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose                log every transaction\n"
		   "  -V, --version                output version information, then exit\n"
		   "  -?, --help                   show this help, then exit\n\n"
		   "Each insert_events() call is its own transaction (in the person series one\n"
		   "\"db operation\" of the events' testingStats).  With --seed everything\n"
		   "repeats except dbOperationTS, the client's clock at each call; with --seed\n"
		   "and --output the file repeats byte for byte (its times are 2020-01-01 plus\n"
		   "one microsecond per transaction).\n\n"
		   "Exit status: 0 done or stopped, 1 database error, 2 usage error,\n"
		   "5 output error.\n",
		   PROG, PROG);
}

/* the events/s line every run ends with (and every 10 s in between) */
static void
progress(loadgen *l, bool final)
{
	double		t = now_s();
	double		secs = t - l->started;
	double		rate = (double) l->events / (secs > 1e-6 ? secs : 1e-6);
	char		fields[256];

	if (!final && t - l->last_progress < 10.0)
		return;
	l->last_progress = t;
	snprintf(fields, sizeof(fields), "\"events\":%" PRId64 ",\"transactions\":%" PRId64
			 ",\"seconds\":%.3f,\"events_per_s\":%.0f,\"bytes\":%" PRId64,
			 l->events, l->txns, secs, rate, l->gen.bytes);
	log_kv(LOG_INFO, fields, "%s %" PRId64 " events in %" PRId64 " transactions in %.3f s (%.0f events/s)",
		   final ? "wrote" : "writing", l->events, l->txns, secs, rate);
}

/*
 * The current transaction as insert_events' argument: the k-th row is
 * ($1[k], $2, '<json>') with the JSON's single quotes doubled.  The session
 * has standard_conforming_strings on, so backslashes need nothing.
 */
static bool
build_values(loadgen *l)
{
	generator  *g = &l->gen;
	strbuf	   *v = &l->values;

	v->len = 0;
	for (size_t k = 0; k < g->count; k++)
	{
		const char *p = g->json.data + g->offs[k];
		const char *end = g->json.data + g->offs[k + 1];
		char		head[40];
		int			n = snprintf(head, sizeof(head), "%s($1[%zu], $2, '", k ? ", " : "", k + 1);

		sb_put(v, head, (size_t) n);
		while (p < end)
		{
			const char *q = memchr(p, '\'', (size_t) (end - p));

			if (q == NULL)
			{
				sb_put(v, p, (size_t) (end - p));
				break;
			}
			sb_put(v, p, (size_t) (q - p + 1));
			sb_put(v, "'", 1);
			p = q + 1;
		}
		sb_put(v, "')", 2);
	}
	sb_put(v, "", 1);
	if (v->failed)
	{
		log_error("out of memory");
		l->status = EXIT_IO;
		return false;
	}
	return true;
}

/*
 * Read the outcome of the oldest call in flight: its row count, then the end
 * of its pipeline segment.  Logs and returns false when it failed.
 */
static bool
collect_txn(loadgen *l)
{
	PGconn	   *pg = l->src.pg;
	int			expected = l->inflight[l->inflight_head];
	PGresult   *res;
	bool		ok = false;

	l->inflight_head = (l->inflight_head + 1) % MAX_PIPELINE;
	l->inflight_count--;
	res = PQgetResult(pg);
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		long		n = strtol(PQgetvalue(res, 0, 0), NULL, 10);

		if (n == expected)
			ok = true;
		else
			log_error("insert_events inserted %ld events, expected %d", n, expected);
	}
	else
		conn_report(&l->src, "could not insert events", res);
	PQclear(res);
	if (!ok)
	{
		l->status = EXIT_DB;
		return false;
	}
	/* a NULL ends the call's results, then its Sync (its commit) follows */
	while ((res = PQgetResult(pg)) != NULL)
		PQclear(res);
	res = PQgetResult(pg);
	if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
	{
		conn_report(&l->src, "could not commit events", res);
		PQclear(res);
		l->status = EXIT_DB;
		return false;
	}
	PQclear(res);
	l->txns++;
	l->events += expected;
	progress(l, false);
	return true;
}

/*
 * Send the current transaction: one insert_events call followed by a Sync,
 * which makes it a transaction of its own.  The caller keeps up to --pipeline
 * calls in flight, so the server finds the next one waiting when it commits one.
 */
static bool
send_txn(loadgen *l)
{
	const char *params[1];

	if (!build_values(l))
		return false;
	params[0] = l->values.data;
	if (!PQsendQueryParams(l->src.pg, "SELECT insert_events($1)", 1, NULL, params, NULL, NULL, 0) ||
		!PQpipelineSync(l->src.pg))
	{
		conn_report(&l->src, "could not send events", NULL);
		l->status = EXIT_DB;
		return false;
	}
	l->inflight[(l->inflight_head + l->inflight_count) % MAX_PIPELINE] = (int) l->gen.count;
	l->inflight_count++;
	return true;
}

static void
run_source(loadgen *l, const char *conninfo, int timeout, char **passfile)
{
	char		op_ts[40];
	int			n;
	bool		ok = conn_open(&l->src, "source", conninfo, timeout);

	/* connected or not, libpq needs the passwords no more */
	config_private_passfile_remove(*passfile);
	*passfile = NULL;
	if (!ok)
	{
		l->status = EXIT_DB;
		return;
	}
	/* the JSON is UTF-8 and the VALUES text relies on plain '' quoting */
	if (!conn_command(&l->src, "could not set up the session",
					  "SET client_encoding = 'UTF8'; SET standard_conforming_strings = on"))
	{
		l->status = EXIT_DB;
		return;
	}
	if (!PQenterPipelineMode(l->src.pg))
	{
		conn_report(&l->src, "could not enter pipeline mode", NULL);
		l->status = EXIT_DB;
		return;
	}
	log_info("inserting %" PRId64 " events into %s", gen_remaining(&l->gen), l->src.desc);
	l->started = l->last_progress = now_s();
	while (!stop_requested)
	{
		/* a free slot first, so that dbOperationTS is when the call leaves */
		if (l->inflight_count == l->pipeline && !collect_txn(l))
			return;
		gen_format_ts(wall_us(), op_ts, sizeof(op_ts));
		if ((n = gen_next_txn(&l->gen, op_ts)) == 0)
			break;
		if (n < 0)
		{
			log_error("out of memory");
			l->status = EXIT_IO;
			return;
		}
		if (!send_txn(l))
			return;
		log_debug("insert_events call %" PRId64 ": %d events sent", l->gen.op_num, n);
	}
	while (l->inflight_count > 0)
		if (!collect_txn(l))
			return;
	PQexitPipelineMode(l->src.pg);
}

/* open --output FILE ("-" is stdout); returns the fd or -1 after logging */
static int
open_output(const char *path)
{
	int			fd;

	if (strcmp(path, "-") == 0)
		return STDOUT_FILENO;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		log_error("could not open \"%s\": %s", path, strerror(errno));
	return fd;
}

/*
 * The events as a stream a source holding them would give: ids from 1,
 * transaction n at 2020-01-01 plus n microseconds, a boundary after each
 * transaction and an end marker.
 */
static void
run_output(loadgen *l, const char *path)
{
	stream_writer *w = NULL;
	stream_header h;
	char		producer[64];
	char		op_ts[40];
	uint64_t	total = (uint64_t) gen_remaining(&l->gen);
	uint64_t	next_id = 1;
	int			fd;
	int			n;
	bool		ok = true;

	if ((fd = open_output(path)) < 0)
	{
		l->status = EXIT_IO;
		return;
	}
	if ((w = stream_writer_new(fd)) == NULL)
	{
		log_error("out of memory");
		l->status = EXIT_IO;
		goto cleanup;
	}
	l->started = l->last_progress = now_s();
	memset(&h, 0, sizeof(h));
	snprintf(producer, sizeof(producer), "%s %s", PROG, SLATE_VERSION);
	h.version = STREAM_VERSION;
	h.producer = producer;
	h.source = PROG;
	h.after = 0;
	h.source_max = total;
	for (bool first = true; !stop_requested; first = false)
	{
		int64_t		pg_ts = OUTPUT_BASE_PG_TS + l->gen.op_num + 1;

		gen_format_ts((PG_EPOCH_UNIX_S * 1000000) + pg_ts, op_ts, sizeof(op_ts));
		n = gen_next_txn(&l->gen, op_ts);
		if (n < 0)
		{
			log_error("out of memory");
			l->status = EXIT_IO;
			goto cleanup;
		}
		if (first)
		{
			/* the header names the first event, so it waits for the first transaction */
			h.has_first = n > 0;
			h.first.id = 1;
			h.first.ts = pg_ts;
			h.first.event = n > 0 ? l->gen.json.data : NULL;
			h.first.event_len = n > 0 ? l->gen.offs[1] : 0;
			ok = stream_write_header(w, &h);
		}
		if (n == 0)
			break;
		for (int k = 0; k < n && ok; k++)
		{
			stream_event e = {next_id++, pg_ts, l->gen.json.data + l->gen.offs[k],
				l->gen.offs[k + 1] - l->gen.offs[k]};

			ok = stream_write_event(w, &e);
		}
		if (ok)
			ok = stream_write_boundary(w, next_id - 1);
		if (!ok)
			break;
		l->txns++;
		l->events += n;
		progress(l, false);
	}
	if (ok && !stop_requested)
		ok = stream_write_end(w, next_id - 1, next_id - 1);
	if (ok)
		ok = stream_flush(w);
	if (!ok && errno == EPIPE)
		log_info("the reader of %s went away; stopped", path);
	else if (!ok)
	{
		log_error("could not write to %s: %s", path, strerror(errno));
		l->status = EXIT_IO;
	}

cleanup:
	stream_writer_free(w);
	if (fd != STDOUT_FILENO && close(fd) != 0 && l->status == EXIT_OK)
	{
		log_error("could not write to %s: %s", path, strerror(errno));
		l->status = EXIT_IO;
	}
}

/* --dry-run: generate everything, print counts and the first event of each kind */
static void
run_dry(loadgen *l, uint64_t seed)
{
	generator  *g = &l->gen;
	strbuf		samples = {0};
	bool		seen[GEN_NKINDS] = {false};
	char		op_ts[40];
	int			n;

	printf("%s dry run: nothing is inserted\n", PROG);
	if (l->source_desc != NULL)
		printf("source:               %s\n", l->source_desc);
	printf("seed:                 %" PRIu64 "\n", seed);
	if (g->perf)
	{
		printf("series:               perf (%d users x %d events)\n", GEN_PERF_USERS,
			   GEN_PERF_USER_EVENTS);
		printf("filler events between: %" PRId64 "\n", g->perf_between);
		printf("max events per insert: %" PRId64 "\n", g->perf_max);
	}
	else
	{
		printf("persons:              %" PRId64 " (3 events each)\n", g->persons);
		printf("person deletions:     %" PRId64 "\n", g->deletes_left);
		printf("filler events:        %" PRId64 "\n", g->fillers_left);
	}
	printf("events:               %" PRId64 "\n", gen_remaining(g));
	gen_format_ts(wall_us(), op_ts, sizeof(op_ts));
	while ((n = gen_next_txn(g, op_ts)) > 0)
	{
		l->txns++;
		for (int k = 0; k < n; k++)
		{
			gen_kind	kind = g->items[k].kind;

			if (seen[kind])
				continue;
			seen[kind] = true;
			sb_put(&samples, g->json.data + g->offs[k], g->offs[k + 1] - g->offs[k]);
			sb_put(&samples, "\n", 1);
		}
	}
	if (n < 0 || samples.failed)
	{
		log_error("out of memory");
		l->status = EXIT_IO;
		sb_free(&samples);
		return;
	}
	printf("transactions:         %" PRId64 " (%.1f events on average)\n",
		   l->txns, l->txns ? (double) g->events / (double) l->txns : 0.0);
	printf("JSON bytes per event: %.0f on average\n",
		   g->events ? (double) g->bytes / (double) g->events : 0.0);
	printf("sample events (the first of each kind):\n");
	if (samples.len > 0)
		fwrite(samples.data, 1, samples.len, stdout);
	sb_free(&samples);
	if (fflush(stdout) != 0)
	{
		log_error("could not write to stdout: %s", strerror(errno));
		l->status = EXIT_IO;
	}
}

/*
 * -c FILE: the config's eventSource as the conninfo (malloced into *owned,
 * its password in a private pgpass file *passfile) unless one was given, and
 * its connectTimeout unless --connect-timeout was.  *desc is the conninfo
 * without the passfile, for --dry-run.  Returns false after saying why.
 */
static bool
apply_config(const char *path, const char **conninfo, char **owned, char **desc,
			 opt_common *common, char **passfile, bool want_passfile)
{
	struct config cfg;
	bool		ok = false;

	if (config_load(PROG, CONFIG_EVENT_SOURCE, path, &cfg) != 0)
		return false;
	if (common->connect_timeout == 0)
		common->connect_timeout = (cfg.connect_timeout_ms + 999) / 1000;
	if (*conninfo == NULL)
	{
		if (want_passfile && !config_private_passfile(PROG, &cfg, passfile))
			goto cleanup;
		if ((*owned = config_conninfo_passfile(&cfg.source, *passfile)) == NULL ||
			(*desc = config_conninfo(&cfg.source)) == NULL)
		{
			fprintf(stderr, "%s: out of memory\n", PROG);
			goto cleanup;
		}
		*conninfo = *owned;
	}
	ok = true;
cleanup:
	config_free(&cfg);
	return ok;
}

/* a seed for runs without --seed: the clock and the process id */
static uint64_t
fresh_seed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return ((uint64_t) t.tv_sec * 1000000000u + (uint64_t) t.tv_nsec) ^
		((uint64_t) getpid() << 32);
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"count-person", required_argument, NULL, 'p'},
		{"count-filler", required_argument, NULL, 'f'},
		{"count-person-delete", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{"dry-run", no_argument, NULL, 'n'},
		{"pipeline", required_argument, NULL, 'P'},
		{"filler-events-between", required_argument, NULL, 'B'},
		{"max-events-per-insert", required_argument, NULL, 'M'},
		{"config", required_argument, NULL, 'c'},
		{"config-filename", required_argument, NULL, 'c'},
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	loadgen		l;
	int64_t		persons = 1000,
				fillers = 10000,
				deletes = 50,
				seed_opt = -1,
				pipeline = 4,
				between = 10000,
				max_per_insert = 25;
	uint64_t	seed;
	bool		dry_run = false;
	bool		deletes_given = false;
	bool		person_given = false;
	bool		perf = false;
	bool		ok;
	const char *output = NULL;
	const char *conninfo = NULL;
	const char *config_path = NULL;
	char	   *owned = NULL;
	char	   *desc = NULL;
	char	   *passfile = NULL;
	opt_common common = {0, LOG_FORMAT_AUTO};
	int			r;
	int			c;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	while ((c = getopt_long(argc, argv, "c:" OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'p':
				if (!opt_int64(PROG, "count-person", optarg, 0, INT32_MAX, &persons))
					return EXIT_USAGE;
				person_given = true;
				break;
			case 'f':
				if (!opt_int64(PROG, "count-filler", optarg, 0, INT32_MAX, &fillers))
					return EXIT_USAGE;
				person_given = true;
				break;
			case 'd':
				if (!opt_int64(PROG, "count-person-delete", optarg, 0, INT32_MAX, &deletes))
					return EXIT_USAGE;
				deletes_given = person_given = true;
				break;
			case 'B':
				/* 11 * N + 12 events must stay countable in an int64 */
				if (!opt_int64(PROG, "filler-events-between", optarg, 0, INT32_MAX, &between))
					return EXIT_USAGE;
				perf = true;
				break;
			case 'M':
				if (!opt_int64(PROG, "max-events-per-insert", optarg, 1, 100000, &max_per_insert))
					return EXIT_USAGE;
				perf = true;
				break;
			case 'c':
				config_path = optarg;
				break;
			case 's':
				if (!opt_int64(PROG, "seed", optarg, 0, INT64_MAX, &seed_opt))
					return EXIT_USAGE;
				break;
			case 'o':
				output = optarg;
				break;
			case 'n':
				dry_run = true;
				break;
			case 'P':
				if (!opt_int64(PROG, "pipeline", optarg, 1, MAX_PIPELINE, &pipeline))
					return EXIT_USAGE;
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if ((r = opt_conninfo(PROG, argc, argv, &conninfo)) != OPT_GO_ON)
		return r;
	if (output != NULL && conninfo != NULL)
	{
		opt_usage_error(PROG, "--output writes a file instead of connecting: drop CONNINFO");
		return EXIT_USAGE;
	}
	if (output != NULL && *output == '\0')
	{
		opt_usage_error(PROG, "--output needs a file name (or \"-\" for stdout)");
		return EXIT_USAGE;
	}
	if (output != NULL && config_path != NULL)
	{
		opt_usage_error(PROG, "--output writes a file instead of connecting: drop -c");
		return EXIT_USAGE;
	}
	if (perf && person_given)
	{
		opt_usage_error(PROG, "--filler-events-between and --max-events-per-insert choose the perf "
						"series, which has no --count-* options");
		return EXIT_USAGE;
	}
	if (config_path != NULL &&
		!apply_config(config_path, &conninfo, &owned, &desc, &common, &passfile, !dry_run))
	{
		config_private_passfile_remove(passfile);
		free(owned);
		free(desc);
		return EXIT_USAGE;
	}

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	memset(&l, 0, sizeof(l));
	l.pipeline = (int) pipeline;
	l.source_desc = desc;
	seed = seed_opt >= 0 ? (uint64_t) seed_opt : fresh_seed();
	ok = perf ? gen_init_perf(&l.gen, seed, between, max_per_insert)
		: gen_init(&l.gen, seed, persons, deletes, fillers);
	if (!ok)
	{
		log_error("out of memory");
		gen_free(&l.gen);
		config_private_passfile_remove(passfile);
		free(owned);
		free(desc);
		return EXIT_IO;
	}
	if (deletes_given && deletes > persons)
		log_warn("only %" PRId64 " people to delete: each person is deleted at most once", persons);
	if (!dry_run)
		log_info("seed %" PRIu64 ", program %s", seed, l.gen.program_id);

	if (dry_run)
		run_dry(&l, seed);
	else if (output != NULL)
		run_output(&l, output);
	else
		run_source(&l, conninfo, (int) common.connect_timeout, &passfile);

	if (!dry_run && l.status == EXIT_OK)
	{
		if (stop_requested)
			log_info("stopped by signal after %" PRId64 " transactions", l.txns);
		progress(&l, true);
	}
	if (l.src.pg != NULL)
		conn_close(&l.src);
	sb_free(&l.values);
	gen_free(&l.gen);
	config_private_passfile_remove(passfile);
	free(owned);
	free(desc);
	return l.status;
}
