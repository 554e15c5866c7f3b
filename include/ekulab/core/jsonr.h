/* jsonr.h: a small strict JSON reader: text into a tree, with lookups.
 *
 * Strict means RFC 8259 and nothing more: no comments, no trailing commas,
 * no leading zeros or '+', no garbage after the value, strings in valid
 * UTF-8 (no overlong forms, no surrogates) with every escape checked (a
 * \u escape of a surrogate must come in a valid pair), and nesting at most
 * JSONR_DEPTH_MAX deep. One more refusal: \u0000, since strings are handed
 * out as C strings. Duplicate object keys are kept; lookups find the first.
 *
 * Ownership: the document owns every value, key and string; they stay
 * valid until jsonr_free. Values are read-only.
 */
#ifndef EKULAB_JSONR_H
#define EKULAB_JSONR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONR_DEPTH_MAX 64

enum jsonr_type {
	JSONR_NULL,
	JSONR_BOOL,
	JSONR_NUMBER,
	JSONR_STRING,
	JSONR_ARRAY,
	JSONR_OBJECT,
};

struct jsonr_value {
	enum jsonr_type type;
	const char *key; /* as an object member: its name; else NULL */
	size_t key_len;
	struct jsonr_value *next; /* the next item or member, or NULL */
	union {
		bool b;
		struct {
			double d;
			int64_t i;   /* valid when is_int */
			bool is_int; /* no fraction or exponent, fits int64 */
		} num;
		struct {
			const char *s; /* NUL-terminated */
			size_t len;
		} str;
		struct {
			struct jsonr_value *first;
			size_t n;
		} kids; /* arrays and objects */
	} u;
};

struct jsonr_doc;

/* Parse text[0..len). On error (EKL_EPROTO, or EKL_ENOMEM) err says at
 * which byte and why, and *out is NULL. */
int jsonr_parse(const char *text, size_t len, struct jsonr_doc **out,
		char *err);
/* Accepts NULL. */
void jsonr_free(struct jsonr_doc *d);
const struct jsonr_value *jsonr_root(const struct jsonr_doc *d);

const char *jsonr_type_name(enum jsonr_type t);

/* Lookups. Each accepts NULL and any type, answering NULL / false / 0 when
 * the value is missing or of another type. */
const struct jsonr_value *jsonr_get(const struct jsonr_value *obj,
				    const char *key);
/* The first item or member (then follow ->next), and how many. */
const struct jsonr_value *jsonr_first(const struct jsonr_value *v);
size_t jsonr_len(const struct jsonr_value *v);
const struct jsonr_value *jsonr_at(const struct jsonr_value *arr, size_t i);
bool jsonr_is(const struct jsonr_value *v, enum jsonr_type t);
const char *jsonr_str(const struct jsonr_value *v);
bool jsonr_int(const struct jsonr_value *v, int64_t *out);
bool jsonr_bool(const struct jsonr_value *v, bool *out);

/* Member shortcuts: jsonr_get then the above. */
const char *jsonr_get_str(const struct jsonr_value *obj, const char *key);
bool jsonr_get_int(const struct jsonr_value *obj, const char *key,
		   int64_t *out);
bool jsonr_get_bool(const struct jsonr_value *obj, const char *key, bool *out);

#endif
