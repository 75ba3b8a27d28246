/* slate-consume - write the events of a NATS JetStream stream to stdout as a slate stream */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "signals.h"
#include "stream.h"
#include "version.h"

#define PROG "slate-consume"
/* how long to wait for a message before looking at signals and flushing */
#define WAIT_MS 100
/*
 * Messages the server sends ahead of our acknowledgements (the consumer's
 * MaxAckPending), and how often we acknowledge: each acknowledgement covers
 * every message before it (AckAll).  This bounds what waits in our memory to
 * about 2 MB of events; the ordered consumer's flow control let 32 MB pile up.
 */
#define CONSUME_WINDOW 4096
#define ACK_EVERY 1024
/* idle this long, ask whether our consumer still exists (deleted, or lost by the server) */
#define CHECK_IDLE_S 5

typedef struct consumer
{
	broker		b;
	broker_opts bo;
	broker_ends ends;
	stream_writer *out;
	stream_reader *body;		/* decodes message bodies */
	natsSubscription *sub;
	natsMsg    *unacked;		/* the last message written, not yet acknowledged */
	int			unacked_n;		/* messages written since the last acknowledgement */
	uint64_t	resub_at;		/* a gap made us subscribe again at this id's sequence */
	bool		resubscribe;	/* drop the subscription and read again after last_id */
	double		last_heard;		/* when a message came or the consumer was last seen */
	uint64_t	after;
	bool		follow;
	bool		check_only;		/* a header and an end marker only, for slate-load --check */
	uint64_t	first_id;		/* id at sequence 1 (0: not known yet) */
	uint64_t	last_id;		/* last id written (or --after) */
	uint64_t	count;
	uint64_t	txn_end;		/* last id known to end a source transaction */
	uint64_t	stop_id;		/* without --follow: the last whole transaction's end */
	uint64_t	marked;			/* last id a boundary marker was written after */
	int			status;
	double		started,
				last_progress;
} consumer;


static void
usage(void)
{
	printf("%s writes the events of a NATS JetStream stream that slate-publish fills\n"
		   "to stdout as a slate msgpack stream, for slate-load.\n\n"
		   "Usage:\n  %s [OPTION]... [NATS_URL]\n\n"
		   BROKER_ENV_HELP "\n"
		   "Options:\n"
		   "      --after=ID            start after this id (default 0)\n"
		   "      --check               check the stream (and the message after --after),\n"
		   "                            write only a header and an end marker, and exit\n"
		   "      --follow              keep writing events as they arrive; without it,\n"
		   "                            stop at the end of the last whole transaction\n"
		   "                            the stream held when it started\n"
		   BROKER_OPTIONS_HELP
		   "      --connect-timeout=S   give up connecting after S seconds\n"
		   "      --log-format=FORMAT   json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose             log more\n"
		   "  -V, --version             output version information, then exit\n"
		   "  -?, --help                show this help, then exit\n\n"
		   "Exit status: 0 done or stopped, 1 NATS error, 2 usage error, 3 a message\n"
		   "that is not a slate event, 4 refused (the stream no longer holds the id\n"
		   "asked for, a missing message), 5 output error.\n",
		   PROG, PROG);
}

static int
output_failed(void)
{
	if (errno == EPIPE)
		return EXIT_OK;
	log_error("could not write to stdout: %s", strerror(errno));
	return EXIT_IO;
}

static void
progress(consumer *k, bool final)
{
	log_progress(final ? "consumed" : "consuming", k->count, k->last_id, k->started,
				 &k->last_progress, final);
}

/*
 * The sequence to start at: ids are consecutive from the first event's at
 * sequence 1, so id A + 1 sits at A - first + 2; the message there must say
 * so, or the stream no longer holds it.  Returns 0 and sets status on refusal.
 */
