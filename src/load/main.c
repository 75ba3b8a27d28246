/* slate-load - append a slate msgpack stream from stdin to a destination events table */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "events.h"
#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "pgcopy.h"
#include "repair.h"
#include "signals.h"
#include "stream.h"
#include "trace.h"
#include "version.h"

#define PROG "slate-load"
#define MAX_MESSAGE (256 * 1024 * 1024)	/* a jsonb value is at most 255 MB */
#define HOLD_CAP (4 * 1024 * 1024)		/* held-back transaction bytes before spilling */
#define PUT_CHUNK (64 * 1024)
#define LIVE_MAX (256 * 1024)	/* held bytes a live INSERT takes; above it, COPY */
#define LOCK_KEY EVENTS_WRITER_LOCK_KEY	/* advisory lock: one writer per destination */

typedef struct load
{
	slate_conn	dst;
	stream_reader *in;
	int64_t		max_per_write;
	int			lock_wait_s;
	bool		sync_commit;
	bool		check_only;		/* validate against the header, write nothing */
	bool		repair_mode;	/* --repair: rewrite the original's rows, append nothing */
	bool		first_warned;	/* --no-original-warning: the start-up check reported the first event */
	bool		original_warned;	/* the original's rows have been reported */
	repair	   *rep;
	/* the destination's last event, compared when the stream passes its id */
	PGresult   *last_res;
	stream_event last;

	uint64_t	dest_max;		/* destination max(id) when we started */
	uint64_t	pos;			/* last id committed or in the open batch */
	uint64_t	committed;		/* last id committed */
	uint64_t	stream_prev;	/* last id read from the stream, 0 before the first */
	uint64_t	stream_after;	/* the header's after: where the stream starts */
	uint64_t	stream_count;	/* events read since the current header */
	bool		have_header;
	bool		ended;			/* an end marker was read */

	bool		in_batch;		/* a transaction with an open COPY */
	uint64_t	batch_events;
	int			live;			/* the prepared live INSERT: 0 not yet, 1 ready, -1 off */
	char	   *arrays;			/* its three parameters, built from the held rows */
	size_t		arrays_cap;

	/* the current source transaction, held back until we know it is whole */
	char	   *hold;
	size_t		hold_len,
				hold_cap;
	uint64_t	hold_events;
	uint64_t	hold_last;
	int64_t		hold_ts;
	bool		spilled;		/* it outgrew HOLD_CAP and goes straight into the batch */

	uint64_t	source_max;		/* newest source id we know of (header, boundaries) */
	uint64_t	total;			/* events committed */
	int64_t		last_ts;		/* ts of the last committed event */
	double		started,
				last_log;
	uint64_t	logged_total;
	int			status;

	/* --restore: the target is a source; see restore_check */
	bool		restore;
	PGresult   *restore_last;	/* the target's last event before we began, or NULL */
} load;


