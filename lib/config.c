/* config.c - reads the original's config files (replicator, eventsDiff, loaders) into struct config */
#include "config.h"
#include "exitcodes.h"
#include "jsvalue.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* beyond this many errors (or warnings) only a count is printed */
#define MAX_SHOWN 20

struct checker {
	const char *prog;			/* the program, first on every message */
	const char *name;			/* the file, printable */
	FILE *msgs;
	unsigned errors;
	unsigned warnings;
};

static void report(struct checker *ck, bool error, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* prints "prog: file:line:col: [warning: ]message"; counts it */
static void report(struct checker *ck, bool error, unsigned line, unsigned col, const char *fmt, ...)
{
	unsigned count = error ? ++ck->errors : ++ck->warnings;
	va_list ap;

	if (ck->msgs == NULL || count > MAX_SHOWN)
		return;
	fprintf(ck->msgs, "%s: %s:%u:%u: %s", ck->prog, ck->name, line, col, error ? "" : "warning: ");
	va_start(ap, fmt);
	vfprintf(ck->msgs, fmt, ap);
	va_end(ap);
	fputc('\n', ck->msgs);
}

/* copies s into out (size n) with anything unprintable as \xHH, shortened with "..." */
static void printable(char *out, size_t n, const char *s)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (o + 8 >= n) {
			memcpy(out + o, "...", 4);
			return;
		}
		if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, n - o, "\\x%02X", c);
	}
	out[o] = '\0';
}

static bool has_control_char(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return true;
	return false;
}

/*
 * Finds the members of obj named keys[0..nkeys) and puts them in found[]
 * (NULL when absent).  Warns about unknown members; a known one given
 * twice is an error.  prefix is the path of obj for messages, e.g. "eventSource.".
 */
static void collect_fields(struct checker *ck, const struct jv *obj, const char *prefix,
						   const char *const *keys, size_t nkeys, const struct jv **found)
{
	char shown[80];
	size_t i, k;

	for (k = 0; k < nkeys; k++)
		found[k] = NULL;
	for (i = 0; i < obj->nitems; i++) {
		const struct jv *m = &obj->items[i];

		for (k = 0; k < nkeys && strcmp(m->key, keys[k]) != 0; k++)
			;
		if (k == nkeys) {
			printable(shown, sizeof shown, m->key);
			report(ck, false, m->key_line, m->key_col, "unknown field '%s%s' ignored", prefix, shown);
		} else if (found[k] != NULL)
			report(ck, true, m->key_line, m->key_col, "duplicate field '%s%s' (first at %u:%u)",
				   prefix, keys[k], found[k]->key_line, found[k]->key_col);
		else
			found[k] = m;
	}
}

/*
 * Copies the string v (member field of obj) into *out.  Absent or null is
 * an error only when required.  Messages never show the value.
 */
static void take_string(struct checker *ck, const struct jv *obj, const struct jv *v,
						const char *prefix, const char *field, bool required, char **out)
{
	*out = NULL;
	if (v == NULL) {
		if (required)
			report(ck, true, obj->line, obj->col, "missing required field '%s%s'", prefix, field);
		return;
	}
	if (v->type == JV_NULL && !required)
		return;
	if (v->type != JV_STRING) {
		report(ck, true, v->line, v->col, "'%s%s' must be a string, not %s",
			   prefix, field, jv_type_name(v->type));
		return;
	}
	if (has_control_char(v->str, v->len)) {
		report(ck, true, v->line, v->col, "'%s%s' contains a control character (such as a newline)",
			   prefix, field);
		return;
	}
	*out = strdup(v->str);
	if (*out == NULL)
		report(ck, true, v->line, v->col, "out of memory");
}

