/* stream.h - the slate msgpack event stream v1: message types, reader and writer */
#ifndef SLATE_STREAM_H
#define SLATE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STREAM_VERSION 1

/* PostgreSQL's timestamp range, in microseconds since 2000-01-01 00:00:00 UTC */
#define PG_TS_MIN INT64_C(-211813488000000000)
#define PG_TS_END INT64_C(9223371331200000000)

typedef enum stream_msg_type
{
	MSG_HEADER = 1,
	MSG_EVENT,
	MSG_BOUNDARY,
	MSG_END,
	MSG_WAKE
} stream_msg_type;

/* One event; ts is PostgreSQL's: microseconds since 2000-01-01 UTC. */
typedef struct stream_event
{
	uint64_t	id;
	int64_t		ts;
	const char *event;			/* jsonb text, not NUL-terminated */
	size_t		event_len;
} stream_event;

/*
 * The "crc" of an event message: CRC-32C over the id (8 bytes big-endian),
 * the ts in msgpack's 96-bit timestamp form (nanoseconds 4 bytes, seconds
 * 8 bytes, big-endian) and the event text.
 */
uint32_t stream_event_crc(const stream_event *e);

typedef struct stream_header
{
	int			version;
	const char *producer;		/* NUL-terminated copies owned by the reader */
	const char *source;			/* password-free description */
	uint64_t	after;			/* the stream starts after this id */
	uint64_t	source_max;		/* max(id) of the source when the stream began */
	bool		has_first;		/* source not empty: first holds its first event */
	stream_event first;
	/*
	 * NULL for a replica's stream.  Otherwise the selection of a filtered
	 * extract (slate-extract --since, --entity-id, ...): its ids only rise,
	 * it is no prefix of the source and must never be loaded into a
	 * destination.  At most STREAM_FILTER_MAX - 1 bytes.
	 */
	const char *filter;
} stream_header;

#define STREAM_FILTER_MAX 4096

typedef struct stream_msg
{
	stream_msg_type type;
	stream_event ev;			/* MSG_EVENT */
	bool		ev_has_crc;		/* MSG_EVENT: it carried a "crc" (which matched) */
	stream_header hdr;			/* MSG_HEADER */
	uint64_t	last_id;		/* MSG_BOUNDARY, MSG_END: last event id before it (0: none) */
	uint64_t	count;			/* MSG_END: events in the stream */
} stream_msg;

/* ---- writer: buffers into a fixed buffer and flushes with io_write_all ---- */

typedef struct stream_writer stream_writer;

stream_writer *stream_writer_new(int fd);
void stream_writer_free(stream_writer *w);
bool stream_write_header(stream_writer *w, const stream_header *h);
bool stream_write_event(stream_writer *w, const stream_event *e);
bool stream_write_boundary(stream_writer *w, uint64_t last_id);
bool stream_write_end(stream_writer *w, uint64_t last_id, uint64_t count);
bool stream_write_wake(stream_writer *w);
/*
 * The bytes of one event message, as stream_write_event writes them, into
 * buf (for a broker's message body).  Returns the length, 0 when size is too
 * small; STREAM_EVENT_OVERHEAD bytes beyond the event text always suffice.
 */
#define STREAM_EVENT_OVERHEAD 96
size_t stream_encode_event(const stream_event *e, char *buf, size_t size);
/* push buffered bytes to fd; false with errno on failure (EPIPE: reader gone) */
bool stream_flush(stream_writer *w);
/*
 * Hold mode: keep everything written in memory (growing as needed) until
 * the next explicit stream_flush, so a writer can commit whole transactions
 * only.  The header and end functions do not flush while holding.
 */
void stream_writer_hold(stream_writer *w, bool hold);
/* drop the bytes written since the last flush (with hold mode: the unfinished transaction) */
void stream_writer_discard(stream_writer *w);

/* ---- reader ---- */

typedef struct stream_reader stream_reader;

typedef enum stream_read_result
{
	STREAM_MSG = 1,				/* *msg holds the next message */
	STREAM_EOF = 0,				/* clean end of input at a message boundary */
	STREAM_ERROR = -1,			/* bad or cut input, see stream_reader_error() */
	STREAM_STOP = -2			/* a stop was requested while waiting */
} stream_read_result;

/* name is used in messages ("stdin", a file name) */
stream_reader *stream_reader_new(int fd, const char *name, size_t max_message);
void stream_reader_free(stream_reader *r);
/*
 * Read the next message.  Pointers in *msg stay valid until the next call
 * to stream_read or stream_reader_feed on the same reader.
 * On STREAM_ERROR, stream_reader_error() says what and where (byte offset).
 */
stream_read_result stream_read(stream_reader *r, stream_msg *msg);
const char *stream_reader_error(const stream_reader *r);
/* true when that error is the input failing to read (EIO, EISDIR...), not bad bytes */
bool stream_reader_read_failed(const stream_reader *r);
/* byte offset of the start of the message last returned (or of the damage) */
uint64_t stream_reader_offset(const stream_reader *r);
/*
 * Messages that arrive whole from elsewhere (a broker's message bodies): a
 * reader made with fd -1 reads only what was fed to it, and stream_read
 * returns STREAM_EOF when that is used up (an error if it ends inside a
 * message).  false when out of memory.
 */
bool stream_reader_feed(stream_reader *r, const void *buf, size_t len);
/* true when no complete message is buffered and the fd has nothing to read now */
bool stream_reader_idle(stream_reader *r);
/* true when stream_read would return without blocking */
bool stream_reader_buffered(const stream_reader *r);
/*
 * Copy every byte read, as read, to fd (slate-cat --info --pass).  A failed
 * copy ends reading with STREAM_ERROR; stream_reader_tee_errno() then says why.
 */
void stream_reader_tee(stream_reader *r, int fd);
int stream_reader_tee_errno(const stream_reader *r);

const char *stream_msg_type_name(stream_msg_type t);

/* ts helpers: PostgreSQL microseconds <-> Unix seconds + nanoseconds */
void pg_ts_to_unix(int64_t pg_us, int64_t *sec, uint32_t *nsec);
/* false when nsec is not whole microseconds or the result is outside PostgreSQL's range */
bool unix_to_pg_ts(int64_t sec, uint32_t nsec, int64_t *pg_us);
/* format a PostgreSQL ts as ISO 8601 UTC (buf >= 40 bytes) */
void pg_ts_format(int64_t pg_us, char *buf, size_t n);
/*
 * ISO 8601 exact to the microsecond with an explicit offset, as JSON lines
 * carry it: "2026-12-05T06:27:46.248123+00:00" (years outside 0..9999 get a
 * sign and more digits).  buf >= PG_TS_ISO_LEN + 1 bytes; returns the length.
 */
#define PG_TS_ISO_LEN 40
size_t pg_ts_format_iso(int64_t pg_us, char *buf);
/*
 * Parse s[0..len): [+-]YYYY-MM-DD, then optionally [T ]HH:MM[:SS[.ffffff]]
 * and Z or an offset [+-]HH[:MM] (none: UTC).  False when malformed, finer
 * than a microsecond or outside PostgreSQL's range.
 */
bool pg_ts_parse(const char *s, size_t len, int64_t *pg_us);

#endif
