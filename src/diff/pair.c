/* pair.c - one statement on both databases at once, so both servers work in parallel */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "diff.h"
#include "log.h"
#include "signals.h"

/* ask the servers still busy to stop the statement; the results are dropped anyway */
static void
cancel_pending(side *const *sides, int n, const bool *done)
{
	char		err[256];

	for (int i = 0; i < n; i++)
	{
		PGcancel   *cancel;

		if (done[i] || (cancel = PQgetCancel(sides[i]->conn.pg)) == NULL)
			continue;
		if (!PQcancel(cancel, err, sizeof(err)))
			log_debug("could not cancel the statement on %s: %s", sides[i]->name, err);
		PQfreeCancel(cancel);
	}
}

/*
 * Send sql on each of the n (1 or 2) connections, then poll their sockets until
 * both are done.  res[i] gets the result of sides[i] (binary format), which the
 * caller PQclear()s.  On failure each failing side is logged once, every res[i]
 * is NULL and false is returned; a stop request also returns false, unlogged.
 */
bool
pair_query(side *const *sides, int n, const char *what, const char *sql,
		   int nparams, const char *const *params, PGresult **res)
{
	bool		done[2] = {false, false};
	bool		ok = true;
	int			left = n;

	for (int i = 0; i < n; i++)
	{
		res[i] = NULL;
		if (!PQsendQueryParams(sides[i]->conn.pg, sql, nparams, NULL, params, NULL, NULL, 1))
		{
			conn_report(&sides[i]->conn, what, NULL);
			ok = false;
			done[i] = true;
			left--;
		}
	}
	while (left > 0)
	{
		struct pollfd fds[2];
		int			nfds = 0;

		for (int i = 0; i < n; i++)
		{
			PGconn	   *pg = sides[i]->conn.pg;

			if (done[i])
				continue;
			if (!PQconsumeInput(pg))
			{
				conn_report(&sides[i]->conn, what, NULL);
				ok = false;
				done[i] = true;
				left--;
				continue;
			}
			while (!done[i] && !PQisBusy(pg))
			{
				PGresult   *r = PQgetResult(pg);

				if (r == NULL)
				{
					done[i] = true;
					left--;
				}
				else if (PQresultStatus(r) != PGRES_TUPLES_OK)
				{
					conn_report(&sides[i]->conn, what, r);
					ok = false;
					PQclear(r);
				}
				else if (res[i] == NULL)
					res[i] = r;
				else
					PQclear(r);
			}
			if (!done[i])
			{
				fds[nfds].fd = PQsocket(pg);
				fds[nfds].events = POLLIN;
				fds[nfds].revents = 0;
				nfds++;
			}
		}
		if (left == 0)
			break;
		if (stop_requested)
		{
			cancel_pending(sides, n, done);
			ok = false;
			break;
		}
		if (poll(fds, (nfds_t) nfds, 1000) < 0 && errno != EINTR)
		{
			log_error("could not wait for the databases: %s", strerror(errno));
			cancel_pending(sides, n, done);
			ok = false;
			break;
		}
	}
	if (!ok)
	{
		for (int i = 0; i < n; i++)
		{
			PQclear(res[i]);
			res[i] = NULL;
		}
	}
	return ok;
}
