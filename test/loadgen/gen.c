/* gen.c - builds slate-loadgen's events as jsonb-canonical JSON, one transaction at a time */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen.h"
#include "names.h"

/*
 * The text is written in the form PostgreSQL's jsonb prints (keys ordered by
 * length, then bytes; ": " and ", " between members; jsonb's string escapes),
 * so what we generate is byte for byte what event::text returns afterwards
 * and a --output file equals what slate-extract would write for these events.
 * Keep each object's members in that order when adding one.
 */

/*
 * Text that quoting code gets wrong: SQL and JSON specials, multi-byte UTF-8,
 * the parameter markers.  The original slate-init-db's insert_events() scans
 * its whole argument, JSON included, for "$1[<digits>]" (which must run 1..n)
 * and "$2," (which must occur n times), so "$1[7]" or "$2, " inside an event
 * makes it refuse the call: these come as close as that source accepts.
 */
static const char *const awkward_texts[] = {
	"\"Bobby\"", "Robert'); DROP TABLE events; --", "back\\slash", "C:\\Users\\zoë\\notes.txt",
	"it's \"quoted\" twice", "tab\there", "line one\nline two", "🦄 unicorn",
	"emoji 👩‍💻 with a joiner", "日本語のメモ", "$1[x] is not an id", "$$ dollar $$ quotes",
	"$1 and $2 are not parameters", "$2.50 or $1[] each; $12, then $2;",
	"'single' and ''doubled''", "ÆØÅ æøå", "\\u0041 is not an escape here", "trailing backslash \\",
	"50\\% off; 100% sure", "Zoë's café", "Łódź – Kraków", "Nguyễn Thị Minh Khai",
};
#define N_AWKWARD (sizeof(awkward_texts) / sizeof(awkward_texts[0]))

static const char *const nicknames[] = {
	"Bobby", "Liz", "Kate", "Sasha", "Jojo", "Mimi", "Big Mike", "Nico", "Lulu", "Tomek",
};
#define N_NICKNAMES (sizeof(nicknames) / sizeof(nicknames[0]))

static const char *const delete_reasons[] = {
	"duplicate record", "requested by the person", "retention period over",
	"entered by mistake", "merged into another record",
	"customer wrote: \"please forget me\"", "GDPR Art. 17 – erasure",
};
#define N_REASONS (sizeof(delete_reasons) / sizeof(delete_reasons[0]))

static const char *const sources[] = {"web", "mobile", "import", "api", "back office"};
#define N_SOURCES (sizeof(sources) / sizeof(sources[0]))

/* ---- buffers ---- */

