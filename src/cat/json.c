/* json.c - a JSON scanner for JSON lines: validates values, finds their bytes, reads members */
#include <string.h>

#include "cat.h"

/* deeper than any event a person writes; bounds the recursion */
#define MAX_DEPTH 1000

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* the 4 hex digits at p (p + 4 <= end checked by the caller), or -1 */
static long
hex4(const char *p)
{
	long		v = 0;

	for (int i = 0; i < 4; i++)
	{
		int			h = hexval(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* length of the well-formed UTF-8 sequence at p, or 0 */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t		n;
	unsigned	cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if ((size_t) (end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++)
	{
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* no overlong forms, surrogates or code points past U+10FFFF */
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		(n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

static const char *
scan_string(const char *p, const char *end, const char **why)
{
	p++;						/* the opening quote */
	while (p < end)
	{
		unsigned char c = (unsigned char) *p;

		/* plain ASCII, most of any event: no call per byte */
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
		{
			p++;
			continue;
		}
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return *why = "control character in a string (escape it)", NULL;
		if (c == '\\')
		{
			if (++p >= end)
				break;
			if (*p == 'u')
			{
				long		u;

				if (end - p < 5 || (u = hex4(p + 1)) < 0)
					return *why = "bad \\u escape in a string", NULL;
				if (u == 0)
					return *why = "\\u0000 in a string (PostgreSQL's jsonb cannot hold it)", NULL;
				p += 5;
				/* a surrogate pair or nothing: jsonb refuses halves */
				if (u >= 0xdc00 && u <= 0xdfff)
					return *why = "lone low surrogate in a \\u escape", NULL;
				if (u >= 0xd800 && u <= 0xdbff)
				{
					long		lo;

					if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
						(lo = hex4(p + 2)) < 0xdc00 || lo > 0xdfff)
						return *why = "high surrogate without its low half in a \\u escape", NULL;
					p += 6;
				}
			}
			else if (strchr("\"\\/bfnrt", *p) != NULL && *p != '\0')
				p++;
			else
				return *why = "bad escape in a string", NULL;
			continue;
		}
		{
			size_t		n = utf8_len((const unsigned char *) p, (const unsigned char *) end);

			if (n == 0)
				return *why = "a string is not valid UTF-8", NULL;
			p += n;
		}
	}
	return *why = "unterminated string", NULL;
}

static const char *
scan_number(const char *p, const char *end, const char **why)
{
	const char *start;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	else
		return *why = "not a JSON value", NULL;
	if (p < end && *p == '.')
	{
		start = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return *why = "bad number", NULL;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		start = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return *why = "bad number", NULL;
	}
	return p;
}

static const char *scan_value(const char *p, const char *end, int depth, const char **why);

/* an object or array at p; close is '}' or ']' */
static const char *
scan_container(const char *p, const char *end, int depth, const char **why)
{
	char		close = *p == '{' ? '}' : ']';

	if (depth >= MAX_DEPTH)
		return *why = "nested too deeply", NULL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;)
	{
		if (close == '}')
		{
			if (p >= end || *p != '"')
				return *why = "expected a string key in an object", NULL;
			if ((p = scan_string(p, end, why)) == NULL)
				return NULL;
			p = skip_ws(p, end);
			if (p >= end || *p != ':')
				return *why = "expected ':' after a key", NULL;
			p++;
		}
		if ((p = scan_value(p, end, depth + 1, why)) == NULL)
			return NULL;
		p = skip_ws(p, end);
		if (p < end && *p == ',')
		{
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == close)
			return p + 1;
		return *why = close == '}' ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array", NULL;
	}
}

static const char *
scan_value(const char *p, const char *end, int depth, const char **why)
{
	p = skip_ws(p, end);
	if (p >= end)
		return *why = "a value is missing", NULL;
	switch (*p)
	{
		case '{':
		case '[':
			return scan_container(p, end, depth, why);
		case '"':
			return scan_string(p, end, why);
		case 't':
			if (end - p >= 4 && memcmp(p, "true", 4) == 0)
				return p + 4;
			break;
		case 'f':
			if (end - p >= 5 && memcmp(p, "false", 5) == 0)
				return p + 5;
			break;
		case 'n':
			if (end - p >= 4 && memcmp(p, "null", 4) == 0)
				return p + 4;
			break;
		default:
			return scan_number(p, end, why);
	}
	return *why = "not a JSON value", NULL;
}

bool
json_scan(const char **p, const char *end, json_span *v, const char **why)
{
	const char *start = skip_ws(*p, end);
	const char *q = scan_value(start, end, 0, why);

	if (q == NULL)
		return false;
	v->p = start;
	v->len = (size_t) (q - start);
	*p = q;
	return true;
}

bool
json_valid(const char *s, size_t len, const char **why)
{
	json_span	v;
	const char *p = s;

	if (!json_scan(&p, s + len, &v, why))
		return false;
	if (skip_ws(p, s + len) != s + len)
		return *why = "text after the value", false;
	return true;
}

/* append code point cp as UTF-8 */
static size_t
put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80)
		return o[0] = (char) cp, 1;
	if (cp < 0x800)
		return o[0] = (char) (0xc0 | cp >> 6), o[1] = (char) (0x80 | (cp & 0x3f)), 2;
	if (cp < 0x10000)
		return o[0] = (char) (0xe0 | cp >> 12), o[1] = (char) (0x80 | ((cp >> 6) & 0x3f)),
			o[2] = (char) (0x80 | (cp & 0x3f)), 3;
	return o[0] = (char) (0xf0 | cp >> 18), o[1] = (char) (0x80 | ((cp >> 12) & 0x3f)),
		o[2] = (char) (0x80 | ((cp >> 6) & 0x3f)), o[3] = (char) (0x80 | (cp & 0x3f)), 4;
}

bool
json_string(json_span v, char *buf, size_t n)
{
	const char *p = v.p + 1,
			   *end = v.p + v.len - 1;
	size_t		o = 0;

	if (v.len < 2 || v.p[0] != '"')
		return false;
	while (p < end)
	{
		unsigned long cp;

		if (n - o < 5)
			return false;
		if (*p != '\\')
		{
			buf[o++] = *p++;
			continue;
		}
		p++;
		switch (*p)
		{
			case 'b': buf[o++] = '\b'; p++; continue;
			case 'f': buf[o++] = '\f'; p++; continue;
			case 'n': buf[o++] = '\n'; p++; continue;
			case 'r': buf[o++] = '\r'; p++; continue;
			case 't': buf[o++] = '\t'; p++; continue;
			case 'u': break;
			default: buf[o++] = *p++; continue;
		}
		/* validated by the scanner: 4 hex digits follow */
		cp = (unsigned long) hex4(p + 1);
		p += 5;
		if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6 && p[0] == '\\' && p[1] == 'u')
		{
			long		lo = hex4(p + 2);

			if (lo >= 0xdc00 && lo <= 0xdfff)
			{
				cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned long) lo - 0xdc00);
				p += 6;
			}
		}
		if (cp >= 0xd800 && cp <= 0xdfff)
			return false;		/* a lone surrogate is no character */
		o += put_utf8(buf + o, cp);
	}
	buf[o] = '\0';
	return memchr(buf, '\0', o) == NULL;
}

bool
json_uint(json_span v, uint64_t max, uint64_t *out)
{
	uint64_t	x = 0;

	if (v.len == 0 || v.len > 20 || (v.p[0] == '0' && v.len > 1))
		return false;
	for (size_t i = 0; i < v.len; i++)
	{
		unsigned	d = (unsigned) (v.p[i] - '0');

		if (d > 9 || x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return true;
}