/* the integer v (field) in [min,max] into *out; absent or null leaves *out alone */
static void take_integer(struct checker *ck, const struct jv *v, const char *field,
						 long long min, long long max, long long *out)
{
	if (v == NULL || v->type == JV_NULL)
		return;
	if (v->type != JV_NUMBER)
		report(ck, true, v->line, v->col, "'%s' must be a number, not %s", field, jv_type_name(v->type));
	else if (v->number == JV_NUM_FRACTION)
		report(ck, true, v->line, v->col, "'%s' must be a whole number", field);
	else if (v->number == JV_NUM_TOO_LARGE || v->integer < min || v->integer > max)
		report(ck, true, v->line, v->col, "'%s' must be between %lld and %lld", field, min, max);
	else
		*out = v->integer;
}

/*
 * Splits "host", "host:port", "[v6addr]" or "[v6addr]:port" in place: hp
 * becomes the bare host, *port the port or 0.  Returns NULL or what is wrong.
 */
static const char *split_host(char *hp, int *port)
{
	char *host = hp, *colon, *p;
	long v = 0;

	*port = 0;
	if (hp[0] == '[') {
		char *close = strchr(hp, ']');

		if (close == NULL)
			return "has '[' without ']'";
		if (close[1] != '\0' && close[1] != ':')
			return "has something other than ':port' after ']'";
		colon = close[1] == ':' ? close + 1 : NULL;
		*close = '\0';
		host = hp + 1;
	} else {
		colon = strchr(hp, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return "has more than one ':' (write an IPv6 address in brackets: [::1]:5432)";
	}
	if (colon != NULL) {
		*colon = '\0';
		p = colon + 1;
		if (*p == '\0')
			return "has ':' without a port";
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9' || v > 65535)
				return "has a port that is not a number from 1 to 65535";
			v = v * 10 + (*p - '0');
		}
		if (v < 1 || v > 65535)
			return "has a port that is not a number from 1 to 65535";
		*port = (int)v;
	}
	if (*host == '\0')
		return "has no host name";
	if (strchr(host, ',') != NULL)
		return "must name one server (no ',')";
	if (host != hp)
		memmove(hp, host, strlen(host) + 1);
	return NULL;
}

/* checks the connection object v (named path, e.g. "eventSource") into *out */
static void check_conn(struct checker *ck, const struct jv *v, const char *path,
					   struct config_conn *out)
{
	static const char *const keys[] = { "host", "databaseName", "user", "password" };
	const struct jv *f[4];
	char prefix[64];
	const char *problem;

	if (v->type != JV_OBJECT) {
		report(ck, true, v->line, v->col, "'%s' must be an object, not %s", path, jv_type_name(v->type));
		return;
	}
	out->line = v->line;
	out->col = v->col;
	snprintf(prefix, sizeof prefix, "%s.", path);
	collect_fields(ck, v, prefix, keys, 4, f);

	take_string(ck, v, f[0], prefix, "host", true, &out->host);
	if (out->host != NULL) {
		problem = out->host[0] == '\0' ? "must not be empty" : split_host(out->host, &out->port);
		if (problem != NULL) {
			report(ck, true, f[0]->line, f[0]->col, "'%shost' %s", prefix, problem);
			free(out->host);
			out->host = NULL;
		}
	}
	take_string(ck, v, f[1], prefix, "databaseName", true, &out->dbname);
	if (out->dbname != NULL && out->dbname[0] == '\0') {
		report(ck, true, f[1]->line, f[1]->col, "'%sdatabaseName' must not be empty", prefix);
		free(out->dbname);
		out->dbname = NULL;
	}
	take_string(ck, v, f[2], prefix, "user", false, &out->user);
	if (out->user != NULL && out->user[0] == '\0') {
		report(ck, true, f[2]->line, f[2]->col, "'%suser' must not be empty", prefix);
		free(out->user);
		out->user = NULL;
	}
	take_string(ck, v, f[3], prefix, "password", false, &out->password);
	if (out->password != NULL && out->password[0] == '\0') {
		free(out->password);	/* no password, as in the original */
		out->password = NULL;
	}
}

