/* repair.h - slate-load --repair: make rows the original replicator wrote byte-exact in place */
#ifndef SLATE_LOAD_REPAIR_H
#define SLATE_LOAD_REPAIR_H

#include <stdint.h>

#include "conn.h"
#include "stream.h"

typedef struct repair repair;

/*
 * Repair the rows of dst up to dest_max (its max(id), read under the writer
 * lock) from the source's events, in batches of about batch_size events that
 * end where the source's ts changes (a source-transaction boundary).  NULL
 * when out of memory (logged).
 */
repair	   *repair_new(slate_conn *dst, uint64_t dest_max, int64_t batch_size);

/*
 * Take the next source event (ids must rise by 1; the caller checks).  Events
 * after dest_max are not in the destination and are left to the replicator.
 * Returns an exit status: EXIT_OK to go on; EXIT_REFUSED when a row of the
 * batch differs beyond the original's precision or is missing (logged, the
 * batch unchanged, earlier batches stay repaired); EXIT_DB.
 */
int			repair_event(repair *r, const stream_event *e);

/* repair what is still pending and log what was done; returns an exit status as above */
int			repair_finish(repair *r);

void		repair_free(repair *r);

#endif
