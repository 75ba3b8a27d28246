/*
 * copyout.h - read "COPY (SELECT id, ts, event ...) TO STDOUT (FORMAT binary)"
 * one event at a time
 *
 * The rows come in as libpq delivers them, without blocking, so the caller
 * can look at its signals between them.  Failures are logged once, with the
 * connection's role, as conn_report does.
 */
#ifndef SLATE_COPYOUT_H
#define SLATE_COPYOUT_H

#include <stdbool.h>

#include "conn.h"
#include "stream.h"

typedef struct copyout
{
	slate_conn *c;
	char	   *row;			/* libpq's buffer of the last row, freed by the next call */
	bool		header_seen;
} copyout;

typedef enum copyout_result
{
	COPYOUT_ROW,				/* *e is the next event, valid until the next call */
	COPYOUT_DONE,				/* the COPY completed */
	COPYOUT_WAITING,			/* no row within the wait (or a stop was requested) */
	COPYOUT_BAD_ROW,			/* a row this program cannot read (not logged) */
	COPYOUT_FAILED				/* the COPY or the connection failed (logged) */
} copyout_result;

/* send sql and wait for the COPY to begin; false (logged) when it does not */
bool		copyout_start(copyout *co, slate_conn *c, const char *sql);

/* the next event, waiting up to wait_ms for it */
copyout_result copyout_next(copyout *co, stream_event *e, int wait_ms);

/* release the last row; after COPYOUT_DONE or a failure, nothing else is pending */
void		copyout_end(copyout *co);

#endif
