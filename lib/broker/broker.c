/* broker.c - NATS JetStream for slate-publish and slate-consume (see broker.h) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "signals.h"

bool
broker_opt_case(broker_opts *o, int c, const char *arg)
{
	switch (c)
	{
		case 's':
			o->stream = arg;
			return true;
		case 'j':
			o->subject = arg;
			return true;
		case 'C':
			o->creds = arg;
			return true;
		case 'A':
			o->tls_ca = arg;
			return true;
		case 'E':
			o->tls_cert = arg;
			return true;
		case 'K':
			o->tls_key = arg;
			return true;
		default:
			return false;
	}
}

/* JetStream stream names: no whitespace, '.', '*', '>', path separators */
static bool
valid_stream_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || strchr(".*>/\\", *s) != NULL)
			return false;
	return true;
}

bool
broker_opts_check(const char *prog, broker_opts *o)
{
	const char *scheme;
	const char *at;

	if (o->url == NULL)
		o->url = getenv("NATS_URL") ? getenv("NATS_URL") : BROKER_DEFAULT_URL;
	if (o->stream == NULL)
		o->stream = BROKER_DEFAULT_STREAM;
	if (!valid_stream_name(o->stream))
	{
		opt_usage_error(prog, "invalid --stream \"%s\": a JetStream stream name has no spaces, '.', '*', '>' or slashes",
						o->stream);
		return false;
	}
	if (o->subject != NULL && (*o->subject == '\0' || strpbrk(o->subject, " \t*>") != NULL))
	{
		opt_usage_error(prog, "invalid --subject \"%s\": one subject without wildcards", o->subject);
		return false;
	}
	if ((o->tls_cert == NULL) != (o->tls_key == NULL))
	{
		opt_usage_error(prog, "--tls-cert and --tls-key go together");
		return false;
	}
	/* whatever is before an '@' in the authority is a user, a password or a token */
	scheme = strstr(o->url, "://");
	scheme = scheme ? scheme + 3 : o->url;
	at = strchr(scheme, '@');
	if (at != NULL && (strchr(scheme, '/') == NULL || at < strchr(scheme, '/')))
	{
		opt_usage_error(prog, "credentials in the NATS URL are refused (every user can read argv); "
						"use NATS_USER and NATS_PASSWORD, NATS_TOKEN or --creds");
		return false;
	}
	return true;
}

void
broker_report(const char *what, natsStatus s, jsErrCode ec)
{
	const char *detail = nats_GetLastError(NULL);

	if (detail != NULL && *detail && strcmp(detail, natsStatus_GetText(s)) != 0)
		log_error("%s: %s (%s)", what, natsStatus_GetText(s), detail);
	else if (ec != 0)
		log_error("%s: %s (JetStream error %d)", what, natsStatus_GetText(s), (int) ec);
	else
		log_error("%s: %s", what, natsStatus_GetText(s));
}