static void
usage(void)
{
	printf("%s appends a slate msgpack event stream from stdin to a destination.\n\n"
		   "Usage:\n  %s [OPTION]... [CONNINFO]\n\n"
		   "CONNINFO is a libpq connection string or URI; without it libpq's\n"
		   "environment (PGHOST, PGDATABASE, ~/.pgpass, services...) applies.\n\n"
		   "Options:\n"
		   "      --max-events-per-write=N  commit once a batch holds N events, at the next\n"
		   "                                transaction boundary (default 10000)\n"
		   "      --synchronous-commit=on|off  for the load session (default off: a lost\n"
		   "                                tail is copied again, see README)\n"
		   "      --restore                 fill an event source (made by sql/ or the original\n"
		   "                                slate-init-db) from a replica's stream, keeping\n"
		   "                                its id table at max(id) + 1 in every batch\n"
		   "      --check                   validate the destination against the stream's\n"
		   "                                header (and its ids for holes), then exit\n"
		   "                                without writing\n"
		   "      --repair                  rewrite the rows the original replicator wrote\n"
		   "                                (ts cut to the millisecond, JSON numbers\n"
		   "                                re-serialised) to the stream's exact bytes;\n"
		   "                                refuse any row that differs otherwise; append\n"
		   "                                nothing.  Takes the writer lock: stop the\n"
		   "                                replicator first.  Rerun to resume after a kill\n"
		   "      --no-original-warning     do not warn about the original replicator's rows\n"
		   "                                (pipeline.sh's start-up check already did)\n"
		   "      --position                print the destination's max(id) (0: empty),\n"
		   "                                where a slate-consume for it starts, and exit\n"
		   "      --lock-wait=S             wait up to S seconds for another writer of the\n"
		   "                                destination to go away (default 10)\n"
		   "      --connect-timeout=S       give up connecting after S seconds\n"
		   "      --log-format=FORMAT       json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose                 log every commit\n"
		   "  -V, --version                 output version information, then exit\n"
		   "  -?, --help                    show this help, then exit\n\n"
		   "Exit status: 0 done or stopped, 1 database error, 2 usage error,\n"
		   "3 bad input stream, 4 refused (gap, other source, destination ahead, locked,\n"
		   "--repair: a row that differs beyond the original's precision),\n"
		   "5 stdin could not be read.\n",
		   PROG, PROG);
}

static bool maybe_commit(load *l, bool idle);
static bool restore_check(load *l);
static bool restore_batch_begin(load *l);
static bool restore_batch_end(load *l, bool commit);
static bool restore_same_last(load *l, const stream_event *e);

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

static void
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
static bool
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
	"INSERT INTO events (id, ts, event) "
	"SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::jsonb[])";

