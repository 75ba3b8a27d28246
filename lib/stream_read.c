/* stream_read.c - the reader of the slate msgpack stream v1 (see docs/stream-format.md) */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "io.h"
#include "signals.h"
#include "stream.h"

#define READ_CHUNK (64 * 1024)
#define MAX_MEMBERS 64			/* no message of the format has half as many */

/*
 * The guard walks the bytes before msgpack-c sees them.  msgpack-c allocates
 * room for a whole array or map as soon as it reads its header, so five
 * hostile bytes (a map32 of 2^32 - 1 members) would ask for 64 GB.  The
 * format has no containers but each message's map and the header's "first"
 * map inside it, so the guard refuses any other, and maps of more than
 * MAX_MEMBERS members.
 */
typedef struct guard
{
	uint64_t	pos;			/* stream offset of the next byte to look at */
	uint64_t	skip;			/* payload bytes still to pass over */
	uint64_t	left;			/* objects left in the current message */
	uint64_t	inner;			/* objects left in a map inside it */
	uint64_t	msg_start;		/* where the current message starts */
	uint8_t		hdr[9];			/* the header being collected */
	unsigned	hdr_len,
				hdr_need;
	uint64_t	bad_msg;		/* where the refused message starts */
	uint64_t	bad_at;			/* and the offending byte */
	const char *bad;			/* why, or NULL */
} guard;

struct stream_reader
{
	int			fd;
	const char *name;
	size_t		max_message;
	msgpack_unpacker up;
	msgpack_unpacked res;
	uint64_t	consumed;		/* bytes of the messages returned so far */
	uint64_t	msg_offset;		/* where the last message (or the damage) starts */
	bool		eof;
	bool		read_failed;	/* the last error was read() failing, not the bytes */
	guard		g;
	char		producer[256];
	char		source[512];
	char		filter[STREAM_FILTER_MAX];
	int			tee_fd;			/* -1, or where every byte read is copied */
	int			tee_errno;
	char		error[512];
};

stream_reader *
stream_reader_new(int fd, const char *name, size_t max_message)
{
	stream_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if (!msgpack_unpacker_init(&r->up, READ_CHUNK))
	{
		free(r);
		return NULL;
	}
	msgpack_unpacked_init(&r->res);
	r->fd = fd;
	r->name = name;
	r->max_message = max_message;
	r->tee_fd = -1;
	return r;
}

void
stream_reader_tee(stream_reader *r, int fd)
{
	r->tee_fd = fd;
}

int
stream_reader_tee_errno(const stream_reader *r)
{
	return r->tee_errno;
}

void
stream_reader_free(stream_reader *r)
{
	if (r == NULL)
		return;
	msgpack_unpacked_destroy(&r->res);
	msgpack_unpacker_destroy(&r->up);
	free(r);
}

const char *
stream_reader_error(const stream_reader *r)
{
	return r->error;
}

bool
stream_reader_read_failed(const stream_reader *r)
{
	return r->read_failed;
}

uint64_t
stream_reader_offset(const stream_reader *r)
{
	return r->msg_offset;
}

const char *
stream_msg_type_name(stream_msg_type t)
{
	switch (t)
	{
		case MSG_HEADER: return "header";
		case MSG_EVENT: return "event";
		case MSG_BOUNDARY: return "boundary";
		case MSG_END: return "end";
		case MSG_WAKE: return "wake";
	}
	return "?";
}

