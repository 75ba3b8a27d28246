/* stream_reader.c - libFuzzer harness: any bytes through the stream reader, whole and in pieces */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crc32c.h"
#include "stream.h"

/*
 * Small enough that inputs of a few hundred kB reach the size limit, large
 * enough for every message of the seed corpus.
 */
#define MAX_MESSAGE (128 * 1024)
#define MAX_RECORDS 128		/* pieces per input in the chunked pass */
#define MAX_PIECE (64 * 1024)	/* the reader always offers at least this much room */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* what one pass read: a digest of every message and how it ended */
typedef struct outcome
{
	uint64_t	nmsgs;
	uint32_t	digest;
	stream_read_result end;
	uint64_t	offset;
	char		error[512];
} outcome;

static int	whole_fd = -1;		/* memfd holding the input */
static int	again_fd = -1;		/* memfd holding the re-encoded messages */

static void
die(const char *what)
{
	fprintf(stderr, "stream_reader harness: %s\n", what);
	abort();
}

static uint32_t
fold(uint32_t crc, const void *p, size_t n)
{
	return crc32c(crc, p, n);
}

static uint32_t
fold_event(uint32_t crc, const stream_event *e)
{
	char		buf[64];

	/* what the reader promises about an event it returns */
	if (e->id == 0 || e->id > INT64_MAX || e->ts < PG_TS_MIN || e->ts >= PG_TS_END ||
		(e->event_len > 0 && e->event == NULL))
		die("the reader returned an event outside its contract");
	pg_ts_format(e->ts, buf, sizeof(buf));
	crc = fold(crc, buf, strlen(buf));
	crc = fold(crc, &e->id, sizeof(e->id));
	crc = fold(crc, &e->ts, sizeof(e->ts));
	crc = fold(crc, &e->event_len, sizeof(e->event_len));
	return fold(crc, e->event, e->event_len);
}

static uint32_t
fold_msg(uint32_t crc, const stream_msg *m)
{
	crc = fold(crc, &m->type, sizeof(m->type));
	switch (m->type)
	{
		case MSG_EVENT:
			return fold_event(crc, &m->ev);
		case MSG_HEADER:
			if (m->hdr.version != STREAM_VERSION || strlen(m->hdr.producer) >= 256 ||
				strlen(m->hdr.source) >= 512 || m->hdr.after > INT64_MAX ||
				m->hdr.source_max > INT64_MAX)
				die("the reader returned a header outside its contract");
			crc = fold(crc, m->hdr.producer, strlen(m->hdr.producer) + 1);
			crc = fold(crc, m->hdr.source, strlen(m->hdr.source) + 1);
			crc = fold(crc, &m->hdr.after, sizeof(m->hdr.after));
			crc = fold(crc, &m->hdr.source_max, sizeof(m->hdr.source_max));
			crc = fold(crc, &m->hdr.has_first, sizeof(m->hdr.has_first));
			return m->hdr.has_first ? fold_event(crc, &m->hdr.first) : crc;
		case MSG_END:
			crc = fold(crc, &m->count, sizeof(m->count));
			/* fall through */
		case MSG_BOUNDARY:
			if (m->last_id > INT64_MAX)
				die("the reader returned a marker outside its contract");
			return fold(crc, &m->last_id, sizeof(m->last_id));
		case MSG_WAKE:
			return crc;
	}
	die("the reader returned an unknown message type");
	return crc;
}

/* write m again with the writer (w may be NULL: don't) */
static void
rewrite(stream_writer *w, const stream_msg *m)
{
	bool		ok = true;

	if (w == NULL)
		return;
	switch (m->type)
	{
		case MSG_EVENT: ok = stream_write_event(w, &m->ev); break;
		case MSG_HEADER: ok = stream_write_header(w, &m->hdr); break;
		case MSG_BOUNDARY: ok = stream_write_boundary(w, m->last_id); break;
		case MSG_END: ok = stream_write_end(w, m->last_id, m->count); break;
		case MSG_WAKE: ok = stream_write_wake(w); break;
	}
	if (!ok)
		die("the writer failed");
}

/* read all of fd into *o, re-encoding every message into w (may be NULL) */
static void
read_all(int fd, outcome *o, stream_writer *w)
{
	stream_reader *r = stream_reader_new(fd, "fuzz", MAX_MESSAGE);
	stream_msg	m;

	if (r == NULL)
		die("out of memory");
	memset(o, 0, sizeof(*o));
	for (;;)
	{
		o->end = stream_read(r, &m);
		(void) stream_reader_buffered(r);
		if (o->end != STREAM_MSG)
			break;
		o->nmsgs++;
		o->digest = fold_msg(o->digest, &m);
		rewrite(w, &m);
	}
	o->offset = stream_reader_offset(r);
	if (o->end == STREAM_ERROR)
	{
		snprintf(o->error, sizeof(o->error), "%s", stream_reader_error(r));
		if (strstr(o->error, "byte offset") == NULL)
			die("an error message without the byte offset");
	}
	else if (o->end != STREAM_EOF)
		die("stream_read returned neither a message, EOF nor an error");
	stream_reader_free(r);
}

