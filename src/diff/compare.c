/* compare.c - checksum both tables bucket by bucket inside the servers, then narrow what differs */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diff.h"
#include "events.h"
#include "log.h"
#include "pgcopy.h"

/*
 * The row hash.  Reading a table is dominated by turning each jsonb into text;
 * the hash on top should cost little and be exact.  Backend CPU for 200,000
 * events of ~600 bytes (PostgreSQL 15, grouped into 1024-id buckets):
 *
 *	scan, count only									180 ms
 *	event::text, no hash								430 ms
 *	2 x jsonb_hash_extended(event) (no text)			780 ms	not exact
 *	2 x hashtextextended(ts hex || event::text, seed)	600 ms	chosen
 *	sha256(int8send || timestamptz_send || jsonb_send)	760 ms
 *	md5(id || ts || event::text)						950 ms
 *
 * Per 65,536-id chunk: index scan 60 ms, + text 100 ms, + one hash 20 ms, + the
 * second 10 ms: the text is the floor for an exact comparison.
 *
 * jsonb_hash_extended is slower than text plus a hash, and not exact: it ignores
 * numeric scale (1.0 and 1.00 hash alike), does not hash where containers end
 * ('[[1],2]' and '[[1,2]]' collide) and rotates by position mod 32, so values
 * swapped 32 tokens apart collide whatever the seed.  hashtextextended is
 * PostgreSQL's 64-bit Jenkins hash; seeding it with id and ~id gives two
 * independent 64-bit hashes of the row that also cover the id exactly, and the
 * timestamp enters as the hex of its 8 binary bytes (independent of TimeZone
 * and DateStyle).  A bucket's checksum is count, min, max and the bit_xor of
 * each hash: 128 bits, order-insensitive, which is safe because the id is in
 * every row hash and ids are unique.
 *
 * The two OFFSET 0 fences make the text once per row and hash it below the
 * aggregate: without them the planner, guessing one group per row, sorted the
 * rows with their text (an external sort, 50% slower) instead of hashing 64
 * groups.
 */
static const char *checksum_sql =
	"SELECT b, count(*), min(id), max(id), bit_xor(h1), bit_xor(h2) "
	"FROM (SELECT id >> 10 AS b, id, hashtextextended(r, id) AS h1, hashtextextended(r, ~id) AS h2 "
	"FROM (SELECT id, encode(timestamptz_send(ts), 'hex') || event::text AS r "
	"FROM events WHERE id >= $1 AND id <= $2 OFFSET 0) AS texts OFFSET 0) AS hashes "
	"GROUP BY 1 ORDER BY 1";

/*
 * --json-equal compares as the original eventsDiff did: ts to the millisecond
 * (JavaScript dates), events as parsed JSON values.  That needs no text at all:
 * jsonb_hash_extended walks the binary jsonb and hashes numbers by value
 * (hash_numeric drops trailing zeros: 12.50 and 12.5 hash alike), and the ts
 * is cut to the millisecond in the server.  date_bin from the earliest
 * timestamptz is plain arithmetic, so it floors (as JavaScript's Date does)
 * and costs half of date_trunc, which converts to the session's time zone and
 * back; the interval's hash then stands for the timestamp's, which has no
 * hash function of its own.  (Backend CPU per 200,000 events, loaded machine:
 * scan 180 ms, the ts part 170 ms with date_bin, 340-470 ms with date_trunc;
 * the jsonb hash 700 ms.)
 * The seed carries id and ts into the event's hash; XOR-ing it in again
 * covers events without scalars ({} hashes alike whatever the seed).  Its
 * blind spots (container ends, values 32 positions apart swapped; see above)
 * make it a check in the original's terms, not an exact one: the default mode
 * is exact.  Numbers that differ yet are the same IEEE double (JavaScript
 * lost the digits of integers beyond 2^53) hash apart; the report pass then
 * compares those rows' texts as JavaScript would.
 */
