/* slate-cat - slate streams as JSON lines and back; verify and summarise stream files */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cat.h"
#include "exitcodes.h"
#include "io.h"
#include "log.h"
#include "opts.h"
#include "signals.h"

typedef enum cat_mode { MODE_PRINT, MODE_ENCODE, MODE_INFO } cat_mode;

typedef struct cat_opts
{
	cat_mode	mode;
	bool		events_only;	/* -e: each event's text alone */
	bool		txn_numbers;	/* -n: "txn" in each event line */
	bool		blank_lines;	/* -b: an empty line between transactions */
	bool		all;			/* -a: header and markers as lines too */
	bool		pass;			/* --info --pass: copy the input to stdout */
} cat_opts;

static void
usage(void)
{
	printf("%s prints slate event streams as JSON lines, turns JSON lines back into a\n"
		   "stream, and verifies stream files.\n\n"
		   "Usage:\n"
		   "  %s [OPTION]... [FILE]...             stream(s) to JSON lines\n"
		   "  %s --encode [OPTION]... [FILE]...    JSON lines to a stream\n"
		   "  %s --info [--pass] [FILE]...         verify and summarise stream(s)\n\n"
		   "With no FILE, or when FILE is -, read standard input.  Files and\n"
		   "concatenations (cat a.mp b.mp) may hold several streams one after another.\n\n"
		   "Printing (one JSON object per line on stdout):\n"
		   "  {\"id\":123,\"ts\":\"2026-12-05T06:27:46.248123+00:00\",\"event\":{...}}\n"
		   "  \"event\" is the stream's text as PostgreSQL printed it; \"ts\" is exact to\n"
		   "  the microsecond, in UTC.  A source transaction is a run of events with\n"
		   "  one ts (or events between boundary markers).\n"
		   "  -e, --events-only     print each event's text alone\n"
		   "  -n, --txn             add \"txn\": the number of its source transaction, from 1\n"
		   "  -b, --blank           print an empty line between source transactions\n"
		   "  -a, --all             print the header and the boundary and end markers\n"
		   "                        as lines of their own (\"type\" says which), so that\n"
		   "                        --encode restores the stream byte for byte\n\n"
		   "Encoding (--encode):\n"
		   "      --encode          read JSON lines as printed above (with or without\n"
		   "                        --all lines, \"txn\" optional) and write a stream with\n"
		   "                        checksums.  Without a header line the stream must\n"
		   "                        start at id 1; ids rise by 1; equal ts (or equal\n"
		   "                        \"txn\") make a transaction.  A bad line stops it:\n"
		   "                        \"line N: what is wrong\", and nothing after the last\n"
		   "                        whole transaction is written.\n\n"
		   "Verifying (--info):\n"
		   "  -i, --info            print no events: check every message and checksum,\n"
		   "                        the ids and markers, and summarise each stream\n"
		   "                        (producer, source, ids, events, transactions, first\n"
		   "                        and last ts, complete or cut).  Exit 0 only when\n"
		   "                        every stream is complete and every event verified.\n"
		   "      --pass            with --info: copy the input to stdout unchanged and\n"
		   "                        print the summary on stderr (a pipeline stage)\n\n"
		   "Other options:\n"
		   "      --log-format=FORMAT   json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose             log more\n"
		   "  -V, --version             output version information, then exit\n"
		   "  -?, --help                show this help, then exit\n\n"
		   "Exit status: 0 done (or stopped, or the reader of stdout went away),\n"
		   "2 usage error or a FILE that cannot be opened, 3 bad input: a damaged, cut or\n"
		   "unverified stream or a bad JSON line, 5 read or write error.\n",
		   PROG, PROG, PROG, PROG);
}

/* log a write failure unless the reader simply went away; returns the exit status */
static int
output_failed(void)
{
	if (errno == EPIPE)
		return EXIT_OK;
	log_error("could not write to stdout: %s", strerror(errno));
	return EXIT_IO;
}

/* ---- printing ---- */