static uint64_t
start_seq(consumer *k)
{
	uint64_t	seq;
	natsMsg    *m = NULL;
	jsErrCode	ec = 0;
	natsStatus	s;
	uint64_t	id = 0;

	if (k->ends.last_seq == 0 || k->after + 1 < k->first_id)
		return 1;
	seq = broker_seq_of(&k->ends, k->after + 1);
	if (seq > k->ends.last_seq)
		return seq;				/* not published yet: the stream's end was checked */
	s = js_GetMsg(&m, k->b.js, k->b.stream, seq, NULL, &ec);
	if (s == NATS_OK && broker_msg_id(m, &id) && id == k->after + 1)
	{
		natsMsg_Destroy(m);
		return seq;
	}
	natsMsg_Destroy(m);
	if (s == NATS_OK || ec == JSNoMessageFoundErr)
	{
		log_error("%s no longer holds event %" PRIu64 " (sequence %" PRIu64 "), the one after --after %"
				  PRIu64, k->b.desc, k->after + 1, seq, k->after);
		k->status = EXIT_REFUSED;
	}
	else
	{
		broker_report("could not read the first message to send", s, ec);
		k->status = EXIT_DB;
	}
	return 0;
}

static bool
write_header(consumer *k)
{
	stream_header h;
	char		producer[64];

	memset(&h, 0, sizeof(h));
	snprintf(producer, sizeof(producer), "%s %s", PROG, SLATE_VERSION);
	h.version = STREAM_VERSION;
	h.producer = producer;
	h.source = k->b.desc;
	h.after = k->after;
	h.source_max = k->ends.last_id;
	h.has_first = k->ends.last_seq > 0;
	if (h.has_first)
		h.first = k->ends.first;
	if (!stream_write_header(k->out, &h))
	{
		k->status = output_failed();
		return false;
	}
	return true;
}

/*
 * Before waiting for messages: when what was written ends on a source
 * transaction, say so with a boundary marker (slate-load commits there once
 * its input is idle) and push it out.  Markers only there, not after every
 * transaction of a backlog, so a catch-up is loaded in big transactions as
 * from slate-extract.
 */
static bool
mark_and_flush(consumer *k)
{
	if (k->count > 0 && k->txn_end == k->last_id && k->marked != k->last_id)
	{
		if (!stream_write_boundary(k->out, k->last_id))
			return false;
		k->marked = k->last_id;
	}
	return stream_flush(k->out);
}

/* one message: an event (its boundary, if any, is noted for mark_and_flush) */
static bool
on_message(consumer *k, natsMsg *m, bool *done)
{
	uint64_t	id = 0;
	uint64_t	expect = k->last_id + 1;
	stream_event e;
	char		err[600];

	if (!broker_msg_id(m, &id))
	{
		log_error("%s: a message after id %" PRIu64 " has no valid %s header: not a slate event",
				  k->b.desc, k->last_id, BROKER_HDR_ID);
		k->status = EXIT_INPUT;
		return false;
	}
	if (k->first_id == 0)
		k->first_id = id;		/* the stream was empty when we started */
	if (expect < k->first_id)
		expect = k->first_id;
	if (id < expect)
		return true;			/* already written */
	if (id != expect && k->resub_at != expect)
	{
		/* lost on the way (a reconnect): read again from the one we need, once */
		log_info("%s: event %" PRIu64 " came where %" PRIu64 " was expected; reading again from %" PRIu64,
				 k->b.desc, id, expect, expect);
		k->resub_at = expect;
		k->resubscribe = true;
		return true;
	}
	if (id != expect)
	{
		log_error("%s is missing event %" PRIu64 " (sequence %" PRIu64 "): the next message holds id %"
				  PRIu64 "; stopped after id %" PRIu64, k->b.desc, expect,
				  expect - k->first_id + 1, id, k->last_id);
		k->status = EXIT_REFUSED;
		return false;
	}
	if (!broker_decode_event(k->body, m, id - k->first_id + 1, &e, err, sizeof(err)))
	{
		log_error("%s: %s", k->b.desc, err);
		k->status = EXIT_INPUT;
		return false;
	}
	if (!stream_write_event(k->out, &e))
	{
		k->status = output_failed();
		return false;
	}
	k->last_id = id;
	k->count++;
	if (broker_msg_boundary(m))
	{
		k->txn_end = id;
		/* the stream's last whole transaction when we started (stop_id) */
		if (!k->follow && id >= k->stop_id)
			*done = true;
	}
	if ((k->count & 0xffff) == 0)
		progress(k, false);
	return true;
}

/*
 * Idle for a while: does the server still have our consumer?  An operator may
 * have deleted it, or a server restarted without it; then nothing would ever
 * come.  A server that does not answer is asked again later.
 */
