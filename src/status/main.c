/* slate-status - how far behind each destination is, and whether a replicator writes it, for people and monitors */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "signals.h"
#include "status.h"

#define PROG "slate-status"
#define MAX_DESTINATIONS 64
#define DEFAULT_TIMEOUT 5		/* a check run every 10 s must not hang on one server */

static void
usage(void)
{
	printf("%s reports, for each destination of a slate source, its position, how far\n"
		   "behind the source it is and whether a replicator is writing it.\n\n"
		   "Usage:\n"
		   "  %s -c CONFIG [OPTION]...\n"
		   "  %s --source=CONNINFO --destination=CONNINFO... [OPTION]...\n\n"
		   "Options:\n"
		   "  -c, --config=FILE           the replicator's configuration file, as\n"
		   "                              slate-replicator -c reads it\n"
		   "      --source=CONNINFO       the event source\n"
		   "      --destination=CONNINFO  a destination (repeat for more)\n"
		   "      --format=FORMAT         text (default; its first line is a monitoring\n"
		   "                              check's summary), json (one line per\n"
		   "                              destination) or prometheus\n"
		   "  -o, --output=FILE           write the report to FILE atomically (rename),\n"
		   "                              e.g. for node_exporter's textfile collector\n"
		   "  -i, --interval=SECONDS      report again every SECONDS, keeping the\n"
		   "                              connections open, until SIGINT or SIGTERM\n"
		   "                              (exit 0); each report then costs its queries\n"
		   "      --warn-seconds=S        WARNING when a destination is more than S\n"
		   "                              seconds behind\n"
		   "      --crit-seconds=S        CRITICAL when more than S seconds behind\n"
		   "      --warn-events=N         WARNING when more than N events behind\n"
		   "      --crit-events=N         CRITICAL when more than N events behind\n"
		   "      --crit-not-written      CRITICAL when no replicator is writing it\n"
		   "      --connect-timeout=S     give up connecting after S seconds (default %d,\n"
		   "                              or the configuration's)\n"
		   "      --log-format=FORMAT     json, text or auto, for messages on stderr\n"
		   "  -v, --verbose               more messages\n"
		   "  -V, --version               output version information, then exit\n"
		   "  -?, --help                  show this help, then exit\n\n"
		   "Seconds behind is the age of the oldest source event the destination does\n"
		   "not have yet (0 when caught up). Every figure costs an index lookup.\n\n"
		   "Exit status (monitoring plugins' convention): 0 OK, 1 WARNING, 2 CRITICAL,\n"
		   "3 UNKNOWN (a database could not be read, or a usage error).\n",
		   PROG, PROG, PROG, DEFAULT_TIMEOUT);
}

/* the destinations and settings to check, from the options or a configuration file */
typedef struct targets
{
	const char *source;
	const char *dest[MAX_DESTINATIONS];
	int			n;
	int			timeout_s;		/* from the configuration, 0 if none */
	char	   *config_text;	/* slate-config's output; the strings above point into it */
	char		workdir[PATH_MAX];	/* holds the private pgpass file, "" if none */
} targets;

/* true when conninfo carries a password, which ps would show to every user */
static bool
conninfo_has_password(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	bool		found = false;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			found = true;
	PQconninfoFree(opts);
	return found;
}

static bool
add_destination(targets *t, const char *conninfo)
{
	if (t->n == MAX_DESTINATIONS)
	{
		opt_usage_error(PROG, "at most %d destinations", MAX_DESTINATIONS);
		return false;
	}
	t->dest[t->n++] = conninfo;
	return true;
}

/* slate-config beside this program, else on PATH */
static void
config_program(char *path, size_t n)
{
	char		self[PATH_MAX - 32];
	ssize_t		len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char	   *slash;

	snprintf(path, n, "slate-config");
	if (len <= 0)
		return;
	self[len] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return;
	*slash = '\0';
	snprintf(path, n, "%s/slate-config", self);
	if (access(path, X_OK) != 0)
		snprintf(path, n, "slate-config");
}

/*
 * Read a configuration file the way slate-replicator does: slate-config
 * checks it and prints key=value lines, and writes its passwords to a 0600
 * pgpass file in a private directory, which libpq then reads (PGPASSFILE).
 * slate-config names what is wrong on stderr; returns false then.
 */
