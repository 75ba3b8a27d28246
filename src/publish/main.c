/* slate-publish - append a slate stream's events to a NATS JetStream stream, exactly once */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "events.h"
#include "exitcodes.h"
#include "io.h"
#include "log.h"
#include "opts.h"
#include "signals.h"
#include "stream.h"

#define PROG "slate-publish"
#define MAX_MESSAGE (256 * 1024 * 1024)
#define DEFAULT_WINDOW 1024
/* a publish not acknowledged within this is an error (libnats waits forever without) */
#define ACK_WAIT_MS 10000

typedef struct publisher
{
	broker		b;
	broker_opts bo;
	stream_reader *in;
	int64_t		window;
	int64_t		replicas;

	uint64_t	first_id;		/* id at sequence 1 (0: the stream is empty) */
	uint64_t	last_id;		/* last id published or already in the stream */
	int64_t		last_ts;
	uint64_t	next_seq;		/* the sequence the next publish must get */
	uint64_t	count;			/* events published */
	bool		have_header;
	stream_header hdr;			/* of the stream being read (has_first, first) */
	stream_event first;			/* the source's first event, copied */
	char	   *first_buf;

	/*
	 * The event read last is held back, encoded in buf, until the next
	 * message says whether a source transaction ends with it (a boundary
	 * marker, an end, or the next event's different ts): its message then
	 * carries Slate-Boundary.
	 */
	bool		held;
	uint64_t	held_id;
	size_t		held_len;

	char	   *buf;			/* encoding buffer */
	size_t		buf_size;
	int			max_payload;

	/*
	 * Acknowledgements.  Every message says where the stream must end before
	 * it (Nats-Expected-Last-Sequence), so the server appends it at its own
	 * sequence or not at all, and a message refused makes every later one
	 * refused too.  So an acknowledgement is asked for only every ack_every
	 * messages, and before input goes idle or ends: each one vouches for all
	 * the messages before it.  They come to ack_inbox.<id>.
	 */
	natsSubscription *acks;
	char		ack_inbox[128];
	int64_t		ack_every;
	uint64_t	published_id;	/* last id sent */
	uint64_t	asked_id;		/* last id sent asking for an acknowledgement */

	/* written by the library's thread that delivers the acknowledgements */
	pthread_mutex_t mu;
	pthread_cond_t acked;
	bool		failed;
	uint64_t	acked_id;
	double		ack_progress;	/* when acked_id last moved, or an ask began a wait */
	char		error[512];
	int			error_status;
	uint64_t	wrong_seq_id;	/* the first failure: this event found another end */
	bool		reported;

	int			status;
	double		started,
				last_progress;
} publisher;


static void
usage(void)
{
	printf("%s appends the events of a slate stream on stdin to a NATS JetStream stream,\n"
		   "each exactly once and in id order.\n\n"
		   "Usage:\n  %s [OPTION]... [NATS_URL]\n  %s --position [OPTION]... [NATS_URL]\n\n"
		   BROKER_ENV_HELP "\n"
		   "Options:\n"
		   "      --position            print the id of the stream's last event (0: none)\n"
		   "                            and exit: start slate-extract --after there\n"
		   BROKER_OPTIONS_HELP
		   "      --replicas=N          replicas when creating the stream (default 1)\n"
		   "      --window=N            publishes awaiting acknowledgement (default %d)\n"
		   "      --connect-timeout=S   give up connecting after S seconds\n"
		   "      --log-format=FORMAT   json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose             log more\n"
		   "  -V, --version             output version information, then exit\n"
		   "  -?, --help                show this help, then exit\n\n"
		   "The stream is created if missing (file storage, limits retention, nothing\n"
		   "discarded). Events at or below its last one are skipped.\n\n"
		   "Exit status: 0 done or stopped, 1 NATS error, 2 usage error, 3 bad input\n"
		   "on stdin, 4 refused (gap, another source, another publisher), 5 read error.\n",
		   PROG, PROG, PROG, DEFAULT_WINDOW);
}

