/* encode.c - slate-cat --encode: JSON lines (slate-cat's own output, or hand-written) to a stream */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cat.h"
#include "exitcodes.h"
#include "log.h"
#include "signals.h"
#include "version.h"

/* the members a line may have; each at most once */
enum member
{
	M_TYPE, M_ID, M_TS, M_EVENT, M_TXN, M_VERSION, M_PRODUCER, M_SOURCE, M_AFTER,
	M_SOURCE_MAX, M_FIRST, M_FILTER, M_LAST_ID, M_COUNT, M_N
};

static const char *const member_names[M_N] = {
	"type", "id", "ts", "event", "txn", "version", "producer", "source", "after",
	"source_max", "first", "filter", "last_id", "count"
};

typedef struct line
{
	json_span	v[M_N];
	unsigned	has;			/* bit per member */
} line;

typedef struct encoder
{
	stream_writer *w;
	checker		ck;
	const char *name;			/* of the input being read, for messages */
	uint64_t	lineno;
	bool		synth;			/* this stream's header was made up: no header line */
	uint64_t	written;		/* the last event id flushed (whole transactions) */
	bool		unmarked;		/* no marker follows it yet in the output */
	bool		has_txn;		/* the last event had a "txn" */
	uint64_t	last_txn;
	char		producer[256];	/* the reader's limits, so what we write reads back */
	char		source[512];
	char		filter[STREAM_FILTER_MAX];
	char		error[512];
} encoder;

static bool
bad(encoder *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* note what is wrong with the current line; false */
static bool
bad(encoder *x, const char *fmt, ...)
{
	va_list		ap;
	int			n;

	n = snprintf(x->error, sizeof(x->error), "%s: line %" PRIu64 ": ", x->name, x->lineno);
	va_start(ap, fmt);
	vsnprintf(x->error + n, sizeof(x->error) - (size_t) n, fmt, ap);
	va_end(ap);
	return false;
}

/* split an object line into its known members */
static bool
parse_members(encoder *x, const char *s, size_t len, line *l)
{
	const char *p = s,
			   *end = s + len,
			   *why = NULL;

	memset(l, 0, sizeof(*l));
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != '{')
		return bad(x, "not a JSON object");
	p++;
	for (;;)
	{
		json_span	key,
					val;
		int			m;

		if (!json_scan(&p, end, &key, &why))
			return bad(x, "%s", why);
		if (l->has == 0 && key.len == 0)
			break;
		if (key.p[0] != '"')
			return bad(x, "expected a member name");
		for (m = 0; m < M_N; m++)
			if (key.len == strlen(member_names[m]) + 2 &&
				memcmp(key.p + 1, member_names[m], key.len - 2) == 0)
				break;
		if (m == M_N)
			return bad(x, "unexpected member %.*s", (int) (key.len > 64 ? 64 : key.len), key.p);
		if (l->has & (1u << m))
			return bad(x, "\"%s\" appears twice", member_names[m]);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || *p++ != ':')
			return bad(x, "expected ':' after \"%s\"", member_names[m]);
		if (!json_scan(&p, end, &val, &why))
			return bad(x, "\"%s\": %s", member_names[m], why);
		l->v[m] = val;
		l->has |= 1u << m;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p == ',')
		{
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		return bad(x, "expected ',' or '}' after \"%s\"", member_names[m]);
	}
	p++;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	if (p != end)
		return bad(x, "text after the object");
	return true;
}

static bool
get_id(encoder *x, const line *l, int m, uint64_t *id, uint64_t min)
{
	if (!(l->has & (1u << m)))
		return bad(x, "\"%s\" is missing", member_names[m]);
	if (!json_uint(l->v[m], INT64_MAX, id) || *id < min)
		return bad(x, "\"%s\" is not an integer from %" PRIu64 " to 2^63-1", member_names[m], min);
	return true;
}

static bool
get_str(encoder *x, const line *l, int m, char *buf, size_t n)
{
	if (!(l->has & (1u << m)))
		return bad(x, "\"%s\" is missing", member_names[m]);
	if (!json_string(l->v[m], buf, n))
		return bad(x, "\"%s\" is not a string of at most %zu bytes", member_names[m], n - 1);
	return true;
}

