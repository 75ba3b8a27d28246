/* opts.c - option helpers: range-checked numbers, usage errors */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <getopt.h>
#include <string.h>

#include "exitcodes.h"
#include "log.h"
#include "opts.h"
#include "version.h"

bool
opt_int64(const char *prog, const char *opt, const char *arg,
		  int64_t min, int64_t max, int64_t *out)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
	{
		opt_usage_error(prog, "invalid value \"%s\" for --%s: must be an integer from %" PRId64
						" to %" PRId64, arg, opt, min, max);
		return false;
	}
	*out = v;
	return true;
}

void
opt_usage_error(const char *prog, const char *fmt, ...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"%s --help\" for more information.\n", prog);
}

void
opt_print_version(const char *prog)
{
	printf("%s (slate) %s\n", prog, SLATE_VERSION);
}

int
opt_early(const char *prog, int argc, char **argv, void (*usage)(void))
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		usage();
		return EXIT_OK;
	}
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
	{
		opt_print_version(prog);
		return EXIT_OK;
	}
	return OPT_GO_ON;
}

int
opt_common_case(const char *prog, int c, char **argv, opt_common *o, void (*usage)(void))
{
	switch (c)
	{
		case 't':
			return opt_int64(prog, "connect-timeout", optarg, 1, 3600, &o->connect_timeout)
				? OPT_GO_ON : EXIT_USAGE;
		case 'L':
			if ((o->log_format = log_parse_format(optarg)) < 0)
			{
				opt_usage_error(prog, "invalid value \"%s\" for --log-format: use json, text or auto", optarg);
				return EXIT_USAGE;
			}
			return OPT_GO_ON;
		case 'v':
			log_set_level(LOG_DEBUG);
			return OPT_GO_ON;
		case 'V':
			opt_print_version(prog);
			return EXIT_OK;
		default:
			/* getopt returns '?' for -? and for a bad option (it said which) */
			if (optopt == '?' || (optind > 0 && strcmp(argv[optind - 1], "-?") == 0))
			{
				usage();
				return EXIT_OK;
			}
			fprintf(stderr, "Try \"%s --help\" for more information.\n", prog);
			return EXIT_USAGE;
	}
}

int
opt_conninfo(const char *prog, int argc, char **argv, const char **conninfo)
{
	*conninfo = NULL;
	if (optind < argc)
		*conninfo = argv[optind++];
	if (optind < argc)
	{
		opt_usage_error(prog, "too many command-line arguments (first is \"%s\")", argv[optind]);
		return EXIT_USAGE;
	}
	return OPT_GO_ON;
}
