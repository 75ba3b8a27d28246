/* log.c - bunyan-compatible JSON lines (or readable text) on stderr */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_name = "slate";
static char log_host[256] = "localhost";
static int	log_text;
static int	log_min = LOG_INFO;

void
log_init(const char *name, enum log_format format)
{
	log_name = name;
	if (gethostname(log_host, sizeof(log_host)) != 0)
		strcpy(log_host, "localhost");
	log_host[sizeof(log_host) - 1] = '\0';
	if (format == LOG_FORMAT_AUTO)
		log_text = isatty(STDERR_FILENO);
	else
		log_text = (format == LOG_FORMAT_TEXT);
}

int
log_parse_format(const char *s)
{
	if (strcmp(s, "json") == 0)
		return LOG_FORMAT_JSON;
	if (strcmp(s, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(s, "auto") == 0)
		return LOG_FORMAT_AUTO;
	return -1;
}

void
log_set_level(int level)
{
	log_min = level;
}

void
json_escape(char *buf, size_t n, size_t *pos, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		p = *pos;

	for (size_t i = 0; i < len && p + 7 < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			buf[p++] = '\\';
			buf[p++] = (char) c;
		}
		else if (c == '\n')
		{
			buf[p++] = '\\';
			buf[p++] = 'n';
		}
		else if (c == '\t')
		{
			buf[p++] = '\\';
			buf[p++] = 't';
		}
		else if (c < 0x20 || c == 0x7f)
		{
			memcpy(buf + p, "\\u00", 4);
			buf[p + 4] = hex[c >> 4];
			buf[p + 5] = hex[c & 15];
			p += 6;
		}
		else
			buf[p++] = (char) c;
	}
	buf[p < n ? p : n - 1] = '\0';
	*pos = p;
}

static const char *
level_name(int level)
{
	switch (level)
	{
		case LOG_DEBUG: return "DEBUG";
		case LOG_INFO: return "INFO";
		case LOG_WARN: return "WARN";
		case LOG_ERROR: return "ERROR";
		default: return "FATAL";
	}
}

void
log_kv(int level, const char *fields, const char *fmt, ...)
{
	char		msg[2048];
	char		line[8192];
	size_t		pos = 0;
	struct timeval tv;
	struct tm	tm;
	char		when[32];
	va_list		ap;
	int			saved = errno;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

	if (log_text)
	{
		pos = (size_t) snprintf(line, sizeof(line), "%s.%03dZ %s %s: %s", when,
								(int) (tv.tv_usec / 1000), level_name(level), log_name, msg);
		/* the message already says what the fields hold */
		if (pos >= sizeof(line))
			pos = sizeof(line) - 1;
	}
	else
	{
		pos = (size_t) snprintf(line, sizeof(line), "{\"name\":\"%s\",\"hostname\":\"", log_name);
		json_escape(line, sizeof(line), &pos, log_host, strlen(log_host));
		pos += (size_t) snprintf(line + pos, sizeof(line) - pos,
								 "\",\"pid\":%d,\"level\":%d,\"msg\":\"", (int) getpid(), level);
		json_escape(line, sizeof(line) - 64, &pos, msg, strlen(msg));
		pos += (size_t) snprintf(line + pos, sizeof(line) - pos, "\",\"time\":\"%s.%03dZ\",\"v\":0%s%s}",
								 when, (int) (tv.tv_usec / 1000),
								 fields && *fields ? "," : "", fields ? fields : "");
		if (pos >= sizeof(line) - 1)
			pos = sizeof(line) - 2;
	}
	line[pos++] = '\n';
	/* one write per line, so lines of concurrent stages do not interleave */
	if (write(STDERR_FILENO, line, pos) < 0)
		(void) 0;
	errno = saved;
}

const char *
log_program(void)
{
	return log_name;
}

double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

void
log_progress(const char *verb, uint64_t count, uint64_t position, double started, double *last,
			 bool final)
{
	double		t = now_s();
	double		rate = (double) count / (t - started > 1e-6 ? t - started : 1e-6);
	char		fields[160];

	if (!final && t - *last < 10.0)
		return;
	*last = t;
	snprintf(fields, sizeof(fields), "\"events\":%" PRIu64 ",\"events_per_s\":%.0f,\"position\":%" PRIu64,
			 count, rate, position);
	log_kv(LOG_INFO, fields, "%s %" PRIu64 " events (%.0f events/s), position %" PRIu64,
		   verb, count, rate, position);
}
