/* copyout.c - a binary COPY of events read row by row; see copyout.h */
#include <stddef.h>

#include "copyout.h"
#include "pgcopy.h"

/* discard what is left of the query's results */
static void
drain(slate_conn *c)
{
	PGresult   *res;

	while ((res = PQgetResult(c->pg)) != NULL)
		PQclear(res);
}

bool
copyout_start(copyout *co, slate_conn *c, const char *sql)
{
	PGresult   *res;

	co->c = c;
	co->row = NULL;
	co->header_seen = false;
	if (!PQsendQuery(c->pg, sql))
	{
		conn_report(c, "could not start COPY", NULL);
		return false;
	}
	res = PQgetResult(c->pg);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		conn_report(c, "could not start COPY", res);
		PQclear(res);
		drain(c);
		return false;
	}
	PQclear(res);
	return true;
}

copyout_result
copyout_next(copyout *co, stream_event *e, int wait_ms)
{
	PGresult   *res;
	bool		ok;

	for (;;)
	{
		int			n,
					r;

		if (co->row != NULL)
			PQfreemem(co->row);
		co->row = NULL;
		n = PQgetCopyData(co->c->pg, &co->row, 1);
		if (n == 0)
		{
			int			w = conn_wait(co->c, wait_ms);

			if (w < 0 || !PQconsumeInput(co->c->pg))
			{
				conn_report(co->c, "lost the connection during COPY", NULL);
				return COPYOUT_FAILED;
			}
			if (w == 0)
				return COPYOUT_WAITING;
			continue;
		}
		if (n == -1)
			break;
		if (n == -2)
		{
			conn_report(co->c, "COPY failed", NULL);
			return COPYOUT_FAILED;
		}
		/* the first message carries the file header, the last one the trailer */
		r = pgcopy_parse_row(co->row, (size_t) n, &co->header_seen, e);
		if (r < 0)
			return COPYOUT_BAD_ROW;
		if (r == 1)
			return COPYOUT_ROW;
	}
	res = PQgetResult(co->c->pg);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		conn_report(co->c, "COPY failed", res);
	PQclear(res);
	drain(co->c);
	return ok ? COPYOUT_DONE : COPYOUT_FAILED;
}

void
copyout_end(copyout *co)
{
	if (co->row != NULL)
		PQfreemem(co->row);
	co->row = NULL;
}