static stream_read_result
fail(stream_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static stream_read_result
fail(stream_reader *r, const char *fmt, ...)
{
	va_list		ap;
	int			n;

	n = snprintf(r->error, sizeof(r->error), "%s: byte offset %" PRIu64 ": ",
				 r->name, r->msg_offset);
	va_start(ap, fmt);
	vsnprintf(r->error + n, sizeof(r->error) - (size_t) n, fmt, ap);
	va_end(ap);
	return STREAM_ERROR;
}

static bool
key_is(const msgpack_object_kv *kv, const char *key)
{
	size_t		n = strlen(key);

	return kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
		memcmp(kv->key.via.str.ptr, key, n) == 0;
}

static bool
get_uint(const msgpack_object *o, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*v = o->via.u64;
	return true;
}

/* copy a str object into a NUL-terminated buffer; false if not a str or too long */
static bool
get_cstr(const msgpack_object *o, char *buf, size_t n)
{
	/* msgpack-c leaves ptr NULL for an empty str, which memchr and memcpy must not see */
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= n ||
		(o->via.str.size > 0 && memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL))
		return false;
	if (o->via.str.size > 0)
		memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	return true;
}

/*
 * Decode the id/ts/event members of map m into e; "what" names the message in
 * errors.  An optional "crc" (see stream_event_crc) must match; *crc_seen
 * (unless NULL) says whether there was one.
 */
static stream_read_result
decode_event(stream_reader *r, const msgpack_object_map *m, stream_event *e, const char *what,
			 bool *crc_seen)
{
	bool		has_id = false,
				has_ts = false,
				has_event = false,
				has_crc = false;
	uint64_t	crc = 0;

	for (uint32_t i = 0; i < m->size; i++)
	{
		const msgpack_object_kv *kv = &m->ptr[i];

		if (key_is(kv, "id"))
		{
			if (!get_uint(&kv->val, &e->id) || e->id == 0 || e->id > INT64_MAX)
				return fail(r, "%s: \"id\" is not an integer from 1 to 2^63-1", what);
			has_id = true;
		}
		else if (key_is(kv, "ts"))
		{
			msgpack_timestamp t;

			if (!msgpack_object_to_timestamp(&kv->val, &t))
				return fail(r, "%s: \"ts\" is not a msgpack timestamp", what);
			if (!unix_to_pg_ts(t.tv_sec, t.tv_nsec, &e->ts))
				return fail(r, "%s: \"ts\" is not whole microseconds within PostgreSQL's range", what);
			has_ts = true;
		}
		else if (key_is(kv, "event"))
		{
			if (kv->val.type != MSGPACK_OBJECT_STR)
				return fail(r, "%s: \"event\" is not a string", what);
			e->event = kv->val.via.str.ptr;
			e->event_len = kv->val.via.str.size;
			has_event = true;
		}
		else if (key_is(kv, "crc"))
		{
			if (!get_uint(&kv->val, &crc) || crc > UINT32_MAX)
				return fail(r, "%s: \"crc\" is not a 32-bit unsigned integer", what);
			has_crc = true;
		}
		else if (key_is(kv, "type"))
			continue;
		else
			return fail(r, "%s: unexpected member", what);
	}
	if (!has_id || !has_ts || !has_event)
		return fail(r, "%s: missing \"%s\"", what, !has_id ? "id" : !has_ts ? "ts" : "event");
	if (crc_seen != NULL)
		*crc_seen = has_crc;
	if (has_crc && crc != stream_event_crc(e))
		return fail(r, "%s id %" PRIu64 ": checksum mismatch (the message is corrupt)", what, e->id);
	return STREAM_MSG;
}

