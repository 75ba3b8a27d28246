/* opts.h - option helpers: range-checked numbers, usage errors */
#ifndef SLATE_OPTS_H
#define SLATE_OPTS_H

#include <stdbool.h>
#include <stdint.h>

/* parse a decimal integer in [min,max]; on failure print "prog: invalid value for --opt" */
bool opt_int64(const char *prog, const char *opt, const char *arg,
			   int64_t min, int64_t max, int64_t *out);
/* print "prog: msg" and the "Try ... --help" line to stderr */
void opt_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void opt_print_version(const char *prog);

/* the options every program takes; put them last in its long options */
#define OPT_COMMON_LONG_OPTIONS \
	{"connect-timeout", required_argument, NULL, 't'}, \
	{"log-format", required_argument, NULL, 'L'}, \
	{"verbose", no_argument, NULL, 'v'}, \
	{"version", no_argument, NULL, 'V'}, \
	{"help", no_argument, NULL, '?'}
#define OPT_COMMON_SHORT "vV?"

typedef struct opt_common
{
	int64_t		connect_timeout;	/* seconds, 0: libpq's own */
	int			log_format;		/* enum log_format */
} opt_common;

/* returned by the helpers below when the caller should go on */
#define OPT_GO_ON (-1)

/* --help or --version as the first argument: print, and return the exit status */
int			opt_early(const char *prog, int argc, char **argv, void (*usage)(void));
/*
 * Handle getopt_long's result c for a common option, or a bad one (with the
 * "Try ... --help" line).  Returns OPT_GO_ON or the exit status to return now.
 */
int			opt_common_case(const char *prog, int c, char **argv, opt_common *o,
							void (*usage)(void));
/* at most one positional CONNINFO; returns OPT_GO_ON or the usage exit status */
int			opt_conninfo(const char *prog, int argc, char **argv, const char **conninfo);

#endif
