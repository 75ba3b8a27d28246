/*
 * listen.h - what the parts of slate-listen share
 *
 * main.c parses the options and starts; loop.c holds the connection, the
 * LISTEN, the wait for notifications (ppoll with the stop signals unblocked
 * only while waiting) and the wake messages it writes.
 */
#ifndef SLATE_LISTEN_H
#define SLATE_LISTEN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "stream.h"

#define PROG "slate-listen"

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

/* loop.c */
bool		connect_and_listen(listener *l);
bool		wake(listener *l, const char *why);
void		listen_loop(listener *l);

#endif
