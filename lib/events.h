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
