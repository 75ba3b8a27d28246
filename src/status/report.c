/* report.c - slate-status's judgement against the thresholds, and its three output formats */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "status.h"

static const char *const state_names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

/* raise *state to s, noting why when it is the first reason at that level */
static void
raise_state(dest_status *d, check_state s, const char *why)
{
	/* CRITICAL > WARNING > UNKNOWN > OK: a real problem is never masked by a missing figure */
	static const int rank[] = {0, 2, 3, 1};

	if (rank[s] > rank[d->state])
	{
		d->state = s;
		snprintf(d->reason, sizeof(d->reason), "%s", why);
	}
}

check_state
judge(dest_status *d, const source_status *s, const thresholds *t)
{
	char		why[160];

	d->state = STATE_OK;
	if (!d->up)
	{
		d->state = STATE_UNKNOWN;	/* the reason was set by the probe */
		return d->state;
	}
	if (!s->up)
	{
		raise_state(d, STATE_UNKNOWN, "the source could not be read");
		return d->state;
	}
	if (!d->behind_known)
	{
		char		hole[sizeof(d->reason)];

		memcpy(hole, d->reason, sizeof(hole));
		raise_state(d, STATE_UNKNOWN, hole);
		return d->state;
	}
	if (d->ahead)
	{
		snprintf(why, sizeof(why), "ahead of the source (position %" PRIu64 ")", s->position);
		raise_state(d, STATE_CRITICAL, why);
	}
	if (t->crit_not_written && !d->written)
		raise_state(d, STATE_CRITICAL, "no replicator is writing it");
	if (t->crit_events >= 0 && d->behind_events > (uint64_t) t->crit_events)
	{
		snprintf(why, sizeof(why), "more than %" PRId64 " events behind", t->crit_events);
		raise_state(d, STATE_CRITICAL, why);
	}
	if (t->crit_seconds >= 0 && d->behind_seconds > t->crit_seconds)
	{
		snprintf(why, sizeof(why), "more than %g s behind", t->crit_seconds);
		raise_state(d, STATE_CRITICAL, why);
	}
	if (t->warn_events >= 0 && d->behind_events > (uint64_t) t->warn_events)
	{
		snprintf(why, sizeof(why), "more than %" PRId64 " events behind", t->warn_events);
		raise_state(d, STATE_WARNING, why);
	}
	if (t->warn_seconds >= 0 && d->behind_seconds > t->warn_seconds)
	{
		snprintf(why, sizeof(why), "more than %g s behind", t->warn_seconds);
		raise_state(d, STATE_WARNING, why);
	}
	return d->state;
}

/* a threshold for performance data: empty when not set */
static void
perf_threshold(char *buf, size_t n, double v, bool is_set)
{
	if (is_set)
		snprintf(buf, n, "%g", v);
	else
		buf[0] = '\0';
}

/* the monitoring-plugins first line: state, counts, the largest lag, performance data */
static void
text_summary(FILE *out, const source_status *s, const dest_status *d, int n, check_state worst,
			 const thresholds *t)
{
	char		we[32],
				ce[32],
				ws[32],
				cs[32];

	int			count[4] = {0};
	uint64_t	max_events = 0;
	double		max_seconds = 0;

	for (int i = 0; i < n; i++)
	{
		count[d[i].state]++;
		if (d[i].behind_known && d[i].behind_events > max_events)
			max_events = d[i].behind_events;
		if (d[i].behind_known && d[i].behind_seconds > max_seconds)
			max_seconds = d[i].behind_seconds;
	}
	fprintf(out, "SLATE %s - %d destination%s: %d OK, %d WARNING, %d CRITICAL, %d UNKNOWN; ",
			state_names[worst], n, n == 1 ? "" : "s", count[STATE_OK], count[STATE_WARNING],
			count[STATE_CRITICAL], count[STATE_UNKNOWN]);
	if (s->up)
		fprintf(out, "source at %" PRIu64 ", most behind %" PRIu64 " events, %.3f s |",
				s->position, max_events, max_seconds);
	else
		fprintf(out, "source could not be read |");
	perf_threshold(we, sizeof(we), (double) t->warn_events, t->warn_events >= 0);
	perf_threshold(ce, sizeof(ce), (double) t->crit_events, t->crit_events >= 0);
	perf_threshold(ws, sizeof(ws), t->warn_seconds, t->warn_seconds >= 0);
	perf_threshold(cs, sizeof(cs), t->crit_seconds, t->crit_seconds >= 0);
	for (int i = 0; i < n; i++)
	{
		if (!d[i].behind_known || d[i].ahead)
			continue;
		fprintf(out, " behind_events_%d=%" PRIu64 ";%s;%s;0 behind_seconds_%d=%.3fs;%s;%s;0",
				i + 1, d[i].behind_events, we, ce, i + 1, d[i].behind_seconds, ws, cs);
	}
	fputc('\n', out);
}

static void
text_line(FILE *out, const dest_status *d, int i, const source_status *s)
{
	fprintf(out, "%s: destination %d (%s): ", state_names[d->state], i + 1, d->desc);
	if (!d->up)
	{
		fprintf(out, "%s\n", d->reason);
		return;
	}
	fprintf(out, "position %" PRIu64, d->position);
	if (d->behind_known && !d->ahead)
		fprintf(out, ", %" PRIu64 " events and %.3f s behind", d->behind_events, d->behind_seconds);
	fprintf(out, ", %s", d->written ? "being written by slate-load" : "not being written");
	if (d->reason[0])
		fprintf(out, "; %s", d->reason);
	fputc('\n', out);
}

