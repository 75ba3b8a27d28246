/*
 * extract.h - what the parts of slate-extract share
 *
 * main.c parses the options and runs the stages; range.c writes the events
 * of an id range from one COPY; select.c turns --since/--before into an id
 * range and the content selections into SQL; follow.c is --follow's loop,
 * one extract per wake, small ones by a prepared query.
 */
#ifndef SLATE_EXTRACT_H
#define SLATE_EXTRACT_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "stream.h"

#define PROG "slate-extract"

typedef struct extract
{
	slate_conn	src;
	stream_writer *out;
	uint64_t	last_id;		/* last id written (or --after) */
	int64_t		last_ts;
	uint64_t	count;			/* events written */
	bool		torn;			/* stopped inside a source transaction: no end marker */
	bool		reader_gone;	/* stdout's reader went away (EPIPE): stop, exit 0 */
	double		started;
	double		last_progress;
	int			status;			/* exit status once something failed */
	char	   *filter;			/* SQL condition of --since, --entity-id...; NULL: none */
	int			live;			/* the prepared live query: 0 not yet, 1 ready, -1 off */
} extract;

/* the selection options: each adds one condition (see build_filter) */
typedef struct filter_opts
{
	const char *since,
			   *before,
			   *entity_id,
			   *entity_name,
			   *operation,
			   *property_name,
			   *contains;
} filter_opts;

/* range.c */
void		output_failed(extract *x);
bool		write_header(extract *x, uint64_t after);
bool		extend_until(extract *x, uint64_t *until);
int			take_event(extract *x, const stream_event *e, uint64_t *written);
bool		extract_range(extract *x, uint64_t until, uint64_t written);
void		extract_progress(extract *x, bool final);

/* select.c */
bool		time_range(extract *x, const filter_opts *f, int64_t *after, int64_t *until);
bool		build_filter(extract *x, const filter_opts *f);

/* follow.c */
void		follow(extract *x);

#endif
