/* cat.h - slate-cat's parts: the stream checker, JSON lines out and in */
#ifndef SLATE_CAT_H
#define SLATE_CAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

#define PROG "slate-cat"
/* the most one message may take: a jsonb value is at most 255 MB (as slate-load) */
#define MAX_MESSAGE (256 * 1024 * 1024)

/* ---- check.c: what a well-formed stream is, message by message ---- */

typedef struct checker
{
	bool		in_stream;		/* a header came and no end yet */
	bool		ended;			/* the last stream got its end */
	bool		filtered;		/* its header has a "filter": ids only rise */
	bool		marker;			/* a boundary came since the last event */
	bool		new_txn;		/* the last event began a source transaction */
	uint64_t	after;
	uint64_t	prev;			/* last event id, or after */
	uint64_t	count;			/* events in this stream */
	uint64_t	txns;			/* transactions in this stream */
	uint64_t	txn_total;		/* transactions over all streams (numbering) */
	uint64_t	crcs;			/* events that carried a checksum */
	uint64_t	streams;
	int64_t		first_ts,
				last_ts;
	uint64_t	first_id;
	char		error[256];
} checker;

void		checker_init(checker *c);
/*
 * Take the next message.  False with c->error saying what is wrong (no
 * place: the caller knows the byte offset or line).  For an event,
 * c->new_txn tells afterwards whether it began a transaction.
 */
bool		checker_take(checker *c, const stream_msg *m);

/* ---- json.c: just enough JSON for JSON lines ---- */

/* a scanned value: its bytes in the line */
typedef struct json_span
{
	const char *p;
	size_t		len;
} json_span;

/*
 * Check that s[0..len) holds one JSON value (RFC 8259, UTF-8, no \u0000:
 * what jsonb accepts), surrounded by white space at most.  False with why.
 */
bool		json_valid(const char *s, size_t len, const char **why);
/*
 * Scan the value at *p (leading white space skipped), set *v to its bytes
 * and move *p past it.  False with *why when it is not valid JSON.
 */
bool		json_scan(const char **p, const char *end, json_span *v, const char **why);
/* a JSON string's contents, unescaped into buf (NUL-terminated); false if not a string or too long */
bool		json_string(json_span v, char *buf, size_t n);
/* a JSON non-negative integer up to max; false otherwise */
bool		json_uint(json_span v, uint64_t max, uint64_t *out);

/* ---- out.c: buffered stdout ---- */

bool		out_put(const void *p, size_t n);
bool		out_str(const char *s);
bool		out_flush(void);
/* s as a JSON string, quotes included */
bool		out_json_string(const char *s);

/* ---- encode.c ---- */

/* slate-cat --encode: JSON lines from the files (NULL: stdin) to a stream on stdout; the exit status */
int			encode_main(char **files, int nfiles);

#endif
