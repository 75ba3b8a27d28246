/* slate-diff - compare (and validate) the events tables of two databases without copying them */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "diff.h"
#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "signals.h"
#include "version.h"

#define PROG "slate-diff"
/* problems shown per table by --validate unless --max-diffs says otherwise */
#define VALIDATE_SHOWN 100

static void
usage(void)
{
	printf("%s compares the events tables of two databases.\n\n"
		   "Usage:\n  %s [OPTION]... CONNINFO_A CONNINFO_B\n"
		   "  %s --validate [OPTION]... CONNINFO_A [CONNINFO_B]\n"
		   "  %s -c FILE [OPTION]... [CONNINFO_A [CONNINFO_B]]\n\n"
		   "Each server checksums its own table in ranges of ids, both at once; only\n"
		   "ranges that differ are narrowed down to rows.  The report on stdout gives\n"
		   "row counts, first and last ids, holes, whether the first events match,\n"
		   "then one line per differing id, and ends with \"equal\" or \"N differences\".\n"
		   "The comparison is exact; rows that differ only as the original replicator\n"
		   "wrote them (ts cut to the millisecond, JSON numbers re-serialised) are\n"
		   "named and counted as such.\n\n"
		   "Options:\n"
		   "  -c, --config=FILE         the original eventsDiff's config file: the tables\n"
		   "                            of events1Params and events2Params (unless\n"
		   "                            CONNINFOs are given), maxDiffs, connectTimeout;\n"
		   "                            options given here win (--config-filename too)\n"
		   "      --json-equal          compare as the original eventsDiff did: ts to the\n"
		   "                            millisecond, events as JSON values (numbers as\n"
		   "                            JavaScript reads them)\n"
		   "      --max-diffs=N         stop after N differing ids\n"
		   "      --validate            check each table as slate-loadgen writes it: ids\n"
		   "                            from 1, complete insert groups, ts order\n"
		   "      --connect-timeout=S   give up connecting after S seconds\n"
		   "      --log-format=FORMAT   json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose             log each step\n"
		   "  -V, --version             output version information, then exit\n"
		   "  -?, --help                show this help, then exit\n\n"
		   "Exit status: 0 equal (and valid), 1 different (or invalid), 2 trouble\n"
		   "(bad options, unreachable database, missing table, stopped).\n",
		   PROG, PROG, PROG, PROG);
}

/*
 * -c FILE: read the eventsDiff config; fill in the connections the command
 * line did not give (malloced into owned[]) and the settings it did not set.
 * Its passwords go to a private pgpass file (*passfile) named in those
 * conninfos, never argv.  Returns false after printing what is wrong.
 */
static bool
apply_config(const char *path, int nargs, const char **conninfo, char **owned,
			 int64_t *max_diffs, opt_common *common, char **passfile)
{
	struct config cfg;
	const struct config_conn *conns[2];
	bool		ok = false;

	if (config_load(PROG, CONFIG_EVENTS_DIFF, path, &cfg) != 0)
		return false;
	conns[0] = &cfg.source;
	conns[1] = &cfg.dests[0];
	if (*max_diffs == 0)
		*max_diffs = cfg.max_diffs;
	if (common->connect_timeout == 0)
		common->connect_timeout = (cfg.connect_timeout_ms + 999) / 1000;
	if (nargs < 2 && !config_private_passfile(PROG, &cfg, passfile))
		goto cleanup;
	for (int i = nargs; i < 2; i++)
	{
		if ((owned[i] = config_conninfo_passfile(conns[i], *passfile)) == NULL)
		{
			fprintf(stderr, "%s: out of memory\n", PROG);
			goto cleanup;
		}
		conninfo[i] = owned[i];
	}
	ok = true;
cleanup:
	config_free(&cfg);
	return ok;
}

/*
 * Connect one side and read its ends (min, max, first event) in a repeatable-read
 * snapshot that every later statement on it shares.
 */