static stream_read_result
decode_header(stream_reader *r, const msgpack_object_map *m, stream_header *h)
{
	uint64_t	version = 0;
	bool		has_after = false,
				has_max = false,
				has_first = false;

	memset(h, 0, sizeof(*h));
	r->producer[0] = r->source[0] = r->filter[0] = '\0';
	for (uint32_t i = 0; i < m->size; i++)
	{
		const msgpack_object_kv *kv = &m->ptr[i];

		if (key_is(kv, "type"))
			continue;
		else if (key_is(kv, "version"))
		{
			if (!get_uint(&kv->val, &version))
				return fail(r, "header: \"version\" is not an integer");
		}
		else if (key_is(kv, "producer"))
		{
			if (!get_cstr(&kv->val, r->producer, sizeof(r->producer)))
				return fail(r, "header: \"producer\" is not a short string");
		}
		else if (key_is(kv, "source"))
		{
			if (!get_cstr(&kv->val, r->source, sizeof(r->source)))
				return fail(r, "header: \"source\" is not a short string");
		}
		else if (key_is(kv, "after"))
		{
			if (!get_uint(&kv->val, &h->after) || h->after > INT64_MAX)
				return fail(r, "header: \"after\" is not an id");
			has_after = true;
		}
		else if (key_is(kv, "source_max"))
		{
			if (!get_uint(&kv->val, &h->source_max) || h->source_max > INT64_MAX)
				return fail(r, "header: \"source_max\" is not an id");
			has_max = true;
		}
		else if (key_is(kv, "filter"))
		{
			if (!get_cstr(&kv->val, r->filter, sizeof(r->filter)) || r->filter[0] == '\0')
				return fail(r, "header: \"filter\" is not a non-empty string of at most %d bytes",
							STREAM_FILTER_MAX - 1);
			h->filter = r->filter;
		}
		else if (key_is(kv, "first"))
		{
			has_first = true;
			if (kv->val.type == MSGPACK_OBJECT_NIL)
				continue;
			if (kv->val.type != MSGPACK_OBJECT_MAP)
				return fail(r, "header: \"first\" is neither nil nor a map");
			if (decode_event(r, &kv->val.via.map, &h->first, "header \"first\"", NULL) != STREAM_MSG)
				return STREAM_ERROR;
			h->has_first = true;
		}
		else
			return fail(r, "header: unexpected member");
	}
	if (version != STREAM_VERSION)
		return fail(r, "header: stream format version %" PRIu64 " is not supported (this reads %d)",
					version, STREAM_VERSION);
	if (!has_after || !has_max || !has_first)
		return fail(r, "header: missing \"%s\"", !has_after ? "after" : !has_max ? "source_max" : "first");
	h->version = (int) version;
	h->producer = r->producer;
	h->source = r->source;
	return STREAM_MSG;
}

/* decode the members of an end or boundary message */
static stream_read_result
decode_marker(stream_reader *r, const msgpack_object_map *m, stream_msg *msg)
{
	bool		has_last = false,
				has_count = false;

	for (uint32_t i = 0; i < m->size; i++)
	{
		const msgpack_object_kv *kv = &m->ptr[i];

		if (key_is(kv, "type"))
			continue;
		else if (key_is(kv, "last_id"))
		{
			if (!get_uint(&kv->val, &msg->last_id) || msg->last_id > INT64_MAX)
				return fail(r, "%s: \"last_id\" is not an id", stream_msg_type_name(msg->type));
			has_last = true;
		}
		else if (key_is(kv, "count") && msg->type == MSG_END)
		{
			if (!get_uint(&kv->val, &msg->count))
				return fail(r, "end: \"count\" is not an integer");
			has_count = true;
		}
		else
			return fail(r, "%s: unexpected member", stream_msg_type_name(msg->type));
	}
	if (!has_last || (msg->type == MSG_END && !has_count))
		return fail(r, "%s: missing \"%s\"", stream_msg_type_name(msg->type),
					!has_last ? "last_id" : "count");
	return STREAM_MSG;
}

