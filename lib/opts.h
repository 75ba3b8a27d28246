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

#endif