static const char *json_checksum_sql =
	"SELECT b, count(*), min(id), max(id), bit_xor(h), 0::bigint "
	"FROM (SELECT id >> 10 AS b, id, jsonb_hash_extended(event, s) # s AS h "
	"FROM (SELECT id, event, interval_hash_extended(date_bin('1 ms', ts, timestamptz '4714-11-24 00:00:00+00 BC') "
	"- timestamptz '2000-01-01 00:00:00+00', id) AS s "
	"FROM events WHERE id >= $1 AND id <= $2 OFFSET 0) AS seeds OFFSET 0) AS hashes "
	"GROUP BY 1 ORDER BY 1";

/* the same event hash per row, without the timestamp, to tell "ts" from "event" */
static const char *rows_sql =
	"SELECT id, ts, hashtextextended(t, id), hashtextextended(t, ~id) "
	"FROM (SELECT id, ts, event::text AS t FROM events "
	"WHERE id >= $1 AND id <= $2 OFFSET 0) AS rows ORDER BY id";

static const char *json_rows_sql =
	"SELECT id, ts, jsonb_hash_extended(event, id), 0::bigint FROM events "
	"WHERE id >= $1 AND id <= $2 ORDER BY id";

/* the texts of rows whose hashes differ, to tell the original's re-serialising from a change */
static const char *texts_sql = "SELECT id, event FROM events WHERE id = ANY ($1::bigint[]) ORDER BY id";

/*
 * Up to ONE_PASS_IDS ids are checksummed in one statement per side, which the
 * planner runs as a sequential scan: it reads pages through a small ring of
 * shared buffers instead of an index scan's pass over the whole buffer pool,
 * and a fresh backend's first touch of each buffer page costs a page fault
 * (some 10 to 50 us each on a virtual machine).  Beyond that, chunks of
 * CHUNK_IDS by index keep the aggregate's memory small and show progress.
 */
#define ONE_PASS_IDS (INT64_C(8) << 20)

static const char *next_id_sql = "SELECT min(id) FROM events WHERE id > $1";

static const char *holes_sql =
	"SELECT id + 1, next - 1 FROM (SELECT id, lead(id) OVER (ORDER BY id) AS next "
	"FROM events WHERE id >= $1 AND id <= $2) AS ids WHERE next > id + 1 ORDER BY id LIMIT 10";


static int64_t
value64(const PGresult *res, int row, int col)
{
	return pg_get_int64(PQgetvalue(res, row, col));
}

static int64_t
bucket_start(int64_t id)
{
	return id - (id & (BUCKET_IDS - 1));
}

static void
progress(diff_state *d, int64_t done_to, int64_t first, int64_t last, bool final)
{
	double		t = now_s();
	double		rate = (double) d->progress_rows / (t - d->started > 1e-3 ? t - d->started : 1e-3);
	double		pct = last > first ? 100.0 * (double) (done_to - first) / (double) (last - first) : 100.0;

	if (d->tty)
	{
		if (!final && t - d->last_progress < 0.2)
			return;
		d->last_progress = t;
		if (final)
			fprintf(stderr, "\r\033[K");
		else
			fprintf(stderr, "\r\033[K%s: checksummed %.0f%% (through id %" PRId64 "), %.0f events/s",
					log_program(), pct > 100 ? 100 : pct, done_to, rate);
		return;
	}
	if (final || t - d->last_progress < 10.0)
		return;
	d->last_progress = t;
	log_info("checksummed %.0f%% (through id %" PRId64 "), %.0f events/s", pct, done_to, rate);
}

/* remember a hole; gaps between buckets are exact, holes inside a bucket are located later */
static void
add_hole(side *s, int64_t lo, int64_t hi, bool inside_bucket)
{
	if (s->nholes == HOLES_SHOWN)
		return;
	s->holes[s->nholes].lo = lo;
	s->holes[s->nholes].hi = hi;
	s->holes[s->nholes].inside_bucket = inside_bucket;
	s->nholes++;
}