/*
 * The port libpq uses for a host given without one: PGPORT's when it holds
 * a valid port, else libpq's default (PGPORT that is not a number makes
 * libpq refuse to connect at all, so the default is as good as any then).
 */
static int effective_port(const struct config_conn *c)
{
	const char *env = getenv("PGPORT");
	char *end;
	long v;

	if (c->port != 0)
		return c->port;
	if (env != NULL && *env != '\0') {
		errno = 0;
		v = strtol(env, &end, 10);
		if (errno == 0 && *end == '\0' && v >= 1 && v <= 65535)
			return (int)v;
	}
	return CONFIG_DEFAULT_PORT;
}

/* the same database: host (with the port libpq will use) and name, ignoring case */
static int compare_conn(const struct config_conn *a, const struct config_conn *b)
{
	int pa = effective_port(a);
	int pb = effective_port(b);
	int d = strcasecmp(a->host, b->host);

	if (d != 0)
		return d;
	if (pa != pb)
		return pa < pb ? -1 : 1;
	return strcasecmp(a->dbname, b->dbname);
}

/* for qsort: same databases together, in file order within */
static int compare_conn_ptr(const void *a, const void *b)
{
	const struct config_conn *x = *(const struct config_conn *const *)a;
	const struct config_conn *y = *(const struct config_conn *const *)b;
	int d = compare_conn(x, y);

	if (d != 0)
		return d;
	return x < y ? -1 : x > y;
}

/* a destination may appear once and must not be the source; sorting keeps it O(n log n) */
static void check_unique(struct checker *ck, struct config *cfg)
{
	const struct config_conn **sorted;
	size_t i, first = 0;

	for (i = 0; i < cfg->ndests; i++)
		if (compare_conn(&cfg->dests[i], &cfg->source) == 0)
			report(ck, true, cfg->dests[i].line, cfg->dests[i].col,
				   "'replicationDestinations[%zu]' is the event source (eventSource at %u:%u): "
				   "same host, port and databaseName", i, cfg->source.line, cfg->source.col);

	sorted = malloc(cfg->ndests * sizeof *sorted);
	if (sorted == NULL) {
		report(ck, true, 1, 1, "out of memory");
		return;
	}
	for (i = 0; i < cfg->ndests; i++)
		sorted[i] = &cfg->dests[i];
	qsort(sorted, cfg->ndests, sizeof *sorted, compare_conn_ptr);
	for (i = 1; i < cfg->ndests; i++) {
		if (compare_conn(sorted[i], sorted[first]) != 0) {
			first = i;
			continue;
		}
		report(ck, true, sorted[i]->line, sorted[i]->col,
			   "'replicationDestinations[%zu]' duplicates 'replicationDestinations[%zu]' (at %u:%u): "
			   "same host, port and databaseName",
			   (size_t)(sorted[i] - cfg->dests), (size_t)(sorted[first] - cfg->dests),
			   sorted[first]->line, sorted[first]->col);
	}
	free(sorted);
}