static bool
consumer_lost(consumer *k)
{
	jsConsumerInfo *ci = NULL;
	jsOptions	jo;
	jsErrCode	ec = 0;
	natsStatus	s;

	if (now_s() - k->last_heard < CHECK_IDLE_S)
		return false;
	k->last_heard = now_s();
	jsOptions_Init(&jo);
	jo.Wait = 1000;				/* a stop must not wait long */
	s = natsSubscription_GetConsumerInfo(&ci, k->sub, &jo, &ec);
	jsConsumerInfo_Destroy(ci);
	return s == NATS_NOT_FOUND || ec == JSConsumerNotFoundErr;
}

/* acknowledge every message written so far (AckAll: the last one covers them) */
static void
ack_written(consumer *k)
{
	if (k->unacked == NULL)
		return;
	if (natsMsg_Ack(k->unacked, NULL) != NATS_OK)
		log_debug("could not acknowledge id %" PRIu64 " (redelivered later, and skipped)", k->last_id);
	natsMsg_Destroy(k->unacked);
	k->unacked = NULL;
	k->unacked_n = 0;
}

static void
unsubscribe(consumer *k)
{
	natsMsg_Destroy(k->unacked);
	k->unacked = NULL;
	k->unacked_n = 0;
	if (k->sub != NULL)
	{
		natsSubscription_Unsubscribe(k->sub);	/* deletes the server's consumer */
		natsSubscription_Destroy(k->sub);
	}
	k->sub = NULL;
}

/*
 * A push consumer from sequence seq on that sends at most CONSUME_WINDOW
 * messages ahead of our acknowledgements.  Returns EXIT_OK, or EXIT_DB when
 * JetStream refused (logged); a server that is away is retried.
 */
static int
subscribe(consumer *k, uint64_t seq)
{
	jsSubOptions so;
	jsErrCode	ec = 0;
	natsStatus	s;
	bool		said = false;

	jsSubOptions_Init(&so);
	so.Stream = k->b.stream;
	so.ManualAck = true;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = seq;
	so.Config.AckPolicy = js_AckAll;
	so.Config.MaxAckPending = CONSUME_WINDOW;
	while ((s = js_SubscribeSync(&k->sub, k->b.js, k->b.subject, NULL, &so, &ec)) != NATS_OK)
	{
		if (ec != 0 || (s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS && s != NATS_CONNECTION_DISCONNECTED))
		{
			broker_report("could not subscribe", s, ec);
			return EXIT_DB;
		}
		if (!said)
			log_info("%s is not answering (%s); trying again every second", k->b.desc, natsStatus_GetText(s));
		said = true;
		if (stop_requested || nanosleep(&(struct timespec) {1, 0}, NULL) != 0)
			return EXIT_OK;		/* a signal: the loop sees the stop */
	}
	log_debug("reading %s from sequence %" PRIu64 " (after id %" PRIu64 ")", k->b.desc, seq, k->last_id);
	k->last_heard = now_s();
	return EXIT_OK;
}

