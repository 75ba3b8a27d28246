/* conn.c - libpq connections that know their role and describe themselves without secrets */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "signals.h"

void
conn_one_line(char *buf, size_t n, const char *msg)
{
	size_t		p = 0;

	for (; msg && *msg && p + 3 < n; msg++)
	{
		if (*msg == '\n')
		{
			if (msg[1] == '\0')
				break;
			buf[p++] = ';';
			buf[p++] = ' ';
			while (msg[1] == ' ' || msg[1] == '\t')
				msg++;
		}
		else
			buf[p++] = *msg;
	}
	buf[p] = '\0';
}

static void
describe(slate_conn *c)
{
	const char *host = PQhost(c->pg);
	const char *port = PQport(c->pg);
	const char *db = PQdb(c->pg);
	const char *user = PQuser(c->pg);

	snprintf(c->desc, sizeof(c->desc), "host=%s port=%s dbname=%s user=%s",
			 host && *host ? host : "(default)", port && *port ? port : "(default)",
			 db ? db : "", user ? user : "");
}

/* the connect_timeout in effect (conninfo, PGCONNECT_TIMEOUT), 0 if none */
static int
conn_timeout_of(PGconn *pg)
{
	PQconninfoOption *opts = PQconninfo(pg);
	int			t = 0;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val)
			t = atoi(o->val);
	PQconninfoFree(opts);
	return t;
}

/*
 * Drive PQconnectPoll until the connection is made or fails, giving up at the
 * deadline (libpq enforces connect_timeout only when it blocks itself) or when
 * a stop is requested.  Returns false with a reason in *why on failure.
 */
static bool
connect_wait(PGconn *pg, int timeout_s, const char **why)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	double		deadline = now_s() + (timeout_s > 0 ? timeout_s : 1e9);
	while (st != PGRES_POLLING_OK)
	{
		struct pollfd p = {.fd = PQsocket(pg)};
		double		left;
		int			rc;

		if (st == PGRES_POLLING_FAILED)
			return false;
		if (stop_requested)
		{
			*why = "stopped by signal";
			return false;
		}
		left = deadline - now_s();
		if (left <= 0)
		{
			*why = "timeout expired";
			return false;
		}
		p.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		/* wake at least every 200 ms to notice a stop even if a signal was missed */
		rc = poll(&p, 1, left > 0.2 ? 200 : (int) (left * 1000) + 1);
		if (rc < 0 && errno != EINTR)
			return false;
		if (rc > 0)
			st = PQconnectPoll(pg);
	}
	return true;
}

bool
conn_open(slate_conn *c, const char *role, const char *conninfo, int timeout_s)
{
	/* keepalives find a dead peer; the caller's conninfo comes later and wins */
	const char *keys[8] = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"};
	const char *vals[8] = {"1", "10", "5", "3"};
	char		timeout[16];
	char		msg[1024];
	const char *why = NULL;
	int			k = 4;

	memset(c, 0, sizeof(*c));
	c->role = role;
	if (conninfo != NULL)
	{
		keys[k] = "dbname";
		vals[k++] = conninfo;
	}
	keys[k] = "fallback_application_name";
	vals[k++] = log_program();
	if (timeout_s > 0)
	{
		snprintf(timeout, sizeof(timeout), "%d", timeout_s);
		keys[k] = "connect_timeout";
		vals[k++] = timeout;
	}
	keys[k] = NULL;
	vals[k] = NULL;

	c->pg = PQconnectStartParams(keys, vals, 1);
	if (c->pg == NULL)
	{
		log_error("could not connect to %s: out of memory", role);
		return false;
	}
	if (PQstatus(c->pg) != CONNECTION_BAD)
		(void) connect_wait(c->pg, timeout_s > 0 ? timeout_s : conn_timeout_of(c->pg), &why);
	describe(c);
	if (PQstatus(c->pg) != CONNECTION_OK)
	{
		conn_one_line(msg, sizeof(msg), why ? why : PQerrorMessage(c->pg));
		if (why == NULL || strcmp(why, "stopped by signal") != 0)
			log_error("could not connect to %s (%s): %s", role, c->desc, msg);
		strcpy(c->sqlstate, "08001");
		PQfinish(c->pg);
		c->pg = NULL;
		return false;
	}
	return true;
}

void
conn_close(slate_conn *c)
{
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
}

const char *
conn_why(const slate_conn *c, const PGresult *res, char *buf, size_t n)
{
	const char *text = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	conn_one_line(buf, n, text ? text : PQerrorMessage(c->pg));
	if (buf[0] == '\0')
		snprintf(buf, n, "unknown error");
	return buf;
}

void
conn_report(slate_conn *c, const char *what, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *text = res ? PQresultErrorMessage(res) : "";
	char		msg[1024];

	if (text == NULL || *text == '\0')
		text = PQerrorMessage(c->pg);
	conn_one_line(msg, sizeof(msg), text);
	if (state == NULL && PQstatus(c->pg) == CONNECTION_BAD)
		state = "08006";
	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : "");
	if (msg[0] == '\0')
		snprintf(msg, sizeof(msg), "unknown error");
	if (c->sqlstate[0])
		log_error("%s %s: %s (SQLSTATE %s)", c->role, what, msg, c->sqlstate);
	else
		log_error("%s %s: %s", c->role, what, msg);
}

PGresult *
conn_exec(slate_conn *c, const char *what, ExecStatusType expect,
		  const char *sql, int nparams, const char *const *params)
{
	PGresult   *res;

	if (nparams > 0)
		res = PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
	else
		res = PQexec(c->pg, sql);
	if (res == NULL || PQresultStatus(res) != expect)
	{
		conn_report(c, what, res);
		PQclear(res);
		return NULL;
	}
	c->sqlstate[0] = '\0';
	return res;
}

bool
conn_command(slate_conn *c, const char *what, const char *sql)
{
	PGresult   *res = conn_exec(c, what, PGRES_COMMAND_OK, sql, 0, NULL);

	PQclear(res);
	return res != NULL;
}

bool
conn_lost(const slate_conn *c)
{
	return c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD ||
		strncmp(c->sqlstate, "08", 2) == 0 || strncmp(c->sqlstate, "57P0", 4) == 0;
}

int
conn_wait(slate_conn *c, int timeout_ms)
{
	struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
	int			rc;

	if (p.fd < 0)
		return -1;
	rc = poll(&p, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -1;
	return rc > 0 ? 1 : 0;
}
