/* opts.c - option helpers: range-checked numbers, usage errors */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
