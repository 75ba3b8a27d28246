/* batch.c - slate-load's transaction batcher: hold, spill, COPY or live INSERT, commit */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exitcodes.h"
#include "load.h"
#include "log.h"
#include "pgcopy.h"
#include "trace.h"

/*
 * Progress of a catch-up (the destination behind the newest source id we
 * know of): the share of the distance from where this run started, and the
 * time left at the run's average rate so far.  Writes "" when caught up.
 */
static void
catchup_progress(const load *l, double t, char *text, size_t text_len, char *json, size_t json_len)
{
	uint64_t	distance = l->source_max > l->dest_max ? l->source_max - l->dest_max : 0;
	uint64_t	behind = l->source_max > l->committed ? l->source_max - l->committed : 0;
	double		percent,
				rate;

	text[0] = json[0] = '\0';
	if (behind == 0 || distance == 0 || l->total == 0 || t <= l->started)
		return;
	percent = 100.0 * (double) (l->committed - l->dest_max) / (double) distance;
	rate = (double) l->total / (t - l->started);
	snprintf(text, text_len, ", %.1f%% of the catch-up, about %.0f s left", percent, behind / rate);
	snprintf(json, json_len, ",\"catchup_percent\":%.1f,\"eta_s\":%.0f", percent, behind / rate);
}

void
log_commit(load *l, bool final)
{
	double		t = now_s();
	double		span = t - l->last_log;
	uint64_t	n = l->total - l->logged_total;
	uint64_t	behind = l->source_max > l->committed ? l->source_max - l->committed : 0;
	double		lag = 0;
	char		fields[320];
	char		progress[96],
				progress_json[64];
	struct timespec wall;

	if (!final && span < 1.0)
		return;
	if (span < 1e-6)
		span = 1e-6;
	/* seconds behind: how old the newest committed event is (its source transaction's start) */
	if (l->total > 0)
	{
		int64_t		sec;
		uint32_t	nsec;

		clock_gettime(CLOCK_REALTIME, &wall);
		pg_ts_to_unix(l->last_ts, &sec, &nsec);
		lag = (double) (wall.tv_sec - sec) + ((double) wall.tv_nsec - nsec) / 1e9;
	}
	catchup_progress(l, t, progress, sizeof(progress), progress_json, sizeof(progress_json));
	snprintf(fields, sizeof(fields), "\"events\":%" PRIu64 ",\"events_per_s\":%.0f,\"position\":%"
			 PRIu64 ",\"total\":%" PRIu64 ",\"lag_events\":%" PRIu64 ",\"lag_s\":%.3f%s",
			 n, n / span, l->committed, l->total, behind, lag, progress_json);
	log_kv(LOG_INFO, fields, "%s %" PRIu64 " events (%.0f events/s), position %" PRIu64
		   ", lag %" PRIu64 " events, %.3f s%s", final ? "loaded" : "copied", n, n / span,
		   l->committed, behind, lag, progress);
	l->last_log = t;
	l->logged_total = l->total;
}

/* send bytes into the open COPY in bounded pieces, so libpq's buffer stays small */
static bool
put_copy(load *l, const char *buf, size_t len)
{
	while (len > 0)
	{
		size_t		n = len < PUT_CHUNK ? len : PUT_CHUNK;

		if (PQputCopyData(l->dst.pg, buf, (int) n) != 1)
		{
			conn_report(&l->dst, "COPY failed", NULL);
			l->status = EXIT_DB;
			return false;
		}
		buf += n;
		len -= n;
	}
	return true;
}

/*
 * A batch is one COPY run as its own transaction (autocommit): it commits when
 * the COPY completes and rolls back whole when it fails or is abandoned, which
 * saves the BEGIN and COMMIT round trips on every live batch.
 */
static bool
batch_begin(load *l)
{
	PGresult   *res;

	if (l->in_batch)
		return true;
	if (l->restore && !restore_batch_begin(l))
		return false;
	res = PQexec(l->dst.pg, "COPY events (id, ts, event) FROM STDIN (FORMAT binary)");
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		conn_report(&l->dst, "could not start COPY", res);
		PQclear(res);
		l->status = EXIT_DB;
		return false;
	}
	PQclear(res);
	l->in_batch = true;
	l->batch_events = 0;
	return put_copy(l, pgcopy_header, PGCOPY_HEADER_LEN);
}