static void
fill_memfd(int fd, const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) != 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t) size) ||
		lseek(fd, 0, SEEK_SET) != 0)
		die("cannot write the memfd");
}

typedef struct feeder
{
	int			fd;
	const uint8_t *data;
	size_t		size,
				piece,
				off;
} feeder;

/* send records of f->piece bytes from f->off on; false when the socket is full */
static bool
feed_some(feeder *f, int flags)
{
	for (; f->off < f->size; f->off += f->piece)
	{
		size_t		n = f->size - f->off < f->piece ? f->size - f->off : f->piece;

		if (send(f->fd, f->data + f->off, n, MSG_NOSIGNAL | flags) != (ssize_t) n)
			return false;
	}
	return true;
}

/* thread: send the rest, then EOF */
static void *
feed(void *arg)
{
	feeder	   *f = arg;

	(void) feed_some(f, 0);		/* fails only when the reader stopped early */
	close(f->fd);
	return NULL;
}

/*
 * Read the input again, arriving in pieces: a SOCK_SEQPACKET socket returns
 * one record per read, so the reader sees exactly these boundaries.  With a
 * send buffer large enough (root may force one) every record is queued before
 * reading; otherwise a thread sends what did not fit.
 */
static void
read_in_pieces(const uint8_t *data, size_t size, size_t piece, outcome *o)
{
	int			sv[2];
	int			big = 16 * 1024 * 1024;
	pthread_t	t;
	feeder		f;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		die("socketpair failed");
	(void) setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	f.fd = sv[1];
	f.data = data;
	f.size = size;
	f.piece = piece;
	f.off = 0;
	if (feed_some(&f, MSG_DONTWAIT))
	{
		close(sv[1]);
		read_all(sv[0], o, NULL);
		close(sv[0]);
		return;
	}
	if (pthread_create(&t, NULL, feed, &f) != 0)
		die("pthread_create failed");
	read_all(sv[0], o, NULL);
	close(sv[0]);
	pthread_join(t, NULL);
}

static bool
same(const outcome *a, const outcome *b)
{
	return a->nmsgs == b->nmsgs && a->digest == b->digest && a->end == b->end &&
		a->offset == b->offset && strcmp(a->error, b->error) == 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	whole_fd = memfd_create("fuzz-input", 0);
	again_fd = memfd_create("fuzz-again", 0);
	if (whole_fd < 0 || again_fd < 0)
		die("memfd_create failed");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	outcome		whole,
				again,
				pieces;
	stream_writer *w;
	uint32_t	h = crc32c(0, data, size);
	size_t		piece;
	off_t		len;

	/* 1. the whole input at once, re-encoding every message it yields */
	fill_memfd(whole_fd, data, size);
	if (ftruncate(again_fd, 0) != 0 || lseek(again_fd, 0, SEEK_SET) != 0)
		die("cannot reset the memfd");
	if ((w = stream_writer_new(again_fd)) == NULL)
		die("out of memory");
	read_all(whole_fd, &whole, w);
	if (!stream_flush(w))
		die("the writer failed to flush");
	stream_writer_free(w);

	/* 2. what the writer wrote reads back as the same messages */
	len = lseek(again_fd, 0, SEEK_CUR);
	if (lseek(again_fd, 0, SEEK_SET) != 0)
		die("lseek failed");
	read_all(again_fd, &again, NULL);
	if (again.end != STREAM_EOF || again.nmsgs != whole.nmsgs || again.digest != whole.digest)
	{
		fprintf(stderr, "re-encoded %lld bytes: %llu messages (%s), originally %llu\n",
				(long long) len, (unsigned long long) again.nmsgs, again.error,
				(unsigned long long) whole.nmsgs);
		die("the writer's encoding of the messages read differs from them");
	}

	/*
	 * 3. the same bytes in pieces (of a size picked from the input) give the
	 * same outcome; only where the size limit is noticed may differ by a read
	 */
	piece = (h & 3) == 0 ? 1 : (h & 3) == 1 ? 1 + (h >> 8) % 16 : 1 + (h >> 8) % MAX_PIECE;
	if (size / piece > MAX_RECORDS)
		piece = size / MAX_RECORDS + 1;
	read_in_pieces(data, size, piece, &pieces);
	if (!same(&whole, &pieces) && strstr(whole.error, "limit") == NULL &&
		strstr(pieces.error, "limit") == NULL)
	{
		fprintf(stderr, "whole: %llu messages, end %d at %llu: %s\n"
				"pieces of %zu: %llu messages, end %d at %llu: %s\n",
				(unsigned long long) whole.nmsgs, whole.end, (unsigned long long) whole.offset,
				whole.error, piece, (unsigned long long) pieces.nmsgs, pieces.end,
				(unsigned long long) pieces.offset, pieces.error);
		die("reading in pieces changed the outcome");
	}
	return 0;
}
