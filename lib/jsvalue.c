/* jsvalue.c - reads the JavaScript subset of replicator config files into a value tree */
#include "jsvalue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Error messages only ever name positions and what was expected, never the
 * text found: the text may be (part of) a password.
 */

struct reader {
	const unsigned char *p;
	const unsigned char *end;
	unsigned line, col;			/* of *p */
	int depth;
	bool failed;
	struct jv_error *err;
};

/* a growing string that wipes what it gives back: it may hold a password */
struct strbuf {
	char *data;
	size_t len, cap;
};

static void wipe_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}

static void fail_at(struct reader *r, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* records the first error; everything after it is a consequence */
static void fail_at(struct reader *r, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return;
	r->failed = true;
	r->err->line = line;
	r->err->col = col;
	va_start(ap, fmt);
	vsnprintf(r->err->msg, sizeof r->err->msg, fmt, ap);
	va_end(ap);
}

static int peek(const struct reader *r)
{
	return r->p < r->end ? *r->p : -1;
}

static int peek_at(const struct reader *r, size_t ahead)
{
	return (size_t)(r->end - r->p) > ahead ? r->p[ahead] : -1;
}

/* columns count characters, so UTF-8 continuation bytes do not move them */
static void advance(struct reader *r)
{
	unsigned char c = *r->p++;

	if (c == '\n') {
		r->line++;
		r->col = 1;
	} else if ((c & 0xC0) != 0x80)
		r->col++;
}

static void skip_bytes(struct reader *r, size_t n)
{
	while (n-- > 0)
		advance(r);
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool is_ident_part(int c)
{
	return is_ident_start(c) || is_digit(c);
}

/* length of the identifier at the cursor, 0 when there is none */
static size_t ident_length(const struct reader *r)
{
	size_t n = 0;

	if (!is_ident_start(peek(r)))
		return 0;
	while (is_ident_part(peek_at(r, n)))
		n++;
	return n;
}

static bool ident_is(const struct reader *r, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(r->p, word, n) == 0;
}

/* skips white space and comments; false after an unterminated comment */
static bool skip_blank(struct reader *r)
{
	for (;;) {
		int c = peek(r);

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
			advance(r);
		} else if (c == '/' && peek_at(r, 1) == '/') {
			while (peek(r) != -1 && peek(r) != '\n')
				advance(r);
		} else if (c == '/' && peek_at(r, 1) == '*') {
			unsigned line = r->line, col = r->col;

			skip_bytes(r, 2);
			while (!(peek(r) == '*' && peek_at(r, 1) == '/')) {
				if (peek(r) == -1) {
					fail_at(r, line, col, "unterminated comment");
					return false;
				}
				advance(r);
			}
			skip_bytes(r, 2);
		} else
			return true;
	}
}

/* length of the well-formed UTF-8 sequence at p (1..4), 0 when malformed */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] == 0xE0) {
		n = 3;
		lo = 0xA0;				/* no overlong forms */
	} else if (p[0] == 0xED) {
		n = 3;
		hi = 0x9F;				/* no surrogates */
	} else if (p[0] >= 0xE1 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] == 0xF0) {
		n = 4;
		lo = 0x90;
	} else if (p[0] >= 0xF1 && p[0] <= 0xF3)
		n = 4;
	else if (p[0] == 0xF4) {
		n = 4;
		hi = 0x8F;				/* nothing above U+10FFFF */
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

static size_t utf8_encode(unsigned long cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* appends to the string that started at line:col, enforcing JV_MAX_STRING */
static bool append(struct reader *r, struct strbuf *b, const char *bytes, size_t n,
				   unsigned line, unsigned col)
{
	if (b->len + n > JV_MAX_STRING) {
		fail_at(r, line, col, "string too long (more than %d bytes)", JV_MAX_STRING);
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		char *data;

		while (cap < b->len + n + 1)
			cap *= 2;
		/* not realloc: the old block may hold part of a password */
		data = malloc(cap);
		if (data == NULL) {
			fail_at(r, line, col, "out of memory");
			return false;
		}
		if (b->len > 0)
			memcpy(data, b->data, b->len);
		wipe_free(b->data, b->cap);
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, bytes, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

static bool append_code_point(struct reader *r, struct strbuf *b, unsigned long cp,
							  unsigned line, unsigned col)
{
	char utf8[4];

	return append(r, b, utf8, utf8_encode(cp, utf8), line, col);
}

/* reads four hex digits at the cursor; false (cursor unmoved) when there are none */
static bool read_hex4(struct reader *r, unsigned long *cp)
{
	unsigned long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		int h = hex_value(peek_at(r, (size_t)i));

		if (h < 0)
			return false;
		v = v * 16 + (unsigned long)h;
	}
	skip_bytes(r, 4);
	*cp = v;
	return true;
}

/*
 * Reads the code point of a \u escape, cursor after the 'u': \uXXXX, a
 * surrogate pair \uD83D\uDE00 or \u{1F600}.  line:col is the backslash.
 */
static bool read_unicode_escape(struct reader *r, unsigned long *cp, unsigned line, unsigned col)
{
	unsigned long low;

	if (peek(r) == '{') {
		unsigned long v = 0;
		size_t digits = 0;

		advance(r);
		while (hex_value(peek(r)) >= 0) {
			v = v * 16 + (unsigned long)hex_value(peek(r));
			if (v > 0x10FFFF)
				break;
			digits++;
			advance(r);
		}
		if (digits == 0 || peek(r) != '}' || v > 0x10FFFF) {
			fail_at(r, line, col, "invalid \\u{...} escape: expected hex digits up to 10FFFF and '}'");
			return false;
		}
		advance(r);
		if (v >= 0xD800 && v <= 0xDFFF) {
			fail_at(r, line, col, "invalid \\u{...} escape: a surrogate is not a character");
			return false;
		}
		*cp = v;
		return true;
	}
	if (!read_hex4(r, cp)) {
		fail_at(r, line, col, "invalid \\u escape: expected 4 hex digits");
		return false;
	}
	if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
		fail_at(r, line, col, "unpaired surrogate in \\u escape");
		return false;
	}
	if (*cp < 0xD800 || *cp > 0xDBFF)
		return true;
	/* a high surrogate needs a low one right after it */
	if (peek(r) != '\\' || peek_at(r, 1) != 'u') {
		fail_at(r, line, col, "unpaired surrogate in \\u escape");
		return false;
	}
	skip_bytes(r, 2);
	if (!read_hex4(r, &low) || low < 0xDC00 || low > 0xDFFF) {
		fail_at(r, line, col, "unpaired surrogate in \\u escape");
		return false;
	}
	*cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
	return true;
}

/* reads one escape sequence at the cursor (on the backslash) into b */
static bool parse_escape(struct reader *r, struct strbuf *b, unsigned sline, unsigned scol)
{
	unsigned line = r->line, col = r->col;
	unsigned long cp;
	int h1, h2;
	char c;

	advance(r);
	switch (peek(r)) {
	case 'b': c = '\b'; break;
	case 'f': c = '\f'; break;
	case 'n': c = '\n'; break;
	case 'r': c = '\r'; break;
	case 't': c = '\t'; break;
	case 'v': c = '\v'; break;
	case '\'': c = '\''; break;
	case '"': c = '"'; break;
	case '\\': c = '\\'; break;
	case '/': c = '/'; break;
	case '\n':					/* line continuation: adds nothing */
		advance(r);
		return true;
	case '\r':
		advance(r);
		if (peek(r) == '\n')
			advance(r);
		return true;
	case '0':
		fail_at(r, line, col, "NUL characters are not allowed in strings");
		return false;
	case 'x':
		advance(r);
		h1 = hex_value(peek(r));
		h2 = hex_value(peek_at(r, 1));
		if (h1 < 0 || h2 < 0) {
			fail_at(r, line, col, "invalid \\x escape: expected 2 hex digits");
			return false;
		}
		skip_bytes(r, 2);
		cp = (unsigned long)(h1 * 16 + h2);
		goto code_point;
	case 'u':
		advance(r);
		if (!read_unicode_escape(r, &cp, line, col))
			return false;
		goto code_point;
	default:
		fail_at(r, line, col, "invalid escape sequence in string");
		return false;
	}
	advance(r);
	return append(r, b, &c, 1, sline, scol);

code_point:
	if (cp == 0) {
		fail_at(r, line, col, "NUL characters are not allowed in strings");
		return false;
	}
	return append_code_point(r, b, cp, sline, scol);
}

/* reads the quoted string at the cursor; *out is malloced, NUL-terminated */
static bool parse_string(struct reader *r, char **out, size_t *outlen)
{
	unsigned line = r->line, col = r->col;
	struct strbuf b = { NULL, 0, 0 };
	int quote = peek(r);

	advance(r);
	for (;;) {
		int c = peek(r);
		size_t n;

		if (c == -1 || c == '\n' || c == '\r') {
			fail_at(r, line, col, "unterminated string");
			goto error;
		}
		if (c == quote) {
			advance(r);
			break;
		}
		if (c == '\\') {
			if (!parse_escape(r, &b, line, col))
				goto error;
			continue;
		}
		n = utf8_sequence(r->p, r->end);
		if (n == 0) {
			fail_at(r, r->line, r->col, "invalid UTF-8 in string");
			goto error;
		}
		if (!append(r, &b, (const char *)r->p, n, line, col))
			goto error;
		skip_bytes(r, n);
	}
	if (b.data == NULL && !append(r, &b, "", 0, line, col))
		goto error;
	*out = b.data;
	*outlen = b.len;
	return true;

error:
	wipe_free(b.data, b.cap);
	return false;
}

/*
 * Reads a number literal.  Whether it is an integer is decided exactly from
 * its digits, so 1e4 and 10000.0 are the integer 10000 (as in JavaScript)
 * and 0.5 or 1e-3 are fractions, without going through a double.
 */
static bool parse_number(struct reader *r, struct jv *out)
{
	unsigned line = r->line, col = r->col;
	const unsigned char *int_start, *frac_start = NULL;
	size_t nint, nfrac = 0, n, first, last, i;
	bool negative = false;
	long long exponent = 0, scale;
	int64_t v = 0;

	out->type = JV_NUMBER;
	if (peek(r) == '-' || peek(r) == '+') {
		negative = peek(r) == '-';
		advance(r);
	}
	int_start = r->p;
	while (is_digit(peek(r)))
		advance(r);
	nint = (size_t)(r->p - int_start);
	if (nint > 1 && int_start[0] == '0') {
		/* JavaScript would read 010 as octal 8 */
		fail_at(r, line, col, "invalid number: leading zeros are not allowed");
		return false;
	}
	if (peek(r) == '.') {
		advance(r);
		frac_start = r->p;
		while (is_digit(peek(r)))
			advance(r);
		nfrac = (size_t)(r->p - frac_start);
	}
	if (nint == 0 && nfrac == 0) {
		fail_at(r, line, col, "expected a value");
		return false;
	}
	if (peek(r) == 'e' || peek(r) == 'E') {
		bool exp_negative = false;

		advance(r);
		if (peek(r) == '-' || peek(r) == '+') {
			exp_negative = peek(r) == '-';
			advance(r);
		}
		if (!is_digit(peek(r))) {
			fail_at(r, line, col, "invalid number: exponent without digits");
			return false;
		}
		while (is_digit(peek(r))) {
			if (exponent < 10000000)
				exponent = exponent * 10 + (peek(r) - '0');
			advance(r);
		}
		if (exp_negative)
			exponent = -exponent;
	}
	if (is_ident_part(peek(r)) || peek(r) == '.') {
		/* 0x10, 1_000, 10n, 1.2.3 */
		fail_at(r, line, col, "invalid number");
		return false;
	}

	/* the digits d[0..n) are int_start then frac_start; value = d * 10^(exponent - nfrac) */
	n = nint + nfrac;
#define DIGIT(k) ((k) < nint ? int_start[k] : frac_start[(k) - nint])
	for (first = 0; first < n && DIGIT(first) == '0'; first++)
		;
	if (first == n) {
		out->number = JV_NUM_INTEGER;
		out->integer = 0;
		return true;
	}
	for (last = n - 1; DIGIT(last) == '0'; last--)
		;
	scale = exponent - (long long)nfrac + (long long)(n - 1 - last);
	if (scale < 0) {
		out->number = JV_NUM_FRACTION;
		return true;
	}
	if ((long long)(last - first + 1) + scale > 18) {
		out->number = JV_NUM_TOO_LARGE;
		return true;
	}
	for (i = first; i <= last; i++)
		v = v * 10 + (DIGIT(i) - '0');
#undef DIGIT
	while (scale-- > 0)
		v *= 10;
	out->number = JV_NUM_INTEGER;
	out->integer = negative ? -v : v;
	return true;
}

static bool parse_value(struct reader *r, struct jv *out);

static void jv_clear(struct jv *v)
{
	size_t i;

	if (v->key != NULL)
		wipe_free(v->key, strlen(v->key));
	if (v->str != NULL)
		wipe_free(v->str, v->len);
	for (i = 0; i < v->nitems; i++)
		jv_clear(&v->items[i]);
	free(v->items);
	memset(v, 0, sizeof *v);
}

/* reads `name:` at the cursor into item->key */
static bool parse_key(struct reader *r, struct jv *item)
{
	size_t n, len;

	item->key_line = r->line;
	item->key_col = r->col;
	if (peek(r) == '"' || peek(r) == '\'') {
		if (!parse_string(r, &item->key, &len))
			return false;
	} else if ((n = ident_length(r)) > 0) {
		item->key = strndup((const char *)r->p, n);
		if (item->key == NULL) {
			fail_at(r, r->line, r->col, "out of memory");
			return false;
		}
		skip_bytes(r, n);
	} else {
		fail_at(r, r->line, r->col, "expected a property name or '}'");
		return false;
	}
	if (!skip_blank(r))
		return false;
	if (peek(r) != ':') {
		fail_at(r, r->line, r->col, "expected ':' after a property name");
		return false;
	}
	advance(r);
	return true;
}

/* moves *item into container->items */
static bool push_item(struct reader *r, struct jv *container, struct jv *item)
{
	if (container->nitems == container->cap) {
		size_t cap = container->cap ? container->cap * 2 : 8;
		struct jv *items = realloc(container->items, cap * sizeof *items);

		if (items == NULL) {
			fail_at(r, item->line, item->col, "out of memory");
			return false;
		}
		container->items = items;
		container->cap = cap;
	}
	container->items[container->nitems++] = *item;
	memset(item, 0, sizeof *item);
	return true;
}

/* reads one member (object) or element (array) at the cursor into container */
static bool parse_item(struct reader *r, struct jv *container)
{
	struct jv item;

	memset(&item, 0, sizeof item);
	if ((container->type == JV_OBJECT && !parse_key(r, &item)) ||
		!parse_value(r, &item) || !push_item(r, container, &item)) {
		jv_clear(&item);
		return false;
	}
	return true;
}

/* reads {...} or [...] at the cursor; trailing commas are allowed */
static bool parse_container(struct reader *r, struct jv *out, enum jv_type type)
{
	int close = type == JV_OBJECT ? '}' : ']';

	out->type = type;
	if (r->depth >= JV_MAX_DEPTH) {
		fail_at(r, r->line, r->col, "nesting too deep (more than %d levels)", JV_MAX_DEPTH);
		return false;
	}
	r->depth++;
	advance(r);
	for (;;) {
		if (!skip_blank(r))
			return false;
		if (peek(r) == close)
			break;
		if (!parse_item(r, out) || !skip_blank(r))
			return false;
		if (peek(r) == close)
			break;
		if (peek(r) != ',') {
			fail_at(r, r->line, r->col, type == JV_OBJECT ?
					"expected ',' or '}' after a value" : "expected ',' or ']' after a value");
			return false;
		}
		advance(r);
	}
	advance(r);
	r->depth--;
	return true;
}

/* reads any value at the cursor (after blanks) into out, which starts zeroed but for key */
static bool parse_value(struct reader *r, struct jv *out)
{
	size_t n;
	int c;

	if (!skip_blank(r))
		return false;
	out->line = r->line;
	out->col = r->col;
	c = peek(r);
	if (c == '{')
		return parse_container(r, out, JV_OBJECT);
	if (c == '[')
		return parse_container(r, out, JV_ARRAY);
	if (c == '"' || c == '\'') {
		out->type = JV_STRING;
		return parse_string(r, &out->str, &out->len);
	}
	if (c == '-' || c == '+' || c == '.' || is_digit(c))
		return parse_number(r, out);
	n = ident_length(r);
	if (ident_is(r, n, "true") || ident_is(r, n, "false")) {
		out->type = JV_BOOL;
		out->boolean = ident_is(r, n, "true");
		skip_bytes(r, n);
		return true;
	}
	if (ident_is(r, n, "null")) {
		out->type = JV_NULL;
		skip_bytes(r, n);
		return true;
	}
	if (c == -1)
		fail_at(r, r->line, r->col, "expected a value, found the end of the file");
	else
		fail_at(r, r->line, r->col, "expected a value");
	return false;
}

/* skips blanks and the keyword `word`, or fails with "expected <what>" */
static bool expect_word(struct reader *r, const char *word, const char *what)
{
	size_t n;

	if (!skip_blank(r))
		return false;
	n = ident_length(r);
	if (!ident_is(r, n, word)) {
		fail_at(r, r->line, r->col, "expected %s", what);
		return false;
	}
	skip_bytes(r, n);
	return true;
}

/* skips blanks and the character c, or fails with "expected <what>" */
static bool expect_char(struct reader *r, int c, const char *what)
{
	if (!skip_blank(r))
		return false;
	if (peek(r) != c) {
		fail_at(r, r->line, r->col, "expected %s", what);
		return false;
	}
	advance(r);
	return true;
}

/* skips blanks and a ';' if there is one (JavaScript inserts it anyway) */
static bool optional_semicolon(struct reader *r)
{
	if (!skip_blank(r))
		return false;
	if (peek(r) == ';')
		advance(r);
	return true;
}

/* reads `= {...}` (after module.exports or the variable name) into root */
static bool parse_assigned_object(struct reader *r, struct jv *root)
{
	if (!expect_char(r, '=', "'='") || !skip_blank(r))
		return false;
	if (peek(r) != '{') {
		fail_at(r, r->line, r->col, "expected '{' to start the configuration object");
		return false;
	}
	return parse_value(r, root) && optional_semicolon(r);
}

/* `module.exports` with the cursor on `module` */
static bool parse_module_exports(struct reader *r)
{
	return expect_word(r, "module", "'module.exports = ...'") &&
		expect_char(r, '.', "'.exports' after 'module'") &&
		expect_word(r, "exports", "'exports' after 'module.'");
}

/* var|let|const NAME = {...}; module.exports = NAME; with the cursor after the keyword */
static bool parse_declaration(struct reader *r, struct jv *root, const char *keyword)
{
	unsigned line, col;
	const unsigned char *name;
	size_t n;

	if (!skip_blank(r))
		return false;
	line = r->line;
	col = r->col;
	name = r->p;
	n = ident_length(r);
	if (n == 0) {
		fail_at(r, r->line, r->col, "expected a variable name after '%s'", keyword);
		return false;
	}
	skip_bytes(r, n);
	if (!parse_assigned_object(r, root) || !skip_blank(r))
		return false;
	if (peek(r) == -1) {
		fail_at(r, r->line, r->col, "expected 'module.exports = %.*s;' after the object",
				(int)(n > 40 ? 40 : n), (const char *)name);
		return false;
	}
	if (!parse_module_exports(r) || !expect_char(r, '=', "'=' after 'module.exports'") ||
		!skip_blank(r))
		return false;
	if (ident_length(r) != n || memcmp(r->p, name, n) != 0) {
		fail_at(r, r->line, r->col, "expected '%.*s' (the variable declared at %u:%u)",
				(int)(n > 40 ? 40 : n), (const char *)name, line, col);
		return false;
	}
	skip_bytes(r, n);
	return optional_semicolon(r);
}

struct jv *jv_parse_program(const char *buf, size_t len, struct jv_error *err)
{
	struct reader r;
	struct jv *root;
	const unsigned char *nul;
	size_t n;
	bool ok;

	memset(&r, 0, sizeof r);
	memset(err, 0, sizeof *err);
	r.p = (const unsigned char *)buf;
	r.end = r.p + len;
	r.line = r.col = 1;
	r.err = err;
	if (len > JV_MAX_INPUT) {
		fail_at(&r, 1, 1, "file too large (more than %d bytes)", JV_MAX_INPUT);
		return NULL;
	}
	nul = memchr(buf, '\0', len);
	if (nul != NULL) {
		while (r.p < nul)
			advance(&r);
		fail_at(&r, r.line, r.col, "NUL byte in file");
		return NULL;
	}
	root = calloc(1, sizeof *root);
	if (root == NULL) {
		fail_at(&r, 1, 1, "out of memory");
		return NULL;
	}
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		r.p += 3;				/* a byte order mark: column stays 1 */

	ok = skip_blank(&r);
	if (ok) {
		n = ident_length(&r);
		if (peek(&r) == '{')
			ok = parse_value(&r, root) && optional_semicolon(&r);
		else if (ident_is(&r, n, "var") || ident_is(&r, n, "let") || ident_is(&r, n, "const")) {
			const char *keyword = ident_is(&r, n, "var") ? "var" : ident_is(&r, n, "let") ? "let" : "const";

			skip_bytes(&r, n);
			ok = parse_declaration(&r, root, keyword);
		} else if (ident_is(&r, n, "module"))
			ok = parse_module_exports(&r) && parse_assigned_object(&r, root);
		else {
			fail_at(&r, r.line, r.col, "expected '{', 'var', 'let', 'const' or 'module.exports'%s",
					peek(&r) == -1 ? ", found the end of the file" : "");
			ok = false;
		}
	}
	if (ok && skip_blank(&r) && peek(&r) != -1) {
		fail_at(&r, r.line, r.col, "expected the end of the file after the configuration");
		ok = false;
	}
	if (!ok || r.failed) {
		jv_free(root);
		return NULL;
	}
	return root;
}

void jv_free(struct jv *v)
{
	if (v == NULL)
		return;
	jv_clear(v);
	free(v);
}

const char *jv_type_name(enum jv_type type)
{
	switch (type) {
	case JV_NULL: return "null";
	case JV_BOOL: return "a boolean";
	case JV_NUMBER: return "a number";
	case JV_STRING: return "a string";
	case JV_OBJECT: return "an object";
	case JV_ARRAY: return "an array";
	}
	return "a value";
}
