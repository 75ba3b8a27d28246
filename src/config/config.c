/* config.c - checks the value tree of a config file and turns it into struct config */
#include "config.h"
#include "jsvalue.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* beyond this many errors (or warnings) only a count is printed */
#define MAX_SHOWN 20

struct checker {
	const char *name;			/* the file, printable */
	FILE *msgs;
	unsigned errors;
	unsigned warnings;
};

static void report(struct checker *ck, bool error, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* prints "slate-config: file:line:col: [warning: ]message"; counts it */
static void report(struct checker *ck, bool error, unsigned line, unsigned col, const char *fmt, ...)
{
	unsigned count = error ? ++ck->errors : ++ck->warnings;
	va_list ap;

	if (ck->msgs == NULL || count > MAX_SHOWN)
		return;
	fprintf(ck->msgs, "slate-config: %s:%u:%u: %s", ck->name, line, col, error ? "" : "warning: ");
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

/* the same database: host (with port) and name, ignoring case */
static int compare_conn(const struct config_conn *a, const struct config_conn *b)
{
	int pa = a->port ? a->port : CONFIG_DEFAULT_PORT;
	int pb = b->port ? b->port : CONFIG_DEFAULT_PORT;
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

static void check_config(struct checker *ck, const struct jv *root, struct config *cfg)
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
			fprintf(ck->msgs, "slate-config: maxEventsPerWrite %lld raised to the minimum %d\n",
					cfg->max_events_per_write, CONFIG_MIN_EVENTS_PER_WRITE);
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

	cfg->npasswords = cfg->source.password != NULL;
	for (i = 0; i < cfg->ndests; i++)
		cfg->npasswords += cfg->dests[i].password != NULL;
}

int config_parse_buffer(const char *name, const char *buf, size_t len,
						struct config *cfg, FILE *msgs)
{
	struct checker ck;
	struct jv_error err;
	struct jv *root;
	char shown[256];

	memset(cfg, 0, sizeof *cfg);
	printable(shown, sizeof shown, name);
	ck.name = shown;
	ck.msgs = msgs;
	ck.errors = ck.warnings = 0;

	root = jv_parse_program(buf, len, &err);
	if (root == NULL) {
		if (msgs != NULL)
			fprintf(msgs, "slate-config: %s:%u:%u: %s\n", shown, err.line, err.col, err.msg);
		return -1;
	}
	check_config(&ck, root, cfg);
	jv_free(root);

	if (msgs != NULL && ck.warnings > MAX_SHOWN)
		fprintf(msgs, "slate-config: %s: %u more warnings not shown\n", shown, ck.warnings - MAX_SHOWN);
	if (msgs != NULL && ck.errors > MAX_SHOWN)
		fprintf(msgs, "slate-config: %s: %u more errors not shown\n", shown, ck.errors - MAX_SHOWN);
	if (ck.errors > 0) {
		config_free(cfg);
		return -1;
	}
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
	snprintf(port, sizeof port, "%d", c->port ? c->port : CONFIG_DEFAULT_PORT);
	put_str(o, port);
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