void
sb_reserve(strbuf *b, size_t more)
{
	size_t		cap;
	char	   *p;

	if (b->failed || b->len + more <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
	{
		b->failed = true;
		return;
	}
	b->data = p;
	b->cap = cap;
}

void
sb_put(strbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

void
sb_free(strbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void
sb_cat(strbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void
sb_int(strbuf *b, int64_t v)
{
	char		num[24];
	int			n = snprintf(num, sizeof(num), "%" PRId64, v);

	sb_put(b, num, (size_t) n);
}

/* s as a JSON string with quotes, escaped the way jsonb prints it */
static void
sb_json_string(strbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	sb_reserve(b, strlen(s) * 6 + 2);
	if (b->failed)
		return;
	b->data[b->len++] = '"';
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;
		char	   *d = b->data + b->len;

		switch (c)
		{
			case '"': d[0] = '\\'; d[1] = '"'; b->len += 2; break;
			case '\\': d[0] = '\\'; d[1] = '\\'; b->len += 2; break;
			case '\b': d[0] = '\\'; d[1] = 'b'; b->len += 2; break;
			case '\f': d[0] = '\\'; d[1] = 'f'; b->len += 2; break;
			case '\n': d[0] = '\\'; d[1] = 'n'; b->len += 2; break;
			case '\r': d[0] = '\\'; d[1] = 'r'; b->len += 2; break;
			case '\t': d[0] = '\\'; d[1] = 't'; b->len += 2; break;
			default:
				if (c < 0x20)
				{
					memcpy(d, "\\u00", 4);
					d[4] = hex[c >> 4];
					d[5] = hex[c & 15];
					b->len += 6;
				}
				else
					b->data[b->len++] = (char) c;
		}
	}
	b->data[b->len++] = '"';
}

/* ---- randomness: splitmix64, so a seed reproduces the whole run ---- */

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* uniform enough in [0, n) for test data (n > 0) */
static uint64_t
rand_below(generator *g, uint64_t n)
{
	return splitmix64(&g->rng) % n;
}

static const char *
pick(generator *g, const char *const *list, size_t n)
{
	return list[rand_below(g, n)];
}

/* a version 4 UUID's text made from two 64-bit words */
static void
format_uuid(uint64_t hi, uint64_t lo, char out[37])
{
	hi = (hi & ~UINT64_C(0xf000)) | UINT64_C(0x4000);
	lo = (lo & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);
	snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
			 hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48, lo & UINT64_C(0xffffffffffff));
}

static void
random_uuid(generator *g, char out[37])
{
	uint64_t	hi = splitmix64(&g->rng);

	format_uuid(hi, splitmix64(&g->rng), out);
}

/* person i's UUID, the same every time it is asked for: no table of people needed */
static void
person_uuid(const generator *g, int64_t i, char out[37])
{
	uint64_t	s = g->person_key ^ ((uint64_t) i * UINT64_C(0xd1b54a32d192ed03));
	uint64_t	hi = splitmix64(&s);

	format_uuid(hi, splitmix64(&s), out);
}

/* ---- set-up ---- */

bool
gen_init(generator *g, uint64_t seed, int64_t persons, int64_t deletes, int64_t fillers)
{
	memset(g, 0, sizeof(*g));
	g->rng = seed;
	g->person_key = splitmix64(&g->rng);
	random_uuid(g, g->program_id);
	for (size_t i = 0; i < sizeof(g->initiators) / sizeof(g->initiators[0]); i++)
		random_uuid(g, g->initiators[i]);
	g->persons = persons;
	g->deletes_left = deletes < persons ? deletes : persons;
	g->fillers_left = fillers;
	g->deleted = calloc((size_t) (persons / 8 + 1), 1);
	return g->deleted != NULL;
}

void
gen_free(generator *g)
{
	free(g->deleted);
	free(g->items);
	free(g->offs);
	free(g->filler_events);
	free(g->filler_order);
	sb_free(&g->json);
}

int64_t
gen_remaining(const generator *g)
{
	if (g->perf)
		return g->perf_total - g->perf_done;
	return (g->persons - g->persons_made) * 3 + g->deletes_left + g->fillers_left;
}

const char *
gen_kind_name(gen_kind k)
{
	switch (k)
	{
		case GEN_PERSON_CREATED: return "PersonCreated";
		case GEN_PERSON_NAME_ADDED: return "PersonNameAdded";
		case GEN_PERSON_SSN_ADDED: return "PersonSSNAdded";
		case GEN_PERSON_DELETED: return "PersonDeleted";
		case GEN_FILLER: return "FillerEvent";
		case GEN_USER_CREATED: return "User Created";
		case GEN_USER_PHONE_CHANGED: return "User Phone Changed";
		case GEN_USER_NAME_ADDED: return "User Name Added";
		case GEN_USER_PHONE_ADDED: return "User Phone Added";
		case GEN_FILLER_CREATED: return "Filler Created";
		case GEN_FILLER_CHANGED: return "Filler Changed";
		case GEN_NKINDS: break;
	}
	return "?";
}

void
gen_format_ts(int64_t unix_us, char *buf, size_t n)
{
	time_t		t = (time_t) (unix_us / 1000000);
	struct tm	tm;

	gmtime_r(&t, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (unix_us % 1000000 / 1000));
}

/* ---- planning a transaction ---- */

static bool
add_item(generator *g, gen_kind kind, int64_t person)
{
	if (g->count == g->items_cap)
	{
		size_t		cap = g->items_cap ? g->items_cap * 2 : 64;
		gen_item   *p = realloc(g->items, cap * sizeof(*p));

		if (p == NULL)
			return false;
		g->items = p;
		g->items_cap = cap;
	}
	g->items[g->count].kind = kind;
	g->items[g->count].person = person;
	g->count++;
	return true;
}

/* an earlier person not yet deleted, or person "self" when there is none */
static int64_t
pick_victim(generator *g, int64_t self)
{
	int64_t		start;

	if (self == 0)
		return self;
	for (int tries = 0; tries < 8; tries++)
	{
		int64_t		j = (int64_t) rand_below(g, (uint64_t) self);

		if (!(g->deleted[j / 8] & (1 << (j % 8))))
			return j;
	}
	start = (int64_t) rand_below(g, (uint64_t) self);
	for (int64_t k = 0; k < self; k++)
	{
		int64_t		j = (start + k) % self;

		if (!(g->deleted[j / 8] & (1 << (j % 8))))
			return j;
	}
	return self;
}

/*
 * One person's series (created, name, SSN) and, now and then, the deletion of
 * an earlier person.  The chance of a deletion is deletes_left over the
 * people still to come, so exactly the planned number happen by the end.
 */
static bool
plan_person(generator *g)
{
	int64_t		i = g->persons_made++;

	if (!add_item(g, GEN_PERSON_CREATED, i) || !add_item(g, GEN_PERSON_NAME_ADDED, i) ||
		!add_item(g, GEN_PERSON_SSN_ADDED, i))
		return false;
	if (g->deletes_left > 0 &&
		rand_below(g, (uint64_t) (g->persons - i)) < (uint64_t) g->deletes_left)
	{
		int64_t		victim = pick_victim(g, i);

		g->deleted[victim / 8] |= (uint8_t) (1 << (victim % 8));
		g->deletes_left--;
		return add_item(g, GEN_PERSON_DELETED, victim);
	}
	return true;
}

/* ---- writing one event ---- */

static void
put_data(generator *g, const gen_item *it, const char *entity)
{
	strbuf	   *b = &g->json;
	char		ssn[16];

	sb_cat(b, "{\"data\": {");
	switch (it->kind)
	{
		case GEN_PERSON_CREATED:
			sb_cat(b, "\"source\": ");
			sb_json_string(b, pick(g, sources, N_SOURCES));
			break;
		case GEN_PERSON_NAME_ADDED:
			sb_cat(b, "\"lastName\": ");
			sb_json_string(b, pick(g, last_names, n_last_names));
			if (rand_below(g, 100) < 4)
			{
				sb_cat(b, ", \"nickname\": ");
				sb_json_string(b, rand_below(g, 2) ? pick(g, nicknames, N_NICKNAMES)
							   : pick(g, awkward_texts, N_AWKWARD));
			}
			break;
		case GEN_PERSON_SSN_ADDED:
			snprintf(ssn, sizeof(ssn), "%03d-%02d-%04d", 1 + (int) rand_below(g, 899),
					 1 + (int) rand_below(g, 99), 1 + (int) rand_below(g, 9999));
			sb_cat(b, "\"ssn\": ");
			sb_json_string(b, ssn);
			break;
		case GEN_PERSON_DELETED:
			sb_cat(b, "\"reason\": ");
			sb_json_string(b, pick(g, delete_reasons, N_REASONS));
			break;
		case GEN_FILLER:
			sb_cat(b, "\"a\": ");
			sb_int(b, 1 + (int64_t) rand_below(g, 2000));
			sb_cat(b, ", \"b\": ");
			sb_int(b, 100 + (int64_t) rand_below(g, 100));
			if (rand_below(g, 100) < 2)
			{
				sb_cat(b, ", \"note\": ");
				sb_json_string(b, pick(g, awkward_texts, N_AWKWARD));
			}
			sb_cat(b, ", \"category\": \"Category");
			sb_int(b, (int64_t) rand_below(g, 5));
			sb_cat(b, "\"");
			break;
		default:			/* the perf series has put_perf_event */
			break;
	}
	sb_cat(b, ", \"entity_id\": \"");
	sb_cat(b, entity);
	sb_cat(b, "\"");
	if (it->kind == GEN_PERSON_NAME_ADDED)
	{
		char		initial[2] = {(char) ('A' + rand_below(g, 26)), '\0'};

		sb_cat(b, ", \"firstName\": ");
		sb_json_string(b, pick(g, first_names, n_first_names));
		sb_cat(b, ", \"middleInitial\": ");
		sb_json_string(b, rand_below(g, 10) < 7 ? initial : "");
	}
	sb_cat(b, "}");
}

static void
put_event(generator *g, const gen_item *it, size_t num, const char *op_ts)
{
	static const struct
	{
		const char *command;
		const char *operation;
		const char *property;	/* NULL: none */
	}			kinds[GEN_NKINDS] = {
		[GEN_PERSON_CREATED] = {"Create person", "create", NULL},
		[GEN_PERSON_NAME_ADDED] = {"Add person name", "add", "name"},
		[GEN_PERSON_SSN_ADDED] = {"Add person SSN", "add", "ssn"},
		[GEN_PERSON_DELETED] = {"Delete person", "delete", NULL},
		[GEN_FILLER] = {"Add filler event", "update", "category"},
	};
	strbuf	   *b = &g->json;
	char		entity[37];
	char		name[32];

	if (it->kind == GEN_FILLER)
	{
		random_uuid(g, entity);
		snprintf(name, sizeof(name), "FillerEvent%d", (int) rand_below(g, 10));
	}
	else
	{
		person_uuid(g, it->person, entity);
		snprintf(name, sizeof(name), "%s", gen_kind_name(it->kind));
	}
	put_data(g, it, entity);
	sb_cat(b, ", \"name\": \"");
	sb_cat(b, name);
	sb_cat(b, "\", \"entityId\": \"");
	sb_cat(b, entity);
	sb_cat(b, "\", \"metadata\": {\"command\": \"");
	sb_cat(b, kinds[it->kind].command);
	sb_cat(b, "\", \"initiatorId\": \"");
	sb_cat(b, g->initiators[rand_below(g, sizeof(g->initiators) / sizeof(g->initiators[0]))]);
	sb_cat(b, "\"}, \"operation\": \"");
	sb_cat(b, kinds[it->kind].operation);
	sb_cat(b, "\", \"entityName\": \"");
	sb_cat(b, it->kind == GEN_FILLER ? "Filler" : "Person");
	if (kinds[it->kind].property)
	{
		sb_cat(b, "\", \"propertyName\": \"");
		sb_cat(b, kinds[it->kind].property);
	}
	sb_cat(b, "\", \"testingStats\": {\"programId\": \"");
	sb_cat(b, g->program_id);
	sb_cat(b, "\", \"dbOperationId\": \"");
	sb_cat(b, g->op_id);
	sb_cat(b, "\", \"dbOperationTS\": \"");
	sb_cat(b, op_ts);
	sb_cat(b, "\", \"dbOperationNum\": ");
	sb_int(b, g->op_num);
	sb_cat(b, ", \"dbOperationEventNum\": ");
	sb_int(b, (int64_t) num);
	sb_cat(b, ", \"dbOperationEventCount\": ");
	sb_int(b, (int64_t) g->count);
	sb_cat(b, "}}");
}

/* ---- the perf series of the original's loadPerfTestData ---- */

bool
gen_init_perf(generator *g, uint64_t seed, int64_t between, int64_t max_per_txn)
{
	memset(g, 0, sizeof(*g));
	g->perf = true;
	g->rng = seed;
	g->person_key = splitmix64(&g->rng);
	for (int i = 0; i < GEN_PERF_USERS; i++)
		random_uuid(g, g->perf_users[i]);
	for (int i = 0; i < GEN_PERF_INITIATORS; i++)
		random_uuid(g, g->perf_initiators[i]);
	g->perf_between = between;
	g->perf_max = max_per_txn;
	g->perf_total = (GEN_PERF_USERS * GEN_PERF_USER_EVENTS - 1) * between +
		GEN_PERF_USERS * GEN_PERF_USER_EVENTS;
	g->filler_events = calloc(GEN_PERF_FILLER_ENTITIES, sizeof(*g->filler_events));
	g->filler_order = calloc(GEN_PERF_FILLER_ENTITIES, sizeof(*g->filler_order));
	g->filler_next = GEN_PERF_FILLER_ENTITIES;
	return g->filler_events != NULL && g->filler_order != NULL;
}

/*
 * The filler entity for the next filler event: one of those with the fewest
 * events so far.  Every entity has as many as the others at the start of a
 * round, so taking them in a fresh random order each round is exactly that.
 */
static int
next_filler_entity(generator *g)
{
	if (g->filler_next == GEN_PERF_FILLER_ENTITIES)
	{
		for (int i = 0; i < GEN_PERF_FILLER_ENTITIES; i++)
			g->filler_order[i] = (uint32_t) i;
		for (int i = GEN_PERF_FILLER_ENTITIES - 1; i > 0; i--)
		{
			int			j = (int) rand_below(g, (uint64_t) i + 1);
			uint32_t	t = g->filler_order[i];

			g->filler_order[i] = g->filler_order[j];
			g->filler_order[j] = t;
		}
		g->filler_next = 0;
	}
	return (int) g->filler_order[g->filler_next++];
}

/* data.value: a date, a phone number or a name, as the kind of event says */
static void
put_perf_value(generator *g, gen_kind kind)
{
	char		v[64];

	switch (kind)
	{
		case GEN_USER_CREATED:
		case GEN_FILLER_CREATED:
			snprintf(v, sizeof(v), "%04d-%02d-%02d", 1950 + (int) rand_below(g, 70),
					 1 + (int) rand_below(g, 12), 1 + (int) rand_below(g, 28));
			sb_json_string(&g->json, v);
			break;
		case GEN_USER_PHONE_CHANGED:
		case GEN_USER_PHONE_ADDED:
			snprintf(v, sizeof(v), "+1 %03d-555-%04d", 201 + (int) rand_below(g, 700),
					 (int) rand_below(g, 10000));
			sb_json_string(&g->json, v);
			break;
		default:
			snprintf(v, sizeof(v), "%s %s", pick(g, first_names, n_first_names),
					 pick(g, last_names, n_last_names));
			sb_json_string(&g->json, v);
			break;
	}
}

/*
 * Event number pos of the series: every (between + 1)-th is a user event,
 * the users taking turns (all created, then each one's phone changed, ...),
 * the rest filler events.  jsonb's key order, as everywhere here.
 */
static void
put_perf_event(generator *g, int64_t pos)
{
	static const gen_kind user_kinds[GEN_PERF_USER_EVENTS] = {
		GEN_USER_CREATED, GEN_USER_PHONE_CHANGED, GEN_USER_NAME_ADDED, GEN_USER_PHONE_ADDED
	};
	static const char *const commands[GEN_NKINDS] = {
		[GEN_USER_CREATED] = "Create User", [GEN_USER_PHONE_CHANGED] = "Change User Phone",
		[GEN_USER_NAME_ADDED] = "Add User Name", [GEN_USER_PHONE_ADDED] = "Add User Phone",
		[GEN_FILLER_CREATED] = "Create Filler", [GEN_FILLER_CHANGED] = "Change Filler",
	};
	strbuf	   *b = &g->json;
	char		entity[37];
	gen_kind	kind;

	if (pos % (g->perf_between + 1) == 0)
	{
		int64_t		u = pos / (g->perf_between + 1);

		kind = user_kinds[u / GEN_PERF_USERS];
		memcpy(entity, g->perf_users[u % GEN_PERF_USERS], sizeof(entity));
	}
	else
	{
		int			f = next_filler_entity(g);

		kind = g->filler_events[f]++ == 0 ? GEN_FILLER_CREATED : GEN_FILLER_CHANGED;
		/* beyond any person index, so never a person's UUID */
		person_uuid(g, (INT64_C(1) << 40) + f, entity);
	}
	add_item(g, kind, 0);
	sb_cat(b, "{\"data\": {\"value\": ");
	put_perf_value(g, kind);
	sb_cat(b, ", \"entityId\": \"");
	sb_cat(b, entity);
	sb_cat(b, "\"}, \"name\": \"");
	sb_cat(b, gen_kind_name(kind));
	sb_cat(b, "\", \"metadata\": {\"command\": \"");
	sb_cat(b, commands[kind]);
	sb_cat(b, "\", \"initiatorId\": \"");
	sb_cat(b, g->perf_initiators[rand_below(g, GEN_PERF_INITIATORS)]);
	sb_cat(b, "\"}}");
}

/* the next insert_events call of the perf series: up to perf_max events in order */
static int
perf_next_txn(generator *g)
{
	int64_t		n = gen_remaining(g);

	g->count = 0;
	g->json.len = 0;
	if (n > g->perf_max)
		n = g->perf_max;
	if (n == 0)
		return 0;
	g->op_num++;
	if (g->offs_cap < (size_t) n + 1)
	{
		size_t	   *p = realloc(g->offs, ((size_t) n + 1) * sizeof(*p));

		if (p == NULL)
			return -1;
		g->offs = p;
		g->offs_cap = (size_t) n + 1;
	}
	for (int64_t k = 0; k < n; k++)
	{
		g->offs[k] = g->json.len;
		put_perf_event(g, g->perf_done++);
	}
	g->offs[g->count] = g->json.len;
	if (g->json.failed || g->count != (size_t) n)
		return -1;
	for (size_t k = 0; k < g->count; k++)
		g->by_kind[g->items[k].kind]++;
	g->events += n;
	g->bytes += (int64_t) g->json.len;
	return (int) n;
}

/*
 * A transaction aims at 1..28 events (about 15 on average) drawn from what is
 * left, people and filler in proportion, so both are spread over the run.  A
 * person's events are never split, so a transaction may overshoot by three.
 */
int
gen_next_txn(generator *g, const char *op_ts)
{
	uint64_t	target;

	if (g->perf)
		return perf_next_txn(g);
	g->count = 0;
	g->json.len = 0;
	if (gen_remaining(g) == 0)
		return 0;
	target = 1 + rand_below(g, 28);
	while (g->count < target && gen_remaining(g) > 0)
	{
		uint64_t	person_events = (uint64_t) (g->persons - g->persons_made) * 3;
		uint64_t	r = rand_below(g, person_events + (uint64_t) g->fillers_left);

		if (r < person_events)
		{
			if (!plan_person(g))
				return -1;
		}
		else
		{
			g->fillers_left--;
			if (!add_item(g, GEN_FILLER, 0))
				return -1;
		}
	}

	g->op_num++;
	random_uuid(g, g->op_id);
	if (g->offs_cap < g->count + 1)
	{
		size_t	   *p = realloc(g->offs, (g->count + 1) * 2 * sizeof(*p));

		if (p == NULL)
			return -1;
		g->offs = p;
		g->offs_cap = (g->count + 1) * 2;
	}
	for (size_t k = 0; k < g->count; k++)
	{
		g->offs[k] = g->json.len;
		put_event(g, &g->items[k], k + 1, op_ts);
		g->by_kind[g->items[k].kind]++;
	}
	g->offs[g->count] = g->json.len;
	if (g->json.failed)
		return -1;
	g->events += (int64_t) g->count;
	g->bytes += (int64_t) g->json.len;
	return (int) g->count;
}
