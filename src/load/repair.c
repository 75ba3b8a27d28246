/* repair.c - slate-load --repair: make rows the original replicator wrote byte-exact in place */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "exitcodes.h"
#include "log.h"
#include "pgcopy.h"
#include "repair.h"

struct repair
{
	slate_conn *dst;
	uint64_t	dest_max;
	int64_t		batch_size;
	bool		have_table;		/* the temporary table the new rows go through */

	/* the batch: source events, their texts packed in one buffer */
	stream_event *ev;			/* ev[k].event is an offset into text until a flush */
	size_t		n,
				cap;
	char	   *text;
	size_t		text_len,
				text_cap;

	uint64_t	first_id;		/* first id seen, 0 before */
	uint64_t	through;		/* last id checked (and repaired where needed) */
	uint64_t	checked;
	uint64_t	rewritten;
	uint64_t	beyond;			/* events after dest_max, left to the replicator */
	time_t		last_progress;	/* progress is logged every 10 s */
};

repair *
repair_new(slate_conn *dst, uint64_t dest_max, int64_t batch_size)
{
	repair	   *r = calloc(1, sizeof(*r));

	if (r == NULL)
	{
		log_error("out of memory");
		return NULL;
	}
	r->dst = dst;
	r->dest_max = dest_max;
	r->batch_size = batch_size;
	r->last_progress = time(NULL);
	return r;
}

void
repair_free(repair *r)
{
	if (r == NULL)
		return;
	free(r->ev);
	free(r->text);
	free(r);
}

/* keep a copy of e in the batch (the stream reader reuses its buffer) */
static bool
batch_keep(repair *r, const stream_event *e)
{
	if (r->n == r->cap)
	{
		size_t		cap = r->cap ? r->cap * 2 : 1024;
		stream_event *ev = realloc(r->ev, cap * sizeof(*ev));

		if (ev == NULL)
			goto oom;
		r->ev = ev;
		r->cap = cap;
	}
	if (r->text_len + e->event_len > r->text_cap)
	{
		size_t		cap = r->text_cap ? r->text_cap : 1024 * 1024;
		char	   *text;

		while (cap < r->text_len + e->event_len)
			cap *= 2;
		if ((text = realloc(r->text, cap)) == NULL)
			goto oom;
		r->text = text;
		r->text_cap = cap;
	}
	memcpy(r->text + r->text_len, e->event, e->event_len);
	r->ev[r->n] = *e;
	r->ev[r->n].event = (const char *) (uintptr_t) r->text_len;
	r->text_len += e->event_len;
	r->n++;
	return true;
oom:
	log_error("out of memory holding a repair batch of %zu events", r->n);
	return false;
}

/* end the transaction on failure; the batch changes nothing */
static void
rollback(repair *r)
{
	PGresult   *res = PQexec(r->dst->pg, "ROLLBACK");

	PQclear(res);
}

/* send the rows to rewrite into the temporary table, by binary COPY */
static bool
copy_rows(repair *r, const bool *rewrite)
{
	PGresult   *res = PQexec(r->dst->pg, "COPY slate_repair (id, ts, event) FROM STDIN (FORMAT binary)");
	char	   *row = NULL;
	size_t		row_cap = 0;
	bool		ok = true;

	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		conn_report(r->dst, "could not start COPY of repaired rows", res);
		PQclear(res);
		return false;
	}
	PQclear(res);
	ok = PQputCopyData(r->dst->pg, pgcopy_header, PGCOPY_HEADER_LEN) == 1;
	for (size_t k = 0; ok && k < r->n; k++)
	{
		size_t		need = PGCOPY_EVENT_OVERHEAD + r->ev[k].event_len;

		if (!rewrite[k])
			continue;
		if (need > row_cap)
		{
			char	   *p = realloc(row, need);

			if (p == NULL)
			{
				log_error("out of memory encoding event %" PRIu64, r->ev[k].id);
				ok = false;
				break;
			}
			row = p;
			row_cap = need;
		}
		ok = PQputCopyData(r->dst->pg, row, (int) pgcopy_encode_event(row, &r->ev[k])) == 1;
	}
	free(row);
	if (ok)
		ok = PQputCopyData(r->dst->pg, pgcopy_trailer, PGCOPY_TRAILER_LEN) == 1;
	if (PQputCopyEnd(r->dst->pg, ok ? NULL : "repair abandoned") != 1)
		ok = false;
	while ((res = PQgetResult(r->dst->pg)) != NULL)
	{
		if (ok && PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			conn_report(r->dst, "could not COPY repaired rows", res);
			ok = false;
		}
		PQclear(res);
	}
	return ok;
}

/*
 * Check every row of the batch against the source's event, then rewrite the
 * ones that differ only by the original's precision, all in one transaction:
 * a batch with a row that differs otherwise (or is missing) changes nothing.
 */
