/*
 * broker.h - what slate-publish and slate-consume share about NATS JetStream:
 * the connection (credentials the NATS way, never from argv), the message
 * layout (docs/stream-format.md, "Through NATS JetStream") and the stream's
 * ends.  Only these two programs link libnats, so this lives apart from the rest of lib/.
 */
#ifndef SLATE_BROKER_H
#define SLATE_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include <nats/nats.h>

#include "stream.h"

/* the headers of every message; the body is the event's stream v1 message */
#define BROKER_HDR_ID "Nats-Msg-Id"			/* the event id, decimal */
#define BROKER_HDR_BOUNDARY "Slate-Boundary"	/* "true": a source transaction ends here */

#define BROKER_DEFAULT_URL "nats://127.0.0.1:4222"
#define BROKER_DEFAULT_STREAM "slate"

/* options both programs take; put them before OPT_COMMON_LONG_OPTIONS */
#define BROKER_LONG_OPTIONS \
	{"stream", required_argument, NULL, 's'}, \
	{"subject", required_argument, NULL, 'j'}, \
	{"creds", required_argument, NULL, 'C'}, \
	{"tls-ca", required_argument, NULL, 'A'}, \
	{"tls-cert", required_argument, NULL, 'E'}, \
	{"tls-key", required_argument, NULL, 'K'}

#define BROKER_OPTIONS_HELP \
	"      --stream=NAME         the JetStream stream (default " BROKER_DEFAULT_STREAM ")\n" \
	"      --subject=SUBJECT     its subject (default NAME.events)\n" \
	"      --creds=FILE          NATS credentials file (JWT and NKey seed)\n" \
	"      --tls-ca=FILE         CA certificates to verify the server (tls:// URLs)\n" \
	"      --tls-cert=FILE       client certificate, with --tls-key=FILE\n"

#define BROKER_ENV_HELP \
	"NATS_URL is a nats:// or tls:// URL (default " BROKER_DEFAULT_URL "); credentials\n" \
	"never go in it: NATS_USER and NATS_PASSWORD, NATS_TOKEN or --creds give them.\n"

typedef struct broker_opts
{
	const char *url;
	const char *stream;
	const char *subject;		/* NULL: stream + ".events" */
	const char *creds;
	const char *tls_ca;
	const char *tls_cert;
	const char *tls_key;
	int64_t		connect_timeout;	/* seconds, 0: libnats' own */
} broker_opts;

typedef struct broker
{
	natsConnection *nc;
	jsCtx	   *js;
	const char *stream;
	char		subject[256];
	bool		subject_given;	/* --subject: an existing stream must have it */
	char		desc[512];		/* URL and stream for messages, without credentials */
} broker;

/*
 * Handle getopt_long's c for a broker option; true when it was one.  Returns
 * false for anything else, so the caller goes on to opt_common_case.
 */
bool		broker_opt_case(broker_opts *o, int c, const char *arg);

/*
 * Check the options (a URL holding credentials is a usage error: argv is
 * visible to every user).  Prints the usage error and returns false.
 */
bool		broker_opts_check(const char *prog, broker_opts *o);

/* connect and open JetStream; logs one error and returns false on failure */
bool		broker_connect(broker *b, const broker_opts *o);
void		broker_close(broker *b);

/* log "what: libnats' text (JetStream's error text)" */
void		broker_report(const char *what, natsStatus s, jsErrCode ec);

/* the event id a message carries in Nats-Msg-Id; false when it has none or a bad one */
bool		broker_msg_id(natsMsg *m, uint64_t *id);
bool		broker_msg_boundary(natsMsg *m);

/*
 * Decode a message body into *e with the reader r (made with fd -1): it must
 * be exactly one event message whose id is the header's.  On failure writes
 * one line to err (naming the sequence) and returns false.  *e points into r
 * until the next call.
 */
bool		broker_decode_event(stream_reader *r, natsMsg *m, uint64_t seq,
								stream_event *e, char *err, size_t errlen);

/* what the stream holds: sequences and the ids at its ends */
typedef struct broker_ends
{
	bool		exists;
	uint64_t	first_seq,
				last_seq;		/* 0 when empty */
	uint64_t	first_id;		/* id of the event at sequence 1 (0: empty) */
	uint64_t	last_id;		/* id of the last message (0: empty) */
	bool		last_boundary;	/* the last message ends a source transaction */
	natsMsg    *first_msg;		/* the message at sequence 1: the source's first event */
	stream_reader *reader;		/* decodes it */
	stream_event first;			/* decoded, points into reader */
} broker_ends;

/*
 * Read the stream's ends.  Refuses (status EXIT_REFUSED) a stream that no
 * longer holds sequence 1 (the source's first event, which vouches for the
 * source) or whose last message does not sit at the sequence its id says.
 * Returns an exit status: 0 with *ends filled (exists false when missing).
 */
int			broker_read_ends(broker *b, broker_ends *ends);
/*
 * The id of the stream's last event that ends a source transaction (its
 * boundary header set), looking back from the last message; 0 when none
 * does.  A publisher whose input was cut mid-transaction leaves that
 * transaction's first events without their end until it runs again.
 * Returns an exit status (EXIT_OK, or the error's, logged).
 */
int			broker_last_boundary(broker *b, const broker_ends *ends, uint64_t *id);
void		broker_ends_clear(broker_ends *ends);

/* the sequence of event id (ids are consecutive from first_id at sequence 1) */
static inline uint64_t
broker_seq_of(const broker_ends *e, uint64_t id)
{
	return id - e->first_id + 1;
}

#endif