static bool
live_usable(load *l)
{
	PGresult   *res;

	if (l->live == 0)
	{
		res = PQprepare(l->dst.pg, "slate_live", live_sql, 0, NULL);
		l->live = PQresultStatus(res) == PGRES_COMMAND_OK ? 1 : -1;
		if (l->live < 0)
			log_debug("no live INSERT (%s); every batch is a COPY",
					  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		PQclear(res);
	}
	return l->live > 0;
}

/* a one-dimensional array header: no nulls, element type oid, n elements from 1 */
static char *
array_header(char *p, uint32_t oid, uint64_t n)
{
	const uint32_t v[5] = {1, 0, oid, (uint32_t) n, 1};

	for (int i = 0; i < 5; i++, p += 4)
	{
		p[0] = (char) (v[i] >> 24);
		p[1] = (char) (v[i] >> 16);
		p[2] = (char) (v[i] >> 8);
		p[3] = (char) v[i];
	}
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
		size_t		len = 4 + (((size_t) (unsigned char) p[26] << 24) | ((size_t) (unsigned char) p[27] << 16) |
							   ((size_t) (unsigned char) p[28] << 8) | (size_t) (unsigned char) p[29]);

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
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		log_debug("the live INSERT was refused (%s); sending it as a COPY",
				  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		/* the statement is gone (a pooler between us and the server): COPY from now on */
		if (state != NULL && strcmp(state, "26000") == 0)
			l->live = -1;
	}
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

/*
 * A boundary: the held transaction is whole.  Idle with nothing else open,
 * it goes in as the live INSERT; otherwise it joins the COPY batch, which
 * commits when idle or full.
 */
static bool
boundary(load *l, bool idle)
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

static bool
maybe_commit(load *l, bool idle)
{
	if (l->in_batch && (idle || (int64_t) l->batch_events >= l->max_per_write))
		return batch_end(l, NULL);
	return true;
}

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

static bool
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
static bool
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

/* ids within a stream rise by exactly 1; count the event */
static bool
stream_order_ok(load *l, stream_reader *in, const stream_event *e)
{
	if (l->stream_prev != 0 && e->id != l->stream_prev + 1)
	{
		log_error("stdin: byte offset %" PRIu64 ": event id %" PRIu64 " follows id %" PRIu64
				  " (ids must rise by 1); last good id %" PRIu64,
				  stream_reader_offset(in), e->id, l->stream_prev, l->stream_prev);
		l->status = EXIT_INPUT;
		return false;
	}
	l->stream_prev = e->id;
	l->stream_count++;
	return true;
}

static bool
on_event(load *l, stream_reader *in, const stream_event *e)
{
	uint64_t	accepted = l->hold_events > 0 ? l->hold_last : l->pos;

	if (!stream_order_ok(l, in, e))
		return false;
	/* a restore target is a source: its last event must be the stream's exactly */
	if (l->restore && e->id == l->dest_max && !restore_same_last(l, e))
		return false;
	if (e->id <= accepted)		/* already there: replays and overlaps are harmless */
		return l->last_res == NULL || e->id != l->last.id || check_last(l, e);
	if (e->id != accepted + 1)
	{
		log_error("gap: the stream's next event is id %" PRIu64 " but the destination (%s) ends at id %"
				  PRIu64 "; ids %" PRIu64 "..%" PRIu64 " are missing", e->id, l->dst.desc,
				  accepted, accepted + 1, e->id - 1);
		l->status = EXIT_REFUSED;
		return false;
	}
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
		row[26] = (char) ((e->event_len + 1) >> 24);
		row[27] = (char) ((e->event_len + 1) >> 16);
		row[28] = (char) ((e->event_len + 1) >> 8);
		row[29] = (char) (e->event_len + 1);
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
static void
salvage(load *l)
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

static bool
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

/* read and apply the stream; returns when it ends, fails or a stop is requested */
static void
run(load *l)
{
	stream_msg	m;

	for (;;)
	{
		stream_read_result r = stream_read(l->in, &m);

		if (r == STREAM_STOP || (r != STREAM_MSG && stop_requested))
		{
			batch_end(l, "stopped by signal");
			if (l->repair_mode)
				log_info("stopped by signal; the batch under way was not changed; rerun to resume");
			else
				log_info("stopped by signal; committed through id %" PRIu64, l->committed);
			return;
		}
		if (r == STREAM_EOF)
		{
			if (l->ended && l->rep != NULL)
				l->status = repair_finish(l->rep);
			if (l->ended)
				return;
			log_error("stdin: byte offset %" PRIu64 ": the stream ends without an end marker (cut?); "
					  "last good id %" PRIu64, stream_reader_offset(l->in), l->stream_prev);
			l->status = EXIT_INPUT;
			salvage(l);
			return;
		}
		if (r == STREAM_ERROR)
		{
			log_error("%s; last good id %" PRIu64, stream_reader_error(l->in), l->stream_prev);
			l->status = stream_reader_read_failed(l->in) ? EXIT_IO : EXIT_INPUT;
			salvage(l);
			return;
		}
		if (!l->have_header && m.type != MSG_HEADER)
		{
			log_error("stdin: byte offset %" PRIu64 ": expected a header, got %s",
					  stream_reader_offset(l->in), stream_msg_type_name(m.type));
			l->status = EXIT_INPUT;
			salvage(l);
			return;
		}
		switch (m.type)
		{
			case MSG_HEADER:
				if (l->have_header && !l->ended)
				{
					log_error("stdin: byte offset %" PRIu64 ": a header in the middle of a stream",
							  stream_reader_offset(l->in));
					l->status = EXIT_INPUT;
					salvage(l);
					return;
				}
				/* a later header starts a concatenated stream: check it too */
				if (!batch_end(l, NULL) || !check_header(l, &m.hdr))
					return;
				if (l->check_only)
				{
					log_info("destination (%s) is valid for source %s", l->dst.desc, m.hdr.source);
					return;
				}
				if (l->repair_mode && l->rep == NULL &&
					(l->rep = repair_new(&l->dst, l->dest_max, l->max_per_write)) == NULL)
				{
					l->status = EXIT_IO;
					return;
				}
				l->have_header = true;
				l->ended = false;
				l->stream_prev = 0;
				l->stream_after = m.hdr.after;
				l->stream_count = 0;
				log_debug("reading a stream from %s (%s) after id %" PRIu64,
						  m.hdr.source, m.hdr.producer, m.hdr.after);
				break;
			case MSG_EVENT:
				if (l->repair_mode && !l->ended)
				{
					if (!stream_order_ok(l, l->in, &m.ev))
						return;
					if ((l->status = repair_event(l->rep, &m.ev)) != EXIT_OK)
						return;
					break;
				}
				if (l->ended || !on_event(l, l->in, &m.ev))
				{
					if (l->ended)
					{
						log_error("stdin: byte offset %" PRIu64 ": an event after the end marker",
								  stream_reader_offset(l->in));
						l->status = EXIT_INPUT;
					}
					salvage(l);
					return;
				}
				break;
			case MSG_BOUNDARY:
			case MSG_END:
				if (m.last_id != (l->stream_count > 0 ? l->stream_prev : l->stream_after))
				{
					log_error("stdin: byte offset %" PRIu64 ": %s marker says last_id %" PRIu64
							  " but the stream is at id %" PRIu64 "; last good id %" PRIu64,
							  stream_reader_offset(l->in), stream_msg_type_name(m.type), m.last_id,
							  l->stream_count > 0 ? l->stream_prev : l->stream_after, l->stream_prev);
					l->status = EXIT_INPUT;
					salvage(l);
					return;
				}
				if (m.type == MSG_END && m.count != l->stream_count)
				{
					log_error("stdin: byte offset %" PRIu64 ": end marker says count %" PRIu64
							  " but the stream held %" PRIu64 " events; last good id %" PRIu64,
							  stream_reader_offset(l->in), m.count, l->stream_count, l->stream_prev);
					l->status = EXIT_INPUT;
					salvage(l);
					return;
				}
				trace_mark("boundary");
				if (m.last_id > l->source_max)
					l->source_max = m.last_id;
				if (m.type == MSG_END)
				{
					l->ended = true;
					if (!hold_flush(l) || !batch_end(l, NULL))
						return;
				}
				else if (!boundary(l, stream_reader_idle(l->in)))
					return;
				break;
			case MSG_WAKE:
				log_error("stdin: byte offset %" PRIu64 ": a wake message belongs on slate-extract's input",
						  stream_reader_offset(l->in));
				l->status = EXIT_INPUT;
				salvage(l);
				return;
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"max-events-per-write", required_argument, NULL, 'm'},
		{"synchronous-commit", required_argument, NULL, 's'},
		{"restore", no_argument, NULL, 'R'},
		{"lock-wait", required_argument, NULL, 'w'},
		{"check", no_argument, NULL, 'c'},
		{"repair", no_argument, NULL, 'r'},
		{"no-original-warning", no_argument, NULL, 'o'},
		{"position", no_argument, NULL, 'p'},
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	load		l;
	int64_t		lock_wait = 10;
	opt_common common = {0, LOG_FORMAT_AUTO};
	int			r;
	const char *conninfo = NULL;
	int			c;
	bool		position_only = false;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	memset(&l, 0, sizeof(l));
	l.max_per_write = 10000;
	while ((c = getopt_long(argc, argv, OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'm':
				if (!opt_int64(PROG, "max-events-per-write", optarg, 1, INT32_MAX, &l.max_per_write))
					return EXIT_USAGE;
				break;
			case 's':
				if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
				{
					opt_usage_error(PROG, "invalid value \"%s\" for --synchronous-commit: use on or off", optarg);
					return EXIT_USAGE;
				}
				l.sync_commit = strcmp(optarg, "on") == 0;
				break;
			case 'R':
				l.restore = true;
				break;
			case 'w':
				if (!opt_int64(PROG, "lock-wait", optarg, 0, 3600, &lock_wait))
					return EXIT_USAGE;
				break;
			case 'c':
				l.check_only = true;
				break;
			case 'r':
				l.repair_mode = true;
				break;
			case 'o':
				l.first_warned = true;
				break;
			case 'p':
				position_only = true;
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if ((r = opt_conninfo(PROG, argc, argv, &conninfo)) != OPT_GO_ON)
		return r;
	if (l.check_only + l.repair_mode + l.restore + position_only > 1)
	{
		opt_usage_error(PROG, "--check, --repair, --restore and --position cannot be used together");
		return EXIT_USAGE;
	}
	l.lock_wait_s = (int) lock_wait;

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	l.in = stream_reader_new(STDIN_FILENO, "stdin", MAX_MESSAGE);
	if (l.in == NULL)
	{
		log_error("out of memory");
		return EXIT_IO;
	}
	if (!conn_open(&l.dst, "destination", conninfo, (int) common.connect_timeout))
	{
		stream_reader_free(l.in);
		return stop_requested ? EXIT_OK : EXIT_DB;
	}
	l.started = l.last_log = now_s();
	if (position_only)
	{
		/* the position is the destination's own max(id), as for a load */
		events_ends ends;

		if (!events_check_table(&l.dst) || !events_read_ends(&l.dst, &ends))
			l.status = l.dst.sqlstate[0] ? EXIT_DB : EXIT_REFUSED;
		else
		{
			printf("%" PRIu64 "\n", ends.max_id);
			events_ends_clear(&ends);
			if (fflush(stdout) != 0)
				l.status = EXIT_IO;
		}
	}
	else if (!events_check_table(&l.dst) ||
		!(l.restore ? restore_check(&l) : events_check_role(&l.dst, false)) ||
		(l.check_only && !events_check_holes(&l.dst)))
		l.status = l.dst.sqlstate[0] ? EXIT_DB : EXIT_REFUSED;
	else if (l.check_only)
		run(&l);				/* returns after checking the header */
	else if ((l.sync_commit || conn_command(&l.dst, "could not set synchronous_commit",
											"SET synchronous_commit = off")) &&
			 take_lock(&l))
		run(&l);
	else if (l.status == EXIT_OK)
		l.status = EXIT_DB;

	if (l.status == EXIT_OK && !stop_requested && !l.check_only && !l.repair_mode && !position_only)
		log_commit(&l, true);
	repair_free(l.rep);
	PQclear(l.last_res);
	free(l.hold);
	free(l.arrays);
	stream_reader_free(l.in);
	PQclear(l.restore_last);
	conn_close(&l.dst);
	return l.status;
}

/*
 * --restore: fill a source's events from a replica's stream.  The target
 * must be a source (notify trigger and id table) whose id table says max(id)
 * + 1, with no holes: a fresh one, or one a killed restore left, which the
 * same command resumes.  Its notify trigger must not fire for every restored
 * row (millions of queued notifications, and an event over 8000 bytes fails
 * with the full-event payload): the session runs with session_replication_role
 * = replica, which needs superuser, or on PostgreSQL 15 and later
 * GRANT SET ON PARAMETER session_replication_role.  Logs, sets the status and
 * returns false when the target is refused; nothing has been written then.
 */
static bool
restore_check(load *l)
{
	static const char *sql =
		"SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = 'id'::regclass AND attnum > 0 "
		"  AND NOT attisdropped), (SELECT count(*) FROM id), (SELECT min(id) FROM id), "
		"  (SELECT coalesce(max(id), 0) + 1 FROM events), "
		"  EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'events'::regclass AND tgenabled = 'A')";
	PGresult   *res;
	bool		ok = false;

	l->status = EXIT_REFUSED;
	if (!events_check_role(&l->dst, true))
		return false;
	res = PQexec(l->dst.pg, "SELECT to_regclass('id') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQgetvalue(res, 0, 0)[0] != 't')
	{
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			log_error("restore target (%s) is not an event source: it has no id table", l->dst.desc);
		else
			conn_report(&l->dst, "could not inspect the id table", res);
		PQclear(res);
		return false;
	}
	PQclear(res);
	if ((res = conn_exec(&l->dst, "could not read the id table", PGRES_TUPLES_OK, sql, 0, NULL)) == NULL)
		return false;
	if (strcmp(PQgetvalue(res, 0, 0), "1") != 0 || strcmp(PQgetvalue(res, 0, 1), "1") != 0)
		log_error("restore target (%s): its id table should hold one bigint, the next id; it has %s "
				  "column(s) and %s row(s)", l->dst.desc, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	else if (strcmp(PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3)) != 0)
		log_error("restore target (%s): its id table says the next id is %s but its events end at %lld: "
				  "insert_events() has been used on it, or it was changed by hand; refusing to restore into it",
				  l->dst.desc, PQgetvalue(res, 0, 2), atoll(PQgetvalue(res, 0, 3)) - 1);
	else if (PQgetvalue(res, 0, 4)[0] == 't')
		log_error("restore target (%s): a trigger on events is enabled ALWAYS and would fire for every "
				  "restored row; refusing", l->dst.desc);
	else
		ok = true;
	PQclear(res);
	if (!ok || !events_check_holes(&l->dst))
		return false;

	res = PQexec(l->dst.pg, "SET session_replication_role = replica");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (state != NULL && strcmp(state, "42501") == 0)
			log_error("restore target (%s): a restore must keep the notify trigger from firing for every "
					  "row, which needs permission to set session_replication_role: run it as a superuser, "
					  "or GRANT SET ON PARAMETER session_replication_role TO the role (PostgreSQL 15+)",
					  l->dst.desc);
		else
			conn_report(&l->dst, "could not set session_replication_role", res);
		PQclear(res);
		return false;
	}
	PQclear(res);

	/* the last event, to check the stream agrees with it before appending (restore_same_last) */
	res = PQexecParams(l->dst.pg, "SELECT id, ts, event FROM events ORDER BY id DESC LIMIT 1",
					   0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		conn_report(&l->dst, "could not read its last event", res);
		PQclear(res);
		l->status = EXIT_DB;
		return false;
	}
	l->restore_last = res;
	l->status = EXIT_OK;
	return true;
}

/* the id table moves with the events, so each batch is an explicit transaction */
static bool
restore_batch_begin(load *l)
{
	/* insert_events() takes the same lock: a writer let in too early waits, then sees the right id */
	if (conn_command(&l->dst, "could not begin a restore batch", "BEGIN") &&
		conn_command(&l->dst, "could not lock the id table", "LOCK TABLE id IN ACCESS EXCLUSIVE MODE"))
		return true;
	l->status = EXIT_DB;
	return false;
}

/*
 * The batch's COPY is over: with commit, set the id table to the batch's last
 * id + 1 and commit both; otherwise (or when that fails) roll back.
 */
static bool
restore_batch_end(load *l, bool commit)
{
	char		next[24];
	const char *params[1] = {next};
	PGresult   *res;

	if (commit)
	{
		snprintf(next, sizeof(next), "%" PRIu64, l->pos + 1);
		res = conn_exec(&l->dst, "could not update the id table", PGRES_COMMAND_OK,
						"UPDATE id SET id = $1", 1, params);
		PQclear(res);
		if (res != NULL && conn_command(&l->dst, "could not commit a restore batch", "COMMIT"))
			return true;
		l->status = EXIT_DB;
	}
	PQclear(PQexec(l->dst.pg, "ROLLBACK"));
	return false;
}

/* the stream's event at the target's last id must be the target's last event */
static bool
restore_same_last(load *l, const stream_event *e)
{
	stream_event last;

	if (l->restore_last == NULL || PQntuples(l->restore_last) != 1)
		return true;
	last.id = (uint64_t) pg_get_int64(PQgetvalue(l->restore_last, 0, 0));
	last.ts = pg_get_int64(PQgetvalue(l->restore_last, 0, 1));
	/* jsonb's binary form: a version byte, then the text */
	last.event = PQgetvalue(l->restore_last, 0, 2) + 1;
	last.event_len = (size_t) PQgetlength(l->restore_last, 0, 2) - 1;
	if (events_equal(&last, e))
		return true;
	log_error("restore target (%s): its events are not a prefix of the stream: its event %" PRIu64
			  " differs from the stream's; nothing written", l->dst.desc, e->id);
	l->status = EXIT_REFUSED;
	return false;
}