/*
 * The COPY of a batch failed.  When the server refused a value (SQLSTATE class
 * 22: a hand-made stream's event that is not JSON, say), the input is to
 * blame: name the event, from the line of the COPY the server reports.
 */
static void
copy_failed(load *l, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *context = PQresultErrorField(res, PG_DIAG_CONTEXT);
	const char *line = context ? strstr(context, "COPY events, line ") : NULL;
	char		msg[512];

	if (state == NULL || strncmp(state, "22", 2) != 0 || line == NULL)
	{
		conn_report(&l->dst, "COPY failed", res);
		l->status = EXIT_DB;
		return;
	}
	snprintf(msg, sizeof(msg), "%s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	log_error("stdin: event %" PRIu64 " refused by the destination: %s (SQLSTATE %s); "
			  "nothing of its batch was written; last good id %" PRIu64,
			  l->committed + (uint64_t) strtoull(line + 18, NULL, 10), msg, state, l->committed);
	l->status = EXIT_INPUT;
}

/*
 * The server wrote as many rows as were sent.  A row trigger that returns
 * NULL skips rows without an error; the batch is committed by then, so say
 * exactly what happened and stop rather than go on past a hole.
 */
static bool
count_is(load *l, PGresult *res, const char *how, uint64_t n, uint64_t last)
{
	const char *rows = PQcmdTuples(res);

	if (strtoull(rows, NULL, 10) == n)
		return true;
	log_error("the destination wrote %s of the %" PRIu64 " events of its %s through id %" PRIu64
			  " (a trigger on events that skips rows?); the table is no longer a copy of the source",
			  rows[0] ? rows : "none", n, how, last);
	l->status = EXIT_REFUSED;
	return false;
}

/* the batch through l->pos is committed, by "how" (COPY or INSERT) */
static void
batch_committed(load *l, const char *how)
{
	l->total += l->batch_events;
	l->committed = l->pos;
	trace_mark("committed");
	log_debug("committed %" PRIu64 " events through id %" PRIu64 " (%s)", l->batch_events, l->committed, how);
	log_commit(l, false);
}

/* end the COPY and commit (or, with abort_reason, abandon it); false on failure */
bool
batch_end(load *l, const char *abort_reason)
{
	PGresult   *res;
	bool		ok = true;

	if (!l->in_batch)
		return true;
	l->in_batch = false;
	if (abort_reason == NULL && !put_copy(l, pgcopy_trailer, PGCOPY_TRAILER_LEN))
		return false;
	if (PQputCopyEnd(l->dst.pg, abort_reason) != 1)
	{
		conn_report(&l->dst, "could not end COPY", NULL);
		l->status = EXIT_DB;
		return false;
	}
	while ((res = PQgetResult(l->dst.pg)) != NULL)
	{
		if (abort_reason == NULL && PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			copy_failed(l, res);
			ok = false;
		}
		else if (abort_reason == NULL && !count_is(l, res, "COPY", l->batch_events, l->pos))
			ok = false;
		PQclear(res);
	}
	if (l->restore && !restore_batch_end(l, ok && abort_reason == NULL))
		ok = false;
	if (!ok || abort_reason != NULL)
	{
		l->pos = l->committed;
		return ok;
	}
	batch_committed(l, "COPY");
	return true;
}

/* the held transaction is whole: move it into the batch */
static bool
hold_flush(load *l)
{
	if (l->hold_events == 0)
	{
		l->spilled = false;
		return true;
	}
	if (!batch_begin(l) || !put_copy(l, l->hold, l->hold_len))
		return false;
	l->batch_events += l->hold_events;
	l->pos = l->hold_last;
	l->hold_len = 0;
	l->hold_events = 0;
	l->spilled = false;
	return true;
}

/* append one encoded event to the held transaction, growing the buffer */
static bool
hold_append(load *l, const stream_event *e)
{
	size_t		need = PGCOPY_EVENT_OVERHEAD + e->event_len;

	if (l->hold_len + need > l->hold_cap)
	{
		size_t		cap = l->hold_cap ? l->hold_cap : 64 * 1024;
		char	   *p;

		while (cap < l->hold_len + need)
			cap *= 2;
		if ((p = realloc(l->hold, cap)) == NULL)
		{
			log_error("out of memory holding a transaction of %" PRIu64 " events", l->hold_events);
			l->status = EXIT_IO;
			return false;
		}
		l->hold = p;
		l->hold_cap = cap;
	}
	l->hold_len += pgcopy_encode_event(l->hold + l->hold_len, e);
	l->hold_events++;
	l->hold_last = e->id;
	l->hold_ts = e->ts;
	return true;
}

