/* check.c - slate-load's start-up checks: the destination against the stream, the writer lock */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "exitcodes.h"
#include "load.h"
#include "log.h"
#include "pgcopy.h"
#include "signals.h"

/* the one warning about rows the original replicator wrote, and how to make them exact */
static void
warn_original(load *l, const char *which, uint64_t id, const events_comparison *c)
{
	if (l->original_warned || l->repair_mode)
		return;
	log_warn("destination (%s) holds events written by the original replicator: its %s "
			 "event (id %" PRIu64 ") is the source's with %s. Continuing after id %" PRIu64
			 ", byte-exact from there. To make the older rows exact too, stop the replicator "
			 "and run: slate-extract --until %" PRIu64 " SOURCE | slate-load --repair DESTINATION",
			 l->dst.desc, which, id, events_comparison_original(c), l->dest_max, l->dest_max);
	l->original_warned = true;
}

/*
 * The destination's first event against the source's: the same, or the same
 * as the original replicator wrote it (then continue, warning once), or not.
 */
static bool
check_first(load *l, const stream_header *h, const stream_event *first)
{
	events_comparison c = events_compare(&h->first, first);
	char		src_ts[48],
				dst_ts[48];

	switch (events_comparison_verdict(&c))
	{
		case MATCH_SAME:
			return true;
		case MATCH_ORIGINAL:
			if (!l->first_warned)
				warn_original(l, "first", first->id, &c);
			l->original_warned = true;
			return true;
		case MATCH_DIFFERENT:
			break;
	}
	if (!c.same_id)
	{
		log_error("destination (%s) does not start where the source does: its first event is id %" PRIu64
				  ", the source's id %" PRIu64 " (source %s)", l->dst.desc, first->id, h->first.id, h->source);
		return false;
	}
	pg_ts_format(h->first.ts, src_ts, sizeof(src_ts));
	pg_ts_format(first->ts, dst_ts, sizeof(dst_ts));
	log_error("destination (%s) holds events of another source, or altered ones: its first event (id %" PRIu64
			  ") is not the source's, even as the original replicator would have written it: %s (ts %s, "
			  "the source's %s; event %s as JSON values; source %s)",
			  l->dst.desc, first->id, events_comparison_differs(&c), dst_ts, src_ts,
			  c.event == MATCH_DIFFERENT ? "not equal" : "equal", h->source);
	return false;
}

/*
 * Keep the destination's last event, to compare with the source's when the
 * stream passes its id: the header carries only the first event, and the
 * last one is where the append continues.  One primary-key lookup.
 */
static bool
read_last(load *l)
{
	char		id[24];
	const char *params[1] = {id};

	PQclear(l->last_res);
	l->last_res = NULL;
	if (l->dest_max == 0)
		return true;
	snprintf(id, sizeof(id), "%" PRIu64, l->dest_max);
	l->last_res = PQexecParams(l->dst.pg, "SELECT ts, event FROM events WHERE id = $1", 1, NULL, params,
							   NULL, NULL, 1);
	if (PQresultStatus(l->last_res) != PGRES_TUPLES_OK || PQntuples(l->last_res) != 1)
	{
		conn_report(&l->dst, "could not read the last event", l->last_res);
		PQclear(l->last_res);
		l->last_res = NULL;
		l->status = EXIT_DB;
		return false;
	}
	l->last.id = l->dest_max;
	l->last.ts = pg_get_int64(PQgetvalue(l->last_res, 0, 0));
	/* jsonb's binary form: a version byte, then the text */
	l->last.event = PQgetvalue(l->last_res, 0, 1) + 1;
	l->last.event_len = (size_t) PQgetlength(l->last_res, 0, 1) - 1;
	return true;
}

