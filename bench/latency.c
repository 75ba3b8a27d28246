/*
 * latency.c - replication latency driver for bench/latency.sh (not part of make).
 *
 *	latency measure SRC DST COUNT EVENTS_PER_TXN LABEL [POLL_US]
 *		COUNT times: insert EVENTS_PER_TXN events through insert_events() in
 *		one transaction on SRC, take the time when its COMMIT has returned,
 *		then poll DST (a prepared "is this id there" query, POLL_US micro-
 *		seconds apart, default 50) until the transaction's last id is
 *		visible, and take the time again.  Prints one line: LABEL, count,
 *		p50/p90/p99/max/mean of commit-to-visible in ms, the commit's own
 *		duration (p50) and the mean poll round trip (the resolution).
 *	latency insert SRC TXN_PER_S EVENTS_PER_TXN
 *		the concurrent inserter: that many transactions per second until
 *		killed (SIGTERM).
 *
 * Events look like the ones insert_events() gets from applications: about
 * 480 bytes of JSON (cluster.bash's events_generator_sql shape).
 *
 * Build: cc -O2 -o latency bench/latency.c -I$(pg_config --includedir) -lpq
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define EVENT_SIZE 480

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void) sig;
	stop = 1;
}

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void
die(PGconn *c, const char *what)
{
	fprintf(stderr, "latency: %s: %s", what, c ? PQerrorMessage(c) : "?\n");
	exit(1);
}

static PGconn *
connect_to(const char *conninfo)
{
	PGconn	   *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		die(c, "connect");
	return c;
}

/* the VALUES list insert_events() takes: n rows of ~EVENT_SIZE bytes of JSON */
static char *
make_rows(int n, uint64_t seq)
{
	size_t		cap = (size_t) n * (EVENT_SIZE + 64) + 1;
	char	   *rows = malloc(cap),
			   *p = rows;

	for (int j = 1; j <= n; j++, seq++)
	{
		char		head[400];
		static const char *ops[] = {"created", "updated", "updated", "deleted"};
		static const char *props[] = {"name", "address", "phone", "email", "note"};
		int			len = snprintf(head, sizeof(head),
								   "{\"entityName\": \"%s\", \"entityId\": \"%" PRIx64 "\", "
								   "\"operation\": \"%s\", \"propertyName\": \"%s\", "
								   "\"value\": {\"first\": \"Name%" PRIu64 "\", \"last\": \"Surname%"
								   PRIu64 "\"}, \"metadata\": {\"initiatorId\": \"user-%" PRIu64
								   "\", \"command\": \"%s\"}, \"pad\": \"",
								   seq % 3 == 0 ? "filler" : "person",
								   (uint64_t) 3000000000u + seq / 7 * 7919, ops[seq % 4],
								   props[seq % 5], seq, seq % 97, seq % 11,
								   seq % 3 == 0 ? "Fill" : "Change person");

		p += sprintf(p, "%s($1[%d], $2, '%s", j > 1 ? ", " : "", j, head);
		for (int k = len; k < EVENT_SIZE - 2; k++)
			*p++ = "0123456789abcdef"[(seq + k) % 16];
		p += sprintf(p, "\"}')");
	}
	*p = '\0';
	return rows;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *sorted, int n, double p)
{
	int			i = (int) (p / 100.0 * n + 0.999999) - 1;	/* nearest rank */

	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* one transaction through the pipeline mode: BEGIN, insert, read the last id, COMMIT */
static uint64_t
insert_txn(PGconn *c, const char *rows)
{
	const char *params[1] = {rows};
	PGresult   *res;
	uint64_t	last = 0;
	int			i = 0;

	if (!PQenterPipelineMode(c) ||
		!PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) ||
		!PQsendQueryParams(c, "SELECT insert_events($1)", 1, NULL, params, NULL, NULL, 0) ||
		!PQsendQueryParams(c, "SELECT id - 1 FROM id", 0, NULL, NULL, NULL, NULL, 0) ||
		!PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
		!PQpipelineSync(c))
		die(c, "send");
	for (;;)
	{
		res = PQgetResult(c);
		if (res == NULL)
			continue;			/* end of one query's results */
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
		{
			PQclear(res);
			break;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
			die(c, "insert");
		if (i++ == 2)
			last = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	if (!PQexitPipelineMode(c))
		die(c, "pipeline");
	return last;
}

/*
 * With SLATE_TRACE set (the file the replicator's programs append their
 * trace marks to), line the marks up with the transactions: for each mark,
 * the first one between a transaction's INSERT and its visibility, in ms
 * after its COMMIT returned (negative: before).  Prints the median of each,
 * in the order of the path, and how many transactions had it.
 */
static const char *const marks[] = {
	"slate-listen notified", "slate-listen woke", "slate-extract woken",
	"slate-extract answered", "slate-extract sent", "slate-load boundary",
	"slate-load committed",
};
#define NMARKS (sizeof(marks) / sizeof(marks[0]))
#define MAX_TRACE 2000000

static void
hops(const char *path, const double *at, int count)
{
	FILE	   *f = fopen(path, "r");
	char		prog[64],
				what[64];
	double		sec;
	double	   *t = malloc(MAX_TRACE * sizeof(double));
	int		   *kind = malloc(MAX_TRACE * sizeof(int));
	int			n = 0,
				seen = 0;
	char		line[1024];
	size_t		len = 0;

	if (f == NULL || t == NULL || kind == NULL)
	{
		fprintf(stderr, "latency: cannot read %s\n", path);
		exit(1);
	}
	while (n < MAX_TRACE && fscanf(f, "%63s %63s %lf", prog, what, &sec) == 3)
	{
		char		name[130];

		snprintf(name, sizeof(name), "%s %s", prog, what);
		for (size_t k = 0; k < NMARKS; k++)
			if (strcmp(name, marks[k]) == 0)
			{
				t[n] = sec * 1e3;
				kind[n++] = (int) k;
			}
	}
	fclose(f);
	line[0] = '\0';
	for (size_t k = 0; k < NMARKS; k++)
	{
		double	   *d = calloc((size_t) count, sizeof(double));
		int			m = 0,
					j = 0;

		/* marks and transactions are both in time order: one pass */
		for (int i = 0; i < count; i++)
		{
			while (j < n && t[j] < at[3 * i])
				j++;
			for (int q = j; q < n && t[q] <= at[3 * i + 2]; q++)
				if (kind[q] == (int) k)
				{
					d[m++] = t[q] - at[3 * i + 1];
					break;
				}
		}
		qsort(d, (size_t) m, sizeof(double), cmp_double);
		len += snprintf(line + len, sizeof(line) - len, "%s %s %+.3f (%d)", k ? "," : "",
						strchr(marks[k], '-') + 1, m ? pct(d, m, 50) : 0.0, m);
		seen += m;
		free(d);
	}
	/* a phase whose replicator writes no marks (logical replication): no line */
	if (seen)
		printf("  hops (median ms after the source COMMIT returned):%s\n", line);
	fflush(stdout);
	free(t);
	free(kind);
}

static int
measure(int argc, char **argv)
{
	PGconn	   *src = connect_to(argv[2]),
			   *dst = connect_to(argv[3]);
	int			count = atoi(argv[4]),
				per = atoi(argv[5]);
	const char *label = argv[6];
	int			poll_us = argc > 7 ? atoi(argv[7]) : 50;
	double	   *lat = calloc(count, sizeof(double)),
			   *commit = calloc(count, sizeof(double)),
			   *at = calloc(3 * (size_t) count, sizeof(double));
	double		poll_sum = 0,
				sum = 0;
	long		polls = 0;
	PGresult   *res;

	res = PQprepare(dst, "seen", "SELECT 1 FROM events WHERE id = $1", 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(dst, "prepare");
	PQclear(res);
	for (int i = 0; i < count; i++)
	{
		char	   *rows = make_rows(per, (uint64_t) i * per);
		char		id[24];
		const char *params[1] = {id};
		double		t0 = now_ms(),
					t1,
					t2;
		uint64_t	last = insert_txn(src, rows);

		t1 = now_ms();
		snprintf(id, sizeof(id), "%" PRIu64, last);
		for (;;)
		{
			double		p0 = now_ms();
			int			seen;

			res = PQexecPrepared(dst, "seen", 1, params, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				die(dst, "poll");
			seen = PQntuples(res) == 1;
			PQclear(res);
			t2 = now_ms();
			poll_sum += t2 - p0;
			polls++;
			if (seen)
				break;
			if (t2 - t1 > 60000)
			{
				fprintf(stderr, "latency: id %s not visible after 60 s\n", id);
				exit(1);
			}
			if (poll_us > 0)
				usleep(poll_us);
		}
		lat[i] = t2 - t1;
		commit[i] = t1 - t0;
		at[3 * i] = t0;
		at[3 * i + 1] = t1;
		at[3 * i + 2] = t2;
		sum += lat[i];
		free(rows);
		usleep(2000);			/* let the replicator go idle between transactions */
	}
	qsort(lat, count, sizeof(double), cmp_double);
	qsort(commit, count, sizeof(double), cmp_double);
	printf("%-36s %5d %2d %8.3f %8.3f %8.3f %8.3f %8.3f %9.3f %7.3f\n", label, count, per,
		   pct(lat, count, 50), pct(lat, count, 90), pct(lat, count, 99), lat[count - 1],
		   sum / count, pct(commit, count, 50), poll_sum / polls);
	fflush(stdout);
	if (getenv("SLATE_TRACE") && *getenv("SLATE_TRACE"))
		hops(getenv("SLATE_TRACE"), at, count);
	PQfinish(src);
	PQfinish(dst);
	free(at);
	return 0;
}

static int
insert_loop(char **argv)
{
	PGconn	   *src = connect_to(argv[2]);
	double		rate = atof(argv[3]);
	int			per = atoi(argv[4]);
	double		next = now_ms();
	const char *params[1];
	uint64_t	seq = 1000000000;

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	while (!stop)
	{
		char	   *rows = make_rows(per, seq);
		PGresult   *res;

		params[0] = rows;
		res = PQexecParams(src, "SELECT insert_events($1)", 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK && !stop)
			die(src, "insert");
		PQclear(res);
		free(rows);
		seq += per;
		next += 1000.0 / rate;
		while (!stop && now_ms() < next)
			usleep((useconds_t) ((next - now_ms()) * 1000 > 0 ? (next - now_ms()) * 1000 : 0) + 1);
	}
	PQfinish(src);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 7 && strcmp(argv[1], "measure") == 0)
		return measure(argc, argv);
	if (argc == 5 && strcmp(argv[1], "insert") == 0)
		return insert_loop(argv);
	fprintf(stderr, "usage: latency measure SRC DST COUNT EVENTS_PER_TXN LABEL [POLL_US]\n"
			"       latency insert SRC TXN_PER_S EVENTS_PER_TXN\n");
	return 2;
}
