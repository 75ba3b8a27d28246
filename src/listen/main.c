/* slate-listen - LISTEN on a source and write a wake message to stdout whenever there may be new events */

/* ppoll(): wait on the socket with SIGINT/SIGTERM unblocked only while waiting */
#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "signals.h"
#include "stream.h"
#include "trace.h"

#define PROG "slate-listen"
#define DEFAULT_CHANNEL "eventsinsert"
#define DEFAULT_INTERVAL_MS 5000
#define MAX_CHANNEL_LEN 63		/* NAMEDATALEN - 1: pg_notify refuses longer names */
#define CHECK_TIMEOUT_MS 10000	/* an unanswered "SELECT 1" this old means a dead connection */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define DRAIN_ROUNDS 8			/* reads per burst before the wake goes out anyway */

typedef struct listener
{
	slate_conn	src;
	stream_writer *out;
	const char *conninfo;		/* the user's; conn_open adds keepalives */
	const char *channel;
	int			connect_timeout;
	int64_t		interval_ms;
	bool		reconnect;
	int64_t		next_wake;		/* monotonic ms of the next interval wake */
	int64_t		check_sent;		/* monotonic ms the pending check was sent, 0: none */
	char		fatal[512];		/* the server's last FATAL/PANIC before it hung up */
	char		why[640];		/* why the connection counts as lost */
	sigset_t	wait_mask;		/* the signal mask while waiting: stops unblocked */
	int			status;
} listener;

/* monotonic milliseconds */
static int64_t
now_ms(void)
{
	return (int64_t) (now_s() * 1000);
}

static void
usage(void)
{
	printf("%s listens for notifications on a slate event source and writes a wake\n"
		   "message to stdout after each burst of them, and at least once per interval.\n"
		   "Pipe it into \"slate-extract --follow\".\n\n"
		   "Usage:\n  %s [OPTION]... [CONNINFO]\n\n"
		   "CONNINFO is a libpq connection string or URI; without it libpq's\n"
		   "environment (PGHOST, PGDATABASE, ~/.pgpass, services...) applies.\n\n"
		   "Options:\n"
		   "      --channel=NAME        channel to LISTEN on (default \"%s\")\n"
		   "      --poll-interval=S     write a wake at least every S seconds, e.g. 5 or\n"
		   "                            0.5, and check the connection then (default 5)\n"
		   "      --reconnect           when the connection is lost, reconnect (backing\n"
		   "                            off up to 5 s) instead of exiting\n"
		   "      --connect-timeout=S   give up connecting after S seconds\n"
		   "      --log-format=FORMAT   json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose             log each wake\n"
		   "  -V, --version             output version information, then exit\n"
		   "  -?, --help                show this help, then exit\n\n"
		   "Exit status: 0 stopped by a signal or the reader went away, 1 database\n"
		   "error or lost connection, 2 usage error, 5 output error.\n",
		   PROG, PROG, DEFAULT_CHANNEL);
}

/*
 * Parse seconds with up to three decimals ("5", "0.5", "0.25") into
 * milliseconds within [min_ms, max_ms]; prints a usage error on failure.
 */
static bool
parse_seconds(const char *opt, const char *arg, int64_t min_ms, int64_t max_ms, int64_t *out)
{
	const char *p = arg;
	int64_t		ms = 0;
	int			decimals = 0;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		ms = ms * 10 + (*p - '0');
		if (ms > max_ms)
			goto bad;
	}
	ms *= 1000;
	if (*p == '.')
	{
		int64_t		scale = 100;

		for (p++; *p >= '0' && *p <= '9'; p++, decimals++)
		{
			if (decimals == 3)
				goto bad;
			ms += (*p - '0') * scale;
			scale /= 10;
		}
		if (decimals == 0)
			goto bad;
	}
	if (*p != '\0' || ms < min_ms || ms > max_ms)
		goto bad;
	*out = ms;
	return true;

bad:
	opt_usage_error(PROG, "invalid value \"%s\" for --%s: must be a number of seconds from "
					"%" PRId64 ".%03" PRId64 " to %" PRId64 " with at most 3 decimals",
					arg, opt, min_ms / 1000, min_ms % 1000, max_ms / 1000);
	return false;
}

/*
 * Server messages outside a query.  A FATAL one (pg_terminate_backend, a
 * shutdown) explains the hang-up that follows, so it is kept for that
 * message instead of going to stderr raw, as libpq's default would.
 */
