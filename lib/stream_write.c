/* stream_write.c - the writer of the slate msgpack stream v1 (see docs/stream-format.md) */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "crc32c.h"
#include "io.h"
#include "stream.h"

#define WBUF_SIZE (64 * 1024)

struct stream_writer
{
	int			fd;
	size_t		len;
	size_t		cap;
	bool		hold;			/* grow instead of flushing (stream_writer_hold) */
	msgpack_packer pk;
	char	   *buf;
};

/* make room for len more bytes in hold mode; false when out of memory */
static bool
writer_grow(stream_writer *w, size_t len)
{
	size_t		cap = w->cap;
	char	   *p;

	while (len > cap - w->len)
	{
		if (cap > SIZE_MAX / 2)
			return false;
		cap *= 2;
	}
	if (cap == w->cap)
		return true;
	if ((p = realloc(w->buf, cap)) == NULL)
		return false;
	w->buf = p;
	w->cap = cap;
	return true;
}

/* msgpack_packer callback: append to our buffer, flushing when full */
static int
writer_append(void *data, const char *buf, size_t len)
{
	stream_writer *w = data;

	if (w->hold)
	{
		if (!writer_grow(w, len))
		{
			errno = ENOMEM;
			return -1;
		}
	}
	else if (len > WBUF_SIZE - w->len)
	{
		if (!stream_flush(w))
			return -1;
		if (len > WBUF_SIZE)
			return io_write_all(w->fd, buf, len) ? 0 : -1;
	}
	memcpy(w->buf + w->len, buf, len);
	w->len += len;
	return 0;
}

stream_writer *
stream_writer_new(int fd)
{
	stream_writer *w = malloc(sizeof(*w));

	if (w == NULL)
		return NULL;
	if ((w->buf = malloc(WBUF_SIZE)) == NULL)
	{
		free(w);
		return NULL;
	}
	w->fd = fd;
	w->len = 0;
	w->cap = WBUF_SIZE;
	w->hold = false;
	msgpack_packer_init(&w->pk, w, writer_append);
	return w;
}

void
stream_writer_free(stream_writer *w)
{
	if (w == NULL)
		return;
	free(w->buf);
	free(w);
}

void
stream_writer_hold(stream_writer *w, bool hold)
{
	w->hold = hold;
}

void
stream_writer_discard(stream_writer *w)
{
	w->len = 0;
}

/* the flush that ends a header, end or wake: none while holding */
static bool
writer_sync(stream_writer *w)
{
	return w->hold || stream_flush(w);
}

bool
stream_flush(stream_writer *w)
{
	if (w->len == 0)
		return true;
	if (!io_write_all(w->fd, w->buf, w->len))
		return false;
	w->len = 0;
	return true;
}

static int
pack_key(msgpack_packer *pk, const char *key)
{
	size_t		n = strlen(key);

	return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, key, n);
}

static int
pack_type(msgpack_packer *pk, size_t members, const char *type)
{
	return msgpack_pack_map(pk, members) || pack_key(pk, "type") || pack_key(pk, type);
}

static int
pack_ts(msgpack_packer *pk, int64_t pg_us)
{
	msgpack_timestamp t;

	pg_ts_to_unix(pg_us, &t.tv_sec, &t.tv_nsec);
	return msgpack_pack_timestamp(pk, &t);
}

/* id, ts and event members, shared by event messages and the header's "first" */
static int
pack_event_members(msgpack_packer *pk, const stream_event *e)
{
	return pack_key(pk, "id") || msgpack_pack_uint64(pk, e->id) ||
		pack_key(pk, "ts") || pack_ts(pk, e->ts) ||
		pack_key(pk, "event") || msgpack_pack_str(pk, e->event_len) ||
		msgpack_pack_str_body(pk, e->event, e->event_len);
}

uint32_t
stream_event_crc(const stream_event *e)
{
	unsigned char head[20];
	int64_t		sec;
	uint32_t	nsec;

	pg_ts_to_unix(e->ts, &sec, &nsec);
	for (int i = 0; i < 8; i++)
		head[i] = (unsigned char) (e->id >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		head[8 + i] = (unsigned char) (nsec >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		head[12 + i] = (unsigned char) ((uint64_t) sec >> (56 - 8 * i));
	return crc32c(crc32c(0, head, sizeof(head)), e->event, e->event_len);
}

bool
stream_write_event(stream_writer *w, const stream_event *e)
{
	return !(pack_type(&w->pk, 5, "event") || pack_event_members(&w->pk, e) ||
			 pack_key(&w->pk, "crc") || msgpack_pack_uint32(&w->pk, stream_event_crc(e)));
}

bool
stream_write_header(stream_writer *w, const stream_header *h)
{
	msgpack_packer *pk = &w->pk;

	if (pack_type(pk, h->filter != NULL ? 8 : 7, "header") ||
		pack_key(pk, "version") || msgpack_pack_int(pk, STREAM_VERSION) ||
		pack_key(pk, "producer") || pack_key(pk, h->producer) ||
		pack_key(pk, "source") || pack_key(pk, h->source) ||
		pack_key(pk, "after") || msgpack_pack_uint64(pk, h->after) ||
		pack_key(pk, "source_max") || msgpack_pack_uint64(pk, h->source_max) ||
		pack_key(pk, "first"))
		return false;
	if (!h->has_first ? msgpack_pack_nil(pk) != 0 :
		(msgpack_pack_map(pk, 3) || pack_event_members(pk, &h->first)))
		return false;
	/* last, so a replica's header is the same bytes as before filters existed */
	if (h->filter != NULL && (pack_key(pk, "filter") || pack_key(pk, h->filter)))
		return false;
	return writer_sync(w);
}

bool
stream_write_boundary(stream_writer *w, uint64_t last_id)
{
	return !(pack_type(&w->pk, 2, "boundary") ||
			 pack_key(&w->pk, "last_id") || msgpack_pack_uint64(&w->pk, last_id));
}

bool
stream_write_end(stream_writer *w, uint64_t last_id, uint64_t count)
{
	return !(pack_type(&w->pk, 3, "end") ||
			 pack_key(&w->pk, "last_id") || msgpack_pack_uint64(&w->pk, last_id) ||
			 pack_key(&w->pk, "count") || msgpack_pack_uint64(&w->pk, count)) &&
		writer_sync(w);
}

bool
stream_write_wake(stream_writer *w)
{
	return pack_type(&w->pk, 1, "wake") == 0 && writer_sync(w);
}

/* msgpack_packer callback for stream_encode_event: append to a bounded buffer */
typedef struct mem_out
{
	char	   *buf;
	size_t		size,
				len;
} mem_out;

static int
mem_append(void *data, const char *buf, size_t len)
{
	mem_out    *m = data;

	if (len > m->size - m->len)
		return -1;
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return 0;
}

size_t
stream_encode_event(const stream_event *e, char *buf, size_t size)
{
	mem_out		m = {buf, size, 0};
	msgpack_packer pk;

	msgpack_packer_init(&pk, &m, mem_append);
	if (pack_type(&pk, 5, "event") || pack_event_members(&pk, e) ||
		pack_key(&pk, "crc") || msgpack_pack_uint32(&pk, stream_event_crc(e)))
		return 0;
	return m.len;
}