/* id, ts and event of an event line, or of the header's "first" */
static bool
get_event(encoder *x, const line *l, stream_event *e)
{
	char		ts[64];

	if (!get_id(x, l, M_ID, &e->id, 1))
		return false;
	if (!(l->has & (1u << M_TS)) || !json_string(l->v[M_TS], ts, sizeof(ts)))
		return bad(x, "\"ts\" is %s", l->has & (1u << M_TS) ? "not a string" : "missing");
	if (!pg_ts_parse(ts, strlen(ts), &e->ts))
		return bad(x, "\"ts\" \"%s\" is not an ISO 8601 time exact to the microsecond "
				   "within PostgreSQL's range (e.g. 2026-12-05T06:27:46.248123+00:00)", ts);
	if (!(l->has & (1u << M_EVENT)))
		return bad(x, "\"event\" is missing");
	/* the text goes into the stream as written: jsonb's form if it came from slate-cat */
	e->event = l->v[M_EVENT].p;
	e->event_len = l->v[M_EVENT].len;
	return true;
}

/* only the members in allowed */
static bool
only(encoder *x, const line *l, unsigned allowed, const char *what)
{
	unsigned	extra = l->has & ~allowed;

	for (int m = 0; m < M_N; m++)
		if (extra & (1u << m))
			return bad(x, "%s line with \"%s\"", what, member_names[m]);
	return true;
}

#define BIT(m) (1u << (m))

/* turn a parsed line into a message; the header's strings land in x */
static bool
line_to_msg(encoder *x, const line *l, stream_msg *msg)
{
	char		type[16] = "event";

	memset(msg, 0, sizeof(*msg));
	if ((l->has & BIT(M_TYPE)) && !json_string(l->v[M_TYPE], type, sizeof(type)))
		return bad(x, "\"type\" is not one of event, header, boundary, end, wake");
	if (strcmp(type, "event") == 0)
	{
		msg->type = MSG_EVENT;
		return only(x, l, BIT(M_TYPE) | BIT(M_ID) | BIT(M_TS) | BIT(M_EVENT) | BIT(M_TXN), "an event") &&
			get_event(x, l, &msg->ev);
	}
	if (strcmp(type, "boundary") == 0 || strcmp(type, "end") == 0)
	{
		msg->type = type[0] == 'e' ? MSG_END : MSG_BOUNDARY;
		if (!only(x, l, BIT(M_TYPE) | BIT(M_LAST_ID) | (msg->type == MSG_END ? BIT(M_COUNT) : 0), type) ||
			!get_id(x, l, M_LAST_ID, &msg->last_id, 0))
			return false;
		if (msg->type == MSG_END && (!(l->has & BIT(M_COUNT)) || !json_uint(l->v[M_COUNT], INT64_MAX, &msg->count)))
			return bad(x, "\"count\" is missing or not a non-negative integer");
		return true;
	}
	if (strcmp(type, "wake") == 0)
	{
		msg->type = MSG_WAKE;
		return only(x, l, BIT(M_TYPE), "a wake");
	}
	if (strcmp(type, "header") == 0)
	{
		stream_header *h = &msg->hdr;
		uint64_t	version;

		msg->type = MSG_HEADER;
		if (!only(x, l, BIT(M_TYPE) | BIT(M_VERSION) | BIT(M_PRODUCER) | BIT(M_SOURCE) | BIT(M_AFTER) |
				  BIT(M_SOURCE_MAX) | BIT(M_FIRST) | BIT(M_FILTER), "a header"))
			return false;
		if (!(l->has & BIT(M_VERSION)) || !json_uint(l->v[M_VERSION], 1000, &version) ||
			version != STREAM_VERSION)
			return bad(x, "\"version\" is not %d", STREAM_VERSION);
		h->version = STREAM_VERSION;
		if (!get_str(x, l, M_PRODUCER, x->producer, sizeof(x->producer)) ||
			!get_str(x, l, M_SOURCE, x->source, sizeof(x->source)) ||
			!get_id(x, l, M_AFTER, &h->after, 0) ||
			!get_id(x, l, M_SOURCE_MAX, &h->source_max, 0))
			return false;
		h->producer = x->producer;
		h->source = x->source;
		if (l->has & BIT(M_FILTER))
		{
			if (!get_str(x, l, M_FILTER, x->filter, sizeof(x->filter)) || x->filter[0] == '\0')
				return bad(x, "\"filter\" is not a non-empty string");
			h->filter = x->filter;
		}
		if (!(l->has & BIT(M_FIRST)))
			return bad(x, "\"first\" is missing (null for an empty source)");
		if (l->v[M_FIRST].len == 4 && memcmp(l->v[M_FIRST].p, "null", 4) == 0)
			return true;
		{
			line		f;

			if (!parse_members(x, l->v[M_FIRST].p, l->v[M_FIRST].len, &f) ||
				!only(x, &f, BIT(M_ID) | BIT(M_TS) | BIT(M_EVENT), "the header's \"first\"") ||
				!get_event(x, &f, &h->first))
				return false;
			h->has_first = true;
		}
		return true;
	}
	return bad(x, "\"type\" is not one of event, header, boundary, end, wake");
}

