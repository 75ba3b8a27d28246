/* slate-codec - unit tests of the stream codec: write, read back, compare; cut and corrupt */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "stream.h"

static int	failures;

#define CHECK(cond, ...) \
	do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static const int64_t sample_ts[] = {
	0, 1, -1, 999999, -1000001, INT64_C(817000000000000),
	PG_TS_MIN, PG_TS_END - 1, INT64_C(-63000000000000)
};

static char big[100000];

/* a temporary file holding what the writer wrote; returns its fd at offset 0 */
static int
tmpfile_fd(void)
{
	char		path[] = "/tmp/slate-codec-XXXXXX";
	int			fd = mkstemp(path);

	if (fd < 0)
	{
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	return fd;
}

static void
write_sample(int fd, size_t *n_events)
{
	stream_writer *w = stream_writer_new(fd);
	stream_header h = {.version = 1, .producer = "slate-codec", .source = "host=x dbname=y",
	.after = 0, .source_max = 99, .has_first = true,
	.first = {.id = 1, .ts = 5, .event = "{\"a\": 1}", .event_len = 8}};
	uint64_t	id = 1;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char) ('a' + i % 26);
	CHECK(stream_write_header(w, &h), "header");
	for (size_t i = 0; i < sizeof(sample_ts) / sizeof(sample_ts[0]); i++)
	{
		stream_event e = {.id = id++, .ts = sample_ts[i], .event = "{\"k\": \"v\\\"é😀\"}", .event_len = 19};

		CHECK(stream_write_event(w, &e), "event");
	}
	{
		stream_event e = {.id = id++, .ts = 7, .event = big, .event_len = sizeof(big)};

		CHECK(stream_write_event(w, &e), "big event");
	}
	CHECK(stream_write_boundary(w, id - 1), "boundary");
	CHECK(stream_write_wake(w), "wake");
	CHECK(stream_write_end(w, id - 1, id - 1), "end");
	CHECK(stream_flush(w), "flush");
	stream_writer_free(w);
	*n_events = id - 1;
}

static void
test_round_trip(void)
{
	int			fd = tmpfile_fd();
	size_t		n;
	stream_reader *r;
	stream_msg	m;
	size_t		i = 0;

	write_sample(fd, &n);
	lseek(fd, 0, SEEK_SET);
	r = stream_reader_new(fd, "sample", 1 << 20);
	CHECK(stream_read(r, &m) == STREAM_MSG && m.type == MSG_HEADER, "header back");
	CHECK(m.hdr.version == 1 && strcmp(m.hdr.producer, "slate-codec") == 0 &&
		  strcmp(m.hdr.source, "host=x dbname=y") == 0 && m.hdr.source_max == 99 &&
		  m.hdr.has_first && m.hdr.first.id == 1 && m.hdr.first.ts == 5 &&
		  m.hdr.first.event_len == 8 && memcmp(m.hdr.first.event, "{\"a\": 1}", 8) == 0,
		  "header fields");
	for (i = 0; i < sizeof(sample_ts) / sizeof(sample_ts[0]); i++)
	{
		CHECK(stream_read(r, &m) == STREAM_MSG && m.type == MSG_EVENT, "event %zu back", i);
		CHECK(m.ev.id == i + 1 && m.ev.ts == sample_ts[i] && m.ev.event_len == 19 &&
			  memcmp(m.ev.event, "{\"k\": \"v\\\"é😀\"}", 19) == 0,
			  "event %zu: id %" PRIu64 " ts %" PRId64 " (want %" PRId64 ")", i, m.ev.id, m.ev.ts, sample_ts[i]);
	}
	CHECK(stream_read(r, &m) == STREAM_MSG && m.ev.event_len == sizeof(big) &&
		  memcmp(m.ev.event, big, sizeof(big)) == 0, "big event back");
	CHECK(stream_read(r, &m) == STREAM_MSG && m.type == MSG_BOUNDARY && m.last_id == n, "boundary back");
	CHECK(stream_read(r, &m) == STREAM_MSG && m.type == MSG_WAKE, "wake back");
	CHECK(stream_read(r, &m) == STREAM_MSG && m.type == MSG_END && m.last_id == n && m.count == n,
		  "end back");
	CHECK(stream_read(r, &m) == STREAM_EOF, "eof");
	stream_reader_free(r);
	close(fd);
	printf("ok round trip\n");
}

/* read_stream: read BUF (LEN bytes) through a stream reader from a file;
 * return the result that ended it and count the events delivered before */