/* the replicator's config.js */
static void check_replicator(struct checker *ck, const struct jv *root, struct config *cfg)
{
	static const char *const keys[] = {
		"maxEventsPerWrite", "connectTimeout", "eventSource", "replicationDestinations"
	};
	const struct jv *f[4];
	const struct jv *dests;
	size_t i;

	collect_fields(ck, root, "", keys, 4, f);

	cfg->max_events_per_write = CONFIG_DEFAULT_EVENTS_PER_WRITE;
	take_integer(ck, f[0], "maxEventsPerWrite", 1, INT_MAX, &cfg->max_events_per_write);
	if (cfg->max_events_per_write < CONFIG_MIN_EVENTS_PER_WRITE) {
		if (ck->msgs != NULL)
			fprintf(ck->msgs, "%s: maxEventsPerWrite %lld raised to the minimum %d\n",
					ck->prog, cfg->max_events_per_write, CONFIG_MIN_EVENTS_PER_WRITE);
		cfg->max_events_per_write = CONFIG_MIN_EVENTS_PER_WRITE;
	}
	cfg->connect_timeout_ms = CONFIG_DEFAULT_CONNECT_TIMEOUT_MS;
	take_integer(ck, f[1], "connectTimeout", 1, INT_MAX, &cfg->connect_timeout_ms);

	if (f[2] == NULL)
		report(ck, true, root->line, root->col, "missing required field 'eventSource'");
	else
		check_conn(ck, f[2], "eventSource", &cfg->source);

	dests = f[3];
	if (dests == NULL)
		report(ck, true, root->line, root->col, "missing required field 'replicationDestinations'");
	else if (dests->type != JV_ARRAY)
		report(ck, true, dests->line, dests->col, "'replicationDestinations' must be an array, not %s",
			   jv_type_name(dests->type));
	else if (dests->nitems == 0)
		report(ck, true, dests->line, dests->col, "'replicationDestinations' must not be empty");
	else {
		cfg->dests = calloc(dests->nitems, sizeof *cfg->dests);
		if (cfg->dests == NULL) {
			report(ck, true, dests->line, dests->col, "out of memory");
			return;
		}
		cfg->ndests = dests->nitems;
		for (i = 0; i < dests->nitems; i++) {
			char path[64];

			snprintf(path, sizeof path, "replicationDestinations[%zu]", i);
			check_conn(ck, &dests->items[i], path, &cfg->dests[i]);
		}
	}
	/* comparing needs every host and name in place */
	if (ck->errors == 0)
		check_unique(ck, cfg);

}

/* a connection object that must be there: field `key` of root */
static void take_conn(struct checker *ck, const struct jv *root, const struct jv *v,
					  const char *key, struct config_conn *out)
{
	if (v == NULL)
		report(ck, true, root->line, root->col, "missing required field '%s'", key);
	else
		check_conn(ck, v, key, out);
}

/* eventsDiff's config: two connections, maxEventsPerRead, maxDiffs */
static void check_events_diff(struct checker *ck, const struct jv *root, struct config *cfg)
{
	static const char *const keys[] = {
		"maxEventsPerRead", "maxDiffs", "connectTimeout", "events1Params", "events2Params"
	};
	const struct jv *f[5];

	collect_fields(ck, root, "", keys, 5, f);
	cfg->max_events_per_read = CONFIG_MIN_EVENTS_PER_READ;
	take_integer(ck, f[0], "maxEventsPerRead", 1, INT_MAX, &cfg->max_events_per_read);
	if (cfg->max_events_per_read < CONFIG_MIN_EVENTS_PER_READ) {
		if (ck->msgs != NULL)
			fprintf(ck->msgs, "%s: maxEventsPerRead %lld raised to the minimum %d\n",
					ck->prog, cfg->max_events_per_read, CONFIG_MIN_EVENTS_PER_READ);
		cfg->max_events_per_read = CONFIG_MIN_EVENTS_PER_READ;
	}
	cfg->max_diffs = 0;
	take_integer(ck, f[1], "maxDiffs", 1, LLONG_MAX, &cfg->max_diffs);
	cfg->connect_timeout_ms = CONFIG_DEFAULT_CONNECT_TIMEOUT_MS;
	take_integer(ck, f[2], "connectTimeout", 1, INT_MAX, &cfg->connect_timeout_ms);

	take_conn(ck, root, f[3], "events1Params", &cfg->source);
	cfg->dests = calloc(1, sizeof *cfg->dests);
	if (cfg->dests == NULL) {
		report(ck, true, root->line, root->col, "out of memory");
		return;
	}
	cfg->ndests = 1;
	take_conn(ck, root, f[4], "events2Params", &cfg->dests[0]);
}