/* count a bucket of one side and note its holes */
static void
account_bucket(side *s, uint64_t count, int64_t min, int64_t max)
{
	if (s->seen_bucket && min > s->prev_max + 1)
		add_hole(s, s->prev_max + 1, min - 1, false);
	if (count < (uint64_t) (max - min) + 1)
		add_hole(s, min, max, true);
	s->seen_bucket = true;
	s->prev_max = max;
	s->rows += count;
}

static bool
add_item(diff_state *d, char kind, int64_t lo, int64_t hi, uint64_t count)
{
	work_item  *last = d->nitems > 0 ? &d->items[d->nitems - 1] : NULL;

	/* ids only in one side, bucket after bucket, make one item */
	if (last && kind != 'D' && last->kind == kind && d->joined)
	{
		last->hi = hi;
		last->count += count;
		return true;
	}
	if (d->nitems == d->cap)
	{
		size_t		cap = d->cap ? d->cap * 2 : 256;
		work_item  *items = realloc(d->items, cap * sizeof(*items));

		if (items == NULL)
		{
			log_error("out of memory for %zu differing buckets", d->nitems);
			return false;
		}
		d->items = items;
		d->cap = cap;
	}
	last = &d->items[d->nitems++];
	last->kind = kind;
	last->lo = lo;
	last->hi = hi;
	last->count = count;
	last->joined = d->joined;
	d->joined = true;
	return true;
}

