/* config.h - a replicator configuration, read from its config.js and checked */
#ifndef SLATE_CONFIG_H
#define SLATE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_DEFAULT_EVENTS_PER_WRITE 10000
#define CONFIG_MIN_EVENTS_PER_WRITE 10000
#define CONFIG_DEFAULT_CONNECT_TIMEOUT_MS 15000
#define CONFIG_DEFAULT_PORT 5432

struct config_conn {
	char *host;					/* without brackets and port */
	int port;					/* 0 when the host named none */
	char *dbname;
	char *user;					/* NULL when not given */
	char *password;				/* NULL when not given or empty; never print it */
	unsigned line, col;			/* where its object starts */
};

struct config {
	long long max_events_per_write;
	long long connect_timeout_ms;
	struct config_conn source;
	struct config_conn *dests;
	size_t ndests;
	size_t npasswords;			/* connections with a password */
};

/*
 * Reads and checks the config file text buf[0..len) named name (for
 * messages).  Errors, warnings and notes go to msgs as
 * "slate-config: name:line:col: ..." lines (NULL: say nothing).
 * Returns 0 with *cfg filled in (free with config_free), or -1 with *cfg
 * empty.  Never exits; safe on any input.
 */
int config_parse_buffer(const char *name, const char *buf, size_t len,
						struct config *cfg, FILE *msgs);
/* frees and wipes what cfg holds; cfg stays usable as an empty config */
void config_free(struct config *cfg);

/* libpq "host=... port=... dbname=... user=..." without the password; malloced, NULL on OOM */
char *config_conninfo(const struct config_conn *conn);
/* its pgpass line "host:port:db:user:password\n" (needs conn->password); malloced, NULL on OOM */
char *config_pgpass_line(const struct config_conn *conn);
/* wipes and frees a string from config_pgpass_line */
void config_free_secret(char *s);

#endif