static stream_read_result
decode(stream_reader *r, const msgpack_object *o, stream_msg *msg)
{
	const msgpack_object_map *m;
	const msgpack_object *type = NULL;

	if (o->type != MSGPACK_OBJECT_MAP)
		return fail(r, "message is not a map");
	m = &o->via.map;
	for (uint32_t i = 0; i < m->size; i++)
		if (key_is(&m->ptr[i], "type"))
			type = &m->ptr[i].val;
	if (type == NULL || type->type != MSGPACK_OBJECT_STR)
		return fail(r, "message has no \"type\" string");

#define TYPE_IS(s) (type->via.str.size == sizeof(s) - 1 && memcmp(type->via.str.ptr, s, sizeof(s) - 1) == 0)
	memset(msg, 0, sizeof(*msg));
	if (TYPE_IS("event"))
	{
		msg->type = MSG_EVENT;
		return decode_event(r, m, &msg->ev, "event", &msg->ev_has_crc);
	}
	if (TYPE_IS("boundary") || TYPE_IS("end"))
	{
		msg->type = TYPE_IS("end") ? MSG_END : MSG_BOUNDARY;
		return decode_marker(r, m, msg);
	}
	if (TYPE_IS("header"))
	{
		msg->type = MSG_HEADER;
		return decode_header(r, m, &msg->hdr);
	}
	if (TYPE_IS("wake"))
	{
		msg->type = MSG_WAKE;
		return m->size == 1 ? STREAM_MSG : fail(r, "wake: unexpected member");
	}
#undef TYPE_IS
	return fail(r, "unknown message type");
}

static uint64_t
be(const uint8_t *p, unsigned n)
{
	uint64_t	v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/* header size of an object starting with byte b (the type byte and its length) */
static unsigned
header_size(uint8_t b)
{
	switch (b)
	{
		case 0xc4: case 0xd9: return 2;	/* bin8, str8 */
		case 0xc5: case 0xda: case 0xdc: case 0xde: return 3;	/* 16-bit lengths */
		case 0xc6: case 0xdb: case 0xdd: case 0xdf: return 5;	/* 32-bit lengths */
		case 0xc7: return 3;	/* ext8: length, type */
		case 0xc8: return 4;
		case 0xc9: return 6;
	}
	return 1;
}

/* the object whose header is g->hdr: note its payload, refuse containers */
static void
guard_object(guard *g, uint64_t at)
{
	uint8_t		b = g->hdr[0];
	uint64_t	n = 0;
	bool		map = false,
				container = false;

	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc1 || b == 0xc2 || b == 0xc3)
		;
	else if (b <= 0x8f)
		map = container = true, n = b & 0x0f;
	else if (b <= 0x9f)
		container = true, n = b & 0x0f;
	else if (b <= 0xbf)
		g->skip = b & 0x1f;
	else if (b == 0xdc || b == 0xdd)
		container = true, n = be(g->hdr + 1, g->hdr_len - 1);
	else if (b == 0xde || b == 0xdf)
		map = container = true, n = be(g->hdr + 1, g->hdr_len - 1);
	else if (b == 0xc4 || b == 0xc5 || b == 0xc6 || b == 0xd9 || b == 0xda || b == 0xdb)
		g->skip = be(g->hdr + 1, g->hdr_len - 1);
	else if (b == 0xc7 || b == 0xc8 || b == 0xc9)
		g->skip = be(g->hdr + 1, g->hdr_len - 2);
	else if (b >= 0xd4 && b <= 0xd8)
		g->skip = 1 + (1u << (b - 0xd4));	/* fixext: type and 1..16 bytes */
	else
		g->skip = (b == 0xca || b == 0xce || b == 0xd2) ? 4 :
			(b == 0xcb || b == 0xcf || b == 0xd3) ? 8 :
			(b == 0xcd || b == 0xd1) ? 2 : 1;	/* float, uint, int */

	if (g->inner == 0 && g->left == 0)
		g->msg_start = at;		/* the first object of a message */
	if (b == 0xc1)
		g->bad = "malformed msgpack (byte 0xc1)";
	else if (g->inner > 0)
	{
		/* a member of the header's "first": no deeper containers */
		g->inner--;
		if (container)
			g->bad = "array or map nested too deeply (the format has none)";
	}
	else if (g->left == 0)
	{
		/* the message itself: a small map, if a container */
		if (container && !map)
			g->bad = "message is an array, not a map";
		else if (n > MAX_MEMBERS)
			g->bad = "message map has too many members";
		else
			g->left = 2 * n;
	}
	else
	{
		/* a key or value of the message; a value may be a small map */
		g->left--;
		if (container && !map)
			g->bad = "array inside a message (the format has none)";
		else if (n > MAX_MEMBERS)
			g->bad = "map inside a message has too many members";
		else
			g->inner = 2 * n;
	}
	if (g->bad != NULL)
	{
		g->bad_msg = g->msg_start;
		g->bad_at = at;
	}
}