static bool
open_side(side *s, const char *name, const char *conninfo, int timeout)
{
	s->name = name;
	if (!conn_open(&s->conn, name, conninfo, timeout))
		return false;
	if (!conn_command(&s->conn, "could not start a transaction",
					  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") ||
		!conn_command(&s->conn, "could not set the time zone", "SET LOCAL TimeZone = 'UTC'") ||
		!events_read_ends(&s->conn, &s->ends))
		return false;
	s->empty = !s->ends.has_first;
	if (!s->empty)
	{
		s->min_id = (int64_t) s->ends.first.id;
		s->max_id = (int64_t) s->ends.max_id;
	}
	log_debug("%s: %s, ids %" PRId64 "-%" PRId64, name, s->conn.desc, s->min_id, s->max_id);
	return true;
}

static void
print_holes(const side *s)
{
	uint64_t	missing = s->empty ? 0 : (uint64_t) s->max_id - (uint64_t) s->min_id + 1 - s->rows;
	uint64_t	shown = 0;

	if (missing == 0)
	{
		printf("holes: %s none\n", s->name);
		return;
	}
	printf("holes: %s %" PRIu64 " missing id%s:", s->name, missing, missing == 1 ? "" : "s");
	for (int i = 0; i < s->nholes; i++)
	{
		if (s->holes[i].lo == s->holes[i].hi)
			printf("%s %" PRId64, i ? "," : "", s->holes[i].lo);
		else
			printf("%s %" PRId64 "-%" PRId64, i ? "," : "", s->holes[i].lo, s->holes[i].hi);
		shown += (uint64_t) (s->holes[i].hi - s->holes[i].lo) + 1;
	}
	printf("%s\n", shown < missing ? ", ..." : "");
}

/* the summary lines before the differences */
static void
print_summary(const diff_state *d)
{
	const side *a = &d->s[0],
			   *b = &d->s[1];

	printf("A: %s\nB: %s\n", a->conn.desc, b->conn.desc);
	printf("rows: A %" PRIu64 ", B %" PRIu64 "\n", a->rows, b->rows);
	for (int i = 0; i < 2; i++)
	{
		if (d->s[i].empty)
			printf("%s %s none", i ? "," : "ids:", d->s[i].name);
		else
			printf("%s %s %" PRId64 "-%" PRId64, i ? "," : "ids:", d->s[i].name,
				   d->s[i].min_id, d->s[i].max_id);
	}
	putchar('\n');
	print_holes(a);
	print_holes(b);
	if (a->empty && b->empty)
		printf("first event: both tables empty\n");
	else if (a->empty || b->empty)
		printf("first event: only in %s\n", a->empty ? "B" : "A");
	else if (a->min_id != b->min_id)
		printf("first event: differs (id %" PRId64 " in A, id %" PRId64 " in B)\n", a->min_id, b->min_id);
	else
	{
		const stream_event *fa = &a->ends.first,
				   *fb = &b->ends.first;
		events_match ts = diff_ts_match(d, fa->ts, fb->ts);
		events_match ev = diff_event_match(d, fa->event, fa->event_len, fb->event, fb->event_len);

		if (ts == MATCH_SAME && ev == MATCH_SAME)
			printf("first event: same (id %" PRId64 ")\n", a->min_id);
		else if (ts != MATCH_DIFFERENT && ev != MATCH_DIFFERENT)
			printf("first event: as the original replicator wrote it (id %" PRId64 ")\n", a->min_id);
		else
			printf("first event: differs (id %" PRId64 ")\n", a->min_id);
	}
}

/* how many of the differences are only the original replicator's precision, for the last line */
static const char *
original_note(const diff_state *d)
{
	static char note[256];

	if (d->original == 0)
		return "";
	if (d->original == d->diffs)
		snprintf(note, sizeof(note), ", all as the original replicator wrote them (equal in its terms: "
				 "--json-equal; made exact by slate-load --repair)");
	else
		snprintf(note, sizeof(note), ": %" PRIu64 " as the original replicator wrote them, %" PRIu64
				 " other%s", d->original, d->diffs - d->original, d->diffs - d->original == 1 ? "" : "s");
	return note;
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"max-diffs", required_argument, NULL, 'm'},
		{"validate", no_argument, NULL, 'a'},
		{"validate-tables", no_argument, NULL, 'a'},
		{"config", required_argument, NULL, 'c'},
		{"config-filename", required_argument, NULL, 'c'},
		{"json-equal", no_argument, NULL, 'j'},
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	diff_state *d;
	side	   *sides[2];
	int64_t		max_diffs = 0;
	bool		validate = false;
	bool		json_equal = false;
	opt_common common = {0, LOG_FORMAT_AUTO};
	int			r;
	const char *conninfo[2] = {NULL, NULL};
	const char *config_path = NULL;
	char	   *owned[2] = {NULL, NULL};
	char	   *passfile = NULL;
	int			nsides,
				status = DIFF_TROUBLE;
	uint64_t	problems = 0;
	int			c;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	while ((c = getopt_long(argc, argv, "c:" OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'm':
				if (!opt_int64(PROG, "max-diffs", optarg, 1, INT64_MAX, &max_diffs))
					return DIFF_TROUBLE;
				break;
			case 'a':
				validate = true;
				break;
			case 'c':
				config_path = optarg;
				break;
			case 'j':
				json_equal = true;
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	nsides = argc - optind;
	if (nsides > 2)
	{
		opt_usage_error(PROG, "too many command-line arguments (first is \"%s\")", argv[optind + 2]);
		return DIFF_TROUBLE;
	}
	for (int i = 0; i < nsides; i++)
		conninfo[i] = argv[optind + i];
	if (config_path != NULL)
	{
		if (!apply_config(config_path, nsides, conninfo, owned, &max_diffs, &common, &passfile))
		{
			config_private_passfile_remove(passfile);
			free(owned[0]);
			free(owned[1]);
			return DIFF_TROUBLE;
		}
		nsides = 2;
	}
	if (nsides < (validate ? 1 : 2))
	{
		opt_usage_error(PROG, validate ? "no database given" : "two databases are needed");
		return DIFF_TROUBLE;
	}

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	if ((d = calloc(1, sizeof(*d))) == NULL)
	{
		log_error("out of memory");
		config_private_passfile_remove(passfile);
		return DIFF_TROUBLE;
	}
	d->max_diffs = max_diffs;
	d->json_equal = json_equal;
	d->tty = isatty(STDERR_FILENO);
	sides[0] = &d->s[0];
	sides[1] = &d->s[1];

	if (!open_side(&d->s[0], "A", conninfo[0], (int) common.connect_timeout) ||
		(nsides > 1 && !open_side(&d->s[1], "B", conninfo[1], (int) common.connect_timeout)))
		goto cleanup;
	/* connected: libpq needs the passwords no more */
	config_private_passfile_remove(passfile);
	passfile = NULL;

	if (validate && !validate_tables(sides, nsides, max_diffs > 0 ? max_diffs : VALIDATE_SHOWN, &problems))
		goto cleanup;
	if (nsides == 1)
	{
		if (problems == 0)
			printf("valid\n");
		else
			printf("%" PRIu64 " problem%s\n", problems, problems == 1 ? "" : "s");
		status = problems > 0 ? DIFF_DIFFERENT : DIFF_EQUAL;
		goto cleanup;
	}

	if (!compare_checksums(d) || !locate_holes(&d->s[0]) || !locate_holes(&d->s[1]))
		goto cleanup;
	print_summary(d);
	if (!report_differences(d))
		goto cleanup;
	if (d->diffs == 0)
		printf("equal%s\n", json_equal ? " (as the original eventsDiff compares)" : "");
	else
		printf("%" PRIu64 " difference%s%s%s\n", d->diffs, d->diffs == 1 ? "" : "s",
			   original_note(d), d->limit_reached ? " (stopped by --max-diffs; there may be more)" : "");
	status = d->diffs > 0 || problems > 0 ? DIFF_DIFFERENT : DIFF_EQUAL;

cleanup:
	if (stop_requested)
	{
		log_error("stopped by signal before the comparison was complete");
		status = DIFF_TROUBLE;
	}
	if (fflush(stdout) != 0 || ferror(stdout))
	{
		log_error("could not write the report to stdout");
		status = DIFF_TROUBLE;
	}
	for (int i = 0; i < 2; i++)
	{
		events_ends_clear(&d->s[i].ends);
		conn_close(&d->s[i].conn);
	}
	free(d->items);
	free(d);
	config_private_passfile_remove(passfile);
	free(owned[0]);
	free(owned[1]);
	return status;
}
