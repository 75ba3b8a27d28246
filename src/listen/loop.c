/* loop.c - slate-listen's connection, LISTEN and wait: a wake per burst of notifications */

/* ppoll(): wait on the socket with SIGINT/SIGTERM unblocked only while waiting */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "listen.h"
#include "log.h"
#include "signals.h"
#include "trace.h"

#define CHECK_TIMEOUT_MS 10000	/* an unanswered "SELECT 1" this old means a dead connection */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define DRAIN_ROUNDS 8			/* reads per burst before the wake goes out anyway */

/* monotonic milliseconds */
static int64_t
now_ms(void)
{
	return (int64_t) (now_s() * 1000);
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
bool
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
bool
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
	{
		/* a failure, not a stop: pipeline.sh must not take the clean exit for one */
		log_error("could not wait to reconnect: %s", strerror(errno));
		l->status = EXIT_DB;
		return false;
	}
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
void
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