static void
on_notice(void *arg, const PGresult *res)
{
	listener   *l = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char		msg[448];

	conn_one_line(msg, sizeof(msg), PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	if (severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
		snprintf(l->fatal, sizeof(l->fatal), "%s (SQLSTATE %.5s)", msg, state ? state : "?????");
	else if (severity && strcmp(severity, "WARNING") == 0)
		log_warn("source: %s", msg);
	else
		log_debug("source: %s", msg);
}

/* fill l->why from the kept FATAL message, else res's error, else the connection's */
static void
note_loss(listener *l, const PGresult *res)
{
	char		msg[512];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (l->fatal[0])
	{
		snprintf(l->why, sizeof(l->why), "%s", l->fatal);
		return;
	}
	conn_one_line(msg, sizeof(msg), res ? PQresultErrorMessage(res) : PQerrorMessage(l->src.pg));
	if (state)
		snprintf(l->why, sizeof(l->why), "%s (SQLSTATE %.5s)", msg, state);
	else
		snprintf(l->why, sizeof(l->why), "%s", msg[0] ? msg : "connection closed");
}

/* free whatever notifications libpq has parsed; returns how many */
static int
drop_notifications(listener *l)
{
	PGnotify   *n;
	int			count = 0;

	while ((n = PQnotifies(l->src.pg)) != NULL)
	{
		PQfreemem(n);
		count++;
	}
	return count;
}

/* connect and LISTEN; logs and returns false on failure, leaving no connection open */
static bool
connect_and_listen(listener *l)
{
	char	   *ident;
	char	   *sql;
	bool		ok;

	if (!conn_open(&l->src, "source", l->conninfo, l->connect_timeout))
		return false;
	l->fatal[0] = '\0';
	l->check_sent = 0;
	PQsetNoticeReceiver(l->src.pg, on_notice, l);

	/* the channel is user text: quote it as an identifier, exact case */
	ident = PQescapeIdentifier(l->src.pg, l->channel, strlen(l->channel));
	sql = ident ? malloc(strlen(ident) + 8) : NULL;
	if (sql == NULL)
	{
		log_error("could not quote the channel name: %s", ident ? "out of memory" : PQerrorMessage(l->src.pg));
		PQfreemem(ident);
		conn_close(&l->src);
		return false;
	}
	sprintf(sql, "LISTEN %s", ident);
	ok = conn_command(&l->src, "could not LISTEN", sql);
	free(sql);
	PQfreemem(ident);
	if (!ok)
	{
		conn_close(&l->src);
		return false;
	}
	drop_notifications(l);		/* the wake that follows covers them */
	return true;
}

/* log a write failure unless the reader simply went away; returns the exit status */
static int
output_failed(void)
{
	if (errno == EPIPE)
	{
		log_debug("the reader of stdout went away");
		return EXIT_OK;
	}
	log_error("could not write to stdout: %s", strerror(errno));
	return EXIT_IO;
}

/* write and flush one wake and restart the interval; false with l->status set on failure */
static bool
wake(listener *l, const char *why)
{
	if (!stream_write_wake(l->out))
	{
		l->status = output_failed();
		return false;
	}
	l->next_wake = now_ms() + l->interval_ms;
	log_debug("wake (%s)", why);
	return true;
}

/*
 * Sleep ms milliseconds with SIGINT/SIGTERM unblocked.
 * Returns false at once when a stop is requested.
 */
static bool
pause_ms(listener *l, int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	if (ppoll(NULL, 0, &ts, &l->wait_mask) < 0 && errno != EINTR)
		return false;
	return !stop_requested;
}

/*
 * After a loss: report it, then either give up (false, l->status = EXIT_DB)
 * or reconnect with backoff, LISTEN and wake (true).  false with EXIT_OK
 * when stopped while waiting.
 */
static bool
connection_lost(listener *l)
{
	int64_t		delay = BACKOFF_FIRST_MS;

	conn_close(&l->src);
	if (!l->reconnect)
	{
		log_error("lost the connection to source (%s): %s", l->src.desc, l->why);
		l->status = EXIT_DB;
		return false;
	}
	log_warn("lost the connection to source (%s): %s; reconnecting", l->src.desc, l->why);
	for (;;)
	{
		if (!pause_ms(l, delay))
			return false;
		if (connect_and_listen(l))
			break;
		delay = delay * 2 < BACKOFF_MAX_MS ? delay * 2 : BACKOFF_MAX_MS;
	}
	log_info("reconnected; listening on channel %s at %s", l->channel, l->src.desc);
	return wake(l, "reconnected");
}

/*
 * Read what the socket has, collect the answer to a pending check and drop
 * the notifications.  Returns how many notifications there were, -1 when
 * the connection is lost (l->why says why).
 */
static int
drain(listener *l)
{
	int			count = 0;

	for (int round = 0; round < DRAIN_ROUNDS; round++)
	{
		struct pollfd p = {.fd = PQsocket(l->src.pg), .events = POLLIN};

		if (!PQconsumeInput(l->src.pg))
		{
			note_loss(l, NULL);
			return -1;
		}
		while (l->check_sent && !PQisBusy(l->src.pg))
		{
			PGresult   *res = PQgetResult(l->src.pg);

			if (res == NULL)
				l->check_sent = 0;
			else if (PQresultStatus(res) != PGRES_TUPLES_OK)
			{
				note_loss(l, res);
				PQclear(res);
				return -1;
			}
			PQclear(res);
		}
		count += drop_notifications(l);
		/* more of the burst already waiting? */
		if (p.fd < 0 || poll(&p, 1, 0) <= 0)
			break;
	}
	return count;
}

/* the main loop: wake after each burst and each quiet interval until stopped or failed */
static void
listen_loop(listener *l)
{
	while (!stop_requested)
	{
		struct pollfd fds[2];
		struct timespec ts;
		int64_t		now = now_ms();
		int64_t		deadline;
		int			n;

		if (l->check_sent && now - l->check_sent >= CHECK_TIMEOUT_MS)
		{
			snprintf(l->why, sizeof(l->why), "no answer to a check within %d s",
					 CHECK_TIMEOUT_MS / 1000);
			if (!connection_lost(l))
				return;
			continue;
		}
		if (now >= l->next_wake)
		{
			if (!wake(l, "interval"))
				return;
			/* quiet for a whole interval: make sure the server still answers */
			if (!l->check_sent)
			{
				if (!PQsendQuery(l->src.pg, "SELECT 1"))
				{
					note_loss(l, NULL);
					if (!connection_lost(l))
						return;
					continue;
				}
				l->check_sent = now;
			}
		}

		deadline = l->next_wake;
		if (l->check_sent && l->check_sent + CHECK_TIMEOUT_MS < deadline)
			deadline = l->check_sent + CHECK_TIMEOUT_MS;
		now = now_ms();
		if (deadline < now)
			deadline = now;
		ts.tv_sec = (deadline - now) / 1000;
		ts.tv_nsec = ((deadline - now) % 1000) * 1000000;
		fds[0] = (struct pollfd) {.fd = PQsocket(l->src.pg), .events = POLLIN};
		/* no events asked: only POLLERR/POLLHUP, i.e. a pipe whose reader is gone */
		fds[1] = (struct pollfd) {.fd = STDOUT_FILENO, .events = 0};

		if (ppoll(fds, 2, &ts, &l->wait_mask) < 0)
		{
			if (errno == EINTR)
				continue;
			log_error("could not wait for the source: %s", strerror(errno));
			l->status = EXIT_DB;
			return;
		}
		if (fds[1].revents & (POLLERR | POLLHUP))
		{
			log_debug("the reader of stdout went away");
			return;
		}
		if (fds[0].revents == 0)
			continue;
		n = drain(l);
		if (n < 0)
		{
			if (!connection_lost(l))
				return;
		}
		else if (n > 0)
		{
			char		why[48];

			trace_mark("notified");
			snprintf(why, sizeof(why), "%d notification%s", n, n == 1 ? "" : "s");
			if (!wake(l, why))
				return;
			trace_mark("woke");
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"channel", required_argument, NULL, 'c'},
		{"poll-interval", required_argument, NULL, 'i'},
		{"reconnect", no_argument, NULL, 'r'},
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	listener	l;
	opt_common common = {0, LOG_FORMAT_AUTO};
	int			r;
	const char *conninfo = NULL;
	sigset_t	stops;
	int			c;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	memset(&l, 0, sizeof(l));
	l.channel = DEFAULT_CHANNEL;
	l.interval_ms = DEFAULT_INTERVAL_MS;
	while ((c = getopt_long(argc, argv, OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'c':
				if (optarg[0] == '\0' || strlen(optarg) > MAX_CHANNEL_LEN)
				{
					opt_usage_error(PROG, "invalid value \"%s\" for --channel: must be 1 to %d bytes",
									optarg, MAX_CHANNEL_LEN);
					return EXIT_USAGE;
				}
				l.channel = optarg;
				break;
			case 'i':
				if (!parse_seconds("poll-interval", optarg, 10, 86400 * 1000, &l.interval_ms))
					return EXIT_USAGE;
				break;
			case 'r':
				l.reconnect = true;
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if ((r = opt_conninfo(PROG, argc, argv, &conninfo)) != OPT_GO_ON)
		return r;
	l.connect_timeout = (int) common.connect_timeout;

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	/* stops stay pending outside ppoll(), so none slips in between a check and a wait */
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &l.wait_mask);
	sigdelset(&l.wait_mask, SIGINT);
	sigdelset(&l.wait_mask, SIGTERM);

	l.out = stream_writer_new(STDOUT_FILENO);
	l.conninfo = conninfo;
	if (l.out == NULL)
	{
		log_error("out of memory");
		l.status = EXIT_IO;
		goto cleanup;
	}
	/* a first failure is a bad address or password more often than an outage: no retry */
	if (!connect_and_listen(&l))
	{
		l.status = EXIT_DB;
		goto cleanup;
	}
	log_info("listening on channel %s at %s", l.channel, l.src.desc);
	if (wake(&l, "start"))
		listen_loop(&l);
	if (stop_requested)
		log_info("stopped by signal");

cleanup:
	stream_writer_free(l.out);
	conn_close(&l.src);
	return l.status;
}
