/*
 * trace.h - timestamps of the live path's hops, for bench/latency.sh
 *
 * With SLATE_TRACE=FILE in the environment, each trace_mark() appends one
 * line "PROGRAM WHAT SECONDS" to FILE, on the monotonic clock every process
 * of the machine shares; without it, trace_mark() does nothing.  The
 * benchmark lines the marks up with its own transactions to show where the
 * time between a commit on the source and its visibility on a destination
 * goes.
 */
#ifndef SLATE_TRACE_H
#define SLATE_TRACE_H

void		trace_mark(const char *what);

#endif
