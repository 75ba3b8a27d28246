/* status.h - slate-status: what it learns of each database and how it reports it */
#ifndef SLATE_STATUS_H
#define SLATE_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conn.h"

/* the monitoring-plugins states, which are also slate-status's exit statuses */
typedef enum check_state
{
	STATE_OK = 0,
	STATE_WARNING = 1,
	STATE_CRITICAL = 2,
	STATE_UNKNOWN = 3
} check_state;

typedef struct source_status
{
	slate_conn	conn;			/* open while the destinations are probed */
	char		desc[256];		/* password-free description */
	bool		up;				/* connected and read */
	uint64_t	position;		/* max(id), 0 when empty */
} source_status;

typedef struct dest_status
{
	const char *conninfo;
	slate_conn	conn;			/* kept open between rounds with --interval */
	char		desc[256];
	bool		up;				/* connected and read */
	uint64_t	position;		/* max(id), 0 when empty */
	bool		written;		/* a slate-load holds the writer lock */
	bool		behind_known;	/* the source was read too */
	bool		ahead;			/* position beyond the source's */
	uint64_t	behind_events;
	double		behind_seconds; /* age of the oldest source event it lacks */
	check_state state;
	char		reason[160];	/* why the state is not OK */
} dest_status;

typedef struct thresholds
{
	double		warn_seconds,	/* < 0: not set */
				crit_seconds;
	int64_t		warn_events,	/* < 0: not set */
				crit_events;
	bool		crit_not_written;
} thresholds;

typedef enum out_format
{
	FORMAT_TEXT,
	FORMAT_JSON,
	FORMAT_PROMETHEUS
} out_format;

/*
 * probe.c: connect and read; failures are logged on stderr, leave up false
 * and close the connection.  probe_source reads the source's max(id) and
 * keeps its connection; probe_destination reads a destination's max(id) and
 * whether the writer lock is held, and keeps its connection only with keep
 * (the two are independent: they run at once, one thread each).  Each uses
 * a connection still open from an earlier round, and opens one otherwise.
 * probe_lag then works out how far behind the destination is, with one
 * primary-key lookup on the source.
 */
void		probe_source(source_status *s, const char *conninfo, int timeout_s);
void		probe_destination(dest_status *d, int timeout_s, bool keep);
void		probe_lag(dest_status *d, source_status *s);

/* report.c: the state of each destination against the thresholds, and the worst */
check_state judge(dest_status *d, const source_status *s, const thresholds *t);
/* write the report in the format; false on a write error */
bool		report(FILE *out, out_format f, const source_status *s, const dest_status *d, int n,
				   check_state worst, const thresholds *t);

#endif