/*
 * The header of a stream made from events alone.  It describes the events
 * as their own source: first is the first event (so the stream must start at
 * id 1, or slate-load could not tell which source it continues), and
 * source_max what a live stream's header says, the id before the first event.
 */
static bool
synth_header(encoder *x, const stream_event *first, stream_msg *hm)
{
	if (first->id != 1)
		return bad(x, "the first event has id %" PRIu64 ": a stream made without a header line "
				   "starts at id 1 (keep the header with slate-cat --all to encode a stream "
				   "that continues a source)", first->id);
	memset(hm, 0, sizeof(*hm));
	hm->type = MSG_HEADER;
	snprintf(x->producer, sizeof(x->producer), "%s %s", PROG, SLATE_VERSION);
	snprintf(x->source, sizeof(x->source), "slate-cat --encode of %s", x->name);
	hm->hdr.version = STREAM_VERSION;
	hm->hdr.producer = x->producer;
	hm->hdr.source = x->source;
	hm->hdr.after = 0;
	hm->hdr.source_max = 0;
	hm->hdr.has_first = true;
	hm->hdr.first = *first;
	return true;
}

/* write failed: EPIPE means the reader went away (status 0), else an I/O error */
static int
write_failed(void)
{
	if (errno == EPIPE)
		return EXIT_OK;
	log_error("could not write to stdout: %s", strerror(errno));
	return EXIT_IO;
}

enum step { STEP_OK, STEP_BAD, STEP_WRITE };

/* one message, in order; whole transactions are flushed, the rest held */
static enum step
take(encoder *x, stream_msg *m, const line *l)
{
	stream_writer *w = x->w;

	if (m->type == MSG_EVENT && x->ck.streams == 0)
	{
		stream_msg	hm;

		if (!synth_header(x, &m->ev, &hm))
			return STEP_BAD;
		if (!checker_take(&x->ck, &hm))
			return bad(x, "%s", x->ck.error), STEP_BAD;
		if (!stream_write_header(w, &hm.hdr))
			return STEP_WRITE;
		x->synth = true;
	}
	if (m->type == MSG_EVENT)
	{
		uint64_t	prev = x->ck.prev;
		bool		has_txn = (l->has & BIT(M_TXN)) != 0;
		uint64_t	txn = 0;
		bool		first = x->ck.count == 0;
		bool		marked = false;	/* a boundary was written before this event */

		if (has_txn && !json_uint(l->v[M_TXN], UINT64_MAX, &txn))
			return bad(x, "\"txn\" is not a non-negative integer"), STEP_BAD;
		if (!checker_take(&x->ck, m))
			return bad(x, "%s", x->ck.error), STEP_BAD;
		if (!first && has_txn && x->has_txn && txn == x->last_txn && x->ck.new_txn)
			return bad(x, "event id %" PRIu64 " is in transaction %" PRIu64 " but its ts differs from the "
					   "transaction's earlier events (a transaction's events share one ts)",
					   m->ev.id, txn), STEP_BAD;
		if (!first && !x->ck.new_txn && has_txn && x->has_txn && txn != x->last_txn)
		{
			/* the line says a transaction ends here though the ts goes on: a boundary says so */
			if (x->synth && !stream_write_boundary(w, prev))
				return STEP_WRITE;
			marked = x->synth;
			x->ck.new_txn = true;
			x->ck.txns++;
			x->ck.txn_total++;
		}
		/* the transaction before this one is whole: out with it */
		if (x->ck.new_txn && !first)
		{
			if (!stream_flush(w))
				return STEP_WRITE;
			x->written = prev;
			x->unmarked = !marked;
		}
		x->has_txn = has_txn;
		x->last_txn = txn;
		return stream_write_event(w, &m->ev) ? STEP_OK : STEP_WRITE;
	}
	if (m->type == MSG_HEADER && x->synth && x->ck.in_stream)
		return bad(x, "a header line after events that had none"), STEP_BAD;
	if (!checker_take(&x->ck, m))
		return bad(x, "%s", x->ck.error), STEP_BAD;
	switch (m->type)
	{
		case MSG_HEADER:
			x->synth = false;
			x->written = m->hdr.after;
			x->has_txn = false;
			return stream_write_header(w, &m->hdr) ? STEP_OK : STEP_WRITE;
		case MSG_BOUNDARY:
			x->written = m->last_id;
			x->unmarked = false;
			return stream_write_boundary(w, m->last_id) && stream_flush(w) ? STEP_OK : STEP_WRITE;
		case MSG_END:
			x->written = m->last_id;
			x->unmarked = false;
			return stream_write_end(w, m->last_id, m->count) && stream_flush(w) ? STEP_OK : STEP_WRITE;
		case MSG_WAKE:
			return stream_write_wake(w) ? STEP_OK : STEP_WRITE;
		case MSG_EVENT:
			break;
	}
	return STEP_OK;
}