/* remember the first failure (under the lock) */
static void
fail_locked(publisher *p, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fail_locked(publisher *p, int status, const char *fmt, ...)
{
	va_list		ap;

	if (p->failed)
		return;
	p->failed = true;
	p->error_status = status;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
}

static bool
has_failed(publisher *p)
{
	bool		f;

	pthread_mutex_lock(&p->mu);
	f = p->failed;
	pthread_mutex_unlock(&p->mu);
	return f;
}

/* the value of "key": in a flat JSON acknowledgement, or NULL */
static const char *
ack_field(const char *json, const char *key)
{
	char		k[32];
	const char *v;

	snprintf(k, sizeof(k), "\"%s\":", key);
	if ((v = strstr(json, k)) == NULL)
		return NULL;
	for (v += strlen(k); *v == ' '; v++)
		;
	return v;
}

/*
 * An acknowledgement, from the library's thread: {"stream":S,"seq":N} (with
 * "duplicate":true when the id was in the stream already), or {"error":
 * {"code":C,"err_code":E,"description":D}}.  It must put its id at the
 * sequence the ids imply: a duplicate (another publisher of the same source
 * got there first) is harmless exactly when it does.
 */
static void
on_ack(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	publisher  *p = closure;
	const char *subject = natsMsg_GetSubject(msg);
	const char *dot = strrchr(subject, '.');
	uint64_t	id = dot ? strtoull(dot + 1, NULL, 10) : 0;
	char		json[512];
	const char *v;
	uint64_t	seq;

	snprintf(json, sizeof(json), "%.*s", natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
	pthread_mutex_lock(&p->mu);
	if (natsMsg_IsNoResponders(msg))
		fail_locked(p, EXIT_DB, "%s: no stream takes subject %s any more (deleted?); event %" PRIu64
					" was not published", p->b.desc, p->b.subject, id);
	else if ((v = ack_field(json, "error")) != NULL)
	{
		uint64_t	code = (v = ack_field(json, "err_code")) ? strtoull(v, NULL, 10) : 0;
		const char *d = ack_field(json, "description");
		int			dlen = d && *d == '"' ? (int) strcspn(d + 1, "\"") : 0;

		if (code == JSStreamWrongLastSequenceErr || code == JSStreamWrongLastMsgIDErr)
		{
			/* report_failure tells another publisher from lost messages */
			if (!p->failed)
				p->wrong_seq_id = id;
			fail_locked(p, EXIT_REFUSED, "%s: event %" PRIu64 " no longer goes at the stream's end (%.*s)",
						p->b.desc, id, dlen, dlen ? d + 1 : "");
		}
		else
			fail_locked(p, EXIT_DB, "%s: publishing event %" PRIu64 " failed: %.*s (JetStream error %"
						PRIu64 ")", p->b.desc, id, dlen, dlen ? d + 1 : "", code);
	}
	else if ((v = ack_field(json, "seq")) == NULL || id < p->first_id || id == 0)
		fail_locked(p, EXIT_DB, "%s: an acknowledgement that makes no sense (%s, for %s)",
					p->b.desc, json, subject);
	else if ((seq = strtoull(v, NULL, 10)) != id - p->first_id + 1)
		fail_locked(p, EXIT_REFUSED, "%s: event %" PRIu64 " was acknowledged at sequence %" PRIu64
					" instead of %" PRIu64 "%s", p->b.desc, id, seq, id - p->first_id + 1,
					ack_field(json, "duplicate") ? " (a duplicate of another message)" : "");
	else if (id > p->acked_id)
	{
		p->acked_id = id;
		p->ack_progress = now_s();
	}
	pthread_cond_broadcast(&p->acked);
	pthread_mutex_unlock(&p->mu);
	natsMsg_Destroy(msg);
}

/* no acknowledgement for ACK_WAIT_MS: record that as the failure (under the lock) */
static bool
overdue_locked(publisher *p)
{
	if (now_s() < p->ack_progress + ACK_WAIT_MS / 1000.0)
		return false;
	fail_locked(p, EXIT_DB, "%s: no acknowledgement of the events after id %" PRIu64 " within %d s",
				p->b.desc, p->acked_id, ACK_WAIT_MS / 1000);
	return true;
}

/*
 * Wait, under the lock, until the acknowledgements reach id or something
 * fails; false when ACK_WAIT_MS pass without any arriving (recorded as the
 * failure) or a stop is requested.
 */
static bool
wait_acked_locked(publisher *p, uint64_t id)
{
	while (p->acked_id < id && !p->failed)
	{
		struct timespec until;
		if (stop_requested)
			return false;
		if (overdue_locked(p))
			break;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000000L;	/* wake now and then for a stop */
		if (until.tv_nsec >= 1000000000L)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->acked, &p->mu, &until);
	}
	return !p->failed && p->acked_id >= id;
}

/* the same, taking the lock */
static bool
wait_acked(publisher *p, uint64_t id)
{
	bool		ok;

	pthread_mutex_lock(&p->mu);
	ok = wait_acked_locked(p, id);
	pthread_mutex_unlock(&p->mu);
	return ok;
}

/*
 * Log the first failure once and set the exit status.  A publish that found
 * the stream ending elsewhere than expected means another publisher wrote
 * there first (refused, 4), or the server lost the messages before it (a
 * restart before they reached its disk; a NATS error, 1): the stream's end
 * tells which.  Either way the stream is intact and a new run goes on.
 */
static void
report_failure(publisher *p)
{
	broker_ends ends;
	uint64_t	id;

	if (p->reported)
		return;
	p->reported = true;
	pthread_mutex_lock(&p->mu);
	id = p->wrong_seq_id;
	pthread_mutex_unlock(&p->mu);
	if (id == 0)
	{
		log_error("%s", p->error);
		p->status = p->error_status;
		return;
	}
	(void) wait_acked(p, p->asked_id);	/* what was in flight lands first */
	if (broker_read_ends(&p->b, &ends) != EXIT_OK)
		ends.last_id = 0;
	if (ends.last_id >= id)
	{
		log_error("%s: another publisher wrote event %" PRIu64 " first; stopped (the stream ends at id %"
				  PRIu64 ")", p->b.desc, id, ends.last_id);
		p->status = EXIT_REFUSED;
	}
	else
	{
		log_error("%s ends at id %" PRIu64 ", before event %" PRIu64 " that followed what this publisher sent: "
				  "the server lost the messages between (a restart?); run again to go on from its end",
				  p->b.desc, ends.last_id, id);
		p->status = EXIT_DB;
	}
	broker_ends_clear(&ends);
}

/*
 * Wait for the acknowledgement of every publish that asked for one (at an end,
 * the last); false when one failed (logged, status set).
 */
static bool
complete(publisher *p)
{
	if (natsConnection_Flush(p->b.nc) != NATS_OK && !stop_requested)
		log_debug("could not flush to %s; waiting for the acknowledgements anyway", p->b.desc);
	if (!wait_acked(p, p->asked_id) && !stop_requested)
	{
		report_failure(p);
		return false;
	}
	return true;
}

/* a header of message m, or false with the error logged and the status set */
static bool
set_header(publisher *p, natsMsg *m, const char *key, const char *value)
{
	natsStatus	s = natsMsgHeader_Set(m, key, value);

	if (s == NATS_OK)
		return true;
	broker_report("could not set a header", s, 0);
	p->status = EXIT_DB;
	return false;
}

/*
 * Publish the held event; boundary: a source transaction ends with it; ask:
 * ask for an acknowledgement (input goes idle or ends), as every ack_every
 * messages do anyway.  At most window messages go unacknowledged.
 */
static bool
publish_held(publisher *p, bool boundary, bool ask)
{
	char		id[24],
				last[24],
				reply[160];
	natsMsg    *m = NULL;
	natsStatus	s;
	bool		ok,
				idle;

	if (!p->held)
		return true;
	p->held = false;
	if (p->first_id == 0)
	{
		pthread_mutex_lock(&p->mu);
		p->first_id = p->held_id;	/* the acknowledgements' sequences count from it */
		pthread_mutex_unlock(&p->mu);
	}
	/* room in the window: wait for the acknowledgements to catch up */
	pthread_mutex_lock(&p->mu);
	if (p->published_id - p->acked_id >= (uint64_t) p->window && !p->failed)
	{
		if (p->acked_id == p->asked_id)
			p->ack_progress = now_s();
		(void) wait_acked_locked(p, p->published_id - (uint64_t) p->window + 1);
	}
	ok = !p->failed;
	pthread_mutex_unlock(&p->mu);
	if (!ok)
	{
		report_failure(p);
		return false;
	}
	if (stop_requested)
		return false;

	idle = ask;
	ask = ask || p->count % (uint64_t) p->ack_every == (uint64_t) p->ack_every - 1;
	snprintf(id, sizeof(id), "%" PRIu64, p->held_id);
	snprintf(last, sizeof(last), "%" PRIu64, p->next_seq - 1);
	snprintf(reply, sizeof(reply), "%s.%s", p->ack_inbox, id);
	s = natsMsg_Create(&m, p->b.subject, ask ? reply : NULL, p->buf, (int) p->held_len);
	if (s != NATS_OK)
	{
		broker_report("could not make a message", s, 0);
		p->status = EXIT_DB;
		return false;
	}
	/* the stream's end must be where we think, or nothing is appended */
	ok = set_header(p, m, BROKER_HDR_ID, id) &&
		set_header(p, m, "Nats-Expected-Last-Sequence", last) &&
		(!boundary || set_header(p, m, BROKER_HDR_BOUNDARY, "true"));
	if (ok && ask)
	{
		pthread_mutex_lock(&p->mu);
		if (p->acked_id == p->asked_id)
			p->ack_progress = now_s();	/* the wait for this one starts now */
		p->asked_id = p->held_id;
		pthread_mutex_unlock(&p->mu);
	}
	if (ok && (s = natsConnection_PublishMsg(p->b.nc, m)) != NATS_OK)
	{
		if (!stop_requested)
		{
			broker_report("could not publish", s, 0);
			p->status = EXIT_DB;
		}
		ok = false;
	}
	natsMsg_Destroy(m);
	if (!ok)
		return false;
	/*
	 * Input is idle (a live transaction) or over: send it now.  The library
	 * would otherwise keep it in its buffer for a while, hoping for more.
	 */
	if (idle && (s = natsConnection_FlushTimeout(p->b.nc, 1000)) != NATS_OK)
		log_debug("could not flush to %s (%s); the library sends it later", p->b.desc, natsStatus_GetText(s));
	p->published_id = p->held_id;
	p->next_seq++;
	p->count++;
	return true;
}

/* hold event e back as a message ready to publish */
static bool
hold(publisher *p, const stream_event *e)
{
	size_t		need = e->event_len + STREAM_EVENT_OVERHEAD;
	size_t		len;

	if (need > p->buf_size)
	{
		char	   *nb = realloc(p->buf, need);

		if (nb == NULL)
		{
			log_error("out of memory for event %" PRIu64, e->id);
			p->status = EXIT_IO;
			return false;
		}
		p->buf = nb;
		p->buf_size = need;
	}
	len = stream_encode_event(e, p->buf, p->buf_size);
	/* the headers take some of the server's max_payload too */
	if (len == 0 || len + 128 > (size_t) p->max_payload)
	{
		log_error("event %" PRIu64 " takes %zu bytes, more than the NATS server's max_payload of %d"
				  " allows (raise max_payload in its configuration)", e->id, len, p->max_payload);
		p->status = EXIT_REFUSED;
		return false;
	}
	p->held = true;
	p->held_id = e->id;
	p->held_len = len;
	return true;
}

static void
progress(publisher *p, bool final)
{
	log_progress(final ? "published" : "publishing", p->count, p->last_id, p->started,
				 &p->last_progress, final);
}

/* create the stream unless it exists; then read where it ends */
static bool
open_stream(publisher *p, broker_ends *ends, bool create)
{
	int			r = broker_read_ends(&p->b, ends);

	if (r == EXIT_OK && !ends->exists && create)
	{
		jsStreamConfig cfg;
		jsStreamInfo *si = NULL;
		jsErrCode	ec = 0;
		const char *subjects[1] = {p->b.subject};
		natsStatus	s;

		jsStreamConfig_Init(&cfg);
		cfg.Name = p->b.stream;
		cfg.Description = "slate events, one message per event (slate stream format v1)";
		cfg.Subjects = subjects;
		cfg.SubjectsLen = 1;
		cfg.Storage = js_FileStorage;
		/* limits without limits: nothing is ever dropped, sequence 1 stays */
		cfg.Retention = js_LimitsPolicy;
		cfg.Discard = js_DiscardNew;
		cfg.Replicas = p->replicas;
		s = js_AddStream(&si, p->b.js, &cfg, NULL, &ec);
		if (s != NATS_OK && ec != JSStreamNameExistErr)
		{
			char		what[600];

			snprintf(what, sizeof(what), "could not create %s", p->b.desc);
			broker_report(what, s, ec);
			p->status = EXIT_DB;
			return false;
		}
		jsStreamInfo_Destroy(si);
		if (s == NATS_OK)
			log_info("created %s (subject %s, %" PRId64 " replica%s, file storage)", p->b.desc,
					 p->b.subject, p->replicas, p->replicas == 1 ? "" : "s");
		r = broker_read_ends(&p->b, ends);
	}
	if (r != EXIT_OK)
	{
		p->status = r;
		return false;
	}
	return true;
}

/* a header: the stream must hold this source's events (or none), and not more of them */
static bool
check_header(publisher *p, const stream_header *h)
{
	broker_ends ends;
	bool		ok = true;

	/* a selection (slate-extract --since, --entity-id...) is no prefix of its source */
	if (h->filter != NULL)
	{
		log_error("stdin: the stream is a filtered extract (%s) of %s, not a prefix of the source: "
				  "it cannot be published as the source's events; nothing of it was published",
				  h->filter, h->source);
		p->status = EXIT_REFUSED;
		return false;
	}
	if (p->count > 0 && !complete(p))
		return false;
	if (!open_stream(p, &ends, false))
		return false;
	if (ends.last_seq > 0)
	{
		if (!h->has_first)
		{
			log_error("%s holds events but the source (%s) has none", p->b.desc, h->source);
			ok = false;
		}
		else if (!events_equal(&ends.first, &h->first))
		{
			log_error("%s holds events of another source: its first event (id %" PRIu64
					  ") differs from the source's (id %" PRIu64 ", source %s)",
					  p->b.desc, ends.first_id, h->first.id, h->source);
			ok = false;
		}
		else if (h->source_max < ends.last_id)
		{
			log_error("%s is ahead of the source: it ends at id %" PRIu64 " but the source's max id is %"
					  PRIu64 " (source %s)", p->b.desc, ends.last_id, h->source_max, h->source);
			ok = false;
		}
	}
	pthread_mutex_lock(&p->mu);
	p->first_id = ends.first_id;
	/* what the stream holds is acknowledged; the window counts from there */
	p->published_id = p->asked_id = p->acked_id = ends.last_id;
	pthread_mutex_unlock(&p->mu);
	p->last_id = ends.last_id;
	p->next_seq = ends.last_seq + 1;
	broker_ends_clear(&ends);
	if (!ok)
	{
		p->status = EXIT_REFUSED;
		return false;
	}
	/* keep the source's first event: an empty stream must begin with it */
	free(p->first_buf);
	p->first_buf = NULL;
	p->hdr.has_first = h->has_first;
	if (h->has_first)
	{
		p->first_buf = malloc(h->first.event_len + 1);
		if (p->first_buf == NULL)
		{
			log_error("out of memory");
			p->status = EXIT_IO;
			return false;
		}
		memcpy(p->first_buf, h->first.event, h->first.event_len);
		p->first = h->first;
		p->first.event = p->first_buf;
	}
	log_debug("publishing %s to %s after id %" PRIu64, h->source, p->b.desc, p->last_id);
	return true;
}

static bool
on_event(publisher *p, const stream_event *e, uint64_t offset)
{
	bool		empty = p->next_seq == 1 && !p->held;

	if (e->id <= p->last_id)
		return true;			/* already in the stream */
	if (empty && p->hdr.has_first && !events_equal(e, &p->first))
	{
		log_error("%s is empty, so it must begin with the source's first event (id %" PRIu64
				  "), but stdin's first new event is id %" PRIu64 ": start slate-extract at --after 0",
				  p->b.desc, p->hdr.has_first ? p->first.id : 0, e->id);
		p->status = EXIT_REFUSED;
		return false;
	}
	if (!empty && e->id != p->last_id + 1)
	{
		log_error("gap: stdin's next event is id %" PRIu64 " (byte offset %" PRIu64
				  ") but %s ends at id %" PRIu64, e->id, offset, p->b.desc, p->last_id);
		p->status = EXIT_REFUSED;
		return false;
	}
	if (!publish_held(p, p->held && e->ts != p->last_ts, false))
		return false;
	if (!hold(p, e))
		return false;
	p->last_id = e->id;
	p->last_ts = e->ts;
	if ((p->count & 0xffff) == 0)
		progress(p, false);
	return true;
}

/*
 * Wait until stdin has something, noticing meanwhile a publish that failed.
 * false: stop (signal or failure).
 */
static bool
wait_input(publisher *p)
{
	while (!stream_reader_buffered(p->in) && !io_readable(STDIN_FILENO, 200))
	{
		if (stop_requested)
			return false;
		pthread_mutex_lock(&p->mu);
		if (p->acked_id < p->asked_id)
			(void) overdue_locked(p);
		pthread_mutex_unlock(&p->mu);
		if (has_failed(p))
		{
			report_failure(p);
			return false;
		}
	}
	return true;
}

/* more input is there to read now: no need to ask for an acknowledgement yet */
static bool
input_at_hand(publisher *p)
{
	return stream_reader_buffered(p->in) || io_readable(STDIN_FILENO, 0);
}

static void
run(publisher *p)
{
	stream_msg	m;

	while (wait_input(p))
	{
		stream_read_result r = stream_read(p->in, &m);

		if (r == STREAM_STOP)
			return;
		if (r == STREAM_ERROR)
		{
			log_error("%s", stream_reader_error(p->in));
			p->status = EXIT_INPUT;
			return;
		}
		if (r == STREAM_EOF)
		{
			if (p->have_header)
			{
				/* published without a boundary: consumers keep waiting for its transaction's end */
				if (publish_held(p, false, true))
					log_error("stdin ends without an end marker (the stream was cut) after id %" PRIu64,
							  p->last_id);
				if (p->status == EXIT_OK)
					p->status = EXIT_INPUT;
			}
			return;
		}
		if (!p->have_header && m.type != MSG_HEADER)
		{
			log_error("stdin: byte offset %" PRIu64 ": expected a header, got %s",
					  stream_reader_offset(p->in), stream_msg_type_name(m.type));
			p->status = EXIT_INPUT;
			return;
		}
		switch (m.type)
		{
			case MSG_HEADER:
				if (p->have_header)
				{
					log_error("stdin: byte offset %" PRIu64 ": a header inside a stream",
							  stream_reader_offset(p->in));
					p->status = EXIT_INPUT;
					return;
				}
				if (!check_header(p, &m.hdr))
					return;
				p->have_header = true;
				break;
			case MSG_EVENT:
				if (!on_event(p, &m.ev, stream_reader_offset(p->in)))
					return;
				break;
			case MSG_BOUNDARY:
			case MSG_END:
				/* ask for an acknowledgement at an end, or before input goes idle */
				if (p->held && m.last_id == p->held_id &&
					!publish_held(p, true, m.type == MSG_END || !input_at_hand(p)))
					return;
				if (m.type == MSG_END)
				{
					p->have_header = false;
					if (!complete(p))
						return;
				}
				break;
			case MSG_WAKE:
				log_error("stdin: byte offset %" PRIu64 ": unexpected wake message",
						  stream_reader_offset(p->in));
				p->status = EXIT_INPUT;
				return;
		}
	}
}

/* the acknowledgements come to a subscription of our own, ack_inbox.<id> */
static bool
subscribe_acks(publisher *p)
{
	natsInbox  *inbox = NULL;
	char		subject[160];
	natsStatus	s = natsInbox_Create(&inbox);

	if (s == NATS_OK)
	{
		snprintf(p->ack_inbox, sizeof(p->ack_inbox), "%s", (const char *) inbox);
		snprintf(subject, sizeof(subject), "%s.*", p->ack_inbox);
		s = natsConnection_Subscribe(&p->acks, p->b.nc, subject, on_ack, p);
	}
	natsInbox_Destroy(inbox);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(p->acks, -1, -1);
	if (s != NATS_OK)
	{
		broker_report("could not subscribe to the acknowledgements", s, 0);
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"position", no_argument, NULL, 'p'},
		{"replicas", required_argument, NULL, 'r'},
		{"window", required_argument, NULL, 'w'},
		BROKER_LONG_OPTIONS,
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	publisher	p;
	bool		position_only = false;
	opt_common	common = {0, LOG_FORMAT_AUTO};
	int			r,
				c;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	memset(&p, 0, sizeof(p));
	p.window = DEFAULT_WINDOW;
	p.replicas = 1;
	while ((c = getopt_long(argc, argv, OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		if (broker_opt_case(&p.bo, c, optarg))
			continue;
		switch (c)
		{
			case 'p':
				position_only = true;
				break;
			case 'r':
				if (!opt_int64(PROG, "replicas", optarg, 1, 5, &p.replicas))
					return EXIT_USAGE;
				break;
			case 'w':
				if (!opt_int64(PROG, "window", optarg, 1, 1000000, &p.window))
					return EXIT_USAGE;
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if ((r = opt_conninfo(PROG, argc, argv, &p.bo.url)) != OPT_GO_ON)
		return r;
	p.bo.connect_timeout = common.connect_timeout;
	if (!broker_opts_check(PROG, &p.bo))
		return EXIT_USAGE;

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.acked, NULL);
	p.ack_every = p.window / 4 > 0 ? p.window / 4 : 1;
	if (!broker_connect(&p.b, &p.bo) || (!position_only && !subscribe_acks(&p)))
	{
		broker_close(&p.b);
		nats_Close();
		return stop_requested ? EXIT_OK : EXIT_DB;
	}
	p.max_payload = (int) natsConnection_GetMaxPayload(p.b.nc);
	p.started = p.last_progress = now_s();

	if (position_only)
	{
		broker_ends ends;

		if (open_stream(&p, &ends, false))
		{
			printf("%" PRIu64 "\n", ends.last_id);
			if (fflush(stdout) != 0)
				p.status = EXIT_IO;
		}
		broker_ends_clear(&ends);
	}
	else
	{
		broker_ends ends;

		p.in = stream_reader_new(STDIN_FILENO, "stdin", MAX_MESSAGE);
		if (p.in == NULL)
		{
			log_error("out of memory");
			p.status = EXIT_IO;
		}
		else if (open_stream(&p, &ends, true))
		{
			broker_ends_clear(&ends);
			run(&p);
		}
		/* what is in flight still lands (or fails) before we go */
		p.held = false;
		if (p.count > 0 && p.status != EXIT_DB && !complete(&p) && stop_requested)
			p.status = EXIT_OK;
		if (p.status == EXIT_OK && !stop_requested)
			progress(&p, true);
		else if (stop_requested && p.status == EXIT_OK)
			log_info("stopped by signal at id %" PRIu64, p.acked_id);
		stream_reader_free(p.in);
	}
	free(p.buf);
	free(p.first_buf);
	if (p.acks != NULL)
	{
		natsSubscription_Unsubscribe(p.acks);
		natsSubscription_Destroy(p.acks);
	}
	broker_close(&p.b);
	nats_Close();
	pthread_cond_destroy(&p.acked);
	pthread_mutex_destroy(&p.mu);
	return p.status;
}
