/*
 * load.h - what the parts of slate-load share: its state and the batcher
 *
 * main.c reads the stream and checks each message; check.c holds the
 * start-up checks of the destination (header, first and last event, the
 * writer lock); batch.c is the transaction batcher, which alone decides
 * what is written and when it commits; restore.c the --restore target.
 *
 * The invariant lives in batch.c: a source transaction (consecutive events
 * with the same ts) is held until the next ts or a boundary marker shows it
 * is whole, and only whole transactions are committed.  A transaction
 * bigger than HOLD_CAP is streamed into a batch of its own instead, which
 * commits at its end or is abandoned whole.  Whole transactions go in by
 * COPY (a backlog: many per batch, committed when idle or at
 * --max-events-per-write) or, idle with one small transaction, by one
 * prepared INSERT (the live path: one round trip).
 */
#ifndef SLATE_LOAD_H
#define SLATE_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "events.h"
#include "repair.h"
#include "stream.h"

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

/* batch.c: the transaction batcher */
bool		batch_event(load *l, const stream_event *e);
bool		batch_boundary(load *l, bool idle);
bool		batch_finish(load *l);
bool		batch_end(load *l, const char *abort_reason);
void		batch_salvage(load *l);
void		log_commit(load *l, bool final);

/* check.c: the destination against the stream */
bool		check_header(load *l, const stream_header *h);
bool		check_last(load *l, const stream_event *e);
bool		take_lock(load *l);

/* restore.c: --restore, a source as the target */
bool		restore_check(load *l);
bool		restore_batch_begin(load *l);
bool		restore_batch_end(load *l, bool commit);
bool		restore_same_last(load *l, const stream_event *e);

#endif
