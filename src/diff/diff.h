/* diff.h - what the parts of slate-diff share: the two sides, the work list and the report */
#ifndef SLATE_DIFF_H
#define SLATE_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "events.h"

/* slate-diff's exit statuses (cmp(1)'s convention, not exitcodes.h: "differ" is not a failure) */
enum diff_exit {
	DIFF_EQUAL = 0,
	DIFF_DIFFERENT = 1,
	DIFF_TROUBLE = 2			/* bad options, unreachable database, missing table, stopped */
};

/* ids are checksummed in buckets of 1024 consecutive ids (id >> BUCKET_BITS) */
#define BUCKET_BITS 10
#define BUCKET_IDS (INT64_C(1) << BUCKET_BITS)
/* one checksum statement covers this many ids: 64 buckets */
#define CHUNK_IDS (64 * BUCKET_IDS)
/* hole ranges listed per side; the total is always counted */
#define HOLES_SHOWN 10

typedef struct hole
{
	int64_t		lo;
	int64_t		hi;
	bool		inside_bucket;	/* not located yet: somewhere in [lo, hi] */
} hole;

typedef struct side
{
	slate_conn	conn;
	const char *name;			/* "A" or "B" */
	events_ends ends;			/* first event and max(id) */
	bool		empty;
	int64_t		min_id;
	int64_t		max_id;
	uint64_t	rows;			/* counted by the checksum pass */
	bool		seen_bucket;	/* prev_max is valid */
	int64_t		prev_max;
	hole		holes[HOLES_SHOWN];
	int			nholes;
} side;

/* a stretch the checksum pass found different; the report pass works through them in id order */
typedef struct work_item
{
	char		kind;			/* 'D': bucket differs on both sides; 'A'/'B': ids only in that side */
	int64_t		lo;				/* 'D': first id of the bucket; 'A'/'B': first id */
	int64_t		hi;				/* last id (inclusive) */
	uint64_t	count;			/* 'A'/'B': ids in [lo, hi] */
	bool		joined;			/* no equal bucket between the previous item and this one */
} work_item;

typedef struct diff_state
{
	side		s[2];
	int64_t		max_diffs;		/* 0: no limit */
	bool		json_equal;		/* --json-equal: compare as the original eventsDiff did */

	work_item  *items;
	size_t		nitems;
	size_t		cap;
	bool		joined;			/* no equal bucket since the last item */

	/* ids only in one side, or 'O': differing only as the original replicator wrote them */
	char		run_side;		/* 0: none pending */
	bool		run_ts;			/* 'O': some ts cut to the millisecond */
	bool		run_event;		/* 'O': some JSON numbers re-serialised */
	int64_t		run_lo;
	int64_t		run_hi;
	uint64_t	run_count;

	uint64_t	diffs;			/* differing ids reported */
	uint64_t	original;		/* of them, differing only as the original replicator wrote them */
	bool		limit_reached;

	bool		tty;			/* progress as one updating line */
	double		started;
	double		last_progress;
	uint64_t	progress_rows;
} diff_state;

/* pair.c: run one statement on up to two connections at once, binary results */
bool pair_query(side *const *sides, int n, const char *what, const char *sql,
				int nparams, const char *const *params, PGresult **res);

/* compare.c */
/* the checksum pass: per-bucket checksums of both sides, filling d->items and the side counts */
bool compare_checksums(diff_state *d);
/* find the exact hole ranges the checksum pass could only place inside a bucket */
bool locate_holes(side *s);
/* the report pass: narrow each differing bucket to its ids and print one line per difference */
bool report_differences(diff_state *d);
/*
 * Two rows with the same id in the language of the comparison: exact (ORIGINAL
 * when one side is what the original replicator wrote for the other) or, with
 * --json-equal, the original eventsDiff's (what it saw as equal is SAME).
 */
events_match diff_ts_match(const diff_state *d, int64_t a, int64_t b);
events_match diff_event_match(const diff_state *d, const char *a, size_t alen, const char *b, size_t blen);

/* validate.c: check the loadgen invariants of each table; *problems gets how many were printed */
bool validate_tables(side *const *sides, int n, int64_t limit, uint64_t *problems);

#endif