/* a JSON string, escaped, in quotes */
static void
json_string(FILE *out, const char *s)
{
	char		buf[1024];
	size_t		pos = 0;

	json_escape(buf, sizeof(buf), &pos, s, strlen(s));
	fprintf(out, "\"%.*s\"", (int) pos, buf);
}

static void
json_line(FILE *out, const dest_status *d, int i, const source_status *s)
{
	fprintf(out, "{\"destination\":%d,\"conninfo\":", i + 1);
	json_string(out, d->desc);
	fprintf(out, ",\"state\":\"%s\",\"up\":%s,\"position\":", state_names[d->state],
			d->up ? "true" : "false");
	if (d->up)
		fprintf(out, "%" PRIu64 ",\"written\":%s", d->position, d->written ? "true" : "false");
	else
		fprintf(out, "null,\"written\":null");
	fprintf(out, ",\"source_position\":");
	if (s->up)
		fprintf(out, "%" PRIu64, s->position);
	else
		fprintf(out, "null");
	if (d->behind_known && !d->ahead)
		fprintf(out, ",\"behind_events\":%" PRIu64 ",\"behind_seconds\":%.3f",
				d->behind_events, d->behind_seconds);
	else
		fprintf(out, ",\"behind_events\":null,\"behind_seconds\":null");
	fprintf(out, ",\"reason\":");
	json_string(out, d->reason);
	fprintf(out, "}\n");
}

/* a label value in the exposition format: backslash, quote and newline escaped */
static void
prom_label(FILE *out, const char *name, const char *value)
{
	fprintf(out, "{%s=\"", name);
	for (const char *p = value; *p; p++)
	{
		if (*p == '\\' || *p == '"')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
	fputs("\"}", out);
}

typedef enum prom_figure
{
	FIG_UP,
	FIG_POSITION,
	FIG_BEHIND_EVENTS,
	FIG_BEHIND_SECONDS,
	FIG_WRITTEN,
	FIG_STATE
} prom_figure;

/* one metric family over every destination; a figure not known is left out */
static void
prom_family(FILE *out, const char *name, const char *help, prom_figure f,
			const dest_status *d, int n)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (int i = 0; i < n; i++)
	{
		bool		behind = d[i].behind_known && !d[i].ahead;

		if ((f == FIG_POSITION || f == FIG_WRITTEN) && !d[i].up)
			continue;
		if ((f == FIG_BEHIND_EVENTS || f == FIG_BEHIND_SECONDS) && !behind)
			continue;
		fputs(name, out);
		prom_label(out, "destination", d[i].desc);
		switch (f)
		{
			case FIG_UP:
				fprintf(out, " %d\n", d[i].up ? 1 : 0);
				break;
			case FIG_POSITION:
				fprintf(out, " %" PRIu64 "\n", d[i].position);
				break;
			case FIG_BEHIND_EVENTS:
				fprintf(out, " %" PRIu64 "\n", d[i].behind_events);
				break;
			case FIG_BEHIND_SECONDS:
				fprintf(out, " %.3f\n", d[i].behind_seconds);
				break;
			case FIG_WRITTEN:
				fprintf(out, " %d\n", d[i].written ? 1 : 0);
				break;
			case FIG_STATE:
				fprintf(out, " %d\n", (int) d[i].state);
				break;
		}
	}
}

static void
prometheus(FILE *out, const source_status *s, const dest_status *d, int n)
{
	fputs("# HELP slate_source_up Whether slate-status could read the source (1) or not (0).\n"
		  "# TYPE slate_source_up gauge\nslate_source_up", out);
	prom_label(out, "source", s->desc);
	fprintf(out, " %d\n", s->up ? 1 : 0);
	if (s->up)
	{
		fputs("# HELP slate_source_position The source's largest event id.\n"
			  "# TYPE slate_source_position gauge\nslate_source_position", out);
		prom_label(out, "source", s->desc);
		fprintf(out, " %" PRIu64 "\n", s->position);
	}
	prom_family(out, "slate_destination_up",
				"Whether slate-status could read the destination (1) or not (0).", FIG_UP, d, n);
	prom_family(out, "slate_destination_position",
				"The destination's largest event id.", FIG_POSITION, d, n);
	prom_family(out, "slate_destination_behind_events",
				"Events the source has and the destination has not yet.", FIG_BEHIND_EVENTS, d, n);
	prom_family(out, "slate_destination_behind_seconds",
				"Age of the oldest source event the destination has not yet (0 when caught up).",
				FIG_BEHIND_SECONDS, d, n);
	prom_family(out, "slate_destination_written",
				"Whether a slate-load holds the destination's writer lock now (1) or not (0).",
				FIG_WRITTEN, d, n);
	prom_family(out, "slate_destination_state",
				"The check's state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.", FIG_STATE, d, n);
}

bool
report(FILE *out, out_format f, const source_status *s, const dest_status *d, int n,
	   check_state worst, const thresholds *t)
{
	switch (f)
	{
		case FORMAT_TEXT:
			text_summary(out, s, d, n, worst, t);
			for (int i = 0; i < n; i++)
				text_line(out, &d[i], i, s);
			break;
		case FORMAT_JSON:
			for (int i = 0; i < n; i++)
				json_line(out, &d[i], i, s);
			break;
		case FORMAT_PROMETHEUS:
			prometheus(out, s, d, n);
			break;
	}
	return fflush(out) == 0 && !ferror(out);
}