static bool
read_config(targets *t, const char *file)
{
	char		prog[PATH_MAX],
				passfile[PATH_MAX + 16];
	const char *tmp = getenv("TMPDIR");
	int			fds[2];
	pid_t		pid;
	int			status;
	FILE	   *in;
	size_t		cap = 0;
	ssize_t		len;
	struct stat st;

	snprintf(t->workdir, sizeof(t->workdir), "%s/slate-status.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(t->workdir) == NULL)
	{
		log_error("could not create a private directory in %s: %s", tmp && *tmp ? tmp : "/tmp",
				  strerror(errno));
		t->workdir[0] = '\0';
		return false;
	}
	snprintf(passfile, sizeof(passfile), "%s/pgpass", t->workdir);
	config_program(prog, sizeof(prog));
	if (pipe(fds) != 0 || (pid = fork()) < 0)
	{
		log_error("could not start %s: %s", prog, strerror(errno));
		return false;
	}
	if (pid == 0)
	{
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execlp(prog, "slate-config", "--passfile", passfile, "--", file, (char *) NULL);
		fprintf(stderr, "%s: could not run %s: %s\n", PROG, prog, strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	/* slate-config's output is a few lines: read it whole, then split it in place */
	in = fdopen(fds[0], "r");
	len = in ? getdelim(&t->config_text, &cap, '\0', in) : -1;
	if (in)
		fclose(in);
	else
		close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	for (char *line = len > 0 ? t->config_text : NULL, *next; line && *line; line = next)
	{
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strncmp(line, "source=", 7) == 0)
			t->source = line + 7;
		else if (strncmp(line, "destination=", 12) == 0 && !add_destination(t, line + 12))
			return false;
		else if (strncmp(line, "connect_timeout=", 16) == 0)
			t->timeout_s = atoi(line + 16);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || t->source == NULL || t->n == 0)
	{
		log_error("could not read the configuration file %s (see slate-config's message above)", file);
		return false;
	}
	if (stat(passfile, &st) == 0 && st.st_size > 0)
		setenv("PGPASSFILE", passfile, 1);
	return true;
}

/* remove the private pgpass file as soon as every connection is made */
static void
forget_passwords(targets *t)
{
	char		passfile[PATH_MAX + 16];

	if (t->workdir[0] == '\0')
		return;
	snprintf(passfile, sizeof(passfile), "%s/pgpass", t->workdir);
	unlink(passfile);
	rmdir(t->workdir);
	t->workdir[0] = '\0';
}

static bool
opt_seconds(const char *opt, const char *arg, double *out)
{
	char	   *end;

	errno = 0;
	*out = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(*out) || *out < 0)
	{
		opt_usage_error(PROG, "invalid value \"%s\" for --%s: must be a number of seconds, 0 or more",
						arg, opt);
		return false;
	}
	return true;
}

/*
 * Write the report to path through a temporary file in the same directory
 * and a rename, so a reader (node_exporter's textfile collector) never sees
 * half of it.
 */
static bool
report_to_file(const char *path, out_format f, const source_status *s, const dest_status *d,
			   int n, check_state worst, const thresholds *t)
{
	char		tmp[PATH_MAX];
	int			fd;
	FILE	   *out;
	bool		ok;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0)
	{
		log_error("%s: could not create a temporary file beside it: %s", path, strerror(errno));
		return false;
	}
	/* a report holds nothing secret, and the collector runs as another user */
	(void) fchmod(fd, 0644);
	if ((out = fdopen(fd, "w")) == NULL)
	{
		close(fd);
		unlink(tmp);
		return false;
	}
	ok = report(out, f, s, d, n, worst, t) && fsync(fd) == 0;
	ok = fclose(out) == 0 && ok;
	if (!ok || rename(tmp, path) != 0)
	{
		log_error("%s: could not write: %s", path, strerror(errno));
		unlink(tmp);
		return false;
	}
	return true;
}

typedef struct probe_job
{
	pthread_t	thread;
	bool		started;
	source_status *src;			/* the source's job, or NULL */
	const char *src_conninfo;
	dest_status *dest;			/* a destination's job, or NULL */
	int			timeout_s;
	bool		keep;			/* leave the destination's connection open */
} probe_job;

static void *
probe_thread(void *arg)
{
	probe_job  *j = arg;

	if (j->src)
		probe_source(j->src, j->src_conninfo, j->timeout_s);
	else
		probe_destination(j->dest, j->timeout_s, j->keep);
	return NULL;
}

/*
 * Connect to the source and every destination at once, one thread each
 * (libpq connections are independent, and log lines are written whole):
 * the answer then takes about one connection's time, not one per database,
 * and an unreachable server delays it by one connect timeout at most.  A
 * thread that cannot be started runs its probe here instead.
 */