/*
 * A transaction too big to hold: commit the batch before it (whole transactions),
 * then stream this one straight into a batch of its own, so a cut loses only it.
 */
static bool
spill(load *l)
{
	if (!batch_end(l, NULL))
		return false;
	log_debug("a source transaction exceeds %d bytes; streaming it", HOLD_CAP);
	if (!hold_flush(l))
		return false;
	l->spilled = true;
	return true;
}

/*
 * The live path: at an idle boundary with no COPY open, the held transaction
 * goes in as one prepared INSERT of three binary arrays, run as its own
 * transaction (autocommit).  That is one round trip where a COPY takes two
 * (its CopyInResponse, then its completion).  An array element is a length
 * and the value's binary form, exactly a field of a binary COPY row, so the
 * arrays are cut from the held rows as they are.
 */
static const char live_sql[] =
	"INSERT INTO events (id, ts, event) OVERRIDING SYSTEM VALUE "
	"SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::jsonb[])";

/*
 * The INSERT must do what the COPY does.  COPY writes an identity column's
 * values as given, hence OVERRIDING SYSTEM VALUE; COPY ignores rules, an
 * INSERT obeys them (DO INSTEAD NOTHING would drop the events), so a table
 * with rules gets COPY only.
 */
static bool
live_usable(load *l)
{
	PGresult   *res;
	char		why[512];

	if (l->live != 0)
		return l->live > 0;
	l->live = -1;
	res = PQexec(l->dst.pg, "SELECT relhasrules FROM pg_class WHERE oid = 'events'::regclass");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		log_debug("no live INSERT (%s); every batch is a COPY", conn_why(&l->dst, res, why, sizeof(why)));
	else if (strcmp(PQgetvalue(res, 0, 0), "f") != 0)
		log_info("the destination's events table has rules, which COPY ignores and an INSERT obeys: "
				 "every batch is a COPY");
	else
	{
		PQclear(res);
		res = PQprepare(l->dst.pg, "slate_live", live_sql, 0, NULL);
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			l->live = 1;
		else
			log_debug("no live INSERT (%s); every batch is a COPY", conn_why(&l->dst, res, why, sizeof(why)));
	}
	PQclear(res);
	return l->live > 0;
}

/* a one-dimensional array header: no nulls, element type oid, n elements from 1 */
static char *
array_header(char *p, uint32_t oid, uint64_t n)
{
	const uint32_t v[5] = {1, 0, oid, (uint32_t) n, 1};

	for (int i = 0; i < 5; i++, p += 4)
		pg_put_uint32(p, v[i]);
	return p;
}

/*
 * Send the held transaction as the live INSERT.  Returns 1 committed, 0 when
 * the server refused it (nothing written: the caller sends it again as a
 * COPY, whose errors name the event), -1 when the connection failed.
 */
