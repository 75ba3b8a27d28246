/* pgcopy.c - PostgreSQL's binary COPY format for the events columns (id, ts, event) */
#include <stdint.h>
#include <string.h>

#include "pgcopy.h"

const char	pgcopy_header[PGCOPY_HEADER_LEN] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
const char	pgcopy_trailer[PGCOPY_TRAILER_LEN] = "\377\377";

uint32_t
pg_get_uint32(const char *p)
{
	const unsigned char *u = (const unsigned char *) p;

	return (uint32_t) u[0] << 24 | (uint32_t) u[1] << 16 | (uint32_t) u[2] << 8 | u[3];
}

int64_t
pg_get_int64(const char *p)
{
	uint64_t	v = (uint64_t) pg_get_uint32(p) << 32 | pg_get_uint32(p + 4);

	return (int64_t) v;
}

static void
put16(char *p, uint16_t v)
{
	p[0] = (char) (v >> 8);
	p[1] = (char) v;
}

void
pg_put_uint32(char *p, uint32_t v)
{
	p[0] = (char) (v >> 24);
	p[1] = (char) (v >> 16);
	p[2] = (char) (v >> 8);
	p[3] = (char) v;
}

static void
put64(char *p, uint64_t v)
{
	pg_put_uint32(p, (uint32_t) (v >> 32));
	pg_put_uint32(p + 4, (uint32_t) v);
}

int
pgcopy_parse_row(const char *buf, size_t len, bool *header_seen, stream_event *e)
{
	const char *p = buf;
	const char *end = buf + len;
	uint32_t	n;

	if (!*header_seen)
	{
		if (len < PGCOPY_HEADER_LEN || memcmp(p, pgcopy_header, 11) != 0)
			return -1;
		n = pg_get_uint32(p + 15);		/* header extension length */
		if (n > len - PGCOPY_HEADER_LEN)
			return -1;
		p += PGCOPY_HEADER_LEN + n;
		*header_seen = true;
	}
	if (end - p < 2)
		return -1;
	if ((unsigned char) p[0] == 0xff && (unsigned char) p[1] == 0xff)
		return 0;
	if (p[0] != 0 || p[1] != 3)
		return -1;
	p += 2;
	if (end - p < 4 + 8 + 4 + 8 + 4 || pg_get_uint32(p) != 8 || pg_get_uint32(p + 12) != 8)
		return -1;
	e->id = (uint64_t) pg_get_int64(p + 4);
	e->ts = pg_get_int64(p + 16);
	n = pg_get_uint32(p + 24);
	p += 28;
	/* jsonb's binary form: a version byte (1), then the text jsonb_out prints */
	if (n == 0 || n > (size_t) (end - p) || p[0] != 1)
		return -1;
	e->event = p + 1;
	e->event_len = n - 1;
	return 1;
}

size_t
pgcopy_encode_event(char *dst, const stream_event *e)
{
	put16(dst, 3);
	pg_put_uint32(dst + 2, 8);
	put64(dst + 6, e->id);
	pg_put_uint32(dst + 14, 8);
	put64(dst + 18, (uint64_t) e->ts);
	pg_put_uint32(dst + 26, (uint32_t) (e->event_len + 1));
	dst[30] = 1;
	memcpy(dst + 31, e->event, e->event_len);
	return PGCOPY_EVENT_OVERHEAD + e->event_len;
}