static void
probe_all(source_status *src, const char *src_conninfo, dest_status *dest,
		  const char *const *dest_conninfo, int n, int timeout_s, bool keep)
{
	probe_job	jobs[MAX_DESTINATIONS + 1];

	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i <= n; i++)
	{
		probe_job  *j = &jobs[i];

		j->timeout_s = timeout_s;
		j->keep = keep;
		if (i == 0)
		{
			j->src = src;
			j->src_conninfo = src_conninfo;
		}
		else
		{
			j->dest = &dest[i - 1];
			j->dest->conninfo = dest_conninfo[i - 1];
		}
		j->started = pthread_create(&j->thread, NULL, probe_thread, j) == 0;
		if (!j->started)
			probe_thread(j);
	}
	for (int i = 0; i <= n; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
}

/* the figures of the last round forgotten, its connections kept */
static void
round_reset(source_status *src, dest_status *dest, int n)
{
	slate_conn	keep = src->conn;

	memset(src, 0, sizeof(*src));
	src->conn = keep;
	for (int i = 0; i < n; i++)
	{
		const char *conninfo = dest[i].conninfo;

		keep = dest[i].conn;
		memset(&dest[i], 0, sizeof(dest[i]));
		dest[i].conninfo = conninfo;
		dest[i].conn = keep;
	}
}

/*
 * One report: probe every database, judge each destination and write the
 * report.  Returns the worst state, -1 when the report could not be
 * written, or -2 when standard output's reader has gone away (with keep, a
 * pipe into head: nothing to complain of).  With keep, the connections stay
 * open for the next round.
 */
static int
check_round(const targets *t, source_status *src, dest_status *dest, int timeout, bool keep,
			const thresholds *th, out_format format, const char *output)
{
	check_state worst = STATE_OK;

	round_reset(src, dest, t->n);
	probe_all(src, t->source, dest, t->dest, t->n, timeout, keep);
	for (int i = 0; i < t->n; i++)
		probe_lag(&dest[i], src);
	if (!keep)
		conn_close(&src->conn);
	for (int i = 0; i < t->n; i++)
	{
		check_state s = judge(&dest[i], src, th);

		if (s == STATE_CRITICAL || (s == STATE_WARNING && worst != STATE_CRITICAL) ||
			(s == STATE_UNKNOWN && worst == STATE_OK))
			worst = s;
	}
	if (keep && stop_requested)
		return worst;			/* a round cut short by the stop: nothing to report */
	if (output != NULL ? !report_to_file(output, format, src, dest, t->n, worst, th)
		: !report(stdout, format, src, dest, t->n, worst, th) || fflush(stdout) != 0)
	{
		if (output == NULL && keep && errno == EPIPE)
			return -2;
		if (output == NULL)
			log_error("could not write to stdout: %s", strerror(errno));
		return -1;
	}
	return worst;
}