/* loadPersonData's (and loadPerfTestData's) config: one event source */
static void check_event_source(struct checker *ck, const struct jv *root, struct config *cfg)
{
	static const char *const keys[] = { "connectTimeout", "eventSource" };
	const struct jv *f[2];

	collect_fields(ck, root, "", keys, 2, f);
	cfg->connect_timeout_ms = CONFIG_DEFAULT_CONNECT_TIMEOUT_MS;
	take_integer(ck, f[0], "connectTimeout", 1, INT_MAX, &cfg->connect_timeout_ms);
	take_conn(ck, root, f[1], "eventSource", &cfg->source);
}

int config_parse_buffer(const char *name, const char *buf, size_t len,
						struct config *cfg, FILE *msgs)
{
	return config_parse("slate-config", CONFIG_REPLICATOR, name, buf, len, cfg, msgs);
}

int config_parse(const char *prog, enum config_kind kind, const char *name,
				 const char *buf, size_t len, struct config *cfg, FILE *msgs)
{
	struct checker ck;
	struct jv_error err;
	struct jv *root;
	char shown[256];

	memset(cfg, 0, sizeof *cfg);
	cfg->kind = kind;
	printable(shown, sizeof shown, name);
	ck.prog = prog;
	ck.name = shown;
	ck.msgs = msgs;
	ck.errors = ck.warnings = 0;

	root = jv_parse_program(buf, len, &err);
	if (root == NULL) {
		if (msgs != NULL)
			fprintf(msgs, "%s: %s:%u:%u: %s\n", prog, shown, err.line, err.col, err.msg);
		return -1;
	}
	switch (kind) {
	case CONFIG_REPLICATOR:
		check_replicator(&ck, root, cfg);
		break;
	case CONFIG_EVENTS_DIFF:
		check_events_diff(&ck, root, cfg);
		break;
	case CONFIG_EVENT_SOURCE:
		check_event_source(&ck, root, cfg);
		break;
	}
	jv_free(root);

	if (msgs != NULL && ck.warnings > MAX_SHOWN)
		fprintf(msgs, "%s: %s: %u more warnings not shown\n", prog, shown, ck.warnings - MAX_SHOWN);
	if (msgs != NULL && ck.errors > MAX_SHOWN)
		fprintf(msgs, "%s: %s: %u more errors not shown\n", prog, shown, ck.errors - MAX_SHOWN);
	if (ck.errors > 0) {
		config_free(cfg);
		cfg->kind = kind;
		return -1;
	}
	cfg->npasswords = cfg->source.password != NULL;
	for (size_t i = 0; i < cfg->ndests; i++)
		cfg->npasswords += cfg->dests[i].password != NULL;
	return 0;
}

static void free_conn(struct config_conn *c)
{
	free(c->host);
	free(c->dbname);
	free(c->user);
	config_free_secret(c->password);
	memset(c, 0, sizeof *c);
}

void config_free(struct config *cfg)
{
	size_t i;

	free_conn(&cfg->source);
	for (i = 0; i < cfg->ndests; i++)
		free_conn(&cfg->dests[i]);
	free(cfg->dests);
	memset(cfg, 0, sizeof *cfg);
}

void config_free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/*
 * Output is built twice over the same code: first with buf NULL to count,
 * then into a buffer of that size.
 */
struct out {
	char *buf;
	size_t len;
};

static void put_char(struct out *o, char c)
{
	if (o->buf != NULL)
		o->buf[o->len] = c;
	o->len++;
}

static void put_str(struct out *o, const char *s)
{
	while (*s != '\0')
		put_char(o, *s++);
}

/* a libpq conninfo value: quoted when empty or holding blanks, quotes or backslashes */
static void put_conninfo_value(struct out *o, const char *s)
{
	if (s[0] != '\0' && strpbrk(s, " \t\n\r\f\v'\\") == NULL) {
		put_str(o, s);
		return;
	}
	put_char(o, '\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'' || *s == '\\')
			put_char(o, '\\');
		put_char(o, *s);
	}
	put_char(o, '\'');
}