bool
check_header(load *l, const stream_header *h)
{
	events_ends ends;
	bool		ok = true;

	/* a selection (slate-extract --since, --entity-id...) is no prefix of its source */
	if (h->filter != NULL)
	{
		log_error("stdin: the stream is a filtered extract (%s) of %s, not a prefix of the source: "
				  "it cannot be loaded into a destination; nothing of it was written", h->filter, h->source);
		l->status = EXIT_REFUSED;
		return false;
	}
	if (!events_read_ends(&l->dst, &ends))
	{
		l->status = EXIT_DB;
		return false;
	}
	if (h->source_max > l->source_max)
		l->source_max = h->source_max;
	/* the position is the destination's own max(id), read under the writer lock */
	l->dest_max = l->pos = l->committed = ends.max_id;
	if (h->source_max < ends.max_id)
	{
		log_error("destination (%s) is ahead of the source: its max id %" PRIu64
				  " exceeds the source's %" PRIu64 " (source %s)",
				  l->dst.desc, ends.max_id, h->source_max, h->source);
		ok = false;
	}
	else if (ends.has_first && !h->has_first)
	{
		log_error("destination (%s) has events but the source (%s) has none", l->dst.desc, h->source);
		ok = false;
	}
	else if (ends.has_first)
		ok = check_first(l, h, &ends.first);
	events_ends_clear(&ends);
	if (!ok)
		l->status = EXIT_REFUSED;
	else if (!l->check_only && !l->repair_mode && !read_last(l))
		ok = false;
	return ok;
}

/* the stream reached the destination's last event: it must be the source's, in either language */
bool
check_last(load *l, const stream_event *e)
{
	events_comparison c = events_compare(e, &l->last);
	events_match verdict = events_comparison_verdict(&c);

	if (verdict == MATCH_ORIGINAL)
		warn_original(l, "last", e->id, &c);
	else if (verdict == MATCH_DIFFERENT)
	{
		log_error("destination (%s): its last event (id %" PRIu64 ") is not the source's, even as the "
				  "original replicator would have written it: %s; refusing to append after it",
				  l->dst.desc, e->id, events_comparison_differs(&c));
		l->status = EXIT_REFUSED;
	}
	PQclear(l->last_res);
	l->last_res = NULL;
	return verdict != MATCH_DIFFERENT;
}

/*
 * Wait for the destination advisory lock: one writer per destination.  In
 * pg_locks a bigint key shows as classid (high 32 bits), objid (low 32 bits)
 * and objsubid 1; objsubid 2 is a pg_advisory_lock(int4, int4) with the same bits.
 */
static const char *
lock_hint(const load *l)
{
	return l->repair_mode ? " (--repair takes the writer lock too: stop the replicator first)" : "";
}

bool
take_lock(load *l)
{
	static const char *holder_sql =
		"SELECT a.pid, coalesce(a.application_name, ''), a.usename, coalesce(host(a.client_addr), 'local'), "
		"a.backend_start::timestamptz(0) FROM pg_locks k JOIN pg_stat_activity a ON a.pid = k.pid "
		"WHERE " EVENTS_WRITER_LOCKED " LIMIT 1";
	double		deadline = now_s() + l->lock_wait_s;
	PGresult   *res;

	for (;;)
	{
		bool		got;

		res = conn_exec(&l->dst, "could not take the writer lock", PGRES_TUPLES_OK,
						"SELECT pg_try_advisory_lock(" LOCK_KEY ")", 0, NULL);
		if (res == NULL)
		{
			l->status = EXIT_DB;
			return false;
		}
		got = PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (got)
			return true;
		if (stop_requested || now_s() >= deadline)
			break;
		usleep(100 * 1000);
	}
	res = PQexec(l->dst.pg, holder_sql);
	/* another role's address and start are hidden from us without pg_read_all_stats */
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetisnull(res, 0, 4))
		log_error("destination (%s) is already being written by pid %s (%s as %s); "
				  "only one writer per destination%s", l->dst.desc, PQgetvalue(res, 0, 0),
				  PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), lock_hint(l));
	else if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		log_error("destination (%s) is already being written by pid %s (%s as %s from %s, since %s); "
				  "only one writer per destination%s", l->dst.desc, PQgetvalue(res, 0, 0),
				  PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
				  PQgetvalue(res, 0, 4), lock_hint(l));
	else
		log_error("destination (%s) is already being written by another session; "
				  "only one writer per destination%s", l->dst.desc, lock_hint(l));
	PQclear(res);
	l->status = EXIT_REFUSED;
	return false;
}