bool
broker_connect(broker *b, const broker_opts *o)
{
	natsOptions *no = NULL;
	natsStatus	s;
	jsOptions	jo;
	const char *user = getenv("NATS_USER");
	const char *password = getenv("NATS_PASSWORD");
	const char *token = getenv("NATS_TOKEN");

	memset(b, 0, sizeof(*b));
	b->stream = o->stream;
	b->subject_given = o->subject != NULL;
	if (o->subject != NULL)
		snprintf(b->subject, sizeof(b->subject), "%s", o->subject);
	else
		snprintf(b->subject, sizeof(b->subject), "%s.events", o->stream);
	snprintf(b->desc, sizeof(b->desc), "%s stream %s", o->url, o->stream);

	s = natsOptions_Create(&no);
	if (s == NATS_OK)
		s = natsOptions_SetURL(no, o->url);
	if (s == NATS_OK)
		s = natsOptions_SetName(no, log_program());
	if (s == NATS_OK && o->connect_timeout > 0)
		s = natsOptions_SetTimeout(no, o->connect_timeout * 1000);
	if (s == NATS_OK && (user != NULL || password != NULL))
		s = natsOptions_SetUserInfo(no, user ? user : "", password ? password : "");
	if (s == NATS_OK && token != NULL)
		s = natsOptions_SetToken(no, token);
	if (s == NATS_OK && o->creds != NULL)
		s = natsOptions_SetUserCredentialsFromFiles(no, o->creds, NULL);
	if (s == NATS_OK && o->tls_ca != NULL)
		s = natsOptions_LoadCATrustedCertificates(no, o->tls_ca);
	if (s == NATS_OK && o->tls_cert != NULL)
		s = natsOptions_LoadCertificatesChain(no, o->tls_cert, o->tls_key);
	/* a server restart is survived: the library reconnects and replays what it buffered */
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(no, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(no, 250);
	if (s != NATS_OK)
	{
		broker_report("invalid NATS options", s, 0);
		natsOptions_Destroy(no);
		return false;
	}
	s = natsConnection_Connect(&b->nc, no);
	natsOptions_Destroy(no);
	if (s != NATS_OK)
	{
		char		what[600];

		snprintf(what, sizeof(what), "could not connect to %s", o->url);
		broker_report(what, s, 0);
		return false;
	}
	jsOptions_Init(&jo);
	jo.Wait = 10000;
	s = natsConnection_JetStream(&b->js, b->nc, &jo);
	if (s != NATS_OK)
	{
		broker_report("could not open JetStream", s, 0);
		natsConnection_Destroy(b->nc);
		b->nc = NULL;
		return false;
	}
	return true;
}

void
broker_close(broker *b)
{
	if (b->js != NULL)
		jsCtx_Destroy(b->js);
	if (b->nc != NULL)
	{
		natsConnection_Close(b->nc);
		natsConnection_Destroy(b->nc);
	}
	b->js = NULL;
	b->nc = NULL;
}

bool
broker_msg_id(natsMsg *m, uint64_t *id)
{
	const char *v = NULL;
	char	   *end;
	unsigned long long n;

	if (natsMsgHeader_Get(m, BROKER_HDR_ID, &v) != NATS_OK || v == NULL || *v < '0' || *v > '9')
		return false;
	n = strtoull(v, &end, 10);
	if (*end != '\0' || n == 0 || n > INT64_MAX)
		return false;
	*id = n;
	return true;
}

bool
broker_msg_boundary(natsMsg *m)
{
	const char *v = NULL;

	return natsMsgHeader_Get(m, BROKER_HDR_BOUNDARY, &v) == NATS_OK && v != NULL &&
		strcmp(v, "true") == 0;
}

bool
broker_decode_event(stream_reader *r, natsMsg *m, uint64_t seq,
					stream_event *e, char *err, size_t errlen)
{
	stream_msg	msg;
	stream_read_result res;
	uint64_t	id;

	if (!broker_msg_id(m, &id))
	{
		snprintf(err, errlen, "message at sequence %" PRIu64 " has no valid %s header: not a slate event",
				 seq, BROKER_HDR_ID);
		return false;
	}
	if (!stream_reader_feed(r, natsMsg_GetData(m), (size_t) natsMsg_GetDataLength(m)))
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	res = stream_read(r, &msg);
	if (res == STREAM_MSG && msg.type != MSG_EVENT)
	{
		snprintf(err, errlen, "message at sequence %" PRIu64 " (id %" PRIu64 ") holds a %s message, not an event",
				 seq, id, stream_msg_type_name(msg.type));
		return false;
	}
	if (res != STREAM_MSG)
	{
		snprintf(err, errlen, "message at sequence %" PRIu64 " (id %" PRIu64 ") is not a slate event: %s",
				 seq, id, res == STREAM_ERROR ? stream_reader_error(r) : "empty body");
		return false;
	}
	if (msg.ev.id != id)
	{
		snprintf(err, errlen, "message at sequence %" PRIu64 " says id %" PRIu64 " in its header but holds event %" PRIu64,
				 seq, id, msg.ev.id);
		return false;
	}
	*e = msg.ev;
	/* exactly one message per body; the pointers in *e stay valid past this EOF */
	if (stream_reader_buffered(r))
	{
		snprintf(err, errlen, "message at sequence %" PRIu64 " (id %" PRIu64 ") has bytes after its event",
				 seq, id);
		return false;
	}
	return true;
}

/* get the message at seq; NATS_NOT_FOUND when the stream does not hold it */
static natsStatus
get_msg(broker *b, uint64_t seq, natsMsg **m)
{
	jsErrCode	ec = 0;
	natsStatus	s = js_GetMsg(m, b->js, b->stream, seq, NULL, &ec);

	if (s != NATS_OK && ec == JSNoMessageFoundErr)
		return NATS_NOT_FOUND;
	if (s != NATS_OK)
	{
		char		what[600];

		snprintf(what, sizeof(what), "could not read sequence %" PRIu64 " of %s", seq, b->desc);
		broker_report(what, s, ec);
	}
	return s;
}

int
broker_read_ends(broker *b, broker_ends *e)
{
	jsStreamInfo *si = NULL;
	jsErrCode	ec = 0;
	natsStatus	s;
	natsMsg    *last = NULL;
	char		err[600];

	memset(e, 0, sizeof(*e));
	s = js_GetStreamInfo(&si, b->js, b->stream, NULL, &ec);
	if (s == NATS_NOT_FOUND || ec == JSStreamNotFoundErr)
		return EXIT_OK;
	if (s != NATS_OK)
	{
		snprintf(err, sizeof(err), "could not read the state of %s", b->desc);
		broker_report(err, s, ec);
		return EXIT_DB;
	}
	e->exists = true;
	/* the stream's own subject, unless --subject named one: then they must agree */
	if (si->Config != NULL && si->Config->SubjectsLen == 1 &&
		strcmp(si->Config->Subjects[0], b->subject) != 0)
	{
		if (b->subject_given)
		{
			log_error("%s takes subject \"%s\", not \"%s\" (--subject)", b->desc,
					  si->Config->Subjects[0], b->subject);
			jsStreamInfo_Destroy(si);
			return EXIT_USAGE;
		}
		snprintf(b->subject, sizeof(b->subject), "%s", si->Config->Subjects[0]);
	}
	e->first_seq = si->State.FirstSeq;
	e->last_seq = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	if (e->last_seq == 0)
		return EXIT_OK;
	if (e->first_seq != 1 || (s = get_msg(b, 1, &e->first_msg)) == NATS_NOT_FOUND)
	{
		log_error("%s no longer holds its first message (it starts at sequence %" PRIu64
				  "): the source's first event, which says whose events these are, is gone",
				  b->desc, e->first_seq);
		return EXIT_REFUSED;
	}
	if (s != NATS_OK)
		return EXIT_DB;
	e->reader = stream_reader_new(-1, "message", SIZE_MAX);
	if (e->reader == NULL)
	{
		log_error("out of memory");
		return EXIT_IO;
	}
	if (!broker_decode_event(e->reader, e->first_msg, 1, &e->first, err, sizeof(err)))
	{
		log_error("%s: %s", b->desc, err);
		return EXIT_REFUSED;
	}
	e->first_id = e->first.id;
	if (e->last_seq == 1)
	{
		e->last_id = e->first_id;
		e->last_boundary = broker_msg_boundary(e->first_msg);
		return EXIT_OK;
	}
	if ((s = get_msg(b, e->last_seq, &last)) != NATS_OK)
	{
		if (s == NATS_NOT_FOUND)
			log_error("%s: its last message (sequence %" PRIu64 ") is gone", b->desc, e->last_seq);
		return s == NATS_NOT_FOUND ? EXIT_REFUSED : EXIT_DB;
	}
	if (!broker_msg_id(last, &e->last_id) || broker_seq_of(e, e->last_id) != e->last_seq)
	{
		log_error("%s: its last message (sequence %" PRIu64 ") is not event %" PRIu64
				  " as the first event (id %" PRIu64 ") implies: not a stream slate-publish wrote",
				  b->desc, e->last_seq, e->last_seq + e->first_id - 1, e->first_id);
		natsMsg_Destroy(last);
		return EXIT_REFUSED;
	}
	e->last_boundary = broker_msg_boundary(last);
	natsMsg_Destroy(last);
	return EXIT_OK;
}

int
broker_last_boundary(broker *b, const broker_ends *e, uint64_t *id)
{
	*id = 0;
	if (e->last_seq == 0)
		return EXIT_OK;			/* an empty stream */
	if (e->last_boundary)
	{
		*id = e->last_id;		/* the usual case, read already by broker_read_ends */
		return EXIT_OK;
	}
	for (uint64_t seq = e->last_seq - 1; seq >= e->first_seq && seq > 0 && !stop_requested; seq--)
	{
		natsMsg    *m = NULL;
		natsStatus	s = get_msg(b, seq, &m);
		uint64_t	mid = 0;
		bool		boundary,
					ok;

		if (s == NATS_NOT_FOUND)
		{
			log_error("%s: its message at sequence %" PRIu64 " is gone", b->desc, seq);
			return EXIT_REFUSED;
		}
		if (s != NATS_OK)
			return EXIT_DB;
		ok = broker_msg_id(m, &mid);
		boundary = broker_msg_boundary(m);
		natsMsg_Destroy(m);
		if (!ok)
		{
			log_error("%s: its message at sequence %" PRIu64 " has no valid %s header: not a slate event",
					  b->desc, seq, BROKER_HDR_ID);
			return EXIT_REFUSED;
		}
		if (boundary)
		{
			*id = mid;
			break;
		}
	}
	return EXIT_OK;
}

void
broker_ends_clear(broker_ends *e)
{
	if (e->first_msg != NULL)
		natsMsg_Destroy(e->first_msg);
	stream_reader_free(e->reader);
	e->first_msg = NULL;
	e->reader = NULL;
}