/* look at the stream bytes p[0..n), which start at stream offset g->pos */
static void
guard_scan(guard *g, const uint8_t *p, size_t n)
{
	size_t		i = 0;

	while (i < n && g->bad == NULL)
	{
		if (g->skip > 0)
		{
			size_t		k = g->skip < n - i ? (size_t) g->skip : n - i;

			g->skip -= k;
			i += k;
			continue;
		}
		if (g->hdr_len == 0)
			g->hdr_need = header_size(p[i]);
		g->hdr[g->hdr_len++] = p[i++];
		if (g->hdr_len == g->hdr_need)
		{
			guard_object(g, g->pos + i - g->hdr_len);
			g->hdr_len = 0;
		}
	}
	g->pos += i;
}

/* pass the unpacker's unread bytes not yet looked at through the guard */
static void
guard_update(stream_reader *r)
{
	uint64_t	at_off = r->consumed + r->up.parsed;	/* stream offset of buffer[off] */
	size_t		from = r->up.off + (size_t) (r->g.pos - at_off);

	if (r->g.bad == NULL && from < r->up.used)
		guard_scan(&r->g, (const uint8_t *) r->up.buffer + from, r->up.used - from);
}

/* read more input into the unpacker: 1 got bytes, 0 EOF, or a final result */
static int
fill(stream_reader *r)
{
	ssize_t		n;

	if (r->fd < 0)
		return 0;				/* a fed reader: the bytes fed so far are all there is */
	if (!msgpack_unpacker_reserve_buffer(&r->up, READ_CHUNK))
		return fail(r, "out of memory"), -1;
	n = io_read(r->fd, msgpack_unpacker_buffer(&r->up), msgpack_unpacker_buffer_capacity(&r->up));
	if (n < 0)
	{
		if (errno == EINTR && stop_requested)
			return -2;
		r->read_failed = true;
		return fail(r, "read error: %s", strerror(errno)), -1;
	}
	if (n == 0)
		return 0;
	if (r->tee_fd >= 0 && !io_write_all(r->tee_fd, msgpack_unpacker_buffer(&r->up), (size_t) n))
	{
		r->tee_errno = errno;
		return fail(r, "could not pass the stream on: %s", strerror(errno)), -1;
	}
	msgpack_unpacker_buffer_consumed(&r->up, (size_t) n);
	return 1;
}

/*
 * The fast path.  Nearly every message of a stream is an event as our writer
 * lays it out: a map of five, "type": "event", "id", "ts", "event", "crc" in
 * that order, each number and length in msgpack's shortest form.  Such a
 * message is decoded here straight from the buffer, without msgpack-c's
 * object tree (a zone, a map of five key/value objects) and without the
 * guard's byte walk: it holds no container.  It must decode exactly as the
 * general path would; anything else (another message, another layout, a bad
 * value, a checksum mismatch) is left to the general path, which also words
 * every error.  Returns 1 with *msg and *size filled, 0 for "not this way",
 * and -1 when the bytes so far are such an event but it is not all buffered.
 */
static const uint8_t event_head[] = {
	0x85, 0xa4, 't', 'y', 'p', 'e', 0xa5, 'e', 'v', 'e', 'n', 't', 0xa2, 'i', 'd'
};

/* a non-negative integer at p[*i], within n bytes: 1 ok, 0 other type, -1 cut */
static int
fast_uint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	uint8_t		b;
	unsigned	len;

	if (*i >= n)
		return -1;
	b = p[*i];
	if (b <= 0x7f)
	{
		*v = b;
		(*i)++;
		return 1;
	}
	if (b < 0xcc || b > 0xcf)
		return 0;
	len = 1u << (b - 0xcc);
	if (n - *i < 1 + len)
		return -1;
	*v = be(p + *i + 1, len);
	*i += 1 + len;
	return 1;
}