/* a pgpass field: ':' and '\' escaped with '\' */
static void put_pgpass_field(struct out *o, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == ':' || *s == '\\')
			put_char(o, '\\');
		put_char(o, *s);
	}
}

static void build_conninfo(struct out *o, const struct config_conn *c)
{
	char port[16];

	put_str(o, "host=");
	put_conninfo_value(o, c->host);
	if (c->port != 0) {
		snprintf(port, sizeof port, "%d", c->port);
		put_str(o, " port=");
		put_str(o, port);
	}
	put_str(o, " dbname=");
	put_conninfo_value(o, c->dbname);
	if (c->user != NULL) {
		put_str(o, " user=");
		put_conninfo_value(o, c->user);
	}
}

static void build_pgpass_line(struct out *o, const struct config_conn *c)
{
	char port[16];

	/* libpq looks up socket directories as "localhost" */
	put_pgpass_field(o, c->host[0] == '/' || c->host[0] == '@' ? "localhost" : c->host);
	put_char(o, ':');
	/*
	 * No port in the config: libpq takes PGPORT's or its default, whichever
	 * it is when it connects, so the line must match any.
	 */
	if (c->port != 0) {
		snprintf(port, sizeof port, "%d", c->port);
		put_str(o, port);
	} else
		put_char(o, '*');
	put_char(o, ':');
	put_pgpass_field(o, c->dbname);
	put_char(o, ':');
	if (c->user != NULL)
		put_pgpass_field(o, c->user);
	else
		put_char(o, '*');
	put_char(o, ':');
	put_pgpass_field(o, c->password);
	put_char(o, '\n');
}

static char *build(void (*fn)(struct out *, const struct config_conn *), const struct config_conn *c)
{
	struct out o = { NULL, 0 };

	fn(&o, c);
	o.buf = malloc(o.len + 1);
	if (o.buf == NULL)
		return NULL;
	o.len = 0;
	fn(&o, c);
	o.buf[o.len] = '\0';
	return o.buf;
}

char *config_conninfo(const struct config_conn *conn)
{
	return build(build_conninfo, conn);
}

char *config_pgpass_line(const struct config_conn *conn)
{
	return build(build_pgpass_line, conn);
}

/* conninfo, then " passfile='...'" when passfile is not NULL */
char *config_conninfo_passfile(const struct config_conn *conn, const char *passfile)
{
	struct out o = { NULL, 0 };
	char *base = config_conninfo(conn);

	if (base == NULL || passfile == NULL)
		return base;
	for (int pass = 0; pass < 2; pass++) {
		o.len = 0;
		put_str(&o, base);
		put_str(&o, " passfile=");
		put_conninfo_value(&o, passfile);
		if (pass == 0 && (o.buf = malloc(o.len + 1)) == NULL)
			break;
	}
	if (o.buf != NULL)
		o.buf[o.len] = '\0';
	free(base);
	return o.buf;
}

/* ---- files ---- */

char *config_read_file(const char *prog, const char *path, size_t *len)
{
	char *buf = NULL;
	size_t used = 0;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: could not open configuration file \"%s\": %s\n",
				prog, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: could not read configuration file \"%s\": %s\n",
				prog, path, strerror(EISDIR));
		goto error;
	}
	/* one byte more than allowed tells a file at the limit from a larger one */
	buf = malloc(JV_MAX_INPUT + 1);
	if (buf == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto error;
	}
	for (;;) {
		ssize_t n = read(fd, buf + used, JV_MAX_INPUT + 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: could not read configuration file \"%s\": %s\n",
					prog, path, strerror(errno));
			goto error;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > JV_MAX_INPUT) {
			fprintf(stderr, "%s: configuration file \"%s\" is too large (more than %d bytes)\n",
					prog, path, JV_MAX_INPUT);
			goto error;
		}
	}
	close(fd);
	*len = used;
	return buf;

error:
	if (buf != NULL) {
		explicit_bzero(buf, used);
		free(buf);
	}
	close(fd);
	return NULL;
}

