/* gen.h - slate-loadgen's event series (people, deletions and filler; or the perf series), grouped into transactions */
#ifndef SLATE_LOADGEN_GEN_H
#define SLATE_LOADGEN_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* a growable byte buffer; after a failed allocation it stays "failed" and ignores appends */
typedef struct strbuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		failed;
} strbuf;

void sb_reserve(strbuf *b, size_t more);
void sb_put(strbuf *b, const char *s, size_t n);
void sb_free(strbuf *b);

typedef enum gen_kind
{
	GEN_PERSON_CREATED,
	GEN_PERSON_NAME_ADDED,
	GEN_PERSON_SSN_ADDED,
	GEN_PERSON_DELETED,
	GEN_FILLER,
	/* the series of the original's loadPerfTestData */
	GEN_USER_CREATED,
	GEN_USER_PHONE_CHANGED,
	GEN_USER_NAME_ADDED,
	GEN_USER_PHONE_ADDED,
	GEN_FILLER_CREATED,
	GEN_FILLER_CHANGED,
	GEN_NKINDS
} gen_kind;

/* the perf series: 3 users of 4 events each, between consecutive ones filler events */
#define GEN_PERF_USERS 3
#define GEN_PERF_USER_EVENTS 4
#define GEN_PERF_FILLER_ENTITIES 1000
#define GEN_PERF_INITIATORS 30

typedef struct gen_item
{
	gen_kind	kind;
	int64_t		person;			/* index of the person, for person events */
} gen_item;

typedef struct generator
{
	uint64_t	rng;			/* splitmix64 state: everything random comes from here */
	uint64_t	person_key;		/* person i's UUID is derived from (person_key, i) */
	char		program_id[37];
	char		initiators[8][37];	/* the application's users */

	/* the perf series (perf is true): what gen_init_perf sets up */
	bool		perf;
	int64_t		perf_between;	/* filler events between consecutive user events */
	int64_t		perf_max;		/* events per transaction at most */
	int64_t		perf_total;
	int64_t		perf_done;
	char		perf_users[GEN_PERF_USERS][37];
	char		perf_initiators[GEN_PERF_INITIATORS][37];
	uint32_t   *filler_events;	/* events so far of each filler entity */
	uint32_t   *filler_order;	/* this round's order of the filler entities */
	int			filler_next;	/* position in filler_order */

	int64_t		persons;		/* to create */
	int64_t		persons_made;
	int64_t		deletes_left;
	int64_t		fillers_left;
	uint8_t    *deleted;		/* bitmap over persons */

	int64_t		op_num;			/* dbOperationNum of the current transaction */
	char		op_id[37];

	/* the current transaction: events as JSON text back to back */
	gen_item   *items;
	size_t		items_cap;
	size_t		count;
	strbuf		json;
	size_t	   *offs;			/* event k is json.data[offs[k] .. offs[k+1]) */
	size_t		offs_cap;

	/* totals */
	int64_t		events;
	int64_t		bytes;
	int64_t		by_kind[GEN_NKINDS];
} generator;

/*
 * Set up a run: persons people (3 events each), up to deletes deletions of
 * earlier people (at most one per person), fillers filler events.
 * Returns false when out of memory.
 */
bool gen_init(generator *g, uint64_t seed, int64_t persons, int64_t deletes, int64_t fillers);
/*
 * Set up the original loadPerfTestData's series instead: user events with
 * between filler events between consecutive ones (11 * between + 12 events),
 * at most max_per_txn events per transaction.  Returns false when out of memory.
 */
bool gen_init_perf(generator *g, uint64_t seed, int64_t between, int64_t max_per_txn);
void gen_free(generator *g);

/* events still to generate */
int64_t gen_remaining(const generator *g);

/*
 * Build the next transaction (one insert_events call, one "db operation") into
 * g->json / g->offs / g->count; op_ts is its dbOperationTS.  Returns the number
 * of events, 0 when the run is complete, -1 when out of memory.
 */
int gen_next_txn(generator *g, const char *op_ts);

const char *gen_kind_name(gen_kind k);

/* format Unix microseconds as an ISO 8601 UTC time with milliseconds (buf >= 32 bytes) */
void gen_format_ts(int64_t unix_us, char *buf, size_t n);

#endif
