/* slate-listen - LISTEN on a source and write a wake message to stdout whenever there may be new events */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "listen.h"
#include "log.h"
#include "opts.h"
#include "signals.h"

#define DEFAULT_CHANNEL "eventsinsert"
#define DEFAULT_INTERVAL_MS 5000
#define MAX_CHANNEL_LEN 63		/* NAMEDATALEN - 1: pg_notify refuses longer names */

static void
usage(void)
{
	printf("%s listens for notifications on a slate event source and writes a wake\n"
		   "message to stdout after each burst of them, and at least once per interval.\n"
		   "Pipe it into \"slate-extract --follow\".\n\n"
		   "Usage:\n  %s [OPTION]... [CONNINFO]\n\n"
		   "CONNINFO is a libpq connection string or URI; without it libpq's\n"
		   "environment (PGHOST, PGDATABASE, ~/.pgpass, services...) applies.\n\n"
		   "Options:\n"
		   "      --channel=NAME        channel to LISTEN on (default \"%s\")\n"
		   "      --poll-interval=S     write a wake at least every S seconds, e.g. 5 or\n"
		   "                            0.5, and check the connection then (default 5)\n"
		   "      --reconnect           when the connection is lost, reconnect (backing\n"
		   "                            off up to 5 s) instead of exiting\n"
		   "      --connect-timeout=S   give up connecting after S seconds\n"
		   "      --log-format=FORMAT   json, text or auto (default: text on a terminal)\n"
		   "  -v, --verbose             log each wake\n"
		   "  -V, --version             output version information, then exit\n"
		   "  -?, --help                show this help, then exit\n\n"
		   "Exit status: 0 stopped by a signal or the reader went away, 1 database\n"
		   "error or lost connection, 2 usage error, 5 output error.\n",
		   PROG, PROG, DEFAULT_CHANNEL);
}

/*
 * Parse seconds with up to three decimals ("5", "0.5", "0.25") into
 * milliseconds within [min_ms, max_ms]; prints a usage error on failure.
 */
static bool
parse_seconds(const char *opt, const char *arg, int64_t min_ms, int64_t max_ms, int64_t *out)
{
	const char *p = arg;
	int64_t		ms = 0;
	int			decimals = 0;

	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		ms = ms * 10 + (*p - '0');
		if (ms > max_ms)
			goto bad;
	}
	ms *= 1000;
	if (*p == '.')
	{
		int64_t		scale = 100;

		for (p++; *p >= '0' && *p <= '9'; p++, decimals++)
		{
			if (decimals == 3)
				goto bad;
			ms += (*p - '0') * scale;
			scale /= 10;
		}
		if (decimals == 0)
			goto bad;
	}
	if (*p != '\0' || ms < min_ms || ms > max_ms)
		goto bad;
	*out = ms;
	return true;

bad:
	opt_usage_error(PROG, "invalid value \"%s\" for --%s: must be a number of seconds from "
					"%" PRId64 ".%03" PRId64 " to %" PRId64 " with at most 3 decimals",
					arg, opt, min_ms / 1000, min_ms % 1000, max_ms / 1000);
	return false;
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"channel", required_argument, NULL, 'c'},
		{"poll-interval", required_argument, NULL, 'i'},
		{"reconnect", no_argument, NULL, 'r'},
		OPT_COMMON_LONG_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	listener	l;
	opt_common common = {0, LOG_FORMAT_AUTO};
	int			r;
	const char *conninfo = NULL;
	sigset_t	stops;
	int			c;

	if ((r = opt_early(PROG, argc, argv, usage)) != OPT_GO_ON)
		return r;
	memset(&l, 0, sizeof(l));
	l.channel = DEFAULT_CHANNEL;
	l.interval_ms = DEFAULT_INTERVAL_MS;
	while ((c = getopt_long(argc, argv, OPT_COMMON_SHORT, long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'c':
				if (optarg[0] == '\0' || strlen(optarg) > MAX_CHANNEL_LEN)
				{
					opt_usage_error(PROG, "invalid value \"%s\" for --channel: must be 1 to %d bytes",
									optarg, MAX_CHANNEL_LEN);
					return EXIT_USAGE;
				}
				l.channel = optarg;
				break;
			case 'i':
				if (!parse_seconds("poll-interval", optarg, 10, 86400 * 1000, &l.interval_ms))
					return EXIT_USAGE;
				break;
			case 'r':
				l.reconnect = true;
				break;
			default:
				if ((r = opt_common_case(PROG, c, argv, &common, usage)) != OPT_GO_ON)
					return r;
				break;
		}
	}
	if ((r = opt_conninfo(PROG, argc, argv, &conninfo)) != OPT_GO_ON)
		return r;
	l.connect_timeout = (int) common.connect_timeout;

	log_init(PROG, (enum log_format) common.log_format);
	signals_init();
	/* stops stay pending outside ppoll(), so none slips in between a check and a wait */
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &l.wait_mask);
	sigdelset(&l.wait_mask, SIGINT);
	sigdelset(&l.wait_mask, SIGTERM);

	l.out = stream_writer_new(STDOUT_FILENO);
	l.conninfo = conninfo;
	if (l.out == NULL)
	{
		log_error("out of memory");
		l.status = EXIT_IO;
		goto cleanup;
	}
	/* a first failure is a bad address or password more often than an outage: no retry */
	if (!connect_and_listen(&l))
	{
		l.status = EXIT_DB;
		goto cleanup;
	}
	log_info("listening on channel %s at %s", l.channel, l.src.desc);
	if (wake(&l, "start"))
		listen_loop(&l);
	if (stop_requested)
		log_info("stopped by signal");

cleanup:
	stream_writer_free(l.out);
	conn_close(&l.src);
	return l.status;
}
