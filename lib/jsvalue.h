/* jsvalue.h - the value tree read from a JavaScript (or JSON) replicator config file */
#ifndef SLATE_JSVALUE_H
#define SLATE_JSVALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* limits that keep hostile input cheap */
#define JV_MAX_INPUT (1024 * 1024)	/* bytes in the whole file */
#define JV_MAX_STRING 65536			/* bytes in one decoded string */
#define JV_MAX_DEPTH 64				/* nested objects and arrays */

enum jv_type { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_OBJECT, JV_ARRAY };

/* what a number literal turned out to be */
enum jv_number { JV_NUM_INTEGER, JV_NUM_FRACTION, JV_NUM_TOO_LARGE };

struct jv {
	enum jv_type type;
	unsigned line, col;			/* where the value starts, 1-based */
	char *key;					/* member name inside an object, else NULL */
	unsigned key_line, key_col;
	bool boolean;
	enum jv_number number;
	int64_t integer;			/* when number is JV_NUM_INTEGER */
	char *str;					/* NUL-terminated valid UTF-8 without NUL */
	size_t len;
	struct jv *items;			/* members of an object, elements of an array */
	size_t nitems, cap;
};

struct jv_error {
	unsigned line, col;
	char msg[128];				/* never quotes the input */
};

/*
 * Reads a whole config file: `{...}`, `module.exports = {...};` or
 * `var|let|const NAME = {...}; module.exports = NAME;`, with comments.
 * Returns the object (free with jv_free), or NULL with *err filled in.
 */
struct jv *jv_parse_program(const char *buf, size_t len, struct jv_error *err);
void jv_free(struct jv *v);
/* "a string", "an object", ... for messages */
const char *jv_type_name(enum jv_type type);

#endif
