/* select.c - slate-extract's selections: --since/--before as ids, the content ones as SQL */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "extract.h"
#include "log.h"
#include "pgcopy.h"

/*
 * --since/--before as an id range, read in the extract's snapshot: from the
 * first event with ts >= since to the last with ts < before (through the
 * events_ts index).  A source transaction's events share one ts and occupy
 * consecutive ids, so both ends fall on transaction boundaries and the
 * stream is an ordinary slice of the source: a file of one day loads after
 * the day before.  Narrows *after and *until; nothing matching makes both
 * the source's max(id), an empty stream.  False with x->status set.
 */
bool
time_range(extract *x, const filter_opts *f, int64_t *after, int64_t *until)
{
	char		sql[512],
				lo[160] = "0",
				hi[160] = "(SELECT max(id) FROM events)",
				iso[PG_TS_ISO_LEN + 1];
	int64_t		ts,
				lo_id,
				hi_id,
				max_id;
	PGresult   *res;
	bool		empty;

	if (f->since != NULL && pg_ts_parse(f->since, strlen(f->since), &ts))
	{
		iso[pg_ts_format_iso(ts, iso)] = '\0';
		snprintf(lo, sizeof(lo), "(SELECT min(id) - 1 FROM events WHERE ts >= '%s')", iso);
	}
	if (f->before != NULL && pg_ts_parse(f->before, strlen(f->before), &ts))
	{
		iso[pg_ts_format_iso(ts, iso)] = '\0';
		snprintf(hi, sizeof(hi), "(SELECT max(id) FROM events WHERE ts < '%s')", iso);
	}
	snprintf(sql, sizeof(sql), "SELECT %s, %s, (SELECT coalesce(max(id), 0) FROM events)", lo, hi);
	log_debug("%s", sql);
	if ((res = conn_exec(&x->src, "could not find the --since/--before ids", PGRES_TUPLES_OK,
						 sql, 0, NULL)) == NULL)
	{
		x->status = EXIT_DB;
		return false;
	}
	empty = PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1);
	lo_id = empty ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	hi_id = empty ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	max_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	if (lo_id > *after)
		*after = lo_id;
	if (*until == 0 || hi_id < *until)
		*until = hi_id;
	if (empty || *until <= *after)
		*after = *until = max_id;
	x->last_id = (uint64_t) *after;
	log_debug("--since/--before: ids %" PRId64 "..%" PRId64, *after + 1, *until);
	return true;
}

/*
 * The SQL condition of the content selections into x->filter (NULL when
 * none was given): one clause per option, each in the very form of the
 * index slate-init-db made for it (events_event_entityid: (event #>>
 * '{entityId}'), ...) so the planner can use it; values quoted by libpq.
 * The same text is the header's "filter": the stream says what it holds.
 * False with x->status set (2 for a value the server will not take).
 */
bool
build_filter(extract *x, const filter_opts *f)
{
	const char *const keys[][2] = {
		{f->entity_id, "entityId"}, {f->entity_name, "entityName"},
		{f->operation, "operation"}, {f->property_name, "propertyName"}
	};
	char		buf[STREAM_FILTER_MAX];
	size_t		len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < 4 + 1 && len < sizeof(buf); i++)
	{
		const char *v = i < 4 ? keys[i][0] : f->contains;
		char	   *lit;

		if (v == NULL)
			continue;
		if ((lit = PQescapeLiteral(x->src.pg, v, strlen(v))) == NULL)
		{
			conn_report(&x->src, "could not quote a selection value", NULL);
			x->status = EXIT_DB;
			return false;
		}
		if (i < 4)
			len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s(event #>> '{%s}') = %s",
									 len ? " AND " : "", keys[i][1], lit);
		else
			len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%sevent @> %s::jsonb",
									 len ? " AND " : "", lit);
		PQfreemem(lit);
	}
	if (len == 0)
		return true;
	if (len >= sizeof(buf) - 1)
	{
		log_error("the selection is too long: a stream header holds at most %d bytes of it",
				  STREAM_FILTER_MAX - 1);
		x->status = EXIT_USAGE;
		return false;
	}
	if (f->contains != NULL)
	{
		const char *params[1] = {f->contains};
		PGresult   *res = PQexecParams(x->src.pg, "SELECT $1::jsonb", 1, NULL, params, NULL, NULL, 0);
		bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

		if (!ok)
		{
			char	   *nl,
					   *msg = strdup(PQresultErrorMessage(res));

			if (msg && (nl = strchr(msg, '\n')) != NULL)
				*nl = '\0';
			log_error("invalid value for --contains: %s", msg ? msg : "not JSON");
			free(msg);
			x->status = EXIT_USAGE;
		}
		PQclear(res);
		if (!ok)
			return false;
	}
	if ((x->filter = strdup(buf)) == NULL)
	{
		log_error("out of memory");
		x->status = EXIT_IO;
		return false;
	}
	log_debug("selection: %s", x->filter);
	return true;
}