static char *
put_u64(char *p, uint64_t v)
{
	char		tmp[24];
	int			n = 0;

	do
		tmp[n++] = (char) ('0' + v % 10);
	while ((v /= 10) > 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* "id":N,"ts":"...", into p */
static char *
put_id_ts(char *p, const stream_event *e)
{
	memcpy(p, "\"id\":", 5);
	p = put_u64(p + 5, e->id);
	memcpy(p, ",\"ts\":\"", 7);
	p += 7;
	p += pg_ts_format_iso(e->ts, p);
	*p++ = '"';
	return p;
}

static bool
print_event(const cat_opts *o, const checker *ck, const stream_event *e)
{
	char		head[160];
	char	   *p = head;

	if (ck->new_txn && o->blank_lines && ck->txn_total > 1 && !out_put("\n", 1))
		return false;
	if (o->events_only)
		return out_put(e->event, e->event_len) && out_put("\n", 1);
	*p++ = '{';
	if (o->all)
	{
		memcpy(p, "\"type\":\"event\",", 15);
		p += 15;
	}
	p = put_id_ts(p, e);
	if (o->txn_numbers)
	{
		memcpy(p, ",\"txn\":", 7);
		p = put_u64(p + 7, ck->txn_total);
	}
	memcpy(p, ",\"event\":", 9);
	p += 9;
	/* jsonb_out's text is JSON already: embedded as is, never re-serialised */
	return out_put(head, (size_t) (p - head)) && out_put(e->event, e->event_len) && out_put("}\n", 2);
}

static bool
print_header(const stream_header *h)
{
	char		num[64];
	char	   *p;

	p = num;
	if (!out_str("{\"type\":\"header\",\"version\":1,\"producer\":") || !out_json_string(h->producer) ||
		!out_str(",\"source\":") || !out_json_string(h->source) || !out_str(",\"after\":"))
		return false;
	p = put_u64(num, h->after);
	memcpy(p, ",\"source_max\":", 14);
	p = put_u64(p + 14, h->source_max);
	memcpy(p, ",\"first\":", 9);
	p += 9;
	if (!out_put(num, (size_t) (p - num)))
		return false;
	if (!h->has_first)
	{
		if (!out_str("null"))
			return false;
	}
	else
	{
		char		ev[160];
		char	   *q = ev;

		*q++ = '{';
		q = put_id_ts(q, &h->first);
		memcpy(q, ",\"event\":", 9);
		q += 9;
		if (!out_put(ev, (size_t) (q - ev)) || !out_put(h->first.event, h->first.event_len) ||
			!out_str("}"))
			return false;
	}
	if (h->filter != NULL && (!out_str(",\"filter\":") || !out_json_string(h->filter)))
		return false;
	return out_str("}\n");
}

static bool
print_marker(const stream_msg *m)
{
	char		line[96];
	char	   *p = line;

	if (m->type == MSG_WAKE)
		return out_str("{\"type\":\"wake\"}\n");
	p += snprintf(p, 32, "{\"type\":\"%s\",\"last_id\":", stream_msg_type_name(m->type));
	p = put_u64(p, m->last_id);
	if (m->type == MSG_END)
	{
		memcpy(p, ",\"count\":", 9);
		p = put_u64(p + 9, m->count);
	}
	memcpy(p, "}\n", 2);
	return out_put(line, (size_t) (p + 2 - line));
}

/*
 * Print the streams of one input.  ck carries the transaction numbering
 * from input to input.  Returns an exit status, or -1 to go on.
 */
static int
print_input(const cat_opts *o, int fd, const char *name, checker *ck)
{
	stream_reader *r = stream_reader_new(fd, name, MAX_MESSAGE);
	int			status = -1;
	uint64_t	streams = ck->streams;

	if (r == NULL)
	{
		log_error("out of memory");
		return EXIT_IO;
	}
	ck->in_stream = ck->ended = false;
	while (status < 0)
	{
		stream_msg	m;
		stream_read_result res;
		bool		ok = true;

		/* about to wait for input: what a live stream gave so far goes out now */
		if (!stream_reader_buffered(r) && !out_flush())
		{
			status = output_failed();
			break;
		}
		res = stream_read(r, &m);
		if (res == STREAM_STOP)
			status = EXIT_OK;
		else if (res == STREAM_ERROR)
		{
			log_error("%s; last good id %" PRIu64, stream_reader_error(r), ck->prev);
			status = EXIT_INPUT;
		}
		else if (res == STREAM_EOF)
		{
			if (ck->in_stream || ck->streams == streams)
			{
				log_error("%s: byte offset %" PRIu64 ": %s", name, stream_reader_offset(r),
						  ck->streams == streams ? "no stream (the input is empty)" :
						  "the stream ends without an end marker (cut?)");
				status = EXIT_INPUT;
			}
			break;
		}
		else if (!checker_take(ck, &m))
		{
			log_error("%s: byte offset %" PRIu64 ": %s; last good id %" PRIu64,
					  name, stream_reader_offset(r), ck->error, ck->prev);
			status = EXIT_INPUT;
		}
		else if (m.type == MSG_EVENT)
			ok = print_event(o, ck, &m.ev);
		else if (o->all)
			ok = m.type == MSG_HEADER ? print_header(&m.hdr) : print_marker(&m);
		if (!ok)
			status = output_failed();
	}
	stream_reader_free(r);
	return status;
}

/* ---- --info ---- */

typedef struct summary
{
	const char *name;
	FILE	   *out;
	uint64_t	source_max;
	char		producer[256];
	char		source[512];
	char		filter[STREAM_FILTER_MAX];
	bool		filtered;
} summary;

/* print one stream's block: the verdict line, then its facts */
static void
summarise(summary *s, const checker *ck, const char *verdict)
{
	char		a[PG_TS_ISO_LEN + 1],
				b[PG_TS_ISO_LEN + 1];

	if (ck->streams > 1)
		fprintf(s->out, "%s (stream %" PRIu64 "): %s\n", s->name, ck->streams, verdict);
	else
		fprintf(s->out, "%s: %s\n", s->name, verdict);
	if (ck->streams == 0)
		return;
	fprintf(s->out, "  producer  %s\n  source    %s\n", s->producer, s->source);
	if (s->filtered)
		fprintf(s->out, "  filter    %s (not a prefix of the source: slate-load refuses it)\n", s->filter);
	fprintf(s->out, "  events    %" PRIu64 " in %" PRIu64 " transactions, %" PRIu64 " with a verified checksum\n",
			ck->count, ck->txns, ck->crcs);
	if (ck->count > 0)
	{
		a[pg_ts_format_iso(ck->first_ts, a)] = '\0';
		b[pg_ts_format_iso(ck->last_ts, b)] = '\0';
		fprintf(s->out, "  ids       %" PRIu64 "..%" PRIu64 " (after %" PRIu64 ", source max %" PRIu64 ")\n",
				ck->first_id, ck->prev, ck->after, s->source_max);
		fprintf(s->out, "  ts        %s .. %s\n", a, b);
	}
	else
		fprintf(s->out, "  ids       none (after %" PRIu64 ", source max %" PRIu64 ")\n",
				ck->after, s->source_max);
	fflush(s->out);
}

/* copy the rest of fd to stdout unchanged (--pass after damage: the next stage judges it) */
static bool
drain(int fd)
{
	char		buf[64 * 1024];
	ssize_t		n;

	while ((n = io_read(fd, buf, sizeof(buf))) > 0)
		if (!io_write_all(STDOUT_FILENO, buf, (size_t) n))
			return false;
	return n == 0;
}

/* verify and summarise one input; returns an exit status, or -1 when all was well */
static int
info_input(const cat_opts *o, int fd, const char *name)
{
	stream_reader *r = stream_reader_new(fd, name, MAX_MESSAGE);
	checker		ck;
	summary		s;
	int			status = -1;
	char		verdict[1024];

	if (r == NULL)
	{
		log_error("out of memory");
		return EXIT_IO;
	}
	memset(&s, 0, sizeof(s));
	s.name = name;
	s.out = o->pass ? stderr : stdout;
	checker_init(&ck);
	if (o->pass)
		stream_reader_tee(r, STDOUT_FILENO);
	for (;;)
	{
		stream_msg	m;
		stream_read_result res = stream_read(r, &m);

		if (res == STREAM_STOP)
		{
			status = EXIT_OK;
			break;
		}
		if (res == STREAM_ERROR)
		{
			if (stream_reader_tee_errno(r) != 0)
			{
				errno = stream_reader_tee_errno(r);
				status = output_failed();
				break;
			}
			snprintf(verdict, sizeof(verdict), "DAMAGED after id %" PRIu64 ": %s", ck.prev,
					 stream_reader_error(r));
			summarise(&s, &ck, verdict);
			status = EXIT_INPUT;
			break;
		}
		if (res == STREAM_EOF)
		{
			if (ck.in_stream || ck.streams == 0)
			{
				if (ck.streams == 0)
					snprintf(verdict, sizeof(verdict), "NO STREAM (the input is empty)");
				else
					snprintf(verdict, sizeof(verdict), "CUT at id %" PRIu64
							 " (no end marker): the events through id %" PRIu64 " are whole",
							 ck.prev, ck.prev);
				summarise(&s, &ck, verdict);
				status = EXIT_INPUT;
			}
			break;
		}
		if (!checker_take(&ck, &m))
		{
			snprintf(verdict, sizeof(verdict), "DAMAGED after id %" PRIu64 ": byte offset %" PRIu64 ": %s",
					 ck.prev, stream_reader_offset(r), ck.error);
			summarise(&s, &ck, verdict);
			status = EXIT_INPUT;
			break;
		}
		if (m.type == MSG_HEADER)
		{
			s.source_max = m.hdr.source_max;
			snprintf(s.producer, sizeof(s.producer), "%s", m.hdr.producer);
			snprintf(s.source, sizeof(s.source), "%s", m.hdr.source);
			s.filtered = m.hdr.filter != NULL;
			snprintf(s.filter, sizeof(s.filter), "%s", s.filtered ? m.hdr.filter : "");
		}
		else if (m.type == MSG_END)
		{
			if (ck.crcs == ck.count)
				snprintf(verdict, sizeof(verdict), "complete, every checksum verified");
			else
			{
				snprintf(verdict, sizeof(verdict), "UNVERIFIED: complete, but %" PRIu64
						 " events carry no checksum", ck.count - ck.crcs);
				status = EXIT_INPUT;
			}
			summarise(&s, &ck, verdict);
		}
	}
	if (o->pass && status != EXIT_OK && status != EXIT_IO && !drain(fd) && errno != 0)
		status = output_failed() == EXIT_OK ? status : EXIT_IO;
	stream_reader_free(r);
	return status;
}

/* ---- main ---- */

/* run fn over each input (stdin when none); the first bad status wins but all are read */
static int
each_input(const cat_opts *o, char **files, int nfiles)
{
	checker		ck;
	int			worst = EXIT_OK;

	checker_init(&ck);
	for (int i = 0; i < (nfiles > 0 ? nfiles : 1) && !stop_requested; i++)
	{
		const char *name = nfiles == 0 || strcmp(files[i], "-") == 0 ? "stdin" : files[i];
		int			fd = strcmp(name, "stdin") == 0 ? STDIN_FILENO : open(name, O_RDONLY);
		int			st;

		if (fd < 0)
		{
			log_error("could not open %s: %s", name, strerror(errno));
			return EXIT_USAGE;
		}
		st = o->mode == MODE_INFO ? info_input(o, fd, name) : print_input(o, fd, name, &ck);
		if (fd != STDIN_FILENO)
			close(fd);
		if (o->mode == MODE_PRINT && st >= 0)
			return out_flush() ? st : output_failed();
		/* --info goes on to the next file: a script wants every verdict */
		if (st == EXIT_IO || (st == EXIT_OK && stop_requested))
			return st;
		if (st > 0 && worst == EXIT_OK)
			worst = st;
	}
	if (o->mode == MODE_PRINT && !out_flush())
		return output_failed();
	return worst;
}

int
main(int argc, char **argv)
{
	enum { OPT_ENCODE = 1000, OPT_PASS };
	static const struct option long_options[] = {
		{"events-only", no_argument, NULL, 'e'},
		{"txn", no_argument, NULL, 'n'},
		{"blank", no_argument, NULL, 'b'},
		{"all", no_argument, NULL, 'a'},
		{"encode", no_argument, NULL, OPT_ENCODE},
		{"info", no_argument, NULL, 'i'},
		{"pass", no_argument, NULL, OPT_PASS},
		{"log-format", required_argument, NULL, 'L'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}
	};
	cat_opts	o = {MODE_PRINT, false, false, false, false, false};
	opt_common common = {0, LOG_FORMAT_AUTO};
	bool		encode = false,
				info = false;
	int			r,
				c;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	while ((c = getopt_long(argc, argv, "enbai" OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'e': o.events_only = true; break;
			case 'n': o.txn_numbers = true; break;
			case 'b': o.blank_lines = true; break;
			case 'a': o.all = true; break;
			case 'i': info = true; break;
			case OPT_ENCODE: encode = true; break;
			case OPT_PASS: o.pass = true; break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if (encode && info)
	{
		opt_usage_error(PROG, "--encode and --info cannot be used together");
		return EXIT_USAGE;
	}
	if (o.pass && !info)
	{
		opt_usage_error(PROG, "--pass goes with --info");
		return EXIT_USAGE;
	}
	if ((encode || info) && (o.events_only || o.txn_numbers || o.blank_lines || o.all))
	{
		opt_usage_error(PROG, "-e, -n, -b and -a are for printing, not --%s", encode ? "encode" : "info");
		return EXIT_USAGE;
	}
	if (o.events_only && (o.txn_numbers || o.all))
	{
		opt_usage_error(PROG, "-e prints the event texts alone: it cannot go with %s",
						o.all ? "-a" : "-n");
		return EXIT_USAGE;
	}
	o.mode = encode ? MODE_ENCODE : info ? MODE_INFO : MODE_PRINT;

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	if (o.mode == MODE_ENCODE)
		return encode_main(argv + optind, argc - optind);
	return each_input(&o, argv + optind, argc - optind);
}
