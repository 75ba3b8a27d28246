/* log.h - bunyan-compatible JSON lines (or readable text) on stderr */
#ifndef SLATE_LOG_H
#define SLATE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* bunyan levels */
enum { LOG_DEBUG = 20, LOG_INFO = 30, LOG_WARN = 40, LOG_ERROR = 50, LOG_FATAL = 60 };

enum log_format { LOG_FORMAT_AUTO, LOG_FORMAT_JSON, LOG_FORMAT_TEXT };

/* name is the program name; AUTO picks text when stderr is a terminal */
void log_init(const char *name, enum log_format format);
/* parse "json"/"text"/"auto"; returns -1 when unknown */
int log_parse_format(const char *s);
void log_set_level(int level);
/* the program name given to log_init */
const char *log_program(void);

/*
 * fields: NULL, or extra JSON members without braces, e.g. "\"events\":10,\"position\":12";
 * the text format leaves them out (messages carry the same numbers).
 */
void log_kv(int level, const char *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(...) log_kv(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)  log_kv(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...)  log_kv(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_kv(LOG_ERROR, NULL, __VA_ARGS__)

/* seconds on the monotonic clock */
double		now_s(void);

/*
 * The progress line of a stream program: "VERB N events (R events/s),
 * position P", with the same figures as JSON members.  Unless final, at most
 * one every 10 s: *last is when the last one went out.
 */
void		log_progress(const char *verb, uint64_t count, uint64_t position, double started,
						 double *last, bool final);

/* append s JSON-escaped (without quotes) to buf of size n at *pos; truncates safely */
void json_escape(char *buf, size_t n, size_t *pos, const char *s, size_t len);

#endif