static int
live_insert(load *l)
{
	size_t		n = l->hold_events;
	size_t		fixed = 20 + n * 12;	/* id and ts arrays: header, then length + 8 bytes */
	size_t		need = 2 * fixed + 20 + l->hold_len;
	const char *values[3];
	int			lengths[3];
	const int	formats[3] = {1, 1, 1};
	char	   *ids,
			   *tss,
			   *evs;
	const char *p = l->hold,
			   *end = l->hold + l->hold_len;
	PGresult   *res;
	int			ok;

	if (need > l->arrays_cap)
	{
		char	   *a = realloc(l->arrays, need);

		if (a == NULL)
			return 0;
		l->arrays = a;
		l->arrays_cap = need;
	}
	values[0] = l->arrays;
	values[1] = l->arrays + fixed;
	values[2] = l->arrays + 2 * fixed;
	ids = array_header(l->arrays, 20, n);	/* int8 */
	tss = array_header(l->arrays + fixed, 1184, n);	/* timestamptz */
	evs = array_header(l->arrays + 2 * fixed, 3802, n);	/* jsonb */
	while (p < end)
	{
		/* a held row: field count (2), id (4 + 8), ts (4 + 8), event (4 + len) */
		size_t		len = 4 + (size_t) pg_get_uint32(p + 26);

		memcpy(ids, p + 2, 12);
		memcpy(tss, p + 14, 12);
		memcpy(evs, p + 26, len);
		ids += 12;
		tss += 12;
		evs += len;
		p += 26 + len;
	}
	lengths[0] = lengths[1] = (int) fixed;
	lengths[2] = (int) (evs - values[2]);

	res = PQexecPrepared(l->dst.pg, "slate_live", 3, values, lengths, formats, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK ? 1 : PQstatus(l->dst.pg) == CONNECTION_OK ? 0 : -1;
	if (ok == 0)
	{
		char		why[512];

		/*
		 * Sent again as a COPY, the same rows either fail there too, naming
		 * the event, and the run ends; or they commit, and the INSERT is what
		 * this destination refuses (a trigger, a pooler that lost the
		 * statement): COPY from now on rather than a refusal per transaction.
		 */
		log_debug("the live INSERT was refused (%s); sending it as a COPY, and every batch after it",
				  conn_why(&l->dst, res, why, sizeof(why)));
		l->live = -1;
	}
	else if (ok > 0 && !count_is(l, res, "INSERT", l->hold_events, l->hold_last))
		ok = -1;
	else if (ok < 0)
	{
		conn_report(&l->dst, "INSERT failed", res);
		l->status = EXIT_DB;
	}
	PQclear(res);
	if (ok <= 0)
		return ok;
	l->batch_events = l->hold_events;
	l->pos = l->hold_last;
	l->hold_len = 0;
	l->hold_events = 0;
	batch_committed(l, "INSERT");
	return 1;
}

/* commit the open COPY batch when idle or full */
static bool
maybe_commit(load *l, bool idle)
{
	if (l->in_batch && (idle || (int64_t) l->batch_events >= l->max_per_write))
		return batch_end(l, NULL);
	return true;
}

/*
 * A boundary: the held transaction is whole.  Idle with nothing else open,
 * it goes in as the live INSERT; otherwise it joins the COPY batch, which
 * commits when idle or full.
 */
bool
batch_boundary(load *l, bool idle)
{
	if (idle && !l->in_batch && !l->restore && !l->spilled && l->hold_events > 0 &&
		l->hold_len <= LIVE_MAX && live_usable(l))
	{
		int			r = live_insert(l);

		if (r != 0)
			return r > 0;
	}
	return hold_flush(l) && maybe_commit(l, idle);
}

/*
 * The next event of the stream, past the checks of order and position: a
 * change of ts ends the held transaction; a spilled one streams on.
 */
bool
batch_event(load *l, const stream_event *e)
{
	/* a change of ts closes the source transaction before this event */
	if (l->hold_events > 0 && e->ts != l->hold_ts)
	{
		if (!hold_flush(l) || !maybe_commit(l, false))
			return false;
	}
	else if (l->spilled && e->ts != l->hold_ts)
	{
		l->spilled = false;
		if (!maybe_commit(l, false))
			return false;
	}
	if (l->spilled)
	{
		char		row[PGCOPY_EVENT_OVERHEAD];

		/* encode the fixed part, then send the text without copying it */
		stream_event head = *e;

		head.event_len = 0;
		pgcopy_encode_event(row, &head);
		pg_put_uint32(row + 26, (uint32_t) (e->event_len + 1));
		if (!put_copy(l, row, sizeof(row)) || !put_copy(l, e->event, e->event_len))
			return false;
		l->batch_events++;
		l->pos = e->id;
		l->hold_ts = e->ts;
		l->last_ts = e->ts;
		return true;
	}
	if (!hold_append(l, e))
		return false;
	l->last_ts = e->ts;
	if (l->hold_len > HOLD_CAP)
		return spill(l);
	return true;
}

/* the stream is damaged or cut: keep the whole transactions, drop the rest */
void
batch_salvage(load *l)
{
	if (l->spilled)
		batch_end(l, "the stream ended inside a source transaction");
	else if (l->in_batch)
		batch_end(l, NULL);
	if (l->committed > l->dest_max || l->hold_events > 0)
		log_info("kept whole transactions through id %" PRIu64 "; discarded %" PRIu64
				 " events of an incomplete one", l->committed, l->hold_events);
	l->hold_events = 0;
	l->hold_len = 0;
}

/* an end marker: the held transaction is whole; commit everything */
bool
batch_finish(load *l)
{
	return hold_flush(l) && batch_end(l, NULL);
}
