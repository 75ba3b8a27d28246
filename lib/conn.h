/* conn.h - libpq connections that know their role and describe themselves without secrets */
#ifndef SLATE_CONN_H
#define SLATE_CONN_H

#include <stdbool.h>
#include <libpq-fe.h>

typedef struct slate_conn
{
	PGconn	   *pg;
	const char *role;			/* "source", "destination", ... for messages */
	char		desc[256];		/* host=... port=... dbname=... user=...; never a password */
	char		sqlstate[6];	/* of the last failure, "" if none */
} slate_conn;

/*
 * Connect with conninfo (a libpq string or URI; NULL means libpq's environment).
 * timeout_s > 0 sets connect_timeout.  Logs one error and returns false on failure.
 */
bool conn_open(slate_conn *c, const char *role, const char *conninfo, int timeout_s);
void conn_close(slate_conn *c);

/*
 * Run sql (with optional text parameters) and expect status; on failure log
 * "<role> <what>: <message> (SQLSTATE xxxxx)" once, remember the SQLSTATE,
 * clear the result and return NULL.  The caller PQclear()s a good result.
 */
PGresult *conn_exec(slate_conn *c, const char *what, ExecStatusType expect,
					const char *sql, int nparams, const char *const *params);
/* same, for a command whose result is not needed */
bool conn_command(slate_conn *c, const char *what, const char *sql);

/* log the error carried by res (or the connection) for "what" and record the SQLSTATE */
void conn_report(slate_conn *c, const char *what, const PGresult *res);

/* the primary message of res's error (without one, the connection's) as one line in buf; returns buf */
const char *conn_why(const slate_conn *c, const PGresult *res, char *buf, size_t n);

/* copy a libpq message (NULL: none) into buf as one line: newlines become "; ", a trailing one is dropped */
void conn_one_line(char *buf, size_t n, const char *msg);

/* true when the last failure means the connection is gone (SQLSTATE class 08 or bad status) */
bool conn_lost(const slate_conn *c);

/*
 * Wait until the socket is readable or timeout_ms passes (-1: forever),
 * giving up early when a stop is requested.  Returns 1 readable, 0 timeout/stop, -1 error.
 */
int conn_wait(slate_conn *c, int timeout_ms);

#endif
