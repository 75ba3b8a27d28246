/* events.h - questions both sides ask of an events table */
#ifndef SLATE_EVENTS_H
#define SLATE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "stream.h"

typedef struct events_ends
{
	uint64_t	max_id;			/* 0 when the table is empty */
	bool		has_first;
	stream_event first;			/* points into res */
	PGresult   *res;			/* owned; free with events_ends_clear */
} events_ends;

/*
 * The advisory lock slate-load holds on a destination while it writes it: one
 * writer per destination.  In pg_locks a bigint key shows as classid (high 32
 * bits), objid (low 32 bits) and objsubid 1; EVENTS_WRITER_LOCKED is an SQL
 * condition on pg_locks k that finds it granted in the current database.
 */
#define EVENTS_WRITER_LOCK_KEY "7236828674521412981"
#define EVENTS_WRITER_LOCKED \
	"k.locktype = 'advisory' AND k.granted AND k.database = " \
	"(SELECT oid FROM pg_database WHERE datname = current_database()) " \
	"AND k.objsubid = 1 AND ((k.classid::bigint << 32) | k.objid::bigint) = " EVENTS_WRITER_LOCK_KEY

/* read max(id) and the first event in one statement (binary); logs and returns false on failure */
bool events_read_ends(slate_conn *c, events_ends *ends);
void events_ends_clear(events_ends *ends);

/* true when two events are the same to the byte and the microsecond */
bool events_equal(const stream_event *a, const stream_event *b);

/*
 * How a copy of an event compares with the source's, field by field, in the
 * two languages slate speaks: byte-exact, and the original Node replicator's,
 * which wrote ts.toISOString() (the ts cut to the millisecond, toward the
 * past) and JSON.stringify(event) (numbers re-serialised as JavaScript
 * numbers: 12.50 became 12.5, 1.0 became 1, integers beyond 2^53 lost digits).
 */
typedef enum events_match
{
	MATCH_SAME,					/* to the byte, to the microsecond */
	MATCH_ORIGINAL,				/* what the original replicator wrote for it */
	MATCH_DIFFERENT				/* neither: another event, or an altered one */
} events_match;

typedef struct events_comparison
{
	bool		same_id;
	events_match ts;			/* ORIGINAL: copy's ts is the source's cut to the ms */
	events_match event;			/* ORIGINAL: numbers as JSON.stringify wrote them, the rest the same */
} events_comparison;

/* compare copy with source; ts ORIGINAL only in that direction (the copy cut) */
events_comparison events_compare(const stream_event *source, const stream_event *copy);
/* the verdict over all fields: the worst of them (a different id is DIFFERENT) */
events_match events_comparison_verdict(const events_comparison *c);
/* what differs beyond the original's precision, e.g. "ts and event differ"; "" when nothing does */
const char *events_comparison_differs(const events_comparison *c);
/* what the original's precision changed, e.g. "ts cut to the millisecond, JSON numbers re-serialised" */
const char *events_comparison_original(const events_comparison *c);

/* ts cut to the millisecond toward the past, as JavaScript's Date keeps it */
int64_t events_ts_to_ms(int64_t ts);

/*
 * true when two jsonb texts (jsonb_out's canonical form) hold equal JSON values
 * when parsed by JavaScript: numbers compare as IEEE doubles, everything else
 * to the byte.  What the original eventsDiff's deep equality saw.
 */
bool events_json_equal_js(const char *a, size_t alen, const char *b, size_t blen);
/*
 * true when copy is source as the original replicator wrote it: every number
 * that differs is the one JSON.stringify writes for the source's (12.50 as
 * 12.5, 1.0 as 1, 2^53 + 1 as 9007199254740992), everything else to the byte.
 */
bool events_json_as_original(const char *source, size_t slen, const char *copy, size_t clen);

#endif

/*
 * Start-up checks; each logs one error naming the role and what is wrong.
 * events_check_table: an events table with exactly (id bigint, ts timestamptz, event jsonb).
 * events_check_role: "source" needs the notify_insert trigger; "destination" must have
 *   neither that trigger nor an id table (it would be a source itself).
 * events_check_holes: count(*) = max - min + 1 (reads the primary key index once).
 */
bool events_check_table(slate_conn *c);
bool events_check_role(slate_conn *c, bool source);
bool events_check_holes(slate_conn *c);