/* merge the bucket checksums of one chunk from both sides */
static bool
merge_chunk(diff_state *d, const PGresult *ra, const PGresult *rb)
{
	int			na = PQntuples(ra),
				nb = PQntuples(rb);
	int			i = 0,
				j = 0;

	while (i < na || j < nb)
	{
		int64_t		ba = i < na ? value64(ra, i, 0) : INT64_MAX;
		int64_t		bb = j < nb ? value64(rb, j, 0) : INT64_MAX;
		const PGresult *one = ba <= bb ? ra : rb;
		int			row = ba <= bb ? i : j;
		uint64_t	count = (uint64_t) value64(one, row, 1);
		int64_t		min = value64(one, row, 2),
					max = value64(one, row, 3);
		bool		ok = true;

		if (ba == bb)
		{
			bool		same = true;

			account_bucket(&d->s[0], count, min, max);
			account_bucket(&d->s[1], (uint64_t) value64(rb, j, 1), value64(rb, j, 2), value64(rb, j, 3));
			for (int col = 1; col <= 5; col++)
				same = same && value64(ra, i, col) == value64(rb, j, col);
			if (same)
				d->joined = false;
			else
				ok = add_item(d, 'D', ba << BUCKET_BITS, (ba << BUCKET_BITS) + BUCKET_IDS - 1, 0);
			d->progress_rows += count;
			i++;
			j++;
		}
		else
		{
			account_bucket(&d->s[ba < bb ? 0 : 1], count, min, max);
			ok = add_item(d, ba < bb ? 'A' : 'B', min, max, count);
			d->progress_rows += count;
			if (ba < bb)
				i++;
			else
				j++;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* the smallest id after "after" on either side; false on error, *next = -1 when none */
static bool
next_id(diff_state *d, int64_t after, int64_t *next)
{
	side	   *both[2] = {&d->s[0], &d->s[1]};
	PGresult   *res[2];
	char		p[24];
	const char *params[1] = {p};

	snprintf(p, sizeof(p), "%" PRId64, after);
	if (!pair_query(both, 2, "could not find the next id", next_id_sql, 1, params, res))
		return false;
	*next = -1;
	for (int i = 0; i < 2; i++)
	{
		if (!PQgetisnull(res[i], 0, 0) && (*next == -1 || value64(res[i], 0, 0) < *next))
			*next = value64(res[i], 0, 0);
		PQclear(res[i]);
	}
	return true;
}

bool
compare_checksums(diff_state *d)
{
	side	   *both[2] = {&d->s[0], &d->s[1]};
	int64_t		first,
				last,
				lo,
				chunk;

	if (d->s[0].empty && d->s[1].empty)
		return true;
	first = d->s[0].empty ? d->s[1].min_id : d->s[1].empty ? d->s[0].min_id :
		(d->s[0].min_id < d->s[1].min_id ? d->s[0].min_id : d->s[1].min_id);
	last = d->s[0].empty ? d->s[1].max_id : d->s[1].empty ? d->s[0].max_id :
		(d->s[0].max_id > d->s[1].max_id ? d->s[0].max_id : d->s[1].max_id);
	d->started = d->last_progress = now_s();
	d->joined = false;
	/* see ONE_PASS_IDS: one statement, a sequential scan of each table */
	chunk = last - first < ONE_PASS_IDS ? last - bucket_start(first) + 1 : CHUNK_IDS;

	for (lo = bucket_start(first);;)
	{
		int64_t		hi = last - lo >= chunk - 1 ? lo + chunk - 1 : last;
		char		plo[24],
					phi[24];
		const char *params[2] = {plo, phi};
		PGresult   *res[2];
		bool		empty,
					ok;

		snprintf(plo, sizeof(plo), "%" PRId64, lo);
		snprintf(phi, sizeof(phi), "%" PRId64, hi);
		if (!pair_query(both, 2, "could not compute checksums",
						d->json_equal ? json_checksum_sql : checksum_sql, 2, params, res))
			return false;
		empty = PQntuples(res[0]) == 0 && PQntuples(res[1]) == 0;
		ok = merge_chunk(d, res[0], res[1]);
		PQclear(res[0]);
		PQclear(res[1]);
		if (!ok)
			return false;
		progress(d, hi, first, last, false);
		if (hi >= last)
			break;
		if (empty)
		{
			/* sparse ids: jump over the gap instead of checksumming nothing */
			int64_t		next;

			if (!next_id(d, hi, &next))
				return false;
			if (next < 0)
				break;
			lo = bucket_start(next);
		}
		else
			lo = hi + 1;
	}
	progress(d, last, first, last, true);
	return true;
}

bool
locate_holes(side *s)
{
	hole		found[HOLES_SHOWN];
	int			n = 0;

	for (int i = 0; i < s->nholes && n < HOLES_SHOWN; i++)
	{
		char		plo[24],
					phi[24];
		const char *params[2] = {plo, phi};
		PGresult   *res;

		if (!s->holes[i].inside_bucket)
		{
			found[n++] = s->holes[i];
			continue;
		}
		snprintf(plo, sizeof(plo), "%" PRId64, s->holes[i].lo);
		snprintf(phi, sizeof(phi), "%" PRId64, s->holes[i].hi);
		res = PQexecParams(s->conn.pg, holes_sql, 2, NULL, params, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			conn_report(&s->conn, "could not locate holes", res);
			PQclear(res);
			return false;
		}
		for (int r = 0; r < PQntuples(res) && n < HOLES_SHOWN; r++)
		{
			found[n].lo = value64(res, r, 0);
			found[n].hi = value64(res, r, 1);
			found[n].inside_bucket = false;
			n++;
		}
		PQclear(res);
	}
	memcpy(s->holes, found, sizeof(found[0]) * (size_t) n);
	s->nholes = n;
	return true;
}

/* print one difference line covering count ids; stop at --max-diffs */
static void
emit(diff_state *d, uint64_t count, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
emit(diff_state *d, uint64_t count, const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	d->diffs += count;
	if (d->max_diffs > 0 && d->diffs >= (uint64_t) d->max_diffs)
		d->limit_reached = true;
}

static void
run_flush(diff_state *d)
{
	if (d->run_side == 0)
		return;
	if (d->run_side == 'O')
	{
		const char *what = d->run_ts && d->run_event ? "ts cut to the millisecond, JSON numbers re-serialised" :
			d->run_ts ? "ts cut to the millisecond" : "JSON numbers re-serialised";

		d->original += d->run_count;
		if (d->run_count == 1)
			emit(d, 1, "id %" PRId64 ": as the original replicator wrote it (%s)", d->run_lo, what);
		else
			emit(d, d->run_count, "ids %" PRId64 "-%" PRId64 ": as the original replicator wrote them (%s; %"
				 PRIu64 " ids)", d->run_lo, d->run_hi, what, d->run_count);
		d->run_side = 0;
		return;
	}
	if (d->run_count == 1)
		emit(d, 1, "id %" PRId64 ": only in %c", d->run_lo, d->run_side);
	else
		emit(d, d->run_count, "ids %" PRId64 "-%" PRId64 ": only in %c (%" PRIu64 " ids)",
			 d->run_lo, d->run_hi, d->run_side, d->run_count);
	d->run_side = 0;
}

/* ids [lo, hi] (count of them) exist only in side which; consecutive ones make one line */
static void
run_add(diff_state *d, char which, int64_t lo, int64_t hi, uint64_t count)
{
	if (d->run_side != which)
	{
		run_flush(d);
		if (d->limit_reached)
			return;
		d->run_side = which;
		d->run_lo = lo;
		d->run_count = 0;
		d->run_ts = false;
		d->run_event = false;
	}
	d->run_hi = hi;
	d->run_count += count;
	if (d->max_diffs > 0 && d->diffs + d->run_count >= (uint64_t) d->max_diffs)
		run_flush(d);
}

events_match
diff_ts_match(const diff_state *d, int64_t a, int64_t b)
{
	if (a == b)
		return MATCH_SAME;
	if (d->json_equal)			/* JavaScript dates: equal to the millisecond */
		return events_ts_to_ms(a) == events_ts_to_ms(b) ? MATCH_SAME : MATCH_DIFFERENT;
	return events_ts_to_ms(a) == b || events_ts_to_ms(b) == a ? MATCH_ORIGINAL : MATCH_DIFFERENT;
}

events_match
diff_event_match(const diff_state *d, const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen == blen && memcmp(a, b, alen) == 0)
		return MATCH_SAME;
	if (d->json_equal)
		return events_json_equal_js(a, alen, b, blen) ? MATCH_SAME : MATCH_DIFFERENT;
	/* either side may be the one the original replicator wrote */
	return events_json_as_original(a, alen, b, blen) || events_json_as_original(b, blen, a, alen) ?
		MATCH_ORIGINAL : MATCH_DIFFERENT;
}

/*
 * Fetch the texts of the rows listed in ids (n of them, in order) from both
 * sides and set match[k] for each; false on error.
 */
static bool
match_texts(diff_state *d, const int64_t *ids, size_t n, events_match *match)
{
	side	   *both[2] = {&d->s[0], &d->s[1]};
	char	   *list = malloc(n * 21 + 3);
	const char *params[1] = {list};
	PGresult   *res[2];
	size_t		len = 0;

	if (list == NULL)
	{
		log_error("out of memory");
		return false;
	}
	list[len++] = '{';
	for (size_t k = 0; k < n; k++)
		len += (size_t) sprintf(list + len, "%s%" PRId64, k ? "," : "", ids[k]);
	list[len++] = '}';
	list[len] = '\0';
	if (!pair_query(both, 2, "could not read events", texts_sql, 1, params, res))
	{
		free(list);
		return false;
	}
	free(list);
	for (size_t k = 0; k < n; k++)
	{
		/* both rows were there a moment ago, in the same snapshot */
		if ((size_t) PQntuples(res[0]) <= k || (size_t) PQntuples(res[1]) <= k)
		{
			match[k] = MATCH_DIFFERENT;
			continue;
		}
		/* jsonb's binary form: a version byte, then the text */
		match[k] = diff_event_match(d, PQgetvalue(res[0], (int) k, 1) + 1,
									(size_t) PQgetlength(res[0], (int) k, 1) - 1,
									PQgetvalue(res[1], (int) k, 1) + 1,
									(size_t) PQgetlength(res[1], (int) k, 1) - 1);
	}
	PQclear(res[0]);
	PQclear(res[1]);
	return true;
}

/* one differing row; both fields already judged */
static void
report_row(diff_state *d, int64_t id, events_match ts, events_match event)
{
	if (ts == MATCH_SAME && event == MATCH_SAME)
	{
		run_flush(d);
		return;
	}
	if (ts != MATCH_DIFFERENT && event != MATCH_DIFFERENT)
	{
		run_add(d, 'O', id, id, 1);
		d->run_ts |= ts == MATCH_ORIGINAL;
		d->run_event |= event == MATCH_ORIGINAL;
		return;
	}
	run_flush(d);
	if (d->limit_reached)
		return;
	if (ts == MATCH_DIFFERENT && event == MATCH_DIFFERENT)
		emit(d, 1, "id %" PRId64 ": ts and event differ", id);
	else if (ts == MATCH_DIFFERENT)
		emit(d, 1, "id %" PRId64 ": ts differs%s", id,
			 event == MATCH_ORIGINAL ? " (and JSON numbers are re-serialised)" : "");
	else
		emit(d, 1, "id %" PRId64 ": event differs%s", id,
			 ts == MATCH_ORIGINAL ? " (and ts is cut to the millisecond)" : "");
}

/*
 * Fetch the row hashes of one differing bucket from both sides and report each
 * differing id.  Rows whose event hashes differ have their texts compared too,
 * to tell the original replicator's re-serialised numbers from a real change.
 */
static bool
narrow_bucket(diff_state *d, const work_item *it)
{
	side	   *both[2] = {&d->s[0], &d->s[1]};
	char		plo[24],
				phi[24];
	const char *params[2] = {plo, phi};
	PGresult   *res[2];
	int64_t		ids[BUCKET_IDS];
	events_match text_match[BUCKET_IDS];
	size_t		ntexts = 0,
				t = 0;
	int			na,
				nb,
				i,
				j;
	bool		ok = true;

	snprintf(plo, sizeof(plo), "%" PRId64, it->lo);
	snprintf(phi, sizeof(phi), "%" PRId64, it->hi);
	if (!pair_query(both, 2, "could not read event hashes", d->json_equal ? json_rows_sql : rows_sql,
					2, params, res))
		return false;
	na = PQntuples(res[0]);
	nb = PQntuples(res[1]);

	/* first the ids whose event hashes differ (a bucket holds at most BUCKET_IDS) */
	for (i = 0, j = 0; i < na && j < nb;)
	{
		int64_t		ia = value64(res[0], i, 0),
					ib = value64(res[1], j, 0);

		if (ia == ib && (value64(res[0], i, 2) != value64(res[1], j, 2) ||
						 value64(res[0], i, 3) != value64(res[1], j, 3)))
			ids[ntexts++] = ia;
		i += ia <= ib;
		j += ib <= ia;
	}
	if (ntexts > 0 && !match_texts(d, ids, ntexts, text_match))
		ok = false;

	for (i = 0, j = 0; ok && (i < na || j < nb) && !d->limit_reached;)
	{
		int64_t		ia = i < na ? value64(res[0], i, 0) : INT64_MAX;
		int64_t		ib = j < nb ? value64(res[1], j, 0) : INT64_MAX;

		if (ia == ib)
		{
			events_match ts = diff_ts_match(d, value64(res[0], i, 1), value64(res[1], j, 1));
			events_match event = MATCH_SAME;

			if (t < ntexts && ids[t] == ia)
				event = text_match[t++];
			report_row(d, ia, ts, event);
			i++;
			j++;
		}
		else if (ia < ib)
		{
			run_add(d, 'A', ia, ia, 1);
			i++;
		}
		else
		{
			run_add(d, 'B', ib, ib, 1);
			j++;
		}
	}
	PQclear(res[0]);
	PQclear(res[1]);
	return ok;
}

bool
report_differences(diff_state *d)
{
	for (size_t k = 0; k < d->nitems && !d->limit_reached; k++)
	{
		const work_item *it = &d->items[k];

		if (!it->joined)
			run_flush(d);
		if (d->limit_reached)
			break;
		if (it->kind == 'D')
		{
			if (!narrow_bucket(d, it))
				return false;
		}
		else
			run_add(d, it->kind, it->lo, it->hi, it->count);
	}
	run_flush(d);
	return true;
}
