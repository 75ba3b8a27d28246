/* config.h - the original's config files (replicator, eventsDiff, loaders), read without running them and checked */
#ifndef SLATE_CONFIG_H
#define SLATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_DEFAULT_EVENTS_PER_WRITE 10000
#define CONFIG_MIN_EVENTS_PER_WRITE 10000
#define CONFIG_DEFAULT_CONNECT_TIMEOUT_MS 15000
#define CONFIG_DEFAULT_PORT 5432
#define CONFIG_MIN_EVENTS_PER_READ 50000

/* which of the original's files: they share the connection objects and the reader */
enum config_kind {
	CONFIG_REPLICATOR,			/* config.js: eventSource, replicationDestinations */
	CONFIG_EVENTS_DIFF,			/* eventsDiff's: events1Params, events2Params, maxDiffs */
	CONFIG_EVENT_SOURCE			/* loadPersonData's and loadPerfTestData's: eventSource */
};

struct config_conn {
	char *host;					/* without brackets and port */
	int port;					/* 0 when the host named none */
	char *dbname;
	char *user;					/* NULL when not given */
	char *password;				/* NULL when not given or empty; never print it */
	unsigned line, col;			/* where its object starts */
};

/*
 * For CONFIG_EVENTS_DIFF, source is events1Params and dests[0] (ndests 1)
 * events2Params, so that passwords and freeing work alike for every kind.
 */
struct config {
	enum config_kind kind;
	long long max_events_per_write;	/* CONFIG_REPLICATOR */
	long long connect_timeout_ms;
	long long max_events_per_read;	/* CONFIG_EVENTS_DIFF: accepted, not needed */
	long long max_diffs;		/* CONFIG_EVENTS_DIFF: 0 when not given (compare all) */
	struct config_conn source;
	struct config_conn *dests;
	size_t ndests;
	size_t npasswords;			/* connections with a password */
};

/*
 * Reads and checks the text buf[0..len) of a config file of that kind,
 * named name (for messages).  Errors, warnings and notes go to msgs as
 * "prog: name:line:col: ..." lines (NULL: say nothing).  Returns 0 with
 * *cfg filled in (free with config_free), or -1 with *cfg empty.  Never
 * exits; safe on any input.
 */
int config_parse(const char *prog, enum config_kind kind, const char *name,
				 const char *buf, size_t len, struct config *cfg, FILE *msgs);
/* config_parse of a replicator config.js as slate-config */
int config_parse_buffer(const char *name, const char *buf, size_t len,
						struct config *cfg, FILE *msgs);
/*
 * The whole file at path (at most JV_MAX_INPUT bytes), malloced; NULL after
 * printing one line "prog: ..." to stderr.  Wipe it before freeing.
 */
char *config_read_file(const char *prog, const char *path, size_t *len);
/* config_read_file and config_parse with messages on stderr; 0 or -1 */
int config_load(const char *prog, enum config_kind kind, const char *path, struct config *cfg);
/* frees and wipes what cfg holds; cfg stays usable as an empty config */
void config_free(struct config *cfg);

/* libpq "host=... port=... dbname=... user=..." without the password; malloced, NULL on OOM */
char *config_conninfo(const struct config_conn *conn);
/* its pgpass line "host:port:db:user:password\n" (needs conn->password); malloced, NULL on OOM */
char *config_pgpass_line(const struct config_conn *conn);
/* wipes and frees a string from config_pgpass_line */
void config_free_secret(char *s);
/* config_conninfo with " passfile=PASSFILE" added unless passfile is NULL */
char *config_conninfo_passfile(const struct config_conn *conn, const char *passfile);

/*
 * Writes the passwords of cfg to path in pgpass format.  path is created
 * with mode 0600, or is an existing regular file of ours that nobody else
 * can read (e.g. from mktemp), which is truncated.  Returns EXIT_OK, or
 * EXIT_USAGE / EXIT_IO (exitcodes.h) after printing one line.
 */
int config_write_passfile(const char *prog, const char *path, const struct config *cfg);
/*
 * The private pgpass file the programs hand passwords to libpq through
 * (never argv): cfg's passwords in a new 0600 file in a new 0700 directory
 * under TMPDIR.  *path is NULL when cfg holds no password.  Returns false
 * after printing one line.  Remove it with config_private_passfile_remove
 * once the connections are open.
 */
bool config_private_passfile(const char *prog, const struct config *cfg, char **path);
void config_private_passfile_remove(char *path);

#endif