static stream_read_result
read_stream(const char *buf, size_t len, const char *name, int *events, bool *saw_end)
{
	int			fd = tmpfile_fd();
	stream_reader *r;
	stream_msg	m;
	stream_read_result res;

	CHECK(write(fd, buf, len) == (ssize_t) len, "write");
	lseek(fd, 0, SEEK_SET);
	r = stream_reader_new(fd, name, 1 << 20);
	*events = 0;
	*saw_end = false;
	while ((res = stream_read(r, &m)) == STREAM_MSG)
	{
		*events += m.type == MSG_EVENT;
		*saw_end = m.type == MSG_END;
	}
	stream_reader_free(r);
	close(fd);
	return res;
}

#define MAX_MSGS 32

/*
 * Cuts: a cut between two messages reads to a clean EOF, any other cut is
 * reported, and no cut shows the end marker.  Flips: XOR 0x20 on a byte of
 * an event message (its keys, types, lengths, id, ts, text or crc) must be
 * reported every time, and the changed event never delivered: the crc
 * covers id, ts and text, anything else breaks the message's shape.  Bytes
 * of the header and the markers are not covered (a changed producer name or
 * last_id reads fine here; the loader's checks see those).
 */
static void
test_cuts_and_flips(void)
{
	int			fd = tmpfile_fd();
	size_t		n;
	off_t		len;
	char	   *all;
	uint64_t	start[MAX_MSGS + 1];
	stream_msg_type type[MAX_MSGS];
	int			msgs = 0,
				cuts = 0,
				cut_errors = 0,
				flips = 0,
				flip_errors = 0;

	write_sample(fd, &n);
	len = lseek(fd, 0, SEEK_END);
	all = malloc((size_t) len);
	CHECK(pread(fd, all, (size_t) len, 0) == len, "pread");

	/* where each message starts */
	{
		stream_reader *r;
		stream_msg	m;

		lseek(fd, 0, SEEK_SET);
		r = stream_reader_new(fd, "sample", 1 << 20);
		while (msgs < MAX_MSGS && stream_read(r, &m) == STREAM_MSG)
		{
			start[msgs] = stream_reader_offset(r);
			type[msgs++] = m.type;
		}
		stream_reader_free(r);
		start[msgs] = (uint64_t) len;
	}
	close(fd);
	CHECK(msgs == (int) n + 4, "%d messages, want %zu", msgs, n + 4);

	for (off_t cut = 0; cut < len; cut += (cut < 2000 ? 1 : 997))
	{
		bool		between = false,
					saw_end;
		int			events;
		stream_read_result res;

		for (int i = 0; i <= msgs; i++)
			between |= start[i] == (uint64_t) cut;
		res = read_stream(all, (size_t) cut, "cut", &events, &saw_end);
		cuts++;
		CHECK(!saw_end, "a cut stream at %jd showed its end marker", (intmax_t) cut);
		if (res == STREAM_ERROR)
			cut_errors++;
		CHECK(between ? res == STREAM_EOF : res == STREAM_ERROR,
			  "a cut at %jd (%s a message boundary) read as %s", (intmax_t) cut,
			  between ? "on" : "off", res == STREAM_EOF ? "a clean end" : "an error");
	}

	for (int i = 0, before = 0; i < msgs; i++)
	{
		uint64_t	size = start[i + 1] - start[i];

		if (type[i] != MSG_EVENT)
			continue;
		/* every byte of the small events; of the 100 kB one its first and
		 * last 300 bytes and every 97th between */
		for (uint64_t k = 0; k < size; k += (k < 300 || k + 300 >= size) ? 1 : 97)
		{
			uint64_t	at = start[i] + k;
			int			events;
			bool		saw_end;
			stream_read_result res;

			all[at] ^= 0x20;
			res = read_stream(all, (size_t) len, "flip", &events, &saw_end);
			all[at] ^= 0x20;
			flips++;
			if (res == STREAM_ERROR)
				flip_errors++;
			CHECK(res == STREAM_ERROR && events <= before,
				  "a flip at byte %" PRIu64 " (event %d's byte %" PRIu64 ") %s",
				  at, before + 1, k, res == STREAM_ERROR ?
				  "was reported after the changed event was delivered" : "was not reported");
		}
		before++;
	}
	free(all);
	CHECK(cut_errors > 0 && flips > 1000, "cuts %d flips %d", cut_errors, flips);
	printf("ok cuts (%d of %d reported) and flips in events (%d of %d reported)\n",
		   cut_errors, cuts, flip_errors, flips);
}

