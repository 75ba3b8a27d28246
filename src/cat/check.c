/* check.c - the order of a slate stream's messages, as slate-load expects it, and its facts */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cat.h"

void
checker_init(checker *c)
{
	memset(c, 0, sizeof(*c));
}

static bool
wrong(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool
wrong(checker *c, const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return false;
}

bool
checker_take(checker *c, const stream_msg *m)
{
	if (m->type == MSG_WAKE)
		return true;			/* slate-listen's; it says nothing about events */
	if (m->type == MSG_HEADER)
	{
		if (c->in_stream)
			return wrong(c, "a header in the middle of a stream (no end marker before it)");
		c->in_stream = true;
		c->ended = false;
		c->filtered = m->hdr.filter != NULL;
		c->after = c->prev = m->hdr.after;
		c->count = c->txns = c->crcs = 0;
		c->streams++;
		return true;
	}
	if (!c->in_stream)
		return wrong(c, c->ended ? "%s after the end marker" : "%s before any header",
					 stream_msg_type_name(m->type));
	if (m->type == MSG_EVENT)
	{
		const stream_event *e = &m->ev;

		if (c->filtered ? e->id <= c->prev : e->id != c->prev + 1)
			return wrong(c, "event id %" PRIu64 " follows id %" PRIu64 " (ids must rise%s)",
						 e->id, c->prev, c->filtered ? "" : " by 1");
		/* a source transaction's events share one ts */
		c->new_txn = c->marker || c->count == 0 || e->ts != c->last_ts;
		c->marker = false;
		if (c->new_txn)
		{
			c->txns++;
			c->txn_total++;
		}
		if (c->count == 0)
		{
			c->first_id = e->id;
			c->first_ts = e->ts;
		}
		c->prev = e->id;
		c->last_ts = e->ts;
		c->count++;
		c->crcs += m->ev_has_crc;
		return true;
	}
	/* boundary or end */
	if (m->last_id != c->prev)
		return wrong(c, "%s marker says last_id %" PRIu64 " but the stream is at id %" PRIu64,
					 stream_msg_type_name(m->type), m->last_id, c->prev);
	if (m->type == MSG_END && m->count != c->count)
		return wrong(c, "end marker says count %" PRIu64 " but the stream held %" PRIu64 " events",
					 m->count, c->count);
	c->marker = true;			/* a boundary also ends a transaction of equal ts */
	if (m->type == MSG_END)
	{
		c->in_stream = false;
		c->ended = true;
	}
	return true;
}