int config_load(const char *prog, enum config_kind kind, const char *path, struct config *cfg)
{
	size_t len = 0;
	char *buf;
	int rc;

	memset(cfg, 0, sizeof *cfg);
	buf = config_read_file(prog, path, &len);
	if (buf == NULL)
		return -1;
	rc = config_parse(prog, kind, path, buf, len, cfg, stderr);
	explicit_bzero(buf, len);	/* it holds the passwords too */
	free(buf);
	return rc;
}

static bool write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		s += n;
		len -= (size_t)n;
	}
	return true;
}

/* writes one pgpass line for conn if it has a password */
static bool write_pgpass_line(int fd, const struct config_conn *conn)
{
	char *line;
	bool ok;

	if (conn->password == NULL)
		return true;
	line = config_pgpass_line(conn);
	if (line == NULL) {
		errno = ENOMEM;
		return false;
	}
	ok = write_all(fd, line, strlen(line));
	config_free_secret(line);
	return ok;
}

int config_write_passfile(const char *prog, const char *path, const struct config *cfg)
{
	bool created = true;
	struct stat st;
	size_t i;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		fprintf(stderr, "%s: could not open password file \"%s\": %s\n", prog, path, strerror(errno));
		return EXIT_USAGE;
	}
	if (!created) {
		const char *problem = NULL;

		if (fstat(fd, &st) != 0)
			problem = strerror(errno);
		else if (!S_ISREG(st.st_mode))
			problem = "not a regular file";
		else if (st.st_uid != geteuid())
			problem = "owned by another user";
		else if ((st.st_mode & 077) != 0)
			problem = "group or others have access (it must have mode 0600)";
		if (problem != NULL) {
			fprintf(stderr, "%s: refusing to write passwords to \"%s\": %s\n", prog, path, problem);
			close(fd);
			return EXIT_USAGE;
		}
	}
	/* the umask may have taken more; libpq accepts no less strict a mode */
	if ((created && fchmod(fd, 0600) != 0) || (!created && ftruncate(fd, 0) != 0))
		goto error;
	if (!write_pgpass_line(fd, &cfg->source))
		goto error;
	for (i = 0; i < cfg->ndests; i++)
		if (!write_pgpass_line(fd, &cfg->dests[i]))
			goto error;
	if (close(fd) != 0) {
		fd = -1;
		goto error;
	}
	return EXIT_OK;

error:
	fprintf(stderr, "%s: could not write password file \"%s\": %s\n", prog, path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(path);
	return EXIT_IO;
}

/* the file name inside the private directory */
#define PRIVATE_PASSFILE "/pgpass"

bool config_private_passfile(const char *prog, const struct config *cfg, char **path)
{
	const char *tmp = getenv("TMPDIR");
	char *p;
	size_t n;

	*path = NULL;
	if (cfg->npasswords == 0)
		return true;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = strlen(tmp) + sizeof "/slate-pass.XXXXXX" + sizeof PRIVATE_PASSFILE;
	if ((p = malloc(n)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return false;
	}
	snprintf(p, n, "%s/slate-pass.XXXXXX", tmp);
	/* a directory of our own (0700): nobody can swap the file under us */
	if (mkdtemp(p) == NULL) {
		fprintf(stderr, "%s: could not create a private directory in \"%s\": %s\n",
				prog, tmp, strerror(errno));
		free(p);
		return false;
	}
	strcat(p, PRIVATE_PASSFILE);
	if (config_write_passfile(prog, p, cfg) != EXIT_OK) {
		p[strlen(p) - strlen(PRIVATE_PASSFILE)] = '\0';
		rmdir(p);
		free(p);
		return false;
	}
	*path = p;
	return true;
}

void config_private_passfile_remove(char *path)
{
	if (path == NULL)
		return;
	unlink(path);
	path[strlen(path) - strlen(PRIVATE_PASSFILE)] = '\0';
	rmdir(path);
	free(path);
}