/* the bytes of key k (a fixstr of len < 32) at p[*i]: 1 yes, 0 no, -1 cut */
static int
fast_key(const uint8_t *p, size_t n, size_t *i, const char *k, size_t len)
{
	size_t		have = n - *i;

	/* "cut" only when the bytes there so far match: never wait for a message that is whole */
	if (have == 0)
		return -1;
	if (p[*i] != (0xa0 | len) || memcmp(p + *i + 1, k, have - 1 < len ? have - 1 : len) != 0)
		return 0;
	if (have < 1 + len)
		return -1;
	*i += 1 + len;
	return 1;
}

static int
fast_event(stream_reader *r, stream_msg *msg, size_t *size)
{
	const uint8_t *p = (const uint8_t *) r->up.buffer + r->up.off;
	size_t		n = r->up.used - r->up.off;
	size_t		i = sizeof(event_head);
	uint64_t	id,
				crc,
				len,
				v;
	int64_t		sec;
	uint32_t	nsec;
	int			k;

	if (n < sizeof(event_head))
		return n == 0 || memcmp(p, event_head, n) == 0 ? -1 : 0;
	if (memcmp(p, event_head, sizeof(event_head)) != 0)
		return 0;
	if ((k = fast_uint(p, n, &i, &id)) <= 0)
		return k;
	if ((k = fast_key(p, n, &i, "ts", 2)) <= 0)
		return k;
	/* timestamp ext (type -1) of 4, 8 or 12 bytes, as msgpack_object_to_timestamp reads it */
	if (i >= n)
		return -1;
	if (p[i] != 0xd6 && p[i] != 0xd7 && p[i] != 0xc7)
		return 0;
	if (n - i < 3)
		return -1;
	if (p[i] == 0xd6 && p[i + 1] == 0xff)
	{
		if (n - i < 6)
			return -1;
		sec = (int64_t) be(p + i + 2, 4);
		nsec = 0;
		i += 6;
	}
	else if (p[i] == 0xd7 && p[i + 1] == 0xff)
	{
		if (n - i < 10)
			return -1;
		v = be(p + i + 2, 8);
		nsec = (uint32_t) (v >> 34);
		sec = (int64_t) (v & UINT64_C(0x3ffffffff));
		i += 10;
	}
	else if (p[i] == 0xc7 && p[i + 1] == 12 && p[i + 2] == 0xff)
	{
		if (n - i < 15)
			return -1;
		nsec = (uint32_t) be(p + i + 3, 4);
		sec = (int64_t) be(p + i + 7, 8);
		i += 15;
	}
	else
		return 0;
	if ((k = fast_key(p, n, &i, "event", 5)) <= 0)
		return k;
	if (i >= n)
		return -1;
	if (p[i] >= 0xa0 && p[i] <= 0xbf)
		len = p[i++] & 0x1f;
	else if (p[i] >= 0xd9 && p[i] <= 0xdb)
	{
		unsigned	w = 1u << (p[i] - 0xd9);

		if (n - i < 1 + w)
			return -1;
		len = be(p + i + 1, w);
		i += 1 + w;
	}
	else
		return 0;
	/* the event text, then "crc" (4 bytes) and its value, at most a uint64 (9) */
	if (len > r->max_message || i + len + 4 + 9 > r->max_message)
		return 0;				/* the general path refuses it in its words */
	if (n - i < len)
		return -1;
	msg->ev.event = (const char *) p + i;
	msg->ev.event_len = (size_t) len;
	i += len;
	if ((k = fast_key(p, n, &i, "crc", 3)) <= 0 || (k = fast_uint(p, n, &i, &crc)) <= 0)
		return k;
	if (id == 0 || id > INT64_MAX || crc > UINT32_MAX || !unix_to_pg_ts(sec, nsec, &msg->ev.ts))
		return 0;
	msg->ev.id = id;
	if ((uint32_t) crc != stream_event_crc(&msg->ev))
		return 0;
	msg->type = MSG_EVENT;
	msg->ev_has_crc = true;
	*size = i;
	return 1;
}