static int
flush(repair *r)
{
	static const char *rows_sql =
		"SELECT id, ts, event FROM events WHERE id >= $1 AND id <= $2 ORDER BY id";
	char		lo[24],
				hi[24];
	const char *params[2] = {lo, hi};
	PGresult   *res;
	bool	   *rewrite = NULL;
	size_t		nrewrite = 0;
	int			status = EXIT_DB;

	if (r->n == 0)
		return EXIT_OK;
	/* the texts are in place now: turn offsets into pointers */
	for (size_t k = 0; k < r->n; k++)
		r->ev[k].event = r->text + (uintptr_t) r->ev[k].event;
	snprintf(lo, sizeof(lo), "%" PRIu64, r->ev[0].id);
	snprintf(hi, sizeof(hi), "%" PRIu64, r->ev[r->n - 1].id);

	if (!r->have_table)
	{
		if (!conn_command(r->dst, "could not create the repair table",
						  "CREATE TEMPORARY TABLE slate_repair (id bigint, ts timestamptz, event jsonb) "
						  "ON COMMIT DELETE ROWS"))
			goto done;
		r->have_table = true;
	}
	if (!conn_command(r->dst, "could not start a transaction", "BEGIN"))
		goto done;
	res = PQexecParams(r->dst->pg, rows_sql, 2, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		conn_report(r->dst, "could not read the rows to repair", res);
		PQclear(res);
		rollback(r);
		goto done;
	}
	if ((rewrite = calloc(r->n, sizeof(*rewrite))) == NULL)
	{
		log_error("out of memory");
		PQclear(res);
		rollback(r);
		goto done;
	}
	for (size_t k = 0; k < r->n; k++)
	{
		stream_event row;
		events_comparison c;

		if ((size_t) PQntuples(res) <= k ||
			(uint64_t) pg_get_int64(PQgetvalue(res, (int) k, 0)) != r->ev[k].id)
		{
			log_error("destination (%s) has no event id %" PRIu64 " (a hole below its max id %" PRIu64
					  "): not something --repair mends; nothing of ids %s..%s was changed",
					  r->dst->desc, r->ev[k].id, r->dest_max, lo, hi);
			status = EXIT_REFUSED;
			break;
		}
		row.id = r->ev[k].id;
		row.ts = pg_get_int64(PQgetvalue(res, (int) k, 1));
		/* jsonb's binary form: a version byte, then the text */
		row.event = PQgetvalue(res, (int) k, 2) + 1;
		row.event_len = (size_t) PQgetlength(res, (int) k, 2) - 1;
		c = events_compare(&r->ev[k], &row);
		if (events_comparison_verdict(&c) == MATCH_DIFFERENT)
		{
			log_error("destination (%s): event id %" PRIu64 " differs from the source's beyond the "
					  "original replicator's precision (%s): corruption, not precision; refusing to "
					  "overwrite it; nothing of ids %s..%s was changed%s", r->dst->desc, row.id,
					  events_comparison_differs(&c), lo, hi,
					  r->checked > 0 ? " (the ids before, already checked, are byte-exact)" : "");
			status = EXIT_REFUSED;
			break;
		}
		rewrite[k] = events_comparison_verdict(&c) == MATCH_ORIGINAL;
		nrewrite += rewrite[k];
	}
	PQclear(res);
	if (status == EXIT_REFUSED)
	{
		rollback(r);
		goto done;
	}
	if (nrewrite > 0)
	{
		char		count[24];

		/* the id range keeps the join on the primary key's index */
		if (!copy_rows(r, rewrite) ||
			(res = conn_exec(r->dst, "could not rewrite the rows", PGRES_COMMAND_OK,
							 "UPDATE events AS e SET ts = s.ts, event = s.event FROM slate_repair AS s "
							 "WHERE e.id = s.id AND e.id >= $1 AND e.id <= $2", 2, params)) == NULL)
		{
			rollback(r);
			goto done;
		}
		snprintf(count, sizeof(count), "%zu", nrewrite);
		if (strcmp(PQcmdTuples(res), count) != 0)
		{
			log_error("destination (%s): rewrote %s rows of ids %s..%s where %s were expected; rolled back",
					  r->dst->desc, PQcmdTuples(res), lo, hi, count);
			PQclear(res);
			rollback(r);
			goto done;
		}
		PQclear(res);
	}
	if (!conn_command(r->dst, "could not commit the repair", "COMMIT"))
		goto done;
	r->checked += r->n;
	r->rewritten += nrewrite;
	r->through = r->ev[r->n - 1].id;
	log_debug("ids %s..%s: %zu rows rewritten, %zu already exact", lo, hi, nrewrite, r->n - nrewrite);
	r->n = 0;
	r->text_len = 0;
	status = EXIT_OK;
done:
	free(rewrite);
	return status;
}

int
repair_event(repair *r, const stream_event *e)
{
	if (e->id > r->dest_max)
	{
		r->beyond++;
		return EXIT_OK;
	}
	if (r->first_id == 0)
		r->first_id = e->id;
	/* batches end between source transactions, so none is left half exact */
	if ((int64_t) r->n >= r->batch_size && e->ts != r->ev[r->n - 1].ts)
	{
		int			status = flush(r);

		if (status != EXIT_OK)
			return status;
		if (time(NULL) - r->last_progress >= 10)
		{
			r->last_progress = time(NULL);
			log_info("checked %" PRIu64 " events through id %" PRIu64 ", %" PRIu64 " rewritten",
					 r->checked, r->through, r->rewritten);
		}
	}
	return batch_keep(r, e) ? EXIT_OK : EXIT_IO;
}

int
repair_finish(repair *r)
{
	int			status = flush(r);

	if (status != EXIT_OK)
		return status;
	if (r->checked == 0)
		log_info("destination (%s): no event of the stream is in it (its max id is %" PRIu64
				 "); nothing to repair", r->dst->desc, r->dest_max);
	else
		log_info("destination (%s): ids %" PRIu64 "..%" PRIu64 " are byte-exact now: %" PRIu64
				 " rows rewritten, %" PRIu64 " were exact already%s", r->dst->desc, r->first_id,
				 r->through, r->rewritten, r->checked - r->rewritten,
				 r->through < r->dest_max ? "; the stream ended before the destination's max id" : "");
	if (r->beyond > 0)
		log_info("%" PRIu64 " events after id %" PRIu64 " are not in the destination: "
				 "the replicator appends them", r->beyond, r->dest_max);
	return EXIT_OK;
}