static void
run(consumer *k)
{
	natsStatus	s;
	uint64_t	seq = start_seq(k);
	bool		done = false;

	if (seq == 0 || !write_header(k))
		return;
	if (k->check_only)
	{
		k->last_id = k->after;
		if (!stream_write_end(k->out, k->after, 0))
			k->status = output_failed();
		else
			log_info("%s is readable after id %" PRIu64, k->b.desc, k->after);
		return;
	}
	if (!k->follow)
	{
		/* up to the last whole transaction: the rest of a cut one may never come */
		int			rc = broker_last_boundary(&k->b, &k->ends, &k->stop_id);

		if (rc != EXIT_OK)
		{
			k->status = rc;
			return;
		}
		if (stop_requested)
			return;
		if (k->stop_id < k->ends.last_id)
			log_info("%s ends inside a source transaction (its publisher was cut off or is still "
					 "publishing it): stopping after id %" PRIu64 ", the end of the last whole one, "
					 "not at its last event, id %" PRIu64, k->b.desc, k->stop_id, k->ends.last_id);
		if (k->after >= k->stop_id)
			done = true;		/* nothing to send */
	}
	while (!done && !stop_requested)
	{
		natsMsg    *m = NULL;
		int			queued = 0,
					queued_bytes = 0;

		if (k->sub == NULL)
		{
			/* the message after the last one written: its sequence follows from the ids */
			if (k->last_id >= k->first_id && k->first_id > 0)
				seq = k->last_id - k->first_id + 2;
			if ((k->status = subscribe(k, seq)) != EXIT_OK || k->sub == NULL)
				return;
		}
		/* nothing more at hand: acknowledge, mark the boundary and flush before waiting */
		if (natsSubscription_GetPending(k->sub, &queued, &queued_bytes) == NATS_OK && queued == 0)
		{
			ack_written(k);
			if (!mark_and_flush(k))
			{
				k->status = output_failed();
				return;
			}
		}
		s = natsSubscription_NextMsg(&m, k->sub, WAIT_MS);
		if (s == NATS_TIMEOUT && consumer_lost(k))
			s = NATS_NOT_FOUND;
		if (s == NATS_TIMEOUT)
			continue;
		if (s != NATS_OK)
		{
			/* heartbeats missed, the consumer gone (a server restart): read again where we are */
			log_info("%s: %s; reading again after id %" PRIu64, k->b.desc,
					 s == NATS_NOT_FOUND ? "our consumer is gone (deleted, or lost in a restart)" :
					 natsStatus_GetText(s), k->last_id);
			unsubscribe(k);
			continue;
		}
		k->last_heard = now_s();
		if (!on_message(k, m, &done))
		{
			natsMsg_Destroy(m);
			stream_flush(k->out);
			return;
		}
		natsMsg_Destroy(k->unacked);
		k->unacked = m;
		if (++k->unacked_n >= ACK_EVERY)
			ack_written(k);
		if (k->resubscribe)
		{
			k->resubscribe = false;
			unsubscribe(k);
		}
	}
	if (done && (!mark_and_flush(k) || !stream_write_end(k->out, k->last_id, k->count)))
		k->status = output_failed();
	else if (!mark_and_flush(k))
		k->status = output_failed();
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"after", required_argument, NULL, 'a'},
		{"follow", no_argument, NULL, 'f'},
		{"check", no_argument, NULL, 'c'},
		BROKER_LONG_OPTIONS,
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	consumer	k;
	int64_t		after = 0;
	opt_common	common = {0, LOG_FORMAT_AUTO};
	int			r,
				c;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	memset(&k, 0, sizeof(k));
	while ((c = getopt_long(argc, argv, OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		if (broker_opt_case(&k.bo, c, optarg))
			continue;
		switch (c)
		{
			case 'a':
				if (!opt_int64(PROG, "after", optarg, 0, INT64_MAX, &after))
					return EXIT_USAGE;
				break;
			case 'f':
				k.follow = true;
				break;
			case 'c':
				k.check_only = true;
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if ((r = opt_conninfo(PROG, argc, argv, &k.bo.url)) != OPT_GO_ON)
		return r;
	k.bo.connect_timeout = common.connect_timeout;
	if (!broker_opts_check(PROG, &k.bo))
		return EXIT_USAGE;
	k.after = k.last_id = (uint64_t) after;

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	k.out = stream_writer_new(STDOUT_FILENO);
	k.body = stream_reader_new(-1, "message", SIZE_MAX);
	if (k.out == NULL || k.body == NULL)
	{
		log_error("out of memory");
		k.status = EXIT_IO;
	}
	else if (!broker_connect(&k.b, &k.bo))
		k.status = stop_requested ? EXIT_OK : EXIT_DB;
	else if ((k.status = broker_read_ends(&k.b, &k.ends)) != EXIT_OK)
		;
	else if (!k.ends.exists)
	{
		log_error("%s does not exist (slate-publish creates it)", k.b.desc);
		k.status = EXIT_DB;
	}
	else
	{
		k.first_id = k.ends.first_id;
		k.started = k.last_progress = now_s();
		run(&k);
		if (k.status == EXIT_OK && !stop_requested && !k.check_only)
			progress(&k, true);
		else if (stop_requested && k.status == EXIT_OK)
			log_info("stopped by signal at id %" PRIu64, k.last_id);
	}
	if (k.sub != NULL)
	{
		unsubscribe(&k);
	}
	broker_ends_clear(&k.ends);
	broker_close(&k.b);
	nats_Close();
	stream_reader_free(k.body);
	stream_writer_free(k.out);
	return k.status;
}