/* after the fast path took the message at r->consumed, size bytes long */
static void
fast_consumed(stream_reader *r, size_t size)
{
	r->up.off += size;
	r->consumed += size;
	/* a guard short of the message's end would have ended it clean there */
	if (r->g.pos < r->consumed)
	{
		r->g.pos = r->consumed;
		r->g.skip = r->g.left = r->g.inner = 0;
		r->g.hdr_len = 0;
	}
	/* the previous message is the caller's no more, as after msgpack_unpacker_next */
	msgpack_unpacked_destroy(&r->res);
}

stream_read_result
stream_read(stream_reader *r, stream_msg *msg)
{
	for (;;)
	{
		size_t		size = 0;
		msgpack_unpack_return ret;
		int			got;

		if (stop_requested)
			return STREAM_STOP;
		r->msg_offset = r->consumed;
		if (r->up.parsed == 0)
		{
			int			fast;

			/* an event's fields only: the header's are large, and no event reads them */
			msg->type = MSG_EVENT;
			memset(&msg->ev, 0, sizeof(msg->ev));
			msg->ev_has_crc = false;
			msg->last_id = msg->count = 0;
			fast = fast_event(r, msg, &size);
			if (fast > 0)
			{
				fast_consumed(r, size);
				return STREAM_MSG;
			}
			if (fast < 0 && !r->eof && r->fd >= 0)
			{
				/* more of it to read; one read at EOF, which a terminal does not repeat */
				got = fill(r);
				if (got == -2)
					return STREAM_STOP;
				if (got < 0)
					return STREAM_ERROR;
				if (got > 0)
					continue;
				r->eof = true;
				if (r->up.used > r->up.off)
					return fail(r, "input ends inside a message (the stream was cut)");
				return STREAM_EOF;
			}
		}
		guard_update(r);
		if (r->g.bad != NULL && r->g.bad_msg == r->consumed)
		{
			r->msg_offset = r->g.bad_at;
			return fail(r, "%s", r->g.bad);
		}
		ret = msgpack_unpacker_next_with_size(&r->up, &r->res, &size);
		if (ret == MSGPACK_UNPACK_SUCCESS)
		{
			r->consumed += size;
			return decode(r, &r->res.data, msg);
		}
		if (ret == MSGPACK_UNPACK_PARSE_ERROR)
			return fail(r, "malformed msgpack");
		if (ret != MSGPACK_UNPACK_CONTINUE)
			return fail(r, "message nested too deeply or too large to decode");
		if (msgpack_unpacker_message_size(&r->up) > r->max_message)
			return fail(r, "message larger than the limit of %zu bytes", r->max_message);
		if (r->eof)
			return STREAM_EOF;
		got = fill(r);
		if (got == -2)
			return STREAM_STOP;
		if (got < 0)
			return STREAM_ERROR;
		if (got == 0)
		{
			r->eof = true;
			if (msgpack_unpacker_message_size(&r->up) > 0)
				return fail(r, "input ends inside a message (the stream was cut)");
			return STREAM_EOF;
		}
	}
}

bool
stream_reader_feed(stream_reader *r, const void *buf, size_t len)
{
	if (!msgpack_unpacker_reserve_buffer(&r->up, len))
		return false;
	memcpy(msgpack_unpacker_buffer(&r->up), buf, len);
	msgpack_unpacker_buffer_consumed(&r->up, len);
	r->eof = false;
	return true;
}

bool
stream_reader_buffered(const stream_reader *r)
{
	/* unparsed bytes may hold a complete message; the caller tries before it waits */
	return r->up.used > r->up.off;
}

bool
stream_reader_idle(stream_reader *r)
{
	return !stream_reader_buffered(r) && !r->eof && !io_readable(r->fd, 0);
}