/*
 * After bad input: drop the unfinished transaction and say with a boundary
 * that what was written ends on a whole one, so slate-load keeps all of it
 * (without the marker it could not know the last transaction was whole).
 */
static void
seal(encoder *x)
{
	stream_writer_discard(x->w);
	if (x->unmarked && stream_write_boundary(x->w, x->written))
		stream_flush(x->w);
	x->unmarked = false;
}

/* the lines of one input; returns an exit status, or -1 to go on */
static int
encode_file(encoder *x, FILE *f)
{
	char	   *buf = NULL;
	size_t		cap = 0;
	ssize_t		n;
	int			status = -1;

	x->lineno = 0;
	while (status < 0 && (n = getline(&buf, &cap, f)) >= 0)
	{
		size_t		len = (size_t) n;
		line		l;
		stream_msg	m;
		enum step	s;
		size_t		i;

		x->lineno++;
		if (stop_requested)
			break;
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			len--;
		for (i = 0; i < len && (buf[i] == ' ' || buf[i] == '\t'); i++)
			;
		if (i == len)
			continue;			/* blank lines separate transactions for the eye only */
		if (!parse_members(x, buf, len, &l) || !line_to_msg(x, &l, &m))
			s = STEP_BAD;
		else
			s = take(x, &m, &l);
		if (s == STEP_BAD)
		{
			log_error("%s; wrote whole transactions through id %" PRIu64, x->error, x->written);
			status = EXIT_INPUT;
			seal(x);
		}
		else if (s == STEP_WRITE)
			status = errno == ENOMEM ? (log_error("out of memory"), EXIT_IO) : write_failed();
	}
	if (status < 0 && ferror(f) && !stop_requested)
	{
		log_error("%s: read error: %s", x->name, strerror(errno));
		status = EXIT_IO;
	}
	free(buf);
	return status;
}

int
encode_main(char **files, int nfiles)
{
	encoder		x;
	int			status = -1;

	memset(&x, 0, sizeof(x));
	checker_init(&x.ck);
	if ((x.w = stream_writer_new(STDOUT_FILENO)) == NULL)
	{
		log_error("out of memory");
		return EXIT_IO;
	}
	/* hold everything until a transaction is whole, so bad input leaves no torn one */
	stream_writer_hold(x.w, true);
	for (int i = 0; (i < nfiles || (nfiles == 0 && i == 0)) && status < 0 && !stop_requested; i++)
	{
		const char *name = nfiles == 0 || strcmp(files[i], "-") == 0 ? "stdin" : files[i];
		FILE	   *f = strcmp(name, "stdin") == 0 ? stdin : fopen(name, "r");

		if (f == NULL)
		{
			log_error("could not open %s: %s", name, strerror(errno));
			status = EXIT_USAGE;
			break;
		}
		/*
		 * stdio's 4 kB reads cost more than parsing the lines (a read still
		 * returns what a pipe has); glibc ignores the size without a buffer.
		 * One input is open at a time, so one buffer serves them all.
		 */
		static char inbuf[256 * 1024];

		setvbuf(f, inbuf, _IOFBF, sizeof(inbuf));
		x.name = name;
		status = encode_file(&x, f);
		if (f != stdin)
			fclose(f);
	}
	if (status < 0 && stop_requested)
		status = EXIT_OK;		/* stopped: whole transactions only, like a cut stream */
	else if (status < 0 && x.synth && x.ck.in_stream)
	{
		/* events alone: the input's end is the stream's end */
		if (!stream_write_end(x.w, x.ck.prev, x.ck.count) || !stream_flush(x.w))
			status = write_failed();
		else
			status = EXIT_OK;
	}
	else if (status < 0 && x.ck.in_stream)
	{
		log_error("%s: line %" PRIu64 ": the input ends without an end line (the stream was cut); "
				  "wrote whole transactions through id %" PRIu64, x.name, x.lineno, x.written);
		status = EXIT_INPUT;
		seal(&x);
	}
	else if (status < 0 && x.ck.streams == 0)
	{
		log_error("%s: no events and no header line: nothing to encode", x.name ? x.name : "stdin");
		status = EXIT_INPUT;
	}
	else if (status < 0)
		status = stream_flush(x.w) ? EXIT_OK : write_failed();
	stream_writer_discard(x.w);
	stream_writer_free(x.w);
	return status;
}