/* sleep until the monotonic clock reaches deadline (seconds) or a stop is asked for */
static void
pause_until(double deadline)
{
	double		left;

	/*
	 * A signal ends a sleep early, but one that comes between the check and
	 * the sleep does not: sleep in slices of 0.1 s at most, so a stop waits
	 * no longer than that.
	 */
	while (!stop_requested && (left = deadline - now_s()) > 0)
	{
		struct timespec ts;

		if (left > 0.1)
			left = 0.1;
		ts.tv_sec = 0;
		ts.tv_nsec = (long) (left * 1e9);
		nanosleep(&ts, NULL);
	}
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"config", required_argument, NULL, 'c'},
		{"source", required_argument, NULL, 's'},
		{"destination", required_argument, NULL, 'd'},
		{"format", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"warn-seconds", required_argument, NULL, 1},
		{"crit-seconds", required_argument, NULL, 2},
		{"warn-events", required_argument, NULL, 3},
		{"crit-events", required_argument, NULL, 4},
		{"crit-not-written", no_argument, NULL, 5},
		{"interval", required_argument, NULL, 'i'},
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	targets		t;
	thresholds	th = {-1, -1, -1, -1, false};
	opt_common	common = {0, LOG_FORMAT_AUTO};
	out_format	format = FORMAT_TEXT;
	const char *config = NULL,
			   *output = NULL;
	source_status src = {0};
	dest_status *dest;
	int			worst;
	double		interval = -1,	/* --interval, -1 for one report */
				next;
	int			c,
				r,
				timeout;

	/* Options; a usage error is UNKNOWN to a monitor, not CRITICAL */
	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	memset(&t, 0, sizeof(t));
	while ((c = getopt_long(argc, argv, "c:o:i:" OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'c':
				config = optarg;
				break;
			case 's':
				t.source = optarg;
				break;
			case 'd':
				if (!add_destination(&t, optarg))
					return STATE_UNKNOWN;
				break;
			case 'f':
				if (strcmp(optarg, "text") == 0)
					format = FORMAT_TEXT;
				else if (strcmp(optarg, "json") == 0)
					format = FORMAT_JSON;
				else if (strcmp(optarg, "prometheus") == 0)
					format = FORMAT_PROMETHEUS;
				else
				{
					opt_usage_error(PROG, "invalid value \"%s\" for --format: use text, json or prometheus",
									optarg);
					return STATE_UNKNOWN;
				}
				break;
			case 'o':
				output = optarg;
				break;
			case 1:
				if (!opt_seconds("warn-seconds", optarg, &th.warn_seconds))
					return STATE_UNKNOWN;
				break;
			case 2:
				if (!opt_seconds("crit-seconds", optarg, &th.crit_seconds))
					return STATE_UNKNOWN;
				break;
			case 3:
				if (!opt_int64(PROG, "warn-events", optarg, 0, INT64_MAX, &th.warn_events))
					return STATE_UNKNOWN;
				break;
			case 4:
				if (!opt_int64(PROG, "crit-events", optarg, 0, INT64_MAX, &th.crit_events))
					return STATE_UNKNOWN;
				break;
			case 5:
				th.crit_not_written = true;
				break;
			case 'i':
				if (!opt_seconds("interval", optarg, &interval))
					return STATE_UNKNOWN;
				if (interval < 0.1)
				{
					opt_usage_error(PROG, "invalid value \"%s\" for --interval: must be 0.1 seconds or more",
									optarg);
					return STATE_UNKNOWN;
				}
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r == EXIT_OK ? EXIT_OK : STATE_UNKNOWN;
				break;
		}
	}
	if (optind < argc)
	{
		opt_usage_error(PROG, "too many command-line arguments (first is \"%s\")", argv[optind]);
		return STATE_UNKNOWN;
	}
	if (config != NULL && (t.source != NULL || t.n > 0))
	{
		opt_usage_error(PROG, "use either -c CONFIG or --source/--destination");
		return STATE_UNKNOWN;
	}
	if (config == NULL && t.source == NULL)
	{
		opt_usage_error(PROG, "no source: use -c CONFIG or --source CONNINFO");
		return STATE_UNKNOWN;
	}
	if (config == NULL && t.n == 0)
	{
		opt_usage_error(PROG, "no destination: use --destination CONNINFO");
		return STATE_UNKNOWN;
	}
	for (int i = -1; config == NULL && i < t.n; i++)
	{
		if (conninfo_has_password(i < 0 ? t.source : t.dest[i]))
		{
			opt_usage_error(PROG, "a CONNINFO holds a password, which every user can read in ps: "
							"use ~/.pgpass or PGPASSWORD");
			return STATE_UNKNOWN;
		}
	}
	log_init(PROG, (enum log_format) common.log_format);
	signals_init();

	/* The configuration, read as slate-replicator reads it */
	if (config != NULL && !read_config(&t, config))
	{
		forget_passwords(&t);
		free(t.config_text);
		return STATE_UNKNOWN;
	}
	timeout = common.connect_timeout > 0 ? (int) common.connect_timeout :
		t.timeout_s > 0 ? t.timeout_s : DEFAULT_TIMEOUT;

	/* The source, then each destination against it; one unreachable hides nothing else */
	if ((dest = calloc((size_t) t.n, sizeof(*dest))) == NULL)
	{
		log_error("out of memory");
		forget_passwords(&t);
		free(t.config_text);
		return STATE_UNKNOWN;
	}
	if (interval < 0)
	{
		worst = check_round(&t, &src, dest, timeout, false, &th, format, output);
		forget_passwords(&t);
	}
	else
	{
		/*
		 * Every interval, on a fixed schedule (a slow round is not made up
		 * for); libpq may need the private pgpass file again to reconnect, so
		 * it goes only at the end.
		 */
		for (next = now_s();; next += interval)
		{
			double		t0 = now_s();

			worst = check_round(&t, &src, dest, timeout, true, &th, format, output);
			if (worst < 0 || stop_requested)
				break;
			log_debug("report made in %.3f ms", (now_s() - t0) * 1000);
			if (next + interval < now_s())
				next = now_s() - interval;
			pause_until(next + interval);
			if (stop_requested)
				break;
		}
		if (worst >= 0 || worst == -2)
			worst = EXIT_OK;	/* stopped by a signal, as asked, or its reader left */
		conn_close(&src.conn);
		for (int i = 0; i < t.n; i++)
			conn_close(&dest[i].conn);
		forget_passwords(&t);
	}
	if (worst < 0)
		worst = STATE_UNKNOWN;
	free(dest);
	free(t.config_text);
	return worst;
}