static void
test_timestamps(void)
{
	for (size_t i = 0; i < sizeof(sample_ts) / sizeof(sample_ts[0]); i++)
	{
		int64_t		sec,
					back;
		uint32_t	nsec;

		pg_ts_to_unix(sample_ts[i], &sec, &nsec);
		CHECK(nsec < 1000000000u && nsec % 1000 == 0, "nsec %u", nsec);
		CHECK(unix_to_pg_ts(sec, nsec, &back) && back == sample_ts[i], "ts %zu", i);
	}
	{
		int64_t		out;

		CHECK(!unix_to_pg_ts(0, 1, &out), "sub-microsecond refused");
		CHECK(!unix_to_pg_ts(0, 1000000000u, &out), "nsec >= 1e9 refused");
		CHECK(!unix_to_pg_ts(INT64_MAX, 0, &out), "far future refused");
		CHECK(!unix_to_pg_ts(INT64_MIN, 0, &out), "far past refused");
	}
	/* ISO 8601 for JSON lines: every sample prints and parses back exactly */
	for (size_t i = 0; i < sizeof(sample_ts) / sizeof(sample_ts[0]); i++)
	{
		char		iso[PG_TS_ISO_LEN + 1];
		size_t		n = pg_ts_format_iso(sample_ts[i], iso);
		int64_t		back = 0;

		iso[n] = '\0';
		CHECK(n <= PG_TS_ISO_LEN && pg_ts_parse(iso, n, &back) && back == sample_ts[i],
			  "iso %s (%" PRId64 ")", iso, sample_ts[i]);
	}
	{
		static const struct { const char *s; int64_t us; } known[] = {
			{"2000-01-01T00:00:00.000000+00:00", 0},
			{"2000-01-01", 0},
			{"2000-01-01T01:00+01:00", 0},
			{"1999-12-31 23:59:59.999999Z", -1},
			{"2000-01-01T00:00:00.5-00:30", 1800500000},
			{"2000-03-01T00:00:00Z", INT64_C(5184000000000)},	/* 2000 is a leap year */
			{"-4713-11-24T00:00:00Z", PG_TS_MIN},
		};
		static const char *bad[] = {
			"2000-02-30", "2001-02-29", "2000-01-01T24:00", "2000-01-01T00:00:00.1234567",
			"2000-1-01", "2000-01-01T00:00:00+16:00", "yesterday", "", "2000-01-01x",
			"-4713-11-23T23:59:59Z", "294277-01-01",
		};
		char		iso[PG_TS_ISO_LEN + 1];

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		{
			int64_t		us = 42;

			CHECK(pg_ts_parse(known[i].s, strlen(known[i].s), &us) && us == known[i].us,
				  "parse %s: %" PRId64, known[i].s, us);
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		{
			int64_t		us;

			CHECK(!pg_ts_parse(bad[i], strlen(bad[i]), &us), "refuse %s", bad[i]);
		}
		iso[pg_ts_format_iso(INT64_C(817000000000000), iso)] = '\0';
		CHECK(strcmp(iso, "2025-11-21T00:26:40.000000+00:00") == 0, "format: %s", iso);
	}
	printf("ok timestamps\n");
}

/* known answers (RFC 3720's vectors and the usual "123456789"), then the
 * instruction against the table over every length, offset and split */
static void
test_crc32c(void)
{
	unsigned char buf[64 + 8];
	uint32_t	seed = 12345;

	memset(buf, 0, 32);
	CHECK(crc32c(0, buf, 32) == 0x8a9136aau, "32 zeros: %08x", crc32c(0, buf, 32));
	memset(buf, 0xff, 32);
	CHECK(crc32c(0, buf, 32) == 0x62a8ab43u, "32 0xff: %08x", crc32c(0, buf, 32));
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char) i;
	CHECK(crc32c(0, buf, 32) == 0x46dd794eu, "0..31: %08x", crc32c(0, buf, 32));
	CHECK(crc32c(0, "123456789", 9) == 0xe3069283u, "123456789");
	CHECK(crc32c_portable(0, "123456789", 9) == 0xe3069283u, "123456789, table");

	for (size_t i = 0; i < sizeof(buf); i++)
	{
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char) (seed >> 16);
	}
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 64; len++)
		{
			uint32_t	want = crc32c_portable(0, buf + off, len);

			CHECK(crc32c(0, buf + off, len) == want, "offset %zu length %zu", off, len);
			for (size_t cut = 0; cut <= len; cut++)
				CHECK(crc32c(crc32c(0, buf + off, cut), buf + off + cut, len - cut) == want,
					  "offset %zu length %zu cut %zu", off, len, cut);
		}
	printf("ok crc32c\n");
}

int
main(void)
{
	test_crc32c();
	test_timestamps();
	test_round_trip();
	test_cuts_and_flips();
	if (failures)
		printf("not ok: %d failures\n", failures);
	return failures ? 1 : 0;
}
