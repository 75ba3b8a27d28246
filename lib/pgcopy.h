/* pgcopy.h - PostgreSQL's binary COPY format for the events columns (id, ts, event) */
#ifndef SLATE_PGCOPY_H
#define SLATE_PGCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

#define PGCOPY_HEADER_LEN 19
#define PGCOPY_TRAILER_LEN 2
/* bytes one event takes: field count, three lengths, id, ts, jsonb version byte */
#define PGCOPY_EVENT_OVERHEAD (2 + 4 + 8 + 4 + 8 + 4 + 1)

/* the file header of a binary COPY (signature, flags, no extension) */
extern const char pgcopy_header[PGCOPY_HEADER_LEN];
extern const char pgcopy_trailer[PGCOPY_TRAILER_LEN];

/*
 * Parse one CopyData message of "COPY (SELECT id, ts, event ...) TO STDOUT (FORMAT binary)".
 * The first message carries the file header; *header_seen tracks it.
 * Returns 1 with *e filled (pointing into buf), 0 for the trailer, -1 if malformed.
 */
int pgcopy_parse_row(const char *buf, size_t len, bool *header_seen, stream_event *e);

/* encode e as one binary COPY row into dst (PGCOPY_EVENT_OVERHEAD + e->event_len bytes) */
size_t pgcopy_encode_event(char *dst, const stream_event *e);

/* big-endian helpers for binary results, COPY rows and array parameters */
int64_t pg_get_int64(const char *p);
uint32_t pg_get_uint32(const char *p);
void pg_put_uint32(char *p, uint32_t v);

#endif
